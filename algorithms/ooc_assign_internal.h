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
 *   second   NULL, or second[i] = a lower bound on min over j != labels[i] of D(x_i, c_j) (+inf when k == 1),
 *            for Hamerly's bounds in Lloyd: the exact value in the reference; in the fast variants, from
 *            their scores less the settling's rounding bound, or D itself for centres they settled
 *            (ooc_assign_settle.c). Never above the exact value; not bitwise the same across variants.
 *   scratch  ooc__assign_scratch_bytes(t, k, d) bytes, 64-byte aligned, owned by the caller (one per
 *            thread); enough for every variant of (t, k, d).
 *   Shapes   n >= 0 (0: nothing written), k >= 1, d >= 1. Data finite (in the fast variants, a row whose
 *            scores could overflow the data's type is settled with D against every centre).
 *            Rows are independent: a row's outputs depend on it alone, so splitting [0, n) into several
 *            calls, or gathering any rows into one, gives identical labels and dist.
 * Pure: no allocation, no threads (OpenBLAS must run single-threaded: the caller's business), no I/O, no
 * error codes. */
#ifndef OOC_ASSIGN_INTERNAL_H
#define OOC_ASSIGN_INTERNAL_H

#include "ooc_dtype.h"

#include <stddef.h>
#include <stdint.h>

typedef void (*ooc__assign_fn)(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                               int32_t *labels, double *dist, double *second, void *scratch);

/* ooc__assign_scratch_bytes(): the scratch one call of any variant needs for (t, k, d), a multiple of 64. */
size_t ooc__assign_scratch_bytes(ooc_dtype t, size_t k, size_t d);

/* ooc__assign_select(): the fastest variant for (t, k, d) by the crossovers measured with
 * bench/bench_assign.c (ooc_assign.c). Depends on (t, k, d), on whether the CPU has AVX2 and AVX-512 and on
 * whether ulimit -v or -d is set (no OpenBLAS then), never on threads; and since every variant gives the
 * reference's bits, results do not depend on the choice. */
ooc__assign_fn ooc__assign_select(ooc_dtype t, size_t k, size_t d);

/* ooc__assign_typed_centers(): k x d centres given in double as the kernels take them: in the data's type t
 * at typed, followed by their k squared norms in t (summed in double from the values in t). typed has room
 * for k·d + k elements of t. */
void ooc__assign_typed_centers(const double *c, size_t k, size_t d, ooc_dtype t, void *typed);

/* The variants, exposed for tests and the benchmark. t = OOC_FLOAT64 (_f64) or OOC_FLOAT32 (_f32).
 * ref: D for every centre, the oracle; direct: register blocks, small k·d; gemm: OpenBLAS on row tiles,
 * large k·d. */
void ooc__assign_ref_f64(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                         int32_t *labels, double *dist, double *second, void *scratch);
void ooc__assign_ref_f32(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                         int32_t *labels, double *dist, double *second, void *scratch);
void ooc__assign_direct_f64(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                            int32_t *labels, double *dist, double *second, void *scratch);
void ooc__assign_direct_f32(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                            int32_t *labels, double *dist, double *second, void *scratch);
/* The direct variant's builds (it takes the widest the CPU has): 16-byte vectors for any x86-64, 32-byte
 * ones for AVX2, and for float64 64-byte ones for AVX-512 (call each only when the CPU has it). */
void ooc__assign_direct_v16_f64(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                                int32_t *labels, double *dist, double *second, void *scratch);
void ooc__assign_direct_v16_f32(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                                int32_t *labels, double *dist, double *second, void *scratch);
void ooc__assign_direct_v32_f64(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                                int32_t *labels, double *dist, double *second, void *scratch);
void ooc__assign_direct_v32_f32(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                                int32_t *labels, double *dist, double *second, void *scratch);
void ooc__assign_direct_v64_f64(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                                int32_t *labels, double *dist, double *second, void *scratch);
int ooc__assign_have_avx2(void);
int ooc__assign_have_avx512(void);

/* Builds of a function for AVX2 (with FMA, as every AVX2 CPU has) or AVX-512 (call them only where
 * ooc__assign_have_*() says so); nothing off x86. */
#if defined(__x86_64__) || defined(__i386__)
#define OOC__AVX2 __attribute__((target("avx2,fma")))
#define OOC__AVX512 __attribute__((target("avx512f")))
#else
#define OOC__AVX2
#define OOC__AVX512
#endif
void ooc__assign_gemm_f64(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                          int32_t *labels, double *dist, double *second, void *scratch);
void ooc__assign_gemm_f32(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                          int32_t *labels, double *dist, double *second, void *scratch);
/* gemm-f64s: float64 data ranked with float32 GEMM, settled in double (ooc_assign_gemm.c): float64 only. */
void ooc__assign_gemm_f64s(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                           int32_t *labels, double *dist, double *second, void *scratch);

/* The scratch each fast variant needs (ooc__assign_scratch_bytes() is their maximum, rounded up). */
size_t ooc__assign_direct_scratch(ooc_dtype t, size_t k, size_t d);
size_t ooc__assign_gemm_scratch(ooc_dtype t, size_t k, size_t d);
size_t ooc__assign_gemm_f64s_scratch(size_t k, size_t d);

/* ooc__sqdist_f64/f32(): D(x, c) = Σ (x_t − c_t)² in double, in 4 interleaved partial sums (t mod 4; the
 * last d mod 4 terms into the first ones) added as (s0 + s1) + (s2 + s3): one fixed order, so every file
 * that inlines it gets the same bits, and the compiler may vectorise it without reassociating anything. */
#define OOC__SQDIST(SUF, T)                                                                                \
    static inline double ooc__sqdist_##SUF(const T *x, const T *c, size_t d)                               \
    {                                                                                                      \
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, v;                                                          \
        size_t t = 0;                                                                                      \
        for (; t + 4 <= d; t += 4) {                                                                       \
            v = (double)x[t] - (double)c[t];                                                               \
            s0 += v * v;                                                                                   \
            v = (double)x[t + 1] - (double)c[t + 1];                                                       \
            s1 += v * v;                                                                                   \
            v = (double)x[t + 2] - (double)c[t + 2];                                                       \
            s2 += v * v;                                                                                   \
            v = (double)x[t + 3] - (double)c[t + 3];                                                       \
            s3 += v * v;                                                                                   \
        }                                                                                                  \
        if (t < d) {                                                                                       \
            v = (double)x[t] - (double)c[t];                                                               \
            s0 += v * v;                                                                                   \
        }                                                                                                  \
        if (t + 1 < d) {                                                                                   \
            v = (double)x[t + 1] - (double)c[t + 1];                                                       \
            s1 += v * v;                                                                                   \
        }                                                                                                  \
        if (t + 2 < d) {                                                                                   \
            v = (double)x[t + 2] - (double)c[t + 2];                                                       \
            s2 += v * v;                                                                                   \
        }                                                                                                  \
        return (s0 + s1) + (s2 + s3);                                                                      \
    }
OOC__SQDIST(f64, double)
OOC__SQDIST(f32, float)
#undef OOC__SQDIST

/* ooc__add_row_f64/f32(): s[t] += x[t] − o[t] for t < d, in double: a row added to its cluster's sum,
 * taken about an origin o near the cluster (ooc_kmeans.c: its initial centre, or the row it was moved to),
 * so that the sums keep the digits of its spread however far the data sits from 0. Returns Σ (x_t − o_t)²
 * in ooc__sqdist's order (its 4 partial sums), for the cluster's sum of squares about o. */
#define OOC__ADD_ROW(SUF, T)                                                                               \
    static inline double ooc__add_row_##SUF(double *restrict s, const T *restrict x, const double *restrict o,  \
                                            size_t d)                                                      \
    {                                                                                                      \
        double q[4] = {0, 0, 0, 0}, v;                                                                     \
        size_t t = 0;                                                                                      \
        for (; t + 4 <= d; t += 4)                                                                         \
            for (size_t l = 0; l < 4; l++) {                                                               \
                v = (double)x[t + l] - o[t + l];                                                           \
                s[t + l] += v;                                                                             \
                q[l] += v * v;                                                                             \
            }                                                                                              \
        for (size_t l = 0; t + l < d; l++) {                                                               \
            v = (double)x[t + l] - o[t + l];                                                               \
            s[t + l] += v;                                                                                 \
            q[l] += v * v;                                                                                 \
        }                                                                                                  \
        return (q[0] + q[1]) + (q[2] + q[3]);                                                              \
    }
OOC__ADD_ROW(f64, double)
OOC__ADD_ROW(f32, float)
#undef OOC__ADD_ROW

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
/* The same two for functions built with OOC__AVX2, a step of 4 columns in one 32-byte vector: the lanes are
 * ooc__sqdist's 4 partial sums, so D has the same bits. Intrinsics, because GCC splits a float-to-double
 * conversion of a vector extension into halves whose merges chain every row to the one before. */
#define OOC__ROW_AVX2(SUF, T, LOAD4, LOADN)                                                                \
    OOC__AVX2 static inline double ooc__sqdist_##SUF##_avx2(const T *x, const T *c, size_t d)              \
    {                                                                                                      \
        __m256d s = _mm256_setzero_pd(), v;                                                                \
        size_t t = 0;                                                                                      \
        if (d >= 4) { /* 0 + v·v is v·v (a square is never -0): one addition less on the chain */         \
            v = _mm256_sub_pd(LOAD4(x), LOAD4(c));                                                         \
            s = _mm256_mul_pd(v, v);                                                                       \
            t = 4;                                                                                         \
        }                                                                                                  \
        for (; t + 4 <= d; t += 4) {                                                                       \
            v = _mm256_sub_pd(LOAD4(x + t), LOAD4(c + t));                                                 \
            s = _mm256_add_pd(s, _mm256_mul_pd(v, v));                                                     \
        }                                                                                                  \
        if (t < d) { /* lanes past d load 0, and s + 0 * 0 is s */                                         \
            v = _mm256_sub_pd(LOADN(x + t, d - t), LOADN(c + t, d - t));                                   \
            s = _mm256_add_pd(s, _mm256_mul_pd(v, v));                                                     \
        }                                                                                                  \
        __m128d lo = _mm256_castpd256_pd128(s), hi = _mm256_extractf128_pd(s, 1);                          \
        __m128d h = _mm_add_pd(_mm_unpacklo_pd(lo, hi), _mm_unpackhi_pd(lo, hi)); /* s0+s1, s2+s3 */       \
        return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));                                        \
    }                                                                                                      \
    OOC__AVX2 static inline double ooc__add_row_##SUF##_avx2(double *restrict s, const T *restrict x,        \
                                                           const double *restrict o, size_t d)             \
    {                                                                                                      \
        __m256d q = _mm256_setzero_pd(), v;                                                                \
        size_t t = 0;                                                                                      \
        for (; t + 4 <= d; t += 4) {                                                                       \
            v = _mm256_sub_pd(LOAD4(x + t), _mm256_loadu_pd(o + t));                                       \
            _mm256_storeu_pd(s + t, _mm256_add_pd(_mm256_loadu_pd(s + t), v));                             \
            q = _mm256_add_pd(q, _mm256_mul_pd(v, v));                                                     \
        }                                                                                                  \
        if (t < d) { /* lanes past d are 0 − 0: they add 0 to q and are not stored */                     \
            __m256i keep = _mm256_cvtepi32_epi64(OOC__MASK4(d - t));                                       \
            v = _mm256_sub_pd(LOADN(x + t, d - t), _mm256_maskload_pd(o + t, keep));                       \
            _mm256_maskstore_pd(s + t, keep, _mm256_add_pd(_mm256_maskload_pd(s + t, keep), v));           \
            q = _mm256_add_pd(q, _mm256_mul_pd(v, v));                                                     \
        }                                                                                                  \
        __m128d lo = _mm256_castpd256_pd128(q), hi = _mm256_extractf128_pd(q, 1);                          \
        __m128d h = _mm_add_pd(_mm_unpacklo_pd(lo, hi), _mm_unpackhi_pd(lo, hi)); /* q0+q1, q2+q3 */       \
        return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));                                        \
    }
