#ifndef FCS_DETAIL_SECRET_HPP
#define FCS_DETAIL_SECRET_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#if defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX // std::min/std::max, not the macros
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN // no wincrypt.h, whose certificate macros clash with the backend
#endif
#include <windows.h>
#else
#include <string.h> // explicit_bzero (glibc 2.25, musl, the BSDs)
#endif

namespace fcs {
namespace detail {
/// Overwrites `n` bytes at `p` with zeros in a way the compiler may not drop (the core's
/// OPENSSL_cleanse, with no crypto library header in the core).
inline void cleanse(void* p, std::size_t n) noexcept {
    if (!p || n == 0)
        return;
#if defined(_WIN32)
    SecureZeroMemory(p, n);
#else
    explicit_bzero(p, n);
#endif
}

/// Allocator that wipes memory before giving it back, so growth and destruction never leave
/// copies of key bytes on the heap. `Upstream` does the allocation (tests record with it).
template <class T, class Upstream = std::allocator<T>>
struct cleansing_allocator {
    using value_type = T;
    template <class U>
    struct rebind {
        using other =
            cleansing_allocator<U,
                                typename std::allocator_traits<Upstream>::template rebind_alloc<U>>;
    };
    cleansing_allocator() noexcept = default;
    template <class U, class V>
    cleansing_allocator(const cleansing_allocator<U, V>&) noexcept {}
    T* allocate(std::size_t n) { return Upstream{}.allocate(n); }
    void deallocate(T* p, std::size_t n) noexcept {
        cleanse(p, n * sizeof(T));
        Upstream{}.deallocate(p, n);
    }
    template <class U, class V>
    bool operator==(const cleansing_allocator<U, V>&) const noexcept {
        return true;
    }
};
} // namespace detail

/// Bytes of a secret (private key, ticket keys, password). Cleansed on destruction.
/// Never formatted or logged: there is deliberately no operator<<.
using secret_bytes = std::vector<std::uint8_t, detail::cleansing_allocator<std::uint8_t>>;
/// Public bytes (certificates).
using bytes = std::vector<std::uint8_t>;

inline secret_bytes to_secret(std::string_view s) {
    return secret_bytes(s.begin(), s.end());
}
inline std::string_view as_text(const secret_bytes& b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline std::string_view as_text(const bytes& b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

} // namespace fcs

#endif // FCS_DETAIL_SECRET_HPP
