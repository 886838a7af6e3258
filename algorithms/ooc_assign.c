/* Choosing an assignment variant by shape, and the scratch that serves them all. Every variant returns the
 * reference's labels and distances bit for bit (ooc_assign_internal.h), so the choice is about speed only.
 *
 * Measured with bench_assign (1 thread, median thread CPU time of 11, blobs rows, ns per row) on an AMD EPYC
 * (Zen 4, AVX-512) with OpenBLAS 0.3.21 (its Cooper Lake kernels), d,k: ref / direct-v16 / -v32 / -v64 / gemm
 *   float64    2,8     32.2 /   20.6 /   19.6 /   18.5 /   20.8   float32    2,8    38.5 /  22.4 /  22.2 /  29.1
 *             20,8     64.3 /   41.8 /   30.8 /   31.4 /   36.6              20,8    82.1 /  39.3 /  31.8 /  40.0
 *             20,12    88.1 /   65.4 /   41.6 /   38.1 /   46.0             20,12   112.9 /  50.5 /  37.6 /  43.3
 *             20,32   194.4 /  119.2 /   70.7 /   66.5 /   74.3             20,32   258.2 /  77.8 /  52.7 /  51.3
 *             32,64   519.1 /  306.3 /  150.7 /  144.4 /  160.0             32,64   701.2 / 177.5 / 101.7 /  97.6
 *            128,8        - /      - /   95.7 /   88.6 /  135.0             128,8       - /     - /  84.3 / 104.5
 *            128,32       - /      - /  294.2 /  255.1 /  289.1            128,32       - /     - / 164.0 / 153.7
 *             64,256      - /      - /  941.0 /  810.3 /  810.1            64,256       - /     - / 510.6 / 429.3
 *             96,256      - /      - / 1453.2 / 1246.9 / 1148.2            16,256  1454.5 / 331.0 / 187.2 / 188.5
 *            128,256 6650.1 / 4205.8 / 1954.9 / 1704.9 / 1471.7           128,256  9354.7 /2149.2 /1010.8 / 756.9
 *            32,1000 7171.0 / 4062.4 / 1863.6 / 1637.5 / 1852.7           32,1000  9828.4 /2041.3 / 964.7 / 964.8
 *            64,1000      - /      - / 3414.1 / 2900.1 / 3139.6
 * (float32 has no -v64: it would pad small k to 16.) The reference wins only for one or two centres
 * (float64 d,k = 20,1: 6.4 ns against 25 for any other; 20,2: 18.7 against 31; 20,4: a tie), as in
 * k-means||'s first round; beyond, it is the tests' oracle. With AVX-512 the float64 direct kernel wins but
 * where both d and k are large (d >= 96, k >= 128); with AVX2 alone it wins or ties GEMM below k·d = 4096
 * (float64) and 2048 (float32); at and above, GEMM. Without AVX2 the SSE2 direct kernel loses to GEMM past
 * the tiniest shapes, so GEMM takes its place.
 *
 * gemm-f64s (float64 data ranked by float32 GEMM, settled in double) against direct-v64 and gemm, same
 * run, 7 repeats, ns per row, d,k: 8,256 132 / 150; 16,256 166 / 188 / 261; 128,256 770 / 1227 / 1222;
 * 8,1000 384 / 520; 32,1000 814 / 953 / 1543; 64,1000 1402 / 1597; a tie at k = 128 (32,128 156 / 152;
 * 128,128 444 / 441), slower below (128,64 306 / 235); faster than gemm at every shape (20,32 54 / 57;
 * 32,64 107 / 123). So with AVX-512 it takes k >= 256, and without it every shape GEMM took. */
#include "ooc_assign_internal.h"
#include "ooc_memory.h"

size_t ooc__assign_scratch_bytes(ooc_dtype t, size_t k, size_t d)
{
    size_t direct = ooc__assign_direct_scratch(t, k, d), gemm = ooc__assign_gemm_scratch(t, k, d);
    size_t mixed = t == OOC_FLOAT64 ? ooc__assign_gemm_f64s_scratch(k, d) : 0;
    size_t bytes = direct > gemm ? direct : gemm;
    bytes = mixed > bytes ? mixed : bytes;
    return (bytes + 63) / 64 * 64;
}

/* OpenBLAS (Debian 12's 0.3.21) takes a 128 MiB buffer for each thread that calls it, and where ulimit -v or
 * -d leaves no room for one it retries for ever (OpenMathLib/OpenBLAS#5289: a predict under ulimit -v 300M
 * with OMP_NUM_THREADS=1 spun until killed). Under such a limit the direct kernels take every shape: the
 * same results, at most about a third slower where GEMM is faster (the table above). */
ooc__assign_fn ooc__assign_select(ooc_dtype t, size_t k, size_t d)
{
    if (k <= 2)
        return t == OOC_FLOAT32 ? ooc__assign_ref_f32 : ooc__assign_ref_f64;
    if (ooc_memory_address_limited())
        return t == OOC_FLOAT32 ? ooc__assign_direct_f32 : ooc__assign_direct_f64;
    if (t == OOC_FLOAT32)
        return k * d < 2048 && ooc__assign_have_avx2() ? ooc__assign_direct_f32 : ooc__assign_gemm_f32;
    if (ooc__assign_have_avx512())
        return k >= 256 ? ooc__assign_gemm_f64s : d >= 96 && k >= 128 ? ooc__assign_gemm_f64 : ooc__assign_direct_f64;
    return k * d < 4096 && ooc__assign_have_avx2() ? ooc__assign_direct_f64 : ooc__assign_gemm_f64s;
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
