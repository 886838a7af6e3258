/* ooc_assign_internal.h: the assignment kernels (each row to its nearest centre) and their dispatch.
 *
 * Contract shared by every variant (ooc__assign_fn):
 *   x        n x d row-major, float or double per variant; c: k x d row-major, same type.
 *   c_norm2  k values of ‖c_j‖² in the same type, precomputed by the caller (in that type or in double and
 *            rounded to it: the fast variants' error bound assumes it is that close).
 *   labels   labels[i] = argmin_j D(x_i, c_j), ties to the LOWEST j, where D is ooc__sqdist_*() below: the
 *            sum of squared differences in double in a fixed order. Every variant returns exactly the
 *            reference's labels: the fast ones rank centres by ‖c‖² − 2x·c in the data's precision, then
 *            settle every centre within that ranking's rounding bound of the best with D itself (see
 *            ooc_assign_settle.c), so a variant changes speed, never results.
 *   dist     dist[i] = D(x_i, c_labels[i]), bitwise the same in every variant (so inertia is exact).
 *   scratch  ooc__assign_scratch_bytes(t, k, d) bytes, 64-byte aligned, owned by the caller (one per
 *            thread); enough for every variant of (t, k, d).
 *   Shapes   n >= 0 (0: nothing written), k >= 1, d >= 1. Data finite, with finite squares in its type.
 *            Rows are independent: splitting [0, n) into several calls gives identical outputs.
 * Pure: no allocation, no threads (OpenBLAS must run single-threaded: the caller's business), no I/O, no
 * error codes. */
#ifndef OOC_ASSIGN_INTERNAL_H
#define OOC_ASSIGN_INTERNAL_H

#include "ooc_dtype.h"

#include <stddef.h>
#include <stdint.h>

typedef void (*ooc__assign_fn)(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                               int32_t *labels, double *dist, void *scratch);

/* ooc__assign_scratch_bytes(): the scratch one call of any variant needs for (t, k, d), a multiple of 64. */
size_t ooc__assign_scratch_bytes(ooc_dtype t, size_t k, size_t d);

/* ooc__assign_select(): the fastest variant for (t, k, d) by the crossover measured with
 * bench/bench_assign.c. Depends on nothing else (not on threads), and the variants agree bitwise anyway. */
ooc__assign_fn ooc__assign_select(ooc_dtype t, size_t k, size_t d);

/* The variants, exposed for tests and the benchmark. t = OOC_FLOAT64 (_f64) or OOC_FLOAT32 (_f32). */
void ooc__assign_ref_f64(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                         int32_t *labels, double *dist, void *scratch); /* D for every centre: the oracle */
void ooc__assign_ref_f32(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                         int32_t *labels, double *dist, void *scratch);
void ooc__assign_direct_f64(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                            int32_t *labels, double *dist, void *scratch); /* register blocks: small k·d */
void ooc__assign_direct_f32(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                            int32_t *labels, double *dist, void *scratch);
void ooc__assign_gemm_f64(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                          int32_t *labels, double *dist, void *scratch); /* OpenBLAS on row tiles: large k·d */
void ooc__assign_gemm_f32(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                          int32_t *labels, double *dist, void *scratch);

/* The scratch each fast variant needs (ooc__assign_scratch_bytes() is their maximum, rounded up). */
size_t ooc__assign_direct_scratch(ooc_dtype t, size_t k, size_t d);
size_t ooc__assign_gemm_scratch(ooc_dtype t, size_t k, size_t d);

/* ooc__sqdist_f64/f32(): D(x, c) = Σ (x_t − c_t)² in double, in 4 interleaved partial sums (t mod 4)
 * added as (s0 + s1) + (s2 + s3): one fixed order, so every file that inlines it gets the same bits, and
 * the compiler may vectorise it without reassociating anything. */
static inline double ooc__sqdist_f64(const double *x, const double *c, size_t d)
{
    double s[4] = {0, 0, 0, 0};
    size_t t = 0;
    for (; t + 4 <= d; t += 4)
        for (int u = 0; u < 4; u++) {
            double v = x[t + u] - c[t + u];
            s[u] += v * v;
        }
    for (int u = 0; t < d; t++, u++) {
        double v = x[t] - c[t];
        s[u] += v * v;
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static inline double ooc__sqdist_f32(const float *x, const float *c, size_t d)
{
    double s[4] = {0, 0, 0, 0};
    size_t t = 0;
    for (; t + 4 <= d; t += 4)
        for (int u = 0; u < 4; u++) {
            double v = (double)x[t + u] - (double)c[t + u];
            s[u] += v * v;
        }
    for (int u = 0; t < d; t++, u++) {
        double v = (double)x[t] - (double)c[t];
        s[u] += v * v;
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* ooc__assign_settle_f64/f32(): from approximate ranks to the exact answer, for rows [0, n) of x.
 * dot: n x ld, dot[i*ld + j] ≈ x_i·c_j in the data's precision (any summation order); cn: c_norm2;
 * cmax = max_j cn[j]. Each row's score for c_j is cn[j] − 2·dot in that precision; take the best score,
 * compute its D, then compute D for every other centre whose score is within the scores' rounding bound
 * of the best (rare), the lowest index winning ties. Writes labels[0..n) and dist[0..n). */
void ooc__assign_settle_f64(const double *x, size_t n, size_t d, const double *c, const double *cn, size_t k,
                            double cmax, const double *dot, size_t ld, int32_t *labels, double *dist);
void ooc__assign_settle_f32(const float *x, size_t n, size_t d, const float *c, const float *cn, size_t k,
                            double cmax, const float *dot, size_t ld, int32_t *labels, double *dist);

#endif
