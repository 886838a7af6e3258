/* Hamerly's bounds in Lloyd's assignment (the idea in ooc_kmeans_internal.h), kept safe under rounding.
 *
 * Distances r_j = ‖x − c_j‖ are exact ones between the values the kernels see (rows and centres in the
 * data's type); D_j is ooc__sqdist's rounded r_j², within a relative γ_(d+3) of it; m =
 * ooc__sqdist_margin(d) = 8 (d + 4) u covers that and the handful of roundings below (u = 2^-53).
 * - The invariant: lower <= r_j for every j != label, for the centres the bounds refer to.
 * - From the kernel: second <= D_j <= r_j² (1 + γ), so sqrt(second (1 − m)), rounded twice, is <= r_j.
 * - Drift: a centre moves by ‖Δ_j‖ <= δ_j = sqrt(D(c_new, c_old) (1 + m)), rounded twice, since D of the
 *   two centres is >= ‖Δ_j‖² (1 − γ). By the triangle inequality r_j' >= r_j − δ_j, so the bound for the
 *   new centres is lower − max_(j != label) δ_j: the largest drift, or the second largest when the row's
 *   own centre moved most. An empty cluster's relocation is only a large drift.
 * - Exceptions: for a row the above cannot keep, the centres E that drifted most are measured: D_j for j in
 *   E. With l' = lower − (the largest drift outside E, other than the row's own centre's), D_a < l'² (1 − m)
 *   and D_a < D_j for every j in E other than a still mean D_a < D_j for every j != a, and the new bound is
 *   the least of l' and the sqrt(D_j (1 − m)) (each rounded as the kernel's second is).
 * - Rounding a bound for storage (ooc__float_below()): the float strictly below the double v = fl(l − δ).
 *   v is the double nearest the exact l − δ, so no double, hence no float, lies strictly between them: a
 *   float below v is <= l − δ.
 * - Keeping: with l = fl(lower − δ) > 0 (at most l_exact (1 + u)), D_j >= r_j² (1 − γ) >= fl(fl(l·l) (1 − m))
 *   for every other j, so D_a below that means D_a < D_j: the kernel would answer a, and dist = D_a.
 * - Chunks left unread: when a chunk is read, each row's slack s = L (1 − m) − u (1 + m) is taken, with L its
 *   new bound and u = sqrt(D_a (1 + 2m)) >= r_a (D_a >= r_a² (1 − γ)), both less a few roundings. Once every
 *   centre may have moved by M since (the largest drifts of the passes since, summed and rounded up), r_a' <=
 *   u + M and r_j' >= L − M, so a row with s > 2M has r_a' (1 + γ) < r_j' (1 − γ): D_a' < D_j' for every
 *   j != a, and the kernel would answer a again. A chunk whose least slack passes that test keeps every
 *   label: its rows' sums, counts and squares are those it gave when read (the origins unchanged), so the
 *   pass takes them as kept, without reading it. Its bounds stay as they were, and M goes with them: when
 *   the chunk is next read, each bound is first lowered by M as well.
 * - The rows of least slack (those near a boundary, a few in each chunk where clusters are apart) would hold
 *   the chunk's least slack down: a chunk keeps a copy of up to unsure_cap of them, and its least slack is
 *   that of the others. A pass may leave it unread when those others pass the test above and each row kept
 *   aside either passes it too or, measured against the pass's centres by the pass's kernel (whose answer
 *   for a row does not depend on the rows beside it), gets the label it had. */
#include "ooc_buffer_internal.h"
#include "ooc_kmeans_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Everything but the rows; centers has room for the norms too (ooc__assign_typed_centers()). */
static int bounds_init(ooc__bounds *b, const ooc__fit *f, ooc_error *err)
{
    memset(b, 0, sizeof *b);
    b->nprocs = (uint64_t)ooc_dist_size(ooc_stream_dist(f->stream));
    b->k = f->k;
    b->d = f->d;
    b->dtype = f->in->dtype;
    b->margin = ooc__sqdist_margin((size_t)f->d);
    b->centers = malloc((f->k * f->d + f->k) * ooc_dtype_size(b->dtype));
    b->drifted = malloc(f->k * sizeof *b->drifted);
    return b->centers && b->drifted ? 0 : ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory");
}

