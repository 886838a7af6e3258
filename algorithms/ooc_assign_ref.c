/* The reference assignment: D (ooc__sqdist_*) to every centre, strict "<" so ties keep the lowest index,
 * and the exact second smallest D. Plain loops and nothing else: it defines the labels every other variant
 * must return, and the tests use it as their oracle. */
#include "ooc_assign_internal.h"

#include <math.h>

#define OOC__ASSIGN_REF(SUF, T)                                                                            \
    void ooc__assign_ref_##SUF(const void *x_, size_t n, size_t d, const void *c_, const void *c_norm2,     \
                               size_t k, int32_t *labels, double *dist, double *second, void *scratch)     \
    {                                                                                                      \
        (void)c_norm2;                                                                                     \
        (void)scratch;                                                                                     \
        const T *x = x_, *c = c_;                                                                          \
        if (k == 0)                                                                                        \
            return;                                                                                        \
        for (size_t i = 0; i < n; i++) {                                                                   \
            size_t best = 0;                                                                               \
            double db = ooc__sqdist_##SUF(x + i * d, c, d), d2 = INFINITY;                                 \
            for (size_t j = 1; j < k; j++) {                                                               \
                double dj = ooc__sqdist_##SUF(x + i * d, c + j * d, d);                                    \
                if (dj < db) {                                                                             \
                    d2 = db;                                                                               \
                    db = dj;                                                                               \
                    best = j;                                                                              \
                } else if (dj < d2) {                                                                      \
                    d2 = dj;                                                                               \
                }                                                                                          \
            }                                                                                              \
            labels[i] = (int32_t)best;                                                                     \
            dist[i] = db;                                                                                  \
            if (second)                                                                                    \
                second[i] = d2;                                                                            \
        }                                                                                                  \
    }

OOC__ASSIGN_REF(f64, double)
OOC__ASSIGN_REF(f32, float)
