/* ooc_kmeans.h: KMeans over an ooc_array, out of core, as scikit-learn / dask-ml define it.
 *
 * Initialisation: k-means|| (Bahmani et al., VLDB 2012): a first centre uniform at random; `init_max_iter`
 * rounds in which every row is drawn with probability min(1, l * d2(x, C) / phi), l = oversampling_factor * k,
 * the draw for a row keyed by (seed, round, row) so the candidates depend on nothing else; the candidates
 * weighted by how many rows are nearest to each and reclustered in memory by weighted greedy k-means++
 * (2 + ln k trials per step) and weighted Lloyd. Or greedy k-means++ over the rows, as scikit-learn's (each
 * step draws 2 + ln k trial rows by d2 and keeps the one that lowers the potential most), or k random rows.
 * Then Lloyd: one pass per iteration (assignment and accumulation fused), until the squared centre shift
 * summed over clusters is at most tol * (mean feature variance) or max_iter. Labels and inertia belong to
 * the final centres.
 *
 * Costs, in full passes over the data: k-means|| 1 + init_max_iter (plus reading the chunks that hold sampled
 * rows); k-means++ 2k - 1 (a pass adding each centre, one scoring each step's trials); random 1 (the
 * statistics alone); Lloyd 1 per iteration, of which it reads only the chunks whose rows' labels its bounds
 * cannot prove, or the copies it keeps of their rows nearest a boundary do not confirm
 * (ooc_kmeans_iteration.chunks_unread: the others' sums are taken as they were); final
 * labels/inertia 1 unless the last iteration changed no label (strict convergence). The statistics (NaN
 * check, variance for tol) ride on k-means|| and k-means++'s first pass. Lloyd's inertia comes from each
 * cluster's count, sum and sum of squares about its origin; predict's, summed row by row, agrees with it up
 * to rounding.
 *
 * Same input, chunking, seed and options => bitwise-identical centres, inertia, n_iter and labels for any
 * thread count, and for any number of processes (ooc_stream_params.dist: every process calls fit or
 * predict with the same arguments, each reads its own chunks, and all return the same model or error; an
 * input that some process sees otherwise is OOC_EINVAL: ooc_array_agree()).
 */
#ifndef OOC_KMEANS_H
#define OOC_KMEANS_H

#include "ooc_array.h"
#include "ooc_chunk_output.h"
#include "ooc_error.h"
#include "ooc_stream.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ooc_kmeans_init {
    OOC_INIT_KMEANS_PARALLEL = 0, /* "k-means||" */
    OOC_INIT_KMEANS_PP = 1,       /* "k-means++" */
    OOC_INIT_RANDOM = 2           /* "random" */
} ooc_kmeans_init;

/* ooc_kmeans_init_parse(): "k-means||", "k-means++", "random"; 0 or OOC_EINVAL. */
int ooc_kmeans_init_parse(const char *s, ooc_kmeans_init *out);
const char *ooc_kmeans_init_name(ooc_kmeans_init init);

/* One Lloyd iteration, for progress lines. */
typedef struct ooc_kmeans_iteration {
    int iter;            /* from 1 */
    double inertia;      /* of the centres the iteration started from */
    double shift;        /* squared centre shift summed over clusters */
    uint64_t empty;      /* clusters no row was assigned to in this iteration's pass */
    uint64_t relocated;  /* of those, the ones moved onto a far row (the others stay empty: no row was left) */
    uint64_t recomputed; /* rows measured against every centre; the others kept their label by their bounds */
    uint64_t chunks_unread; /* chunks whose every row kept its label by its bounds, taken as before, not read */
    double seconds;
} ooc_kmeans_iteration;

typedef struct ooc_kmeans_params {
    uint64_t k;                 /* clusters                                          [default: 8] */
    ooc_kmeans_init init;       /*                                                   [default: k-means||] */
    double oversampling_factor; /* k-means|| draws about l = L * k rows a round      [default: 2] */
    int init_max_iter;          /* rounds of k-means||                               [default: 5] */
    int max_iter;               /* Lloyd iterations at most                          [default: 300] */
    double tol;                 /* relative to the mean feature variance             [default: 1e-4] */
    uint64_t seed;              /*                                                   [default: 0] */
    /* Optional callbacks (the library never prints): each Lloyd iteration, and notes such as a top-up of
     * too few k-means|| candidates. */
    void (*on_iteration)(const ooc_kmeans_iteration *it, void *user);
    void (*on_note)(const char *note, void *user);
    void *user;
} ooc_kmeans_params;