uint64_t ooc__bounds_held_bytes(const ooc__fit *f, uint64_t m)
{
    uint64_t esize = ooc_dtype_size(f->in->dtype);
    uint64_t seeding = m * (f->d + 1) * esize + m * (sizeof(int32_t) + sizeof(double));
    return (f->k * f->d + f->k) * esize + f->k * sizeof(ooc__drift) + seeding;
}

int ooc__bounds_create(ooc__bounds *b, const ooc__fit *f, ooc_error *err)
{
    int rc = ooc__agree(f, bounds_init(b, f, err), err);
    if (!rc)
        rc = ooc_rowstate_create(f->stream, sizeof(ooc__bound_row), &b->rows, err);
    if (rc)
        ooc__bounds_free(b);
    return rc;
}

/* A row kept aside: its values, slack and label. */
static uint64_t unsure_row_bytes(ooc_dtype t, uint64_t d)
{
    return d * ooc_dtype_size(t) + sizeof(double) + sizeof(int32_t);
}

/* Where a pass measures a chunk's rows kept aside: the kernel's scratch | their values | the labels the
 * kernel gives | their places | dist. */
static size_t unsure_work_bytes(ooc_dtype t, uint64_t k, uint64_t d, uint64_t cap)
{
    size_t x = (cap * d * ooc_dtype_size(t) + 7) / 8 * 8;
    return ooc__assign_scratch_bytes(t, (size_t)k, (size_t)d) + x + cap * (2 * sizeof(int32_t) + sizeof(double));
}

/* Rows a chunk keeps aside, at most: 1/64 of its rows, and no more than this (the cost of keeping the least
 * of a chunk's n slacks, as rows come, grows as cap ln(n / cap)). */
#define UNSURE_MAX 512

uint64_t ooc__bounds_unsure_cap(const ooc_array_info *in, const ooc_dist *dist, uint64_t limit)
{
    uint64_t chunks = ooc_dist_owned(dist, in->nchunks) + 1; /* + 1: the work area */
    uint64_t fit = limit / 32 / (chunks * unsure_row_bytes(in->dtype, in->cols));
    uint64_t most = in->chunk_rows / 64 < UNSURE_MAX ? in->chunk_rows / 64 : UNSURE_MAX;
    return fit < most ? fit : most;
}

uint64_t ooc__bounds_skip_bytes(const ooc_array_info *in, const ooc_dist *dist, uint64_t k, uint64_t unsure_cap)
{
    uint64_t chunks = ooc_dist_owned(dist, in->nchunks), values = in->cols * ooc_dtype_size(in->dtype);
    uint64_t aside = unsure_cap * (unsure_row_bytes(in->dtype, in->cols) - values); /* besides their values */
    uint64_t per_chunk = (k * in->cols + 2 * k + 4) * sizeof(double) + 1 + aside;
    return chunks * per_chunk + ooc__buffer_footprint(chunks * unsure_cap * values) +
           unsure_work_bytes(in->dtype, k, in->cols, unsure_cap) + 64;
}

int ooc__bounds_skipping(ooc__bounds *b, const ooc__fit *f, ooc_error *err)
{
    int rc = 0;
    if (f->skip_chunks) { /* each process's own choice: the results are the same either way */
        b->chunks = ooc_dist_owned(ooc_stream_dist(f->stream), f->in->nchunks);
        b->rec = f->k * f->d + 2 * f->k;
        b->kept = malloc((b->chunks ? b->chunks : 1) * b->rec * sizeof *b->kept);
        b->slack = malloc((b->chunks ? b->chunks : 1) * sizeof *b->slack);
        b->moved = calloc(b->chunks ? b->chunks : 1, sizeof *b->moved);
        b->skip = calloc(b->chunks ? b->chunks : 1, 1);
        b->unsure_cap = f->unsure_cap < UNSURE_MAX ? f->unsure_cap : UNSURE_MAX; /* unsure_halve()'s room */
        uint64_t slots = b->chunks * b->unsure_cap > 0 ? b->chunks * b->unsure_cap : 1;
        b->unsure_n = calloc(b->chunks ? b->chunks : 1, sizeof *b->unsure_n);
        b->unsure_top = malloc((b->chunks ? b->chunks : 1) * sizeof *b->unsure_top);
        b->unsure_slack = malloc(slots * sizeof *b->unsure_slack);
        b->unsure_label = malloc(slots * sizeof *b->unsure_label);
        b->unsure_x_bytes = slots * b->d * ooc_dtype_size(b->dtype);
        b->unsure_x = ooc__buffer_alloc(b->unsure_x_bytes); /* huge pages: written as a pass first reads */
        b->unsure_work = aligned_alloc(64, (unsure_work_bytes(b->dtype, b->k, b->d, b->unsure_cap) + 63) / 64 * 64);
        rc = b->kept && b->slack && b->moved && b->skip && b->unsure_n && b->unsure_top && b->unsure_slack &&
                     b->unsure_label && b->unsure_x && b->unsure_work
                 ? 0
                 : ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory");
        if (!rc)
            ooc__bounds_forget(b);
    }
    return ooc__agree(f, rc, err);
}

