#ifndef FCS_DETAIL_PUBLISHED_HPP
#define FCS_DETAIL_PUBLISHED_HPP

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace fcs::detail {

/**
 * An immutable object published for readers on the handshake path.
 *
 * A reader takes a `reader` guard with read(): one atomic increment of the reader count of
 * the slot it found published, and a second load to confirm the slot is still the published
 * one (otherwise it gives the count back and tries again: a publish happened in between). No
 * lock, no allocation (std::atomic<std::shared_ptr> is not lock-free in libstdc++: it spins
 * on a lock bit). The guard gives the count back when it goes. Lock-free, not wait-free: a
 * reader retries while publishes keep landing between its two loads, so a publisher in a
 * tight loop can starve readers; publishes here are reloads (seconds apart at the least).
 *
 * publish() swaps in a new slot and retires the old one; a retired object is freed as soon
 * as its slot's reader count is zero, checked by that publish, by every later publish and by
 * reclaim(). Nothing is freed while a reader may still hold it, however long it holds it.
 *
 * Why a reader can never see a freed object: the publisher swaps the published slot, then
 * reads the slot's count; the reader increments the count, then re-reads the published
 * slot (all sequentially consistent). Either the publisher sees the increment (and keeps the
 * object), or the reader sees the swap (and does not use the slot). Slots themselves are
 * never freed before this object (a slow reader may increment a retired slot's count); an
 * emptied slot is reused, and a reader that confirms a reused slot reads its new object.
 *
 * A `published` must outlive every guard taken from it.
 */
template <class T>
class published {
    struct slot {
        std::atomic<std::uint64_t> readers{0};
        std::atomic<const T*> object{nullptr}; ///< what readers use
        std::shared_ptr<const T> owner;        ///< publisher side only (under the mutex)
    };

public:
    static_assert(std::atomic<slot*>::is_always_lock_free, "the read path must be lock-free");
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
                  "the read path must be lock-free");

    /// Holds the object published when it was taken alive until it goes. Move-only.
    class reader {
    public:
        reader() = default;
        reader(reader&& o) noexcept
            : slot_(std::exchange(o.slot_, nullptr))
            , object_(std::exchange(o.object_, nullptr)) {}
        reader& operator=(reader&& o) noexcept {
            if (this != &o) {
                release();
                slot_ = std::exchange(o.slot_, nullptr);
                object_ = std::exchange(o.object_, nullptr);
            }
            return *this;
        }
        reader(const reader&) = delete;
        reader& operator=(const reader&) = delete;
        ~reader() { release(); }

        const T* get() const noexcept { return object_; }
        const T& operator*() const noexcept { return *object_; }
        const T* operator->() const noexcept { return object_; }
        explicit operator bool() const noexcept { return object_ != nullptr; }

    private:
        friend class published;
        reader(slot* s, const T* o) noexcept
            : slot_(s)
            , object_(o) {}
        void release() noexcept {
            if (slot_)
                slot_->readers.fetch_sub(1, std::memory_order_release);
            slot_ = nullptr;
            object_ = nullptr;
        }
        slot* slot_ = nullptr;
        const T* object_ = nullptr;
    };

    published() = default;
    published(const published&) = delete;
    published& operator=(const published&) = delete;

    /// The object published last (empty when none), kept alive while the guard lives.
    reader read() const noexcept {
        for (;;) {
            slot* s = live_.load(std::memory_order_seq_cst);
            if (!s)
                return {};
            s->readers.fetch_add(1, std::memory_order_seq_cst);
            if (live_.load(std::memory_order_seq_cst) == s)
                return reader(s, s->object.load(std::memory_order_acquire));
            s->readers.fetch_sub(1, std::memory_order_release); // replaced meanwhile: again
        }
    }

    /// The object published last, owned (publisher side; takes a lock).
    std::shared_ptr<const T> owned() const {
        std::lock_guard lock(mutex_);
        return current_ ? current_->owner : nullptr;
    }

    /// Publishes `p` (null: nothing) for new readers; frees every retired object no reader holds.
    void publish(std::shared_ptr<const T> p) {
        std::lock_guard lock(mutex_);
        slot* next = nullptr;
        if (p) {
            next = take_free_slot();
            next->object.store(p.get(), std::memory_order_relaxed);
            next->owner = std::move(p);
        }
        live_.store(next, std::memory_order_seq_cst);
        if (current_)
            retired_.push_back(current_);
        current_ = next;
        reclaim_locked();
    }

    /// Frees the retired objects no reader holds any more. Returns how many are still held.
    std::size_t reclaim() {
        std::lock_guard lock(mutex_);
        reclaim_locked();
        return retired_.size();
    }

private:
    slot* take_free_slot() {
        if (!free_.empty()) {
            slot* s = free_.back();
            free_.pop_back();
            return s;
        }
        slots_.push_back(std::make_unique<slot>());
        return slots_.back().get();
    }

    void reclaim_locked() {
        std::erase_if(retired_, [this](slot* s) {
            if (s->readers.load(std::memory_order_seq_cst) != 0)
                return false;
            s->object.store(nullptr, std::memory_order_relaxed);
            s->owner.reset();
            free_.push_back(s);
            return true;
        });
    }

    std::atomic<slot*> live_{nullptr};
    mutable std::mutex mutex_;
    slot* current_ = nullptr;                  ///< the published slot (null: nothing)
    std::vector<slot*> retired_;               ///< replaced, maybe still read
    std::vector<slot*> free_;                  ///< empty, reusable
    std::vector<std::unique_ptr<slot>> slots_; ///< every slot, freed with this object
};

} // namespace fcs::detail

#endif // FCS_DETAIL_PUBLISHED_HPP
