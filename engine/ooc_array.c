#include "ooc_array.h"
#include "ooc_buffer_internal.h"

#include "ooc_blobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ooc_array {
    ooc_array_info info;
    char *input;
    ooc_h5_reader *h5;  /* HDF5 input */
    ooc_blobs *blobs;   /* generated input */
    size_t stored_chunk_bytes; /* raw chunks: decoded bytes of one storage chunk */
};

/* Rows per processing chunk: our layout's storage chunks as they are; filtered storage chunks in a multiple
 * of their rows (so none is split between two processing chunks and decoded twice) of about the target
 * size; contiguous data and unfiltered chunks, which HDF5 reads in part without decoding anything, in
 * blocks of the target size (column chunks of every row, (n, 1), made one processing chunk of all rows). */
static uint64_t processing_rows(const ooc_h5_info *in)
{
    uint64_t row_bytes = in->cols * 8;
    uint64_t target = OOC_ARRAY_TARGET_CHUNK_BYTES / (row_bytes ? row_bytes : 1);
    if (target < 1)
        target = 1;
    uint64_t rows;
    if (in->raw_chunks)
        rows = in->chunk_rows;
    else if (in->chunked && in->nfilters > 0)
        rows = in->chunk_rows * (target > in->chunk_rows ? target / in->chunk_rows : 1);
    else
        rows = target;
    return rows < in->rows ? rows : in->rows;
}

static int open_h5(ooc_array *a, int to_read, ooc_error *err)
{
    char file[4096], dataset[1024];
    if (ooc_h5_split_name(a->input, "/X", file, sizeof file, dataset, sizeof dataset) != 0)
        return ooc_error_set(err, OOC_EINVAL, "%s: not FILE.h5[:/dataset]", a->input);
    int rc = (to_read ? ooc_h5_reader_open : ooc_h5_reader_describe)(file, dataset, &a->h5, err);
    if (rc)
        return rc;
    const ooc_h5_info *in = ooc_h5_reader_info(a->h5);
    const char *name = ooc_h5_reader_name(a->h5);
    if (in->rank != 2)
        return ooc_error_set(err, OOC_EFORMAT, "%s: a %d-D dataset; expected 2-D (samples x features)", name,
                             in->rank);
    if (to_read && (in->rows == 0 || in->cols == 0))
        return ooc_error_set(err, OOC_EINVAL, "%s: empty dataset (%llu x %llu)", name,
                             (unsigned long long)in->rows, (unsigned long long)in->cols);
    a->info.rows = in->rows;
    a->info.cols = in->cols;
    a->info.dtype = in->is_float && in->type_size == 4 ? OOC_FLOAT32 : OOC_FLOAT64;
    a->info.chunk_rows = processing_rows(in);
    a->info.h5 = in;
    if (in->raw_chunks)
        a->stored_chunk_bytes = (size_t)(in->chunk_rows * in->cols * in->type_size);
    return 0;
}

static int open_blobs(ooc_array *a, ooc_error *err)
{
    ooc_blobs_params p;
    int rc = ooc_blobs_parse(a->input, &p, err);
    if (!rc)
        rc = ooc_blobs_create(&p, NULL, &a->blobs, err);
    if (rc)
        return rc;
    a->info.rows = p.samples;
    a->info.cols = p.features;
    a->info.dtype = p.dtype;
    a->info.chunk_rows = p.chunk_rows < p.samples ? p.chunk_rows : p.samples;
    return 0;
}

static int array_open(const char *input, int to_read, ooc_array **out, ooc_error *err)
{
    *out = NULL;
    ooc_array *a = calloc(1, sizeof *a);
    if (!a || !(a->input = malloc(strlen(input) + 1))) {
        free(a);
        return ooc_error_set(err, OOC_ENOMEM, "%s: out of memory", input);
    }
    strcpy(a->input, input);
    a->info.input = a->input;
    int rc = strncmp(input, "blobs:", 6) == 0 ? open_blobs(a, err) : open_h5(a, to_read, err);
    if (rc) {
        ooc_array_free(a);
        return rc;
    }
    a->info.nchunks = a->info.chunk_rows ? (a->info.rows + a->info.chunk_rows - 1) / a->info.chunk_rows : 0;
    *out = a;
    return 0;
}

