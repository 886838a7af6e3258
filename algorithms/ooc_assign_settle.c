/* Settling the fast variants' ranking with the reference's own distance.
 *
 * Why the bound holds. Score s_j = fl(‖c_j‖² − 2·x·c_j) in precision u (2^-53 or 2^-24). Any summation
 * order of a length-d dot product errs by at most γ_d Σ|x_t c_t| ≤ γ_d ‖x‖‖c_j‖ (γ_m = m·u/(1 − m·u)), and
 * c_norm2 is within γ_(d+1) of ‖c_j‖², so |s_j − (D_j − ‖x‖²)| ≤ e_s = γ_(d+2) (‖x‖² + 2 cmax). D itself
 * (a sum of d non-negative rounded squares in double) errs by e_D ≤ γ_(d+3) D_j ≤ γ_(d+3) 2 (‖x‖² + cmax).
 * The reference's winner j* has D(j*) ≤ D(b) for the score's winner b, so s_j* − s_b ≤ 2 (e_s + e_D).
 * With ‖x‖² ≤ 2 (D_b + cmax), that is below 12 γ_(d+3) (D_b + 2 cmax); we allow 16 (d + 4) u (D_b + 2 cmax).
 * Every centre within it of the best score gets D computed, so the exact winner is always among them. For
 * data near the origin relative to its spread the margin is a tiny fraction of the gap between clusters and
 * only rows on a boundary pay; far from the origin (‖x‖² ≫ D) more centres fall within it, which costs
 * time and never changes a label. */
#include "ooc_assign_internal.h"

#include <float.h>

#define OOC__ASSIGN_SETTLE(SUF, T, UNIT)                                                                   \
    void ooc__assign_settle_##SUF(const T *x, size_t n, size_t d, const T *c, const T *cn, size_t k,        \
                                  double cmax, const T *dot, size_t ld, int32_t *labels, double *dist)     \
    {                                                                                                      \
        const double rel = 16.0 * (double)(d + 4) * (UNIT);                                                \
        for (size_t i = 0; i < n; i++) {                                                                   \
            const T *xi = x + i * d, *g = dot + i * ld;                                                    \
            size_t b = 0;                                                                                  \
            T sb = cn[0] - 2 * g[0];                                                                       \
            for (size_t j = 1; j < k; j++) {                                                               \
                T s = cn[j] - 2 * g[j];                                                                    \
                if (s < sb) {                                                                              \
                    sb = s;                                                                                \
                    b = j;                                                                                 \
                }                                                                                          \
            }                                                                                              \
            double db = ooc__sqdist_##SUF(xi, c + b * d, d);                                               \
            const double limit = (double)sb + rel * (db + 2 * cmax);                                       \
            size_t best = b;                                                                               \
            for (size_t j = 0; j < k; j++) {                                                               \
                if (j == b || !((double)(T)(cn[j] - 2 * g[j]) <= limit))                                   \
                    continue;                                                                              \
                double dj = ooc__sqdist_##SUF(xi, c + j * d, d);                                           \
                if (dj < db || (dj == db && j < best)) {                                                   \
                    db = dj;                                                                               \
                    best = j;                                                                              \
                }                                                                                          \
            }                                                                                              \
            labels[i] = (int32_t)best;                                                                     \
            dist[i] = db;                                                                                  \
        }                                                                                                  \
    }

OOC__ASSIGN_SETTLE(f64, double, DBL_EPSILON / 2)
OOC__ASSIGN_SETTLE(f32, float, FLT_EPSILON / 2)
