/* ooc_stream with passes of our own: every chunk mapped once and combined in chunk order for any thread
 * count; reductions bitwise identical across threads, cache and memory limits; the decoded-chunk cache
 * (what is cached, what is read again); errors from map() (the lowest failing chunk wins); the memory
 * limit; ooc_colstats on hand-computable data; the processing chunks of ooc_array; and chunks a pass
 * leaves unread. */
#define _GNU_SOURCE /* mkstemps, usleep */
#include "ooc_array.h"
#include "ooc_blobs.h"
#include "ooc_buffer_internal.h"
#include "ooc_colstats.h"
#include "ooc_generate.h"
#include "ooc_h5.h"
#include "ooc_stream.h"
#include "ooc_test.h"
#include "ooc_threads.h"

#include <hdf5.h>
#include <stdint.h>
#include <unistd.h>

#define SPEC "blobs:samples=20000,features=5,centers=3,seed=11,chunk_rows=1700" /* 12 chunks, last short */

static char path[64];

static void new_path(void)
{
    strcpy(path, "stream_XXXXXX.h5");
    close(mkstemps(path, 3));
}

static ooc_array *open_array(const char *input)
{
    ooc_array *a = NULL;
    ooc_error err;
    int rc = ooc_array_open(input, &a, &err);
    if (rc)
        OOC__FAIL("ooc_array_open(%s): %d: %s", input, rc, err.msg);
    return a;
}

static ooc_stream *open_stream(ooc_array *a, int threads, uint64_t limit, int cache)
{
    ooc_stream_params p = ooc_stream_params_default();
    p.threads = threads;
    p.memory_limit = limit;
    p.cache = cache;
    ooc_stream *s = NULL;
    ooc_error err;
    int rc = ooc_stream_create(a, &p, &s, &err);
    if (rc)
        OOC__FAIL("ooc_stream_create(threads %d, limit %llu): %d: %s", threads, (unsigned long long)limit, rc,
                  err.msg);
    return s;
}

/* The working buffers a stream over a needs with this many threads (what the limit must at least hold). */
static uint64_t working_bytes(ooc_array *a, int threads)
{
    ooc_stream *s = open_stream(a, threads, 1ull << 40, 0);
    uint64_t w = s ? ooc_stream_get_stats(s)->working_bytes : 0;
    ooc_stream_free(s);
    return w;
}

static size_t chunk_bytes(const ooc_array *a)
{
    const ooc_array_info *in = ooc_array_get_info(a);
    return (size_t)(in->chunk_rows * in->cols * ooc_dtype_size(in->dtype));
}

/* What the limit counts for a cached chunk: its buffer as allocated, and its entry in the cache. */
static size_t cached_bytes(const ooc_array *a)
{
    return ooc__buffer_footprint(chunk_bytes(a)) + sizeof(void *);
}

/* ---- (a) visits and combine order ------------------------------------------------------------------ */

#define MAX_CHUNKS 64

typedef struct order_ctx {
    uint64_t chunk_rows;
    const ooc_array *a;
    int visits[MAX_CHUNKS]; /* map() calls per chunk (atomic) */
    int bad_map;            /* map() saw a row0 or nrows that is not a chunk's (atomic) */
    uint64_t order[MAX_CHUNKS]; /* chunks in the order combine() saw them */
    int ncombined;
    uint64_t progress_done[MAX_CHUNKS];
    int nprogress;
} order_ctx;

typedef struct order_partial {
    uint64_t chunk, nrows;
} order_partial;

static int map_order(void *ctx, const void *rows, uint64_t row0, uint64_t nrows, void *state, void *partial, void *out,
                     ooc_error *err)
{
    (void)state;
    (void)out;
    (void)rows;
    (void)err;
    order_ctx *c = ctx;
    uint64_t chunk = row0 / c->chunk_rows;
    if (row0 % c->chunk_rows || chunk >= MAX_CHUNKS || nrows != ooc_array_chunk_rows(c->a, chunk))
        __atomic_store_n(&c->bad_map, 1, __ATOMIC_SEQ_CST);
    else
        __atomic_add_fetch(&c->visits[chunk], 1, __ATOMIC_SEQ_CST);
    order_partial *p = partial;
    p->chunk = chunk;
    p->nrows = nrows;
    return 0;
}

static void combine_order(void *ctx, void *acc, const void *partial)
{
    order_ctx *c = ctx;
    const order_partial *p = partial;
    if (c->ncombined < MAX_CHUNKS)
        c->order[c->ncombined] = p->chunk;
    c->ncombined++;
    *(uint64_t *)acc += p->nrows;
}

static void progress_order(const ooc_progress *pr, void *user)
{
    order_ctx *c = user;
    if (c->nprogress < MAX_CHUNKS)
        c->progress_done[c->nprogress] = pr->chunks_done;
    c->nprogress++;
}

static void test_each_chunk_once_in_order(void)
{
    ooc_array *a = open_array(SPEC);
    if (!a)
        return;
    const ooc_array_info *in = ooc_array_get_info(a);
    ASSERT_INT_EQ(in->nchunks, 12);
    for (int threads = 1; threads <= 3; threads++) {
        for (int cache = 0; cache <= 1; cache++) {
            order_ctx c = {.chunk_rows = in->chunk_rows, .a = a};
            ooc_stream_params p = ooc_stream_params_default();
            p.threads = threads;
            p.memory_limit = 256u << 20;
            p.cache = cache;
            p.progress = progress_order;
            p.progress_user = &c;
            ooc_stream *s = NULL;
            ooc_error err;
            ASSERT_OK(ooc_stream_create(a, &p, &s, &err));
            if (!s)
                continue;
            ooc_pass pass = {.phase = "order", .partial_size = sizeof(order_partial), .ctx = &c, .map = map_order, .combine = combine_order};
            for (int run = 0; run < 2; run++) { /* the second pass comes from the cache when cache = 1 */
                memset(c.visits, 0, sizeof c.visits);
                c.ncombined = c.nprogress = 0;
                uint64_t rows = 0;
                ASSERT_OK(ooc_stream_run(s, &pass, &rows, &err));
                ASSERT_INT_EQ(rows, in->rows);
                ASSERT_INT_EQ(c.bad_map, 0);
                ASSERT_INT_EQ(c.ncombined, in->nchunks);
                ASSERT_INT_EQ(c.nprogress, in->nchunks);
                for (uint64_t i = 0; i < in->nchunks; i++) {
                    if (c.visits[i] != 1 || c.order[i] != i || c.progress_done[i] != i + 1) {
                        OOC__FAIL("threads %d cache %d run %d: chunk %llu: visits %d, combined as #%llu, "
                                  "progress %llu", threads, cache, run, (unsigned long long)i, c.visits[i],
                                  (unsigned long long)c.order[i], (unsigned long long)c.progress_done[i]);
                        break;
                    }
                }
            }
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->passes, 2);
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->threads, threads);
            ooc_stream_free(s);
        }
    }
    ooc_array_free(a);
}

