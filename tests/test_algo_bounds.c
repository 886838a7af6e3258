/* The fit with its pruning (Lloyd's Hamerly bounds, k-means||'s pruned updates and draws from kept rows)
 * against the fit without:
 * bitwise the same centres, inertia, n_iter, sizes, per-iteration history and labels, on overlapping blobs
 * (many rows near boundaries, labels changing for many iterations), k = 1, 2, 8, 50, float64 and float32,
 * with empty clusters relocated, with the state in memory and spilled to a file, with Lloyd's bounds from
 * nothing or seeded by k-means|| and k-means++, on a streamed file taken in pieces; and the bounds do skip
 * rows, and whole chunks, once the centres settle. */
#define _GNU_SOURCE /* mkdtemp */
#include "ooc_array.h"
#include "ooc_chunk_output.h"
#include "ooc_generate.h"
#include "ooc_kmeans_internal.h"
#include "ooc_test.h"

#include <unistd.h>

static char dir[] = "/tmp/ooc_bounds_XXXXXX";

typedef struct fit_case {
    const char *spec; /* a blobs: input, with small chunks so that a pass spans many of them */
    uint64_t k;
    ooc_kmeans_init init;
    int max_iter; /* with tol 0: Lloyd runs until no centre moves, or this many iterations */
    int spill;    /* a memory limit too small for the bounds of every row: they go to a file; 2: with room to
                   * leave chunks unread besides */
} fit_case;

typedef struct fitted {
    ooc_kmeans_model *m;
    int32_t *labels;
    uint64_t rows;
} fitted;

static void fitted_free(fitted *f)
{
    ooc_kmeans_model_free(f->m);
    free(f->labels);
}

/* The smallest memory limit that holds the stream's working buffers (with what the fit holds, and its labels'
 * buffers when it writes them) and a chunk of per-row state per thread: less than the state of every row. */
static uint64_t spilling_limit(ooc_array *a, const ooc_stream_params *sp, const ooc_kmeans_params *p, int labels)
{
    ooc_stream_params big = *sp;
    big.state_row_bytes = sizeof(ooc__bound_row);
    big.output_row_bytes = labels ? sizeof(int32_t) : 0;
    ooc__kmeans_fit_memory(ooc_array_get_info(a), p, 1, &big.held_bytes, &big.partial_bytes);
    ooc_stream *s;
    ooc_error err;
    ASSERT_OK(ooc_stream_create(a, &big, &s, &err));
    const ooc_stream_stats *st = ooc_stream_get_stats(s);
    uint64_t chunk_state = ooc_array_get_info(a)->chunk_rows * big.state_row_bytes;
    uint64_t limit = st->working_bytes + (uint64_t)st->threads * chunk_state;
    ooc_stream_free(s);
    return limit;
}

/* A file `name` in the test directory (its path into path) of a blobs: spec's rows, about the given centres
 * or the spec's own (centers NULL). */
static void write_blobs(const char *spec, const double *centers, const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", dir, name);
    ooc_generate_params g = ooc_generate_params_default();
    ooc_error err;
    ASSERT_OK(ooc_blobs_parse(spec, &g.blobs, &err));
    g.centers = centers;
    g.labels = 0;
    g.threads = 2;
    g.force = 1;
    ASSERT_OK(ooc_generate(&g, path, NULL, &err));
}

/* What chunks left unread may take of a limit, whatever the limit. */
static uint64_t skip_bytes_at_most(const ooc_array_info *in, uint64_t k)
{
    return ooc__bounds_skip_bytes(in, NULL, k, ooc__bounds_unsure_cap(in, NULL, UINT64_MAX));
}

