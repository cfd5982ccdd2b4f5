#ifndef FCS_WINSVC_SERVICE_HPP
#define FCS_WINSVC_SERVICE_HPP

// Running as a Windows service (the Windows counterpart of fcs/systemd/notify.hpp): the Service
// Control Manager's protocol for a program it starts (START_PENDING, RUNNING, STOP_PENDING,
// STOPPED; SERVICE_CONTROL_STOP and SHUTDOWN stop it), and installing and removing such a
// service on its virtual account `NT SERVICE\<name>`, the account acl::windows grants the
// certificate and key to (its SID is computed from the same name).
#ifndef _WIN32
#error "fcs/winsvc/service.hpp is for Windows builds only; on Linux see fcs/systemd/notify.hpp"
#endif

#include <fcs/detail/win32.hpp>
#include <fcs/error.hpp>

#include <winsvc.h>

#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fcs::winsvc {

/// A service name fcs accepts: 1 to 80 of A-Z a-z 0-9 . _ - (it is also the virtual account's
/// name and part of file and registry paths). Returns what is wrong, or "" when it is fine.
inline std::string check_name(std::string_view name) {
    if (name.empty() || name.size() > 80)
        return "a service name has 1 to 80 characters";
    for (char c : name)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return "a service name has only letters, digits, '.', '_' and '-'";
    return {};
}

/// One argument quoted so that CommandLineToArgvW (and the C runtime) read it back unchanged:
/// quotes around it when it is empty or holds a space, tab or quote; backslashes doubled before
/// a quote and before the closing quote.
inline std::wstring quote_argument(std::wstring_view arg) {
    if (!arg.empty() && arg.find_first_of(L" \t\n\v\"") == std::wstring_view::npos)
        return std::wstring(arg);
    std::wstring out = L"\"";
    std::size_t backslashes = 0;
    for (wchar_t c : arg) {
        if (c == L'\\') {
            ++backslashes;
            continue;
        }
        if (c == L'"')
            out.append(backslashes * 2 + 1, L'\\');
        else
            out.append(backslashes, L'\\');
        backslashes = 0;
        out.push_back(c);
    }
    out.append(backslashes * 2, L'\\');
    out.push_back(L'"');
    return out;
}

/// How install() registers a service.
struct install_options {
    std::string name;         ///< the service name (check_name); the account is NT SERVICE\name
    std::string display_name; ///< shown in services.msc; "" means the name
    std::string description;  ///< "" for none
    std::wstring program;     ///< the .exe, an absolute path
    std::vector<std::wstring> arguments; ///< given to the program when the SCM starts it
    bool auto_start = true;              ///< started at boot; false: on demand
    /// Run on the virtual account NT SERVICE\<name> (no password, its own SID); false runs it
    /// as LocalSystem, which fcs does not recommend (every service of SYSTEM may then read
    /// the key).
    bool virtual_account = true;
};

namespace detail {
/// A service or SCM handle, closed with CloseServiceHandle.
class sc_handle {
public:
    explicit sc_handle(SC_HANDLE h = nullptr) noexcept
        : h_(h) {}
    sc_handle(sc_handle&& o) noexcept
        : h_(std::exchange(o.h_, nullptr)) {}
    sc_handle(const sc_handle&) = delete;
    sc_handle& operator=(const sc_handle&) = delete;
    sc_handle& operator=(sc_handle&&) = delete;
    ~sc_handle() {
        if (h_)
            ::CloseServiceHandle(h_);
    }
    SC_HANDLE get() const noexcept { return h_; }
    explicit operator bool() const noexcept { return h_ != nullptr; }

private:
    SC_HANDLE h_;
};

inline sc_handle open_manager(DWORD access, const std::string& step) {
    sc_handle scm(::OpenSCManagerW(nullptr, nullptr, access));
    if (!scm)
        fcs::detail::throw_win32("the Service Control Manager", step);
    return scm;
}

inline std::string shown(const std::string& name) {
    return "service " + name;
}
} // namespace detail

