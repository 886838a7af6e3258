/* KMeans fit and predict: statistics, initialisation, Lloyd iterations, final labels. */
#include "ooc_clock.h"
#include "ooc_colstats.h"
#include "ooc_kmeans_internal.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ooc_kmeans_model_free(ooc_kmeans_model *m)
{
    if (!m)
        return;
    free(m->centers);
    free(m->sizes);
    free(m->history);
    free(m);
}

static ooc_kmeans_model *model_alloc(uint64_t k, uint64_t d)
{
    ooc_kmeans_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->k = k;
    m->d = d;
    m->centers = malloc(k * d * sizeof *m->centers);
    m->sizes = calloc(k, sizeof *m->sizes);
    if (!m->centers || !m->sizes) {
        ooc_kmeans_model_free(m);
        return NULL;
    }
    return m;
}

/* Whether row x, at squared distance dx from its centre in the pass, is one of the centres but for the
 * rounding of a mean. The new centre of a cluster of rows equal to x (x's own) is its origin o plus their
 * sum about o over n, rounded to the data's type. Its origin is a row (an initial centre drawn from the
 * rows, or the row it was relocated to) or a centre near it, and then it is x itself, or x − o is exact and
 * small: within 2^-20 |x − c| of x from the sum (n below 2^31, generously) and e |x| from the last roundings
 * (e: 2^-25 for float32, 2^-53 for float64: half an ulp, and less than one ulp between distinct rows);
 * squared and summed, (a + b)² <= 2a² + 2b². A bound relative to |x| alone, and larger, would call every row
 * of data far from 0 a centre, and distinct rows an ulp or a few apart the same. */
static int at_a_centre(const ooc__fit *f, const double *x, double dx, const double *centers)
{
    const double e = f->in->dtype == OOC_FLOAT32 ? 0x1p-25 : 0x1p-53;
    double xx = 0;
    for (uint64_t t = 0; t < f->d; t++)
        xx += x[t] * x[t];
    const double limit = 2 * (0x1p-40 * dx + e * e * xx);
    for (uint64_t c = 0; c < f->k; c++) {
        double dist = 0;
        for (uint64_t t = 0; t < f->d; t++)
            dist += (x[t] - centers[c * f->d + t]) * (x[t] - centers[c * f->d + t]);
        if (dist <= limit)
            return 1;
    }
    return 0;
}

/* A centre coordinate as the assignment measures it: float32 rows against float32 centres. The model keeps
 * those (as scikit-learn keeps float32 centres for float32 data), so that the centres saved are the ones the
 * labels and inertia belong to. */
static double in_data_type(const ooc__fit *f, double v)
{
    return f->in->dtype == OOC_FLOAT32 ? (double)(float)v : v;
}

/* Cluster c's centre from its rows' sums about its origin, in the data's type. */
static void mean_of(const ooc__fit *f, const ooc__assign_result *r, const double *origin, uint64_t c, double *centers)
{
    for (uint64_t t = 0; t < f->d; t++)
        centers[c * f->d + t] = in_data_type(f, origin[c * f->d + t] + r->sums[c * f->d + t] / r->counts[c]);
}

/* New centres from one Lloyd pass: each cluster's origin plus the mean of its rows' differences from it (the
 * digits of its spread kept however far from 0 the data is, and a function of its rows alone, so that the
 * same rows give the same centre: shift 0 once no label changes). Then, as scikit-learn relocates, each
 * empty cluster in order takes the next of the rows farthest from their centres, which leaves its cluster
 * (whose centre is taken again without it); but not a row at a centre (as the centres stand): that would
 * only split identical rows, and, their means rounding, the clusters would trade them for ever (rows of 5
 * distinct points, k = 8: 300 iterations, centres jumping), nor the last row of its cluster. When the rows
 * hold fewer distinct points than k, clusters stay empty. r's sums and counts are left as relocated.
 * Returns the squared shift summed over clusters (before: room for the centres as they were); h gets the
 * counts of empty and relocated clusters. */