/* The first n < 4 lanes of a mask. */
#define OOC__MASK4(n) _mm_cmpgt_epi32(_mm_set1_epi32((int)(n)), _mm_setr_epi32(0, 1, 2, 3))
#define OOC__LOAD4_F64(p) _mm256_loadu_pd(p)
#define OOC__LOAD4_F32(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define OOC__LOADN_F64(p, n) _mm256_maskload_pd(p, _mm256_cvtepi32_epi64(OOC__MASK4(n)))
#define OOC__LOADN_F32(p, n) _mm256_cvtps_pd(_mm_maskload_ps(p, OOC__MASK4(n)))
OOC__ROW_AVX2(f64, double, OOC__LOAD4_F64, OOC__LOADN_F64)
OOC__ROW_AVX2(f32, float, OOC__LOAD4_F32, OOC__LOADN_F32)
#undef OOC__ROW_AVX2
#undef OOC__MASK4
#undef OOC__LOAD4_F64
#undef OOC__LOAD4_F32
#undef OOC__LOADN_F64
#undef OOC__LOADN_F32
#define OOC__HAVE_ROW_AVX2 1
#endif

/* Loops over rows, written once as BODY(NAME, T, ATTR, OPS) and built per row-operation set:
 * OOC__ROW_LOOPS(BODY, name) defines name_f64 and name_f32 with the portable operations (OPS f64, f32) and,
 * on x86, name_f64_avx2 and name_f32_avx2 with the AVX2 ones (ATTR OOC__AVX2); all give the same bits.
 * OOC__ROW_LOOP_CALL(name, t, args...) calls the one for the data's type t that this CPU runs fastest. */
