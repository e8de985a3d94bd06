// qtl::thin_svd: the singular value decomposition of ptq/low_rank.hpp and
// vq/optimized_product_quantizer.hpp, Eigen's divide-and-conquer BDCSVD on doubles with
// thin U and V.
//
// BDCSVD is the costliest template qtl instantiates, about a minute of compile per
// translation unit at -O2. A program with several such units can compile it once: define
// QTL_SVD_EXTERN in every unit and add src/svd.cpp, which instantiates it (qtl's tests
// do, tests/CMakeLists.txt).
#pragma once

#include "qtl/core/eigen_view.hpp"  // Eigen/Core, with the compiler workaround
#include <Eigen/SVD>

#if defined(QTL_SVD_EXTERN)
extern template class Eigen::BDCSVD<Eigen::MatrixXd>;
#endif

namespace qtl {

using svd_type = Eigen::BDCSVD<Eigen::MatrixXd>;

inline svd_type thin_svd(const Eigen::MatrixXd& m) { return svd_type(m, Eigen::ComputeThinU | Eigen::ComputeThinV); }

}  // namespace qtl