/* Fit c with bounds on or off on `threads` threads; labels written to a file and read back. */
static fitted fit(const fit_case *c, int bounds, int threads)
{
    fitted out = {0};
    ooc_error err;
    ooc_array *a;
    ASSERT_OK(ooc_array_open(c->spec, &a, &err));
    const ooc_array_info *in = ooc_array_get_info(a);
    out.rows = in->rows;
    char path[64];
    snprintf(path, sizeof path, "%s/labels.h5", dir);
    ooc_h5_chunked_params lp = {OOC_INT32, 1, in->rows, 1, in->chunk_rows, {3, 1, 0}};
    ooc_chunk_output *o;
    ASSERT_OK(ooc_chunk_output_create(path, "/labels", &lp, 1, &o, &err));
    ooc_stream_params sp = ooc_stream_params_default();
    sp.threads = threads;
    ooc_kmeans_params p = ooc_kmeans_params_default();
    p.k = c->k;
    p.init = c->init;
    p.max_iter = c->max_iter;
    p.tol = 0;
    if (c->spill && bounds)
        sp.memory_limit = spilling_limit(a, &sp, &p, 1) + (c->spill == 2 ? skip_bytes_at_most(in, c->k) : 0);
    int rc = ooc__kmeans_fit(a, &sp, &p, o, bounds, &out.m, &err);
    if (rc)
        OOC__FAIL("%s k=%llu: %s", c->spec, (unsigned long long)c->k, err.msg);
    else
        ASSERT_INT_EQ(out.m->state_spilled, c->spill && bounds);
    ASSERT_OK(ooc_chunk_output_commit(o, &err));
    ooc_array_free(a);
    out.labels = malloc(out.rows * sizeof *out.labels);
    ooc_h5_reader *r;
    ASSERT_OK(ooc_h5_reader_open(path, "/labels", &r, &err));
    ASSERT_OK(ooc_h5_reader_read_rows(r, 0, out.rows, OOC_INT32, out.labels, &err));
    ooc_h5_reader_close(r);
    unlink(path);
    return out;
}

#define SAME_BITS(a, b) (memcmp(&(a), &(b), sizeof(a)) == 0)

/* Everything the fit reports, bit for bit, except the rows recomputed (all of them without bounds). */
static void assert_same_fit(const fit_case *c, const fitted *on, const fitted *off)
{
    const ooc_kmeans_model *a = on->m, *b = off->m;
    if (!a || !b)
        return;
    int same = a->n_iter == b->n_iter && a->converged == b->converged && SAME_BITS(a->inertia, b->inertia) &&
               !memcmp(a->centers, b->centers, a->k * a->d * sizeof *a->centers) &&
               !memcmp(a->sizes, b->sizes, a->k * sizeof *a->sizes) &&
               !memcmp(on->labels, off->labels, on->rows * sizeof *on->labels);
    for (int i = 0; same && i < a->n_iter; i++)
        same = SAME_BITS(a->history[i].inertia, b->history[i].inertia) &&
               SAME_BITS(a->history[i].shift, b->history[i].shift) && a->history[i].empty == b->history[i].empty;
    if (!same)
        OOC__FAIL("%s k=%llu: with bounds n_iter %d inertia %.17g, without %d %.17g (or centres, sizes, history "
                  "or labels differ)",
                  c->spec, (unsigned long long)c->k, a->n_iter, a->inertia, b->n_iter, b->inertia);
    for (int i = 0; i < b->n_iter; i++)
        ASSERT_INT_EQ(b->history[i].recomputed, off->rows);
}

/* Runs c both ways; returns the fit with bounds (for more checks) after comparing. */
static fitted check_case(const fit_case *c)
{
    fitted on = fit(c, 1, 2), off = fit(c, 0, 1);
    assert_same_fit(c, &on, &off);
    printf("     %s k=%llu: %d iterations, rows recomputed:", c->spec, (unsigned long long)c->k,
           on.m ? on.m->n_iter : 0);
    for (int i = 0; on.m && i < on.m->n_iter; i++)
        printf(" %.3f", (double)on.m->history[i].recomputed / (double)on.rows);
    printf("; chunks unread:");
    for (int i = 0; on.m && i < on.m->n_iter; i++)
        printf(" %llu", (unsigned long long)on.m->history[i].chunks_unread);
    printf("\n");
    fitted_free(&off);
    return on;
}

/* The fraction of rows recomputed over the last half of the iterations. */
static double late_recomputed(const fitted *f)
{
    int n = f->m->n_iter, from = n / 2;
    double sum = 0;
    for (int i = from; i < n; i++)
        sum += (double)f->m->history[i].recomputed;
    return sum / ((double)(n - from) * (double)f->rows);
}

/* Heavily overlapping blobs: std 3 around centres in [-4, 4)^d, so rows change labels for dozens of
 * iterations and many sit within rounding of a boundary. */
