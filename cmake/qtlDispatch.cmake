# qtl_add_runtime_dispatch(<target>): compile qtl's kernels for every arch of the target
# platform into <target> (one small source per arch, each with its own flags) and let
# qtl::kernel::select_kernels() pick the best one the running CPU supports, or the one
# named by the environment variable QTL_ARCH. Without it, a program gets the kernels of
# the arch its own compile flags enable (qtl::kernel::default_arch).
#   x86-64:  scalar, avx2 (-mavx2 -mfma -mf16c), avx512_vnni (+ -mavx512f/cd/dq/bw/vl/vnni)
#   aarch64: scalar, neon (the target's own flags; add -march=armv8.2-a+dotprod for sdot)
if(EXISTS "${CMAKE_CURRENT_LIST_DIR}/dispatch")  # installed package
  set(QTL_DISPATCH_SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/dispatch" CACHE INTERNAL "")
else()  # source tree (add_subdirectory)
  set(QTL_DISPATCH_SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/../src/dispatch" CACHE INTERNAL "")
endif()

function(qtl_add_runtime_dispatch target)
  set(dir "${QTL_DISPATCH_SOURCE_DIR}")
  # scalar.cpp first: for an inline function every arch compiles, the linker keeps the first
  # copy, so it must be the baseline one (tests/dispatch/isolation.sh).
  target_sources(${target} PRIVATE "${dir}/scalar.cpp")
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    target_sources(${target} PRIVATE "${dir}/avx2.cpp" "${dir}/avx512_vnni.cpp")
    set_source_files_properties("${dir}/avx2.cpp" TARGET_DIRECTORY ${target}
      PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
    set_source_files_properties("${dir}/avx512_vnni.cpp" TARGET_DIRECTORY ${target}
      PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c;-mavx512f;-mavx512cd;-mavx512dq;-mavx512bw;-mavx512vl;-mavx512vnni;-Wno-maybe-uninitialized;-Wno-uninitialized")
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
    target_sources(${target} PRIVATE "${dir}/neon.cpp")
  endif()
  target_compile_definitions(${target} PRIVATE QTL_RUNTIME_DISPATCH=1)
endfunction()
