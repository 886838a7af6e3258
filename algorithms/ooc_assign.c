/* Choosing an assignment variant by shape, and the scratch that serves them all. Every variant returns the
 * reference's labels and distances bit for bit (ooc_assign_internal.h), so the choice is about speed only.
 *
 * Measured with bench_assign (1 thread, median thread CPU time of 11, blobs rows, ns per row) on an AMD EPYC
 * (Zen 4, AVX-512) with OpenBLAS 0.3.21 (its Cooper Lake kernels), d,k: ref / direct-v16 / direct-v32 / gemm
 *   float64    2,8     13.4 /   20.4 /   19.4 /   21.3     float32    2,8    14.9 /  22.1 /  21.7 /  22.9
 *              7,8     19.9 /   25.4 /   21.7 /   23.9                7,8    29.8 /  27.0 /  23.7 /  25.0
 *             20,8     37.4 /   41.2 /   30.1 /   35.2               20,8    51.4 /  38.5 /  31.6 /  34.0
 *             20,12    56.0 /   67.6 /   44.4 /   45.1              20,12    77.0 /  49.6 /  37.6 /  37.4
 *             20,32   148.1 /  119.8 /   71.8 /   80.5              20,32   204.6 /  78.1 /  53.2 /  53.6
 *             32,64   456.5 /  322.5 /  162.4 /  175.6              32,64   622.8 / 177.2 / 106.3 / 107.4
 *             64,64   872.2 /  571.5 /  261.0 /  277.2              64,64  1196.9 / 304.5 / 162.3 / 158.3
 *            16,256   987.0 /  813.9 /  489.2 /  461.4             16,256  1382.6 / 385.8 / 247.9 / 259.9
 *           128,256  6566.4 / 4384.3 / 2097.3 / 1624.4            128,256  9232.9 /2285.1 /1092.7 / 896.7
 *           32,1000  6948.3 / 4725.7 / 2516.9 / 2496.6            32,1000  9719.6 /2377.3 /1294.6 /1285.8
 * So: for k·d up to 64 (float64) or 32 (float32) the plain reference wins: the fast variants' fixed cost per
 * row (two passes over the scores, the bound, one exact distance) outweighs k·d that small. The AVX2 direct
 * kernel wins or ties GEMM below k·d = 4096 (float64) and 2048 (float32); at and above, GEMM. The SSE2
 * direct kernel never beats GEMM past the tiny shapes, so on a CPU without AVX2 GEMM takes its place. */
#include "ooc_assign_internal.h"

size_t ooc__assign_scratch_bytes(ooc_dtype t, size_t k, size_t d)
{
    size_t direct = ooc__assign_direct_scratch(t, k, d), gemm = ooc__assign_gemm_scratch(t, k, d);
    size_t bytes = direct > gemm ? direct : gemm;
    return (bytes + 63) / 64 * 64;
}

ooc__assign_fn ooc__assign_select(ooc_dtype t, size_t k, size_t d)
{
    int f32 = t == OOC_FLOAT32;
    size_t kd = k * d;
    if (kd <= (f32 ? 32u : 64u))
        return f32 ? ooc__assign_ref_f32 : ooc__assign_ref_f64;
    if (kd < (f32 ? 2048u : 4096u) && ooc__assign_have_avx2())
        return f32 ? ooc__assign_direct_f32 : ooc__assign_direct_f64;
    return f32 ? ooc__assign_gemm_f32 : ooc__assign_gemm_f64;
}

void ooc__assign_typed_centers(const double *c, size_t k, size_t d, ooc_dtype t, void *typed)
{
    float *f = typed;
    double *g = typed;
    for (size_t j = 0; j < k; j++) {
        double norm = 0;
        for (size_t e = j * d; e < (j + 1) * d; e++) {
            double v = t == OOC_FLOAT32 ? (double)(f[e] = (float)c[e]) : (g[e] = c[e]);
            norm += v * v;
        }
        if (t == OOC_FLOAT32)
            f[k * d + j] = (float)norm;
        else
            g[k * d + j] = norm;
    }
}