/**
 * Registers the service (CreateServiceW, SERVICE_WIN32_OWN_PROCESS) with its command line,
 * start type, account and description, and a restart after a crash (after 5 s, then 30 s;
 * the failure count reset after a day). Needs an elevated administrator.
 * @throws fcs::error: errc::invalid_argument for a bad name or program path, errc::conflict
 *         when a service of that name exists, errc::io_failed with Windows' text otherwise.
 */
inline void install(const install_options& o) {
    if (auto bad = check_name(o.name); !bad.empty())
        throw error(errc::invalid_argument, o.name, "install the service", bad);
    if (o.program.size() < 3 || o.program[1] != L':' || o.program[2] != L'\\')
        throw error(errc::invalid_argument, fcs::detail::narrow(o.program), "install the service",
                    "the program must be an absolute path (C:\\...)");
    std::wstring command = quote_argument(o.program);
    for (const auto& a : o.arguments)
        command += L" " + quote_argument(a);
    const std::wstring name = fcs::detail::widen(o.name);
    const std::wstring display =
        fcs::detail::widen(o.display_name.empty() ? o.name : o.display_name);
    const std::wstring account = L"NT SERVICE\\" + name;
    auto scm = detail::open_manager(SC_MANAGER_CREATE_SERVICE, "open to install " + o.name);
    detail::sc_handle svc(::CreateServiceW(
        scm.get(), name.c_str(), display.c_str(), SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS,
        o.auto_start ? SERVICE_AUTO_START : SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL,
        command.c_str(), nullptr, nullptr, nullptr, o.virtual_account ? account.c_str() : nullptr,
        nullptr));
    if (!svc) {
        const DWORD e = ::GetLastError();
        if (e == ERROR_SERVICE_EXISTS || e == ERROR_DUPLICATE_SERVICE_NAME)
            throw error(errc::conflict, detail::shown(o.name), "install",
                        "a service of that name exists; uninstall it first");
        fcs::detail::throw_win32(detail::shown(o.name), "install (CreateServiceW)", e);
    }
    // What follows is configuration: a failure leaves a working service, so it undoes the
    // install rather than leave half of it.
    auto undo = [&](const char* step) {
        const DWORD e = ::GetLastError();
        ::DeleteService(svc.get());
        fcs::detail::throw_win32(detail::shown(o.name), step, e);
    };
    if (!o.description.empty()) {
        std::wstring text = fcs::detail::widen(o.description);
        SERVICE_DESCRIPTIONW d{text.data()};
        if (!::ChangeServiceConfig2W(svc.get(), SERVICE_CONFIG_DESCRIPTION, &d))
            undo("set the description");
    }
    SC_ACTION actions[2] = {{SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 30000}};
    SERVICE_FAILURE_ACTIONSW f{};
    f.dwResetPeriod = 24 * 60 * 60;
    f.cActions = 2;
    f.lpsaActions = actions;
    if (!::ChangeServiceConfig2W(svc.get(), SERVICE_CONFIG_FAILURE_ACTIONS, &f))
        undo("set the restart after a failure");
}

/**
 * Stops the service when it runs (waits up to `wait_ms` for STOPPED) and removes it.
 * @throws fcs::error: errc::not_found when no such service exists, errc::io_failed with
 *         Windows' text otherwise (also when it did not stop in time: it is then only marked
 *         for deletion, which Windows completes when it stops).
 */
