/* bench_pass: how fast a pass over the chunks runs, against the floors measured in the same run.
 *
 * Data: N x 20 float64 blobs (chunks of 200,000 rows), as a zstd:3 + shuffle HDF5 file written first with
 * ooc_generate (or the /X of --input FILE, our layout, float64 or float32), and as the generated input
 * "blobs:" itself.
 * A pass is ooc_stream_run with a map that sums every value of its chunk (the least work a pass can do:
 * eight running sums, so it is bound by memory rather than by the latency of one chain of additions), with
 * T threads:
 *   file/stream   memory limit too small to cache: every pass reads and decompresses the file;
 *   file/cached   second pass with a limit that holds the data: served from decoded chunks in memory;
 *   blobs         the generator, nothing cached: every pass generates the rows.
 * Floors, on the same chunks (time_floors()): decompress, read_decompress, membw, first_touch.
 * Reported: seconds (median of R repeats), GB/s of decoded data, Mrows/s, and pass / floor ratios.
 * --floors-only measures the floors alone (bench/run uses it on its own data); --json FILE writes them all.
 */
#define _GNU_SOURCE
#include "ooc_array.h"
#include "ooc_buffer_internal.h"
#include "ooc_clock.h"
#include "ooc_generate.h"
#include "ooc_h5.h"
#include "ooc_memory.h"
#include "ooc_stream.h"
#include "ooc_threads.h"
#include "ooc_units.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <hdf5.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

/* Eight independent sums: one chain of dependent additions would run at the adder's latency, not at the
 * speed of memory. */
#define SUM_VALUES(NAME, T)                                                                                \
    static double NAME(const T *x, uint64_t n)                                                             \
    {                                                                                                      \
        double acc[8] = {0};                                                                               \
        uint64_t i = 0;                                                                                    \
        for (; i + 8 <= n; i += 8)                                                                         \
            for (int k = 0; k < 8; k++)                                                                    \
                acc[k] += x[i + k];                                                                        \
        for (; i < n; i++)                                                                                 \
            acc[0] += x[i];                                                                                \
        return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));          \
    }
SUM_VALUES(sum_values, double)
SUM_VALUES(sum_values_f32, float)

/* The memory floor reads the decoded bytes as 64-bit words (any element type), eight running sums. */
static uint64_t sum_words(const uint64_t *x, uint64_t n)
{
    uint64_t acc[8] = {0}, i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += x[i + k];
    for (; i < n; i++)
        acc[0] += x[i];
    return acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
}

typedef struct shape {
    uint64_t cols, chunk_rows;
    ooc_dtype dtype;
} shape;

/* A chunk, or a piece of one (the passes take chunks in pieces, as Lloyd's do). */
static int map_sum(void *ctx, const void *rows, uint64_t row0, uint64_t n, void *state, void *partial, void *out, ooc_error *err)
{
    (void)state;
    (void)out;
    (void)err;
    const shape *sh = ctx;
    double sum = sh->dtype == OOC_FLOAT32 ? sum_values_f32(rows, n * sh->cols) : sum_values(rows, n * sh->cols);
    *(double *)partial = row0 % sh->chunk_rows ? *(double *)partial + sum : sum;
    return 0;
}

static void combine_sum(void *ctx, void *acc, const void *partial)
{
    (void)ctx;
    *(double *)acc += *(const double *)partial;
}

/* One pass over `input` with the limit; with cached, the timed pass is the second. */
static double time_pass(const char *input, int threads, uint64_t limit, int cached, double *checksum)
{
    ooc_array *a;
    ooc_stream *s;
    ooc_error err;
    if (ooc_array_open(input, &a, &err)) {
        fprintf(stderr, "bench_pass: %s\n", err.msg);
        exit(1);
    }
    ooc_stream_params sp = ooc_stream_params_default();
    sp.threads = threads;
    sp.memory_limit = limit;
    sp.cache = cached;
    if (ooc_stream_create(a, &sp, &s, &err)) {
        fprintf(stderr, "bench_pass: %s\n", err.msg);
        exit(1);
    }
    shape sh = {ooc_array_get_info(a)->cols, ooc_array_get_info(a)->chunk_rows, ooc_array_get_info(a)->dtype};
    ooc_pass pass = {.phase = "sum", .partial_size = sizeof(double), .ctx = &sh, .map = map_sum, .combine = combine_sum,
                     .pieces = 1};
    double acc = 0, t = 0;
    for (int i = 0; i <= cached; i++) {
        acc = 0;
        t = ooc_clock_seconds();
        if (ooc_stream_run(s, &pass, &acc, &err)) {
            fprintf(stderr, "bench_pass: %s\n", err.msg);
            exit(1);
        }
        t = ooc_clock_seconds() - t;
    }
    *checksum = acc;
    ooc_stream_free(s);
    ooc_array_free(a);
    return t;
}

