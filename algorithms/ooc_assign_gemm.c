/* The GEMM assignment for large k·d: tiles of rows, each one OpenBLAS call X_tile · Cᵀ into scratch, then
 * ooc__assign_settle_*() ranks by ‖c‖² − 2x·c and settles with the exact distance. A tile's rows and its
 * TILE x k dot products stay in L2 between the GEMM writing them and the settling reading them. */
#include "ooc_assign_internal.h"

#include <cblas.h>
#include <math.h>

/* Rows per tile: as many as keep the tile of x and its dot products within OOC__GEMM_TILE_BYTES, a multiple
 * of 16 between 16 and 512. Measured with bench_assign (ns/row, float64 d,k = 128,256 / 32,1000 / 128,1000):
 * 128 KiB 2188 / 3213 / 9341; 256 KiB 1658 / 2818 / 7917; 512 KiB 1626 / 2519 / 6597; 1 MiB 1658 / 2472 /
 * 6473; 2 MiB 1768 / 2489 / 6280. 512 KiB: near the best everywhere and within a 1 MiB L2 with room. */
#define OOC__GEMM_TILE_BYTES ((size_t)512 * 1024)
#define OOC__GEMM_TILE_MAX 512

static size_t gemm_tile_rows(size_t esize, size_t k, size_t d)
{
    size_t rows = OOC__GEMM_TILE_BYTES / ((k + d) * esize) / 16 * 16;
    return rows < 16 ? 16 : rows > OOC__GEMM_TILE_MAX ? OOC__GEMM_TILE_MAX : rows;
}

/* k rounded up to whole 64-byte vectors: the dot products' row stride, so that every row starts aligned and
 * the widest settling applies. */
static size_t gemm_kp(size_t esize, size_t k)
{
    size_t lanes = 64 / esize;
    return (k + lanes - 1) / lanes * lanes;
}

/* Scratch: norms kp | dot products tile x kp. */
size_t ooc__assign_gemm_scratch(ooc_dtype t, size_t k, size_t d)
{
    size_t esize = ooc_dtype_size(t), kp = gemm_kp(esize, k);
    return (1 + gemm_tile_rows(esize, k, d)) * kp * esize;
}

#define OOC__GEMM(SUF, T, GEMM)                                                                            \
    void ooc__assign_gemm_##SUF(const void *x_, size_t n, size_t d, const void *c_, const void *cn_,        \
                                size_t k, int32_t *labels, double *dist, double *second, void *scratch)    \
    {                                                                                                      \
        const T *x = x_, *c = c_, *cn = cn_;                                                               \
        if (n == 0 || k == 0)                                                                              \
            return;                                                                                        \
        size_t tile = gemm_tile_rows(sizeof(T), k, d), kp = gemm_kp(sizeof(T), k);                         \
        T *cnp = scratch, *dot = cnp + kp;                                                                 \
        double cmax = ooc__assign_pad_norms_##SUF(cn, k, kp, cnp);                                         \
        for (size_t i = 0; i < tile && kp > k; i++) /* GEMM never writes the padding columns */            \
            for (size_t j = k; j < kp; j++)                                                                \
                dot[i * kp + j] = 0;                                                                       \
        for (size_t i = 0; i < n; i += tile) {                                                             \
            size_t m = n - i < tile ? n - i : tile;                                                        \
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)k, (blasint)d, 1, x + i * d, \
                 (blasint)d, c, (blasint)d, 0, dot, (blasint)kp);                                          \
            ooc__assign_settle_##SUF(x + i * d, m, d, c, k, cnp, kp, cmax, dot, kp, labels + i, dist + i,  \
                                     second ? second + i : NULL);                                          \
        }                                                                                                  \
    }

OOC__GEMM(f64, double, cblas_dgemm)
OOC__GEMM(f32, float, cblas_sgemm)

/* Float64 data ranked in float32: OpenBLAS's SGEMM runs about twice DGEMM's rate (bench_assign), and the
 * settling computes D in double from the float64 values, so labels and dist stay the reference's; the
 * float32 scores only widen the margin within which centres are settled (ooc_assign_settle.c). That
 * argument needs every nonzero value within [2^-50, 2^50] in magnitude: centres outside send the call to
 * ooc__assign_gemm_f64(), rows outside go to the reference. */
#define OOC__NARROW_MIN 0x1p-50
#define OOC__NARROW_MAX 0x1p50

/* v[0..n) in float32 into out; whether every value is within the argument's range (false for NaN). Values
 * outside become 0: converting them could overflow float32, and their row goes to the reference anyway. */
static int narrow(const double *v, size_t n, float *out)
{
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        double a = fabs(v[i]);
        int in = a == 0 || (a >= OOC__NARROW_MIN && a <= OOC__NARROW_MAX);
        out[i] = in ? (float)v[i] : 0;
        ok &= in;
    }
    return ok;
}

/* Scratch: norms kp | dot products tile x kp | centres k x d | a tile of rows, all float32. */
size_t ooc__assign_gemm_f64s_scratch(size_t k, size_t d)
{
    size_t tile = gemm_tile_rows(sizeof(float), k, d), kp = gemm_kp(sizeof(float), k);
    return ((1 + tile) * kp + (k + tile) * d) * sizeof(float);
}

void ooc__assign_gemm_f64s(const void *x_, size_t n, size_t d, const void *c_, const void *cn_, size_t k,
                           int32_t *labels, double *dist, double *second, void *scratch)
{
    const double *x = x_, *c = c_, *cn = cn_;
    if (n == 0 || k == 0)
        return;
    size_t tile = gemm_tile_rows(sizeof(float), k, d), kp = gemm_kp(sizeof(float), k);
    float *cnp = scratch, *dot = cnp + kp, *cf = dot + tile * kp, *xf = cf + k * d;
    if (!narrow(c, k * d, cf)) {
        ooc__assign_gemm_f64(x_, n, d, c_, cn_, k, labels, dist, second, scratch);
        return;
    }
    for (size_t j = 0; j < k; j++) /* within 2^-24 of ‖c_j‖²: no overflow, the centres being in range */
        cnp[j] = (float)cn[j];
    double cmax = ooc__assign_pad_norms_f32(cnp, k, kp, cnp);
    for (size_t i = 0; i < tile && kp > k; i++) /* GEMM never writes the padding columns */
        for (size_t j = k; j < kp; j++)
            dot[i * kp + j] = 0;
    for (size_t i = 0; i < n; i += tile) {
        size_t m = n - i < tile ? n - i : tile;
        unsigned char wide[OOC__GEMM_TILE_MAX]; /* the tile's rows outside the range */
        for (size_t r = 0; r < m; r++)
            wide[r] = !narrow(x + (i + r) * d, d, xf + r * d);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)k, (blasint)d, 1, xf, (blasint)d,
                    cf, (blasint)d, 0, dot, (blasint)kp);
        ooc__assign_settle_f64s(x + i * d, m, d, c, k, cnp, kp, cmax, dot, kp, labels + i, dist + i,
                                second ? second + i : NULL);
        for (size_t r = i; r < i + m; r++)
            if (wide[r - i])
                ooc__assign_ref_f64(x + r * d, 1, d, c, cn, k, labels + r, dist + r, second ? second + r : NULL,
                                    NULL);
    }
}