/* ---- (b) a float sum, bitwise identical everywhere ------------------------------------------------- */

typedef struct sum_ctx {
    uint64_t cols;
} sum_ctx;

/* Row by row, column by column: a sum whose bits depend on the order of the chunks it is folded in. */
static int map_sum(void *ctx, const void *rows, uint64_t row0, uint64_t nrows, void *state, void *partial, void *out,
                   ooc_error *err)
{
    (void)state;
    (void)out;
    (void)row0;
    (void)err;
    const sum_ctx *c = ctx;
    const double *x = rows;
    double s = 0;
    for (uint64_t i = 0; i < nrows * c->cols; i++)
        s += x[i] * (double)(1 + i % 7);
    *(double *)partial = s;
    return 0;
}

static void combine_sum(void *ctx, void *acc, const void *partial)
{
    (void)ctx;
    *(double *)acc += *(const double *)partial;
}

static double run_sum(ooc_stream *s, uint64_t cols)
{
    sum_ctx c = {cols};
    ooc_pass pass = {.phase = "sum", .partial_size = sizeof(double), .ctx = &c, .map = map_sum, .combine = combine_sum};
    double acc = 0.125;
    ooc_error err;
    ASSERT_OK(ooc_stream_run(s, &pass, &acc, &err));
    return acc;
}

static void test_sum_bitwise_identical(void)
{
    ooc_array *a = open_array(SPEC);
    if (!a)
        return;
    const ooc_array_info *in = ooc_array_get_info(a);
    /* The reference: the same chunks generated directly and folded in order. */
    ooc_blobs_params bp;
    ooc_blobs *b = NULL;
    ooc_error err;
    ASSERT_OK(ooc_blobs_parse(SPEC, &bp, &err));
    ASSERT_OK(ooc_blobs_create(&bp, NULL, &b, &err));
    double *x = malloc(chunk_bytes(a));
    double want = 0.125;
    sum_ctx c = {in->cols};
    for (uint64_t i = 0; b && i < in->nchunks; i++) {
        double part;
        uint64_t n = ooc_array_chunk_rows(a, i);
        ooc_blobs_rows(b, i * in->chunk_rows, (size_t)n, x, NULL);
        map_sum(&c, x, i * in->chunk_rows, n, NULL, &part, NULL, NULL);
        combine_sum(&c, &want, &part);
    }
    free(x);
    ooc_blobs_free(b);

    for (int threads = 1; threads <= 4; threads++) {
        /* All cached; no cache; and a limit that holds the working buffers and 0 or 3 chunks. */
        uint64_t working = working_bytes(a, threads);
        uint64_t limits[] = {1ull << 30, 1ull << 30, working + chunk_bytes(a) / 2, working + 3 * cached_bytes(a)};
        int caches[] = {1, 0, 1, 1};
        uint64_t expect_cached[] = {in->nchunks, 0, 0, 3};
        for (int k = 0; k < 4; k++) {
            ooc_stream *s = open_stream(a, threads, limits[k], caches[k]);
            if (!s)
                continue;
            for (int run = 0; run < 2; run++) {
                double got = run_sum(s, in->cols);
                if (memcmp(&got, &want, sizeof got) != 0)
                    OOC__FAIL("threads %d, limit %llu, cache %d, run %d: sum %.17g != %.17g", threads,
                              (unsigned long long)limits[k], caches[k], run, got, want);
            }
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->chunks_cached, expect_cached[k]);
            ASSERT(ooc_stream_get_stats(s)->working_bytes + ooc_stream_get_stats(s)->cache_bytes <= limits[k]);
            ooc_stream_free(s);
        }
    }
    ooc_array_free(a);
}

/* ---- (c) the cache over an HDF5 input --------------------------------------------------------------- */

/* A file in our layout: what chunkgen writes. */
static void write_generated(const char *spec)
{
    ooc_generate_params g = ooc_generate_params_default();
    ooc_error err;
    ASSERT_OK(ooc_blobs_parse(spec, &g.blobs, &err));
    g.labels = 0;
    g.force = 1;
    g.threads = 2;
    new_path();
    ASSERT_OK(ooc_generate(&g, path, NULL, &err));
}

/* Stored bytes of each storage chunk of /X, and of the whole dataset. */
static uint64_t stored_sizes(uint64_t *sizes, uint64_t nchunks, uint64_t chunk_rows)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/X", H5P_DEFAULT);
    for (uint64_t i = 0; i < nchunks; i++) {
        hsize_t off[2] = {i * chunk_rows, 0}, size = 0;
        unsigned mask;
        haddr_t addr;
        ASSERT(H5Dget_chunk_info_by_coord(d, off, &mask, &addr, &size) >= 0);
        sizes[i] = size;
    }
    uint64_t total = H5Dget_storage_size(d);
    H5Dclose(d);
    H5Fclose(f);
    return total;
}