/* Where each row chunk of path:/X is stored in the file (HDF5's chunk index, read once, untimed). */
static void chunk_offsets(const char *path, uint64_t chunk_rows, uint64_t nchunks, uint64_t *offset, size_t *bytes)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), dset = file < 0 ? -1 : H5Dopen2(file, "/X", H5P_DEFAULT);
    hid_t space = dset < 0 ? -1 : H5Dget_space(dset);
    hsize_t n = 0;
    if (space < 0 || H5Dget_num_chunks(dset, space, &n) < 0 || n != nchunks) {
        fprintf(stderr, "bench_pass: %s: cannot locate the chunks of /X\n", path);
        exit(1);
    }
    for (hsize_t i = 0; i < n; i++) {
        hsize_t at[2] = {0, 0}, size = 0;
        haddr_t addr = 0;
        unsigned mask = 0;
        if (H5Dget_chunk_info(dset, space, i, at, &mask, &addr, &size) < 0 || at[0] / chunk_rows >= nchunks) {
            fprintf(stderr, "bench_pass: %s: cannot locate chunk %llu of /X\n", path, (unsigned long long)i);
            exit(1);
        }
        offset[at[0] / chunk_rows] = addr;
        bytes[at[0] / chunk_rows] = (size_t)size;
    }
    H5Sclose(space);
    H5Dclose(dset);
    H5Fclose(file);
}

/* The floors, T threads each taking the next chunk, decoding into its own chunk buffer as a streaming pass
 * does:
 *   decompress       the stored chunks, held in memory beforehand, decoded;
 *   read_decompress  each stored chunk read from the file (the file in the page cache, as it is for the
 *                    passes timed here), then decoded: issue 5's read-and-decompress pass, the least a
 *                    streaming iteration can cost. Read both ways, the faster taken: pread at its offset
 *                    into a buffer (what the engine does), or a map of its pages (what it did until
 *                    session 8);
 *   membw            the whole decoded array, held in memory, summed;
 *   first_touch      that array's memory written for the first time, T threads a chunk at a time, as the
 *                    first pass of a cached fit fills its cache: the kernel's page zeroing and whatever a
 *                    VM's host adds (here it varied from 0.4 to 19 GB/s from minute to minute). Once, not a
 *                    median: memory is new only once.
 * With read_only, read_decompress alone (the others NAN): no copy of the stored chunks or the decoded array is
 * made, so that bench/run can take it beside every streaming run of ooc, in a second or two. */
