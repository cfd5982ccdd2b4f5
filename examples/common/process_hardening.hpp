#ifndef FCS_EXAMPLES_PROCESS_HARDENING_HPP
#define FCS_EXAMPLES_PROCESS_HARDENING_HPP

// What every example program does first: a process that holds private keys, the etcd
// password or the key-encryption key must not write them into a core file, and another
// process of the same user must not read them out of its memory (ptrace, /proc/PID/mem).

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include <sys/prctl.h>
#include <sys/resource.h>

namespace fcs::examples {

/**
 * No core dumps (RLIMIT_CORE 0, soft and hard, so no child can raise it again) and not
 * dumpable (PR_SET_DUMPABLE 0: no core either, no ptrace attach or /proc/PID/mem, environ, fd
 * for other processes of the same user; /proc/PID/ becomes root's).
 * Returns nullopt, or what failed: the caller refuses to run then.
 */
inline std::optional<std::string> harden_process() {
    const rlimit none{0, 0};
    if (::setrlimit(RLIMIT_CORE, &none) != 0)
        return std::string("cannot disable core dumps (setrlimit RLIMIT_CORE): ") +
               std::strerror(errno);
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return std::string("cannot make the process non-dumpable (prctl PR_SET_DUMPABLE): ") +
               std::strerror(errno);
    return std::nullopt;
}

} // namespace fcs::examples

#endif // FCS_EXAMPLES_PROCESS_HARDENING_HPP