static void test_cache_serves_second_pass(void)
{
    write_generated("blobs:samples=20000,features=4,centers=3,seed=5,chunk_rows=1500"); /* 14 chunks */
    ooc_array *a = open_array(path);
    if (!a) {
        unlink(path);
        return;
    }
    const ooc_array_info *in = ooc_array_get_info(a);
    ASSERT_INT_EQ(in->nchunks, 14);
    ASSERT_INT_EQ(in->chunk_rows, 1500);
    uint64_t sizes[14], total = stored_sizes(sizes, 14, 1500);

    for (int threads = 1; threads <= 2; threads++) {
        /* Everything fits: the first pass reads every stored byte once, the second reads nothing. */
        ooc_stream *s = open_stream(a, threads, 1ull << 30, 1);
        if (s) {
            double first = run_sum(s, in->cols);
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->bytes_read, total);
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->chunks_cached, in->nchunks);
            double second = run_sum(s, in->cols);
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->bytes_read, total);
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->passes, 2);
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->bytes_decoded, 2 * in->rows * in->cols * 8);
            ASSERT_MEM_EQ(&first, &second, sizeof first);
            ooc_stream_free(s);
        }
        /* A row read before the first pass (k-means||'s first centre) reads its chunk, and each other thread
         * warms the cache with the lowest chunk not cached; the pass reads the rest: every byte still once. */
        s = open_stream(a, threads, 1ull << 30, 1);
        if (s) {
            uint64_t row = 7 * 1500 + 3;
            double x[4];
            ooc_error err;
            ASSERT_OK(ooc_stream_read_rows(s, &row, 1, x, &err));
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->bytes_read, sizes[7] + (threads > 1 ? sizes[0] : 0));
            run_sum(s, in->cols);
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->bytes_read, total);
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->chunks_cached, in->nchunks);
            ooc_stream_free(s);
        }
        /* Room for 5 chunks: chunks 0..4 are cached; every later pass reads chunks 5..13 again. */
        uint64_t m = 5;
        s = open_stream(a, threads, working_bytes(a, threads) + m * cached_bytes(a) + chunk_bytes(a) / 2, 1);
        if (s) {
            double first = run_sum(s, in->cols);
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->bytes_read, total);
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->chunks_cached, m);
            uint64_t rest = 0;
            for (uint64_t i = m; i < in->nchunks; i++)
                rest += sizes[i];
            double second = run_sum(s, in->cols);
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->bytes_read, total + rest);
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->chunks_cached, m);
            ASSERT_MEM_EQ(&first, &second, sizeof first);
            ooc_stream_free(s);
        }
        /* No cache: every pass reads everything. */
        s = open_stream(a, threads, 1ull << 30, 0);
        if (s) {
            run_sum(s, in->cols);
            run_sum(s, in->cols);
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->bytes_read, 2 * total);
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->chunks_cached, 0);
            ooc_stream_free(s);
        }
    }
    ooc_array_free(a);
    unlink(path);
}

/* ---- (d) errors from map() -------------------------------------------------------------------------- */

typedef struct fail_ctx {
    uint64_t chunk_rows;
    uint64_t fail_mask;  /* chunks whose map() fails */
    uint64_t slow_chunk; /* this chunk's map() sleeps first, so later failures happen before it */
    uint64_t combined[MAX_CHUNKS];
    int ncombined;
} fail_ctx;

static int map_fail(void *ctx, const void *rows, uint64_t row0, uint64_t nrows, void *state, void *partial, void *out,
                    ooc_error *err)
{
    (void)state;
    (void)out;
    (void)rows;
    (void)nrows;
    fail_ctx *c = ctx;
    uint64_t chunk = row0 / c->chunk_rows;
    *(uint64_t *)partial = chunk;
    if (chunk == c->slow_chunk)
        usleep(20000);
    if (c->fail_mask >> chunk & 1)
        return ooc_error_set(err, OOC_EIO, "test: chunk %llu: refused", (unsigned long long)chunk);
    return 0;
}

static void combine_fail(void *ctx, void *acc, const void *partial)
{
    (void)acc;
    fail_ctx *c = ctx;
    if (c->ncombined < MAX_CHUNKS)
        c->combined[c->ncombined] = *(const uint64_t *)partial;
    c->ncombined++;
}

static void test_map_error_stops_pass(void)
{
    ooc_array *a = open_array("blobs:samples=10000,features=3,seed=2,chunk_rows=1000"); /* 10 chunks */
    if (!a)
        return;
    const ooc_array_info *in = ooc_array_get_info(a);
    ASSERT_INT_EQ(in->nchunks, 10);
    struct {
        uint64_t mask, slow, first;
    } cases[] = {
        {1u << 5, UINT64_MAX, 5},
        {1u << 3 | 1u << 5 | 1u << 8, 3, 3},
        {1u << 4 | 1u << 9, 4, 4},
        {1u << 0 | 1u << 1, 0, 0},
        {1u << 9, UINT64_MAX, 9},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        for (int threads = 1; threads <= 4; threads++) {
            ooc_stream *s = open_stream(a, threads, 256u << 20, 1);
            if (!s)
                continue;
            fail_ctx c = {.chunk_rows = in->chunk_rows, .fail_mask = cases[k].mask, .slow_chunk = cases[k].slow};
            ooc_pass pass = {.phase = "fail", .partial_size = sizeof(uint64_t), .ctx = &c, .map = map_fail, .combine = combine_fail};
            ooc_error err;
            ooc_error_clear(&err);
            int acc = 0;
            int rc = ooc_stream_run(s, &pass, &acc, &err);
            char want[64];
            snprintf(want, sizeof want, "test: chunk %llu: refused", (unsigned long long)cases[k].first);
            ASSERT_INT_EQ(rc, OOC_EIO);
            ASSERT_INT_EQ(err.code, OOC_EIO);
            if (strcmp(err.msg, want) != 0)
                OOC__FAIL("case %zu, threads %d: error \"%s\", expected \"%s\"", k, threads, err.msg, want);
            /* Exactly the chunks before the failing one were folded, in order. */
            if (c.ncombined != (int)cases[k].first)
                OOC__FAIL("case %zu, threads %d: %d chunks combined, expected %llu", k, threads, c.ncombined,
                          (unsigned long long)cases[k].first);
            for (int i = 0; i < c.ncombined && i < MAX_CHUNKS; i++)
                if (c.combined[i] != (uint64_t)i) {
                    OOC__FAIL("case %zu, threads %d: combined #%d is chunk %llu", k, threads, i,
                              (unsigned long long)c.combined[i]);
                    break;
                }
            /* The stream is still usable after a failed pass. */
            fail_ctx ok = {.chunk_rows = in->chunk_rows, .slow_chunk = UINT64_MAX};
            pass.ctx = &ok;
            ASSERT_OK(ooc_stream_run(s, &pass, &acc, &err));
            ASSERT_INT_EQ(ok.ncombined, in->nchunks);
            ooc_stream_free(s);
        }
    }
    ooc_array_free(a);
}

/* ---- (e) the memory limit --------------------------------------------------------------------------- */

/* 0 or less threads means all cores, as ooc_threads_resolve() has it (-1 was taken as a count and the stream
 * failed to allocate "-1 threads' buffers", saying out of memory). */
static void test_threads_resolved(void)
{
    ooc_array *a = open_array("blobs:samples=1000,features=3,chunk_rows=100");
    if (!a)
        return;
    for (int threads = 0; threads >= -2; threads--) {
        ooc_stream_params p = ooc_stream_params_default();
        p.threads = threads;
        ASSERT_INT_EQ(ooc_stream_params_resolved(&p).threads, ooc_threads_resolve(0));
        ooc_stream *s = NULL;
        ooc_error err;
        ooc_error_clear(&err);
        ASSERT_OK(ooc_stream_create(a, &p, &s, &err));
        if (s)
            run_sum(s, 3);
        ooc_stream_free(s);
    }
    ooc_array_free(a);
}

