#ifndef FCS_DETAIL_PUBLISHED_HPP
#define FCS_DETAIL_PUBLISHED_HPP

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace fcs::detail {

/**
 * An immutable object published for readers on the handshake path. Readers do one lock-free
 * atomic load (std::atomic<std::shared_ptr> is not lock-free in libstdc++: it spins on a lock
 * bit). The publisher keeps every replaced object alive for `grace`, far longer than a reader
 * holds the pointer (a TLS callback: microseconds), and frees it on a later publish.
 */
template <class T>
class published {
public:
    static constexpr auto grace = std::chrono::seconds(30);
    static_assert(std::atomic<const T*>::is_always_lock_free, "the read path must be lock-free");

    /// The object published last, or null. Valid for at least `grace` after it is replaced.
    const T* get() const noexcept { return live_.load(std::memory_order_acquire); }

    /// The object published last, owned (publisher side; takes a lock).
    std::shared_ptr<const T> owned() const {
        std::lock_guard lock(mutex_);
        return owner_;
    }

    void publish(std::shared_ptr<const T> p) {
        std::lock_guard lock(mutex_);
        auto now = std::chrono::steady_clock::now();
        std::erase_if(retired_, [&](auto& r) { return now - r.first > grace; });
        live_.store(p.get(), std::memory_order_release);
        if (owner_)
            retired_.emplace_back(now, std::move(owner_));
        owner_ = std::move(p);
    }

private:
    std::atomic<const T*> live_{nullptr};
    mutable std::mutex mutex_;
    std::shared_ptr<const T> owner_;
    std::vector<std::pair<std::chrono::steady_clock::time_point, std::shared_ptr<const T>>>
        retired_;
};

} // namespace fcs::detail

#endif // FCS_DETAIL_PUBLISHED_HPP
