#pragma once
// The k smallest distances seen so far, kept sorted; shared by the CPU engines.
#include <limits>

// Always inlined: the engines' hot loops are compiled per instruction set (target clones, the
// scan's two compilations), and GCC's inliner otherwise leaves these as calls there.
#if defined(__GNUC__)
#define AUTOML_MI_KBEST_INLINE __attribute__((always_inline)) inline
#else
#define AUTOML_MI_KBEST_INLINE inline
#endif

namespace automl::mi::detail {

// Keeps the k smallest values pushed (sorted ascending) in caller-owned storage v[0..k);
// bound() is the k-th smallest (+inf until k values were seen). Ties count with multiplicity,
// so bound() is the k-th smallest of the multiset of pushed values.
struct KBest {
  double* v = nullptr;
  int k = 0;
  int size = 0;
  AUTOML_MI_KBEST_INLINE double bound() const {
    return size < k ? std::numeric_limits<double>::infinity() : v[k - 1];
  }
  AUTOML_MI_KBEST_INLINE void push(double d) {  // caller checked d < bound()
    int pos = size < k ? size++ : k - 1;
    while (pos > 0 && v[pos - 1] > d) {
      v[pos] = v[pos - 1];
      --pos;
    }
    v[pos] = d;
  }
};

}  // namespace automl::mi::detail