void ooc__bounds_forget(ooc__bounds *b)
{
    for (uint64_t j = 0; j < b->chunks; j++)
        b->slack[j] = -INFINITY;
}

void ooc__bounds_free(ooc__bounds *b)
{
    ooc_rowstate_free(b->rows);
    free(b->kept);
    free(b->slack);
    free(b->moved);
    free(b->skip);
    free(b->unsure_n);
    free(b->unsure_top);
    free(b->unsure_slack);
    free(b->unsure_label);
    ooc__buffer_free(b->unsure_x, b->unsure_x_bytes);
    free(b->unsure_work);
    free(b->centers);
    free(b->drifted);
    free(b->seed_label);
    free(b->seed_reach);
    memset(b, 0, sizeof *b);
}

/* An upper bound on ‖c − c_old‖ for centres in the data's type (see the top). */
static double drift(const ooc__bounds *b, const void *c, const void *c_old)
{
    double dd = ooc__sqdist(b->dtype, c, c_old, (size_t)b->d);
    return sqrt(dd * (1 + b->margin));
}

/* Largest drift first; equal drifts by centre index, so the order is one total order. */
static int larger_drift(const void *pa, const void *pb)
{
    const ooc__drift *a = pa, *b = pb;
    if (a->drift != b->drift)
        return a->drift > b->drift ? -1 : 1;
    return a->centre < b->centre ? -1 : a->centre > b->centre;
}

/* The drift of the centre after the first e in drifted[], or 0 past the last. */
static double drift_after(const ooc__bounds *b, uint64_t e)
{
    return e < b->k ? b->drifted[e].drift : 0;
}

/* How many exceptions, at most EXCEPTIONS_MAX. The rows the plain bound cannot keep grow about as the
 * largest drift δ_1, and those left after e exceptions as δ_(e+1); the first pay e distances each, the
 * others the kernel, worth about k/4 distances (its dot products run 4 or more times as fast). So e
 * minimises e δ_1 + (k/4) δ_(e+1): 0 when the drifts are alike, a few when a few stand out. Any e gives the
 * same results. */
#define EXCEPTIONS_MAX 64

static uint64_t exceptions(const ooc__bounds *b)
{
    double kernel = (double)b->k / 4 > 2 ? (double)b->k / 4 : 2, d1 = drift_after(b, 0);
    uint64_t best = 0, most = b->k < EXCEPTIONS_MAX ? b->k : EXCEPTIONS_MAX;
    double best_cost = kernel * d1;
    for (uint64_t e = 1; e <= most; e++) {
        double cost = (double)e * d1 + kernel * drift_after(b, e);
        if (cost < best_cost) {
            best_cost = cost;
            best = e;
        }
    }
    return best;
}

/* d plus moved (a chunk's M from the passes that did not read it, 0 if none), rounded up: fl(moved + d) is
 * at least (moved + d)(1 − u). */
static inline double plus_moved(double moved, double d)
{
    return moved > 0 ? (moved + d) * (1 + 0x1p-51) : d;
}

/* Chunk j's rows kept aside, in slots [0, n) in the order they came; top: only rows of slack below it come
 * in (inf until the first selection below). */
typedef struct unsure {
    double *slack, *top;
    int32_t *label;
    char *x;
    uint64_t *n, cap;
    size_t row_bytes;
} unsure;

static unsure unsure_view(const ooc__bounds *b, uint64_t j)
{
    size_t row_bytes = (size_t)b->d * ooc_dtype_size(b->dtype);
    uint64_t at = j * b->unsure_cap;
    unsure u = {b->unsure_slack + at, b->unsure_top + j, b->unsure_label + at,
                (char *)b->unsure_x + at * row_bytes, b->unsure_n + j, b->unsure_cap, row_bytes};
    return u;
}

