/* bench_chunkgen: chunkgen's throughput (ooc_generate: blobs -> shuffle + zstd -> HDF5, fsync'd) set against
 * its floors on the same bytes, as BLIS's test suite reports: dimensions, time, rate, quality.
 *
 * For each configuration (dtype, zstd level, shuffle) and T threads, every phase handles the same bytes as
 * the job: N rows of X (N x d) and of the labels /y (int32), in chunks of chunk_rows rows, the last one
 * zero-padded to a full chunk as HDF5 stores it.
 *   memcpy    copy raw chunks (X and y) into a per-thread buffer: the memory-bandwidth floor;
 *   shuffle   ooc_codec_encode with shuffle and no zstd: the byte-shuffle alone (shuffled configurations);
 *   zstd      ooc_codec_encode of X and y exactly as stored (shuffle when on, zstd with checksum);
 *   zstd-raw  ZSTD_compress2 alone, no shuffle: zstd's own speed on these bytes, for reference;
 *   generate  ooc_blobs_rows: the Philox + ziggurat generator alone;
 *   write     write() the encoded chunks to one file from one thread, then fsync (the job's writer alone);
 *   write-db  the same with drop-behind (sync_file_range + POSIX_FADV_DONTNEED a chunk behind): what the
 *             write costs when the page cache stays small and its pages are recycled;
 *   job       ooc_generate() to a file in --dir, including its fsync and rename;
 *   gen+zstd  generate + zstd: the job's time if producing chunks were all it did.
 * The floors cycle over a pool of POOL distinct chunks (the first ones of the array), so memory stays
 * bounded; when the array has at most POOL chunks the pool is the whole array and the bytes the job stored
 * must equal the zstd floor's exactly (the "check"; a mismatch fails the run).
 * Phases of one configuration are interleaved per repeat so that noise from other processes spreads over
 * all of them; each reports the repeat with the median wall time, with its user and system CPU seconds.
 * Files are removed outside the clocks, just before the next write or job phase (then --settle seconds):
 * in a VM that hands free pages back to its host (free page reporting), writing into page cache made of
 * such pages costs several times more system time than into pages just freed.
 */
#define _GNU_SOURCE /* sync_file_range; fsync, getrusage, posix_fadvise under -std=c11 */

#include "ooc_blobs.h"
#include "ooc_codec.h"
#include "ooc_generate.h"
#include "ooc_threads.h"
#include "ooc_units.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

enum { POOL = 8, MAX_REPEATS = 99 };

enum { PH_MEMCPY, PH_SHUFFLE, PH_ZSTD, PH_ZRAW, PH_GEN, PH_WRITE, PH_WRITE_DB, PH_JOB, NPHASES };
static const char *const phase_name[NPHASES] = {"memcpy",   "shuffle", "zstd",     "zstd-raw",
                                                "generate", "write",   "write-db", "job"};
/* The order they run in: the job and the plain write floor each right after the other's full-size file was
 * removed, so that both get the page cache alike (write-db recycles its own few pages and removes nothing). */
static const int run_order[NPHASES] = {PH_MEMCPY, PH_SHUFFLE, PH_ZSTD, PH_ZRAW, PH_GEN, PH_WRITE, PH_JOB, PH_WRITE_DB};
/* The phases that write a file, and the suffix of their file's name. */
static const char *const file_suffix[NPHASES] = {[PH_WRITE] = "bin", [PH_WRITE_DB] = "db", [PH_JOB] = "h5"};

typedef struct opts {
    uint64_t rows, chunk_rows, features;
    int threads, repeats, smoke, only_default;
    double settle; /* seconds between freeing the last file's page cache and a file-writing phase */
    const char *dir, *json;
} opts;

typedef struct config {
    ooc_dtype dtype;
    int level, shuffle;
} config;

typedef struct sample {
    double wall, user, sys; /* seconds */
    uint64_t out_bytes;     /* bytes the phase produced: copied, encoded, generated or written */
    int run;                /* the phase ran (shuffle only runs when the configuration shuffles) */
} sample;

typedef struct result {
    config c;
    sample ph[NPHASES]; /* the repeat with the median wall time */
    uint64_t raw_bytes; /* N rows of X and y, as ooc_generate_stats counts them */
    uint64_t job_stored, floor_stored;
    int check; /* 1 exact, 0 not comparable (pool smaller than the array), -1 mismatch */
} result;