inline void uninstall(const std::string& name_utf8, DWORD wait_ms = 30000) {
    if (auto bad = check_name(name_utf8); !bad.empty())
        throw error(errc::invalid_argument, name_utf8, "uninstall the service", bad);
    const std::wstring name = fcs::detail::widen(name_utf8);
    auto scm = detail::open_manager(SC_MANAGER_CONNECT, "open to uninstall " + name_utf8);
    detail::sc_handle svc(
        ::OpenServiceW(scm.get(), name.c_str(), SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE));
    if (!svc) {
        const DWORD e = ::GetLastError();
        if (e == ERROR_SERVICE_DOES_NOT_EXIST)
            throw error(errc::not_found, detail::shown(name_utf8), "uninstall", "not installed");
        fcs::detail::throw_win32(detail::shown(name_utf8), "uninstall (OpenServiceW)", e);
    }
    SERVICE_STATUS st{};
    // Wait when it was asked to stop now or is stopping already; not when it does not run or
    // refused the stop (access denied: DeleteService below says so).
    if (::ControlService(svc.get(), SERVICE_CONTROL_STOP, &st) ||
        ::GetLastError() == ERROR_SERVICE_CANNOT_ACCEPT_CTRL) {
        for (DWORD waited = 0; waited < wait_ms; waited += 100) {
            if (!::QueryServiceStatus(svc.get(), &st) || st.dwCurrentState == SERVICE_STOPPED)
                break;
            ::Sleep(100);
        }
    }
    if (!::DeleteService(svc.get()))
        fcs::detail::throw_win32(detail::shown(name_utf8), "uninstall (DeleteService)");
    if (::QueryServiceStatus(svc.get(), &st) && st.dwCurrentState != SERVICE_STOPPED)
        throw error(errc::io_failed, detail::shown(name_utf8), "stop",
                    "did not stop within " + std::to_string(wait_ms / 1000) +
                        " s; it is removed when it stops");
}

class control;
namespace detail {
inline DWORD WINAPI handler(DWORD code, DWORD, LPVOID, LPVOID context);
inline void WINAPI service_main(DWORD, LPWSTR*);
} // namespace detail

/**
 * The running service's side of the SCM protocol, handed to run()'s body: say when it serves
 * (running()), and learn when it must stop (on_stop(), called on the SCM's dispatcher thread:
 * post to your own executor from there).
 */
class control {
public:
    control(const control&) = delete;
    control& operator=(const control&) = delete;

    /// Reports SERVICE_RUNNING (accepting STOP and SHUTDOWN). Call once the service serves.
    /// Nothing when a stop was asked for already (the SCM sees STOP_PENDING, then STOPPED).
    void running() {
        if (!stop_requested())
            set(SERVICE_RUNNING, NO_ERROR, 0);
    }

    /// `f` runs once when the SCM asks the service to stop (at once when it already asked).
    /// on_stop({}) forgets the handler, waiting for a call of it in progress: do that before
    /// what it refers to goes away.
    void on_stop(std::function<void()> f) {
        std::lock_guard call(call_mutex_);
        bool now = false;
        {
            std::lock_guard lock(mutex_);
            now = stop_requested_;
            on_stop_ = now ? std::function<void()>() : std::move(f);
        }
        if (now && f)
            f();
    }

    bool stop_requested() const {
        std::lock_guard lock(mutex_);
        return stop_requested_;
    }

private:
    friend DWORD WINAPI detail::handler(DWORD, DWORD, LPVOID, LPVOID);
    friend void WINAPI detail::service_main(DWORD, LPWSTR*);
    control() = default;

    void set(DWORD state, DWORD win32_exit, DWORD specific_exit, DWORD wait_hint = 0) {
        std::lock_guard lock(mutex_);
        if (!handle_)
            return; // a stop asked for between registering and attach(): reported after
        SERVICE_STATUS s{};
        s.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
        s.dwCurrentState = state;
        s.dwControlsAccepted =
            state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
        s.dwWin32ExitCode = win32_exit;
        s.dwServiceSpecificExitCode = specific_exit;
        s.dwCheckPoint = state == SERVICE_RUNNING || state == SERVICE_STOPPED ? 0 : ++checkpoint_;
        s.dwWaitHint = wait_hint;
        ::SetServiceStatus(handle_, &s);
    }
    void attach(SERVICE_STATUS_HANDLE h) {
        std::lock_guard lock(mutex_);
        handle_ = h;
    }
    void request_stop() {
        {
            std::lock_guard lock(mutex_);
            if (stop_requested_)
                return;
            stop_requested_ = true;
        }
        set(SERVICE_STOP_PENDING, NO_ERROR, 0, 30000);
        std::lock_guard call(call_mutex_);
        std::function<void()> f;
        {
            std::lock_guard lock(mutex_);
            f = std::move(on_stop_);
        }
        if (f)
            f();
    }