/* The value of rank r (from 0) among v[0, n), r < n, v reordered: Hoare's selection, splitting the range
 * three ways about the middle of three values (the part equal to it is never empty, so each step shrinks it). */
static double rank_value(double *v, uint64_t n, uint64_t r)
{
    uint64_t lo = 0, hi = n; /* the value of rank r is among v[lo, hi) */
    for (;;) {
        double a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi - 1];
        double pivot = a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
        uint64_t lt = lo, i = lo, gt = hi; /* [lo, lt) < pivot, [lt, i) == pivot, [gt, hi) > pivot */
        while (i < gt) {
            double t = v[i];
            if (t < pivot) {
                v[i++] = v[lt];
                v[lt++] = t;
            } else if (t > pivot) {
                v[i] = v[--gt];
                v[gt] = t;
            } else {
                i++;
            }
        }
        if (r < lt)
            hi = lt;
        else if (r >= gt)
            lo = gt;
        else
            return pivot;
    }
}

/* A full set of rows kept aside halved: the half of least slack stays (those below the value v of rank n/2,
 * then those at v, in the order they came), moved to the front; the others join *least, which v bounds.
 * From then on only rows below v come in. */
static void unsure_halve(unsure *u, double *least)
{
    uint64_t n = *u->n, half = n / 2, below = 0, kept = 0;
    double spare[UNSURE_MAX]; /* the slacks to select from, reordered */
    memcpy(spare, u->slack, n * sizeof *spare);
    double v = rank_value(spare, n, half);
    for (uint64_t i = 0; i < n; i++)
        below += u->slack[i] < v;
    for (uint64_t i = 0, at_v = 0; i < n; i++) {
        double s = u->slack[i];
        if (!(s < v || (s == v && at_v++ < half - below)))
            continue;
        u->slack[kept] = s;
        u->label[kept] = u->label[i];
        memmove(u->x + kept * u->row_bytes, u->x + i * u->row_bytes, u->row_bytes);
        kept++;
    }
    *u->n = kept;
    *u->top = v;
    *least = v < *least ? v : *least;
}

/* Row x (slack s below top, label) kept aside, the set halved when it is full. Returns the top after it. Not
 * inlined: after a chunk's first rows, few come here. */
static __attribute__((noinline)) double unsure_take(unsure *u, double s, int32_t label, const void *x, double *least)
{
    uint64_t slot = (*u->n)++;
    u->slack[slot] = s;
    u->label[slot] = label;
    memcpy(u->x + slot * u->row_bytes, x, u->row_bytes);
    if (*u->n == u->cap)
        unsure_halve(u, least);
    return *u->top;
}

/* Whether every row chunk j keeps aside gets its label again in this pass: those of slack above `least`
 * (twice M) by that, the others measured. */
static int unsure_keep(const ooc__bounds *b, uint64_t j, double least)
{
    unsure u = unsure_view(b, j);
    size_t d = (size_t)b->d, scratch = ooc__assign_scratch_bytes(b->dtype, (size_t)b->k, d);
    char *x = (char *)b->unsure_work + scratch;
    int32_t *labels = (int32_t *)(x + (u.cap * u.row_bytes + 7) / 8 * 8);
    uint32_t *slot = (uint32_t *)(labels + u.cap);
    double *dist = (double *)(slot + u.cap);
    uint64_t m = 0;
    for (uint64_t i = 0; i < *u.n; i++)
        if (!(u.slack[i] > least)) {
            memcpy(x + m * u.row_bytes, u.x + i * u.row_bytes, u.row_bytes);
            slot[m++] = (uint32_t)i;
        }
    b->kernel(x, (size_t)m, d, b->now, b->now_norm2, (size_t)b->k, labels, dist, NULL, b->unsure_work);
    for (uint64_t r = 0; r < m; r++)
        if (labels[r] != u.label[slot[r]])
            return 0;
    return 1;
}

