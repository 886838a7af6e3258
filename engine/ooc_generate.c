#include "ooc_generate.h"

#include "ooc_cancel.h"
#include "ooc_clock.h"
#include "ooc_h5.h"
#include "ooc_output.h"
#include "ooc_pass_internal.h"
#include "ooc_threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ooc_generate_params ooc_generate_params_default(void)
{
    ooc_generate_params p = {0};
    p.blobs = ooc_blobs_params_default();
    p.codec.zstd_level = 3;
    p.codec.shuffle = 1;
    p.labels = 1;
    return p;
}

/* One thread's buffers: a block of rows of X, the chunk of X staged for encoding, the chunk of y, and their
 * encoded bytes. */
typedef struct slot {
    void *block, *x_staged, *x_enc;
    int32_t *y;
    void *y_enc;
    size_t x_enc_bytes, y_enc_bytes;
    ooc_codec_ctx *codec;
} slot;

typedef struct job {
    const ooc_generate_params *p;
    const ooc_blobs *blobs;
    ooc_h5_chunked *x, *y;
    size_t x_chunk_bytes, y_chunk_bytes, x_cap, y_cap;
    uint64_t chunk_rows, block_rows;
    slot *slots;
    ooc_generate_stats *stats;
    double start; /* ooc_clock_seconds() at the start */
} job;

static uint64_t rows_in_chunk(const job *j, uint64_t chunk)
{
    uint64_t row0 = chunk * j->chunk_rows, n = j->p->blobs.samples - row0;
    return n < j->chunk_rows ? n : j->chunk_rows;
}

/* Bytes of rows generated at a time: the block stays in cache while it is staged (shuffled) into the chunk,
 * so the raw chunk never goes through memory. */
#define BLOCK_BYTES ((size_t)256 << 10)

static int produce(void *ctx, uint64_t chunk, int worker, int s, ooc_error *err)
{
    (void)worker; /* a window of one: the thread's slot holds all its buffers */
    job *j = ctx;
    slot *b = &j->slots[s];
    const ooc_codec *xc = ooc_h5_chunked_codec(j->x);
    uint64_t n = rows_in_chunk(j, chunk), row0 = chunk * j->chunk_rows;
    size_t row_bytes = j->x_chunk_bytes / j->chunk_rows;
    /* HDF5 stores the last chunk at full size: its rows past the end are zero. */
    for (uint64_t r = 0; r < j->chunk_rows; r += j->block_rows) {
        uint64_t m = j->chunk_rows - r < j->block_rows ? j->chunk_rows - r : j->block_rows;
        uint64_t live = r >= n ? 0 : n - r < m ? n - r : m;
        ooc_blobs_rows(j->blobs, row0 + r, (size_t)live, b->block, j->y ? b->y + r : NULL);
        memset((char *)b->block + live * row_bytes, 0, (m - live) * row_bytes);
        ooc_codec_stage(xc, b->block, r * row_bytes, m * row_bytes, b->x_staged, j->x_chunk_bytes);
    }
    if (ooc_codec_encode_staged(xc, b->codec, b->x_staged, j->x_chunk_bytes, b->x_enc, j->x_cap, &b->x_enc_bytes,
                                err))
        return ooc_h5_chunked_blame(j->x, chunk, err);
    if (!j->y)
        return 0;
    memset(b->y + n, 0, (j->chunk_rows - n) * sizeof *b->y);
    if (ooc_codec_encode(ooc_h5_chunked_codec(j->y), b->codec, b->y, j->y_chunk_bytes, b->y_enc, j->y_cap,
                         &b->y_enc_bytes, err))
        return ooc_h5_chunked_blame(j->y, chunk, err);
    return 0;
}

