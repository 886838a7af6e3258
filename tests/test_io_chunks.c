/* Chunk round trips through the fast path (our threads encode, H5Dwrite_chunk / H5Dread_chunk move bytes)
 * against HDF5's own pipeline (H5Dwrite / H5Dread with the shuffle filter and the registered zstd filter),
 * in both directions, for float64/float32, shuffle on/off, several levels and a last partial chunk. */
#define _GNU_SOURCE /* mkstemps */
#include "ooc_h5.h"
#include "ooc_test.h"

#include <hdf5.h>
#include <stdint.h>
#include <unistd.h>

enum { ROWS = 1000, COLS = 7, CHUNK = 300 }; /* 4 chunks, the last holding 100 rows */

static void fill(double *x, size_t n)
{
    uint64_t s = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        x[i] = (double)(int64_t)(s >> 11) * 1e-12 + (double)(i % 13); /* compressible-ish and exact */
    }
}

static void to_dtype(const double *x, size_t n, ooc_dtype t, void *out)
{
    for (size_t i = 0; i < n; i++) {
        if (t == OOC_FLOAT32)
            ((float *)out)[i] = (float)x[i];
        else
            ((double *)out)[i] = x[i];
    }
}

/* Write /fast with our encoder and /hdf5 through HDF5's own filters, from the same values. */
static void write_both(const char *path, ooc_dtype t, ooc_codec codec, const void *data)
{
    ooc_h5_file *f;
    ooc_error err;
    ASSERT_OK(ooc_h5_file_create(path, NULL, &f, &err));
    ooc_h5_chunked_params p = {t, 2, ROWS, COLS, CHUNK, codec};
    ooc_h5_chunked *d;
    ooc_h5_chunked_params bad = p;
    bad.codec.zstd_level = 99; /* outside 1..22 (0: none): refused, as ooc_codec_parse() refuses it */
    ASSERT_INT_EQ(ooc_h5_chunked_create(f, "/bad", &bad, &d, &err), OOC_EINVAL);
    ASSERT_OK(ooc_h5_chunked_create(f, "/fast", &p, &d, &err));
    size_t esize = ooc_dtype_size(t), chunk_bytes = ooc_h5_chunked_chunk_bytes(d);
    ASSERT_INT_EQ(chunk_bytes, CHUNK * COLS * esize);
    ooc_h5_chunked_params got = ooc_h5_chunked_get_params(d);
    ASSERT(got.dtype == t && got.rank == 2 && got.rows == ROWS && got.cols == COLS && got.chunk_rows == CHUNK);
    ooc_codec_ctx *ctx;
    ASSERT_OK(ooc_codec_ctx_create(&ctx));
    char *raw = calloc(1, chunk_bytes);
    size_t cap = ooc_codec_bound(ooc_h5_chunked_codec(d), chunk_bytes);
    char *enc = malloc(cap);
    for (uint64_t c = 0; c * CHUNK < ROWS; c++) {
        size_t rows = ROWS - c * CHUNK < CHUNK ? ROWS - c * CHUNK : CHUNK;
        memset(raw, 0, chunk_bytes);
        memcpy(raw, (const char *)data + c * CHUNK * COLS * esize, rows * COLS * esize);
        size_t n;
        ASSERT_OK(ooc_codec_encode(ooc_h5_chunked_codec(d), ctx, raw, chunk_bytes, enc, cap, &n, &err));
        ASSERT_OK(ooc_h5_chunked_write(d, c, enc, n, &err));
    }
    ASSERT_OK(ooc_h5_chunked_close(d, &err));
    ASSERT_OK(ooc_h5_file_close(f, &err));

    /* HDF5's own pipeline, into the same file (the zstd filter is registered by the ooc calls above). */
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hsize_t dims[2] = {ROWS, COLS}, chunk[2] = {CHUNK, COLS};
    hid_t space = H5Screate_simple(2, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    if (codec.shuffle)
        H5Pset_shuffle(dcpl);
    if (codec.zstd_level) {
        unsigned level = (unsigned)codec.zstd_level;
        ASSERT(H5Pset_filter(dcpl, OOC_H5Z_FILTER_ZSTD, H5Z_FLAG_MANDATORY, 1, &level) >= 0);
    }
    hid_t mt = t == OOC_FLOAT32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
    hid_t ds = H5Dcreate2(file, "/hdf5", mt, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ASSERT(ds >= 0);
    ASSERT(H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(file);
    ooc_codec_ctx_free(ctx);
    free(raw);
    free(enc);
}

/* Read `name` both ways (raw chunks decoded by us, row chunks read by HDF5 when unfiltered; HDF5's H5Dread of
 * every row) and compare with data. */
static void read_both(const char *path, const char *name, ooc_dtype t, ooc_codec codec, const void *data)
{
    ooc_h5_reader *r;
    ooc_error err;
    ASSERT_OK(ooc_h5_reader_open(path, name, &r, &err));
    const ooc_h5_info *in = ooc_h5_reader_info(r);
    size_t esize = ooc_dtype_size(t), total = (size_t)ROWS * COLS * esize;
    ASSERT_INT_EQ(in->rows, ROWS);
    ASSERT_INT_EQ(in->cols, COLS);
    ASSERT_INT_EQ(in->chunk_rows, CHUNK);
    ASSERT(in->raw_chunks);
    ASSERT_INT_EQ(in->codec.zstd_level, codec.zstd_level);
    ASSERT_INT_EQ(in->codec.shuffle, codec.shuffle);
    ASSERT_INT_EQ(in->nfilters, !!codec.shuffle + !!codec.zstd_level);

    char *got = malloc(total), *chunk = malloc(CHUNK * COLS * esize);
    void *buf = NULL;
    size_t cap = 0, bytes;
    ooc_codec_ctx *ctx;
    ASSERT_OK(ooc_codec_ctx_create(&ctx));
    for (uint64_t c = 0; c * CHUNK < ROWS; c++) {
        ASSERT_OK(ooc_h5_reader_read_raw_chunk(r, c, &buf, &cap, &bytes, &err));
        size_t rows = ROWS - c * CHUNK < CHUNK ? ROWS - c * CHUNK : CHUNK;
        if (in->nfilters == 0) { /* unfiltered chunks are left to HDF5's own read (ooc_h5_read.c) */
            ASSERT_INT_EQ(bytes, 0);
            ASSERT_OK(ooc_h5_reader_read_rows(r, c * CHUNK, rows, t, got + c * CHUNK * COLS * esize, &err));
            continue;
        }
        ASSERT(bytes > 0);
        ASSERT_OK(ooc_codec_decode(&in->codec, ctx, buf, bytes, chunk, CHUNK * COLS * esize, &err));
        memcpy(got + c * CHUNK * COLS * esize, chunk, rows * COLS * esize);
    }
    ASSERT_MEM_EQ(got, data, total);
    memset(got, 0, total);
    ASSERT_OK(ooc_h5_reader_read_rows(r, 0, ROWS, t, got, &err));
    ASSERT_MEM_EQ(got, data, total);
    ooc_codec_ctx_free(ctx);
    ooc_h5_reader_close(r);
    free(buf);
    free(got);
    free(chunk);
}

static void round_trip(ooc_dtype t, int shuffle, int level)
{
    char path[] = "chunks_XXXXXX.h5";
    int fd = mkstemps(path, 3);
    close(fd);
    double *x = malloc(sizeof(double) * ROWS * COLS);
    void *data = malloc(sizeof(double) * ROWS * COLS);
    fill(x, (size_t)ROWS * COLS);
    to_dtype(x, (size_t)ROWS * COLS, t, data);
    ooc_codec codec = {level, shuffle, 0};
    write_both(path, t, codec, data);
    read_both(path, "/fast", t, codec, data);
    read_both(path, "/hdf5", t, codec, data);
    unlink(path);
    free(x);
    free(data);
}

static void test_float64_all_codecs(void)
{
    int levels[] = {0, 1, 3, 19};
    for (int s = 0; s <= 1; s++)
        for (size_t l = 0; l < sizeof levels / sizeof *levels; l++)
            round_trip(OOC_FLOAT64, s, levels[l]);
}

static void test_float32_all_codecs(void)
{
    int levels[] = {0, 1, 3, 19};
    for (int s = 0; s <= 1; s++)
        for (size_t l = 0; l < sizeof levels / sizeof *levels; l++)
            round_trip(OOC_FLOAT32, s, levels[l]);
}

static void test_codec_detects_corruption(void)
{
    enum { N = 4096 };
    double x[N], back[N];
    fill(x, N);
    ooc_codec c = {3, 1, 8};
    ooc_codec_ctx *ctx;
    ASSERT_OK(ooc_codec_ctx_create(&ctx));
    size_t cap = ooc_codec_bound(&c, sizeof x), n;
    unsigned char *enc = malloc(cap);
    ooc_error err;
    ASSERT_OK(ooc_codec_encode(&c, ctx, x, sizeof x, enc, cap, &n, &err));
    ASSERT_OK(ooc_codec_decode(&c, ctx, enc, n, back, sizeof back, &err));
    ASSERT_MEM_EQ(back, x, sizeof x);
    /* Flip one byte in the frame body: the content checksum catches it even if zstd still decodes. */
    for (size_t pos = 20; pos < n; pos += n / 7) {
        enc[pos] ^= 0x40;
        int rc = ooc_codec_decode(&c, ctx, enc, n, back, sizeof back, &err);
        ASSERT_INT_EQ(rc, OOC_ECORRUPT);
        ASSERT_STR_CONTAINS(err.msg, "zstd");
        enc[pos] ^= 0x40;
    }
    /* Truncated frame, and a frame that is not one. */
    ASSERT_INT_EQ(ooc_codec_decode(&c, ctx, enc, n / 2, back, sizeof back, &err), OOC_ECORRUPT);
    ASSERT_INT_EQ(ooc_codec_decode(&c, ctx, x, 100, back, sizeof back, &err), OOC_ECORRUPT);
    /* The right frame, but the caller expects another size. */
    ASSERT_INT_EQ(ooc_codec_decode(&c, ctx, enc, n, back, sizeof back - 8, &err), OOC_ECORRUPT);
    ooc_codec_ctx_free(ctx);
    free(enc);
}

/* A chunk staged in parts (as chunkgen hands over blocks of rows) encodes to the same bytes as the whole
 * chunk at once, which the round trips above check against HDF5's own filters, and decodes back. */
static void test_codec_staged(void)
{
    enum { N = 30011 }; /* elements: not a multiple of any part or SIMD width */
    double *x = malloc(N * sizeof *x), *back = malloc(N * sizeof *x);
    unsigned char *staged = malloc(N * sizeof *x);
    fill(x, N);
    ooc_codec_ctx *ctx;
    ASSERT_OK(ooc_codec_ctx_create(&ctx));
    ooc_error err;
    const int levels[] = {0, 1, 3};
    for (int shuffle = 0; shuffle <= 1; shuffle++)
        for (size_t l = 0; l < sizeof levels / sizeof *levels; l++)
            for (size_t esize = 4; esize <= 8; esize += 4) {
                ooc_codec c = {levels[l], shuffle, esize};
                size_t raw = N * esize, cap = ooc_codec_bound(&c, raw), n1, n2;
                unsigned char *a = malloc(cap), *b = malloc(cap);
                ASSERT_OK(ooc_codec_encode(&c, ctx, x, raw, a, cap, &n1, &err));
                for (size_t off = 0, part = 1; off < raw; off += part * esize, part = part * 3 % 1000 + 1) {
                    size_t bytes = raw - off < part * esize ? raw - off : part * esize;
                    ooc_codec_stage(&c, (const char *)x + off, off, bytes, staged, raw);
                }
                ASSERT_OK(ooc_codec_encode_staged(&c, ctx, staged, raw, b, cap, &n2, &err));
                ASSERT_INT_EQ(n2, n1);
                ASSERT_MEM_EQ(b, a, n1);
                ASSERT_OK(ooc_codec_decode(&c, ctx, b, n2, back, raw, &err));
                ASSERT_MEM_EQ(back, x, raw);
                free(a);
                free(b);
            }
    ooc_codec_ctx_free(ctx);
    free(x);
    free(back);
    free(staged);
}

static void test_codec_parse(void)
{
    ooc_codec c = {0, 1, 8};
    ASSERT_OK(ooc_codec_parse("zstd", &c));
    ASSERT_INT_EQ(c.zstd_level, 3);
    ASSERT_OK(ooc_codec_parse("zstd:19", &c));
    ASSERT_INT_EQ(c.zstd_level, 19);
    ASSERT_OK(ooc_codec_parse("none", &c));
    ASSERT_INT_EQ(c.zstd_level, 0);
    const char *bad[] = {"zstd:0", "zstd:23", "zstd:", "zstd:3x", "gzip", "", "zstd:-1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ASSERT_INT_EQ(ooc_codec_parse(bad[i], &c), OOC_EINVAL);
}

OOC_TEST_MAIN(test_float64_all_codecs, test_float32_all_codecs, test_codec_detects_corruption, test_codec_staged,
              test_codec_parse)
