# Defines fcs::boringssl_ssl and fcs::boringssl_crypto from FCS_BORINGSSL_INCLUDE_DIR and
# FCS_BORINGSSL_LIBRARY_DIR (Debian's android-libboringssl-dev by default).
if(NOT TARGET fcs::boringssl_crypto)
  find_library(FCS_BORINGSSL_CRYPTO NAMES crypto PATHS "${FCS_BORINGSSL_LIBRARY_DIR}" NO_DEFAULT_PATH REQUIRED)
  find_library(FCS_BORINGSSL_SSL NAMES ssl PATHS "${FCS_BORINGSSL_LIBRARY_DIR}" NO_DEFAULT_PATH REQUIRED)
  add_library(fcs::boringssl_crypto SHARED IMPORTED)
  set_target_properties(fcs::boringssl_crypto PROPERTIES
    IMPORTED_LOCATION "${FCS_BORINGSSL_CRYPTO}"
    IMPORTED_NO_SONAME FALSE
    INTERFACE_INCLUDE_DIRECTORIES "${FCS_BORINGSSL_INCLUDE_DIR}")
  add_library(fcs::boringssl_ssl SHARED IMPORTED)
  set_target_properties(fcs::boringssl_ssl PROPERTIES
    IMPORTED_LOCATION "${FCS_BORINGSSL_SSL}"
    INTERFACE_LINK_LIBRARIES fcs::boringssl_crypto)
endif()
