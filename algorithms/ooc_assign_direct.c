/* The direct assignment for small k·d, where a GEMM call costs more than it saves: x·c for a block of RB
 * rows against KB centres at a time, the RB x KB sums held in registers while t runs over the d columns.
 * The centres are transposed once per call into scratch (d x kp, kp = k rounded up to KP, zero-padded) so
 * that the KB centres of column t are contiguous and each row's x_t is a broadcast: GNU C vector
 * extensions, no intrinsics. Builds of the block: 16-byte vectors (SSE2, any x86-64), 32-byte ones (AVX2)
 * and 64-byte ones (AVX-512, float64), each taken when the CPU has it. The AVX2 and AVX-512 ones fuse each
 * multiplication with its addition (FMA, one rounding instead of two: a fifth off the kernel's time at d = 20,
 * k = 8-31, bench_assign), so their dot products may differ from the SSE2 block's in the last bits, as
 * OpenBLAS's do; what the kernels return does not: labels and distances come from D in the settling, and
 * the second-nearest bound holds for any summation (ooc_assign_settle.c). The padded centres are never looked
 * at: ooc__assign_settle_*() reads the first k of each row of dot products.
 *
 * Scratch, in elements of T: ct d x kp | norms kp | dot RBMAX x kp | tail rows RBMAX x d (the last rows of
 * a call, zero-padded to a block, so one block code serves them too). */
#include "ooc_assign_internal.h"

#include <string.h>

/* Block shapes (rows x centres): 8 accumulator registers and room for the loads in the 16 vector
 * registers; measured with bench/bench_assign.c (see ooc_assign.c). kp is a multiple of every KB. */
enum { KP = 8, RBMAX = 8 };

#define OOC__DIRECT_BLOCK(NAME, T, VB, RB, KB, ATTR)                                                       \
    /* dot[r * kp + j] = x_r · c_j for the RB rows at x and every padded centre. */                        \
    ATTR static void NAME(const T *restrict x, size_t d, const T *restrict ct, size_t kp, T *restrict dot) \
    {                                                                                                      \
        typedef T vec __attribute__((vector_size(VB), aligned(sizeof(T)), may_alias));                     \
        enum { L = (VB) / sizeof(T), NV = (KB) / L };                                                      \
        for (size_t jb = 0; jb < kp; jb += (KB)) {                                                         \
            vec acc[RB][NV];                                                                               \
            for (int r = 0; r < (RB); r++)                                                                 \
                for (int v = 0; v < NV; v++)                                                               \
                    acc[r][v] = (vec){0};                                                                  \
            for (size_t t = 0; t < d; t++) {                                                               \
                const T *ctt = ct + t * kp + jb;                                                           \
                for (int r = 0; r < (RB); r++) {                                                           \
                    T xv = x[(size_t)r * d + t];                                                           \
                    for (int v = 0; v < NV; v++)                                                           \
                        acc[r][v] += xv * *(const vec *)(ctt + v * L);                                     \
                }                                                                                          \
            }                                                                                              \
            for (int r = 0; r < (RB); r++)                                                                 \
                for (int v = 0; v < NV; v++)                                                               \
                    *(vec *)(dot + (size_t)r * kp + jb + (size_t)v * L) = acc[r][v];                       \
        }                                                                                                  \
    }

/* The project builds with -ffp-contract=off (D and the row operations must give the same bits everywhere);
 * these blocks alone may contract a * b + c into an FMA. */
#define OOC__FUSED __attribute__((optimize("fp-contract=fast")))

OOC__DIRECT_BLOCK(block_v16_f64, double, 16, 4, 4, )
OOC__DIRECT_BLOCK(block_v32_f64, double, 32, 4, 8, OOC__AVX2 OOC__FUSED)
OOC__DIRECT_BLOCK(block_v64_f64, double, 64, 8, 8, OOC__AVX512 OOC__FUSED)
OOC__DIRECT_BLOCK(block_v16_f32, float, 16, 4, 8, )
OOC__DIRECT_BLOCK(block_v32_f32, float, 32, 8, 8, OOC__AVX2 OOC__FUSED)

