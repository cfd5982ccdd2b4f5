#ifndef FCS_EXAMPLES_PROCESS_HARDENING_HPP
#define FCS_EXAMPLES_PROCESS_HARDENING_HPP

// What every example program does first: a process that holds private keys, the etcd
// password or the key-encryption key must not write them into a core file (on Windows: a crash
// dump of Windows Error Reporting), and another process of the same user must not read them
// out of its memory (ptrace, /proc/PID/mem; on Windows OpenProcess with PROCESS_VM_READ).

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#if defined(_WIN32)
#include <fcs/detail/win32.hpp>

#include <aclapi.h>
#include <sddl.h>
#else
#include <sys/prctl.h>
#include <sys/resource.h>
#endif

namespace fcs::examples {

#if defined(_WIN32)
/**
 * No crash dump and no way in for another process of the same account:
 *  - a crash ends the process at once (an unhandled-exception filter that terminates it), so
 *    Windows Error Reporting never writes or sends a dump of its memory, and no dialog waits
 *    (SEM_NOGPFAULTERRORBOX, SEM_FAILCRITICALERRORS);
 *  - the process object gets a protected DACL: full control for LOCAL SYSTEM, and for its owner
 *    (through the OWNER RIGHTS SID, which also takes away the owner's implicit READ_CONTROL and
 *    WRITE_DAC) only "is it alive", wait and terminate; so no OpenProcess for reading its
 *    memory, injecting a thread or debugging it, nor a DACL rewrite, by the same account.
 *    Administrators holding SeDebugPrivilege still can, as root can on Linux.
 * Returns nullopt, or what failed: the caller refuses to run then.
 */
inline std::optional<std::string> harden_process() {
    ::SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX | SEM_NOOPENFILEERRORBOX);
    ::SetUnhandledExceptionFilter([](EXCEPTION_POINTERS* e) -> LONG {
        ::TerminateProcess(::GetCurrentProcess(),
                           e && e->ExceptionRecord ? e->ExceptionRecord->ExceptionCode : 1u);
        return EXCEPTION_EXECUTE_HANDLER;
    });
    // 0x00101001: SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_TERMINATE.
    PSECURITY_DESCRIPTOR sd = nullptr;
    if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(
            L"D:P(A;;GA;;;SY)(A;;0x00101001;;;OW)", SDDL_REVISION_1, &sd, nullptr))
        return "cannot build the process DACL (ConvertStringSecurityDescriptorToSecurity"
               "DescriptorW): " +
               detail::win32_message(::GetLastError());
    detail::unique_local<void> owned(sd);
    BOOL present = FALSE, defaulted = FALSE;
    PACL dacl = nullptr;
    if (!::GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted) || !present || !dacl)
        return "cannot build the process DACL (GetSecurityDescriptorDacl): " +
               detail::win32_message(::GetLastError());
    const DWORD rc = ::SetSecurityInfo(
        ::GetCurrentProcess(), SE_KERNEL_OBJECT,
        DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, nullptr, nullptr, dacl,
        nullptr);
    if (rc != ERROR_SUCCESS)
        return "cannot restrict access to the process (SetSecurityInfo on its DACL): " +
               detail::win32_message(rc);
    return std::nullopt;
}
#else

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
#endif

} // namespace fcs::examples

#endif // FCS_EXAMPLES_PROCESS_HARDENING_HPP
