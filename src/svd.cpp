// Eigen::BDCSVD<Eigen::MatrixXd> compiled once, for a program whose other translation
// units define QTL_SVD_EXTERN (qtl/core/svd.hpp).
#include "qtl/core/svd.hpp"

template class Eigen::BDCSVD<Eigen::MatrixXd>;
