// Runtime dispatch: the avx512_vnni kernels, compiled with that arch's flags by
// qtl_add_runtime_dispatch() (cmake/qtlDispatch.cmake).
#include <qtl/kernel/kernel_table.hpp>

template qtl::kernel::kernel_table qtl::kernel::make_table<qtl::kernel::avx512_vnni>();
