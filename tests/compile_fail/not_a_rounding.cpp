// Must not compile: a rounding policy must be callable as float(float, uint64_t).
#include <qtl/quantizer.hpp>

struct rounds_to_int {
  int operator()(float v) const { return static_cast<int>(v); }
};
qtl::quantizer<qtl::int8, qtl::symmetric, qtl::per_tensor, rounds_to_int> wrong_rounding;