static void test_overlapping(void)
{
    static const char *const specs[] = {
        "blobs:samples=20000,features=3,centers=8,cluster_std=3,center_box=-4:4,seed=1,chunk_rows=1999",
        "blobs:samples=20000,features=3,centers=8,cluster_std=3,center_box=-4:4,seed=1,chunk_rows=1999,"
        "dtype=float32",
        "blobs:samples=12000,features=20,centers=30,cluster_std=3,center_box=-2:2,seed=2,chunk_rows=1001",
        "blobs:samples=12000,features=20,centers=30,cluster_std=3,center_box=-2:2,seed=2,chunk_rows=1001,"
        "dtype=float32",
    };
    static const uint64_t ks[] = {1, 2, 8, 50};
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++)
        for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
            fit_case c = {specs[s], ks[i], i % 2 ? OOC_INIT_RANDOM : OOC_INIT_KMEANS_PARALLEL, 60, 0};
            fitted on = check_case(&c);
            if (on.m && ks[i] == 1)
                for (int it = 1; it < on.m->n_iter; it++) /* one centre: no row ever needs measuring again */
                    ASSERT_INT_EQ(on.m->history[it].recomputed, 0);
            if (on.m && on.m->n_iter >= 10)
                ASSERT(late_recomputed(&on) < 0.5);
            fitted_free(&on);
        }
}

/* Separated blobs: after a few iterations almost every row keeps its label by its bound. */
static void test_bounds_skip(void)
{
    static const char *const specs[] = {
        "blobs:samples=30000,features=20,centers=8,seed=5,chunk_rows=4099",
        "blobs:samples=30000,features=32,centers=64,seed=6,chunk_rows=4099,dtype=float32",
    };
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        fit_case c = {specs[s], s ? 64 : 8, OOC_INIT_RANDOM, 30, 0};
        fitted on = check_case(&c);
        ASSERT(on.m && on.m->n_iter >= 4);
        if (on.m && on.m->n_iter >= 4) {
            ASSERT_INT_EQ(on.m->history[0].recomputed, on.rows); /* no bounds yet */
            ASSERT(on.m->history[on.m->n_iter - 1].recomputed < on.rows / 5);
        }
        fitted_free(&on);
    }
}

/* After k-means|| or k-means++ the first iteration's bounds come from the initialisation's distances to its
 * candidates: on separated blobs it already keeps most rows, with the same results as without bounds. */
static void test_bounds_seeded(void)
{
    static const fit_case cases[] = {
        {"blobs:samples=30000,features=20,centers=8,seed=5,chunk_rows=4099", 8, OOC_INIT_KMEANS_PARALLEL, 30, 0},
        {"blobs:samples=30000,features=20,centers=8,seed=5,chunk_rows=4099,dtype=float32", 8, OOC_INIT_KMEANS_PP,
         30, 0},
        {"blobs:samples=30000,features=20,centers=8,seed=5,chunk_rows=4099", 8, OOC_INIT_KMEANS_PARALLEL, 30, 1},
    };
    for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++) {
        fitted on = check_case(&cases[s]);
        ASSERT(on.m && on.m->history[0].recomputed < on.rows / 5);
        fitted_free(&on);
    }
}

/* Few distinct points (std 0: every row is its blob's centre, 10 of them), so random rows make equal centres,
 * the later ones empty, relocated to far rows (of the points no centre is at): a drift like any other, but
 * one that dwarfs the others', so the next pass measures the relocated centres rather than recompute every
 * row (the bound less the largest drift would keep none). */
static void test_relocation(void)
{
    static const fit_case cases[] = {
        {"blobs:samples=5000,features=4,centers=10,cluster_std=0,seed=3,chunk_rows=777", 8, OOC_INIT_RANDOM, 20, 0},
        {"blobs:samples=5000,features=4,centers=10,cluster_std=0,seed=3,chunk_rows=777,dtype=float32", 8,
         OOC_INIT_RANDOM, 20, 0},
    };
    for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++) {
        fitted on = check_case(&cases[s]);
        uint64_t empty = 0;
        for (int i = 0; on.m && i < on.m->n_iter; i++) {
            empty += on.m->history[i].empty;
            if (i > 0 && on.m->history[i - 1].empty)
                ASSERT(on.m->history[i].recomputed < on.rows * 3 / 4);
        }
        ASSERT(empty > 0);
        fitted_free(&on);
    }
}

/* Bounds in a temporary file, read and written a chunk at a time. */
static void test_spilled(void)
{
    static const fit_case cases[] = {
        {"blobs:samples=20000,features=3,centers=8,cluster_std=3,center_box=-4:4,seed=1,chunk_rows=1999", 8,
         OOC_INIT_RANDOM, 40, 1},
        {"blobs:samples=20000,features=5,centers=20,cluster_std=2,seed=7,chunk_rows=999,dtype=float32", 20,
         OOC_INIT_KMEANS_PARALLEL, 40, 1},
    };
    for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++) {
        fitted on = check_case(&cases[s]);
        ASSERT(on.m && on.m->n_iter >= 10 && late_recomputed(&on) < 0.5);
        fitted_free(&on);
    }
}