static int consume(void *ctx, uint64_t chunk, int s, ooc_error *err)
{
    job *j = ctx;
    slot *b = &j->slots[s];
    int rc = ooc_h5_chunked_write(j->x, chunk, b->x_enc, b->x_enc_bytes, err);
    if (!rc && j->y)
        rc = ooc_h5_chunked_write(j->y, chunk, b->y_enc, b->y_enc_bytes, err);
    if (rc)
        return rc;
    uint64_t n = rows_in_chunk(j, chunk);
    ooc_generate_stats *st = j->stats;
    st->chunks++;
    st->rows += n;
    st->raw_bytes += n * (j->x_chunk_bytes / j->chunk_rows) + (j->y ? n * sizeof(int32_t) : 0);
    st->stored_bytes += b->x_enc_bytes + (j->y ? b->y_enc_bytes : 0);
    if (j->p->progress) {
        ooc_progress pr = {"generate", st->chunks, ooc_blobs_nchunks(j->blobs), st->rows, st->raw_bytes,
                           ooc_clock_seconds() - j->start};
        j->p->progress(&pr, j->p->progress_user);
    }
    return 0;
}

static int alloc_slots(job *j, int threads, ooc_error *err)
{
    j->slots = calloc((size_t)threads, sizeof *j->slots);
    if (!j->slots)
        return ooc_error_set(err, OOC_ENOMEM, "generate: out of memory");
    for (int i = 0; i < threads; i++) {
        slot *b = &j->slots[i];
        b->block = malloc(j->block_rows * (j->x_chunk_bytes / j->chunk_rows));
        b->x_staged = malloc(j->x_chunk_bytes);
        b->x_enc = malloc(j->x_cap);
        if (j->y) {
            b->y = malloc(j->y_chunk_bytes);
            b->y_enc = malloc(j->y_cap);
        }
        if (!b->block || !b->x_staged || !b->x_enc || (j->y && (!b->y || !b->y_enc)) || ooc_codec_ctx_create(&b->codec))
            return ooc_error_set(err, OOC_ENOMEM, "generate: cannot allocate chunk buffers (%zu bytes per thread)",
                                 j->x_chunk_bytes + j->x_cap + j->block_rows * (j->x_chunk_bytes / j->chunk_rows));
    }
    return 0;
}

static void free_slots(job *j, int threads)
{
    for (int i = 0; j->slots && i < threads; i++) {
        slot *b = &j->slots[i];
        free(b->block);
        free(b->x_staged);
        free(b->x_enc);
        free(b->y);
        free(b->y_enc);
        ooc_codec_ctx_free(b->codec);
    }
    free(j->slots);
}

static int write_metadata(ooc_h5_file *f, const ooc_generate_params *p, const ooc_blobs *blobs,
                          uint64_t chunk_rows, ooc_error *err)
{
    const ooc_blobs_params *b = ooc_blobs_get_params(blobs);
    uint64_t dims[2] = {b->centers, b->features};
    char compression[16];
    if (p->codec.zstd_level)
        snprintf(compression, sizeof compression, "zstd:%d", p->codec.zstd_level);
    else
        snprintf(compression, sizeof compression, "none");
    double box[2] = {b->center_lo, b->center_hi};
    int rc = ooc_h5_write_dataset(f, "/centers", OOC_FLOAT64, 2, dims, ooc_blobs_centers(blobs), err);
    if (!rc) rc = ooc_h5_attr_uint(f, "samples", b->samples, err);
    if (!rc) rc = ooc_h5_attr_uint(f, "features", b->features, err);
    if (!rc) rc = ooc_h5_attr_uint(f, "centers", b->centers, err);
    if (!rc) rc = ooc_h5_attr_double(f, "cluster_std", b->cluster_std, err);
    if (!rc && !p->centers_from) /* given centres: no box was drawn from */
        rc = ooc_h5_attr_doubles(f, "center_box", box, 2, err);
    if (!rc) rc = ooc_h5_attr_uint(f, "seed", b->seed, err);
    if (!rc) rc = ooc_h5_attr_uint(f, "chunk_rows", chunk_rows, err);
    if (!rc) rc = ooc_h5_attr_string(f, "dtype", ooc_dtype_name(b->dtype), err);
    if (!rc) rc = ooc_h5_attr_string(f, "compression", compression, err);
    if (!rc) rc = ooc_h5_attr_uint(f, "shuffle", (uint64_t)(p->codec.shuffle && p->codec.zstd_level), err);
    if (!rc && p->centers_from)
        rc = ooc_h5_attr_string(f, "centers_from", p->centers_from, err);
    return rc;
}

