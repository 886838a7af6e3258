/* The pass that assigns every row to its nearest centre, fused with what Lloyd accumulates: per-cluster
 * sums and counts, inertia, and the rows farthest from their centres (where empty clusters go). */
#include "ooc_assign_internal.h"
#include "ooc_kmeans_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A chunk's partial: the reduced part [sums k*d | counts k | squares k (sums and squares: Lloyd's pass only) |
 * inertia | recomputed | largest | n_far | far_dist F | far_row F | far_label F | far_coords F*d], then this
 * thread's scratch [the chunk's least slack | dist | labels of a block of rows | kernel scratch | bounds' work
 * | a block of rows widened to double], which combine() never reads. All offsets in doubles (8 bytes). */
typedef struct layout {
    size_t sums, counts, squares, inertia, recomputed, largest, n_far, far_dist, far_row, far_label, far_coords;
    size_t reduced;
    size_t slack, dist, labels, kernel, work, wide, total;
} layout;

typedef struct job {
    uint64_t k, d, far_cap, block, chunk_rows, rows;
    ooc_dtype dtype;
    int accumulate;
    /* float32 rows measured in double (against centres float32 cannot hold: a model from float64 data) */
    int widen;
    ooc__assign_fn kernel;
    const void *centers; /* k x d in the kernel's type: the data's, or double when widen */
    const void *norm2;   /* k, same type */
    const double *origin; /* k x d: what each cluster's sum is taken about (Lloyd's pass) */
    ooc__bounds *bounds; /* Lloyd's, or NULL: every row through the kernel */
    layout lay;
} job;

static layout make_layout(uint64_t k, uint64_t d, int accumulate, uint64_t far_cap, uint64_t rows,
                          size_t kernel_bytes, size_t work_bytes, size_t wide_bytes)
{
    layout l;
    l.sums = 0;
    l.counts = l.sums + (accumulate ? k * d : 0);
    l.squares = l.counts + k;
    l.inertia = l.squares + (accumulate ? k : 0);
    l.recomputed = l.inertia + 1;
    l.largest = l.recomputed + 1;
    l.n_far = l.largest + 1;
    l.far_dist = l.n_far + 1;
    l.far_row = l.far_dist + far_cap;
    l.far_label = l.far_row + far_cap;
    l.far_coords = l.far_label + far_cap;
    l.reduced = l.far_coords + far_cap * d;
    l.slack = l.reduced;
    l.dist = l.slack + 1;
    l.labels = l.dist + rows;
    l.kernel = l.labels + (rows + 1) / 2; /* rounded up to 64 bytes in map_chunk(), */
    l.work = l.kernel + kernel_bytes / 8; /* as are the sizes, */
    l.wide = l.work + work_bytes / 8;
    l.total = l.wide + wide_bytes / 8 + 8; /* hence 64 more bytes */
    return l;
}

/* Far rows are ordered by distance, larger first, then by row index, lower first: a total order, so the
 * kept set does not depend on which chunks were merged when. */
static int farther(double da, uint64_t ra, double db, uint64_t rb)
{
    return da > db || (da == db && ra < rb);
}

typedef struct far_set {
    double *dist;
    uint64_t *row;
    double *label; /* the cluster each row is in */
    double *coords;
    double *n;
    uint64_t cap, d;
} far_set;

static far_set far_view(double *part, const job *j)
{
    far_set f = {part + j->lay.far_dist, (uint64_t *)(part + j->lay.far_row), part + j->lay.far_label,
                 part + j->lay.far_coords, part + j->lay.n_far, j->far_cap, j->d};
    return f;
}

/* Keep the far_cap farthest rows as a min-heap on "farther" (the nearest kept row at the root). */
static void far_swap(far_set *f, uint64_t a, uint64_t b)
{
    double td = f->dist[a];
    f->dist[a] = f->dist[b];
    f->dist[b] = td;
    uint64_t tr = f->row[a];
    f->row[a] = f->row[b];
    f->row[b] = tr;
    double tl = f->label[a];
    f->label[a] = f->label[b];
    f->label[b] = tl;
    for (uint64_t t = 0; t < f->d; t++) {
        double tc = f->coords[a * f->d + t];
        f->coords[a * f->d + t] = f->coords[b * f->d + t];
        f->coords[b * f->d + t] = tc;
    }
}

