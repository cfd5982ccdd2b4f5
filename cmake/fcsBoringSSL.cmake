# Defines fcs::boringssl_ssl and fcs::boringssl_crypto from FCS_BORINGSSL_INCLUDE_DIR and
# FCS_BORINGSSL_LIBRARY_DIR: a prefix built by scripts/fcs.sh from Debian's source package
# (static, with the assembly; FCS_BORINGSSL_ROOT), or Debian's android-libboringssl-dev.
# Says which one it uses.
if(NOT TARGET fcs::boringssl_crypto)
  # Searched anew at every configure (NO_CACHE), so a changed FCS_BORINGSSL_ROOT takes effect;
  # cache entries of the same names from older trees would stop the search, so they go.
  unset(FCS_BORINGSSL_CRYPTO CACHE)
  unset(FCS_BORINGSSL_SSL CACHE)
  find_library(FCS_BORINGSSL_CRYPTO NAMES crypto PATHS "${FCS_BORINGSSL_LIBRARY_DIR}" NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH NO_CACHE REQUIRED)
  find_library(FCS_BORINGSSL_SSL NAMES ssl PATHS "${FCS_BORINGSSL_LIBRARY_DIR}" NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH NO_CACHE REQUIRED)
  if(WIN32)
    set(fcs_boringssl_system_libs ws2_32 advapi32) # sockets (BIO), the system RNG
  else()
    set(fcs_boringssl_system_libs pthread)
  endif()
  add_library(fcs::boringssl_crypto UNKNOWN IMPORTED)
  set_target_properties(fcs::boringssl_crypto PROPERTIES
    IMPORTED_LOCATION "${FCS_BORINGSSL_CRYPTO}"
    INTERFACE_INCLUDE_DIRECTORIES "${FCS_BORINGSSL_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${fcs_boringssl_system_libs}")
  add_library(fcs::boringssl_ssl UNKNOWN IMPORTED)
  set_target_properties(fcs::boringssl_ssl PROPERTIES
    IMPORTED_LOCATION "${FCS_BORINGSSL_SSL}"
    INTERFACE_LINK_LIBRARIES fcs::boringssl_crypto)
  set(FCS_BORINGSSL_DESCRIPTION "")
  if(FCS_BORINGSSL_ROOT AND EXISTS "${FCS_BORINGSSL_ROOT}/fcs-boringssl.cmake")
    include("${FCS_BORINGSSL_ROOT}/fcs-boringssl.cmake") # written by cmake/boringssl
  elseif(NOT FCS_BORINGSSL_ROOT)
    set(FCS_BORINGSSL_DESCRIPTION
        "Debian's android-libboringssl-dev (shared, built with OPENSSL_SMALL: no precomputed P-256/X25519 tables)")
  else()
    set(FCS_BORINGSSL_DESCRIPTION "a prefix of your own")
  endif()
  message(STATUS "fcs: BoringSSL ${FCS_BORINGSSL_DESCRIPTION}: ${FCS_BORINGSSL_SSL}, headers ${FCS_BORINGSSL_INCLUDE_DIR}")
endif()