/* k-means||'s draws from the rows its passes keep: streaming a file (nothing cached), the fit with its
 * shortcuts reads fewer bytes than without, since no drawn row is read back, and gives the same centres,
 * candidates and inertia, bit for bit. */
static void test_draws_kept(void)
{
    char path[64];
    write_blobs("blobs:samples=40000,features=6,centers=10,seed=4,chunk_rows=1000", NULL, "blobs.h5", path,
                sizeof path);
    ooc_error err;
    ooc_kmeans_model *m[2] = {NULL, NULL};
    for (int prune = 0; prune < 2; prune++) {
        ooc_array *a;
        ASSERT_OK(ooc_array_open(path, &a, &err));
        ooc_stream_params sp = ooc_stream_params_default();
        sp.threads = 2;
        ooc_kmeans_params p = ooc_kmeans_params_default();
        p.k = 10;
        sp.memory_limit = spilling_limit(a, &sp, &p, 0);
        ASSERT_OK(ooc__kmeans_fit(a, &sp, &p, NULL, prune, &m[prune], &err));
        ooc_array_free(a);
    }
    if (m[0] && m[1]) {
        ASSERT(SAME_BITS(m[0]->inertia, m[1]->inertia));
        ASSERT_INT_EQ(m[0]->n_candidates, m[1]->n_candidates);
        ASSERT(!memcmp(m[0]->centers, m[1]->centers, 10 * 6 * sizeof *m[0]->centers));
        ASSERT(m[1]->bytes_read < m[0]->bytes_read);
        printf("     bytes read with the draws kept: %llu, without: %llu\n", (unsigned long long)m[1]->bytes_read,
               (unsigned long long)m[0]->bytes_read);
    }
    ooc_kmeans_model_free(m[0]);
    ooc_kmeans_model_free(m[1]);
    unlink(path);
}

/* Lloyd on a streamed file of our byte-shuffled layout, whose chunks the stream hands over in several
 * pieces (3.2 MB float64 and 1.6 MB float32 chunks against 256 KiB pieces): with the bounds spilled, on two
 * threads, the same bits as the generator's values fitted whole-chunk without any bounds on one thread,
 * and as the file fitted with every chunk cached. */
static void test_pieces_fit(void)
{
    const char *specs[] = {"blobs:samples=60000,features=20,centers=8,cluster_std=3,center_box=-4:4,seed=9,"
                           "chunk_rows=20000",
                           "blobs:samples=60000,features=20,centers=8,cluster_std=3,center_box=-4:4,seed=9,"
                           "chunk_rows=20000,dtype=float32"};
    for (int i = 0; i < 2; i++) {
        char path[64];
        write_blobs(specs[i], NULL, "pieces.h5", path, sizeof path);
        fit_case streamed = {path, 8, OOC_INIT_KMEANS_PARALLEL, 40, 1}, cached = {path, 8, OOC_INIT_KMEANS_PARALLEL, 40, 0};
        fit_case plain = {specs[i], 8, OOC_INIT_KMEANS_PARALLEL, 40, 0};
        fitted on = fit(&streamed, 1, 2), whole = fit(&cached, 1, 1), off = fit(&plain, 0, 1);
        assert_same_fit(&streamed, &on, &off);
        assert_same_fit(&cached, &whole, &off);
        if (on.m)
            ASSERT(on.m->n_iter > 2); /* labels moved for a while: the bounds were at work */
        fitted_free(&on);
        fitted_free(&whole);
        fitted_free(&off);
        unlink(path);
    }
}

/* Separated blobs streamed from a file in 20 chunks: once the centres settle, every row of a chunk keeps its
 * label by its bounds, and the chunk is left unread (its sums taken as they were): the same results as
 * without bounds, and the same chunks unread on 1 and 2 threads; with the state in memory or spilled. */
