/* bench_assign: the assignment kernels one thread at a time, as BLIS's test suite reports: dimensions,
 * time per row, rate, and a check. For each shape (d, k) and type, n rows of blobs (k blobs, std 1, centres
 * in [-10, 10)^d: ooc_blobs) are assigned to k centres taken from the data's first k rows, as Lloyd's first
 * pass would; each variant runs `repeats` times, interleaved so that noise from other processes spreads
 * over all of them, and reports its median thread CPU time: ns per row and GFLOP/s counting 2·n·k·d flops
 * (the x·c products alone). Variants: ref, direct-v16 (SSE2), direct-v32 (AVX2, where the CPU has it),
 * direct-v64 (AVX-512, float64, idem), gemm, gemm-f64s (float64 ranked by float32 GEMM); "sel" marks the
 * one ooc__assign_select() picks. check: rows whose label or distance differs from
 * the reference's, or (--second) whose bound on the second nearest distance is above the reference's exact
 * one, over all variants (must be 0; the exit status says so).
 * --bounded: also Lloyd's row loop where every row's bound holds, as in the passes after the first on blobs
 * (ooc__bounds_assign(): each row's distance to its centre, the bound test, its addition to its cluster's sum
 * about an origin): one 256 KiB block of rows in cache, as a streaming pass hands its pieces over, against
 * the per-row state of 256 blocks, streamed. check: rows whose label or distance differ from the kernel's,
 * rows not kept, and sums that differ from the same additions made plainly, row by row.
 * This VM's two CPUs have run the same loop 1.45x apart for minutes at a time: pin it (taskset -c 0) and
 * compare variants in turn.
 *
 * Usage: bench_assign [--smoke] [--second] [--bounded] [--repeats N] [--flops F] [--shape D,K]...
 *   --second    the kernels also give the second nearest distance's bound, as Lloyd's first pass asks
 *   --bounded   the bounded row loop too (above)
 *   --repeats N runs of each variant, the median reported            [default: 11]
 *   --flops F   rows per shape: F / (2·k·d), between 64 and 262144    [default: 2e7]
 *   --shape     add a shape (the default set is replaced by the given ones)
 *   --smoke     two tiny shapes, one repeat, with and without --second: for ctest */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "ooc_assign_internal.h"
#include "ooc_blobs.h"
#include "ooc_kmeans_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_REPEATS = 99, MAX_SHAPES = 32, NVARIANTS = 6 };

/* direct-v32 only where the CPU has AVX2, direct-v64 (float64 only) where it has AVX-512; gemm-f64s
 * (float64 ranked in float32) for float64 only. */
static const char *const variant_name[NVARIANTS] = {"ref", "direct-v16", "direct-v32", "direct-v64", "gemm",
                                                    "gemm-f64s"};
static const ooc__assign_fn variant_f64[NVARIANTS] = {ooc__assign_ref_f64,        ooc__assign_direct_v16_f64,
                                                      ooc__assign_direct_v32_f64, ooc__assign_direct_v64_f64,
                                                      ooc__assign_gemm_f64,       ooc__assign_gemm_f64s};
static const ooc__assign_fn variant_f32[NVARIANTS] = {ooc__assign_ref_f32, ooc__assign_direct_v16_f32,
                                                      ooc__assign_direct_v32_f32, NULL, ooc__assign_gemm_f32, NULL};

static int available(int v, ooc_dtype t)
{
    if (v == 3)
        return t == OOC_FLOAT64 && ooc__assign_have_avx512();
    if (v == 5)
        return t == OOC_FLOAT64;
    return v != 2 || ooc__assign_have_avx2();
}

/* The build the direct dispatcher runs. */
static int direct_variant(ooc_dtype t)
{
    return t == OOC_FLOAT64 && ooc__assign_have_avx512() ? 3 : ooc__assign_have_avx2() ? 2 : 1;
}

typedef struct shape {
    size_t d, k;
} shape;

/* The shapes (20,8 20,12 32,64 128,256 32,1000) and more between them to place the crossovers. */
static const shape default_shapes[] = {{2, 8},   {7, 8},   {20, 8},   {20, 12},  {20, 32},
                                       {32, 64}, {64, 64}, {16, 256}, {128, 256}, {32, 1000}};