static double update_centers(const ooc__fit *f, ooc__assign_result *r, double *centers, double *origin,
                             double *before, ooc_kmeans_iteration *h)
{
    const uint64_t k = f->k, d = f->d;
    memcpy(before, centers, k * d * sizeof *before);
    for (uint64_t c = 0; c < k; c++)
        if (r->counts[c] > 0)
            mean_of(f, r, origin, c, centers);
    uint64_t next_far = 0;
    h->empty = h->relocated = 0;
    for (uint64_t c = 0; c < k; c++) {
        if (r->counts[c] > 0)
            continue;
        h->empty++;
        while (next_far < r->n_far && (r->counts[r->far_label[next_far]] < 2 ||
                                       at_a_centre(f, r->far + next_far * d, r->far_dist[next_far], centers)))
            next_far++;
        if (next_far == r->n_far)
            continue;
        const double *x = r->far + next_far * d;
        uint64_t from = r->far_label[next_far++];
        for (uint64_t t = 0; t < d; t++)
            r->sums[from * d + t] -= x[t] - origin[from * d + t];
        r->counts[from] -= 1;
        mean_of(f, r, origin, from, centers);
        memcpy(origin + c * d, x, d * sizeof *x); /* its sums are about that row now */
        memset(r->sums + c * d, 0, d * sizeof *r->sums);
        r->counts[c] = 1;
        mean_of(f, r, origin, c, centers);
        h->relocated++;
    }
    double shift = 0;
    for (uint64_t e = 0; e < k * d; e++)
        shift += (centers[e] - before[e]) * (centers[e] - before[e]);
    return shift;
}

static void set_sizes(ooc_kmeans_model *m, const double *counts)
{
    for (uint64_t c = 0; c < m->k; c++)
        m->sizes[c] = (int64_t)counts[c];
}

/* Room for one more entry in m's history, grown as iterations come (not max_iter entries at the start:
 * --max-iter 1e9, "until it converges", asked for 40 GB); *cap: the entries allocated. */
