/* The reader on datasets written by plain HDF5 calls, as another program would: layouts, types, byte orders,
 * nested paths; and its errors on missing, malformed, corrupt and truncated input. */
#define _GNU_SOURCE /* mkstemps */
#include "ooc_h5.h"
#include "ooc_test.h"

#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <stdint.h>
#include <unistd.h>
#include <zstd.h>

static char path[64];

static void new_path(void)
{
    strcpy(path, "reader_XXXXXX.h5");
    close(mkstemps(path, 3));
}

/* A rows x cols dataset of `type` holding row * 1000 + col, with the given chunk shape (0: contiguous). */
static void write_plain(const char *name, hid_t type, hsize_t rows, hsize_t cols, hsize_t crows, hsize_t ccols,
                        int deflate)
{
    ooc_h5_file *f; /* make sure ooc's HDF5 setup ran before plain HDF5 calls */
    ooc_error err;
    if (access(path, F_OK) != 0 || !H5Fis_hdf5(path)) {
        ASSERT_OK(ooc_h5_file_create(path, NULL, &f, &err));
        ASSERT_OK(ooc_h5_file_close(f, &err));
    }
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hsize_t dims[2] = {rows, cols}, chunk[2] = {crows, ccols};
    hid_t space = H5Screate_simple(cols ? 2 : 1, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (crows) {
        H5Pset_chunk(dcpl, cols ? 2 : 1, chunk);
        if (deflate) {
            H5Pset_shuffle(dcpl);
            H5Pset_deflate(dcpl, 4);
        }
    }
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t ds = H5Dcreate2(file, name, type, space, lcpl, dcpl, H5P_DEFAULT);
    ASSERT(ds >= 0);
    hsize_t c = cols ? cols : 1;
    double *v = malloc(sizeof(double) * rows * c);
    for (hsize_t i = 0; i < rows; i++)
        for (hsize_t j = 0; j < c; j++)
            v[i * c + j] = (double)(i * 1000 + j);
    ASSERT(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    free(v);
    H5Dclose(ds);
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(file);
}

static void check_values(const char *name, uint64_t row0, uint64_t n, int raw_expected)
{
    ooc_h5_reader *r;
    ooc_error err;
    ASSERT_OK(ooc_h5_reader_open(path, name, &r, &err));
    if (!r)
        return;
    const ooc_h5_info *in = ooc_h5_reader_info(r);
    ASSERT_INT_EQ(in->raw_chunks, raw_expected);
    double *v = malloc(sizeof(double) * n * in->cols);
    ASSERT_OK(ooc_h5_reader_read_rows(r, row0, n, OOC_FLOAT64, v, &err));
    for (uint64_t i = 0; i < n; i++)
        for (uint64_t j = 0; j < in->cols; j++)
            if (v[i * in->cols + j] != (double)((row0 + i) * 1000 + j)) {
                ASSERT_NEAR(v[i * in->cols + j], (double)((row0 + i) * 1000 + j), 0);
                i = n;
                break;
            }
    free(v);
    ooc_h5_reader_close(r);
}

static void test_layouts_and_types(void)
{
    new_path();
    write_plain("/contiguous", H5T_IEEE_F64LE, 500, 4, 0, 0, 0);
    write_plain("/odd_chunks", H5T_IEEE_F64LE, 1000, 5, 777, 3, 0);
    write_plain("/deflate", H5T_IEEE_F64LE, 1000, 5, 100, 5, 1);
    write_plain("/big_endian", H5T_IEEE_F64BE, 300, 3, 64, 3, 0);
    write_plain("/int16", H5T_STD_I16LE, 30, 3, 0, 0, 0);
    write_plain("/uint32be", H5T_STD_U32BE, 300, 2, 50, 2, 0);
    write_plain("/float32", H5T_IEEE_F32LE, 3000, 3, 1000, 3, 0);
    write_plain("/float32_small_chunks", H5T_IEEE_F32LE, 300, 3, 100, 3, 0);
    write_plain("/a/b/nested", H5T_IEEE_F64LE, 40, 2, 0, 0, 0);
    check_values("/contiguous", 0, 500, 0);
    check_values("/contiguous", 123, 77, 0);
    check_values("/odd_chunks", 700, 300, 0);
    check_values("/deflate", 250, 500, 0);
    check_values("/big_endian", 10, 290, 0);
    check_values("/int16", 0, 30, 0);
    check_values("/uint32be", 1, 299, 0);
    check_values("/float32", 0, 3000, 1); /* native float, chunks span the columns: the fast path applies */
    check_values("/float32_small_chunks", 0, 300, 0); /* but not to chunks of less than a page */
    check_values("/a/b/nested", 0, 40, 0);

    ooc_h5_reader *r;
    ooc_error err;
    ASSERT_OK(ooc_h5_reader_open(path, "/odd_chunks", &r, &err));
    const ooc_h5_info *in = ooc_h5_reader_info(r);
    ASSERT_INT_EQ(in->chunk_rows, 777);
    ASSERT_INT_EQ(in->chunk_cols, 3);
    ooc_h5_reader_close(r);
    ASSERT_OK(ooc_h5_reader_open(path, "/deflate", &r, &err));
    in = ooc_h5_reader_info(r);
    ASSERT_INT_EQ(in->nfilters, 2);
    ASSERT_INT_EQ(in->filters[0].id, H5Z_FILTER_SHUFFLE);
    ASSERT_INT_EQ(in->filters[1].id, H5Z_FILTER_DEFLATE);
    ASSERT_STR_CONTAINS(in->filters[1].name, "deflate");
    ooc_h5_reader_close(r);
    ASSERT_OK(ooc_h5_reader_open(path, "/uint32be", &r, &err));
    in = ooc_h5_reader_info(r);
    ASSERT(in->big_endian && !in->is_float && !in->is_signed);
    ASSERT_STR_CONTAINS(in->type_name, "uint32");
    ooc_h5_reader_close(r);
    unlink(path);
}

static void expect_open_error(const char *file, const char *name, int code, const char *needle)
{
    ooc_h5_reader *r = NULL;
    ooc_error err;
    ooc_error_clear(&err);
    int rc = ooc_h5_reader_open(file, name, &r, &err);
    ASSERT_INT_EQ(rc, code);
    ASSERT_STR_CONTAINS(err.msg, needle);
    ASSERT(strchr(err.msg, '\n') == NULL);
    if (!rc)
        ooc_h5_reader_close(r);
}

static void test_open_errors(void)
{
    new_path();
    write_plain("/X", H5T_IEEE_F64LE, 10, 2, 0, 0, 0);
    write_plain("/v", H5T_IEEE_F64LE, 10, 0, 0, 0, 0);
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hsize_t d3[3] = {2, 2, 2};
    hid_t s3 = H5Screate_simple(3, d3, NULL);
    H5Dclose(H5Dcreate2(file, "/cube", H5T_NATIVE_DOUBLE, s3, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, 8);
    hsize_t d2[2] = {3, 2};
    hid_t s2 = H5Screate_simple(2, d2, NULL);
    H5Dclose(H5Dcreate2(file, "/strings", str, s2, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Sclose(s2);
    H5Gclose(H5Gcreate2(file, "/group", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Tclose(str);
    H5Sclose(s3);
    H5Fclose(file);

    expect_open_error("no_such_file.h5", "/X", OOC_ENOTFOUND, "no_such_file.h5");
    expect_open_error(path, "/nope", OOC_ENOTFOUND, "/nope");
    expect_open_error(path, "/a/b/c", OOC_ENOTFOUND, "/a/b/c");
    expect_open_error(path, "/cube", OOC_EFORMAT, "3-D");
    expect_open_error(path, "/strings", OOC_EFORMAT, "not a numeric dataset: HDF5 string type of 8 bytes");
    expect_open_error(path, "/group", OOC_EFORMAT, "not a dataset");
    expect_open_error(path, "/v", 0, "");
    const char *text = "text_not_hdf5.h5";
    FILE *t = fopen(text, "w");
    fputs("hello, not hdf5\n", t);
    fclose(t);
    expect_open_error(text, "/X", OOC_EFORMAT, "not an HDF5 file");
    unlink(text);
    unlink(path);
}

/* Byte offset and size of chunk `c` of a (rows x cols) row-chunked dataset. */
static void chunk_location(const char *name, uint64_t c, uint64_t chunk_rows, haddr_t *addr, hsize_t *size)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    hsize_t offset[2] = {c * chunk_rows, 0};
    ASSERT(H5Dget_chunk_info_by_coord(ds, offset, NULL, addr, size) >= 0);
    H5Dclose(ds);
    H5Fclose(file);
}

/* Our layout (shuffle, zstd), chunk 2 never written. seed 0: value c * 100000 + i at element i of chunk c;
 * else random bits, which zstd cannot compress: every chunk's frame has the same size for any seed. */
static void write_ours_seeded(uint64_t rows, uint64_t chunk_rows, uint64_t seed)
{
    ooc_h5_file *f;
    ooc_error err;
    ASSERT_OK(ooc_h5_file_create(path, NULL, &f, &err));
    ooc_h5_chunked_params p = {OOC_FLOAT64, 2, rows, 4, chunk_rows, {3, 1, 0}};
    ooc_h5_chunked *d;
    ASSERT_OK(ooc_h5_chunked_create(f, "/X", &p, &d, &err));
    size_t bytes = ooc_h5_chunked_chunk_bytes(d), cap = ooc_codec_bound(ooc_h5_chunked_codec(d), bytes), n;
    double *raw = calloc(1, bytes);
    void *enc = malloc(cap);
    ooc_codec_ctx *ctx;
    ASSERT_OK(ooc_codec_ctx_create(&ctx));
    for (uint64_t c = 0; c * chunk_rows < rows; c++) {
        for (size_t i = 0; i < bytes / 8; i++) {
            uint64_t z = (seed * 0x9e3779b97f4a7c15u) ^ (c * bytes + i) * 0xbf58476d1ce4e5b9u; /* splitmix64 */
            z = (z ^ (z >> 31)) * 0x94d049bb133111ebu;
            z ^= z >> 29;
            if (seed)
                memcpy(&raw[i], &z, 8);
            else
                raw[i] = (double)(c * 100000 + i);
        }
        ASSERT_OK(ooc_codec_encode(ooc_h5_chunked_codec(d), ctx, raw, bytes, enc, cap, &n, &err));
        if (c != 2) /* chunk 2 is never written */
            ASSERT_OK(ooc_h5_chunked_write(d, c, enc, n, &err));
    }
    ooc_codec_ctx_free(ctx);
    free(raw);
    free(enc);
    ASSERT_OK(ooc_h5_chunked_close(d, &err));
    ASSERT_OK(ooc_h5_file_close(f, &err));
}

static void write_ours(uint64_t rows, uint64_t chunk_rows)
{
    write_ours_seeded(rows, chunk_rows, 0);
}

static void test_corrupt_and_truncated(void)
{
    enum { ROWS = 5000, CR = 1000 };
    new_path();
    write_ours(ROWS, CR);
    haddr_t addr;
    hsize_t size;
    chunk_location("/X", 1, CR, &addr, &size);
    int fd = open(path, O_RDWR);
    unsigned char b;
    ASSERT(pread(fd, &b, 1, (off_t)(addr + size / 2)) == 1);
    b ^= 0x10;
    ASSERT(pwrite(fd, &b, 1, (off_t)(addr + size / 2)) == 1);
    close(fd);

    ooc_h5_reader *r;
    ooc_error err;
    ASSERT_OK(ooc_h5_reader_open(path, "/X", &r, &err));
    void *buf = NULL;
    size_t cap = 0, bytes;
    double *out = malloc(sizeof(double) * CR * 4);
    ooc_codec_ctx *ctx;
    ASSERT_OK(ooc_codec_ctx_create(&ctx));
    const ooc_h5_info *in = ooc_h5_reader_info(r);
    /* chunk 0 is fine; chunk 1 fails its checksum, both on our path and through HDF5's pipeline */
    ASSERT_OK(ooc_h5_reader_read_raw_chunk(r, 0, &buf, &cap, &bytes, &err));
    ASSERT_OK(ooc_codec_decode(&in->codec, ctx, buf, bytes, out, sizeof(double) * CR * 4, &err));
    ASSERT_OK(ooc_h5_reader_read_raw_chunk(r, 1, &buf, &cap, &bytes, &err));
    ASSERT_INT_EQ(ooc_codec_decode(&in->codec, ctx, buf, bytes, out, sizeof(double) * CR * 4, &err), OOC_ECORRUPT);
    ASSERT_INT_EQ(ooc_h5_reader_read_rows(r, CR, CR, OOC_FLOAT64, out, &err), OOC_ECORRUPT);
    ASSERT_STR_CONTAINS(err.msg, "chunk 1");
    /* read in place, the same bytes fail the same way */
    size_t place_cap = cap, in_place;
    void *place = malloc(place_cap);
    if ((in_place = ooc_h5_reader_read_raw_chunk_in_place(r, 1, place, place_cap)) > 0)
        ASSERT_INT_EQ(ooc_codec_decode(&in->codec, ctx, place, in_place, out, sizeof(double) * CR * 4, &err), OOC_ECORRUPT);
    /* chunk 2 was never written: no raw bytes; HDF5 gives fill values */
    ASSERT_OK(ooc_h5_reader_read_raw_chunk(r, 2, &buf, &cap, &bytes, &err));
    ASSERT_INT_EQ(bytes, 0);
    ooc_h5_reader_close(r);

    /* Truncate the file in the middle of chunk 3: opening may work, reading chunk 3 must fail cleanly. */
    chunk_location("/X", 3, CR, &addr, &size);
    ASSERT(truncate(path, (off_t)(addr + size / 2)) == 0);
    if (ooc_h5_reader_open(path, "/X", &r, &err) == 0) {
        /* a chunk cut short or past the end of the file is never read in place */
        ASSERT_INT_EQ(ooc_h5_reader_read_raw_chunk_in_place(r, 3, place, place_cap), 0);
        ASSERT_INT_EQ(ooc_h5_reader_read_raw_chunk_in_place(r, 4, place, place_cap), 0);
        int rc = ooc_h5_reader_read_raw_chunk(r, 3, &buf, &cap, &bytes, &err);
        if (rc == 0)
            rc = ooc_codec_decode(&in->codec, ctx, buf, bytes, out, sizeof(double) * CR * 4, &err);
        ASSERT(rc != 0);
        ASSERT_INT_EQ(ooc_h5_reader_read_rows(r, 3 * CR, CR, OOC_FLOAT64, out, &err), OOC_ECORRUPT);
        ASSERT_STR_CONTAINS(err.msg, "chunk 3");
        ooc_h5_reader_close(r);
    } else {
        ASSERT(err.code != 0);
    }
    ooc_codec_ctx_free(ctx);
    free(out);
    free(buf);
    free(place);
    unlink(path);
}

/* Every chunk that can be read in place gives exactly the bytes HDF5's H5Dread_chunk gives, and none is
 * read into a buffer too small for it; returns how many could be read. */
static int check_in_place(uint64_t nchunks)
{
    ooc_h5_reader *r;
    ooc_error err;
    ASSERT_OK(ooc_h5_reader_open(path, "/X", &r, &err));
    void *buf = NULL;
    size_t cap = 0, bytes;
    uint64_t most = 0;
    int read = 0, located = ooc_h5_reader_in_place(r, &most);
    char *place = malloc(most + 1);
    for (uint64_t c = 0; c < nchunks; c++) {
        ASSERT_OK(ooc_h5_reader_read_raw_chunk(r, c, &buf, &cap, &bytes, &err));
        size_t n = ooc_h5_reader_read_raw_chunk_in_place(r, c, place, (size_t)most);
        if (n > 0) {
            ASSERT_INT_EQ(n, bytes);
            ASSERT(memcmp(place, buf, bytes) == 0);
            ASSERT_INT_EQ(ooc_h5_reader_read_raw_chunk_in_place(r, c, place, n - 1), 0);
            read++;
        }
    }
    ASSERT_INT_EQ(located, read > 0);
    free(place);
    free(buf);
    ooc_h5_reader_close(r);
    return read;
}

/* Our zstd layout written by plain HDF5 calls (its filter pipeline, not our raw writes) into a file with a
 * 512-byte user block, so HDF5's chunk addresses do not start at the file's first byte. */
static void write_with_userblock(uint64_t rows, uint64_t chunk_rows)
{
    ooc_h5_file *f; /* ooc's HDF5 setup (zstd registered) before plain HDF5 calls */
    ooc_error err;
    ASSERT_OK(ooc_h5_file_create(path, NULL, &f, &err));
    ASSERT_OK(ooc_h5_file_close(f, &err));
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_userblock(fcpl, 512);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    hsize_t dims[2] = {rows, 4}, chunk[2] = {chunk_rows, 4};
    hid_t space = H5Screate_simple(2, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    unsigned level = 3;
    H5Pset_chunk(dcpl, 2, chunk);
    H5Pset_shuffle(dcpl);
    ASSERT(H5Pset_filter(dcpl, OOC_H5Z_FILTER_ZSTD, H5Z_FLAG_MANDATORY, 1, &level) >= 0);
    hid_t ds = H5Dcreate2(file, "/X", H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    double *v = malloc(sizeof(double) * rows * 4);
    for (uint64_t i = 0; i < rows * 4; i++)
        v[i] = (double)(i % 977) * 0.5;
    ASSERT(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    free(v);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(file);
    H5Pclose(fcpl);
}

static void test_read_in_place(void)
{
    new_path();
    write_ours(5000, 1000); /* chunk 2 never written: not read in place */
    ASSERT_INT_EQ(check_in_place(5), 4);
    write_with_userblock(5000, 1000);
    ASSERT_INT_EQ(check_in_place(5), 5);
    /* 300 chunks of 32 bytes: less than a page each, read through HDF5, not as raw chunks */
    write_ours(300, 1);
    ooc_h5_reader *r;
    ooc_error err;
    uint64_t most;
    ASSERT_OK(ooc_h5_reader_open(path, "/X", &r, &err));
    ASSERT_INT_EQ(ooc_h5_reader_info(r)->raw_chunks, 0);
    ASSERT_INT_EQ(ooc_h5_reader_in_place(r, &most), 0);
    ooc_h5_reader_close(r);
    unlink(path);
}

/* A 40 x 2 float64 dataset in 10-row chunks with fill time `when` and fill value *fill (NULL: HDF5's
 * default), of which only chunk 1 (rows 10..19, row * 1000 + col) is written; `contiguous`: no chunks, and
 * nothing written. */
static void write_sparse(const char *name, H5D_fill_time_t when, const double *fill, int contiguous)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hsize_t dims[2] = {40, 2}, chunk[2] = {10, 2}, start[2] = {10, 0};
    hid_t space = H5Screate_simple(2, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (!contiguous)
        H5Pset_chunk(dcpl, 2, chunk);
    H5Pset_fill_time(dcpl, when);
    if (fill)
        H5Pset_fill_value(dcpl, H5T_NATIVE_DOUBLE, fill);
    hid_t ds = H5Dcreate2(file, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ASSERT(ds >= 0);
    if (!contiguous) {
        double v[20];
        for (int i = 0; i < 20; i++)
            v[i] = (10 + i / 2) * 1000 + i % 2;
        hid_t mem = H5Screate_simple(2, chunk, NULL);
        H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, chunk, NULL);
        ASSERT(H5Dwrite(ds, H5T_NATIVE_DOUBLE, mem, space, H5P_DEFAULT, v) >= 0);
        H5Sclose(mem);
    }
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(file);
}

/* Every row of `name` as float64, float32 and int32 into a buffer full of junk: the written rows, and the fill
 * value everywhere else. */
static void check_sparse(const char *name, double fill, int contiguous)
{
    ooc_h5_reader *r;
    ooc_error err;
    ASSERT_OK(ooc_h5_reader_open(path, name, &r, &err));
    if (!r)
        return;
    const ooc_dtype types[] = {OOC_FLOAT64, OOC_FLOAT32, OOC_INT32};
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        char buf[80 * 8];
        memset(buf, 0xab, sizeof buf);
        ASSERT_OK(ooc_h5_reader_read_rows(r, 0, 40, types[k], buf, &err));
        for (int i = 0; i < 80; i++) {
            int written = !contiguous && i >= 20 && i < 40;
            double want = written ? (i / 2) * 1000 + i % 2 : types[k] == OOC_INT32 ? (int)fill : fill;
            double got = types[k] == OOC_FLOAT64   ? ((double *)buf)[i]
                         : types[k] == OOC_FLOAT32 ? ((float *)buf)[i]
                                                   : ((int32_t *)buf)[i];
            if (got != want) {
                ASSERT_NEAR(got, want, 0);
                fprintf(stderr, "  %s, type %d, element %d\n", name, (int)types[k], i);
                break;
            }
        }
    }
    ooc_h5_reader_close(r);
}

/* Storage never allocated reads as the fill value, whatever the buffer held: with fill time NEVER (ooc's
 * writer, netCDF's NC_NOFILL) and IFSET without a fill value of the user's (plain HDF5's default), HDF5 itself
 * leaves the buffer as it was. */
static void test_unwritten_chunks(void)
{
    const double seven = 7.5, zero = 0;
    new_path();
    write_plain("/unused", H5T_IEEE_F64LE, 1, 1, 0, 0, 0); /* the file, made after ooc's HDF5 setup */
    write_sparse("/never_fill", H5D_FILL_TIME_NEVER, &seven, 0);
    write_sparse("/never_default", H5D_FILL_TIME_NEVER, NULL, 0);
    write_sparse("/ifset_default", H5D_FILL_TIME_IFSET, NULL, 0);
    write_sparse("/ifset_zero", H5D_FILL_TIME_IFSET, &zero, 0);
    write_sparse("/alloc_fill", H5D_FILL_TIME_ALLOC, &seven, 0);
    write_sparse("/never_contiguous", H5D_FILL_TIME_NEVER, &seven, 1);
    check_sparse("/never_fill", 7.5, 0);
    check_sparse("/never_default", 0, 0);
    check_sparse("/ifset_default", 0, 0);
    check_sparse("/ifset_zero", 0, 0);
    check_sparse("/alloc_fill", 7.5, 0);
    check_sparse("/never_contiguous", 7.5, 1);
    unlink(path);

    /* ooc's own layout (fill time NEVER), chunk 2 never written: read through HDF5 */
    new_path();
    write_ours(5000, 1000);
    ooc_h5_reader *r;
    ooc_error err;
    ASSERT_OK(ooc_h5_reader_open(path, "/X", &r, &err));
    double *v = malloc(sizeof(double) * 1000 * 4);
    memset(v, 0xab, sizeof(double) * 1000 * 4);
    ASSERT_OK(ooc_h5_reader_read_rows(r, 2000, 1000, OOC_FLOAT64, v, &err));
    for (int i = 0; i < 1000 * 4; i++)
        if (v[i] != 0) {
            ASSERT_NEAR(v[i], 0, 0);
            break;
        }
    free(v);
    ooc_h5_reader_close(r);
    unlink(path);
}

/* Turn the file at path into one whose /X is an external link to /X of `target` (its own /X, if any, is
 * renamed /decoy: its chunks lie where the target's do, in the wrong file). */
static void link_to(const char *target)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (H5Lexists(file, "/X", H5P_DEFAULT) > 0)
        ASSERT(H5Lmove(file, "/X", file, "/decoy", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    ASSERT(H5Lcreate_external(target, "/X", file, "/X", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    H5Fclose(file);
}

/* A file holding nothing, with a user block of `userblock` bytes (0: none). */
static void write_empty(hsize_t userblock)
{
    ooc_h5_file *f; /* ooc's HDF5 setup before plain HDF5 calls */
    ooc_error err;
    ASSERT_OK(ooc_h5_file_create(path, NULL, &f, &err));
    ASSERT_OK(ooc_h5_file_close(f, &err));
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (userblock)
        H5Pset_userblock(fcpl, userblock);
    H5Fclose(H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT));
    H5Pclose(fcpl);
}

/* /X an external link into another file: chunks are read in place from the file that holds them, at its own
 * user block's offset, never from the file the user named. */
static void test_external_link_in_place(void)
{
    char target[64];
    strcpy(target, "target_XXXXXX.h5");
    close(mkstemps(target, 3));

    /* The named file holds other chunks of the same sizes at the target's addresses: read there, they would
     * pass for the target's. */
    new_path();
    write_ours_seeded(5000, 1000, 1);
    ASSERT(rename(path, target) == 0);
    write_ours_seeded(5000, 1000, 2);
    link_to(target);
    ASSERT_INT_EQ(check_in_place(5), 4);

    /* A user block in the target only, then in the named file only. */
    write_with_userblock(5000, 1000);
    ASSERT(rename(path, target) == 0);
    write_empty(0);
    link_to(target);
    ASSERT_INT_EQ(check_in_place(5), 5);
    write_ours(5000, 1000);
    ASSERT(rename(path, target) == 0);
    write_empty(4096);
    link_to(target);
    ASSERT_INT_EQ(check_in_place(5), 4);
    unlink(path);
    unlink(target);
}

/* bytes at src as `nframes` zstd frames (with checksums) one after the other at dst, after a skippable frame
 * (lead 1) or a frame of no content (lead 2) when asked; returns their size. */
static size_t zstd_frames(const void *src, size_t bytes, int nframes, int lead, void *dst, size_t cap)
{
    size_t done = 0, out = 0;
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    if (lead == 1) { /* magic 0x184D2A50, 8 bytes of user data */
        static const unsigned char skippable[] = {0x50, 0x2A, 0x4D, 0x18, 8, 0, 0, 0, 's', 'k', 'i', 'p', 'p', 'a', 'b', 'l'};
        memcpy(dst, skippable, sizeof skippable);
        out = sizeof skippable;
    } else if (lead == 2) {
        out = ZSTD_compress2(cctx, dst, cap, src, 0);
        ASSERT(!ZSTD_isError(out));
    }
    for (int i = 0; i < nframes; i++) {
        size_t part = i + 1 < nframes ? bytes / nframes / 8 * 8 : bytes - done;
        size_t n = ZSTD_compress2(cctx, (char *)dst + out, cap - out, (const char *)src + done, part);
        ASSERT(!ZSTD_isError(n));
        done += part;
        out += n;
    }
    ZSTD_freeCCtx(cctx);
    return out;
}

/* A 4000 x 4 float64 dataset of our layout (zstd, byte-shuffled when `shuffle`) in 1000-row chunks of
 * `chunk_cols` columns, chunk c stored by H5Dwrite_chunk as c + 1 zstd frames one after the other, as other
 * zstd writers may store it, chunks 1 and 2 after a skippable frame and an empty one. */
static void write_multiframe(const char *name, int shuffle, int chunk_cols)
{
    enum { ROWS = 4000, CR = 1000, COLS = 4, N = CR * COLS };
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hsize_t dims[2] = {ROWS, COLS}, chunk[2] = {CR, (hsize_t)chunk_cols};
    hid_t space = H5Screate_simple(2, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    unsigned level = 3;
    H5Pset_chunk(dcpl, 2, chunk);
    if (shuffle)
        H5Pset_shuffle(dcpl);
    H5Pset_filter(dcpl, OOC_H5Z_FILTER_ZSTD, H5Z_FLAG_MANDATORY, 1, &level);
    hid_t ds = H5Dcreate2(file, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ASSERT(ds >= 0);
    static double v[N];
    static unsigned char staged[N * 8], enc[N * 8 + 4096];
    const int n = CR * chunk_cols; /* values in a chunk */
    for (int c = 0; c < ROWS / CR; c++)
        for (int j = 0; j < COLS / chunk_cols; j++) {
            for (int i = 0; i < n; i++)
                v[i] = (double)((c * CR + i / chunk_cols) * 1000 + j * chunk_cols + i % chunk_cols);
            for (int i = 0; i < n * 8; i++) /* HDF5's shuffle: byte b of element e goes to b * n + e */
                staged[i] = shuffle ? ((unsigned char *)v)[(i % n) * 8 + i / n] : ((unsigned char *)v)[i];
            size_t bytes = zstd_frames(staged, (size_t)n * 8, c + 1, c == 1 || c == 2 ? c : 0, enc, sizeof enc);
            hsize_t offset[2] = {(hsize_t)c * CR, (hsize_t)(j * chunk_cols)};
            ASSERT(H5Dwrite_chunk(ds, H5P_DEFAULT, 0, offset, bytes, enc) >= 0);
        }
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(file);
}

/* Chunks of several zstd frames (the HDF5 zstd filter and zstd itself accept them, skippable and empty
 * frames among them) decode on every path: raw chunks, read in place, and HDF5's pipeline (chunks of half a
 * row: before, a skippable or empty first frame made the filter free its buffer twice); frames adding up to
 * another size are refused. */
static void test_concatenated_zstd_frames(void)
{
    new_path();
    write_plain("/unused", H5T_IEEE_F64LE, 1, 1, 0, 0, 0); /* the file, made after ooc's HDF5 setup */
    write_multiframe("/shuffled", 1, 4);
    write_multiframe("/X", 0, 4);
    write_multiframe("/shuffled_half_rows", 1, 2);
    write_multiframe("/half_rows", 0, 2);
    ASSERT_INT_EQ(check_in_place(4), 4); /* in-place bytes are H5Dread_chunk's */
    check_values("/shuffled", 0, 4000, 1);
    check_values("/X", 0, 4000, 1);
    check_values("/shuffled_half_rows", 0, 4000, 0);
    check_values("/half_rows", 0, 4000, 0);
    const char *names[] = {"/shuffled", "/X"};
    ooc_codec_ctx *ctx;
    ASSERT_OK(ooc_codec_ctx_create(&ctx));
    double *out = malloc(sizeof(double) * 4000);
    for (int k = 0; k < 2; k++) {
        ooc_h5_reader *r;
        ooc_error err;
        ASSERT_OK(ooc_h5_reader_open(path, names[k], &r, &err));
        const ooc_h5_info *in = ooc_h5_reader_info(r);
        void *buf = NULL;
        size_t cap = 0, bytes;
        for (uint64_t c = 0; c < 4; c++) {
            ASSERT_OK(ooc_h5_reader_read_raw_chunk(r, c, &buf, &cap, &bytes, &err));
            ASSERT_OK(ooc_codec_decode(&in->codec, ctx, buf, bytes, out, sizeof(double) * 4000, &err));
            for (int i = 0; i < 4000; i++)
                if (out[i] != (double)((c * 1000 + i / 4) * 1000 + i % 4)) {
                    ASSERT_NEAR(out[i], (double)((c * 1000 + i / 4) * 1000 + i % 4), 0);
                    break;
                }
            /* the frames hold a chunk, not the chunk with one more row or one fewer */
            ASSERT_INT_EQ(ooc_codec_decode(&in->codec, ctx, buf, bytes, out, sizeof(double) * 3996, &err),
                          OOC_ECORRUPT);
            ASSERT_STR_CONTAINS(err.msg, "hold 32000 bytes, expected 31968");
        }
        /* one frame cut off the end: refused, whatever the frames before it hold */
        ASSERT_INT_EQ(ooc_codec_decode(&in->codec, ctx, buf, bytes - 10, out, sizeof(double) * 4000, &err),
                      OOC_ECORRUPT);
        free(buf);
        ooc_h5_reader_close(r);
    }
    free(out);
    ooc_codec_ctx_free(ctx);
    unlink(path);
}

/* A rank or element type the functions do not take is refused (rank 3 handed HDF5 dimensions never set: it
 * wrote past them and left a file HDF5 could not open again); the file stays sound. */
static void test_bad_arguments(void)
{
    new_path();
    ooc_h5_file *f;
    ooc_error err;
    ASSERT_OK(ooc_h5_file_create(path, NULL, &f, &err));
    if (!f)
        return;
    uint64_t dims[3] = {2, 2, 2};
    double v[8] = {0};
    ASSERT_INT_EQ(ooc_h5_write_dataset(f, "/cube", OOC_FLOAT64, 3, dims, v, &err), OOC_EINVAL);
    ASSERT_INT_EQ(ooc_h5_write_dataset(f, "/none", OOC_FLOAT64, 0, dims, v, &err), OOC_EINVAL);
    ASSERT_INT_EQ(ooc_h5_write_dataset(f, "/odd", (ooc_dtype)9, 2, dims, v, &err), OOC_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "/odd");
    ASSERT_OK(ooc_h5_write_dataset(f, "/X", OOC_FLOAT64, 2, dims, v, &err));
    ASSERT_OK(ooc_h5_file_close(f, &err));
    ooc_h5_reader *r;
    ASSERT_OK(ooc_h5_reader_open(path, "/X", &r, &err));
    if (r) {
        ASSERT_INT_EQ(ooc_h5_reader_read_rows(r, 0, 2, (ooc_dtype)77, v, &err), OOC_EINVAL);
        ASSERT_OK(ooc_h5_reader_read_rows(r, 0, 2, OOC_FLOAT64, v, &err));
        ooc_h5_reader_close(r);
    }
    unlink(path);
}

/* A file truncated or rewritten while it is read: HDF5 reads the bytes past a file's end as zeros, so without a
 * check the rows there would come back as zeros, no error. Each read checks that the file is as opened. */
static void test_file_changed_while_read(void)
{
    new_path();
    write_plain("/X", H5T_IEEE_F64LE, 2000, 4, 0, 0, 0); /* contiguous: HDF5's own read */
    ooc_h5_reader *r;
    ooc_error err;
    double v[100 * 4];
    ASSERT_OK(ooc_h5_reader_open(path, "/X", &r, &err));
    if (!r)
        return;
    ASSERT_OK(ooc_h5_reader_read_rows(r, 0, 100, OOC_FLOAT64, v, &err));
    ASSERT(truncate(path, 8192) == 0);
    ASSERT_INT_EQ(ooc_h5_reader_read_rows(r, 1900, 100, OOC_FLOAT64, v, &err), OOC_EIO);
    ASSERT_STR_CONTAINS(err.msg, "/X: the file changed while it was read (8192 bytes, ");
    ooc_h5_reader_close(r);

    /* The same size, written again (as `cp` of a file of the same shape over it would): its time says so. */
    unlink(path);
    write_plain("/X", H5T_IEEE_F64LE, 2000, 4, 0, 0, 0);
    ASSERT_OK(ooc_h5_reader_open(path, "/X", &r, &err));
    if (!r)
        return;
    ASSERT_OK(ooc_h5_reader_read_rows(r, 0, 100, OOC_FLOAT64, v, &err));
    struct timespec when[2] = {{0, UTIME_OMIT}, {1000000000, 0}};
    ASSERT(utimensat(AT_FDCWD, path, when, 0) == 0);
    ASSERT_INT_EQ(ooc_h5_reader_read_rows(r, 0, 100, OOC_FLOAT64, v, &err), OOC_EIO);
    ooc_h5_reader_close(r);

    /* zstd chunks read in place: a changed file is not read in place, and HDF5's read then fails. */
    write_ours(5000, 1000);
    ASSERT_OK(ooc_h5_reader_open(path, "/X", &r, &err));
    if (!r)
        return;
    size_t cap = 1 << 20, bytes = 0;
    void *buf = malloc(cap);
    ASSERT(ooc_h5_reader_read_raw_chunk_in_place(r, 0, buf, cap) > 0);
    ASSERT(truncate(path, 40000) == 0);
    ASSERT_INT_EQ((int)ooc_h5_reader_read_raw_chunk_in_place(r, 4, buf, cap), 0);
    ASSERT(ooc_h5_reader_read_raw_chunk(r, 4, &buf, &cap, &bytes, &err) < 0);
    free(buf);
    ooc_h5_reader_close(r);
    unlink(path);
}

OOC_TEST_MAIN(test_layouts_and_types, test_open_errors, test_corrupt_and_truncated, test_read_in_place,
              test_unwritten_chunks, test_external_link_in_place, test_concatenated_zstd_frames, test_bad_arguments,
              test_file_changed_while_read)