/* This thread's CPU time: on a machine shared with other work it is disturbed far less than wall time. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The first n rows of k blobs (shape s, type t): the data, and its first k rows as the centres. */
static void *blob_rows(ooc_dtype t, shape s, size_t n)
{
    ooc_blobs_params bp = ooc_blobs_params_default();
    bp.samples = n;
    bp.features = s.d;
    bp.centers = s.k;
    bp.dtype = t;
    bp.chunk_rows = n;
    ooc_blobs *blobs = NULL;
    ooc_error err;
    ooc_error_clear(&err);
    void *x = malloc(n * s.d * ooc_dtype_size(t));
    if (!x || ooc_blobs_create(&bp, NULL, &blobs, &err)) {
        fprintf(stderr, "bench_assign: %s\n", x ? err.msg : "out of memory");
        exit(1);
    }
    ooc_blobs_rows(blobs, 0, n, x, NULL);
    ooc_blobs_free(blobs);
    return x;
}

static double value(ooc_dtype t, const void *x, size_t e)
{
    return t == OOC_FLOAT32 ? (double)((const float *)x)[e] : ((const double *)x)[e];
}

/* One shape and type: returns the rows whose outputs differ from the reference's, summed over variants.
 * With want_second, every variant also gives its bound on the second nearest distance. */
static size_t bench_shape(ooc_dtype t, shape s, double flops, int repeats, int want_second)
{
    size_t esize = ooc_dtype_size(t), d = s.d, k = s.k;
    double want = flops / (2.0 * (double)k * (double)d);
    size_t n = want < 64 ? 64 : want > 262144 ? 262144 : (size_t)want;
    if (n < k)
        n = k;
    size_t scratch_bytes = ooc__assign_scratch_bytes(t, k, d);
    char *x = blob_rows(t, s, n), *cn = malloc(k * esize);
    void *scratch = aligned_alloc(64, scratch_bytes);
    int32_t *labels[NVARIANTS];
    double *dist[NVARIANTS], *second[NVARIANTS];
    for (int v = 0; v < NVARIANTS; v++) {
        labels[v] = malloc(n * sizeof *labels[v]);
        dist[v] = malloc(n * sizeof *dist[v]);
        second[v] = want_second ? malloc(n * sizeof *second[v]) : NULL;
        if (!labels[v] || !dist[v] || (want_second && !second[v]))
            exit(2);
    }
    if (!cn || !scratch)
        exit(2);
    const char *c = x; /* the first k rows are the centres */
    for (size_t j = 0; j < k; j++) {
        double norm = 0;
        for (size_t u = 0; u < d; u++)
            norm += value(t, c, j * d + u) * value(t, c, j * d + u);
        if (t == OOC_FLOAT32)
            ((float *)cn)[j] = (float)norm;
        else
            ((double *)cn)[j] = norm;
    }
    ooc__assign_fn sel = ooc__assign_select(t, k, d);
    const ooc__assign_fn *fns = t == OOC_FLOAT32 ? variant_f32 : variant_f64;
    double times[NVARIANTS][MAX_REPEATS];
    for (int r = 0; r < repeats; r++)
        for (int v = 0; v < NVARIANTS; v++) {
            if (!available(v, t))
                continue;
            double t0 = now();
            fns[v](x, n, d, c, cn, k, labels[v], dist[v], second[v], scratch);
            times[v][r] = now() - t0;
        }
    size_t bad = 0;
    for (int v = 1; v < NVARIANTS; v++)
        for (size_t i = 0; i < n && available(v, t); i++)
            bad += labels[v][i] != labels[0][i] || memcmp(&dist[v][i], &dist[0][i], sizeof(double)) != 0 ||
                   (want_second && !(second[v][i] <= second[0][i]));
    for (int v = 0; v < NVARIANTS; v++) {
        if (!available(v, t))
            continue;
        qsort(times[v], (size_t)repeats, sizeof(double), cmp_double);
        double med = times[v][repeats / 2];
        int picked = fns[v] == sel ||
                     (sel == (t == OOC_FLOAT32 ? ooc__assign_direct_f32 : ooc__assign_direct_f64) && v == direct_variant(t));
        printf("%-7s %5zu %5zu %7zu  %-10s %3s %10.1f %8.2f\n", ooc_dtype_name(t), d, k, n, variant_name[v],
               picked ? "sel" : "", 1e9 * med / (double)n, 2.0 * (double)n * (double)k * (double)d / med / 1e9);
    }
    for (int v = 0; v < NVARIANTS; v++) {
        free(labels[v]);
        free(dist[v]);
        free(second[v]);
    }
    free(x);
    free(cn);
    free(scratch);
    return bad;
}