static void test_limit_below_working_set(void)
{
    ooc_array *a = open_array("blobs:samples=100000,features=20,chunk_rows=50000"); /* 8 MB chunks */
    if (!a)
        return;
    for (int threads = 1; threads <= 2; threads++) {
        ooc_stream_params p = ooc_stream_params_default();
        p.threads = threads;
        p.memory_limit = 1u << 20;
        ooc_stream *s = NULL;
        ooc_error err;
        ooc_error_clear(&err);
        ASSERT_INT_EQ(ooc_stream_create(a, &p, &s, &err), OOC_ERANGE);
        ASSERT(s == NULL);
        ASSERT_INT_EQ(err.code, OOC_ERANGE);
        ASSERT_STR_CONTAINS(err.msg, "--memory-limit");
        ASSERT_STR_CONTAINS(err.msg, "blobs:samples=100000");
        ooc_stream_free(s);
        /* Just enough for the working buffers: accepted, nothing cached, and the pass runs. */
        uint64_t working = working_bytes(a, threads);
        ASSERT(working > p.memory_limit);
        p.memory_limit = working;
        ASSERT_OK(ooc_stream_create(a, &p, &s, &err));
        if (s) {
            run_sum(s, 20);
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->chunks_cached, 0);
            ASSERT_INT_EQ(ooc_stream_get_stats(s)->memory_limit, working);
        }
        ooc_stream_free(s);
        s = NULL;
        p.memory_limit = working - 1;
        ASSERT_INT_EQ(ooc_stream_create(a, &p, &s, &err), OOC_ERANGE);
        ooc_stream_free(s);
    }
    ooc_array_free(a);
}

/* ---- (f) ooc_colstats on known values --------------------------------------------------------------- */

