/* The direct assignment for small k·d, where a GEMM call costs more than it saves: x·c for a block of RB
 * rows against KB centres at a time, the RB x KB sums held in registers while t runs over the d columns.
 * The centres are transposed once per call into scratch (d x kp, kp = k rounded up to KB, zero-padded) so
 * that the KB centres of column t are contiguous and each row's x_t is a broadcast: plain C loops of fixed
 * trip count that the compiler unrolls and vectorises for whatever x86-64 it targets. The padded centres
 * are never looked at: ooc__assign_settle_*() reads the first k of each row of dot products.
 *
 * Scratch, in elements of T: ct d x kp | dot RB x kp | tail rows RB x d (the last n mod RB rows, zero-padded,
 * so one block code serves them too). */
#include "ooc_assign_internal.h"

#include <string.h>

/* Block sizes: RB x KB accumulators fit the 16 SSE registers with room for the loads (measured with
 * bench/bench_assign.c; see ooc_assign.c). */
#define OOC__DIRECT_RB_F64 4
#define OOC__DIRECT_KB_F64 4
#define OOC__DIRECT_RB_F32 4
#define OOC__DIRECT_KB_F32 8

#define OOC__DIRECT(SUF, T, RB, KB)                                                                        \
    static size_t direct_kp_##SUF(size_t k)                                                                \
    {                                                                                                      \
        return (k + (KB)-1) / (KB) * (KB);                                                                 \
    }                                                                                                      \
                                                                                                           \
    static size_t direct_scratch_##SUF(size_t k, size_t d)                                                 \
    {                                                                                                      \
        size_t kp = direct_kp_##SUF(k);                                                                    \
        return (d * kp + (RB)*kp + (RB)*d) * sizeof(T);                                                    \
    }                                                                                                      \
                                                                                                           \
    /* dot[r * kp + j] = x_r · c_j for the RB rows at x and every padded centre. */                        \
    static void direct_block_##SUF(const T *restrict x, size_t d, const T *restrict ct, size_t kp,         \
                                   T *restrict dot)                                                        \
    {                                                                                                      \
        for (size_t jb = 0; jb < kp; jb += (KB)) {                                                         \
            T acc[RB][KB];                                                                                 \
            for (int r = 0; r < (RB); r++)                                                                 \
                for (int u = 0; u < (KB); u++)                                                             \
                    acc[r][u] = 0;                                                                         \
            for (size_t t = 0; t < d; t++) {                                                               \
                const T *restrict ctt = ct + t * kp + jb;                                                  \
                for (int r = 0; r < (RB); r++) {                                                           \
                    T xv = x[(size_t)r * d + t];                                                           \
                    for (int u = 0; u < (KB); u++)                                                         \
                        acc[r][u] += xv * ctt[u];                                                          \
                }                                                                                          \
            }                                                                                              \
            for (int r = 0; r < (RB); r++)                                                                 \
                for (int u = 0; u < (KB); u++)                                                             \
                    dot[(size_t)r * kp + jb + (size_t)u] = acc[r][u];                                      \
        }                                                                                                  \
    }                                                                                                      \
                                                                                                           \
    void ooc__assign_direct_##SUF(const void *x_, size_t n, size_t d, const void *c_, const void *cn_,      \
                                  size_t k, int32_t *labels, double *dist, void *scratch)                  \
    {                                                                                                      \
        const T *x = x_, *c = c_, *cn = cn_;                                                               \
        if (n == 0 || k == 0)                                                                              \
            return;                                                                                        \
        size_t kp = direct_kp_##SUF(k);                                                                    \
        T *ct = scratch, *dot = ct + d * kp, *tail = dot + (RB)*kp;                                        \
        double cmax = (double)cn[0];                                                                       \
        for (size_t j = 0; j < kp; j++) {                                                                  \
            for (size_t t = 0; t < d; t++)                                                                 \
                ct[t * kp + j] = j < k ? c[j * d + t] : 0;                                                 \
            if (j < k && (double)cn[j] > cmax)                                                             \
                cmax = (double)cn[j];                                                                      \
        }                                                                                                  \
        size_t i = 0;                                                                                      \
        for (; i + (RB) <= n; i += (RB)) {                                                                 \
            direct_block_##SUF(x + i * d, d, ct, kp, dot);                                                 \
            ooc__assign_settle_##SUF(x + i * d, RB, d, c, cn, k, cmax, dot, kp, labels + i, dist + i);     \
        }                                                                                                  \
        if (i < n) {                                                                                       \
            memset(tail, 0, (RB)*d * sizeof(T));                                                           \
            memcpy(tail, x + i * d, (n - i) * d * sizeof(T));                                              \
            direct_block_##SUF(tail, d, ct, kp, dot);                                                      \
            ooc__assign_settle_##SUF(x + i * d, n - i, d, c, cn, k, cmax, dot, kp, labels + i, dist + i);  \
        }                                                                                                  \
    }

OOC__DIRECT(f64, double, OOC__DIRECT_RB_F64, OOC__DIRECT_KB_F64)
OOC__DIRECT(f32, float, OOC__DIRECT_RB_F32, OOC__DIRECT_KB_F32)

size_t ooc__assign_direct_scratch(ooc_dtype t, size_t k, size_t d)
{
    return t == OOC_FLOAT32 ? direct_scratch_f32(k, d) : direct_scratch_f64(k, d);
}
