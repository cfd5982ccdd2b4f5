#ifndef FCS_SRC_HPP
#define FCS_SRC_HPP

// Include this header in exactly one .cpp of a program built with FCS_SEPARATE_COMPILATION:
// it defines the bodies that every other unit only declares (the crypto backend's work in
// crypto/boringssl/impl/) and instantiates the cores of the packs named in fcs/services.hpp.
// CMake: link fcs::separate instead (it compiles this for you).

#if !defined(FCS_SEPARATE_COMPILATION)
#error "fcs/src.hpp is for builds with FCS_SEPARATE_COMPILATION defined (in every unit)"
#endif

#define FCS_SOURCE

#include <fcs/crypto/boringssl/impl/build.ipp>
#include <fcs/crypto/boringssl/impl/csr.ipp>
#include <fcs/crypto/boringssl/impl/encoding.ipp>
#include <fcs/crypto/boringssl/impl/handles.ipp>
#include <fcs/crypto/boringssl/impl/inspect.ipp>
#include <fcs/crypto/boringssl/impl/jose.ipp>
#include <fcs/crypto/boringssl/impl/mac.ipp>
#include <fcs/crypto/boringssl/impl/parse.ipp>
#include <fcs/crypto/boringssl/impl/pkcs8.ipp>

// The cores of the common packs (fcs/services.hpp), instantiated once here.
#include <fcs/services.hpp>

namespace fcs {
#define FCS_INSTANTIATE_PACK(S, A, C, L)                                                           \
    template class basic_service<S, A, C, L, config::default_clock>;
FCS_COMMON_PACKS(FCS_INSTANTIATE_PACK)
#undef FCS_INSTANTIATE_PACK
} // namespace fcs

#endif // FCS_SRC_HPP
