#ifndef FCS_DETAIL_SECRET_HPP
#define FCS_DETAIL_SECRET_HPP

#include <openssl/mem.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace fcs {
namespace detail {
/// Allocator that wipes memory before giving it back, so growth and destruction never leave
/// copies of key bytes on the heap.
template <class T>
struct cleansing_allocator {
    using value_type = T;
    cleansing_allocator() noexcept = default;
    template <class U>
    cleansing_allocator(const cleansing_allocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
    void deallocate(T* p, std::size_t n) noexcept {
        OPENSSL_cleanse(p, n * sizeof(T));
        std::allocator<T>{}.deallocate(p, n);
    }
    template <class U>
    bool operator==(const cleansing_allocator<U>&) const noexcept { return true; }
};
} // namespace detail

/// Bytes of a secret (private key, ticket keys, password). Cleansed on destruction.
/// Never formatted or logged: there is deliberately no operator<<.
using secret_bytes = std::vector<std::uint8_t, detail::cleansing_allocator<std::uint8_t>>;
/// Public bytes (certificates).
using bytes = std::vector<std::uint8_t>;

inline secret_bytes to_secret(std::string_view s) { return secret_bytes(s.begin(), s.end()); }
inline std::string_view as_text(const secret_bytes& b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline std::string_view as_text(const bytes& b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

} // namespace fcs

#endif // FCS_DETAIL_SECRET_HPP