enum { BOUNDED_BLOCKS = 256, BLOCK_BYTES = 256 << 10 };

/* --bounded for one shape and type: prints ns per row; returns the rows and sums the check finds wrong. */
static size_t bench_bounded(ooc_dtype t, shape s, int repeats)
{
    size_t esize = ooc_dtype_size(t), d = s.d, k = s.k, block = BLOCK_BYTES / (d * esize);
    block = block < 64 ? 64 : block < k ? k : block;
    size_t n = block * BOUNDED_BLOCKS;
    void *x = blob_rows(t, s, block);
    double *c = malloc(k * d * sizeof *c), *sums = calloc(k * d, sizeof *sums), *counts = calloc(k, sizeof *counts);
    double *squares = calloc(k, sizeof *squares), *ref_squares = calloc(k, sizeof *ref_squares);
    double *ref = calloc(k * d, sizeof *ref), *dist = malloc(block * sizeof *dist), *second = malloc(block * sizeof *second);
    double *kdist = malloc(block * sizeof *kdist);
    int32_t *labels = malloc(block * sizeof *labels), *klabels = malloc(block * sizeof *klabels);
    ooc__bound_row *st0 = malloc(n * sizeof *st0), *st = malloc(n * sizeof *st);
    void *typed = malloc((k * d + k) * esize), *scratch = aligned_alloc(64, ooc__assign_scratch_bytes(t, k, d));
    void *work = aligned_alloc(64, ooc__bounds_work_bytes(t, d));
    ooc__bounds b;
    memset(&b, 0, sizeof b); /* what ooc__bounds_create() sets up, less the per-row state a stream would hold */
    b.k = k;
    b.d = d;
    b.dtype = t;
    b.margin = ooc__sqdist_margin(d);
    b.centers = typed;
    b.valid = 1;
    b.drifted = malloc(k * sizeof *b.drifted);
    if (!c || !sums || !counts || !squares || !ref_squares || !ref || !dist || !second || !kdist || !labels || !klabels || !st0 || !st || !typed ||
        !scratch || !work || !b.drifted)
        exit(2);
    for (size_t e = 0; e < k * d; e++)
        c[e] = value(t, x, e); /* the first k rows are the centres, and each cluster's origin */
    ooc__assign_typed_centers(c, k, d, t, typed);
    const void *norm2 = (const char *)typed + k * d * esize;
    ooc__assign_fn kernel = ooc__assign_select(t, k, d);
    kernel(x, block, d, typed, norm2, k, klabels, kdist, second, scratch);
    for (size_t i = 0; i < n; i++) /* each row's bound from the kernel's second nearest, as Lloyd keeps it */
        st0[i] = (ooc__bound_row){klabels[i % block], ooc__float_below(sqrt(second[i % block] * (1 - b.margin)))};
    ooc__bounds_begin(&b, kernel, typed, norm2, c); /* the same centres: no drift, every bound holds */
    double times[MAX_REPEATS];
    size_t bad = 0;
    for (int r = 0; r <= repeats; r++) { /* the last pass, untimed, is checked */
        int checked = r == repeats;
        if (checked) {
            memset(sums, 0, k * d * sizeof *sums);
            memset(squares, 0, k * sizeof *squares);
        }
        memcpy(st, st0, n * sizeof *st); /* each pass lowers every bound a little: each starts afresh */
        double t0 = now();
        for (size_t j = 0; j < BOUNDED_BLOCKS; j++) {
            uint64_t summed;
            bad += ooc__bounds_assign(&b, x, block, st + j * block, labels, dist, scratch, work, sums, counts, squares,
                                      &summed, 0);
            bad += summed != block;
            for (size_t i = 0; checked && i < block; i++) {
                bad += labels[i] != klabels[i] || memcmp(&dist[i], &kdist[i], sizeof dist[i]) != 0;
                ref_squares[labels[i]] += dist[i]; /* the origin is the centre: the square is its D */
                for (size_t u = 0; u < d; u++)
                    ref[(size_t)labels[i] * d + u] += value(t, x, i * d + u) - c[(size_t)labels[i] * d + u];
            }
        }
        if (!checked)
            times[r] = now() - t0;
    }
    for (size_t e = 0; e < k * d; e++)
        bad += memcmp(&sums[e], &ref[e], sizeof sums[e]) != 0;
    for (size_t e = 0; e < k; e++)
        bad += memcmp(&squares[e], &ref_squares[e], sizeof squares[e]) != 0;
    qsort(times, (size_t)repeats, sizeof(double), cmp_double);
    printf("%-7s %5zu %5zu %7zu  %-10s %3s %10.2f\n", ooc_dtype_name(t), d, k, block, "bounded", "",
           1e9 * times[repeats / 2] / (double)n);
    free(x);
    free(c);
    free(sums);
    free(counts);
    free(squares);
    free(ref_squares);
    free(ref);
    free(dist);
    free(second);
    free(kdist);
    free(labels);
    free(klabels);
    free(st0);
    free(st);
    free(typed);
    free(scratch);
    free(work);
    free(b.drifted);
    return bad;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_assign [--smoke] [--second] [--bounded] [--repeats N] [--flops F] [--shape D,K]...\n"
               "  --second     also the bound on the second nearest distance\n"
               "  --bounded    also Lloyd's row loop where every bound holds (pin it: taskset -c 0)\n"
               "  --repeats N  runs of each variant, the median reported    [default: 11]\n"
               "  --flops F    rows per shape: F / (2 k d), 64..262144       [default: 2e7]\n"
               "  --shape D,K  a shape to measure (repeatable; replaces the default set)\n"
               "  --smoke      two tiny shapes, one repeat, each mode\n");
}