static size_t direct_kp(size_t k)
{
    return (k + KP - 1) / KP * KP;
}

size_t ooc__assign_direct_scratch(ooc_dtype t, size_t k, size_t d)
{
    size_t kp = direct_kp(k);
    return (d * kp + kp + RBMAX * kp + RBMAX * d) * ooc_dtype_size(t);
}

/* One variant: the block function BLOCK of RB rows, then settling. */
#define OOC__DIRECT(NAME, SUF, T, BLOCK, RB)                                                               \
    void NAME(const void *x_, size_t n, size_t d, const void *c_, const void *cn_, size_t k, int32_t *labels, \
              double *dist, double *second, void *scratch)                                                 \
    {                                                                                                      \
        const T *x = x_, *c = c_, *cn = cn_;                                                               \
        if (n == 0 || k == 0)                                                                              \
            return;                                                                                        \
        size_t kp = direct_kp(k);                                                                          \
        T *ct = scratch, *cnp = ct + d * kp, *dot = cnp + kp, *tail = dot + RBMAX * kp;                    \
        for (size_t j = 0; j < kp; j++)                                                                    \
            for (size_t t = 0; t < d; t++)                                                                 \
                ct[t * kp + j] = j < k ? c[j * d + t] : 0;                                                 \
        double cmax = ooc__assign_pad_norms_##SUF(cn, k, kp, cnp);                                         \
        size_t i = 0;                                                                                      \
        for (; i + (RB) <= n; i += (RB)) {                                                                 \
            BLOCK(x + i * d, d, ct, kp, dot);                                                              \
            ooc__assign_settle_##SUF(x + i * d, RB, d, c, k, cnp, kp, cmax, dot, kp, labels + i, dist + i, \
                                     second ? second + i : NULL);                                          \
        }                                                                                                  \
        if (i < n) {                                                                                       \
            memset(tail, 0, (RB)*d * sizeof(T));                                                           \
            memcpy(tail, x + i * d, (n - i) * d * sizeof(T));                                              \
            BLOCK(tail, d, ct, kp, dot);                                                                   \
            ooc__assign_settle_##SUF(x + i * d, n - i, d, c, k, cnp, kp, cmax, dot, kp, labels + i,         \
                                     dist + i, second ? second + i : NULL);                                \
        }                                                                                                  \
    }

OOC__DIRECT(ooc__assign_direct_v16_f64, f64, double, block_v16_f64, 4)
OOC__DIRECT(ooc__assign_direct_v32_f64, f64, double, block_v32_f64, 4)
OOC__DIRECT(ooc__assign_direct_v64_f64, f64, double, block_v64_f64, 8)
OOC__DIRECT(ooc__assign_direct_v16_f32, f32, float, block_v16_f32, 4)
OOC__DIRECT(ooc__assign_direct_v32_f32, f32, float, block_v32_f32, 8)

int ooc__assign_have_avx2(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); /* every AVX2 x86 has FMA too */
#else
    return 0;
#endif
}

int ooc__assign_have_avx512(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

void ooc__assign_direct_f64(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                            int32_t *labels, double *dist, double *second, void *scratch)
{
    ooc__assign_fn f = ooc__assign_have_avx512() ? ooc__assign_direct_v64_f64
                       : ooc__assign_have_avx2()  ? ooc__assign_direct_v32_f64
                                                  : ooc__assign_direct_v16_f64;
    f(x, n, d, c, c_norm2, k, labels, dist, second, scratch);
}

void ooc__assign_direct_f32(const void *x, size_t n, size_t d, const void *c, const void *c_norm2, size_t k,
                            int32_t *labels, double *dist, double *second, void *scratch)
{
    ooc__assign_fn f = ooc__assign_have_avx2() ? ooc__assign_direct_v32_f32 : ooc__assign_direct_v16_f32;
    f(x, n, d, c, c_norm2, k, labels, dist, second, scratch);
}
