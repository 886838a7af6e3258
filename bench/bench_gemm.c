/* bench_gemm: the GEMM rate floor of a Lloyd assignment, OpenBLAS's cblas_dgemm and cblas_sgemm at the
 * shape of the distance products: a tile of rows x d (the data) times d x k (the centres, transposed),
 * giving rows x k dot products. GFLOP/s counts 2·rows·d·k per call; the reported rate is the best of R
 * timed batches, each batch enough calls to take about 0.1 s (a floor is what the machine can do: on a
 * shared machine the median can be several times lower). With T threads, each calls GEMM on one thread on
 * tiles of its own, all at once, as ooc's passes do, and the rate is their total. bench/run turns the rate
 * into the least time a Lloyd iteration over n rows could spend in that product: 2·n·d·k / rate.
 *
 * Usage: bench_gemm [--smoke] [--rows R] [-d D] [-k K] [-t T] [-r REPEATS] [--json FILE]
 *   --rows R   rows per tile (per call)                               [default: 16384]
 *   -d, -k     the shape                                              [default: 20, 8]
 *   -t T       threads, each on its own tiles                         [default: all cores]
 *   -r R       timed batches, the best reported                       [default: 5]
 *   --smoke    a small shape, one batch: for ctest (< 1 s)
 *   --json     write {"rows", "d", "k", "threads", "dgemm_gflops", "sgemm_gflops"} to FILE */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One GEMM call C (rows x k) = A (rows x d) · B^T (B is k x d, row-major: the centres as stored). */
static void gemm(int single, size_t rows, size_t d, size_t k, const void *a, const void *b, void *c)
{
    if (single)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)k, (int)d, 1.0f, a, (int)d, b, (int)d,
                    0.0f, c, (int)k);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)k, (int)d, 1.0, a, (int)d, b, (int)d,
                    0.0, c, (int)k);
}

/* A tile's operands and product, filled with fixed values. */
typedef struct tile {
    unsigned char *a, *b, *c;
} tile;

static tile tile_create(int single, size_t rows, size_t d, size_t k)
{
    size_t esize = single ? sizeof(float) : sizeof(double);
    tile t = {malloc(rows * d * esize), malloc(k * d * esize), malloc(rows * k * esize)};
    if (!t.a || !t.b || !t.c) {
        fprintf(stderr, "bench_gemm: out of memory for a %zu x %zu x %zu tile\n", rows, d, k);
        exit(1);
    }
    for (size_t i = 0; i < rows * d; i++) {
        double v = (double)(i % 97) * 0.01 - 0.5;
        if (single)
            ((float *)t.a)[i] = (float)v;
        else
            ((double *)t.a)[i] = v;
    }
    for (size_t i = 0; i < k * d; i++) {
        double v = (double)(i % 89) * 0.02 - 0.9;
        if (single)
            ((float *)t.b)[i] = (float)v;
        else
            ((double *)t.b)[i] = v;
    }
    return t;
}

/* Best GFLOP/s of `repeats` batches on `threads` threads; a first call sizes the batches and warms the
 * caches. */
static double rate(int single, size_t rows, size_t d, size_t k, int threads, int repeats, double batch_s)
{
    tile *t = calloc((size_t)threads, sizeof *t);
    if (!t) {
        fprintf(stderr, "bench_gemm: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < threads; i++)
        t[i] = tile_create(single, rows, d, k);
    double t0 = now();
    gemm(single, rows, d, k, t[0].a, t[0].b, t[0].c);
    double one = now() - t0;
    long calls = one > 0 ? (long)(batch_s / one) : 1;
    calls = calls < 1 ? 1 : calls;
    double best = 0;
    for (int rep = 0; rep < repeats; rep++) {
        t0 = now();
#pragma omp parallel for num_threads(threads) schedule(static, 1)
        for (int th = 0; th < threads; th++)
            for (long i = 0; i < calls; i++)
                gemm(single, rows, d, k, t[th].a, t[th].b, t[th].c);
        double r = 2.0 * (double)rows * (double)d * (double)k * (double)calls * threads / (now() - t0) / 1e9;
        best = r > best ? r : best;
    }
    for (int i = 0; i < threads; i++) {
        free(t[i].a);
        free(t[i].b);
        free(t[i].c);
    }
    free(t);
    return best;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_gemm [--smoke] [--rows R] [-d D] [-k K] [-t T] [-r REPEATS] [--json FILE]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long rows = 16384, d = 20, k = 8, threads = 0, repeats = 5;
    double batch_s = 0.1;
    const char *json = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--smoke")) {
            rows = 2048;
            d = 20;
            k = 12;
            repeats = 1;
            batch_s = 0.01;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--json")) {
            json = v;
            continue;
        }
        char *end;
        long x = strtol(v, &end, 10);
        if (*end || x < 1)
            usage();
        if (!strcmp(a, "--rows"))
            rows = x;
        else if (!strcmp(a, "-d"))
            d = x;
        else if (!strcmp(a, "-k"))
            k = x;
        else if (!strcmp(a, "-t"))
            threads = x;
        else if (!strcmp(a, "-r"))
            repeats = x;
        else
            usage();
    }
    openblas_set_num_threads(1); /* each call on its calling thread, as in ooc */
    int used = threads ? (int)threads : omp_get_num_procs();
    used = used > 256 ? 256 : used;
    double dg = rate(0, (size_t)rows, (size_t)d, (size_t)k, used, (int)repeats, batch_s);
    double sg = rate(1, (size_t)rows, (size_t)d, (size_t)k, used, (int)repeats, batch_s);
    printf("bench_gemm: rows %ld x d %ld times d x k %ld, %d threads, best of %ld\n", rows, d, k, used, repeats);
    printf("dgemm %8.2f GFLOP/s\nsgemm %8.2f GFLOP/s\n", dg, sg);
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            fprintf(stderr, "bench_gemm: cannot write %s\n", json);
            return 1;
        }
        fprintf(f, "{\"rows\": %ld, \"d\": %ld, \"k\": %ld, \"threads\": %d, \"dgemm_gflops\": %.4f, \"sgemm_gflops\": %.4f}\n",
                rows, d, k, used, dg, sg);
        if (fclose(f)) {
            fprintf(stderr, "bench_gemm: cannot write %s\n", json);
            return 1;
        }
    }
    return 0;
}