static void far_sift_down(far_set *f, uint64_t i, uint64_t n)
{
    for (;;) {
        uint64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && farther(f->dist[m], f->row[m], f->dist[l], f->row[l]))
            m = l;
        if (r < n && farther(f->dist[m], f->row[m], f->dist[r], f->row[r]))
            m = r;
        if (m == i)
            return;
        far_swap(f, i, m);
        i = m;
    }
}

/* A row's values into the far set's double storage, from the data's type. */
static void far_store(double *to, const void *row, uint64_t d, ooc_dtype t)
{
    if (t == OOC_FLOAT32)
        for (uint64_t i = 0; i < d; i++)
            to[i] = (double)((const float *)row)[i];
    else
        memcpy(to, row, d * sizeof *to);
}

/* The row's cluster, and coords: its d values, of type t. */
static void far_offer(far_set *f, double dist, uint64_t row, double label, const void *coords, ooc_dtype t)
{
    uint64_t n = (uint64_t)*f->n;
    if (n == f->cap) {
        if (!farther(dist, row, f->dist[0], f->row[0]))
            return;
        f->dist[0] = dist;
        f->row[0] = row;
        f->label[0] = label;
        far_store(f->coords, coords, f->d, t);
        far_sift_down(f, 0, n);
        return;
    }
    uint64_t i = n;
    f->dist[i] = dist;
    f->row[i] = row;
    f->label[i] = label;
    far_store(f->coords + i * f->d, coords, f->d, t);
    *f->n = (double)(n + 1);
    while (i > 0 && farther(f->dist[(i - 1) / 2], f->row[(i - 1) / 2], f->dist[i], f->row[i])) {
        far_swap(f, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

/* The largest of dist[0 .. n), n >= 1, in 4 lanes so that the comparisons do not chain. */
static double farthest(const double *dist, uint64_t n)
{
    double m0 = dist[0], m1 = m0, m2 = m0, m3 = m0;
    uint64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        m0 = dist[i] > m0 ? dist[i] : m0;
        m1 = dist[i + 1] > m1 ? dist[i + 1] : m1;
        m2 = dist[i + 2] > m2 ? dist[i + 2] : m2;
        m3 = dist[i + 3] > m3 ? dist[i + 3] : m3;
    }
    for (; i < n; i++)
        m0 = dist[i] > m0 ? dist[i] : m0;
    m0 = m1 > m0 ? m1 : m0;
    m2 = m3 > m2 ? m3 : m2;
    return m2 > m0 ? m2 : m0;
}

static void init_reduced(double *part, const job *j)
{
    memset(part, 0, j->lay.reduced * sizeof *part);
}

/* Rows [from, n) added to their clusters' sums, counts and squares; every row offered to the far set (whose
 * kept set does not depend on the order of the offers). Built with the portable row operations and with the
 * AVX2 ones (OPS), which give the same bits. */
#define ACCUMULATE(NAME, T, ATTR, OPS)                                                                     \
    ATTR static void NAME(const job *j, const T *x, uint64_t row0, uint64_t from, uint64_t n,              \
                          const int32_t *labels, const double *dist, double *part)                         \
    {                                                                                                      \
        double *sums = part + j->lay.sums, *counts = part + j->lay.counts, *squares = part + j->lay.squares; \
        far_set far = far_view(part, j);                                                                   \
        for (uint64_t i = from; i < n; i++) {                                                              \
            uint64_t at = (uint64_t)labels[i] * j->d;                                                      \
            squares[labels[i]] += ooc__add_row_##OPS(sums + at, x + i * j->d, j->origin + at, (size_t)j->d); \
            counts[labels[i]] += 1;                                                                        \
        }                                                                                                  \
        if (n && *far.n == (double)far.cap && farthest(dist, n) < far.dist[0])                             \
            return; /* no row to offer: the common case once the set has filled */                          \
        for (uint64_t i = 0; i < n; i++)                                                                   \
            if (*far.n < (double)far.cap || farther(dist[i], row0 + i, far.dist[0], far.row[0]))           \
                far_offer(&far, dist[i], row0 + i, labels[i], x + i * j->d, j->dtype);                     \
    }

OOC__ROW_LOOPS(ACCUMULATE, accumulate)

/* Rows per block: a block is assigned, then accumulated while its rows are still in L2 (Zen 4 and most
 * x86 cores have 1 MiB or more), so that a pass reads each row from memory once rather than twice. */
static uint64_t block_rows(uint64_t d, ooc_dtype t)
{
    uint64_t rows = ((uint64_t)256 << 10) / (d * ooc_dtype_size(t));
    return rows < 64 ? 64 : rows;
}

/* A chunk, or a piece of one (ooc_pass.pieces). state: the rows' bounds with j->bounds, else NULL. Rows go
 * in order, block by block, so sums and inertia add up in the same order whatever the block and piece
 * sizes. A block's distances (and labels, when not written out) live in the partial's scratch only while
 * the block is worked on, so they stay in cache. */
static int map_chunk(void *ctx, const void *rows, uint64_t row0, uint64_t n, void *state, void *partial, void *out,
                     ooc_error *err)
{
    (void)err;
    const job *j = ctx;
    double *part = partial;
    uint64_t chunk = row0 / j->chunk_rows;
    if (row0 % j->chunk_rows == 0) { /* the chunk's first piece */
        init_reduced(part, j);
        part[j->lay.slack] = INFINITY;
    }
    if (!rows) { /* a chunk the pass skips: what it gave when last read */
        memcpy(part, ooc__bounds_kept(j->bounds, chunk), j->lay.inertia * sizeof *part);
        return 0;
    }
    if (row0 % j->chunk_rows == 0 && j->bounds && j->accumulate)
        ooc__bounds_chunk_start(j->bounds, chunk);
    double moved = j->bounds ? ooc__bounds_moved(j->bounds, chunk) : 0, slack = part[j->lay.slack];
    double *dist = part + j->lay.dist, inertia = part[j->lay.inertia], largest = part[j->lay.largest];
    char *scratch = (char *)(((uintptr_t)(part + j->lay.kernel) + 63) & ~(uintptr_t)63);
    void *work = scratch + (j->lay.work - j->lay.kernel) * sizeof(double);
    size_t row_bytes = (size_t)j->d * ooc_dtype_size(j->dtype);
    uint64_t recomputed = 0;
    for (uint64_t i = 0; i < n; i += j->block) {
        uint64_t m = n - i < j->block ? n - i : j->block;
        const char *x = (const char *)rows + i * row_bytes;
        int32_t *labels = out ? (int32_t *)out + i : (int32_t *)(part + j->lay.labels);
        uint64_t summed = 0;
        if (j->bounds) {
            recomputed += ooc__bounds_assign(j->bounds, x, m, (ooc__bound_row *)state + i, labels, dist, scratch,
                                             work, j->accumulate ? part + j->lay.sums : NULL, part + j->lay.counts,
                                             part + j->lay.squares, &summed, moved);
            if (j->accumulate && j->bounds->kept) {
                double least = ooc__bounds_slack(j->bounds, chunk, x, (ooc__bound_row *)state + i, dist, m);
                slack = least < slack ? least : slack;
            }
        } else {
            const void *kx = x;
            if (j->widen) {
                double *wide = (double *)(scratch + (j->lay.wide - j->lay.kernel) * sizeof(double));
                for (uint64_t e = 0; e < m * j->d; e++)
                    wide[e] = (double)((const float *)x)[e];
                kx = wide;
            }
            j->kernel(kx, (size_t)m, (size_t)j->d, j->centers, j->norm2, (size_t)j->k, labels, dist, NULL, scratch);
            recomputed += m;
        }
        if (j->accumulate)
            OOC__ROW_LOOP_CALL(accumulate, j->dtype, j, (const void *)x, row0 + i, summed, m, labels, dist, part);
        else
            for (uint64_t r = 0; r < m; r++)
                part[j->lay.counts + (uint64_t)labels[r]] += 1;
        for (uint64_t r = 0; r < m; r++) {
            inertia += dist[r]; /* the labels pass's; Lloyd's comes from the sums (lloyd_inertia()) */
            largest = dist[r] > largest ? dist[r] : largest;
        }
    }
    part[j->lay.recomputed] += (double)recomputed;
    part[j->lay.inertia] = inertia;
    part[j->lay.largest] = largest;
    part[j->lay.slack] = slack;
    uint64_t end = (chunk + 1) * j->chunk_rows < j->rows ? (chunk + 1) * j->chunk_rows : j->rows;
    if (j->bounds && row0 + n == end) /* the chunk's last piece */
        ooc__bounds_chunk_read(j->bounds, chunk, j->accumulate ? part : NULL, slack);
    return 0;
}

static void combine(void *ctx, void *acc_v, const void *part_v)
{
    const job *j = ctx;
    double *acc = acc_v;
    const double *part = part_v;
    for (size_t i = 0; i < j->lay.largest; i++) /* sums, counts, inertia, recomputed */
        acc[i] += part[i];
    acc[j->lay.largest] = part[j->lay.largest] > acc[j->lay.largest] ? part[j->lay.largest] : acc[j->lay.largest];
    far_set a = far_view(acc, j), p = far_view((double *)part, j);
    for (uint64_t i = 0; i < (uint64_t)*p.n; i++)
        far_offer(&a, p.dist[i], p.row[i], p.label[i], p.coords + i * j->d, OOC_FLOAT64);
}

/* Lloyd's inertia, from each cluster's count n, sum s and sum of squares q about its origin o: its rows'
 * squared distances to its centre c are q − 2 (c − o)·s + n |c − o|². A function of the per-cluster sums
 * alone, which a chunk's rows give whether the pass reads them or keeps them from before
 * (ooc_assign_bounds.c); D summed row by row would not be. Rounding may take a cluster of rows all at c a
 * hair below 0 (made 0); a sum past the largest double is inf, as D summed would be. */
static double lloyd_inertia(const job *j, const double *acc, const double *centers)
{
    double inertia = 0;
    for (uint64_t c = 0; c < j->k; c++) {
        const double *s = acc + j->lay.sums + c * j->d, *o = j->origin + c * j->d, *x = centers + c * j->d;
        double n = acc[j->lay.counts + c], cross = 0, shift = 0;
        if (n == 0)
            continue;
        for (uint64_t t = 0; t < j->d; t++) {
            cross += (x[t] - o[t]) * s[t];
            shift += (x[t] - o[t]) * (x[t] - o[t]);
        }
        double ic = acc[j->lay.squares + c] - 2 * cross + n * shift;
        inertia += !isfinite(ic) ? INFINITY : ic > 0 ? ic : 0;
    }
    return inertia;
}

void ooc__assign_result_free(ooc__assign_result *r)
{
    free(r->sums);
    free(r->counts);
    free(r->far);
    free(r->far_dist);
    free(r->far_label);
    memset(r, 0, sizeof *r);
}

/* The far rows of acc, farthest first, into res. */
static int collect(const job *j, double *acc, ooc__assign_result *res)
{
    far_set f = far_view(acc, j);
    uint64_t n = (uint64_t)*f.n;
    res->n_far = n;
    res->far = malloc((n ? n : 1) * j->d * sizeof *res->far);
    res->far_dist = malloc((n ? n : 1) * sizeof *res->far_dist);
    res->far_label = malloc((n ? n : 1) * sizeof *res->far_label);
    if (!res->far || !res->far_dist || !res->far_label)
        return OOC_ENOMEM;
    for (uint64_t out = n; out-- > 0;) { /* pop the nearest kept row into the last place */
        memcpy(res->far + out * j->d, f.coords, j->d * sizeof *f.coords);
        res->far_dist[out] = f.dist[0];
        res->far_label[out] = (uint64_t)f.label[0];
        far_swap(&f, 0, out);
        far_sift_down(&f, 0, out);
    }
    return 0;
}

static size_t reduced_bytes(void *ctx, const void *partial)
{
    (void)partial;
    return ((const job *)ctx)->lay.reduced * sizeof(double);
}

/* A pass that only labels float32 rows (predict's) may have to widen them: its centres are a model's. */
static int may_widen(const ooc__fit *f, int accumulate, int with_bounds)
{
    return f->in->dtype == OOC_FLOAT32 && !accumulate && !with_bounds;
}

static job make_job(const ooc__fit *f, int accumulate, int with_bounds, int widen)
{
    job j = {.k = f->k, .d = f->d, .far_cap = accumulate ? f->k : 0, .chunk_rows = f->in->chunk_rows, .rows = f->in->rows,
             .dtype = f->in->dtype, .accumulate = accumulate, .widen = widen};
    ooc_dtype kt = widen ? OOC_FLOAT64 : j.dtype;
    j.kernel = ooc__assign_select(kt, (size_t)j.k, (size_t)j.d);
    j.block = block_rows(j.d, j.dtype);
    size_t wide_bytes = widen ? (j.block * j.d * sizeof(double) + 63) & ~(size_t)63 : 0;
    j.lay = make_layout(j.k, j.d, accumulate, j.far_cap, j.block, ooc__assign_scratch_bytes(kt, j.k, j.d),
                        with_bounds ? ooc__bounds_work_bytes(j.dtype, j.d) : 0, wide_bytes);
    return j;
}

/* Whether float32 holds every centre exactly (else float32 rows are measured in double). */
static int float32_holds(const double *c, uint64_t n)
{
    for (uint64_t e = 0; e < n; e++)
        if ((double)(float)c[e] != c[e])
            return 0;
    return 1;
}

void ooc__assign_pass_memory(const ooc__fit *f, int accumulate, int with_bounds, uint64_t *held, size_t *partial)
{
    int widen = may_widen(f, accumulate, with_bounds);
    job j = make_job(f, accumulate, with_bounds, widen);
    /* the typed centres, the accumulator, and the result's sums, counts and far rows */
    *held = (j.k * j.d + j.k) * (widen ? sizeof(double) : ooc_dtype_size(j.dtype)) + j.lay.reduced * sizeof(double) +
            ((accumulate ? j.k * j.d : 0) + j.k + j.far_cap * (j.d + 2)) * sizeof(double);
    *partial = j.lay.total * sizeof(double);
}

int ooc__assign_pass(ooc__fit *f, const double *centers, const double *origin, ooc__bounds *bounds, ooc_h5_chunked *labels,
                     ooc__assign_result *res, ooc_error *err)
{
    int accumulate = origin != NULL;
    memset(res, 0, sizeof *res);
    int widen = may_widen(f, accumulate, bounds != NULL) && !float32_holds(centers, f->k * f->d);
    job j = make_job(f, accumulate, bounds != NULL, widen);
    j.bounds = bounds;
    j.origin = origin;
    ooc_dtype kt = widen ? OOC_FLOAT64 : j.dtype;
    size_t esize = ooc_dtype_size(kt);
    char *typed = malloc((size_t)(j.k * j.d + j.k) * esize);
    double *acc = calloc(j.lay.reduced ? j.lay.reduced : 1, sizeof *acc);
    int rc = ooc__agree(f, typed && acc ? 0 : ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory"), err);
    if (rc) {
        free(typed);
        free(acc);
        return rc;
    }
    ooc__assign_typed_centers(centers, (size_t)j.k, (size_t)j.d, kt, typed);
    j.centers = typed;
    j.norm2 = typed + j.k * j.d * esize;
    if (bounds)
        ooc__bounds_begin(bounds, j.kernel, j.centers, j.norm2, origin);
    ooc_pass pass = {.phase = accumulate ? "lloyd" : "labels", .partial_size = j.lay.total * sizeof(double),
                     .ctx = &j, .map = map_chunk, .combine = combine, .reduced_bytes = reduced_bytes, .output = labels,
                     .state = bounds ? bounds->rows : NULL, .pieces = 1, .skip = bounds ? bounds->skip : NULL};
    rc = ooc_stream_run(f->stream, &pass, acc, err);
    if (!rc && bounds)
        ooc__bounds_end(bounds);
    if (!rc) {
        res->inertia = accumulate ? lloyd_inertia(&j, acc, centers) : acc[j.lay.inertia];
        res->largest = acc[j.lay.largest];
        res->recomputed = (uint64_t)acc[j.lay.recomputed];
        res->counts = malloc(j.k * sizeof *res->counts);
        res->sums = accumulate ? malloc(j.k * j.d * sizeof *res->sums) : NULL;
        if (!res->counts || (accumulate && !res->sums) || collect(&j, acc, res)) {
            rc = ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory");
        } else {
            memcpy(res->counts, acc + j.lay.counts, j.k * sizeof *res->counts);
            if (accumulate)
                memcpy(res->sums, acc + j.lay.sums, j.k * j.d * sizeof *res->sums);
        }
    }
    rc = ooc__agree(f, rc, err);
    if (rc)
        ooc__assign_result_free(res);
    free(typed);
    free(acc);
    return rc;
}