ooc_kmeans_params ooc_kmeans_params_default(void);

/* ooc_kmeans_params_check(): k >= 1, oversampling_factor > 0, init_max_iter >= 1, max_iter >= 1, tol >= 0. */
int ooc_kmeans_params_check(const ooc_kmeans_params *p, ooc_error *err);

typedef struct ooc_kmeans_model {
    uint64_t k, d;
    double *centers;        /* k x d (float32-representable when fitted to float32 rows) */
    int64_t *sizes;         /* rows in each cluster */
    double inertia;         /* sum of squared distances of rows to their centres */
    int n_iter, converged;
    uint64_t n_samples;
    ooc_kmeans_params params;
    /* what the fit did (zero for a loaded model) */
    int history_len;
    ooc_kmeans_iteration *history; /* one per Lloyd iteration */
    uint64_t n_candidates;  /* k-means|| candidates before reclustering */
    uint64_t passes;        /* full passes over the data */
    uint64_t bytes_read;    /* from storage */
    int state_spilled;      /* per-row state was kept in a temporary file, not in memory */
    int threads;            /* the passes ran on (per process) */
    double seconds_stats, seconds_init, seconds_lloyd, seconds_labels, seconds_total;
} ooc_kmeans_model;

void ooc_kmeans_model_free(ooc_kmeans_model *m); /* NULL is a no-op */

/* ooc_kmeans_fit(): fit p to the array a, streaming it under sp (threads, memory limit, progress). labels:
 * NULL, or an output chunked like a (int32, 1-D) that receives the label of every row (distributed: in
 * process 0; the others pass ooc_chunk_output_create_remote()'s). Errors: k > rows (OOC_EINVAL), a
 * non-finite value (OOC_ENONFINITE naming the first row) or values whose squared distances may overflow
 * (OOC_ENONFINITE), the reader's and the stream's. A sum of finite squared distances past the largest
 * double is an inertia of inf. */
int ooc_kmeans_fit(ooc_array *a, const ooc_stream_params *sp, const ooc_kmeans_params *p, ooc_chunk_output *labels,
                   ooc_kmeans_model **out, ooc_error *err);

/* What a prediction found and did. */
typedef struct ooc_kmeans_prediction {
    double inertia;      /* sum of squared distances of rows to their nearest centre */
    uint64_t passes;     /* full passes over the data */
    uint64_t bytes_read; /* from storage (distributed: by every process) */
    int threads;         /* the pass ran on (per process) */
    double seconds;
} ooc_kmeans_prediction;

/* ooc_kmeans_predict(): label every row of a with m's nearest centre into labels (as for fit); *out (may be
 * NULL) gets the inertia and what the pass did. OOC_EINVAL if a's feature count differs from m's;
 * OOC_ENONFINITE as for fit (then a second pass names the first row with NaN or infinity). */
int ooc_kmeans_predict(ooc_array *a, const ooc_stream_params *sp, const ooc_kmeans_model *m,
                       ooc_chunk_output *labels, ooc_kmeans_prediction *out, ooc_error *err);

/* ooc_kmeans_model_write(): write m as an HDF5 file at path (normally an ooc_output's temporary file; name is
 * what messages call it): /cluster_centers (k x d float64), /cluster_sizes (k int64), attributes inertia,
 * n_iter, converged, n_samples, n_features, n_clusters, init, oversampling_factor, init_max_iter, max_iter,
 * tol, seed, input, ooc_version. */
int ooc_kmeans_model_write(const ooc_kmeans_model *m, const char *input, const char *path, const char *name,
                           ooc_error *err);

/* ooc_kmeans_model_load(): read a model written by ooc_kmeans_model_write(), or by anyone: /cluster_centers
 * (finite) is all it needs; /cluster_sizes and the attributes n_clusters and n_features, where present, must
 * agree with it (k non-negative integer counts; k; d), else OOC_EFORMAT naming what disagrees. The other
 * attributes, where present, fill the fields of their names (else zero, and params the defaults with k):
 * each must be a value its field can take, else OOC_EFORMAT naming it. */
int ooc_kmeans_model_load(const char *path, ooc_kmeans_model **out, ooc_error *err);

#ifdef __cplusplus
}
#endif

#endif
