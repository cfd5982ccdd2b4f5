#ifndef FCS_STORAGE_MEMORY_HPP
#define FCS_STORAGE_MEMORY_HPP

#include <fcs/error.hpp>
#include <fcs/policy/concepts.hpp>
#include <fcs/storage/layout.hpp>

#include <map>
#include <fcs/detail/movable_mutex.hpp>
#include <mutex>
#include <string>
#include <vector>

namespace fcs::storage {

/// Storage in memory (tests, and integrators who keep the pair elsewhere). PEM encoded.
/// Archived items are kept in `archived()`.
class memory {
public:
    using policy_kind = policy::kind::storage;

    std::vector<std::string> open(const protections&) { return {}; }
    std::vector<std::string> open_read_only(const protections&) { return {}; }

    std::vector<std::string> names(part p) const {
        std::lock_guard lock(mutex_);
        std::vector<std::string> out;
        for (auto& [k, v] : items_)
            if (k.second == p)
                out.push_back(k.first);
        return out;
    }

    std::optional<stored_item> read(const std::string& name, part p) const {
        std::lock_guard lock(mutex_);
        auto it = items_.find({name, p});
        if (it == items_.end())
            return std::nullopt;
        return stored_item{it->second, location(name, p), std::nullopt};
    }

    std::string location(const std::string& name, part p) const {
        return "memory:" + name + std::string(failover_layout::suffix(p));
    }

    fcs::encoding encoding(part) const { return fcs::encoding::pem; }

    void commit(const change_set& c) {
        std::lock_guard lock(mutex_);
        for (auto& put : c.puts)
            if (!valid_slot_name(put.name))
                throw error(errc::invalid_argument, put.name, "commit",
                            "not a valid certificate name");
        for (auto& e : c.expects) {
            auto it = items_.find({e.name, e.part});
            if (it == items_.end() ? e.data.has_value() : !e.data || *e.data != it->second)
                throw error(errc::conflict, location(e.name, e.part), "commit",
                            "changed since it was read; nothing was changed");
        }
        for (auto& a : c.archives) {
            auto it = items_.find({a.name, a.part});
            if (it != items_.end()) {
                archived_.emplace_back(location(a.name, a.part) + "@" + c.archive_tag, it->second);
                items_.erase(it);
            }
        }
        for (auto& put : c.puts) {
            auto it = items_.find({put.name, put.part});
            if (it != items_.end() && put.backup)
                archived_.emplace_back(location(put.name, put.part) + "@" + c.archive_tag,
                                       it->second);
            items_[{put.name, put.part}] = put.data;
        }
    }

    void repair(const std::string&, part) {}

    /// Puts an item directly (tests: simulate what an admin dropped in).
    void place(const std::string& name, part p, secret_bytes data) {
        std::lock_guard lock(mutex_);
        items_[{name, p}] = std::move(data);
    }

    std::vector<std::pair<std::string, secret_bytes>> archived() const {
        std::lock_guard lock(mutex_);
        return archived_;
    }

private:
    std::map<std::pair<std::string, part>, secret_bytes> items_;
    std::vector<std::pair<std::string, secret_bytes>> archived_;
    mutable detail::movable_mutex mutex_;
};

} // namespace fcs::storage

#endif // FCS_STORAGE_MEMORY_HPP