/* Everything a configuration's phases share: the generator, the pool and per-thread buffers. */
typedef struct bench {
    const opts *o;
    config c;
    ooc_blobs *blobs;
    uint64_t nchunks;
    size_t npool, x_bytes, y_bytes, x_cap, y_cap;
    ooc_codec xc, yc, xs, ys; /* as stored; shuffle alone (no zstd) */
    void *pool_x[POOL];
    int32_t *pool_y[POOL];
    void *pool_enc[POOL]; /* X's encoded bytes then y's */
    size_t pool_enc_bytes[POOL];
    int threads;
    void **tx, **tenc;
    int32_t **ty;
    ooc_codec_ctx **tctx;
    ZSTD_CCtx **tz;
} bench;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_chunkgen: error: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return memset(p, 0, n); /* touched now, so that no phase pays for first-touch page faults */
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void cpu_times(double *user, double *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec;
    *sys = (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

static uint64_t rows_in(const bench *b, uint64_t chunk)
{
    uint64_t row0 = chunk * b->o->chunk_rows, n = b->o->rows - row0;
    return n < b->o->chunk_rows ? n : b->o->chunk_rows;
}

static size_t row_bytes(const bench *b)
{
    return (size_t)b->o->features * ooc_dtype_size(b->c.dtype);
}

/* Rows of one chunk into x and y, the rest of the chunk zeroed as the job does. */
static void make_chunk(const bench *b, uint64_t chunk, void *x, int32_t *y)
{
    uint64_t n = rows_in(b, chunk);
    ooc_blobs_rows(b->blobs, chunk * b->o->chunk_rows, (size_t)n, x, y);
    memset((char *)x + n * row_bytes(b), 0, b->x_bytes - n * row_bytes(b));
    memset(y + n, 0, (b->o->chunk_rows - n) * sizeof *y);
}

static void bench_init(bench *b, const opts *o, config c)
{
    memset(b, 0, sizeof *b);
    b->o = o;
    b->c = c;
    ooc_blobs_params bp = ooc_blobs_params_default();
    bp.samples = o->rows;
    bp.features = o->features;
    bp.chunk_rows = o->chunk_rows;
    bp.dtype = c.dtype;
    ooc_error err;
    if (ooc_blobs_create(&bp, NULL, &b->blobs, &err))
        die("%s", err.msg);
    b->nchunks = ooc_blobs_nchunks(b->blobs);
    b->npool = b->nchunks < POOL ? (size_t)b->nchunks : POOL;
    b->x_bytes = (size_t)o->chunk_rows * row_bytes(b);
    b->y_bytes = (size_t)o->chunk_rows * sizeof(int32_t);
    b->xc = (ooc_codec){c.level, c.shuffle, ooc_dtype_size(c.dtype)};
    b->yc = (ooc_codec){c.level, c.shuffle, sizeof(int32_t)};
    b->xs = (ooc_codec){0, 1, ooc_dtype_size(c.dtype)};
    b->ys = (ooc_codec){0, 1, sizeof(int32_t)};
    b->x_cap = ooc_codec_bound(&b->xc, b->x_bytes);
    b->y_cap = ooc_codec_bound(&b->yc, b->y_bytes);

    b->threads = o->threads;
    b->tx = xmalloc((size_t)b->threads * sizeof *b->tx);
    b->ty = xmalloc((size_t)b->threads * sizeof *b->ty);
    b->tenc = xmalloc((size_t)b->threads * sizeof *b->tenc);
    b->tctx = xmalloc((size_t)b->threads * sizeof *b->tctx);
    b->tz = xmalloc((size_t)b->threads * sizeof *b->tz);
    for (int t = 0; t < b->threads; t++) {
        b->tx[t] = xmalloc(b->x_bytes);
        b->ty[t] = xmalloc(b->y_bytes);
        b->tenc[t] = xmalloc(b->x_cap + b->y_cap);
        b->tz[t] = ZSTD_createCCtx();
        if (ooc_codec_ctx_create(&b->tctx[t]) || !b->tz[t])
            die("out of memory (compression contexts)");
        ZSTD_CCtx_setParameter(b->tz[t], ZSTD_c_compressionLevel, c.level);
        ZSTD_CCtx_setParameter(b->tz[t], ZSTD_c_checksumFlag, 1);
    }

    /* The pool: the array's first chunks, raw and encoded (untimed). */
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(b->threads)
    for (size_t i = 0; i < b->npool; i++) {
        ooc_error e;
        size_t nx = 0, ny = 0;
        b->pool_x[i] = xmalloc(b->x_bytes);
        b->pool_y[i] = xmalloc(b->y_bytes);
        b->pool_enc[i] = xmalloc(b->x_cap + b->y_cap);
        make_chunk(b, i, b->pool_x[i], b->pool_y[i]);
        ooc_codec_ctx *ctx = b->tctx[omp_get_thread_num()];
        char *enc = b->pool_enc[i];
        if (ooc_codec_encode(&b->xc, ctx, b->pool_x[i], b->x_bytes, enc, b->x_cap, &nx, &e) ||
            ooc_codec_encode(&b->yc, ctx, b->pool_y[i], b->y_bytes, enc + nx, b->y_cap, &ny, &e)) {
#pragma omp atomic write
            failed = 1;
        }
        b->pool_enc_bytes[i] = nx + ny;
    }
    if (failed)
        die("encoding the pool failed");
}

static void bench_destroy(bench *b)
{
    for (size_t i = 0; i < b->npool; i++) {
        free(b->pool_x[i]);
        free(b->pool_y[i]);
        free(b->pool_enc[i]);
    }
    for (int t = 0; t < b->threads; t++) {
        free(b->tx[t]);
        free(b->ty[t]);
        free(b->tenc[t]);
        ooc_codec_ctx_free(b->tctx[t]);
        ZSTD_freeCCtx(b->tz[t]);
    }
    free(b->tx);
    free(b->ty);
    free(b->tenc);
    free(b->tctx);
    free(b->tz);
    ooc_blobs_free(b->blobs);
}

/* Each phase returns 0 or -1 and the bytes it produced. */
static int phase_memcpy(bench *b, uint64_t *out)
{
#pragma omp parallel for schedule(dynamic, 1) num_threads(b->threads)
    for (uint64_t i = 0; i < b->nchunks; i++) {
        int t = omp_get_thread_num();
        memcpy(b->tx[t], b->pool_x[i % b->npool], b->x_bytes);
        memcpy(b->ty[t], b->pool_y[i % b->npool], b->y_bytes);
    }
    *out = b->nchunks * (b->x_bytes + b->y_bytes);
    return 0;
}

/* X and y of every chunk through ooc_codec_encode with codecs xc and yc. */
static int encode_all(bench *b, const ooc_codec *xc, const ooc_codec *yc, uint64_t *out)
{
    uint64_t total = 0;
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(b->threads) reduction(+ : total)
    for (uint64_t i = 0; i < b->nchunks; i++) {
        int t = omp_get_thread_num();
        ooc_error e;
        size_t nx = 0, ny = 0;
        char *enc = b->tenc[t];
        if (ooc_codec_encode(xc, b->tctx[t], b->pool_x[i % b->npool], b->x_bytes, enc, b->x_cap, &nx, &e) ||
            ooc_codec_encode(yc, b->tctx[t], b->pool_y[i % b->npool], b->y_bytes, enc + nx, b->y_cap, &ny, &e)) {
#pragma omp atomic write
            failed = 1;
        }
        total += nx + ny;
    }
    *out = total;
    return failed ? -1 : 0;
}

static int phase_shuffle(bench *b, uint64_t *out)
{
    return encode_all(b, &b->xs, &b->ys, out);
}

static int phase_zstd(bench *b, uint64_t *out)
{
    return encode_all(b, &b->xc, &b->yc, out);
}

static int phase_zstd_raw(bench *b, uint64_t *out)
{
    uint64_t total = 0;
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(b->threads) reduction(+ : total)
    for (uint64_t i = 0; i < b->nchunks; i++) {
        int t = omp_get_thread_num();
        char *enc = b->tenc[t];
        size_t nx = ZSTD_compress2(b->tz[t], enc, b->x_cap, b->pool_x[i % b->npool], b->x_bytes);
        size_t ny = ZSTD_isError(nx) ? nx : ZSTD_compress2(b->tz[t], enc + nx, b->y_cap, b->pool_y[i % b->npool],
                                                          b->y_bytes);
        if (ZSTD_isError(nx) || ZSTD_isError(ny)) {
#pragma omp atomic write
            failed = 1;
        } else {
            total += nx + ny;
        }
    }
    *out = total;
    return failed ? -1 : 0;
}

static int phase_generate(bench *b, uint64_t *out)
{
#pragma omp parallel for schedule(dynamic, 1) num_threads(b->threads)
    for (uint64_t i = 0; i < b->nchunks; i++) {
        int t = omp_get_thread_num();
        ooc_blobs_rows(b->blobs, i * b->o->chunk_rows, (size_t)rows_in(b, i), b->tx[t], b->ty[t]);
    }
    *out = b->o->rows * (row_bytes(b) + sizeof(int32_t));
    return 0;
}

static void scratch_path(const bench *b, int ph, char *path, size_t size)
{
    snprintf(path, size, "%s/bench_chunkgen.%ld.%s", b->o->dir, (long)getpid(), file_suffix[ph]);
}

static int write_all(int fd, const char *p, size_t left)
{
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        left -= (size_t)w;
    }
    return 0;
}

/* One writer, as the job's consumer: the encoded chunks in order through write(), then fsync. With
 * drop_behind, each chunk's writeback starts as soon as it is written, and the chunk before is waited for
 * and dropped from the page cache: the page cache stays a few chunks large and its pages are recycled. */
static int write_file(bench *b, int ph, int drop_behind, uint64_t *out)
{
    char path[4096];
    scratch_path(b, ph, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        die("%s: cannot create: %s", path, strerror(errno));
    uint64_t total = 0;
    off_t prev = 0;
    int rc = 0;
    for (uint64_t i = 0; i < b->nchunks && !rc; i++) {
        size_t n = b->pool_enc_bytes[i % b->npool];
        rc = write_all(fd, b->pool_enc[i % b->npool], n);
        if (!rc && drop_behind) {
            sync_file_range(fd, (off_t)total, (off_t)n, SYNC_FILE_RANGE_WRITE);
            if (total > 0) {
                sync_file_range(fd, prev, (off_t)total - prev,
                                SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
                posix_fadvise(fd, prev, (off_t)total - prev, POSIX_FADV_DONTNEED);
            }
            prev = (off_t)total;
        }
        total += n;
    }
    if (fsync(fd) != 0)
        rc = -1;
    close(fd);
    *out = total;
    return rc;
}

static int phase_write(bench *b, uint64_t *out)
{
    return write_file(b, PH_WRITE, 0, out);
}

static int phase_write_db(bench *b, uint64_t *out)
{
    return write_file(b, PH_WRITE_DB, 1, out);
}

static int phase_job(bench *b, uint64_t *out)
{
    char path[4096];
    scratch_path(b, PH_JOB, path, sizeof path);
    ooc_generate_params p = ooc_generate_params_default();
    p.blobs = *ooc_blobs_get_params(b->blobs);
    p.codec.zstd_level = b->c.level;
    p.codec.shuffle = b->c.shuffle;
    p.threads = b->threads;
    p.force = 1;
    ooc_generate_stats st;
    ooc_error err;
    ooc_error_clear(&err);
    int rc = ooc_generate(&p, path, &st, &err);
    if (rc)
        fprintf(stderr, "bench_chunkgen: error: %s\n", err.msg);
    *out = rc ? 0 : st.stored_bytes;
    return rc ? -1 : 0;
}

typedef int (*phase_fn)(bench *b, uint64_t *out);
static const phase_fn phase_run[NPHASES] = {phase_memcpy,   phase_shuffle, phase_zstd,     phase_zstd_raw,
                                            phase_generate, phase_write,   phase_write_db, phase_job};

/* The files the writing phases left, unlinked outside any clock. The write and job phases start right after
 * a full-size file is removed (plus --settle seconds), so both meet the page cache alike: pages just freed,
 * or, after a long enough settle, pages a VM's free page reporting has handed back to the host. */
static void remove_files(const bench *b)
{
    char path[4096];
    for (int ph = 0; ph < NPHASES; ph++) {
        if (file_suffix[ph]) {
            scratch_path(b, ph, path, sizeof path);
            unlink(path);
        }
    }
}

static void settle(double seconds)
{
    if (seconds > 0) {
        struct timespec t = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
        while (nanosleep(&t, &t) != 0 && errno == EINTR)
            ;
    }
}

static int by_wall(const void *a, const void *b)
{
    double x = ((const sample *)a)->wall, y = ((const sample *)b)->wall;
    return (x > y) - (x < y);
}

static void run_config(const opts *o, config c, result *r)
{
    bench b;
    bench_init(&b, o, c);
    static sample s[NPHASES][MAX_REPEATS];
    for (int rep = 0; rep < o->repeats; rep++) {
        for (int k = 0; k < NPHASES; k++) {
            int ph = run_order[k];
            if (ph == PH_SHUFFLE && !c.shuffle)
                continue;
            if (ph == PH_WRITE || ph == PH_JOB) {
                remove_files(&b);
                settle(o->settle);
            }
            double u0, s0, u1, s1;
            cpu_times(&u0, &s0);
            double t0 = now();
            uint64_t out = 0;
            if (phase_run[ph](&b, &out))
                die("phase '%s' failed", phase_name[ph]);
            double t1 = now();
            cpu_times(&u1, &s1);
            s[ph][rep] = (sample){t1 - t0, u1 - u0, s1 - s0, out, 1};
        }
    }
    remove_files(&b);
    memset(r, 0, sizeof *r);
    r->c = c;
    for (int ph = 0; ph < NPHASES; ph++) {
        if (ph == PH_SHUFFLE && !c.shuffle)
            continue;
        qsort(s[ph], (size_t)o->repeats, sizeof s[ph][0], by_wall);
        r->ph[ph] = s[ph][o->repeats / 2];
    }
    r->raw_bytes = o->rows * (row_bytes(&b) + sizeof(int32_t));
    r->job_stored = r->ph[PH_JOB].out_bytes;
    r->floor_stored = r->ph[PH_ZSTD].out_bytes;
    if (b.nchunks <= POOL)
        r->check = r->job_stored == r->floor_stored ? 1 : -1;
    bench_destroy(&b);
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : 0.0;
}

static void print_header(const opts *o)
{
    printf("bench_chunkgen: ooc_generate (chunkgen) against its floors on the same bytes (X and /y labels)\n"
           "threads %d, repeats %d (median wall), dir %s, settle %g s; MB = 1e6 bytes; 'job/this' = job's speed "
           "/ this phase's speed\n\n",
           o->threads, o->repeats, o->dir, o->settle);
    printf("%-7s %3s %4s %10s %7s %3s  %-9s %8s %7s %7s %8s %9s %9s %6s %8s\n", "dtype", "lvl", "shuf", "rows",
           "chunk", "d", "phase", "seconds", "user", "sys", "Mrows/s", "MB/s raw", "MB/s out", "ratio", "job/this");
}

static void print_line(const opts *o, const result *r, const char *name, const sample *s, int compressed)
{
    printf("%-7s %3d %4s %10" PRIu64 " %7" PRIu64 " %3" PRIu64 "  %-9s %8.3f %7.2f %7.2f %8.2f %9.0f %9.0f ",
           ooc_dtype_name(r->c.dtype), r->c.level, r->c.shuffle ? "yes" : "no", o->rows, o->chunk_rows, o->features,
           name, s->wall, s->user, s->sys, ratio((double)o->rows, s->wall) / 1e6,
           ratio((double)r->raw_bytes, s->wall) / 1e6, ratio((double)s->out_bytes, s->wall) / 1e6);
    if (compressed)
        printf("%6.3f ", ratio((double)r->raw_bytes, (double)s->out_bytes));
    else
        printf("%6s ", "-");
    printf("%8.2f\n", ratio(s->wall, r->ph[PH_JOB].wall));
}

static void print_result(const opts *o, const result *r)
{
    for (int ph = 0; ph < NPHASES; ph++)
        if (r->ph[ph].run)
            print_line(o, r, phase_name[ph], &r->ph[ph], ph == PH_ZSTD || ph == PH_ZRAW || ph == PH_JOB);
    /* What the job would take if generating and compressing were all it did, on the same threads. */
    sample sum = {r->ph[PH_GEN].wall + r->ph[PH_ZSTD].wall, r->ph[PH_GEN].user + r->ph[PH_ZSTD].user,
                  r->ph[PH_GEN].sys + r->ph[PH_ZSTD].sys, r->ph[PH_ZSTD].out_bytes, 1};
    print_line(o, r, "gen+zstd", &sum, 1);
    printf("  -> job/zstd %.2f, job/memcpy %.3f, job/(gen+zstd) %.2f; check %s\n\n",
           ratio(r->ph[PH_ZSTD].wall, r->ph[PH_JOB].wall), ratio(r->ph[PH_MEMCPY].wall, r->ph[PH_JOB].wall),
           ratio(sum.wall, r->ph[PH_JOB].wall),
           r->check > 0   ? "exact (job stored the zstd floor's bytes)"
           : r->check < 0 ? "MISMATCH (job's stored bytes differ from the zstd floor's)"
                          : "n/a (pool smaller than the array)");
}

static int write_json(const opts *o, const result *res, int n)
{
    FILE *f = fopen(o->json, "w");
    if (!f)
        return -1;
    fprintf(f, "{\n  \"benchmark\": \"chunkgen\",\n  \"threads\": %d,\n  \"repeats\": %d,\n  \"settle\": %g,\n",
            o->threads, o->repeats, o->settle);
    fprintf(f, "  \"rows\": %" PRIu64 ",\n  \"chunk_rows\": %" PRIu64 ",\n  \"features\": %" PRIu64 ",\n", o->rows,
            o->chunk_rows, o->features);
    fprintf(f, "  \"configs\": [\n");
    for (int i = 0; i < n; i++) {
        const result *r = &res[i];
        fprintf(f, "    {\"dtype\": \"%s\", \"level\": %d, \"shuffle\": %s, \"raw_bytes\": %" PRIu64 ",\n",
                ooc_dtype_name(r->c.dtype), r->c.level, r->c.shuffle ? "true" : "false", r->raw_bytes);
        fprintf(f, "     \"phases\": {");
        const char *sep = "\n";
        for (int ph = 0; ph < NPHASES; ph++) {
            const sample *s = &r->ph[ph];
            if (!s->run)
                continue;
            fprintf(f,
                    "%s       \"%s\": {\"seconds\": %.6f, \"user\": %.3f, \"sys\": %.3f, \"rows_per_s\": %.1f, "
                    "\"mb_per_s_raw\": %.1f, \"mb_per_s_out\": %.1f, \"out_bytes\": %" PRIu64 "}",
                    sep, phase_name[ph], s->wall, s->user, s->sys, ratio((double)o->rows, s->wall),
                    ratio((double)r->raw_bytes, s->wall) / 1e6, ratio((double)s->out_bytes, s->wall) / 1e6,
                    s->out_bytes);
            sep = ",\n";
        }
        fprintf(f, "\n     },\n");
        fprintf(f,
                "     \"compression_ratio\": %.4f, \"job_vs_zstd\": %.4f, \"job_vs_memcpy\": %.4f, "
                "\"job_vs_gen_plus_zstd\": %.4f, \"check\": \"%s\"}%s\n",
                ratio((double)r->raw_bytes, (double)r->job_stored), ratio(r->ph[PH_ZSTD].wall, r->ph[PH_JOB].wall),
                ratio(r->ph[PH_MEMCPY].wall, r->ph[PH_JOB].wall),
                ratio(r->ph[PH_GEN].wall + r->ph[PH_ZSTD].wall, r->ph[PH_JOB].wall),
                r->check > 0 ? "exact" : r->check < 0 ? "mismatch" : "n/a", i + 1 < n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return fclose(f);
}

static void usage(void)
{
    printf("Usage: bench_chunkgen [options]\n"
           "chunkgen's throughput (ooc_generate) against memcpy, zstd alone and the generator alone.\n\n"
           "  --rows N          rows (10M, 1e6, ...) [default: 10M]\n"
           "  --chunk-rows R    rows per chunk [default: 200000]\n"
           "  --features D      columns [default: 20]\n"
           "  -t, --threads T   [default: 2]\n"
           "  -r, --repeats R   repeats per phase, the median is reported (1..%d) [default: 3]\n"
           "  --dir DIR         where the job's and the write floors' files go [default: /tmp]\n"
           "  --settle S        seconds to wait after freeing the last file's page cache, before each\n"
           "                    file-writing phase (a VM hands free pages back to its host after a few\n"
           "                    seconds, and touching them again costs; 12 shows that cost) [default: 0]\n"
           "  --only-default    only chunkgen's default configuration (float64, zstd:3, shuffle)\n"
           "  --json FILE       also write the results as JSON\n"
           "  --smoke           100k rows, chunks of 20000, 1 repeat, 2 configurations (for ctest)\n"
           "  -h, --help        this help\n",
           MAX_REPEATS);
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_chunkgen: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see --help)\n");
    va_end(ap);
    exit(2);
}

static uint64_t count_arg(const char *name, const char *v, uint64_t max)
{
    uint64_t n;
    if (!v)
        usage_error("%s needs a value", name);
    if (ooc_parse_count(v, &n) || n < 1 || n > max)
        usage_error("'%s' is not a valid count here", v);
    return n;
}

static void parse(int argc, char **argv, opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--smoke")) {
            o->smoke = 1;
            continue;
        }
        if (!strcmp(a, "--only-default")) {
            o->only_default = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            exit(0);
        }
        if (!strcmp(a, "--rows"))
            o->rows = count_arg(a, v, UINT64_MAX);
        else if (!strcmp(a, "--chunk-rows"))
            o->chunk_rows = count_arg(a, v, UINT32_MAX);
        else if (!strcmp(a, "--features"))
            o->features = count_arg(a, v, 1u << 20);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads"))
            o->threads = (int)count_arg(a, v, 1024);
        else if (!strcmp(a, "-r") || !strcmp(a, "--repeats"))
            o->repeats = (int)count_arg(a, v, MAX_REPEATS);
        else if (!strcmp(a, "--settle") && v) {
            if (ooc_parse_double(v, &o->settle) || o->settle < 0 || o->settle > 3600)
                usage_error("--settle: '%s' is not a number of seconds in [0, 3600]", v);
        } else if (!strcmp(a, "--dir") && v)
            o->dir = v;
        else if (!strcmp(a, "--json") && v)
            o->json = v;
        else
            usage_error("unknown option or missing value: '%s'", a);
        i++;
    }
    if (o->smoke) {
        o->rows = 100000;
        o->chunk_rows = 20000;
        o->repeats = 1;
    }
    if (o->chunk_rows > o->rows) /* as chunkgen: HDF5 chunks are no taller than the dataset */
        o->chunk_rows = o->rows;
    struct stat st;
    if (stat(o->dir, &st) != 0 || !S_ISDIR(st.st_mode))
        usage_error("--dir: '%s' is not a directory", o->dir);
}

int main(int argc, char **argv)
{
    opts o = {.rows = 10000000, .chunk_rows = 200000, .features = 20, .threads = 2, .repeats = 3, .dir = "/tmp"};
    parse(argc, argv, &o);
    /* chunkgen's default (float64, zstd:3, shuffle) first. */
    static const config full[] = {
        {OOC_FLOAT64, 3, 1}, {OOC_FLOAT64, 3, 0}, {OOC_FLOAT64, 1, 1}, {OOC_FLOAT64, 1, 0}, {OOC_FLOAT32, 3, 1},
    };
    static const config smoke[] = {{OOC_FLOAT64, 3, 1}, {OOC_FLOAT32, 1, 0}};
    const config *cfg = o.smoke ? smoke : full;
    int n = o.smoke ? (int)(sizeof smoke / sizeof *smoke) : (int)(sizeof full / sizeof *full);
    if (o.only_default)
        n = 1;

    result res[sizeof full / sizeof *full];
    int status = 0, default_i = -1;
    print_header(&o);
    for (int i = 0; i < n; i++) {
        run_config(&o, cfg[i], &res[i]);
        print_result(&o, &res[i]);
        fflush(stdout);
        if (res[i].check < 0)
            status = 1;
        if (cfg[i].dtype == OOC_FLOAT64 && cfg[i].level == 3 && cfg[i].shuffle)
            default_i = i;
    }
    if (default_i >= 0) {
        const result *r = &res[default_i];
        double x = ratio(r->ph[PH_ZSTD].wall, r->ph[PH_JOB].wall);
        printf("default settings (float64, zstd:3, shuffle), %d threads: job runs at %.2fx the speed of zstd "
               "alone (target >= 0.50: %s)\n",
               o.threads, x, x >= 0.5 ? "met" : "NOT met");
    }
    if (o.json && write_json(&o, res, n) != 0)
        die("cannot write %s", o.json);
    return status;
}