void ooc__bounds_begin(ooc__bounds *b, ooc__assign_fn kernel, const void *centers, const void *norm2,
                       const double *origin)
{
    b->kernel = kernel;
    b->origin = origin;
    b->now = centers;
    b->now_norm2 = norm2;
    b->n_exc = 0;
    b->skipped = 0;
    if (!b->valid)
        return;
    size_t row = (size_t)b->d * ooc_dtype_size(b->dtype);
    for (uint64_t j = 0; j < b->k; j++)
        b->drifted[j] = (ooc__drift){drift(b, (const char *)centers + j * row, (const char *)b->centers + j * row), j};
    qsort(b->drifted, (size_t)b->k, sizeof *b->drifted, larger_drift);
    b->n_exc = exceptions(b);
    for (uint64_t j = 0; b->kept && j < b->chunks; j++) {
        double moved = plus_moved(b->moved[j], drift_after(b, 0)); /* M for this pass */
        b->skip[j] = origin && !b->read_all && b->slack[j] > 2 * moved && unsure_keep(b, j, 2 * moved);
        if (b->skip[j]) {
            b->moved[j] = moved;
            b->skipped++;
        }
    }
}

void ooc__bounds_chunk_start(ooc__bounds *b, uint64_t chunk)
{
    if (b->kept) {
        b->unsure_n[chunk / b->nprocs] = 0;
        b->unsure_top[chunk / b->nprocs] = INFINITY;
    }
}

double ooc__bounds_slack(ooc__bounds *b, uint64_t chunk, const void *x, const ooc__bound_row *st, const double *dist,
                         uint64_t n)
{
    const double below = 1 - b->margin, above = 1 + b->margin, wide = 1 + 2 * b->margin;
    unsure aside = unsure_view(b, chunk / b->nprocs);
    double least = INFINITY, top = aside.cap ? *aside.top : -INFINITY; /* none kept: every row is an other */
    enum { BLOCK = 256 };
    double s[BLOCK];
    for (uint64_t i0 = 0; i0 < n; i0 += BLOCK) {
        uint64_t m = n - i0 < BLOCK ? n - i0 : BLOCK;
        double block_least = INFINITY;
        for (uint64_t i = 0; i < m; i++) { /* apart from the branch below, so that it vectorises */
            double u = sqrt(dist[i0 + i] * wide) * (1 + 0x1p-50), l = st[i0 + i].lower;
            s[i] = l * below - u * above - 0x1p-50 * (l + u); /* less what its four roundings could add */
            block_least = s[i] < block_least ? s[i] : block_least;
        }
        if (!(block_least < top)) { /* no row comes in */
            least = block_least < least ? block_least : least;
            continue;
        }
        for (uint64_t i = 0; i < m; i++)
            if (s[i] < top)
                top = unsure_take(&aside, s[i], st[i0 + i].label, (const char *)x + (i0 + i) * aside.row_bytes, &least);
            else
                least = s[i] < least ? s[i] : least;
    }
    return least;
}

void ooc__bounds_chunk_read(ooc__bounds *b, uint64_t chunk, const double *sums, double slack)
{
    uint64_t j = chunk / b->nprocs;
    if (!b->kept)
        return;
    if (sums)
        memcpy(b->kept + j * b->rec, sums, b->rec * sizeof *sums);
    b->slack[j] = sums ? slack : -INFINITY;
    b->moved[j] = 0;
}

const double *ooc__bounds_kept(const ooc__bounds *b, uint64_t chunk)
{
    return b->kept + chunk / b->nprocs * b->rec;
}

double ooc__bounds_moved(const ooc__bounds *b, uint64_t chunk)
{
    return b->kept ? b->moved[chunk / b->nprocs] : 0;
}

void ooc__bounds_end(ooc__bounds *b)
{
    memcpy(b->centers, b->now, b->k * b->d * ooc_dtype_size(b->dtype));
    b->valid = 1;
    b->read_all = 0;
    free(b->seed_label); /* every row converted */
    free(b->seed_reach);
    b->seed_label = NULL;
    b->seed_reach = NULL;
}

/* Seeding from the initialisation (ooc__bounds_create_seeded()). For a row x, its nearest candidate c (at
 * exact distance t) and any centre j: r_j >= ‖c − c_j‖ − t. reach(c) = min over j != label(c) of
 * sqrt(D(c, c_j) (1 − m)) is at most every such ‖c − c_j‖ (as for the kernel's second above). dmin is D(x, c)
 * rounded to float (within 2^-24 of it), and D is within m of t², so t <= sqrt(dmin (1 + 2^-22) (1 + m)),
 * and the factor 1 + 2^-50 covers the three roundings of computing that. The bound is then reach − t,
 * stored rounded down as above, or 0 when it is not positive (the row goes through the kernel). The first
 * pass converts each chunk's rows as it loads them (no pass over the state of its own). */
