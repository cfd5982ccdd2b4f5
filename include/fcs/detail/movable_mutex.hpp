#ifndef FCS_DETAIL_MOVABLE_MUTEX_HPP
#define FCS_DETAIL_MOVABLE_MUTEX_HPP

#include <mutex>

namespace fcs::detail {
/// A mutex a policy can hold and still be moved into the service before any use: moving
/// gives the new object a fresh, unlocked mutex.
class movable_mutex {
public:
    movable_mutex() = default;
    movable_mutex(const movable_mutex&) noexcept {}
    movable_mutex& operator=(const movable_mutex&) noexcept { return *this; }
    void lock() { m_.lock(); }
    void unlock() { m_.unlock(); }
    bool try_lock() { return m_.try_lock(); }

private:
    std::mutex m_;
};
} // namespace fcs::detail

#endif // FCS_DETAIL_MOVABLE_MUTEX_HPP