static void test_chunks_unread(void)
{
    const char *specs[] = {"blobs:samples=40000,features=20,centers=8,seed=5,chunk_rows=2000",
                           "blobs:samples=40000,features=20,centers=8,seed=5,chunk_rows=2000,dtype=float32"};
    for (int i = 0; i < 2; i++) {
        char path[64];
        write_blobs(specs[i], NULL, "unread.h5", path, sizeof path);
        fit_case cases[] = {{path, 8, OOC_INIT_KMEANS_PARALLEL, 30, 0}, {path, 8, OOC_INIT_KMEANS_PP, 30, 2}};
        for (int c = 0; c < 2; c++) {
            fitted on = check_case(&cases[c]), one = fit(&cases[c], 1, 1);
            uint64_t unread = 0;
            for (int it = 0; on.m && one.m && it < on.m->n_iter; it++) {
                unread += on.m->history[it].chunks_unread;
                ASSERT_INT_EQ(on.m->history[it].chunks_unread, one.m->history[it].chunks_unread);
            }
            ASSERT(unread > 0);
            fitted_free(&on);
            fitted_free(&one);
        }
        unlink(path);
    }
}

/* A pass that reads every chunk again after one that left some unread (what Lloyd does when that one ended
 * with an empty cluster, whose far row is to be found among all rows; rare enough that no small fit meets
 * it), and the passes after, run by hand: three blobs on a line, at 0, 10 and 20 (std 1, 150 chunks). The
 * third centre starts at 21, then moves to 20 (by 1: the chunks whose rows all have a slack over 2 are left
 * unread, most of them), then to 16.5: rows of the middle blob beyond 2.75 from it now go to the third,
 * among them rows of chunks left unread, whose bounds, from the first pass, hold only once lowered by
 * both moves. Each pass gives plain Lloyd's sums, counts and inertia; the pass read again also the same far
 * rows. */
static int same_result(const ooc__assign_result *a, const ooc__assign_result *b, uint64_t k, uint64_t d, int far)
{
    int same = SAME_BITS(a->inertia, b->inertia) && !memcmp(a->sums, b->sums, k * d * sizeof *a->sums) &&
               !memcmp(a->counts, b->counts, k * sizeof *a->counts);
    if (same && far)
        same = a->n_far == b->n_far && !memcmp(a->far, b->far, a->n_far * d * sizeof *a->far) &&
               !memcmp(a->far_dist, b->far_dist, a->n_far * sizeof *a->far_dist) &&
               !memcmp(a->far_label, b->far_label, a->n_far * sizeof *a->far_label);
    return same;
}

/* Passes run by hand on three blobs on a line (k = 3, d = 2, a file at path): the array, its stream, and
 * bounds that may leave chunks unread, keeping up to unsure_cap rows aside a chunk. */
typedef struct line_passes {
    ooc_array *a;
    ooc_kmeans_params p;
    ooc__fit f;
    ooc__bounds b;
} line_passes;

static void line_open(line_passes *lp, const char *path, uint64_t unsure_cap)
{
    ooc_error err;
    ASSERT_OK(ooc_array_open(path, &lp->a, &err));
    ooc_stream_params sp = ooc_stream_params_default();
    sp.threads = 2;
    sp.state_row_bytes = sizeof(ooc__bound_row);
    lp->p = ooc_kmeans_params_default();
    lp->p.k = 3;
    lp->f = (ooc__fit){.in = ooc_array_get_info(lp->a), .p = &lp->p, .k = 3, .d = 2, .prune = 1, .skip_chunks = 1,
                       .unsure_cap = unsure_cap};
    ASSERT_OK(ooc_stream_create(lp->a, &sp, &lp->f.stream, &err));
    ASSERT_OK(ooc__bounds_create(&lp->b, &lp->f, &err));
    ASSERT_OK(ooc__bounds_skipping(&lp->b, &lp->f, &err));
}

static void line_close(line_passes *lp)
{
    ooc__bounds_free(&lp->b);
    ooc_stream_free(lp->f.stream);
    ooc_array_free(lp->a);
}