int ooc_array_open(const char *input, ooc_array **out, ooc_error *err)
{
    return array_open(input, 1, out, err);
}

int ooc_array_describe(const char *input, ooc_array **out, ooc_error *err)
{
    return array_open(input, 0, out, err);
}

void ooc_array_free(ooc_array *a)
{
    if (!a)
        return;
    ooc_h5_reader_close(a->h5);
    ooc_blobs_free(a->blobs);
    free(a->input);
    free(a);
}

const ooc_array_info *ooc_array_get_info(const ooc_array *a)
{
    return &a->info;
}

/* "1000 x 20 float64 read in chunks of 1000 rows, 12345 bytes stored" */
static void describe_seen(const uint64_t v[5], char *buf, size_t size)
{
    int n = snprintf(buf, size, "%llu x %llu %s read in chunks of %llu rows", (unsigned long long)v[0],
                     (unsigned long long)v[1], ooc_dtype_name((ooc_dtype)v[2]), (unsigned long long)v[3]);
    if (v[4] && n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, ", %llu bytes stored", (unsigned long long)v[4]);
}

int ooc_array_agree(const ooc_array *a, const ooc_dist *d, ooc_error *err)
{
    const ooc_array_info *in = &a->info;
    uint64_t mine[5] = {in->rows, in->cols, (uint64_t)in->dtype, in->chunk_rows, in->h5 ? in->h5->stored_bytes : 0};
    uint64_t first[5];
    memcpy(first, mine, sizeof first);
    ooc_dist_bcast(d, first, sizeof first, 0);
    int rc = 0;
    if (memcmp(first, mine, sizeof mine) != 0) {
        char seen[160], seen0[160];
        describe_seen(mine, seen, sizeof seen);
        describe_seen(first, seen0, sizeof seen0);
        rc = ooc_error_set(err, OOC_EINVAL, "%s: process %d sees %s, process 0 %s: every process must read the "
                           "same input", in->input, ooc_dist_rank(d), seen, seen0);
    }
    return ooc_dist_agree(d, rc, err);
}

uint64_t ooc_array_chunk_rows(const ooc_array *a, uint64_t chunk)
{
    uint64_t row0 = chunk * a->info.chunk_rows;
    if (row0 >= a->info.rows)
        return 0;
    uint64_t n = a->info.rows - row0;
    return n < a->info.chunk_rows ? n : a->info.chunk_rows;
}

void ooc_array_raw_free(ooc_array_raw *raw)
{
    free(raw->buf);
    memset(raw, 0, sizeof *raw);
}

int ooc_array_in_place(ooc_array *a, uint64_t *max_stored_bytes)
{
    *max_stored_bytes = 0;
    return a->h5 && a->info.h5->raw_chunks && ooc_h5_reader_in_place(a->h5, max_stored_bytes);
}

static int ensure(ooc_array_raw *raw, size_t bytes, const char *input, ooc_error *err)
{
    if (bytes <= raw->cap)
        return 0;
    void *p = realloc(raw->buf, bytes);
    if (!p)
        return ooc_error_set(err, OOC_ENOMEM, "%s: cannot allocate %zu bytes for a chunk", input, bytes);
    ooc__buffer_advise(p, bytes); /* first touch: 2 MiB at a time, not 4 KiB */
    raw->buf = p;
    raw->cap = bytes;
    return 0;
}

/* Our layout: the stored bytes, read in place or through HDF5; raw->bytes = 0 when HDF5 must decode the
 * chunk. */
static int fetch_stored(ooc_array *a, uint64_t chunk, ooc_array_raw *raw, ooc_error *err)
{
    uint64_t most;
    if (ooc_h5_reader_in_place(a->h5, &most)) {
        int rc = ensure(raw, (size_t)most, a->info.input, err);
        if (rc)
            return rc;
        if ((raw->bytes = ooc_h5_reader_read_raw_chunk_in_place(a->h5, chunk, raw->buf, raw->cap)) > 0)
            return 0;
    }
    return ooc_h5_reader_read_raw_chunk(a->h5, chunk, &raw->buf, &raw->cap, &raw->bytes, err);
}

