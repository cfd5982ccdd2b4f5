# Issue 11: no BoringSSL outside the crypto backend and the TLS layer. Fails (and lists each
# file:line) when a header under include/fcs/ that is not one of them includes <openssl/...>
# directly or names a BoringSSL function, type or macro (EVP_PKEY, X509, bssl::, HMAC(, ...).
#
#   cmake -DROOT=<folder holding include/fcs> -P check_backend_names.cmake
#
# Every header is scanned (by glob, so a new file is covered) except the places BoringSSL
# belongs, named here and nowhere else:
#   include/fcs/crypto/boringssl.hpp, include/fcs/crypto/boringssl/**   the crypto backend
#   include/fcs/tls/**                                                  the handshake path
# detail/ has no file that needs BoringSSL (it cleanses with explicit_bzero: detail/secret.hpp).
# Under storage/, only the etcd storage (storage/etcd.hpp, storage/etcd/) may include the
# backend's parts (crypto/boringssl/<part>.hpp) and tls/ (it is a TLS client); no other storage.
# Whole-line comments are not scanned (they may say what the code replaces).
cmake_minimum_required(VERSION 3.20)
if(NOT ROOT)
  message(FATAL_ERROR "usage: cmake -DROOT=<folder holding include/fcs> -P check_backend_names.cmake")
endif()
set(inc "${ROOT}/include/fcs")
if(NOT IS_DIRECTORY "${inc}")
  message(FATAL_ERROR "${inc}: not a folder")
endif()

file(GLOB_RECURSE headers LIST_DIRECTORIES false "${inc}/*.hpp" "${inc}/*.ipp" "${inc}/*.h")
set(allowed "^${inc}/(crypto/boringssl\\.hpp|crypto/boringssl/.*|tls/.*)$")

set(include_re "#[ \t]*include[ \t]*[<\"]openssl/")
set(name_re "(^|[^A-Za-z0-9_])(bssl::|X509|EVP_|SSL_|SSL_CTX|BIO_|ERR_|CRYPTO_|OPENSSL_|RAND_|ASN1_|CBS_|CBB_|BN_|EC_KEY|RSA_|PKCS8_|PKCS12_|PEM_|OBJ_|NID_|GENERAL_NAME|TLS1_|HMAC[ \t]*\\(|HKDF[ \t]*\\()")
set(backend_include_re "#[ \t]*include[ \t]*[<\"]fcs/(crypto/boringssl|tls/)")

set(report "")
set(count 0)
set(scanned 0)
foreach(f IN LISTS headers)
  if(f MATCHES "${allowed}")
    continue()
  endif()
  math(EXPR scanned "${scanned} + 1")
  file(RELATIVE_PATH rel "${ROOT}" "${f}")
  set(in_other_storage FALSE)
  if(rel MATCHES "^include/fcs/storage/" AND NOT rel MATCHES "^include/fcs/storage/etcd(\\.hpp|/)")
    set(in_other_storage TRUE)
  endif()
  file(READ "${f}" text)
  # One list element per line: first hide what CMake lists treat specially.
  string(REPLACE ";" "<semicolon>" text "${text}")
  string(REPLACE "[" "<lbracket>" text "${text}")
  string(REPLACE "]" "<rbracket>" text "${text}")
  string(REPLACE "\\" "<backslash>" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  set(n 0)
  foreach(line IN LISTS lines)
    math(EXPR n "${n} + 1")
    if(line MATCHES "^[ \t]*(//|/\\*|\\*)")
      continue()
    endif()
    set(why "")
    if(line MATCHES "${include_re}")
      set(why "includes a BoringSSL header")
    elseif(line MATCHES "${name_re}")
      set(why "names BoringSSL (${CMAKE_MATCH_2})")
    elseif(in_other_storage AND line MATCHES "${backend_include_re}")
      set(why "a storage other than etcd includes the crypto backend or tls/")
    endif()
    if(why)
      string(STRIP "${line}" shown)
      string(REPLACE "<semicolon>" ";" shown "${shown}")
      string(REPLACE "<lbracket>" "[" shown "${shown}")
      string(REPLACE "<rbracket>" "]" shown "${shown}")
      string(REPLACE "<backslash>" "\\" shown "${shown}")
      string(APPEND report "\n  ${rel}:${n}: ${why}: ${shown}")
      math(EXPR count "${count} + 1")
    endif()
  endforeach()
endforeach()

if(scanned EQUAL 0)
  message(FATAL_ERROR "no header scanned under ${inc}")
endif()
if(count GREATER 0)
  message(FATAL_ERROR
    "BoringSSL outside crypto/boringssl/ and tls/ (${count} places; move the code into the "
    "backend, behind a function named for what it does):${report}")
endif()
message(STATUS "no BoringSSL name outside crypto/boringssl/ and tls/ (${scanned} headers scanned)")