static void time_floors(const char *path, int threads, int repeats, int read_only, double *decompress,
                        double *read_decompress, double *membw, double *first_touch)
{
    ooc_h5_reader *r;
    ooc_error err;
    if (ooc_h5_reader_open(path, "/X", &r, &err)) {
        fprintf(stderr, "bench_pass: %s\n", err.msg);
        exit(1);
    }
    const ooc_h5_info *in = ooc_h5_reader_info(r);
    uint64_t nchunks = (in->rows + in->chunk_rows - 1) / in->chunk_rows;
    size_t chunk_bytes = (size_t)(in->chunk_rows * in->cols * in->type_size), max_stored = 0;
    /* The full floors hold the stored chunks and the decoded array at once (the origin's 100M x 20: 30 GB):
     * refuse plainly rather than be killed for memory midway. */
    struct stat st;
    uint64_t need = stat(path, &st) == 0 ? (uint64_t)st.st_size + nchunks * chunk_bytes : 0;
    uint64_t available = read_only ? UINT64_MAX : ooc_memory_available();
    if (need > available) {
        fprintf(stderr, "bench_pass: error: %s: the floors hold %.1f GB in memory (stored chunks and decoded array), "
                        "%.1f GB is available: use --read-decompress-only\n",
                path, (double)need / 1e9, (double)available / 1e9);
        exit(1);
    }
    void **stored = calloc(nchunks, sizeof *stored);
    size_t *sizes = calloc(nchunks, sizeof *sizes), cap = 0;
    uint64_t *offset = calloc(nchunks, sizeof *offset);
    for (uint64_t c = 0; !read_only && c < nchunks; c++) {
        if (ooc_h5_reader_read_raw_chunk(r, c, &stored[c], &cap, &sizes[c], &err)) {
            fprintf(stderr, "bench_pass: %s\n", err.msg);
            exit(1);
        }
        max_stored = sizes[c] > max_stored ? sizes[c] : max_stored;
        cap = 0; /* each chunk keeps its own buffer */
    }
    size_t *file_bytes = calloc(nchunks, sizeof *file_bytes);
    chunk_offsets(path, in->chunk_rows, nchunks, offset, file_bytes);
    for (uint64_t c = 0; read_only && c < nchunks; c++) {
        sizes[c] = file_bytes[c];
        max_stored = sizes[c] > max_stored ? sizes[c] : max_stored;
    }
    int fd = open(path, O_RDONLY);
    /* huge pages, as the engine's cache has */
    uint64_t *decoded = read_only ? NULL : ooc__buffer_alloc(nchunks * chunk_bytes);
    if (fd < 0 || (!read_only && !decoded)) {
        fprintf(stderr, "bench_pass: %s: cannot open or allocate\n", path);
        exit(1);
    }
    double t0 = ooc_clock_seconds();
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (uint64_t c = 0; c < (read_only ? 0 : nchunks); c++)
        memset((char *)decoded + c * chunk_bytes, 0, chunk_bytes);
    *first_touch = ooc_clock_seconds() - t0;
    /* Each thread's codec context and buffers, made and touched before any timing, as the stream's are. */
    struct workspace {
        ooc_codec_ctx *ctx;
        void *buf, *out;
    } *ws = calloc((size_t)threads, sizeof *ws);
    for (int i = 0; ws && i < threads; i++) {
        ws[i].buf = ooc__buffer_alloc(max_stored);
        ws[i].out = ooc__buffer_alloc(chunk_bytes);
        if (ooc_codec_ctx_create(&ws[i].ctx) || !ws[i].buf || !ws[i].out ||
            ooc_codec_ctx_reserve(ws[i].ctx, chunk_bytes)) {
            fprintf(stderr, "bench_pass: cannot allocate\n");
            exit(1);
        }
        memset(ws[i].buf, 0, max_stored);
        memset(ws[i].out, 0, chunk_bytes);
    }
    if (!ws) {
        fprintf(stderr, "bench_pass: cannot allocate\n");
        exit(1);
    }
    double td[64], trd[2][64], tm[64];
    long page = sysconf(_SC_PAGESIZE);
    for (int rep = 0; rep < repeats; rep++) {
        for (int reading = read_only; reading <= 2; reading++) { /* none, pread, map */
            double t = ooc_clock_seconds();
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
            for (uint64_t c = 0; c < nchunks; c++) {
                struct workspace *w = &ws[omp_get_thread_num()];
                const void *src = stored[c];
                uint64_t start = offset[c] - offset[c] % (uint64_t)page, len = offset[c] + file_bytes[c] - start;
                void *map = NULL;
                if (reading == 1) {
                    if (pread(fd, w->buf, file_bytes[c], (off_t)offset[c]) != (ssize_t)file_bytes[c])
                        fprintf(stderr, "bench_pass: %s: short read\n", path);
                    src = w->buf;
                } else if (reading == 2) {
                    map = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, (off_t)start);
                    src = map == MAP_FAILED ? stored[c] : (const char *)map + (offset[c] - start);
                }
                ooc_codec_decode(&in->codec, w->ctx, src, sizes[c], w->out, chunk_bytes, NULL);
                if (map && map != MAP_FAILED)
                    munmap(map, len);
            }
            *(reading ? &trd[reading - 1][rep] : &td[rep]) = ooc_clock_seconds() - t;
        }
    }
    for (int i = 0; i < threads; i++) {
        ooc_codec_ctx_free(ws[i].ctx);
        ooc__buffer_free(ws[i].buf, max_stored);
        ooc__buffer_free(ws[i].out, chunk_bytes);
    }
    free(ws);
    ooc_codec_ctx *ctx;
    ooc_codec_ctx_create(&ctx);
    for (uint64_t c = 0; c < (read_only ? 0 : nchunks); c++)
        ooc_codec_decode(&in->codec, ctx, stored[c], sizes[c], (char *)decoded + c * chunk_bytes, chunk_bytes, NULL);
    ooc_codec_ctx_free(ctx);
    for (int rep = 0; rep < (read_only ? 0 : repeats); rep++) {
        uint64_t sum = 0, n = in->rows * in->cols * in->type_size / 8, per = (n + (uint64_t)threads - 1) / (uint64_t)threads;
        double t = ooc_clock_seconds();
#pragma omp parallel num_threads(threads) reduction(+ : sum)
        {
            uint64_t from = per * (uint64_t)omp_get_thread_num(), to = from + per < n ? from + per : n;
            sum += from < to ? sum_words(decoded + from, to - from) : 0;
        }
        tm[rep] = ooc_clock_seconds() - t;
        if (sum == 12345) /* keep the sum alive */
            puts("");
    }
    *decompress = read_only ? NAN : median(td, repeats);
    double by_pread = median(trd[0], repeats), by_map = median(trd[1], repeats);
    *read_decompress = by_pread < by_map ? by_pread : by_map;
    *membw = read_only ? NAN : median(tm, repeats);
    if (read_only)
        *first_touch = NAN;
    for (uint64_t c = 0; c < nchunks; c++)
        free(stored[c]);
    close(fd);
    free(stored);
    free(sizes);
    free(offset);
    free(file_bytes);
    ooc__buffer_free(decoded, nchunks * chunk_bytes);
    ooc_h5_reader_close(r);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_pass [--smoke] [--rows N] [--input FILE.h5] [-t T] [-r REPEATS] [--dir DIR]\n"
                    "                  [--floors-only | --read-decompress-only] [--json FILE]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    uint64_t rows = 10000000, chunk_rows = 200000, cols = 20, elem = 8;
    int repeats = 3, only_threads = 0, floors_only = 0, read_only = 0;
    const char *dir = "/tmp", *input = NULL, *json = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--smoke")) {
            rows = 200000;
            chunk_rows = 20000;
            repeats = 1;
            continue;
        }
        if (!strcmp(a, "--floors-only") || !strcmp(a, "--read-decompress-only")) {
            floors_only = 1;
            read_only |= !strcmp(a, "--read-decompress-only");
            continue;
        }
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--rows"))
            ooc_parse_count(v, &rows);
        else if (!strcmp(a, "--input"))
            input = v;
        else if (!strcmp(a, "-t"))
            only_threads = atoi(v);
        else if (!strcmp(a, "-r"))
            repeats = atoi(v);
        else if (!strcmp(a, "--dir"))
            dir = v;
        else if (!strcmp(a, "--json"))
            json = v;
        else
            usage();
    }
    repeats = repeats < 1 ? 1 : repeats > 64 ? 64 : repeats;
    char path[4096], blobs[256];
    ooc_error err;
    if (input) {
        snprintf(path, sizeof path, "%s", input);
        ooc_h5_reader *r;
        if (ooc_h5_reader_open(path, "/X", &r, &err)) {
            fprintf(stderr, "bench_pass: %s\n", err.msg);
            return 1;
        }
        const ooc_h5_info *in = ooc_h5_reader_info(r);
        int raw = in->raw_chunks, origin_shape = in->cols == 20;
        rows = in->rows;
        chunk_rows = in->chunk_rows;
        cols = in->cols;
        elem = in->type_size;
        ooc_h5_reader_close(r);
        if (!raw) {
            fprintf(stderr, "bench_pass: %s:/X: not our layout (float rows, shuffle + zstd chunks)\n", path);
            return 1;
        }
        floors_only |= !origin_shape; /* the passes' comparison with "blobs:" is for N x 20 */
    } else {
        snprintf(path, sizeof path, "%s/bench_pass_%d.h5", dir, (int)getpid());
    }
    snprintf(blobs, sizeof blobs, "blobs:samples=%llu,features=20,chunk_rows=%llu,dtype=float%d", (unsigned long long)rows,
             (unsigned long long)chunk_rows, (int)elem * 8);
    ooc_generate_params gp = ooc_generate_params_default();
    if (!input && (ooc_blobs_parse(blobs, &gp.blobs, &err) || ooc_generate(&gp, path, NULL, &err))) {
        fprintf(stderr, "bench_pass: %s\n", err.msg);
        return 1;
    }
    FILE *js = json ? fopen(json, "w") : NULL;
    if (json && !js) {
        fprintf(stderr, "bench_pass: cannot write %s\n", json);
        return 1;
    }
    double gb = (double)rows * cols * elem / 1e9, chunk_mb = (double)chunk_rows * cols * elem / 1048576.0;
    printf("bench_pass: %llu rows x %llu float%d (%.2f GB decoded), chunks of %llu rows, median of %d\n",
           (unsigned long long)rows, (unsigned long long)cols, (int)elem * 8, gb, (unsigned long long)chunk_rows,
           repeats);
    printf("%-8s %-15s %9s %9s %9s %12s %12s\n", "threads", "what", "seconds", "GB/s", "Mrows/s", "÷ read+dec",
           "÷ membw");
    if (js)
        fprintf(js, "{\"input\": \"%s\", \"rows\": %llu, \"decoded_bytes\": %.0f, \"repeats\": %d, \"runs\": [", path,
                (unsigned long long)rows, gb * 1e9, repeats);
    const char *sep = "";
    for (int threads = only_threads ? only_threads : 1; threads <= (only_threads ? only_threads : 2); threads++) {
        double dec, rdec, bw, touch;
        time_floors(path, threads, repeats, read_only, &dec, &rdec, &bw, &touch);
        /* streaming: room for the working set only; cached: room for everything */
        uint64_t tight = (uint64_t)((64 + threads * (2 * chunk_mb + 1) + (threads + 1) * chunk_mb + 1) * 1048576.0);
        uint64_t roomy = tight + (uint64_t)(gb * 1.1e9);
        struct { const char *what, *input; uint64_t limit; int cached; } runs[] = {
            {"file/stream", path, tight, 0}, {"file/cached", path, roomy, 1}, {"blobs", blobs, tight, 0}};
        printf("%-8d %-15s %9.3f %9.2f %9.1f %12s %12s\n", threads, "read+decompress", rdec, gb / rdec,
               rows / rdec / 1e6, "1.00", "");
        if (read_only) {
            if (js)
                fprintf(js, "%s\n  {\"threads\": %d, \"what\": \"read_decompress\", \"seconds\": %.6f}", sep, threads,
                        rdec);
            sep = ",";
            continue;
        }
        printf("%-8d %-15s %9.3f %9.2f %9.1f %12.2f %12s\n", threads, "decompress", dec, gb / dec, rows / dec / 1e6,
               dec / rdec, "");
        printf("%-8d %-15s %9.3f %9.2f %9.1f %12s %12s\n", threads, "membw", bw, gb / bw, rows / bw / 1e6, "", "1.00");
        printf("%-8d %-15s %9.3f %9.2f %9.1f %12s %12.2f\n", threads, "first touch", touch, gb / touch,
               rows / touch / 1e6, "", touch / bw);
        if (js)
            fprintf(js, "%s\n  {\"threads\": %d, \"what\": \"decompress\", \"seconds\": %.6f},\n"
                        "  {\"threads\": %d, \"what\": \"read_decompress\", \"seconds\": %.6f},\n"
                        "  {\"threads\": %d, \"what\": \"membw\", \"seconds\": %.6f},\n"
                        "  {\"threads\": %d, \"what\": \"first_touch\", \"seconds\": %.6f}",
                    sep, threads, dec, threads, rdec, threads, bw, threads, touch);
        sep = ",";
        for (size_t k = 0; !floors_only && k < sizeof runs / sizeof *runs; k++) {
            double t[64], sum = 0;
            for (int rep = 0; rep < repeats; rep++)
                t[rep] = time_pass(runs[k].input, threads, runs[k].limit, runs[k].cached, &sum);
            double m = median(t, repeats);
            printf("%-8d %-15s %9.3f %9.2f %9.1f %12.2f %12.2f\n", threads, runs[k].what, m, gb / m, rows / m / 1e6,
                   m / rdec, m / bw);
            if (js)
                fprintf(js, ",\n  {\"threads\": %d, \"what\": \"%s\", \"seconds\": %.6f}", threads, runs[k].what, m);
        }
    }
    if (js) {
        fprintf(js, "\n]}\n");
        fclose(js);
    }
    if (!input)
        unlink(path);
    return 0;
}