int ooc_array_fetch(ooc_array *a, uint64_t chunk, ooc_array_raw *raw, ooc_error *err)
{
    raw->chunk = chunk;
    raw->bytes = raw->bytes_read = 0;
    raw->decoded = 0;
    if (a->blobs)
        return 0;
    const ooc_array_info *in = &a->info;
    uint64_t rows = ooc_array_chunk_rows(a, chunk);
    if (in->h5->raw_chunks) {
        int rc = fetch_stored(a, chunk, raw, err);
        if (rc || raw->bytes > 0) {
            raw->bytes_read = raw->bytes;
            return rc;
        }
        /* not stored as the codec expects: let HDF5 read it */
    }
    size_t bytes = (size_t)(rows * in->cols * ooc_dtype_size(in->dtype));
    int rc = ensure(raw, bytes, in->input, err);
    if (!rc)
        rc = ooc_h5_reader_read_rows(a->h5, chunk * in->chunk_rows, rows, in->dtype, raw->buf, err);
    if (!rc) {
        raw->bytes = bytes;
        raw->decoded = 1;
        /* HDF5 does not say how many stored bytes it read: count the chunk's share of the dataset. */
        raw->bytes_read = in->h5->stored_bytes * rows / in->rows;
    }
    return rc;
}

/* A chunk that does not decode, named as HDF5 read failures are: "FILE:/dataset: chunk 4 (rows 800..999): WHY". */
static int chunk_error(const ooc_array *a, uint64_t chunk, const ooc_error *e, ooc_error *err)
{
    uint64_t row0 = chunk * a->info.chunk_rows;
    return ooc_error_set(err, e->code, "%s: chunk %llu (rows %llu..%llu): %s", ooc_h5_reader_name(a->h5),
                         (unsigned long long)chunk, (unsigned long long)row0,
                         (unsigned long long)(row0 + ooc_array_chunk_rows(a, chunk) - 1), e->msg);
}

int ooc_array_decode(ooc_array *a, const ooc_array_raw *raw, ooc_codec_ctx *ctx, void *dst, ooc_error *err)
{
    const ooc_array_info *in = &a->info;
    uint64_t rows = ooc_array_chunk_rows(a, raw->chunk);
    if (a->blobs) {
        ooc_blobs_rows(a->blobs, raw->chunk * in->chunk_rows, (size_t)rows, dst, NULL);
        return 0;
    }
    if (raw->decoded) {
        memcpy(dst, raw->buf, raw->bytes);
        return 0;
    }
    /* Storage chunks are stored whole, the last one padded: decode all of it (dst holds chunk_rows rows). */
    ooc_error e;
    if (ooc_codec_decode(&in->h5->codec, ctx, raw->buf, raw->bytes, dst, a->stored_chunk_bytes, &e) != 0)
        return chunk_error(a, raw->chunk, &e, err);
    return 0;
}

/* Pieces pay only where decoding whole would unshuffle the chunk through memory, to be read back row by
 * row: our byte-shuffled chunks. Anything else decodes whole at no extra cost. */
int ooc_array_stage(ooc_array *a, const ooc_array_raw *raw, ooc_codec_ctx *ctx, const void **staged, ooc_error *err)
{
    const ooc_array_info *in = &a->info;
    if (a->blobs || raw->decoded || !in->h5->codec.shuffle)
        return 0;
    ooc_error e;
    if (ooc_codec_decode_staged(&in->h5->codec, ctx, raw->buf, raw->bytes, a->stored_chunk_bytes, staged, &e))
        return chunk_error(a, raw->chunk, &e, err);
    return 1;
}

void ooc_array_unstage(const ooc_array *a, const void *staged, uint64_t from, uint64_t n, void *dst)
{
    size_t row_bytes = (size_t)a->info.cols * ooc_dtype_size(a->info.dtype);
    ooc_codec_unstage(&a->info.h5->codec, staged, (size_t)from * row_bytes, (size_t)n * row_bytes, dst,
                      a->stored_chunk_bytes);
}
