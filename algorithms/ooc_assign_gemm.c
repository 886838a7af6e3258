/* The GEMM assignment for large k·d: tiles of rows, each one OpenBLAS call X_tile · Cᵀ into scratch, then
 * ooc__assign_settle_*() ranks by ‖c‖² − 2x·c and settles with the exact distance. A tile's rows and its
 * TILE x k dot products stay in L2 between the GEMM writing them and the settling reading them. */
#include "ooc_assign_internal.h"

#include <cblas.h>

/* Rows per tile: as many as keep the tile of x and its dot products within OOC__GEMM_TILE_BYTES, a multiple
 * of 16 between 16 and 512 (measured with bench/bench_assign.c; see ooc_assign.c). */
#define OOC__GEMM_TILE_BYTES ((size_t)512 * 1024)

static size_t gemm_tile_rows(size_t esize, size_t k, size_t d)
{
    size_t rows = OOC__GEMM_TILE_BYTES / ((k + d) * esize) / 16 * 16;
    return rows < 16 ? 16 : rows > 512 ? 512 : rows;
}

size_t ooc__assign_gemm_scratch(ooc_dtype t, size_t k, size_t d)
{
    size_t esize = ooc_dtype_size(t);
    return gemm_tile_rows(esize, k, d) * k * esize;
}

#define OOC__GEMM(SUF, T, GEMM)                                                                            \
    void ooc__assign_gemm_##SUF(const void *x_, size_t n, size_t d, const void *c_, const void *cn_,        \
                                size_t k, int32_t *labels, double *dist, void *scratch)                    \
    {                                                                                                      \
        const T *x = x_, *c = c_, *cn = cn_;                                                               \
        T *dot = scratch;                                                                                  \
        if (n == 0 || k == 0)                                                                              \
            return;                                                                                        \
        size_t tile = gemm_tile_rows(sizeof(T), k, d);                                                     \
        double cmax = (double)cn[0];                                                                       \
        for (size_t j = 1; j < k; j++)                                                                     \
            cmax = (double)cn[j] > cmax ? (double)cn[j] : cmax;                                            \
        for (size_t i = 0; i < n; i += tile) {                                                             \
            size_t m = n - i < tile ? n - i : tile;                                                        \
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)k, (blasint)d, 1, x + i * d, \
                 (blasint)d, c, (blasint)d, 0, dot, (blasint)k);                                           \
            ooc__assign_settle_##SUF(x + i * d, m, d, c, cn, k, cmax, dot, k, labels + i, dist + i);       \
        }                                                                                                  \
    }

OOC__GEMM(f64, double, cblas_dgemm)
OOC__GEMM(f32, float, cblas_sgemm)
