/* ooc_kmeans_internal.h: what the KMeans files share. */
#ifndef OOC_KMEANS_INTERNAL_H
#define OOC_KMEANS_INTERNAL_H

#include "ooc_assign_internal.h"
#include "ooc_colstats.h"
#include "ooc_kmeans.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Random streams under the user's seed (ooc_random.h), one per use, so no two uses share draws. */
enum {
    OOC__STREAM_FIRST_CENTER = 100, /* k-means|| and k-means++: the first centre's row */
    OOC__STREAM_ROUND = 101,        /* k-means|| round r: stream + r, index = row */
    OOC__STREAM_RECLUSTER = 200,    /* in-memory weighted k-means++ */
    OOC__STREAM_TOPUP = 201,        /* rows added when k-means|| yields fewer than k candidates */
    OOC__STREAM_RANDOM_INIT = 202,  /* --init random */
    OOC__STREAM_PLUSPLUS = 203      /* out-of-core k-means++: index = centre */
};

/* ooc__weighted_kmeans(): cluster m weighted points (m x d, weights >= 0, some > 0) into k <= m centres in
 * memory: weighted greedy k-means++ (2 + ln k local trials, as scikit-learn) then weighted Lloyd to
 * convergence, on `threads` threads. Deterministic for a seed, whatever the threads. centers: k x d out.
 * Returns 0 or OOC_ENOMEM. */
int ooc__weighted_kmeans(const double *points, const double *weights, size_t m, size_t d, size_t k, uint64_t seed,
                         int threads, double *centers);
/* ooc__weighted_kmeans_bytes(): the memory ooc__weighted_kmeans() allocates at its peak. */
size_t ooc__weighted_kmeans_bytes(size_t m, size_t d, size_t k);

/* ooc__float_below(): for v >= 0 (or NaN), the float strictly below v, or 0: a float bound at most any
 * exact value that v was rounded to nearest from (no double, hence no float, lies strictly between them).
 * Without branches (it runs for every row, and which way it goes is a coin toss): positive floats are
 * ordered as their bits, so the next one toward 0 is bits − 1. */
