// Must not compile: a 9-bit integer format breaks the qtl::code_width concept.
#include <qtl/format/int_format.hpp>

qtl::int_format<9, true> nine_bits;