static int create_datasets(job *j, ooc_h5_file *f, ooc_error *err)
{
    const ooc_blobs_params *b = ooc_blobs_get_params(j->blobs);
    ooc_codec codec = j->p->codec;
    codec.shuffle = codec.shuffle && codec.zstd_level; /* the shuffle only serves compression */
    ooc_h5_chunked_params xp = {b->dtype, 2, b->samples, b->features, b->chunk_rows, codec};
    int rc = ooc_h5_chunked_create(f, "/X", &xp, &j->x, err);
    if (!rc && j->p->labels) {
        ooc_h5_chunked_params yp = {OOC_INT32, 1, b->samples, 1, b->chunk_rows, codec};
        rc = ooc_h5_chunked_create(f, "/y", &yp, &j->y, err);
    }
    if (rc)
        return rc;
    j->chunk_rows = b->chunk_rows < b->samples ? b->chunk_rows : b->samples;
    j->x_chunk_bytes = ooc_h5_chunked_chunk_bytes(j->x);
    size_t row_bytes = j->x_chunk_bytes / j->chunk_rows;
    j->block_rows = row_bytes < BLOCK_BYTES ? BLOCK_BYTES / row_bytes : 1;
    j->x_cap = ooc_codec_bound(ooc_h5_chunked_codec(j->x), j->x_chunk_bytes);
    if (j->y) {
        j->y_chunk_bytes = ooc_h5_chunked_chunk_bytes(j->y);
        j->y_cap = ooc_codec_bound(ooc_h5_chunked_codec(j->y), j->y_chunk_bytes);
    }
    return 0;
}

int ooc_generate(const ooc_generate_params *p, const char *path, ooc_generate_stats *stats, ooc_error *err)
{
    ooc_generate_stats local;
    job j = {.p = p, .stats = stats ? stats : &local};
    memset(j.stats, 0, sizeof *j.stats);
    j.start = ooc_clock_seconds();
    int threads = ooc_threads_resolve(p->threads);

    ooc_blobs *blobs = NULL;
    ooc_output *out = NULL;
    ooc_h5_file *f = NULL;
    ooc_error e;
    int rc = ooc_blobs_create(&p->blobs, p->centers, &blobs, &e);
    if (rc) /* name where bad centres came from */
        ooc_error_set(err, rc, "%s%s%s", p->centers_from ? p->centers_from : "", p->centers_from ? ": " : "", e.msg);
    if (!rc)
        rc = ooc_output_open(path, p->force, &out, err);
    if (!rc)
        rc = ooc_h5_file_create(ooc_output_path(out), path, &f, err);
    j.blobs = blobs;
    if (!rc)
        rc = create_datasets(&j, f, err);
    if (!rc)
        rc = alloc_slots(&j, threads, err);
    if (!rc) {
        ooc__ordered_pass pass = {ooc_blobs_nchunks(blobs), threads, 1, produce, consume, &j};
        rc = ooc__pass_ordered(&pass, err);
    }
    if (!rc)
        rc = write_metadata(f, p, blobs, j.chunk_rows, err);
    free_slots(&j, threads);
    /* Closing flushes metadata and can fail too (a full disk); the first error is the one reported. */
    int rc2 = ooc_h5_chunked_close(j.x, rc ? NULL : err);
    rc = rc ? rc : rc2;
    rc2 = ooc_h5_chunked_close(j.y, rc ? NULL : err);
    rc = rc ? rc : rc2;
    rc2 = ooc_h5_file_close(f, rc ? NULL : err);
    rc = rc ? rc : rc2;
    if (!rc)
        rc = ooc_output_ready(out, err);
    if (!rc)
        rc = ooc_cancel_check(err);
    j.stats->seconds = ooc_clock_seconds() - j.start;
    if (!rc && p->before_commit)
        rc = p->before_commit(j.stats, p->before_commit_user, err);
    if (!rc)
        rc = ooc_output_commit(out, err);
    else
        ooc_output_abort(out);
    ooc_blobs_free(blobs);
    return rc;
}