    SERVICE_STATUS_HANDLE handle_ = nullptr;
    mutable std::mutex mutex_;
    std::mutex call_mutex_; ///< held while on_stop_ runs, and while it is replaced
    std::function<void()> on_stop_;
    bool stop_requested_ = false;
    DWORD checkpoint_ = 0;
};

namespace detail {
/// What run() hands to service_main, which the SCM calls without a context of ours.
struct run_state {
    std::wstring name;
    std::function<int(control&)> body;
    int exit_code = 1;
    std::string failure; ///< what the body threw, for run()'s caller
};
inline run_state*& current_run() {
    static run_state* state = nullptr;
    return state;
}

inline DWORD WINAPI handler(DWORD code, DWORD, LPVOID, LPVOID context) {
    auto* c = static_cast<control*>(context);
    switch (code) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
        c->request_stop();
        return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

inline void WINAPI service_main(DWORD, LPWSTR*) {
    run_state& st = *current_run();
    control c;
    SERVICE_STATUS_HANDLE h = ::RegisterServiceCtrlHandlerExW(st.name.c_str(), handler, &c);
    if (!h) {
        st.failure =
            "RegisterServiceCtrlHandlerExW: " + fcs::detail::win32_message(::GetLastError());
        return;
    }
    c.attach(h);
    const bool stop_early = c.stop_requested();
    c.set(stop_early ? SERVICE_STOP_PENDING : SERVICE_START_PENDING, NO_ERROR, 0, 30000);
    try {
        st.exit_code = st.body(c);
    } catch (const std::exception& e) {
        st.exit_code = 1;
        st.failure = e.what();
    }
    c.set(SERVICE_STOPPED, st.exit_code == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR,
          static_cast<DWORD>(st.exit_code));
}
} // namespace detail

/**
 * Runs `body` as the service `name` when the SCM started this process: blocks in
 * StartServiceCtrlDispatcherW until the body returns. The body reports running() once it
 * serves, stops when on_stop() fires, and returns the exit code the SCM records (0: stopped
 * cleanly; otherwise ERROR_SERVICE_SPECIFIC_ERROR with that code).
 * @returns the body's exit code.
 * @throws fcs::error(errc::invalid_argument) when the process was not started by the SCM
 *         (ERROR_FAILED_SERVICE_CONTROLLER_CONNECT: run it from a console without the
 *         service option instead), fcs::error(errc::io_failed) for other failures, and what
 *         the body threw (as fcs::error(errc::io_failed) with its text).
 */
inline int run(const std::string& name, std::function<int(control&)> body) {
    if (auto bad = check_name(name); !bad.empty())
        throw error(errc::invalid_argument, name, "run as a service", bad);
    detail::run_state st;
    st.name = fcs::detail::widen(name);
    st.body = std::move(body);
    detail::current_run() = &st;
    std::wstring table_name = st.name;
    SERVICE_TABLE_ENTRYW table[] = {{table_name.data(), detail::service_main}, {nullptr, nullptr}};
    const BOOL ok = ::StartServiceCtrlDispatcherW(table);
    const DWORD e = ok ? NO_ERROR : ::GetLastError();
    detail::current_run() = nullptr;
    if (!ok) {
        if (e == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT)
            throw error(errc::invalid_argument, detail::shown(name), "run as a service",
                        "not started by the Service Control Manager; start it with `sc start " +
                            name + "` or run the program without the service command");
        fcs::detail::throw_win32(detail::shown(name), "run as a service", e);
    }
    if (!st.failure.empty())
        throw error(errc::io_failed, detail::shown(name), "run as a service", st.failure);
    return st.exit_code;
}

} // namespace fcs::winsvc

#endif // FCS_WINSVC_SERVICE_HPP
