// The product of policy lists as a std::tuple of quantizer<F, S, G, R> types, leaving
// out the pairs the scheme concept rejects. Shared by the property tests of the scalar
// path (quantizer_properties.hpp) and of the SIMD one (kernel/simd_quantizer_cases.hpp).
#pragma once

#include <qtl/quantizer.hpp>

#include <tuple>
#include <utility>

namespace qtl_test {

template <class... T>
using cat = decltype(std::tuple_cat(std::declval<T>()...));

// One quantizer<F, S, G, R> when S is a scheme for F, none otherwise (named lazily: an
// invalid composition must not even be spelled).
template <bool Valid, class F, class S, class G, class R>
struct cell {
  using type = std::tuple<>;
};
template <class F, class S, class G, class R>
struct cell<true, F, S, G, R> {
  using type = std::tuple<qtl::quantizer<F, S, G, R>>;
};

template <class F, class S, class G, class Rs>
struct over_r;
template <class F, class S, class G, class... R>
struct over_r<F, S, G, std::tuple<R...>> {
  using type = cat<typename cell<qtl::scheme<S, F>, F, S, G, R>::type...>;
};
template <class F, class S, class Gs, class Rs>
struct over_g;
template <class F, class S, class... G, class Rs>
struct over_g<F, S, std::tuple<G...>, Rs> {
  using type = cat<typename over_r<F, S, G, Rs>::type...>;
};
template <class F, class Ss, class Gs, class Rs>
struct over_s;
template <class F, class... S, class Gs, class Rs>
struct over_s<F, std::tuple<S...>, Gs, Rs> {
  using type = cat<typename over_g<F, S, Gs, Rs>::type...>;
};
template <class Fs, class Ss, class Gs, class Rs>
struct product;
template <class... F, class Ss, class Gs, class Rs>
struct product<std::tuple<F...>, Ss, Gs, Rs> {
  using type = cat<typename over_s<F, Ss, Gs, Rs>::type...>;
};

}  // namespace qtl_test
