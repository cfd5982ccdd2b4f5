# Proves check_backend_names.cmake catches what it is for, in a scratch tree (never in
# include/): each planted header must be named in its report, the allowed places must not be,
# and a tree with only allowed uses must pass.
#   cmake -DCHECK=<check_backend_names.cmake> -DWORK=<scratch folder> -P check_backend_names_test.cmake
cmake_minimum_required(VERSION 3.20)
file(REMOVE_RECURSE "${WORK}")
set(inc "${WORK}/include/fcs")
# Allowed: the backend, tls/, the etcd storage's includes of both, comments.
file(WRITE "${inc}/crypto/boringssl/part.hpp" "#include <openssl/evp.h>\nEVP_PKEY* k;\n")
file(WRITE "${inc}/crypto/boringssl.hpp" "#include <openssl/x509.h>\nX509* c;\n")
file(WRITE "${inc}/tls/client.hpp" "#include <openssl/ssl.h>\nSSL_CTX* c;\n")
file(WRITE "${inc}/storage/etcd/seal.hpp"
  "#include <fcs/crypto/boringssl/aead.hpp>\n#include <fcs/tls/client.hpp>\n"
  "// once OPENSSL_cleanse, now fcs::detail::cleanse\nint x[2]; // HMAC-SHA256 of it\n")
file(WRITE "${inc}/detail/clean.hpp" "/// HMAC-SHA256 and X.509 in prose\nint hmac_sha256();\n")

function(run_check out_rc out_text)
  execute_process(COMMAND ${CMAKE_COMMAND} -DROOT=${WORK} -P ${CHECK}
    RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE e)
  set(${out_rc} ${rc} PARENT_SCOPE)
  set(${out_text} "${o}${e}" PARENT_SCOPE)
endfunction()

run_check(rc text)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "a tree with only allowed uses was refused:\n${text}")
endif()

# Planted: one of each kind of finding, in each folder the rule covers.
set(planted
  "storage/etcd/codec.hpp|#include <openssl/base64.h>"
  "storage/etcd.hpp|  CRYPTO_memcmp(a, b, n)"
  "storage/directory.hpp|#include <fcs/crypto/boringssl/aead.hpp>"
  "detail/new_part.hpp|bssl::UniquePtr<EVP_PKEY> key"
  "policy/concepts.hpp|  { c.key_description(static_cast<EVP_PKEY*>(nullptr)) }"
  "switchover.hpp|X509* leaf = nullptr"
  "failover_cert_service.hpp|#  include \"openssl/x509.h\""
  "service.hpp|  if (!HMAC (md, k, n, d, m, out, &len))")
foreach(p IN LISTS planted)
  string(REPLACE "|" ";" parts "${p}")
  list(GET parts 0 file)
  list(GET parts 1 line)
  file(WRITE "${inc}/${file}" "// a header\n${line} int after; [[maybe_unused]] int y\\\n;\n")
endforeach()
run_check(rc text)
if(rc EQUAL 0)
  message(FATAL_ERROR "planted BoringSSL uses were not found:\n${text}")
endif()
foreach(p IN LISTS planted)
  string(REPLACE "|" ";" parts "${p}")
  list(GET parts 0 file)
  string(FIND "${text}" "include/fcs/${file}:2:" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "include/fcs/${file} (planted) is not in the report:\n${text}")
  endif()
endforeach()
foreach(ok crypto/boringssl/part.hpp crypto/boringssl.hpp tls/client.hpp storage/etcd/seal.hpp
           detail/clean.hpp)
  string(FIND "${text}" "include/fcs/${ok}:" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "include/fcs/${ok} is allowed but was reported:\n${text}")
  endif()
endforeach()
message(STATUS "the check found every planted use and nothing else")