static inline float ooc__float_below(double v)
{
    float f = (float)v;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    bits -= (uint32_t)(((double)f >= v) & (f > 0));
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* The per-fit context the init and Lloyd files share. */
typedef struct ooc__fit {
    ooc_stream *stream;
    const ooc_array_info *in;
    const ooc_kmeans_params *p;
    uint64_t k, d;
    int prune; /* skip work that cannot change a result: Lloyd's Hamerly bounds, k-means||'s pruning and its
                * draws from rows kept in the pass (same results; off only to compare) */
    double stats_seconds; /* the pass that computed the column statistics, and the first centre's read before it */
    double largest;       /* the largest D of a row to its centre in the pass the model's inertia comes from */
    int skip_chunks;      /* Lloyd's passes may leave chunks unread (ooc__bounds_skipping()) */
    uint64_t unsure_cap;  /* then the rows of least slack a chunk keeps a copy of (ooc__bounds_unsure_cap()) */
} ooc__fit;

/* ooc__agree(): in a distributed fit, rc agreed by every process (ooc_dist_agree()): after a step where one
 * process may fail alone (memory, its own files), before the next collective one. */
static inline int ooc__agree(const ooc__fit *f, int rc, ooc_error *err)
{
    return ooc_dist_agree(ooc_stream_dist(f->stream), rc, err);
}

/* ooc__kmeans_fit(): ooc_kmeans_fit() with the pruning (Lloyd's bounds, k-means||'s) on or off. */
int ooc__kmeans_fit(ooc_array *a, const ooc_stream_params *sp, const ooc_kmeans_params *p, ooc_chunk_output *labels,
                    int prune, ooc_kmeans_model **out, ooc_error *err);
/* ooc__kmeans_fit_memory(): what such a fit holds besides the stream and the per-row state, at its peak
 * (*held), and the largest partial of its passes: its stream's held_bytes and partial_bytes. */
void ooc__kmeans_fit_memory(const ooc_array_info *in, const ooc_kmeans_params *p, int prune, uint64_t *held,
                            size_t *partial);

/* What k-means|| and k-means++ leave for Lloyd's first bounds: per row (ooc__init_row, in `rows`) the squared
 * distance to the nearest candidate measured and that candidate's index, and the candidates (m x d, values of
 * the data's type). rows is NULL after --init random or a failure. */
typedef struct ooc__init_row {
    float dmin; /* D to the nearest candidate times the seed's scale, rounded to float */
    int32_t nearest;
} ooc__init_row;

typedef struct ooc__init_seed {
    ooc_rowstate *rows;
    double *candidates;
    uint64_t m;
    double scale; /* a power of two: dmin is D scale (ooc_kmeans_init.c) */
} ooc__init_seed;

void ooc__init_seed_free(ooc__init_seed *s);

/* ooc__kmeans_init(): k x d initial centres by p->init. *n_candidates: k-means|| candidates (else k). seed:
 * zeroed by the caller, which frees it. stats: NULL, or where k-means|| and k-means++ put the column
 * statistics, computed in their first pass and checked (ooc__check_stats()) before any draw; left NULL by
 * --init random. */
int ooc__kmeans_init(ooc__fit *f, double *centers, uint64_t *n_candidates, ooc__init_seed *seed,
                     ooc_colstats **stats, ooc_error *err);

/* ooc__kmeans_init_memory(): what p->init holds at its peak besides the stream and the k x d centres
 * (for k-means||, with the expected number of candidates: 1 + oversampling_factor k a round), and the
 * largest partial of its passes. */
void ooc__kmeans_init_memory(const ooc__fit *f, uint64_t *held, size_t *partial);
/* ooc__kmeans_init_candidates(): the candidates k-means|| is expected to draw (k for the others). */
uint64_t ooc__kmeans_init_candidates(const ooc__fit *f);

/* ooc__check_stats(): OOC_ENONFINITE, naming the first row with NaN or infinity, or a feature whose range
 * squared overflows float64 (two rows' squared distance does); else 0. */
int ooc__check_stats(const ooc__fit *f, const ooc_colstats *st, ooc_error *err);

/* A pass assigning every row to its nearest of k centres: Lloyd's (accumulating new centres) or the final
 * one (labels and inertia only). */
typedef struct ooc__assign_result {
    double *sums;        /* k x d, Lloyd only: each cluster's rows less its origin, summed */
    double *counts;      /* k */
    double inertia;
    double largest;      /* the largest of the rows' D to their centres (inertia may overflow where it does not) */
    uint64_t recomputed; /* rows that went through the kernel (the others kept their label by their bounds) */
    uint64_t n_far;      /* rows kept in far[] (the farthest from their centres, for empty clusters) */
    double *far;         /* n_far x d, farthest first */
    double *far_dist;    /* n_far: their D to their centres */
    uint64_t *far_label; /* n_far: their clusters */
} ooc__assign_result;

/* Hamerly's bounds (ooc_assign_bounds.c): per row, the label of the last pass and a lower bound on the
 * distance (not squared) to every other centre. A pass first lowers each bound by how far the other centres
 * have moved since; a row whose exact D to its old centre is below the bound's square keeps its label
 * (strictly nearer than any other centre, so no tie either). When a few centres moved much farther than the
 * rest (an empty cluster relocated, a centre finding its blob), a row that bound cannot keep is measured
 * against those few and bounded by the others' drift alone; only the rows still left go through the kernel,
 * which also gives their new bound. Labels and distances are the kernel's, bit for bit, either way. */
typedef struct ooc__bound_row {
    int32_t label;
    float lower; /* rounded down, so that it stays a lower bound */
} ooc__bound_row;

typedef struct ooc__drift {
    double drift;
    uint64_t centre;
} ooc__drift;

typedef struct ooc__bounds {
    ooc_rowstate *rows;   /* an ooc__bound_row per row, handed to each chunk's map() */
    void *centers;        /* k x d in the data's type: the centres the bounds refer to */
    int valid;            /* rows and centers hold a pass's bounds */
    uint64_t k, d;
    ooc_dtype dtype;
    double margin;        /* ooc__sqdist_margin(d) */
    const double *origin; /* k x d: what each cluster's sum is taken about (Lloyd's) */
    /* the pass under way: its kernel and centres, and the drift of every centre since `centers` (upper
     * bounds on ‖c_new − c_old‖), largest first: drifted[0 .. k). A row the plain bound cannot keep is
     * measured against the first n_exc of them, the exceptions, and bounded by the drift of the others
     * (ooc_assign_bounds.c). */
    ooc__assign_fn kernel;
    const void *now, *now_norm2;
    ooc__drift *drifted;
    uint64_t n_exc;
    /* seeded, until the first pass has converted every row: per k-means|| candidate the centre nearest it
     * and the reach of the bound (ooc_assign_bounds.c) */
    int32_t *seed_label;
    double *seed_reach;
    double seed_scale; /* the seed's: its dmin are D seed_scale */
    /* Chunks a Lloyd pass need not read (ooc_assign_bounds.c), when on (kept not NULL): per chunk of this
     * process (chunk / nprocs), what its rows gave the pass that last read it (rec doubles: the partial's
     * sums, counts and squares), their least slack then (-inf: none kept), and M, how far any centre may
     * have moved since. skip: the pass's ooc_pass.skip; skipped: how many it skips here; read_all: the next
     * pass reads every chunk. The rows of least slack, left out of slack: per chunk up to unsure_cap of them,
     * unsure_n, with their slack, their labels then and their values (unsure_x, in the data's type), and
     * unsure_top, the slack below which rows come in;
     * unsure_work: where a pass measures them (ooc_assign_bounds.c). */
    double *kept, *slack, *moved;
    uint64_t chunks, rec, nprocs, skipped;
    unsigned char *skip;
    int read_all;
    uint64_t unsure_cap, *unsure_n;
    double *unsure_slack, *unsure_top;
    int32_t *unsure_label;
    void *unsure_x, *unsure_work;
    size_t unsure_x_bytes;
} ooc__bounds;

/* ooc__bounds_create(): for the rows of f's stream (created with state_row_bytes >= sizeof(ooc__bound_row)). */
int ooc__bounds_create(ooc__bounds *b, const ooc__fit *f, ooc_error *err);
/* ooc__bounds_create_seeded(): bounds already valid for the first pass to `centers` (k x d) from what the
 * initialisation measured (seed->rows non-NULL; taken over, and converted in place by that pass): a row's label is the
 * centre nearest its nearest candidate c, and its bound that candidate's distance to every other centre
 * less its own distance to c (the triangle inequality). Rows on a boundary simply go through the kernel. */
int ooc__bounds_create_seeded(ooc__bounds *b, const ooc__fit *f, ooc__init_seed *seed, const double *centers,
                              ooc_error *err);
void ooc__bounds_free(ooc__bounds *b);
/* ooc__bounds_skipping(): Lloyd's passes may leave chunks unread from now on, when f->skip_chunks (the memory
 * is ooc__bounds_skip_bytes()); collective. ooc__bounds_forget(): the next pass reads every chunk, and chunks are kept
 * again from what it reads (the origins changed). */
int ooc__bounds_skipping(ooc__bounds *b, const ooc__fit *f, ooc_error *err);
/* ooc__bounds_unsure_cap(): the rows of least slack each chunk keeps a copy of, within a small part of the
 * limit. ooc__bounds_skip_bytes(): the memory of it all, with that many. */
uint64_t ooc__bounds_unsure_cap(const ooc_array_info *in, const ooc_dist *dist, uint64_t limit);
uint64_t ooc__bounds_skip_bytes(const ooc_array_info *in, const ooc_dist *dist, uint64_t k, uint64_t unsure_cap);
void ooc__bounds_forget(ooc__bounds *b);
/* ooc__bounds_chunk_start(): before a pass that takes sums reads chunk `chunk`'s first row. */
void ooc__bounds_chunk_start(ooc__bounds *b, uint64_t chunk);
/* ooc__bounds_slack(): n rows of chunk `chunk` (values x, bounds st, just assigned; dist: their D): those of
 * least slack kept aside with their values, up to b->unsure_cap in the chunk; returns the least slack of the
 * others (those not kept, or no longer). */
double ooc__bounds_slack(ooc__bounds *b, uint64_t chunk, const void *x, const ooc__bound_row *st, const double *dist,
                         uint64_t n);
/* ooc__bounds_chunk_read(): after a pass has read chunk `chunk`: its rows' contribution to Lloyd's sums
 * (rec doubles), or NULL when the pass takes none, and their least slack. ooc__bounds_kept(): that
 * contribution, for a pass that skips the chunk. ooc__bounds_moved(): the chunk's M (0 when off). */
void ooc__bounds_chunk_read(ooc__bounds *b, uint64_t chunk, const double *sums, double slack);
const double *ooc__bounds_kept(const ooc__bounds *b, uint64_t chunk);
double ooc__bounds_moved(const ooc__bounds *b, uint64_t chunk);
/* ooc__bounds_begin(): before a pass assigning to `centers` (k x d and their norms, the data's type); origin:
 * what the pass's sums are taken about (k x d), or NULL when it takes none. */
void ooc__bounds_begin(ooc__bounds *b, ooc__assign_fn kernel, const void *centers, const void *norm2,
                       const double *origin);
/* ooc__bounds_end(): after the pass has gone over every row: the bounds now refer to its centres. */
void ooc__bounds_end(ooc__bounds *b);
/* ooc__bounds_work_bytes(): the work area one call of ooc__bounds_assign() needs, a multiple of 64. */
size_t ooc__bounds_work_bytes(ooc_dtype t, uint64_t d);
/* ooc__bounds_held_bytes(): what bounds hold besides the per-row state; seeded from m candidates, while
 * they are created (m = 0: not seeded). */
uint64_t ooc__bounds_held_bytes(const ooc__fit *f, uint64_t m);
/* ooc__bounds_assign(): labels and dist of rows x (n x d) as the pass's kernel gives them, and their
 * state st (n rows) updated; scratch: the kernel's, work: ooc__bounds_work_bytes(), both 64-byte aligned.
 * sums (k x d), counts and squares, or NULL: the first *summed rows are added to them (those the bounds kept
 * before any had to be measured; the caller adds the others). moved: the rows' chunk's M
 * (ooc__bounds_moved()). Returns how many rows went through the kernel. */
uint64_t ooc__bounds_assign(const ooc__bounds *b, const void *x, uint64_t n, ooc__bound_row *st, int32_t *labels,
                            double *dist, void *scratch, void *work, double *sums, double *counts, double *squares,
                            uint64_t *summed, double moved);

/* ooc__bounds_write_labels(): the labels the bounds hold (those of the last pass) into `labels`, chunk by
 * chunk, reading the per-row state alone, not the data. */
int ooc__bounds_write_labels(ooc__bounds *b, ooc_stream *s, ooc_h5_chunked *labels, ooc_error *err);

/* origin: Lloyd's pass, which sums each cluster's rows less its origin (k x d), or NULL: labels and inertia
 * only. bounds: Lloyd's (ooc__bounds_begin() and _end() are called here), or NULL: every row through the
 * kernel. */
int ooc__assign_pass(ooc__fit *f, const double *centers, const double *origin, ooc__bounds *bounds, ooc_h5_chunked *labels,
                     ooc__assign_result *res, ooc_error *err);
void ooc__assign_result_free(ooc__assign_result *r);
/* ooc__assign_pass_memory(): what such a pass holds besides the stream (*held) and its partial's size. */
void ooc__assign_pass_memory(const ooc__fit *f, int accumulate, int with_bounds, uint64_t *held, size_t *partial);

#endif