int main(int argc, char **argv)
{
    int repeats = 11, smoke = 0, second = 0, bounded = 0;
    double flops = 2e7;
    shape shapes[MAX_SHAPES];
    size_t nshapes = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke")) {
            smoke = 1;
        } else if (!strcmp(argv[i], "--second")) {
            second = 1;
        } else if (!strcmp(argv[i], "--bounded")) {
            bounded = 1;
        } else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) {
            repeats = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--flops") && i + 1 < argc) {
            flops = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--shape") && i + 1 < argc && nshapes < MAX_SHAPES) {
            if (sscanf(argv[++i], "%zu,%zu", &shapes[nshapes].d, &shapes[nshapes].k) != 2 ||
                !shapes[nshapes].d || !shapes[nshapes].k) {
                usage(stderr);
                return 2;
            }
            nshapes++;
        } else {
            usage(!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") ? stdout : stderr);
            return !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") ? 0 : 2;
        }
    }
    if (repeats < 1 || repeats > MAX_REPEATS || !(flops > 0)) {
        usage(stderr);
        return 2;
    }
    if (smoke) {
        shapes[0] = (shape){20, 12};
        shapes[1] = (shape){32, 64};
        nshapes = 2;
        repeats = 1;
        flops = 1e5;
    } else if (!nshapes) {
        nshapes = sizeof default_shapes / sizeof default_shapes[0];
        memcpy(shapes, default_shapes, sizeof default_shapes);
    }
    openblas_set_num_threads(1);
    size_t bad = 0;
    for (int sec = smoke ? 0 : second; sec <= (smoke ? 1 : second); sec++) {
        printf("# 1 thread, median of %d; ns/row and GFLOP/s (2 n k d flops); sel = ooc__assign_select's choice%s\n",
               repeats, sec ? "; with the second nearest" : "");
        printf("%-7s %5s %5s %7s  %-10s %3s %10s %8s\n", "dtype", "d", "k", "n", "kernel", "", "ns/row", "GFLOP/s");
        for (int dt = 0; dt < 2; dt++)
            for (size_t s = 0; s < nshapes; s++)
                bad += bench_shape(dt ? OOC_FLOAT32 : OOC_FLOAT64, shapes[s], flops, repeats, sec);
    }
    if (smoke || bounded) {
        printf("# 1 thread, median of %d; ns/row of the bounded row loop, rows of one %d KiB block in cache\n",
               repeats, BLOCK_BYTES >> 10);
        printf("%-7s %5s %5s %7s  %-10s %3s %10s\n", "dtype", "d", "k", "block", "loop", "", "ns/row");
        for (int dt = 0; dt < 2; dt++)
            for (size_t s = 0; s < nshapes; s++)
                bad += bench_bounded(dt ? OOC_FLOAT32 : OOC_FLOAT64, shapes[s], repeats);
    }
    printf("check: %zu rows (or sums) differ from the reference\n", bad);
    return bad ? 1 : 0;
}
