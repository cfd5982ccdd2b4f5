# Cross build for 64-bit Windows with Debian's mingw-w64 (g++-mingw-w64-x86-64-posix: the
# posix thread model, which std::thread and std::mutex need), tests run under Wine (wine64):
#   cmake -S . -B build-win -G Ninja --toolchain cmake/mingw-w64.cmake \
#         -DFCS_BORINGSSL_ROOT=/var/cache/fcs/boringssl-mingw-VERSION
#   (cd build-win && ctest)        # runs each .exe through CMAKE_CROSSCOMPILING_EMULATOR
# scripts/fcs.sh windows does all of it, BoringSSL included.
#
# FCS_WINEPREFIX: the Wine prefix the tests run in (default <build>/wine). Create it once before
# ctest (scripts/fcs.sh does: `wineboot -u` with stdio on /dev/null); a first run inside a test
# would build it there, ~9 s and ~700 MB, once per test program.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Static libstdc++, libgcc and winpthread: the .exe files run without the compiler's DLLs on
# Wine's path (and copied to a Windows machine as they are).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

if(NOT FCS_WINEPREFIX)
  set(FCS_WINEPREFIX "${CMAKE_BINARY_DIR}/wine")
endif()
set(FCS_WINEPREFIX "${FCS_WINEPREFIX}" CACHE PATH "Wine prefix the tests run in")
# wine64 itself: Debian's `wine` wrapper prints a wine32 hint on every run.
find_program(FCS_WINE64 NAMES wine64 PATHS /usr/lib/wine NO_DEFAULT_PATH)
find_program(FCS_WINE64 NAMES wine64 wine)
if(FCS_WINE64)
  set(CMAKE_CROSSCOMPILING_EMULATOR
      /usr/bin/env "WINEPREFIX=${FCS_WINEPREFIX}" WINEDEBUG=-all "${FCS_WINE64}")
endif()