static void seed_rows(const ooc__bounds *b, void *state, uint64_t n)
{
    /* The scale is a power of two: times its reciprocal is exactly divided by it, without a division a row */
    const double widen = (1 + 0x1p-22) * (1 + b->margin), unscale = 1 / b->seed_scale;
    for (uint64_t i = 0; i < n; i++) { /* in place: an ooc__init_row becomes an ooc__bound_row */
        ooc__init_row in;
        memcpy(&in, (char *)state + i * sizeof in, sizeof in);
        double t = sqrt((double)in.dmin * unscale * widen) * (1 + 0x1p-50);
        double l = in.dmin < FLT_MAX ? b->seed_reach[in.nearest] - t : 0; /* saturated: D unknown */
        ooc__bound_row out = {b->seed_label[in.nearest], l > 0 ? ooc__float_below(l) : 0};
        memcpy((char *)state + i * sizeof out, &out, sizeof out);
    }
}

/* The centre of b->centers nearest x (a row of the data's type), and in *second D to the next nearest. */
static int32_t nearest_centre(const ooc__bounds *b, const void *x, double *second)
{
    size_t d = (size_t)b->d, row = d * ooc_dtype_size(b->dtype);
    double best = INFINITY;
    int32_t a = 0;
    *second = INFINITY;
    for (uint64_t q = 0; q < b->k; q++) {
        double dq = ooc__sqdist(b->dtype, x, (const char *)b->centers + q * row, d);
        if (dq < best) {
            *second = best;
            best = dq;
            a = (int32_t)q;
        } else if (dq < *second) {
            *second = dq;
        }
    }
    return a;
}

int ooc__bounds_create_seeded(ooc__bounds *b, const ooc__fit *f, ooc__init_seed *seed, const double *centers,
                              ooc_error *err)
{
    _Static_assert(sizeof(ooc__init_row) == sizeof(ooc__bound_row), "converted in place");
    int rc = bounds_init(b, f, err);
    size_t d = (size_t)f->d, esize = ooc_dtype_size(b->dtype);
    void *cand = rc ? NULL : malloc((seed->m * d + seed->m) * esize);
    if (!rc) {
        b->seed_label = malloc(seed->m * sizeof *b->seed_label);
        b->seed_reach = malloc(seed->m * sizeof *b->seed_reach);
        if (!cand || !b->seed_label || !b->seed_reach)
            rc = ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory");
    }
    if ((rc = ooc__agree(f, rc, err)) != 0) {
        free(cand);
        ooc__bounds_free(b);
        return rc;
    }
    ooc__assign_typed_centers(centers, (size_t)f->k, d, b->dtype, b->centers);
    ooc__assign_typed_centers(seed->candidates, (size_t)seed->m, d, b->dtype, cand);
    for (uint64_t c = 0; c < seed->m; c++) {
        double second;
        b->seed_label[c] = nearest_centre(b, (const char *)cand + c * d * esize, &second);
        b->seed_reach[c] = sqrt(second * (1 - b->margin));
    }
    free(cand);
    free(seed->candidates); /* used up: Lloyd has no need of them */
    seed->candidates = NULL;
    b->seed_scale = seed->scale;
    b->rows = seed->rows;
    seed->rows = NULL;
    b->valid = 1;
    return 0;
}

/* Rows per kernel call, gathered: a full GEMM tile where a row is small, within 1 MiB where it is not. */
static size_t gather_rows(ooc_dtype t, uint64_t d)
{
    size_t rows = ((size_t)1 << 20) / ((size_t)d * ooc_dtype_size(t));
    return rows < 16 ? 16 : rows > 512 ? 512 : rows;
}

/* The work area: gathered rows | their dist | second | chunk row indices | labels. */
typedef struct gather {
    char *x;
    int32_t *labels;
    double *dist, *second;
    size_t *index;
    size_t cap, row_bytes;
} gather;

