/* bench_gemm: the GEMM rate floor of a Lloyd assignment, OpenBLAS's cblas_dgemm and cblas_sgemm at the
 * shape of the distance products: a tile of rows x d (the data) times d x k (the centres, transposed),
 * giving rows x k dot products. GFLOP/s counts 2·rows·d·k per call; the reported rate is the best of R
 * timed batches, each batch enough calls to take about 0.1 s (a floor is what the machine can do: on a
 * shared machine the median can be several times lower). bench/run turns the rate into the least time a
 * Lloyd iteration over n rows could spend in that product: 2·n·d·k / rate.
 *
 * Usage: bench_gemm [--smoke] [--rows R] [-d D] [-k K] [-t T] [-r REPEATS] [--json FILE]
 *   --rows R   rows per tile (per call)                               [default: 16384]
 *   -d, -k     the shape                                              [default: 20, 8]
 *   -t T       OpenBLAS threads                                       [default: OpenBLAS's own]
 *   -r R       timed batches, the best reported                       [default: 5]
 *   --smoke    a small shape, one batch: for ctest (< 1 s)
 *   --json     write {"rows", "d", "k", "threads", "dgemm_gflops", "sgemm_gflops"} to FILE */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <cblas.h>
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

/* Best GFLOP/s of `repeats` batches; a first call sizes the batches and warms the caches. */
static double rate(int single, size_t rows, size_t d, size_t k, int repeats, double batch_s)
{
    size_t esize = single ? sizeof(float) : sizeof(double);
    unsigned char *a = malloc(rows * d * esize), *b = malloc(k * d * esize), *c = malloc(rows * k * esize);
    if (!a || !b || !c) {
        fprintf(stderr, "bench_gemm: out of memory for a %zu x %zu x %zu tile\n", rows, d, k);
        exit(1);
    }
    for (size_t i = 0; i < rows * d; i++) {
        double v = (double)(i % 97) * 0.01 - 0.5;
        if (single)
            ((float *)a)[i] = (float)v;
        else
            ((double *)a)[i] = v;
    }
    for (size_t i = 0; i < k * d; i++) {
        double v = (double)(i % 89) * 0.02 - 0.9;
        if (single)
            ((float *)b)[i] = (float)v;
        else
            ((double *)b)[i] = v;
    }
    double t0 = now();
    gemm(single, rows, d, k, a, b, c);
    double one = now() - t0;
    size_t calls = one > 0 ? (size_t)(batch_s / one) : 1;
    calls = calls < 1 ? 1 : calls;
    double best = 0;
    for (int rep = 0; rep < repeats; rep++) {
        t0 = now();
        for (size_t i = 0; i < calls; i++)
            gemm(single, rows, d, k, a, b, c);
        double r = 2.0 * (double)rows * (double)d * (double)k * (double)calls / (now() - t0) / 1e9;
        best = r > best ? r : best;
    }
    free(a);
    free(b);
    free(c);
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
    if (threads)
        openblas_set_num_threads((int)threads);
    int used = openblas_get_num_threads();
    double dg = rate(0, (size_t)rows, (size_t)d, (size_t)k, (int)repeats, batch_s);
    double sg = rate(1, (size_t)rows, (size_t)d, (size_t)k, (int)repeats, batch_s);
    printf("bench_gemm: rows %ld x d %ld times d x k %ld, %d OpenBLAS threads, best of %ld\n", rows, d, k, used,
           repeats);
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