static void test_pass_again(void)
{
    enum { K = 3, D = 2 };
    const double line[K * D] = {0, 0, 10, 0, 20, 0};
    char path[64];
    write_blobs("blobs:samples=60000,features=2,centers=3,seed=8,chunk_rows=400", line, "line.h5", path, sizeof path);
    line_passes lp;
    line_open(&lp, path, 0);
    ooc__fit *f = &lp.f;
    ooc__bounds *b = &lp.b;
    ooc_error err;
    const double third[3] = {21, 20, 16.5};
    double centres[3][K * D];
    for (int s = 0; s < 3; s++) {
        memcpy(centres[s], line, sizeof line);
        centres[s][2 * D] = third[s];
    }
    const double *origin = centres[0];
    ooc__assign_result r[6];
    ASSERT_OK(ooc__assign_pass(f, centres[0], origin, b, NULL, &r[0], &err)); /* every chunk read */
    ASSERT_INT_EQ(b->skipped, 0);
    ASSERT_OK(ooc__assign_pass(f, centres[1], origin, b, NULL, &r[1], &err));
    ASSERT(b->skipped > f->in->nchunks / 2 && b->skipped < f->in->nchunks);
    printf("     chunks left unread: %llu of %llu\n", (unsigned long long)b->skipped,
           (unsigned long long)f->in->nchunks);
    b->read_all = 1;
    ASSERT_OK(ooc__assign_pass(f, centres[1], origin, b, NULL, &r[2], &err)); /* again, reading all */
    ASSERT_INT_EQ(b->skipped, 0);
    ASSERT_OK(ooc__assign_pass(f, centres[1], origin, NULL, NULL, &r[3], &err)); /* plain */
    ASSERT(same_result(&r[1], &r[3], K, D, 0));
    ASSERT(same_result(&r[2], &r[3], K, D, 1));
    ASSERT_OK(ooc__assign_pass(f, centres[2], origin, b, NULL, &r[4], &err));
    ASSERT_OK(ooc__assign_pass(f, centres[2], origin, NULL, NULL, &r[5], &err));
    ASSERT(same_result(&r[4], &r[5], K, D, 0));
    ASSERT(r[5].counts[2] > r[3].counts[2]); /* rows did change cluster */
    for (int i = 0; i < 6; i++)
        ooc__assign_result_free(&r[i]);
    line_close(&lp);
    unlink(path);
}

/* Rows kept aside: three blobs on a line as above (std 1.2), passes run by hand with chunks keeping no row
 * aside, then 8 each. The third centre moves from 21 to 22, then to 16.5. The second pass leaves unread the
 * chunks whose rows all have a slack over 2, and, with rows kept aside, also those whose few rows under it
 * (the nearest a boundary) are measured and keep their labels; rows of the third blob below 16 go to the
 * middle one, and their chunks are read. Every pass gives plain Lloyd's sums, counts and inertia. */
static void test_rows_aside(void)
{
    enum { K = 3, D = 2 };
    const double line[K * D] = {0, 0, 10, 0, 20, 0};
    char path[64];
    const char *spec = "blobs:samples=60000,features=2,centers=3,seed=8,chunk_rows=400,cluster_std=1.2";
    write_blobs(spec, line, "aside.h5", path, sizeof path);
    const double third[3] = {21, 22, 16.5};
    double centres[3][K * D];
    for (int s = 0; s < 3; s++) {
        memcpy(centres[s], line, sizeof line);
        centres[s][2 * D] = third[s];
    }
    uint64_t skipped[2][3] = {{0}}, chunks = 0;
    for (int aside = 0; aside < 2; aside++) {
        line_passes lp;
        line_open(&lp, path, aside ? 8 : 0);
        chunks = lp.f.in->nchunks;
        ooc_error err;
        for (int s = 0; s < 3; s++) {
            ooc__assign_result on, plain;
            ASSERT_OK(ooc__assign_pass(&lp.f, centres[s], centres[0], &lp.b, NULL, &on, &err));
            skipped[aside][s] = lp.b.skipped;
            ASSERT_OK(ooc__assign_pass(&lp.f, centres[s], centres[0], NULL, NULL, &plain, &err));
            ASSERT(same_result(&on, &plain, K, D, 0));
            ooc__assign_result_free(&on);
            ooc__assign_result_free(&plain);
        }
        line_close(&lp);
    }
    printf("     chunks left unread in the second pass: %llu of %llu, %llu with rows kept aside\n",
           (unsigned long long)skipped[0][1], (unsigned long long)chunks, (unsigned long long)skipped[1][1]);
    ASSERT_INT_EQ(skipped[0][0] + skipped[1][0], 0);
    ASSERT(skipped[1][1] > skipped[0][1] && skipped[1][1] < chunks);
    unlink(path);
}

static void test_setup(void)
{
    ASSERT(mkdtemp(dir) != NULL);
}

static void test_cleanup(void)
{
    ASSERT_OK(rmdir(dir));
}

OOC_TEST_MAIN(test_setup, test_overlapping, test_bounds_skip, test_bounds_seeded, test_relocation, test_spilled,
              test_draws_kept, test_pieces_fit, test_chunks_unread,
              test_pass_again, test_rows_aside, test_cleanup)