static gather gather_view(const ooc__bounds *b, void *work)
{
    gather g = {.cap = gather_rows(b->dtype, b->d), .row_bytes = (size_t)b->d * ooc_dtype_size(b->dtype)};
    g.x = work;
    g.dist = (double *)(g.x + (g.cap * g.row_bytes + 7) / 8 * 8);
    g.second = g.dist + g.cap;
    g.index = (size_t *)(g.second + g.cap);
    g.labels = (int32_t *)(g.index + g.cap);
    return g;
}

size_t ooc__bounds_work_bytes(ooc_dtype t, uint64_t d)
{
    size_t cap = gather_rows(t, d), x = (cap * (size_t)d * ooc_dtype_size(t) + 7) / 8 * 8;
    size_t bytes = x + cap * (2 * sizeof(double) + sizeof(size_t) + sizeof(int32_t));
    return (bytes + 63) / 64 * 64;
}

/* m rows at x through the kernel; row r's outputs go to chunk row index[r] (r when index is NULL) of
 * labels, dist and st, with a fresh bound from the second nearest. */
static void recompute(const ooc__bounds *b, const gather *g, const void *x, size_t m, const size_t *index,
                      ooc__bound_row *st, int32_t *labels, double *dist, void *scratch)
{
    b->kernel(x, m, (size_t)b->d, b->now, b->now_norm2, (size_t)b->k, g->labels, g->dist, g->second, scratch);
    for (size_t r = 0; r < m; r++) {
        size_t i = index ? index[r] : r;
        labels[i] = g->labels[r];
        dist[i] = g->dist[r];
        st[i].label = g->labels[r];
        st[i].lower = ooc__float_below(sqrt(g->second[r] * (1 - b->margin)));
    }
}

/* The largest drift among centres past the first e of drifted[], other than a: what a row labelled a
 * subtracts from its bound when those e are measured. */
static inline double drift_other(const ooc__bounds *b, uint64_t e, int32_t a)
{
    if (e >= b->k)
        return 0;
    return b->drifted[e].centre == (uint64_t)a ? drift_after(b, e + 1) : b->drifted[e].drift;
}

/* A row (label a, stored bound `lower`, D to its centre da) that the plain bound could not keep, measured
 * against the exceptions: its new bound when it keeps its label, else -1. Not inlined: most rows never
 * come here, and the loop that does keep them runs faster without it. */
#define OOC__RARE __attribute__((noinline))
#define OOC__EXCEPTED(NAME, T, ATTR, OPS)                                                                  \
    ATTR OOC__RARE static float NAME(const ooc__bounds *b, const T *x, int32_t a, float lower, double da,  \
                                     double moved)                                                         \
    {                                                                                                      \
        const T *c = b->now;                                                                               \
        size_t d = (size_t)b->d;                                                                           \
        double l = (double)lower - plus_moved(moved, drift_other(b, b->n_exc, a));                         \
        if (!(l > 0 && da < l * l * (1 - b->margin)))                                                      \
            return -1;                                                                                     \
        float kept = ooc__float_below(l);                                                                  \
        for (uint64_t e = 0; e < b->n_exc; e++) {                                                          \
            uint64_t j = b->drifted[e].centre;                                                             \
            if (j == (uint64_t)a)                                                                          \
                continue;                                                                                  \
            double dj = ooc__sqdist_##OPS(x, c + j * d, d);                                                \
            if (!(da < dj))                                                                                \
                return -1;                                                                                 \
            float fj = ooc__float_below(sqrt(dj * (1 - b->margin)));                                       \
            kept = fj < kept ? fj : kept;                                                                  \
        }                                                                                                  \
        return kept;                                                                                       \
    }

OOC__ROW_LOOPS(OOC__EXCEPTED, excepted)

/* Rows whose bounds keep their label: labels, dist and a lowered bound; the others gathered for the
 * kernel, a full block at a time. With sums (k x d), counts and squares, rows kept before the first one
 * gathered are also added to their cluster's sums while in registers, and *summed says how many (the caller adds the
 * rest, after them: each sum still adds its rows in row order). Returns the rows gathered. Built once
 * with the portable row operations and once with the AVX2 ones (OPS: their suffix), which give the same
 * bits. */