#ifdef OOC__HAVE_ROW_AVX2
#define OOC__ROW_LOOPS(BODY, NAME)                                                                         \
    BODY(NAME##_f64, double, , f64)                                                                        \
    BODY(NAME##_f32, float, , f32)                                                                         \
    BODY(NAME##_f64_avx2, double, OOC__AVX2, f64_avx2)                                                     \
    BODY(NAME##_f32_avx2, float, OOC__AVX2, f32_avx2)
#define OOC__ROW_LOOP_CALL(NAME, t, ...)                                                                   \
    (ooc__assign_have_avx2()                                                                               \
         ? ((t) == OOC_FLOAT32 ? NAME##_f32_avx2(__VA_ARGS__) : NAME##_f64_avx2(__VA_ARGS__))             \
         : ((t) == OOC_FLOAT32 ? NAME##_f32(__VA_ARGS__) : NAME##_f64(__VA_ARGS__)))
#else
#define OOC__ROW_LOOPS(BODY, NAME) BODY(NAME##_f64, double, , f64) BODY(NAME##_f32, float, , f32)
#define OOC__ROW_LOOP_CALL(NAME, t, ...) ((t) == OOC_FLOAT32 ? NAME##_f32(__VA_ARGS__) : NAME##_f64(__VA_ARGS__))
#endif

/* ooc__sqdist(): the same for rows of the data's type t (float32 or float64). */
static inline double ooc__sqdist(ooc_dtype t, const void *x, const void *c, size_t d)
{
    return t == OOC_FLOAT32 ? ooc__sqdist_f32(x, c, d) : ooc__sqdist_f64(x, c, d);
}

/* ooc__sqdist_margin(): a relative margin covering D's rounding and a few more roundings done with it. D
 * sums d rounded squares of rounded differences, all non-negative, so D = r² (1 + θ) with |θ| <= γ_(d+3)
 * for the exact squared distance r² of the same values (γ_m = m·u/(1 − m·u), u = 2^-53); we allow
 * 8 (d + 4) u, so that up to 3 (d + 4) further roundings of a result still leave it on the safe side. */
static inline double ooc__sqdist_margin(size_t d)
{
    return 8.0 * (double)(d + 4) * 0x1p-53;
}

/* The fast variants' common end: from approximate ranks to the exact answer (ooc_assign_settle.c).
 * "Lanes": the elements of T in 16 bytes (2 doubles, 4 floats).
 * ooc__assign_pad_norms_*(): cnp[0..kp) = c_norm2 then +inf (kp >= k, a multiple of the lanes, cnp 16-byte
 * aligned); returns cmax = max(0, max_j c_norm2[j]).
 * ooc__assign_settle_*(): rows [0, n) of x; dot: n x ld (ld >= kp, a multiple of the lanes, 16-byte
 * aligned rows), dot[i*ld + j] ≈ x_i·c_j in the data's precision (any summation order), finite in columns
 * [k, kp). A row's score for c_j is cnp[j] − 2·dot in that precision; take a best score, compute its D,
 * then compute D for every other centre whose score is within the scores' rounding bound of the best
 * (rare), the lowest index winning ties. Writes labels[0..n), dist[0..n) and, unless NULL, second[0..n). */
double ooc__assign_pad_norms_f64(const double *cn, size_t k, size_t kp, double *cnp);
double ooc__assign_pad_norms_f32(const float *cn, size_t k, size_t kp, float *cnp);
void ooc__assign_settle_f64(const double *x, size_t n, size_t d, const double *c, size_t k, const double *cnp,
                            size_t kp, double cmax, const double *dot, size_t ld, int32_t *labels, double *dist,
                            double *second);
void ooc__assign_settle_f32(const float *x, size_t n, size_t d, const float *c, size_t k, const float *cnp,
                            size_t kp, double cmax, const float *dot, size_t ld, int32_t *labels, double *dist,
                            double *second);
/* The same for float64 rows and centres ranked by float32 scores (cnp and dot in float32, within float32's
 * rounding of the values in double; see ooc__assign_gemm_f64s()), D in double. */
void ooc__assign_settle_f64s(const double *x, size_t n, size_t d, const double *c, size_t k, const float *cnp,
                             size_t kp, double cmax, const float *dot, size_t ld, int32_t *labels, double *dist,
                             double *second);

#endif