static int history_room(const ooc__fit *f, ooc_kmeans_model *m, int *cap, ooc_error *err)
{
    if (m->history_len < *cap)
        return 0;
    int more = *cap < f->p->max_iter / 2 ? (*cap ? 2 * *cap : 64) : f->p->max_iter;
    ooc_kmeans_iteration *h = realloc(m->history, (size_t)more * sizeof *h);
    if (h) {
        m->history = h;
        *cap = more;
    }
    /* every process grows at the same iteration */
    return ooc__agree(f, h ? 0 : ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory"), err);
}

/* The chunks the pass just run left unread, in every process (collective with bounds). */
static uint64_t chunks_unread(const ooc__fit *f, const ooc__bounds *bounds)
{
    if (!bounds)
        return 0;
    uint64_t n = bounds->skipped;
    ooc_dist_sum(ooc_stream_dist(f->stream), &n);
    return n;
}

static int any_empty(const ooc__fit *f, const ooc__assign_result *r)
{
    for (uint64_t c = 0; c < f->k; c++)
        if (r->counts[c] == 0)
            return 1;
    return 0;
}

/* Lloyd to convergence; the model gets centres, n_iter, converged, history, and, when the last iteration
 * changed no centre (so its labels and inertia already belong to the final centres), inertia and sizes. */
static int lloyd_iterate(ooc__fit *f, ooc__bounds *bounds, double tol_abs, ooc_kmeans_model *m, int *final_known,
                         ooc_error *err)
{
    *final_known = 0;
    int cap = 0;
    /* Each cluster's sums are taken about its initial centre (one of the rows, or a mean of some), until it
     * is relocated to a row: see update_centers(). */
    double *origin = malloc(2 * f->k * f->d * sizeof *origin);
    int rc = ooc__agree(f, origin ? 0 : ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory"), err);
    if (rc)
        return rc;
    double *before = origin + f->k * f->d; /* update_centers()'s room */
    memcpy(origin, m->centers, f->k * f->d * sizeof *origin);
    for (int it = 1; it <= f->p->max_iter && !rc; it++) {
        double t0 = ooc_clock_seconds();
        ooc__assign_result r;
        rc = history_room(f, m, &cap, err);
        if (!rc)
            rc = ooc__assign_pass(f, m->centers, origin, bounds, NULL, &r, err);
        uint64_t unread = rc ? 0 : chunks_unread(f, bounds);
        /* An empty cluster goes to the rows farthest from their centres: to be found among all of them, so
         * the pass is run again reading every chunk (the same results otherwise). */
        if (unread && any_empty(f, &r)) {
            ooc__assign_result_free(&r);
            bounds->read_all = 1;
            rc = ooc__assign_pass(f, m->centers, origin, bounds, NULL, &r, err);
            unread = 0;
        }
        if (rc)
            break;
        ooc_kmeans_iteration *h = &m->history[m->history_len++];
        double shift = update_centers(f, &r, m->centers, origin, before, h);
        if (h->relocated && bounds && bounds->kept)
            ooc__bounds_forget(bounds); /* sums kept about the old origins */
        h->iter = it;
        h->inertia = r.inertia;
        h->shift = shift;
        h->recomputed = r.recomputed;
        h->chunks_unread = unread;
        h->seconds = ooc_clock_seconds() - t0;
        m->n_iter = it;
        if (f->p->on_iteration)
            f->p->on_iteration(h, f->p->user);
        if (shift == 0 && h->relocated == 0) { /* nothing moved: this pass's labels and inertia are the final ones */
            m->inertia = r.inertia;
            f->largest = r.largest;
            set_sizes(m, r.counts);
            *final_known = 1;
        }
        ooc__assign_result_free(&r);
        if (shift <= tol_abs) {
            m->converged = 1;
            break;
        }
    }
    free(origin);
    return rc;
}

/* The final centres' labels (into `labels`, unless NULL), inertia and sizes. When the last iteration moved
 * no centre, its labels and inertia are already theirs, and the labels are in the bounds' state: written
 * from it, without reading the data. Otherwise a pass assigns every row, skipping with the bounds (when
 * there are) the distances that cannot change a label. */
static int final_labels(ooc__fit *f, ooc__bounds *bounds, int final_known, ooc_h5_chunked *labels,
                        ooc_kmeans_model *m, ooc_error *err)
{
    if (final_known && bounds)
        return labels ? ooc__bounds_write_labels(bounds, f->stream, labels, err) : 0;
    if (final_known && !labels)
        return 0;
    ooc__assign_result r;
    int rc = ooc__assign_pass(f, m->centers, NULL, bounds, labels, &r, err);
    if (!rc && !final_known) { /* else the last iteration's, from the sums, as with bounds */
        m->inertia = r.inertia;
        f->largest = r.largest;
        set_sizes(m, r.counts);
    }
    if (!rc)
        ooc__assign_result_free(&r);
    return rc;
}

/* Lloyd with its per-row bounds when f->prune, seeded by the initialisation when it measured the rows, then
 * the final labels. No iteration writes labels: whether it is the last is known only after it. */
static int lloyd(ooc__fit *f, ooc__init_seed *seed, double tol_abs, ooc_h5_chunked *labels, ooc_kmeans_model *m,
                 ooc_error *err)
{
    for (uint64_t e = 0; e < f->k * f->d; e++) /* the initial centres too: a cluster may never move */
        m->centers[e] = in_data_type(f, m->centers[e]);
    ooc__bounds bounds;
    int rc = !f->prune   ? 0
             : seed->rows ? ooc__bounds_create_seeded(&bounds, f, seed, m->centers, err)
                          : ooc__bounds_create(&bounds, f, err);
    if (!rc && f->prune)
        rc = ooc__bounds_skipping(&bounds, f, err);
    if (rc) {
        if (f->prune)
            ooc__bounds_free(&bounds);
        return rc;
    }
    double t = ooc_clock_seconds();
    int final_known = 0;
    rc = lloyd_iterate(f, f->prune ? &bounds : NULL, tol_abs, m, &final_known, err);
    m->seconds_lloyd = ooc_clock_seconds() - t;
    t = ooc_clock_seconds();
    if (!rc)
        rc = final_labels(f, f->prune ? &bounds : NULL, final_known, labels, m, err);
    m->seconds_labels = ooc_clock_seconds() - t;
    if (f->prune)
        ooc__bounds_free(&bounds);
    return rc;
}

int ooc__check_stats(const ooc__fit *f, const ooc_colstats *st, ooc_error *err)
{
    if (st->first_nonfinite_row != OOC_NO_ROW)
        return ooc_error_set(err, OOC_ENONFINITE, "%s: row %llu: NaN or infinity in the data", f->in->input,
                             (unsigned long long)st->first_nonfinite_row);
    /* Where the columns' ranges squared sum past the largest double, two rows may be that far apart: no
     * centre, weight or inertia involving both means anything in float64 (one row at 1e155 among rows near 0
     * wrecked the initialisation's weights, and the fit "succeeded" 57 times the right inertia), and whether
     * a fit met them depended on its start. */
    double reach = 0;
    for (uint64_t j = 0; j < st->cols; j++) {
        double range = st->max[j] - st->min[j];
        if (!(range * range <= DBL_MAX))
            return ooc_error_set(err, OOC_ENONFINITE, "%s: feature %llu spans %.17g to %.17g: squared distances "
                                 "overflow float64: values too large", f->in->input, (unsigned long long)j,
                                 st->min[j], st->max[j]);
        reach += range * range;
    }
    if (!(reach <= DBL_MAX))
        return ooc_error_set(err, OOC_ENONFINITE, "%s: the features' ranges, squared and summed, pass %g: squared "
                             "distances overflow float64: values too large", f->in->input, DBL_MAX);
    return 0;
}

/* A row whose squared distance to its centre is not finite (largest, or inertia NaN): a NaN or an infinity
 * in the data (the first row named; a pass over the data finds it, paid only on this failure), else finite
 * values whose squares overflow. Finite distances whose sum alone overflows are an inertia of inf, as
 * scikit-learn's. */
static int check_inertia(ooc__fit *f, double inertia, double largest, int stats_checked, ooc_error *err)
{
    if (isfinite(largest) && !isnan(inertia))
        return 0;
    int rc = 0;
    if (!stats_checked) {
        ooc_colstats *st = NULL;
        rc = ooc_colstats_compute(f->stream, &st, err);
        if (!rc)
            rc = ooc__check_stats(f, st, err);
        ooc_colstats_free(st);
    }
    return rc ? rc
              : ooc_error_set(err, OOC_ENONFINITE, "%s: squared distances to the centres overflow float64: "
                              "values too large", f->in->input);
}

/* Per-row state the fit keeps (ooc_rowstate): k-means|| and k-means++ a distance and an index, then Lloyd
 * its bounds, converted in place from them; never both at once. */
static size_t per_row_bytes(const ooc_kmeans_params *p, int bounds)
{
    size_t init = p->init == OOC_INIT_RANDOM ? 0 : sizeof(float) + sizeof(int32_t);
    size_t lloyd = bounds ? sizeof(ooc__bound_row) : 0;
    return init > lloyd ? init : lloyd;
}

/* At its peak: the model; then the initialisation's arrays, or the seeding of Lloyd's bounds (with the
 * candidates), or a Lloyd pass's (with the bounds' centres). */
void ooc__kmeans_fit_memory(const ooc_array_info *in, const ooc_kmeans_params *p, int prune, uint64_t *held,
                            size_t *partial)
{
    ooc__fit fit = {.in = in, .p = p, .k = p->k, .d = in->cols, .prune = prune}, *f = &fit;
    uint64_t init, pass;
    size_t init_partial, pass_partial;
    ooc__kmeans_init_memory(f, &init, &init_partial);
    ooc__assign_pass_memory(f, 1, f->prune, &pass, &pass_partial);
    uint64_t m = ooc__kmeans_init_candidates(f);
    int seeded = f->prune && f->p->init != OOC_INIT_RANDOM;
    uint64_t seeding = seeded ? m * f->d * sizeof(double) + ooc__bounds_held_bytes(f, m) : 0;
    uint64_t lloyd = pass + 2 * f->k * f->d * sizeof(double) /* the origins, the centres before */ + (f->prune ? ooc__bounds_held_bytes(f, 0) : 0);
    uint64_t peak = init > seeding ? init : seeding;
    *held = f->k * (f->d + 1) * sizeof(double) + (peak > lloyd ? peak : lloyd);
    *partial = init_partial > pass_partial ? init_partial : pass_partial;
}

/* A stream for f's passes (into f->stream), its budget counting what the fit or prediction holds. */
static int create_stream(ooc__fit *f, ooc_array *a, ooc_stream_params sp, uint64_t held, size_t partial,
                         ooc_error *err)
{
    char name[96];
    snprintf(name, sizeof name, "k = %llu centres of %llu features", (unsigned long long)f->k,
             (unsigned long long)f->d);
    sp.held_bytes = held;
    sp.partial_bytes = partial;
    sp.held_name = name;
    return ooc_stream_create(a, &sp, &f->stream, err);
}

/* Our threads split the chunks; OpenBLAS inside one of them must not start threads of its own (nor, in
 * serial code, fan out to all cores, which the OpenMP build we link would). */
static void blas_single_threaded(void)
{
    openblas_set_num_threads(1);
}

/* The caller's thread settings, put back when a fit or prediction returns: OpenBLAS's, and OpenMP's default,
 * which the OpenMP build of OpenBLAS sets with its own. */
typedef struct thread_settings {
    int blas, omp;
} thread_settings;

static thread_settings thread_settings_save(void)
{
    return (thread_settings){openblas_get_num_threads(), omp_get_max_threads()};
}

static void thread_settings_restore(thread_settings s)
{
    openblas_set_num_threads(s.blas);
    omp_set_num_threads(s.omp);
}

/* The labels output must hold one int32 a row, in the input's processing chunks: anything else would be
 * written with the wrong layout (garbage, or bytes never set). */
static int check_labels_output(const ooc_array_info *in, ooc_chunk_output *labels, ooc_error *err)
{
    if (!labels)
        return 0;
    ooc_h5_chunked_params q = ooc_h5_chunked_get_params(ooc_chunk_output_dataset(labels));
    if (q.dtype == OOC_INT32 && q.rank == 1 && q.rows == in->rows && q.chunk_rows == in->chunk_rows)
        return 0;
    return ooc_error_set(err, OOC_EINVAL,
                         "%s: the labels output must be int32, 1-D, %llu rows in chunks of %llu (the input's), "
                         "not %s, %d-D, %llu x %llu in chunks of %llu",
                         in->input, (unsigned long long)in->rows, (unsigned long long)in->chunk_rows,
                         ooc_dtype_name(q.dtype), q.rank, (unsigned long long)q.rows, (unsigned long long)q.cols,
                         (unsigned long long)q.chunk_rows);
}

int ooc_kmeans_fit(ooc_array *a, const ooc_stream_params *sp, const ooc_kmeans_params *p, ooc_chunk_output *labels,
                   ooc_kmeans_model **out, ooc_error *err)
{
    *out = NULL;
    thread_settings saved = thread_settings_save();
    int rc = ooc__kmeans_fit(a, sp, p, labels, 1, out, err);
    thread_settings_restore(saved);
    return rc;
}

int ooc__kmeans_fit(ooc_array *a, const ooc_stream_params *sp, const ooc_kmeans_params *p, ooc_chunk_output *labels,
                    int prune, ooc_kmeans_model **out, ooc_error *err)
{
    double t_start = ooc_clock_seconds();
    int rc = ooc_kmeans_params_check(p, err);
    if (!rc) /* before any check that depends on what a process sees */
        rc = ooc_array_agree(a, sp->dist, err);
    if (rc)
        return rc;
    const ooc_array_info *in = ooc_array_get_info(a);
    if (p->k > in->rows)
        return ooc_error_set(err, OOC_EINVAL, "%s: n_clusters %llu is more than the %llu rows", in->input,
                             (unsigned long long)p->k, (unsigned long long)in->rows);
    if ((rc = check_labels_output(in, labels, err)) != 0)
        return rc;
    blas_single_threaded();
    ooc_stream_params sp2 = *sp;
    sp2.state_row_bytes = per_row_bytes(p, prune);
    sp2.output_row_bytes = labels ? sizeof(int32_t) : 0;
    ooc__fit f = {.in = in, .p = p, .k = p->k, .d = in->cols, .prune = prune};
    uint64_t held;
    size_t partial;
    ooc__kmeans_fit_memory(in, p, prune, &held, &partial);
    rc = create_stream(&f, a, sp2, held, partial, err);
    /* Chunks left unread change no result, only time: on where what they need is a small part of the limit
     * and the cache can spare it */
    uint64_t limit = rc ? 0 : ooc_stream_get_stats(f.stream)->memory_limit;
    f.unsure_cap = ooc__bounds_unsure_cap(in, sp->dist, limit);
    uint64_t skip_bytes = ooc__bounds_skip_bytes(in, sp->dist, p->k, f.unsure_cap);
    f.skip_chunks = !rc && prune && skip_bytes <= limit / 16 && ooc_stream_reserve(f.stream, skip_bytes) == 0;
    ooc_kmeans_model *m = rc ? NULL : model_alloc(f.k, f.d);
    if (!rc && !m)
        rc = ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory");
    if ((rc = ooc_dist_agree(sp->dist, rc, err)) != 0) {
        ooc_kmeans_model_free(m);
        ooc_stream_free(f.stream);
        return rc;
    }
    m->params = *p;
    m->n_samples = in->rows;
    /* The column statistics (for tol, and to refuse NaN) come with k-means||'s or k-means++'s first pass;
     * --init random reads the data once for them alone. */
    ooc_colstats *stats = NULL;
    double t = ooc_clock_seconds();
    if (p->init == OOC_INIT_RANDOM) {
        rc = ooc_colstats_compute(f.stream, &stats, err);
        if (!rc)
            rc = ooc__check_stats(&f, stats, err);
        f.stats_seconds = ooc_clock_seconds() - t;
    }
    ooc__init_seed seed = {0};
    if (!rc)
        rc = ooc__kmeans_init(&f, m->centers, &m->n_candidates, &seed, stats ? NULL : &stats, err);
    m->seconds_stats = f.stats_seconds;
    m->seconds_init = ooc_clock_seconds() - t - f.stats_seconds;
    double mean_var = stats ? ooc_colstats_mean_variance(stats) : 0;
    ooc_colstats_free(stats);
    ooc_h5_chunked *out_labels = labels ? ooc_chunk_output_dataset(labels) : NULL;
    if (!rc)
        rc = lloyd(&f, &seed, p->tol > 0 ? p->tol * mean_var : 0, out_labels, m, err); /* 0 x inf is no tol */
    if (!rc)
        rc = check_inertia(&f, m->inertia, f.largest, 1, err);
    ooc__init_seed_free(&seed);
    const ooc_stream_stats *ss = ooc_stream_get_stats(f.stream);
    m->passes = ss->passes;
    m->bytes_read = ss->bytes_read;
    rc = ooc_dist_agree(sp->dist, rc, err);
    if (!rc)
        ooc_dist_sum(sp->dist, &m->bytes_read); /* every process's reads */
    m->state_spilled = ss->state_spilled;
    m->threads = ss->threads;
    ooc_stream_free(f.stream);
    m->seconds_total = ooc_clock_seconds() - t_start;
    if (rc) {
        ooc_kmeans_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

static int predict(ooc_array *a, const ooc_stream_params *sp, const ooc_kmeans_model *m, ooc_chunk_output *labels,
                   ooc_kmeans_prediction *out, ooc_error *err)
{
    double t_start = ooc_clock_seconds();
    const ooc_array_info *in = ooc_array_get_info(a);
    int rc = ooc_array_agree(a, sp->dist, err);
    if (rc)
        return rc;
    if (in->cols != m->d)
        return ooc_error_set(err, OOC_EINVAL, "%s: %llu features, but the model has %llu", in->input,
                             (unsigned long long)in->cols, (unsigned long long)m->d);
    rc = check_labels_output(in, labels, err);
    if (rc)
        return rc;
    blas_single_threaded();
    ooc__fit f = {.in = in, .p = &m->params, .k = m->k, .d = m->d};
    uint64_t held;
    size_t partial;
    ooc__assign_pass_memory(&f, 0, 0, &held, &partial);
    ooc_stream_params sp2 = *sp;
    sp2.output_row_bytes = labels ? sizeof(int32_t) : 0;
    sp2.cache = 0; /* one pass: a cache would only hold memory (16M x 20 float32: 1.3 GB) and touch it fresh */
    rc = ooc_dist_agree(sp->dist, create_stream(&f, a, sp2, held + m->k * (m->d + 1) * sizeof(double), partial, err),
                        err);
    if (rc) {
        ooc_stream_free(f.stream);
        return rc;
    }
    ooc__assign_result r;
    ooc_kmeans_prediction done = {0};
    rc = ooc__assign_pass(&f, m->centers, NULL, NULL, labels ? ooc_chunk_output_dataset(labels) : NULL, &r, err);
    if (!rc) {
        done.inertia = r.inertia;
        double largest = r.largest;
        ooc__assign_result_free(&r);
        rc = check_inertia(&f, done.inertia, largest, 0, err);
    }
    const ooc_stream_stats *ss = ooc_stream_get_stats(f.stream);
    done.passes = ss->passes;
    done.bytes_read = ss->bytes_read;
    done.threads = ss->threads;
    rc = ooc_dist_agree(sp->dist, rc, err);
    if (!rc)
        ooc_dist_sum(sp->dist, &done.bytes_read); /* every process's reads */
    ooc_stream_free(f.stream);
    done.seconds = ooc_clock_seconds() - t_start;
    if (!rc && out)
        *out = done;
    return rc;
}

int ooc_kmeans_predict(ooc_array *a, const ooc_stream_params *sp, const ooc_kmeans_model *m,
                       ooc_chunk_output *labels, ooc_kmeans_prediction *out, ooc_error *err)
{
    thread_settings saved = thread_settings_save();
    int rc = predict(a, sp, m, labels, out, err);
    thread_settings_restore(saved);
    return rc;
}