#define OOC__BOUNDED(NAME, T, ATTR, OPS)                                                                   \
    ATTR static uint64_t NAME(                                                                             \
        const ooc__bounds *b, const T *x, uint64_t n, ooc__bound_row *st, int32_t *labels, double *dist,   \
        void *scratch, const gather *g, double *sums, double *counts, double *squares, uint64_t *summed,   \
        double moved)                                                                                      \
    {                                                                                                      \
        const T *c = b->now;                                                                               \
        const double keep = 1 - b->margin; /* exact, as is 1 + margin */                                   \
        const double drift1 = plus_moved(moved, drift_after(b, 0));                                        \
        const double drift2 = plus_moved(moved, drift_after(b, 1));                                        \
        const uint64_t far1 = b->drifted[0].centre;                                                        \
        size_t d = (size_t)b->d, m = 0;                                                                    \
        uint64_t gathered = 0, prefix_end = 0;                                                             \
        int prefix = sums != NULL;                                                                         \
        for (uint64_t i = 0; i < n; i++) {                                                                 \
            int32_t a = st[i].label;                                                                       \
            double l = (double)st[i].lower - ((uint64_t)a == far1 ? drift2 : drift1);                      \
            const T *xi = x + i * d;                                                                       \
            double da = ooc__sqdist_##OPS(xi, c + (size_t)a * d, d);                                       \
            float lower = l > 0 && da < l * l * keep ? ooc__float_below(l) : -1;                           \
            if (lower < 0 && (!b->n_exc || (lower = excepted_##OPS(b, xi, a, st[i].lower, da, moved)) < 0)) { \
                prefix = 0;                                                                                \
                memcpy(g->x + m * g->row_bytes, xi, g->row_bytes);                                         \
                g->index[m++] = i;                                                                         \
                if (m == g->cap) {                                                                         \
                    recompute(b, g, g->x, m, g->index, st, labels, dist, scratch);                         \
                    gathered += m;                                                                         \
                    m = 0;                                                                                 \
                }                                                                                          \
                continue;                                                                                  \
            }                                                                                              \
            labels[i] = a;                                                                                 \
            dist[i] = da;                                                                                  \
            st[i].lower = lower;                                                                           \
            if (prefix) {                                                                                  \
                squares[a] += ooc__add_row_##OPS(sums + (size_t)a * d, xi, b->origin + (size_t)a * d, d); \
                counts[a] += 1;                                                                            \
                prefix_end = i + 1;                                                                        \
            }                                                                                              \
        }                                                                                                  \
        recompute(b, g, g->x, m, g->index, st, labels, dist, scratch);                                     \
        *summed = prefix_end;                                                                              \
        return gathered + m;                                                                               \
    }

OOC__ROW_LOOPS(OOC__BOUNDED, bounded)

uint64_t ooc__bounds_assign(const ooc__bounds *b, const void *x, uint64_t n, ooc__bound_row *st, int32_t *labels,
                            double *dist, void *scratch, void *work, double *sums, double *counts, double *squares,
                            uint64_t *summed, double moved)
{
    gather g = gather_view(b, work);
    if (b->seed_label)
        seed_rows(b, st, n);
    if (b->valid)
        return OOC__ROW_LOOP_CALL(bounded, b->dtype, b, x, n, st, labels, dist, scratch, &g, sums, counts, squares,
                                  summed, moved);
    *summed = 0;
    for (uint64_t i = 0; i < n; i += g.cap) { /* no bounds yet: every row, in place */
        size_t m = n - i < g.cap ? (size_t)(n - i) : g.cap;
        recompute(b, &g, (const char *)x + i * g.row_bytes, m, NULL, st + i, labels + i, dist + i, scratch);
    }
    return n;
}

static int label_rows(void *ctx, const void *rows, uint64_t row0, uint64_t n, void *state, void *partial, void *out,
                      ooc_error *err)
{
    (void)ctx, (void)rows, (void)row0, (void)partial, (void)err;
    const ooc__bound_row *st = state;
    int32_t *labels = out;
    for (uint64_t i = 0; i < n; i++)
        labels[i] = st[i].label;
    return 0;
}

static void no_combine(void *ctx, void *acc, const void *partial)
{
    (void)ctx, (void)acc, (void)partial;
}

int ooc__bounds_write_labels(ooc__bounds *b, ooc_stream *s, ooc_h5_chunked *labels, ooc_error *err)
{
    ooc_pass pass = {.phase = "labels", .partial_size = 1, .map = label_rows, .combine = no_combine,
                     .output = labels, .no_input = 1, .state = b->rows, .state_read_only = 1};
    char acc;
    return ooc_stream_run(s, &pass, &acc, err);
}
