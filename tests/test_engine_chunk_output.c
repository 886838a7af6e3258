/* A pass that writes an output chunked like its input: the values land in the right rows, the file is
 * byte-identical for any thread count, and a failing pass leaves nothing behind. */
#define _GNU_SOURCE /* mkdtemp */
#include "ooc_array.h"
#include "ooc_blobs.h"
#include "ooc_chunk_output.h"
#include "ooc_stream.h"
#include "ooc_test.h"

#include <dirent.h>
#include <unistd.h>

#define SPEC "blobs:samples=10000,features=3,centers=4,seed=7,chunk_rows=999"

typedef struct sums {
    uint64_t fail_chunk; /* map() fails on this chunk's first row, or never */
} sums;

/* Output row i = the sum of row i's features; the partial is unused. */
static int map_sums(void *ctx, const void *rows, uint64_t row0, uint64_t nrows, void *state, void *partial, void *out,
                    ooc_error *err)
{
    (void)state;
    const sums *s = ctx;
    const double *x = rows;
    *(double *)partial = 0;
    if (row0 == s->fail_chunk * 999)
        return ooc_error_set(err, OOC_EINVAL, "chunk %llu: refused", (unsigned long long)s->fail_chunk);
    for (uint64_t r = 0; r < nrows; r++)
        ((double *)out)[r] = x[3 * r] + x[3 * r + 1] + x[3 * r + 2];
    return 0;
}

static void combine_none(void *ctx, void *acc, const void *partial)
{
    (void)ctx;
    (void)acc;
    (void)partial;
}

static int run(const char *path, int threads, uint64_t fail_chunk)
{
    ooc_array *a;
    ooc_error err;
    ASSERT_OK(ooc_array_open(SPEC, &a, &err));
    const ooc_array_info *in = ooc_array_get_info(a);
    ooc_h5_chunked_params p = {OOC_FLOAT64, 1, in->rows, 1, in->chunk_rows, {3, 1, 0}};
    ooc_chunk_output *o;
    ASSERT_OK(ooc_chunk_output_create(path, "/sums", &p, 1, &o, &err));
    ooc_stream_params sp = ooc_stream_params_default();
    sp.threads = threads;
    ooc_stream *s;
    ASSERT_OK(ooc_stream_create(a, &sp, &s, &err));
    sums ctx = {fail_chunk};
    double acc = 0;
    ooc_pass pass = {.phase = "sums", .partial_size = sizeof(double), .ctx = &ctx, .map = map_sums,
                     .combine = combine_none, .output = ooc_chunk_output_dataset(o)};
    int rc = ooc_stream_run(s, &pass, &acc, &err);
    if (rc)
        ooc_chunk_output_abort(o);
    else
        ASSERT_OK(ooc_chunk_output_commit(o, &err));
    ooc_stream_free(s);
    ooc_array_free(a);
    return rc;
}

static void test_rows_land_in_place(void)
{
    char dir[] = "/tmp/ooc_chunkout_XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    char p1[64], p2[64];
    snprintf(p1, sizeof p1, "%s/t1.h5", dir);
    snprintf(p2, sizeof p2, "%s/t2.h5", dir);
    ASSERT_OK(run(p1, 1, UINT64_MAX));
    ASSERT_OK(run(p2, 2, UINT64_MAX));

    /* expected: the generator's rows, summed here */
    ooc_blobs_params bp;
    ooc_blobs *b;
    ooc_error err;
    ASSERT_OK(ooc_blobs_parse(SPEC, &bp, &err));
    ASSERT_OK(ooc_blobs_create(&bp, NULL, &b, &err));
    double *x = malloc(sizeof(double) * 10000 * 3), *got = malloc(sizeof(double) * 10000);
    ooc_blobs_rows(b, 0, 10000, x, NULL);
    ooc_h5_reader *r;
    ASSERT_OK(ooc_h5_reader_open(p1, "/sums", &r, &err));
    const ooc_h5_info *in = ooc_h5_reader_info(r);
    ASSERT_INT_EQ(in->rank, 1);
    ASSERT_INT_EQ(in->rows, 10000);
    ASSERT_INT_EQ(in->chunk_rows, 999);
    ASSERT_INT_EQ(in->codec.zstd_level, 3);
    ASSERT_OK(ooc_h5_reader_read_rows(r, 0, 10000, OOC_FLOAT64, got, &err));
    for (int i = 0; i < 10000; i++)
        if (got[i] != x[3 * i] + x[3 * i + 1] + x[3 * i + 2]) {
            ASSERT_NEAR(got[i], x[3 * i] + x[3 * i + 1] + x[3 * i + 2], 0);
            break;
        }
    ooc_h5_reader_close(r);

    FILE *f1 = fopen(p1, "rb"), *f2 = fopen(p2, "rb");
    int same = 1, c1, c2;
    do {
        c1 = fgetc(f1);
        c2 = fgetc(f2);
        same = c1 == c2;
    } while (same && c1 != EOF);
    fclose(f1);
    fclose(f2);
    ASSERT(same); /* byte-identical for 1 and 2 threads */
    free(x);
    free(got);
    ooc_blobs_free(b);
    unlink(p1);
    unlink(p2);
    rmdir(dir);
}

static void test_failure_leaves_nothing(void)
{
    char dir[] = "/tmp/ooc_chunkout_XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    char p[64];
    snprintf(p, sizeof p, "%s/fail.h5", dir);
    ASSERT_INT_EQ(run(p, 2, 5), OOC_EINVAL);
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
    closedir(d);
    ASSERT_INT_EQ(entries, 0);
    rmdir(dir);
}

OOC_TEST_MAIN(test_rows_land_in_place, test_failure_leaves_nothing)