/* A dataset written with plain HDF5 calls, as another program would. crows = 0: contiguous. */
static void write_plain(const char *name, hid_t file_type, hsize_t rows, hsize_t cols, hsize_t crows,
                        hsize_t ccols, int deflate, const double *values)
{
    ooc_h5_file *of; /* make sure ooc's HDF5 setup ran before plain HDF5 calls */
    ooc_error err;
    if (access(path, F_OK) != 0 || H5Fis_hdf5(path) <= 0) {
        ASSERT_OK(ooc_h5_file_create(path, NULL, &of, &err));
        ASSERT_OK(ooc_h5_file_close(of, &err));
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hsize_t dims[2] = {rows, cols}, chunk[2] = {crows, ccols};
    hid_t space = H5Screate_simple(2, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (crows) {
        H5Pset_chunk(dcpl, 2, chunk);
        if (deflate)
            H5Pset_deflate(dcpl, 4);
    }
    hid_t ds = H5Dcreate2(f, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ASSERT(ds >= 0);
    if (values)
        ASSERT(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(f);
}

static ooc_colstats *colstats_of(const char *input, int threads)
{
    ooc_array *a = open_array(input);
    ooc_stream *s = a ? open_stream(a, threads, 256u << 20, 1) : NULL;
    ooc_colstats *st = NULL;
    ooc_error err;
    if (s)
        ASSERT_OK(ooc_colstats_compute(s, &st, &err));
    ooc_stream_free(s);
    ooc_array_free(a);
    return st;
}

static void test_colstats_known_values(void)
{
    /* 7 x 3. Column 0: 1..7. Column 1: -2, 4 repeated, and NaN in row 4. Column 2: 10 everywhere but +inf in
     * row 5 and -inf in row 6. */
    const double v[7][3] = {{1, -2, 10}, {2, 4, 10}, {3, -2, 10}, {4, 4, 10},
                            {5, NAN, 10}, {6, -2, INFINITY}, {7, 4, -INFINITY}};
    new_path();
    char input[96];
    /* Storage chunks of 2 rows (our layout): 4 processing chunks, the NaN in the third. Also contiguous, and
     * big-endian, deflated, in chunks narrower than the rows (read through HDF5's own pipeline). */
    write_plain("/chunked", H5T_IEEE_F64LE, 7, 3, 2, 3, 0, &v[0][0]);
    write_plain("/contiguous", H5T_IEEE_F64LE, 7, 3, 0, 0, 0, &v[0][0]);
    write_plain("/big_endian", H5T_IEEE_F64BE, 7, 3, 3, 2, 1, &v[0][0]);
    const char *names[] = {"/chunked", "/contiguous", "/big_endian"};
    for (int k = 0; k < 3; k++) {
        for (int threads = 1; threads <= 3; threads++) {
            snprintf(input, sizeof input, "%s:%s", path, names[k]);
            ooc_colstats *st = colstats_of(input, threads);
            if (!st)
                continue;
            ASSERT_INT_EQ(st->rows, 7);
            ASSERT_INT_EQ(st->cols, 3);
            ASSERT_INT_EQ(st->first_nonfinite_row, 4);
            ASSERT_NEAR(st->count[0], 7, 0);
            ASSERT_NEAR(st->mean[0], 4, 0);
            ASSERT_NEAR(st->var[0], 4, 1e-15); /* (9+4+1+0+1+4+9)/7 */
            ASSERT_NEAR(st->min[0], 1, 0);
            ASSERT_NEAR(st->max[0], 7, 0);
            ASSERT_NEAR(st->count[1], 6, 0);
            ASSERT_NEAR(st->mean[1], 1, 1e-15);
            ASSERT_NEAR(st->var[1], 9, 1e-14);
            ASSERT_NEAR(st->min[1], -2, 0);
            ASSERT_NEAR(st->max[1], 4, 0);
            ASSERT_NEAR(st->count[2], 5, 0);
            ASSERT_NEAR(st->mean[2], 10, 0);
            ASSERT_NEAR(st->var[2], 0, 0);
            ASSERT_NEAR(st->min[2], 10, 0);
            ASSERT_NEAR(st->max[2], 10, 0);
            ASSERT_NEAR(ooc_colstats_mean_variance(st), 13.0 / 3, 1e-14);
            ooc_colstats_free(st);
        }
    }
    /* A column with no finite value at all, and a single-row, all-finite dataset. */
    const double w[3][2] = {{1, NAN}, {3, INFINITY}, {8, NAN}};
    write_plain("/no_finite", H5T_IEEE_F64LE, 3, 2, 1, 2, 0, &w[0][0]);
    write_plain("/one_row", H5T_STD_I16LE, 1, 2, 0, 0, 0, (const double[]){-3, 5});
    snprintf(input, sizeof input, "%s:/no_finite", path);
    ooc_colstats *st = colstats_of(input, 2);
    if (st) {
        ASSERT_INT_EQ(st->first_nonfinite_row, 0);
        ASSERT_NEAR(st->count[0], 3, 0);
        ASSERT_NEAR(st->mean[0], 4, 0);
        ASSERT_NEAR(st->var[0], 26.0 / 3, 1e-14);
        ASSERT_NEAR(st->count[1], 0, 0);
        ASSERT(isnan(st->mean[1]) && isnan(st->var[1]) && isnan(st->min[1]) && isnan(st->max[1]));
        ooc_colstats_free(st);
    }
    snprintf(input, sizeof input, "%s:/one_row", path);
    st = colstats_of(input, 2);
    if (st) {
        ASSERT_INT_EQ(st->first_nonfinite_row, OOC_NO_ROW);
        ASSERT_NEAR(st->mean[0], -3, 0);
        ASSERT_NEAR(st->mean[1], 5, 0);
        ASSERT_NEAR(st->var[0], 0, 0);
        ASSERT_NEAR(st->min[1], 5, 0);
        ASSERT_NEAR(st->max[1], 5, 0);
        ooc_colstats_free(st);
    }
    unlink(path);
}

/* ---- (g) processing chunks of ooc_array ------------------------------------------------------------- */

static void check_chunks(const char *input, uint64_t rows, uint64_t storage_rows, uint64_t want_chunk_rows)
{
    ooc_array *a = open_array(input);
    if (!a)
        return;
    const ooc_array_info *in = ooc_array_get_info(a);
    ASSERT_INT_EQ(in->rows, rows);
    if (want_chunk_rows && in->chunk_rows != want_chunk_rows)
        OOC__FAIL("%s: processing chunks of %llu rows, expected %llu", input, (unsigned long long)in->chunk_rows,
                  (unsigned long long)want_chunk_rows);
    if (storage_rows && in->chunk_rows % storage_rows != 0 && in->chunk_rows != rows)
        OOC__FAIL("%s: processing chunks of %llu rows are not a multiple of the storage chunks' %llu", input,
                  (unsigned long long)in->chunk_rows, (unsigned long long)storage_rows);
    ASSERT_INT_EQ(in->nchunks, (rows + in->chunk_rows - 1) / in->chunk_rows);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < in->nchunks; i++) {
        uint64_t n = ooc_array_chunk_rows(a, i);
        if (n != (i + 1 < in->nchunks ? in->chunk_rows : rows - i * in->chunk_rows))
            OOC__FAIL("%s: chunk %llu has %llu rows", input, (unsigned long long)i, (unsigned long long)n);
        sum += n;
    }
    ASSERT_INT_EQ(sum, rows);
    ASSERT_INT_EQ(ooc_array_chunk_rows(a, in->nchunks), 0);
    ASSERT(in->nchunks >= 2);
    ASSERT(ooc_array_chunk_rows(a, in->nchunks - 1) < in->chunk_rows); /* every case here ends short */
    ooc_array_free(a);
}

static void test_processing_chunks(void)
{
    new_path();
    char input[96];
    /* Datasets without data (metadata only): the processing chunks depend on the shape and layout alone. */
    uint64_t target_rows = OOC_ARRAY_TARGET_CHUNK_BYTES / (256 * 8); /* 8192 */
    write_plain("/contiguous", H5T_IEEE_F64LE, 2 * target_rows + 5, 256, 0, 0, 0, NULL);
    snprintf(input, sizeof input, "%s:/contiguous", path);
    check_chunks(input, 2 * target_rows + 5, 0, target_rows);
    /* Storage chunks (777, 3), deflated (not our layout): whole multiples of 777 rows, about the target. */
    uint64_t per = OOC_ARRAY_TARGET_CHUNK_BYTES / (3 * 8) / 777 * 777;
    write_plain("/deflate777", H5T_IEEE_F64LE, 2 * per + 1000, 3, 777, 3, 1, NULL);
    snprintf(input, sizeof input, "%s:/deflate777", path);
    check_chunks(input, 2 * per + 1000, 777, per);
    /* Deflated storage chunks narrower than the rows: still whole multiples of the chunk rows. */
    write_plain("/narrow", H5T_STD_I16LE, 2 * per + 1, 3, 777, 2, 1, NULL);
    snprintf(input, sizeof input, "%s:/narrow", path);
    check_chunks(input, 2 * per + 1, 777, per);
    /* Unfiltered ones, which HDF5 reads in part, in blocks of the target size: a column chunk of every row
     * (n, 1) is not one processing chunk of all rows. */
    uint64_t target3 = OOC_ARRAY_TARGET_CHUNK_BYTES / (3 * 8);
    write_plain("/narrow_plain", H5T_STD_I16LE, 2 * per + 1, 3, 777, 2, 0, NULL);
    snprintf(input, sizeof input, "%s:/narrow_plain", path);
    check_chunks(input, 2 * per + 1, 0, target3);
    write_plain("/columns", H5T_IEEE_F64LE, 3 * target3 + 7, 3, 3 * target3 + 7, 1, 0, NULL);
    snprintf(input, sizeof input, "%s:/columns", path);
    check_chunks(input, 3 * target3 + 7, 0, target3);
    /* Storage chunks bigger than the target: one storage chunk per processing chunk. */
    write_plain("/tall", H5T_IEEE_F64LE, 3 * 800000 - 1, 3, 800000, 3, 1, NULL);
    snprintf(input, sizeof input, "%s:/tall", path);
    check_chunks(input, 3 * 800000 - 1, 800000, 800000);
    /* Our layout (row chunks over all columns, native float, no other filter): the storage chunks. */
    write_plain("/ours", H5T_IEEE_F64LE, 10000, 3, 777, 3, 0, NULL);
    snprintf(input, sizeof input, "%s:/ours", path);
    check_chunks(input, 10000, 777, 777);
    unlink(path);
    write_generated("blobs:samples=5000,features=3,chunk_rows=700");
    check_chunks(path, 5000, 700, 700);
    unlink(path);
    /* Generated arrays: chunk_rows as given. */
    check_chunks("blobs:samples=5000,features=3,chunk_rows=700", 5000, 700, 700);
}

/* ---- (g) per-row state, in memory or spilled to a file --------------------------------------------- */

/* Each pass checks that every row's state holds its row index times the passes before, then adds one more:
 * state that is lost, misplaced or not written back shows. The partial counts the rows that were wrong. */
static int map_state(void *ctx, const void *rows, uint64_t row0, uint64_t nrows, void *state, void *partial,
                     void *out, ooc_error *err)
{
    (void)rows;
    (void)out;
    (void)err;
    const uint64_t *pass_no = ctx;
    uint64_t *st = state, bad = 0;
    for (uint64_t i = 0; i < nrows; i++) {
        bad += st[i] != (row0 + i) * *pass_no;
        st[i] += row0 + i;
    }
    *(uint64_t *)partial = bad;
    return 0;
}

static void combine_count(void *ctx, void *acc, const void *partial)
{
    (void)ctx;
    *(uint64_t *)acc += *(const uint64_t *)partial;
}

static int scan_state(void *ctx, uint64_t row0, uint64_t nrows, const void *state, ooc_error *err)
{
    (void)err;
    uint64_t *bad = ctx;
    const uint64_t *st = state;
    for (uint64_t i = 0; i < nrows; i++)
        *bad += st[i] != (row0 + i) * 3;
    return 0;
}

static void check_state(ooc_array *a, int threads, uint64_t limit, int spilled)
{
    ooc_stream_params p = ooc_stream_params_default();
    p.threads = threads;
    p.memory_limit = limit;
    p.state_row_bytes = sizeof(uint64_t);
    ooc_stream *s;
    ooc_rowstate *rs;
    ooc_error err;
    ASSERT_OK(ooc_stream_create(a, &p, &s, &err));
    ASSERT_INT_EQ(ooc_stream_get_stats(s)->state_spilled, spilled);
    ASSERT_INT_EQ(ooc_rowstate_create(s, 2 * sizeof(uint64_t), &rs, &err), OOC_EINVAL); /* more than asked */
    ASSERT_OK(ooc_rowstate_create(s, sizeof(uint64_t), &rs, &err));
    ASSERT_INT_EQ(ooc_rowstate_spilled(rs), spilled);
    for (uint64_t pass_no = 0; pass_no < 3; pass_no++) {
        uint64_t bad = 0;
        ooc_pass pass = {.phase = "state", .partial_size = sizeof bad, .ctx = &pass_no, .map = map_state,
                         .combine = combine_count, .state = rs};
        ASSERT_OK(ooc_stream_run(s, &pass, &bad, &err));
        ASSERT_INT_EQ(bad, 0);
    }
    uint64_t bad = 0;
    ASSERT_OK(ooc_rowstate_scan(rs, scan_state, &bad, sizeof bad, &err));
    ASSERT_INT_EQ(bad, 0);
    ooc_rowstate_free(rs);
    ooc_stream_free(s);
}

static void test_row_state(void)
{
    ooc_array *a = open_array(SPEC);
    if (!a)
        return;
    uint64_t rows = ooc_array_get_info(a)->rows;
    for (int threads = 1; threads <= 3; threads++) {
        uint64_t w = working_bytes(a, threads);
        check_state(a, threads, w + rows * sizeof(uint64_t), 0);     /* just fits beside the buffers */
        check_state(a, threads, w + rows * sizeof(uint64_t) - 1, 1); /* one byte short: a file */
    }
    /* Nowhere to spill: a clear error naming the directory. */
    ooc_stream_params p = ooc_stream_params_default();
    p.threads = 1;
    p.memory_limit = working_bytes(a, 1) + ooc_array_get_info(a)->chunk_rows * sizeof(uint64_t);
    p.state_row_bytes = sizeof(uint64_t);
    ooc_stream *s;
    ooc_rowstate *rs;
    ooc_error err;
    ASSERT_OK(ooc_stream_create(a, &p, &s, &err));
    const char *saved = getenv("TMPDIR");
    setenv("TMPDIR", "/nonexistent-ooc-dir", 1);
    ASSERT_INT_EQ(ooc_rowstate_create(s, sizeof(uint64_t), &rs, &err), OOC_EIO);
    ASSERT_STR_CONTAINS(err.msg, "/nonexistent-ooc-dir");
    if (saved)
        setenv("TMPDIR", saved, 1);
    else
        unsetenv("TMPDIR");
    ooc_stream_free(s);
    ooc_array_free(a);
}

/* ---- (h) chunks taken in pieces ----------------------------------------------------------------------- */

typedef struct piece_ctx {
    uint64_t rows, chunk_rows, cols;
    ooc_dtype dtype;
    const char *want; /* every row, as the generator makes it */
    char *seen;       /* every row, as handed to map() */
    uint64_t pass_no;
} piece_ctx;

typedef struct piece_partial {
    uint64_t next, pieces, bad;
} piece_partial;

/* Copies the rows it is handed to their place, and checks that the pieces of a chunk come in order, the
 * first at its first row, each with its own rows' state (the row index plus the passes before). */
static int map_piece(void *ctx, const void *rows, uint64_t row0, uint64_t nrows, void *state, void *partial,
                     void *out, ooc_error *err)
{
    (void)out;
    (void)err;
    const piece_ctx *c = ctx;
    piece_partial *p = partial;
    if (row0 % c->chunk_rows == 0)
        *p = (piece_partial){row0, 0, 0};
    p->bad += row0 != p->next;
    p->next = row0 + nrows;
    p->pieces++;
    size_t row_bytes = (size_t)c->cols * ooc_dtype_size(c->dtype);
    memcpy(c->seen + row0 * row_bytes, rows, nrows * row_bytes);
    uint64_t *st = state;
    for (uint64_t i = 0; i < nrows; i++) {
        p->bad += st[i] != (row0 + i) + c->pass_no;
        st[i]++;
    }
    return 0;
}

static void combine_pieces(void *ctx, void *acc, const void *partial)
{
    const piece_ctx *c = ctx;
    const piece_partial *p = partial;
    piece_partial *a = acc;
    uint64_t end = a->next + c->chunk_rows < c->rows ? a->next + c->chunk_rows : c->rows;
    a->bad += p->bad + (p->next != end); /* every chunk covered to its end, in chunk order */
    a->next = end;
    a->pieces += p->pieces;
}

static int seed_state(void *ctx, const void *rows, uint64_t row0, uint64_t nrows, void *state, void *partial,
                      void *out, ooc_error *err)
{
    (void)ctx, (void)rows, (void)out, (void)err, (void)partial;
    uint64_t *st = state;
    for (uint64_t i = 0; i < nrows; i++)
        st[i] = row0 + i;
    return 0;
}

static void no_combine(void *ctx, void *acc, const void *partial)
{
    (void)ctx, (void)acc, (void)partial;
}

/* A file of blobs:spec's rows, shuffled or not, opened; *want gets its rows as the generator makes them. */
static ooc_array *blobs_file(const char *spec, int shuffle, char **want)
{
    ooc_generate_params g = ooc_generate_params_default();
    ooc_error err;
    ASSERT_OK(ooc_blobs_parse(spec, &g.blobs, &err));
    g.codec.shuffle = shuffle;
    g.labels = 0;
    g.force = 1;
    new_path();
    ASSERT_OK(ooc_generate(&g, path, NULL, &err));
    ooc_array *a = open_array(path);
    if (!a)
        return NULL;
    const ooc_array_info *in = ooc_array_get_info(a);
    *want = malloc((size_t)(in->rows * in->cols * ooc_dtype_size(in->dtype)));
    ooc_blobs *b = NULL;
    ASSERT_OK(ooc_blobs_create(&g.blobs, NULL, &b, &err));
    ooc_blobs_rows(b, 0, (size_t)in->rows, *want, NULL);
    ooc_blobs_free(b);
    return a;
}

/* The rows a pass sees in pieces are the file's, for float64 and float32, shuffled or not, cached or not;
 * shuffled chunks that are not cached come in several pieces, anything else whole. Passes in pieces over
 * shuffled chunks need no whole decoded chunk per thread, so that room caches a chunk per thread more; a
 * pass of whole chunks afterwards takes it back (the chunks cached past the limit's room are dropped). */
static void test_pieces(void)
{
    const char *specs[] = {"blobs:samples=23000,features=20,centers=3,seed=4,chunk_rows=5000",
                           "blobs:samples=23000,features=20,centers=3,seed=4,chunk_rows=5000,dtype=float32"};
    for (int si = 0; si < 2; si++) {
        for (int shuffle = 0; shuffle <= 1; shuffle++) {
            char *want;
            ooc_array *a = blobs_file(specs[si], shuffle, &want);
            if (!a)
                continue;
            ooc_error err;
            const ooc_array_info *in = ooc_array_get_info(a);
            size_t bytes = (size_t)(in->rows * in->cols * ooc_dtype_size(in->dtype));
            char *seen = malloc(bytes);
            for (int threads = 1; threads <= 3; threads++) {
                for (int cached = 0; cached <= 2; cached += 2) { /* none, or the first two chunks */
                    ooc_stream_params p = ooc_stream_params_default();
                    p.threads = threads;
                    p.state_row_bytes = sizeof(uint64_t);
                    p.memory_limit = working_bytes(a, threads) + in->rows * sizeof(uint64_t) +
                                     cached * chunk_bytes(a) + chunk_bytes(a) / 2;
                    ooc_stream *s;
                    ooc_rowstate *rs;
                    ASSERT_OK(ooc_stream_create(a, &p, &s, &err));
                    ASSERT_OK(ooc_rowstate_create(s, sizeof(uint64_t), &rs, &err));
                    piece_ctx c = {in->rows, in->chunk_rows, in->cols, in->dtype, want, seen, 0};
                    char none;
                    ooc_pass seed = {.phase = "seed", .partial_size = 1, .map = seed_state, .combine = no_combine,
                                     .no_input = 1, .state = rs};
                    ASSERT_OK(ooc_stream_run(s, &seed, &none, &err));
                    for (c.pass_no = 0; c.pass_no < 3; c.pass_no++) {
                        int pieces = c.pass_no < 2;
                        uint64_t room = (uint64_t)cached + (pieces && shuffle ? (uint64_t)threads : 0);
                        uint64_t held = room < in->nchunks ? room : in->nchunks;
                        memset(seen, 0, bytes);
                        piece_partial acc = {0, 0, 0};
                        ooc_pass pass = {.phase = "pieces", .partial_size = sizeof acc, .ctx = &c, .map = map_piece,
                                         .combine = combine_pieces, .state = rs, .pieces = pieces};
                        ASSERT_OK(ooc_stream_run(s, &pass, &acc, &err));
                        ASSERT_INT_EQ(acc.bad, 0);
                        ASSERT(memcmp(seen, want, bytes) == 0);
                        ASSERT_INT_EQ(ooc_stream_get_stats(s)->chunks_cached, held);
                        if (shuffle && pieces)
                            ASSERT(acc.pieces >= held + 2 * (in->nchunks - held) - 1); /* the last is short */
                        else
                            ASSERT_INT_EQ(acc.pieces, in->nchunks);
                    }
                    ooc_rowstate_free(rs);
                    ooc_stream_free(s);
                }
            }
            free(want);
            free(seen);
            ooc_array_free(a);
            unlink(path);
        }
    }
}

/* ooc_stream_read_rows(): the rows asked for (sorted, repeated, in the first, a middle and the short last
 * chunk) as float64, as the generator made them, from chunks decoded whole or in pieces, and read again
 * (from the cache when it has room); a row past the end is refused. */
static void test_read_rows(void)
{
    const char *specs[] = {"blobs:samples=23000,features=7,centers=3,seed=5,chunk_rows=5000",
                           "blobs:samples=23000,features=7,centers=3,seed=5,chunk_rows=5000,dtype=float32"};
    const uint64_t rows[] = {0, 0, 1, 4999, 5000, 12345, 12345, 14999, 20000, 22998, 22999};
    size_t n = sizeof rows / sizeof *rows;
    for (int si = 0; si < 2; si++)
        for (int shuffle = 0; shuffle <= 1; shuffle++) {
            char *want;
            ooc_array *a = blobs_file(specs[si], shuffle, &want);
            if (!a)
                continue;
            const ooc_array_info *in = ooc_array_get_info(a);
            double got[sizeof rows / sizeof *rows * 7];
            for (int threads = 1; threads <= 2; threads++)
                for (int cached = 0; cached <= 5; cached += 5) {
                    ooc_stream *s = open_stream(a, threads, working_bytes(a, threads) + cached * chunk_bytes(a), 1);
                    ooc_error err;
                    for (int again = 0; again < 2; again++) {
                        memset(got, 0, sizeof got);
                        ASSERT_OK(ooc_stream_read_rows(s, rows, n, got, &err));
                        for (size_t i = 0; i < n; i++)
                            for (uint64_t j = 0; j < in->cols; j++) {
                                uint64_t at = rows[i] * in->cols + j;
                                double w = in->dtype == OOC_FLOAT32 ? (double)((const float *)want)[at]
                                                                    : ((const double *)want)[at];
                                ASSERT(got[i * in->cols + j] == w);
                            }
                    }
                    uint64_t past = in->rows;
                    ASSERT_INT_EQ(ooc_stream_read_rows(s, &past, 1, got, &err), OOC_EINVAL);
                    ooc_stream_free(s);
                }
            free(want);
            ooc_array_free(a);
            unlink(path);
        }
}

/* ---- (j) chunks a pass leaves unread ---------------------------------------------------------------- */

typedef struct skip_ctx {
    uint64_t chunk_rows, cols;
    ooc_dtype dtype;
    const char *want;           /* every row, as the generator makes it */
    const unsigned char *skip;  /* the pass's */
    uint64_t plus;              /* what every read row's state holds past its row index */
} skip_ctx;

typedef struct skip_partial {
    uint64_t rows_read, skipped, bad;
} skip_partial;

/* A skipped chunk comes whole, without rows or state; a read one with its rows (in pieces or not) and its
 * state, which gets one more. */
static int map_skip(void *ctx, const void *rows, uint64_t row0, uint64_t nrows, void *state, void *partial, void *out,
                    ooc_error *err)
{
    (void)out, (void)err;
    const skip_ctx *c = ctx;
    skip_partial *p = partial;
    uint64_t chunk = row0 / c->chunk_rows;
    if (row0 % c->chunk_rows == 0)
        *p = (skip_partial){0, 0, 0};
    if (!rows) {
        p->bad += !c->skip[chunk] || state || row0 % c->chunk_rows;
        p->skipped++;
        return 0;
    }
    size_t row_bytes = (size_t)c->cols * ooc_dtype_size(c->dtype);
    p->bad += c->skip[chunk] || memcmp(rows, c->want + row0 * row_bytes, nrows * row_bytes) != 0;
    uint64_t *st = state;
    for (uint64_t i = 0; i < nrows; i++)
        p->bad += st[i]++ != row0 + i + c->plus;
    p->rows_read += nrows;
    return 0;
}

static void combine_skip(void *ctx, void *acc, const void *partial)
{
    (void)ctx;
    skip_partial *a = acc;
    const skip_partial *p = partial;
    a->rows_read += p->rows_read;
    a->skipped += p->skipped;
    a->bad += p->bad;
}

/* Passes that skip the odd chunks, then the even ones, then none: the skipped chunks are neither read (bytes
 * read and decoded count the others alone) nor their state touched, so every row's state went up once in
 * the first two passes; the third reads every chunk. From files (chunks read in place, shuffled and taken
 * in pieces or not; 77 small chunks, which the prefetcher reads), cached or not, state in memory or
 * spilled; and from blobs:. */
static void test_skipped_chunks(void)
{
    const char *specs[] = {"blobs:samples=23000,features=20,centers=3,seed=4,chunk_rows=5000",
                           "blobs:samples=23000,features=20,centers=3,seed=4,chunk_rows=300"};
    for (int input = 0; input < 4; input++) {
        const char *spec = specs[input == 2];
        char *want;
        ooc_array *a;
        if (input < 3) {
            a = blobs_file(spec, input != 1, &want);
        } else {
            a = open_array(spec);
            ooc_error e;
            ooc_blobs_params bp;
            ooc_blobs *b = NULL;
            ASSERT_OK(ooc_blobs_parse(spec, &bp, &e));
            ASSERT_OK(ooc_blobs_create(&bp, NULL, &b, &e));
            want = malloc(23000 * 20 * sizeof(double));
            ooc_blobs_rows(b, 0, 23000, want, NULL);
            ooc_blobs_free(b);
        }
        if (!a)
            continue;
        const ooc_array_info *in = ooc_array_get_info(a);
        unsigned char *skip[3]; /* odd chunks, even ones, none */
        for (int k = 0; k < 3; k++)
            skip[k] = malloc(in->nchunks);
        for (uint64_t j = 0; j < in->nchunks; j++) {
            skip[0][j] = j % 2;
            skip[1][j] = !(j % 2);
            skip[2][j] = 0;
        }
        for (int threads = 1; threads <= 3; threads++)
            for (int variant = 0; variant < 3; variant++) { /* state in memory; spilled; two chunks cached */
                ooc_stream_params p = ooc_stream_params_default();
                p.threads = threads;
                p.state_row_bytes = sizeof(uint64_t);
                p.cache = variant == 2;
                p.memory_limit = working_bytes(a, threads) +
                                 (variant == 1 ? (uint64_t)threads * in->chunk_rows : in->rows) * sizeof(uint64_t) +
                                 (variant == 2 ? 2 * cached_bytes(a) : 0);
                ooc_stream *s;
                ooc_rowstate *rs;
                ooc_error err;
                ASSERT_OK(ooc_stream_create(a, &p, &s, &err));
                ASSERT_INT_EQ(ooc_stream_get_stats(s)->state_spilled, variant == 1);
                ASSERT_OK(ooc_rowstate_create(s, sizeof(uint64_t), &rs, &err));
                char none;
                ooc_pass seed = {.phase = "seed", .partial_size = 1, .map = seed_state, .combine = no_combine,
                                 .no_input = 1, .state = rs};
                ASSERT_OK(ooc_stream_run(s, &seed, &none, &err));
                uint64_t read[3], decoded[3];
                for (int k = 0; k < 3; k++) {
                    const ooc_stream_stats *st = ooc_stream_get_stats(s);
                    uint64_t r0 = st->bytes_read, d0 = st->bytes_decoded;
                    skip_ctx c = {in->chunk_rows, in->cols, in->dtype, want, skip[k], k == 2};
                    skip_partial acc = {0, 0, 0};
                    ooc_pass pass = {.phase = "skip", .partial_size = sizeof acc, .ctx = &c, .map = map_skip,
                                     .combine = combine_skip, .state = rs, .pieces = k == 1, .skip = skip[k]};
                    ASSERT_OK(ooc_stream_run(s, &pass, &acc, &err));
                    ASSERT_INT_EQ(acc.bad, 0);
                    uint64_t want_skipped = 0, want_rows = 0;
                    for (uint64_t j = 0; j < in->nchunks; j++) {
                        want_skipped += skip[k][j];
                        want_rows += skip[k][j] ? 0 : ooc_array_chunk_rows(a, j);
                    }
                    ASSERT_INT_EQ(acc.skipped, want_skipped);
                    ASSERT_INT_EQ(acc.rows_read, want_rows);
                    read[k] = st->bytes_read - r0;
                    decoded[k] = st->bytes_decoded - d0;
                }
                ASSERT_INT_EQ(decoded[0] + decoded[1], decoded[2]);
                if (variant != 2) /* else cached chunks are not read again */
                    ASSERT_INT_EQ(read[0] + read[1], read[2]);
                ASSERT(input == 3 || variant == 2 || read[0] > 0);
                ooc_rowstate_free(rs);
                ooc_stream_free(s);
            }
        for (int k = 0; k < 3; k++)
            free(skip[k]);
        free(want);
        ooc_array_free(a);
        if (input < 3)
            unlink(path);
    }
}

OOC_TEST_MAIN(test_each_chunk_once_in_order, test_sum_bitwise_identical, test_cache_serves_second_pass,
              test_map_error_stops_pass, test_threads_resolved, test_limit_below_working_set, test_colstats_known_values,
              test_processing_chunks, test_row_state, test_pieces, test_read_rows, test_skipped_chunks)
