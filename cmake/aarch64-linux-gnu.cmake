# Cross-compiling for aarch64 Linux with Debian's g++-aarch64-linux-gnu; ctest runs the
# programs under qemu-aarch64 (user mode, no binfmt needed). Two knobs, both cache
# variables so that one toolchain file serves both NEON paths:
#   QTL_AARCH64_MARCH  -march for every target (default armv8.2-a+dotprod: the sdot path;
#                      armv8-a gives the widening path)
#   QTL_QEMU_CPU       the CPU qemu emulates (default max; cortex-a53 has no dotprod, so a
#                      stray dotprod instruction traps)
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(QTL_AARCH64_SYSROOT /usr/aarch64-linux-gnu)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

set(QTL_AARCH64_MARCH "armv8.2-a+dotprod" CACHE STRING "-march for the aarch64 build")
set(QTL_QEMU_CPU "max" CACHE STRING "CPU model qemu-aarch64 emulates")
# try_compile projects re-read this file: hand them the same choice.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES QTL_AARCH64_MARCH QTL_QEMU_CPU)
set(CMAKE_C_FLAGS_INIT "-march=${QTL_AARCH64_MARCH}")
set(CMAKE_CXX_FLAGS_INIT "-march=${QTL_AARCH64_MARCH}")

# Libraries and headers from the aarch64 sysroot only; build tools from the host.
set(CMAKE_FIND_ROOT_PATH ${QTL_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(QTL_QEMU_AARCH64 qemu-aarch64 REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${QTL_QEMU_AARCH64} -L ${QTL_AARCH64_SYSROOT} -cpu ${QTL_QEMU_CPU})
