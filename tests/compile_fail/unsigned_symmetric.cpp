// Must not compile: the symmetric scheme needs negative codes, uint8 has none, so
// quantizer<uint8, symmetric, ...> fails the qtl::scheme concept.
#include <qtl/quantizer.hpp>

qtl::quantizer<qtl::uint8, qtl::symmetric, qtl::per_tensor> unsigned_symmetric;
