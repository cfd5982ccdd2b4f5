#ifndef FCS_STORAGE_WATCH_OPTIONS_HPP
#define FCS_STORAGE_WATCH_OPTIONS_HPP

// Options of the folder watches of every platform (storage/directory_watch.hpp: inotify,
// storage/windows_directory_watch.hpp: ReadDirectoryChangesW).

#include <chrono>

namespace fcs::storage {

/// How a folder watch reports.
struct directory_watch_options {
    /// Quiet time after the last relevant event before on_change is called: a certificate may
    /// land before its key, and a commit is several renames. A burst is reported once.
    std::chrono::milliseconds settle{300};
};

} // namespace fcs::storage

#endif // FCS_STORAGE_WATCH_OPTIONS_HPP
