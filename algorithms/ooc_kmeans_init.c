/* Initial centres: k-means|| (Bahmani et al. 2012), k-means++ and random rows, out of core.
 *
 * Both sampling methods keep, per row, the squared distance to the nearest candidate so far and that
 * candidate's index (8 bytes a row: ooc_rowstate, in memory when the budget has room, else in a temporary
 * file), so each round costs one pass that measures the rows against the new candidates only. Which rows a
 * round draws is decided afterwards from that state alone, with the draw for a row keyed by (seed, round,
 * row); the drawn rows are then read by index.
 *
 * The state's distances are floats, whose range (about 1e-38 to 3e38) squared distances of float64 data
 * easily leave (values below 1e-19 or above 1e19): every one is kept times a power of two, the scale, that
 * brings the distances of rows near the first centre to [1, 2). Powers of two scale exactly, and the draws
 * depend on ratios of distances only, so the centres do not depend on the scale, nor on the data's when it
 * is multiplied by a power of two. Distances past the float range even so (an outlier 1e20 away from rows
 * 1 apart) are kept as FLT_MAX, saturated: drawn with all but certainty, never pruned (their true distance
 * is unknown), and their Lloyd bound starts at 0. */
#include "ooc_assign_internal.h"
#include "ooc_clock.h"
#include "ooc_colstats.h"
#include "ooc_kmeans_internal.h"
#include "ooc_random.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct candidates {
    double *pts;    /* m x d */
    uint64_t *rows; /* the row each came from */
    uint64_t m, cap, d;
} candidates;

/* Room for n more candidates. */
static int reserve(candidates *c, uint64_t n, ooc_error *err)
{
    if (c->m + n <= c->cap)
        return 0;
    uint64_t cap = (c->m + n) * 2;
    double *p = realloc(c->pts, cap * c->d * sizeof *p);
    uint64_t *r = p ? realloc(c->rows, cap * sizeof *r) : NULL;
    if (p)
        c->pts = p;
    if (!p || !r)
        return ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory for %llu candidates",
                             (unsigned long long)(c->m + n));
    c->rows = r;
    c->cap = cap;
    return 0;
}

static int add_rows(ooc__fit *f, candidates *c, const uint64_t *rows, uint64_t n, ooc_error *err)
{
    int rc = ooc__agree(f, reserve(c, n, err), err);
    if (!rc)
        rc = ooc_stream_read_rows(f->stream, rows, (size_t)n, c->pts + c->m * c->d, err);
    if (rc)
        return rc;
    memcpy(c->rows + c->m, rows, n * sizeof *rows);
    c->m += n;
    return 0;
}

typedef ooc__init_row row_state;

/* Pruning. A new candidate c' can change a row's state only if D(x, c') < dmin, which needs ‖x − c'‖ <
 * sqrt(dmin (1 + m)) (D is within m = ooc__sqdist_margin(d) of the exact square). With o the row's nearest
 * candidate, ‖x − c'‖ >= ‖o − c'‖ − t, t = ‖x − o‖ <= sqrt(dmin (1 + 2^-22) (1 + m)) (dmin is D rounded to
 * float), and ‖o − c'‖² >= key = D(o, c') (1 − m). So key >= 4 dmin (1 + 2^-22) (1 + m) rules c' out; the
 * factor 1 + 2^-40 on that threshold covers its own roundings. Each old candidate keeps the new ones sorted
 * by key, up to the threshold of the farthest row nearest it (its reach, from the pass before): a row
 * measures only the head of its nearest's list (on clustered data a few, often none), and its state ends
 * exactly as with the kernel: the kernel's winner, whenever it would change the state, is in that head, and
 * D is the same function either way. */
typedef struct near_new {
    float key;      /* rounded down (ooc__float_below()): still a lower bound */
    uint32_t index; /* among the new candidates */
} near_new;

/* Pairs (old, new) the pruning table may hold (8 bytes each, 16 MiB); past that, every row goes through the
 * kernel (k = 1000 blobs: round two needs 1.3 million, as the 13% of blobs no candidate has yet send their
 * rows' reach across others). Building it measures every pair, so it is built only when that is cheap:
 * first x n_new within the pairs above, or old candidates no more than a 64th of the rows (then at most 1/64
 * of the distances a pass without the table measures). */
#define PRUNE_MAX_PAIRS ((uint64_t)1 << 21)

/* The per-row state and the pass that updates it against candidates [first, m). */
typedef struct state_job {
    ooc_rowstate *rows;
    ooc__assign_fn kernel;
    const void *centers, *norm2; /* the new candidates, in the data's type */
    const near_new *near;        /* per old candidate o, its list at near + near_start[o]; NULL: no pruning */
    const uint64_t *near_start;  /* first + 1 */
    double widen;                /* 4 (1 + 2^-22) (1 + m) (1 + 2^-40) */
    uint64_t stats_doubles;      /* the column statistics' share of a partial, when this pass computes them */
    ooc_dtype dtype;
    uint64_t first, n_new, m, d, chunk_rows; /* chunk_rows: rows of a processing chunk, for scratch */
    size_t scratch_bytes;
    /* Rows kept for the draw that follows the pass (keep_rows()), when keep_stream is that draw's stream
     * (else 0): at most keep_cap a chunk and in all. */
    uint64_t seed, keep_cap;
    uint32_t keep_stream;
    double keep_l_over_phi; /* or 0: keep_l over the chunk's own phi (the first pass, with no phi before it) */
    double keep_l;          /* l, the rows a round draws on average */
    double scale;           /* the state's dmin are D scale (a power of two, see the top) */
} state_job;

/* D times the scale as the state keeps it: rounded to float, saturated at FLT_MAX (see the top). */
static inline float scaled(double dist, double scale)
{
    double v = dist * scale;
    return v < FLT_MAX ? (float)v : FLT_MAX;
}

/* How far a new candidate's key may go and still matter to a row at dmin (or to the rows nearest a
 * candidate, up to its reach): all the way for a saturated one. */
static inline double key_limit(const state_job *j, double dmin)
{
    return dmin < FLT_MAX ? dmin * j->widen : INFINITY;
}

/* The length of the head of row i's list: the new candidates it must measure. */
static uint64_t head(const state_job *j, const row_state *st, uint64_t i)
{
    uint64_t o = (uint64_t)st[i].nearest, len = j->near_start[o + 1] - j->near_start[o];
    const near_new *list = j->near + j->near_start[o];
    double limit = key_limit(j, st[i].dmin);
    uint64_t h = 0;
    while (h < len && list[h].key < limit)
        h++;
    return h;
}

/* Whether pruning pays for these rows, judged on every 16th: a distance measured alone costs about four of
 * the kernel's (which measures every row against every new candidate), so not when the heads are long, as
 * in the first rounds. */
static int prune_pays(const state_job *j, uint64_t n, const row_state *st)
{
    uint64_t measured = 0, sampled = 0;
    for (uint64_t i = 0; i < n; i += 16, sampled++)
        measured += head(j, st, i);
    return 4 * measured < sampled * j->n_new;
}

/* Of a and b, a where mask is all ones and b where it is 0: a choice without a branch. */
static inline uint64_t pick(uint64_t mask, uint64_t a, uint64_t b)
{
    return (a & mask) | (b & ~mask);
}

/* Rows [0, n) at x against the head of their nearest's list (see above); the kernel's labels and dist
 * where the state changes, and label -1 where it cannot. The nearest is kept with masks rather than a branch
 * (which of a row's few candidates wins is a coin toss, and mispredicting it cost a third of the loop): D is
 * >= 0 or +inf (finite data), so its bits order it as its value. Built once with the portable row distance
 * and once with the AVX2 one (OPS: its suffix), which give the same bits. */
#define OOC__PRUNED(NAME, T, ATTR, OPS)                                                                    \
    ATTR static void NAME(const state_job *j, const T *x, uint64_t n, const row_state *st, int32_t *labels,  \
                          double *dist)                                                                    \
    {                                                                                                      \
        const T *c = j->centers;                                                                           \
        size_t d = (size_t)j->d;                                                                           \
        for (uint64_t i = 0; i < n; i++) {                                                                 \
            const T *xi = x + i * d;                                                                       \
            uint64_t o = (uint64_t)st[i].nearest, len = j->near_start[o + 1] - j->near_start[o];           \
            const near_new *list = j->near + j->near_start[o];                                             \
            double best = INFINITY, limit = key_limit(j, st[i].dmin);                                     \
            uint64_t bb;                                                                                   \
            memcpy(&bb, &best, sizeof bb);                                                                 \
            int64_t win = -1;                                                                              \
            for (uint64_t q = 0; q < len && list[q].key < limit; q++) {                                    \
                double dq = ooc__sqdist_##OPS(xi, c + (size_t)list[q].index * d, d);                       \
                int64_t iq = (int64_t)list[q].index;                                                       \
                uint64_t bq;                                                                               \
                memcpy(&bq, &dq, sizeof bq);                                                               \
                uint64_t take = -(uint64_t)((bq < bb) | ((bq == bb) & (iq < win))); /* all ones or 0 */    \
                bb = pick(take, bq, bb);                                                                   \
                win = (int64_t)pick(take, (uint64_t)iq, (uint64_t)win);                                    \
            }                                                                                              \
            memcpy(&best, &bb, sizeof best);                                                               \
            labels[i] = (int32_t)win;                                                                      \
            dist[i] = best;                                                                                \
        }                                                                                                  \
    }

OOC__ROW_LOOPS(OOC__PRUNED, pruned)

/* A kept row's record, in doubles: [row (its bits) | u | dmin | coordinates d]; a keep section: [records n |
 * overflowed | keep_cap records]. */
static uint64_t record_doubles(const state_job *j)
{
    return 3 + j->d;
}

static uint64_t keep_doubles(const state_job *j)
{
    return j->keep_stream ? 2 + j->keep_cap * record_doubles(j) : 0;
}

/* Partial: [phi | counts m | reach m | column statistics | keep section] then scratch [dist rows | labels
 * rows | kernel]; the accumulator: the part before the scratch. reach: per candidate, the largest dmin of the
 * rows nearest it. */
static size_t state_reduced_doubles(const state_job *j)
{
    return 1 + 2 * j->m + j->stats_doubles + keep_doubles(j);
}

static size_t state_partial_doubles(const state_job *j)
{
    return state_reduced_doubles(j) + j->chunk_rows + (j->chunk_rows + 1) / 2 + 8 + (j->scratch_bytes + 7) / 8;
}

/* The next round draws a row when u < l / phi · dmin (draw_chunk()), phi being known only after the pass.
 * A pass that keeps every row with u < L · dmin, and its coordinates, keeps every row the draw will take
 * whenever l / phi <= L (a product of doubles is monotonic in each factor): the draw then needs neither a
 * scan of the state nor a read of the rows (which, streaming, decodes the chunks holding them). Otherwise,
 * or when more rows came than the section holds, the draw goes as usual. The same rows either way, in the
 * same order. L is keep_l_over_phi, from a bound on phi checked after the pass, or, in the first pass, l
 * over the chunk's own phi, which the total (a sum of the chunks' non-negative phis, never below any of
 * them in floating point either) cannot be below. */
static void keep_rows(const state_job *j, const void *x, uint64_t row0, uint64_t n, const row_state *st,
                      double chunk_phi, double *keep)
{
    enum { BLOCK = 1024 };
    double u[BLOCK], *rec = keep + 2;
    double factor = j->keep_l_over_phi > 0 ? j->keep_l_over_phi : j->keep_l / chunk_phi;
    uint64_t kept = (uint64_t)keep[0], rd = record_doubles(j);
    for (uint64_t i0 = 0; i0 < n && !keep[1]; i0 += BLOCK) {
        uint64_t m = n - i0 < BLOCK ? n - i0 : BLOCK;
        ooc_random_uniforms(j->seed, j->keep_stream, row0 + i0, m, u);
        for (uint64_t i = 0; i < m; i++) {
            double p = factor * (double)st[i0 + i].dmin;
            if (!(p > 0 && u[i] < p))
                continue;
            if (kept == j->keep_cap) {
                keep[1] = 1;
                break;
            }
            double *r = rec + kept++ * rd;
            uint64_t row = row0 + i0 + i;
            memcpy(&r[0], &row, sizeof row);
            r[1] = u[i];
            r[2] = (double)st[i0 + i].dmin;
            for (uint64_t t = 0; t < j->d; t++)
                r[3 + t] = j->dtype == OOC_FLOAT32 ? (double)((const float *)x)[(i0 + i) * j->d + t]
                                                   : ((const double *)x)[(i0 + i) * j->d + t];
        }
    }
    keep[0] = (double)kept;
}

/* Appends the keep section `part` to `acc`. */
static void keep_combine(const state_job *j, double *acc, const double *part)
{
    uint64_t have = (uint64_t)acc[0], add = (uint64_t)part[0], rd = record_doubles(j);
    acc[1] = acc[1] || part[1] || have + add > j->keep_cap;
    if (acc[1])
        return;
    memcpy(acc + 2 + have * rd, part + 2, add * rd * sizeof *acc);
    acc[0] = (double)(have + add);
}

/* A chunk, or a piece of one when the pass takes pieces (takes_pieces()): rows in order, so phi adds up
 * in the same order whatever the pieces. */
static int state_map(void *ctx, const void *x, uint64_t row0, uint64_t n, void *state, void *partial, void *out,
                     ooc_error *err)
{
    (void)out;
    const state_job *j = ctx;
    row_state *st = state;
    double *part = partial, *counts = part + 1, *reach = counts + j->m, *stats = reach + j->m;
    double *keep = stats + j->stats_doubles;
    double *dist = part + state_reduced_doubles(j);
    if (row0 % j->chunk_rows == 0) { /* the chunk's first piece */
        memset(part, 0, (1 + 2 * j->m) * sizeof *part);
        if (j->keep_stream)
            keep[0] = keep[1] = 0;
    }
    if (j->stats_doubles) {
        int rc = ooc_colstats_summarise(x, j->dtype, row0, n, j->d, stats, err);
        if (rc)
            return rc;
    }
    int32_t *labels = (int32_t *)(dist + j->chunk_rows);
    void *scratch = (void *)(((uintptr_t)(dist + j->chunk_rows + (j->chunk_rows + 1) / 2) + 63) & ~(uintptr_t)63);
    if (j->near && prune_pays(j, n, st))
        OOC__ROW_LOOP_CALL(pruned, j->dtype, j, x, n, st, labels, dist);
    else
        j->kernel(x, (size_t)n, (size_t)j->d, j->centers, j->norm2, (size_t)j->n_new, labels, dist, NULL, scratch);
    double phi = part[0];
    const uint32_t all = j->first == 0 ? UINT32_MAX : 0;
    for (uint64_t i = 0; i < n; i++) {
        /* The state takes the new candidate when nearer (ties keep the earlier one; a pruned row's inf never
         * wins), with masks as in the pruned loop: dd and dmin are >= 0 or +inf. */
        float dd = scaled(dist[i], j->scale);
        uint32_t bn, bo;
        memcpy(&bn, &dd, sizeof bn);
        memcpy(&bo, &st[i].dmin, sizeof bo);
        uint32_t take = all | (0 - (uint32_t)(bn < bo));
        uint32_t bits = (uint32_t)pick(take, bn, bo);
        memcpy(&st[i].dmin, &bits, sizeof bits);
        uint32_t nearest = (uint32_t)(j->first + (uint64_t)labels[i]);
        st[i].nearest = (int32_t)(uint32_t)pick(take, nearest, (uint32_t)st[i].nearest);
        phi += st[i].dmin;
        counts[st[i].nearest] += 1;
        reach[st[i].nearest] = st[i].dmin > reach[st[i].nearest] ? st[i].dmin : reach[st[i].nearest];
    }
    part[0] = phi;
    if (j->keep_stream)
        keep_rows(j, x, row0, n, st, phi, keep);
    return 0;
}

/* Whether a pass may hand state_map() chunks in pieces: not when it computes the column statistics (a
 * chunk's summary starts from its first row) or keeps rows by the chunk's own phi, known only at its end. */
static int takes_pieces(const state_job *j)
{
    return !j->stats_doubles && (!j->keep_stream || j->keep_l_over_phi > 0);
}

/* What state_combine() reads: the keep section's records only as far as they are used. */
static size_t state_reduced_bytes(void *ctx, const void *partial)
{
    const state_job *j = ctx;
    size_t n = 1 + 2 * j->m + j->stats_doubles;
    if (j->keep_stream)
        n += 2 + (size_t)((const double *)partial)[n] * record_doubles(j);
    return n * sizeof(double);
}

static void state_combine(void *ctx, void *acc_v, const void *part_v)
{
    const state_job *j = ctx;
    double *acc = acc_v;
    const double *part = part_v;
    for (uint64_t i = 0; i < 1 + j->m; i++)
        acc[i] += part[i];
    for (uint64_t i = 1 + j->m; i < 1 + 2 * j->m; i++)
        acc[i] = part[i] > acc[i] ? part[i] : acc[i];
    if (j->stats_doubles)
        ooc_colstats_merge(acc + 1 + 2 * j->m, part + 1 + 2 * j->m, j->d);
    if (j->keep_stream)
        keep_combine(j, acc + 1 + 2 * j->m + j->stats_doubles, part + 1 + 2 * j->m + j->stats_doubles);
}

static int cmp_near(const void *a, const void *b)
{
    const near_new *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* The pruning table for old candidates [0, first) against j's new ones, each list cut at its candidate's
 * reach; NULL, with no start, when it would hold more than PRUNE_MAX_PAIRS pairs or memory is short (the
 * pass then uses the kernel: same results). */
static near_new *prune_table(state_job *j, const candidates *c, uint64_t first, const double *reach,
                             uint64_t **start)
{
    size_t d = (size_t)j->d, row = d * ooc_dtype_size(j->dtype);
    double m = ooc__sqdist_margin(d);
    j->widen = 4 * (1 + 0x1p-22) * (1 + m) * (1 + 0x1p-40);
    uint64_t cap = first * j->n_new < PRUNE_MAX_PAIRS ? first * j->n_new : PRUNE_MAX_PAIRS, used = 0;
    near_new *near = malloc((cap ? cap : 1) * sizeof *near);
    char *old = malloc((first * d + first) * ooc_dtype_size(j->dtype));
    *start = malloc((first + 1) * sizeof **start);
    int ok = near && old && *start;
    if (ok)
        ooc__assign_typed_centers(c->pts, (size_t)first, d, j->dtype, old);
    for (uint64_t o = 0; ok && o < first; o++) {
        (*start)[o] = used;
        double limit = key_limit(j, reach[o]);
        for (uint64_t q = 0; ok && q < j->n_new; q++) {
            double key = ooc__sqdist(j->dtype, old + o * row, (const char *)j->centers + q * row, d) * (1 - m) *
                         j->scale;
            if (!(key < limit))
                continue; /* beyond every row nearest o */
            ok = used < cap;
            if (ok)
                near[used++] = (near_new){ooc__float_below(key), (uint32_t)q};
        }
        qsort(near + (*start)[o], (size_t)(used - (*start)[o]), sizeof *near, cmp_near);
    }
    free(old);
    if (!ok) {
        free(near);
        free(*start);
        *start = NULL;
        return NULL;
    }
    (*start)[first] = used;
    return near;
}

/* One pass: measure every row against candidates [first, c->m); *phi, counts and reach (c->m each; reach
 * holds the previous pass's for [0, first) on entry) from the state; with
 * stats, the column statistics too (the first pass, which then is the only one before the draws); with
 * j->keep_stream, the keep section into kept (keep_doubles()). */
static int update_state(ooc__fit *f, state_job *j, const candidates *c, uint64_t first, double *phi,
                        double *counts, double *reach, ooc_colstats **stats, double *kept, ooc_error *err)
{
    ooc_dtype t = f->in->dtype;
    size_t esize = ooc_dtype_size(t);
    j->first = first;
    j->n_new = c->m - first;
    j->m = c->m;
    j->kernel = ooc__assign_select(t, (size_t)j->n_new, (size_t)j->d);
    j->scratch_bytes = ooc__assign_scratch_bytes(t, (size_t)j->n_new, (size_t)j->d);
    j->stats_doubles = stats ? (ooc_colstats_partial_bytes(j->d) + 7) / 8 : 0;
    char *typed = malloc((size_t)(j->n_new * (j->d + 1)) * esize);
    double *acc = calloc(state_reduced_doubles(j), sizeof *acc);
    int rc = ooc__agree(f, typed && acc ? 0 : ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory"), err);
    if (rc) {
        free(typed);
        free(acc);
        return rc;
    }
    ooc__assign_typed_centers(c->pts + first * j->d, (size_t)j->n_new, (size_t)j->d, t, typed);
    if (stats)
        ooc_colstats_partial_init(acc + 1 + 2 * c->m, j->d);
    j->centers = typed;
    j->norm2 = typed + j->n_new * j->d * esize;
    j->dtype = t;
    near_new *near = NULL;
    uint64_t *near_start = NULL;
    if (f->prune && first > 0 && (first * j->n_new <= PRUNE_MAX_PAIRS || first * 64 <= f->in->rows) &&
        (near = prune_table(j, c, first, reach, &near_start))) {
        j->near = near;
        j->near_start = near_start;
    }
    /* the first pass, which computes the statistics too, is what --json's seconds.stats times */
    ooc_pass pass = {.phase = stats ? "stats" : "init", .partial_size = state_partial_doubles(j) * sizeof(double),
                     .ctx = j, .map = state_map, .combine = state_combine, .reduced_bytes = state_reduced_bytes,
                     .state = j->rows, .pieces = takes_pieces(j)};
    rc = ooc_stream_run(f->stream, &pass, acc, err);
    if (!rc) {
        *phi = acc[0];
        memcpy(counts, acc + 1, c->m * sizeof *counts);
        memcpy(reach, acc + 1 + c->m, c->m * sizeof *reach);
        if (j->keep_stream) { /* the header and the records the pass kept, not the whole section */
            const double *keep = acc + 1 + 2 * c->m + j->stats_doubles;
            memcpy(kept, keep, (2 + (uint64_t)keep[0] * record_doubles(j)) * sizeof *kept);
        }
    }
    if (!rc && stats) {
        int mine = ooc_colstats_from_partial(acc + 1 + 2 * c->m, f->in->rows, j->d, stats, err);
        if ((rc = ooc__agree(f, mine, err)) != 0 && !mine) { /* another process failed */
            ooc_colstats_free(*stats);
            *stats = NULL;
        }
    }
    free(near);
    free(near_start);
    j->near = NULL;
    j->near_start = NULL;
    free(typed);
    free(acc);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Rows drawn by round r: each with probability min(1, l * dmin / phi), its draw keyed by (seed, r, row).
 * Chunks are drawn in parallel, each thread into a list of its own, appended in chunk order. */
typedef struct row_list {
    uint64_t *rows, n, cap;
} row_list;

static int list_add(row_list *l, uint64_t row, ooc_error *err)
{
    if (l->n == l->cap) {
        uint64_t cap = l->cap ? 2 * l->cap : 64, *grown = realloc(l->rows, cap * sizeof *grown);
        if (!grown)
            return ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory for drawn rows");
        l->rows = grown;
        l->cap = cap;
    }
    l->rows[l->n++] = row;
    return 0;
}

typedef struct draw_job {
    const ooc__fit *f;
    uint32_t stream;
    double l_over_phi;
    row_list all, *per_slot;
} draw_job;

static int draw_chunk(void *ctx, uint64_t chunk, uint64_t row0, uint64_t n, const void *state, int slot,
                      ooc_error *err)
{
    (void)chunk;
    enum { BLOCK = 1024 };
    draw_job *d = ctx;
    const row_state *st = state;
    row_list *mine = &d->per_slot[slot];
    mine->n = 0;
    double u[BLOCK];
    for (uint64_t i0 = 0; i0 < n; i0 += BLOCK) {
        uint64_t m = n - i0 < BLOCK ? n - i0 : BLOCK;
        ooc_random_uniforms(d->f->p->seed, d->stream, row0 + i0, m, u);
        for (uint64_t i = 0; i < m; i++) {
            double p = d->l_over_phi * (double)st[i0 + i].dmin;
            if (p > 0 && u[i] < p && list_add(mine, row0 + i0 + i, err))
                return err->code;
        }
    }
    return 0;
}

static int draw_append(void *ctx, uint64_t chunk, int slot, ooc_error *err)
{
    (void)chunk;
    draw_job *d = ctx;
    const row_list *mine = &d->per_slot[slot];
    for (uint64_t i = 0; i < mine->n; i++)
        if (list_add(&d->all, mine->rows[i], err))
            return err->code;
    return 0;
}

/* l, the rows a round draws on average, and l / phi, the draw's factor on dmin. */
static double round_l(const ooc__fit *f)
{
    return f->p->oversampling_factor * (double)f->k;
}

static double l_over_phi(const ooc__fit *f, double phi)
{
    return round_l(f) / phi;
}

static int draw_round(const ooc__fit *f, const state_job *j, int round, double phi, uint64_t **rows, uint64_t *n,
                      ooc_error *err)
{
    int threads = ooc_rowstate_threads(j->rows);
    draw_job d = {f, OOC__STREAM_ROUND + (uint32_t)round, l_over_phi(f, phi), {0},
                  calloc((size_t)threads, sizeof(row_list))};
    int rc = ooc__agree(f, d.per_slot ? 0 : ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory"), err);
    if (!rc)
        rc = ooc_rowstate_scan_parallel(j->rows, draw_chunk, draw_append, &d, err);
    for (int t = 0; d.per_slot && t < threads; t++)
        free(d.per_slot[t].rows);
    free(d.per_slot);
    const ooc_dist *dist = ooc_stream_dist(f->stream);
    if (!rc && dist) { /* every process's rows, in row order, as one process draws them */
        void *all;
        uint64_t n_all = 0;
        rc = ooc_dist_concat(dist, d.all.rows, d.all.n, sizeof *d.all.rows, &all, &n_all, err);
        free(d.all.rows);
        d.all = (row_list){all, n_all, n_all};
        if (!rc)
            qsort(d.all.rows, (size_t)d.all.n, sizeof *d.all.rows, cmp_u64);
    }
    if (rc) {
        free(d.all.rows);
        return rc;
    }
    *rows = d.all.rows;
    *n = d.all.n;
    return 0;
}

/* k-means++'s next centre, greedily as scikit-learn's: 2 + ln k trial rows drawn with probability dmin / phi
 * (with replacement), of which the one whose potential (phi with it a centre) is least wins, the lowest row
 * of equals. Drawing reads the state; the potentials take a pass over the data. */
enum { TRIALS_MAX = 24 }; /* 2 + ln k for every k < 2^31 */

/* The draw: for each target (ascending), the first row where the running sum of dmin passes it. */
typedef struct trial_draw {
    double target[TRIALS_MAX], run;
    uint64_t row[TRIALS_MAX];
    int n, found;
} trial_draw;

#define DRAWN 1 /* draw_trials() found every row: ooc_rowstate_scan() stops */

static int draw_trials(void *ctx, uint64_t row0, uint64_t n, const void *state, ooc_error *err)
{
    (void)err;
    trial_draw *t = ctx;
    const row_state *st = state;
    for (uint64_t i = 0; i < n; i++) {
        t->run += st[i].dmin;
        while (t->found < t->n && t->run > t->target[t->found])
            t->row[t->found++] = row0 + i;
        if (t->found == t->n)
            return DRAWN;
    }
    return 0;
}

typedef struct trial_job {
    const void *rows; /* the trials, in the data's type */
    ooc_dtype dtype;
    uint64_t n, d, chunk_rows;
    double scale; /* the state's */
} trial_job;

/* Partial: each trial's potential over the rows, in the state's units (dmin as floats, scaled). */
#define OOC__TRIALS(NAME, T, ATTR, OPS)                                                                    \
    ATTR static void NAME(const trial_job *t, const T *x, uint64_t n, const row_state *st, double *pot)    \
    {                                                                                                      \
        const T *c = t->rows;                                                                              \
        size_t d = (size_t)t->d;                                                                           \
        for (uint64_t i = 0; i < n; i++)                                                                   \
            for (uint64_t q = 0; q < t->n; q++) {                                                          \
                float dd = scaled(ooc__sqdist_##OPS(x + i * d, c + q * d, d), t->scale);                   \
                pot[q] += dd < st[i].dmin ? dd : st[i].dmin;                                               \
            }                                                                                              \
    }

OOC__ROW_LOOPS(OOC__TRIALS, trials)

static int trial_map(void *ctx, const void *x, uint64_t row0, uint64_t n, void *state, void *partial, void *out,
                     ooc_error *err)
{
    (void)out;
    (void)err;
    const trial_job *t = ctx;
    if (row0 % t->chunk_rows == 0) /* the chunk's first piece */
        memset(partial, 0, t->n * sizeof(double));
    OOC__ROW_LOOP_CALL(trials, t->dtype, t, x, n, state, partial);
    return 0;
}

static void trial_combine(void *ctx, void *acc, const void *part)
{
    const trial_job *t = ctx;
    for (uint64_t q = 0; q < t->n; q++)
        ((double *)acc)[q] += ((const double *)part)[q];
}

static int plusplus_next(ooc__fit *f, const state_job *j, candidates *c, double phi, int round, ooc_error *err)
{
    int n = 2 + (int)log((double)f->k); /* scikit-learn's n_local_trials */
    trial_draw draw = {.n = n < TRIALS_MAX ? n : TRIALS_MAX};
    for (int q = 0; q < draw.n; q++) {
        draw.target[q] = ooc_random_uniform(f->p->seed, OOC__STREAM_PLUSPLUS, (uint64_t)round * TRIALS_MAX + q) * phi;
        draw.row[q] = f->in->rows - 1; /* where rounding leaves the sum short of a target */
    }
    qsort(draw.target, (size_t)draw.n, sizeof *draw.target, cmp_double);
    int rc = ooc_rowstate_scan(j->rows, draw_trials, &draw, sizeof draw, err);
    if (rc == DRAWN)
        rc = 0;
    uint64_t d = f->d, first = c->m;
    if (!rc)
        rc = add_rows(f, c, draw.row, (uint64_t)draw.n, err);
    size_t esize = ooc_dtype_size(f->in->dtype);
    char *typed = rc ? NULL : malloc((size_t)(draw.n * (d + 1)) * esize);
    double pot[TRIALS_MAX] = {0};
    if (!rc && !(rc = ooc__agree(f, typed ? 0 : ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory"), err))) {
        ooc__assign_typed_centers(c->pts + first * d, (size_t)draw.n, (size_t)d, f->in->dtype, typed);
        trial_job t = {typed, f->in->dtype, (uint64_t)draw.n, d, f->in->chunk_rows, j->scale};
        ooc_pass pass = {.phase = "init", .partial_size = sizeof pot, .ctx = &t, .map = trial_map,
                         .combine = trial_combine, .state = j->rows, .state_read_only = 1, .pieces = 1};
        rc = ooc_stream_run(f->stream, &pass, pot, err);
    }
    free(typed);
    if (rc)
        return rc;
    int best = 0;
    for (int q = 1; q < draw.n; q++)
        best = pot[q] < pot[best] ? q : best;
    /* the winner stays, the other trials go */
    memmove(c->pts + first * d, c->pts + (first + (uint64_t)best) * d, d * sizeof *c->pts);
    c->rows[first] = c->rows[first + (uint64_t)best];
    c->m = first + 1;
    return 0;
}

/* k distinct rows, uniformly, by (seed, stream, draw), not in `taken` (sorted, n_taken); sorted out. */
static int distinct_rows(const ooc__fit *f, uint32_t stream, const uint64_t *taken, uint64_t n_taken, uint64_t k,
                         uint64_t *out)
{
    uint64_t have = 0, draw = 0, rows = f->in->rows;
    while (have < k) {
        if (draw > 64 * (k + n_taken) + 1024) /* cannot happen while k + n_taken <= rows, but never hang */
            return OOC_EINTERNAL;
        uint64_t r = ooc_random_below(f->p->seed, stream, draw++, rows);
        int dup = n_taken > 0 && bsearch(&r, taken, n_taken, sizeof r, cmp_u64) != NULL;
        for (uint64_t i = 0; i < have && !dup; i++)
            dup = out[i] == r;
        if (!dup)
            out[have++] = r;
    }
    qsort(out, k, sizeof *out, cmp_u64);
    return 0;
}

static void note(const ooc__fit *f, const char *msg)
{
    if (f->p->on_note)
        f->p->on_note(msg, f->p->user);
}

/* Fewer candidates than k: they all become centres, and distinct random rows fill the rest. */
static int top_up(ooc__fit *f, candidates *c, double *centers, ooc_error *err)
{
    uint64_t missing = f->k - c->m;
    char msg[160];
    snprintf(msg, sizeof msg, "%s: %llu candidates for %llu clusters; adding %llu random rows",
             ooc_kmeans_init_name(f->p->init), (unsigned long long)c->m, (unsigned long long)f->k,
             (unsigned long long)missing);
    if (missing)
        note(f, msg);
    uint64_t *taken = malloc((c->m + 1) * sizeof *taken), *extra = malloc(missing * sizeof *extra);
    int rc = ooc__agree(f, taken && extra ? 0 : ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory"), err);
    if (!rc) {
        memcpy(taken, c->rows, c->m * sizeof *taken);
        qsort(taken, c->m, sizeof *taken, cmp_u64);
        rc = distinct_rows(f, OOC__STREAM_TOPUP, taken, c->m, missing, extra);
        if (rc)
            ooc_error_set(err, rc, "kmeans: cannot find %llu more distinct rows", (unsigned long long)missing);
    }
    if (!rc)
        rc = add_rows(f, c, extra, missing, err);
    if (!rc)
        memcpy(centers, c->pts, f->k * f->d * sizeof *centers);
    free(taken);
    free(extra);
    return rc;
}

/* The draw of keep_rows() from what the pass kept: 1 when it could (rows added to c), 0 when the draw must go
 * the usual way, or an error. */
static int draw_kept(const ooc__fit *f, const state_job *j, const double *kept, double phi, candidates *c,
                     ooc_error *err)
{
    double lp = l_over_phi(f, phi);
    if (kept[1] || (j->keep_l_over_phi > 0 && !(lp <= j->keep_l_over_phi)))
        return 0;
    uint64_t n = (uint64_t)kept[0], rd = record_doubles(j);
    int rc = ooc__agree(f, reserve(c, n, err), err);
    for (uint64_t i = 0; !rc && i < n; i++) {
        const double *r = kept + 2 + i * rd;
        double p = lp * r[2];
        if (!(p > 0 && r[1] < p))
            continue;
        memcpy(&c->rows[c->m], &r[0], sizeof c->rows[c->m]);
        memcpy(c->pts + c->m * c->d, r + 3, c->d * sizeof *c->pts);
        c->m++;
    }
    return rc ? rc : 1;
}

/* Rows a keep section holds: 4 MiB of records, at least 64. */
static uint64_t keep_capacity(uint64_t d)
{
    uint64_t cap = ((uint64_t)4 << 20) / ((3 + d) * sizeof(double));
    return cap < 64 ? 64 : cap;
}

/* The first candidate, row first_row, into c, and the state's scale (see the top): 2^-e with e the binary
 * exponent of the largest D from it to the rows of its chunk next to it (up to 64, read with it), or 1 when
 * those are all 0 (or not finite: the column statistics refuse that data). */
static int first_candidate(ooc__fit *f, candidates *c, uint64_t first_row, double *scale, ooc_error *err)
{
    enum { SAMPLE = 64 };
    uint64_t n = f->in->rows, cr = f->in->chunk_rows, d = f->d;
    uint64_t lo = first_row - first_row % cr, hi = lo + cr < n ? lo + cr : n;
    uint64_t m = hi - lo < SAMPLE ? hi - lo : SAMPLE, start = first_row < hi - m ? first_row : hi - m;
    uint64_t rows[SAMPLE];
    for (uint64_t i = 0; i < m; i++)
        rows[i] = start + i;
    double *x = malloc(m * d * sizeof *x);
    int rc = ooc__agree(f, x ? reserve(c, 1, err) : ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory"), err);
    if (!rc)
        rc = ooc_stream_read_rows(f->stream, rows, (size_t)m, x, err);
    if (!rc) {
        const double *c0 = x + (first_row - start) * d;
        double dmax = 0;
        for (uint64_t i = 0; i < m; i++) {
            double dist = ooc__sqdist(OOC_FLOAT64, x + i * d, c0, (size_t)d);
            dmax = dist > dmax ? dist : dmax;
        }
        int e = dmax > 0 && isfinite(dmax) ? -ilogb(dmax) : 0;
        *scale = ldexp(1, e < 1000 ? e : 1000); /* 2^1000 at most: subnormal distances too stay finite */
        memcpy(c->pts, c0, d * sizeof *c0);
        c->rows[0] = first_row;
        c->m = 1;
    }
    free(x);
    return rc;
}

static int sampled_init(ooc__fit *f, int plusplus, double *centers, uint64_t *n_candidates, ooc__init_seed *seed,
                        ooc_colstats **stats, ooc_error *err)
{
    uint64_t n = f->in->rows;
    state_job j = {.d = f->d, .chunk_rows = f->in->chunk_rows, .seed = f->p->seed, .keep_cap = keep_capacity(f->d)};
    candidates c = {.d = f->d};
    double *counts = NULL, *reach = NULL, phi = 0;
    /* Passes keep rows for the draw that follows (keep_rows()): the first about l a chunk; the others, with
     * room for 4 times as many as the draw takes when phi does not fall, enough unless a round lowers phi
     * keep_cap / (4 l)-fold or more. */
    double *kept = plusplus || !f->prune ? NULL : malloc((2 + j.keep_cap * record_doubles(&j)) * sizeof *kept);
    int kept_round = 0; /* the draw kept holds rows for, or 0 */
    int rc = ooc__agree(f, plusplus || !f->prune || kept ? 0 : ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory"),
                        err);
    if (!rc)
        rc = ooc_rowstate_create(f->stream, sizeof(row_state), &j.rows, err);
    uint64_t first_row = ooc_random_below(f->p->seed, OOC__STREAM_FIRST_CENTER, 0, n);
    double t_first = ooc_clock_seconds();
    if (!rc)
        rc = first_candidate(f, &c, first_row, &j.scale, err);
    t_first = ooc_clock_seconds() - t_first; /* counted with the first pass: the read warms the cache for it */
    uint64_t measured = 0; /* candidates [0, measured) are in the state */
    int rounds = plusplus ? (int)f->k - 1 : f->p->init_max_iter;
    for (int r = 0; !rc && r <= rounds; r++) {
        if (c.m > measured) {
            double *grown = realloc(counts, c.m * sizeof *counts), *grown_reach = realloc(reach, c.m * sizeof *reach);
            counts = grown ? grown : counts;
            reach = grown_reach ? grown_reach : reach;
            rc = ooc__agree(f, grown && grown_reach ? 0 : ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory"), err);
            if (rc)
                break;
            int keep = kept && r < rounds;
            j.keep_stream = keep ? OOC__STREAM_ROUND + (uint32_t)(r + 1) : 0;
            j.keep_l_over_phi = keep && measured > 0 ? (double)j.keep_cap / 4 / phi : 0;
            j.keep_l = round_l(f);
            kept_round = keep ? r + 1 : 0;
            double t = ooc_clock_seconds();
            rc = update_state(f, &j, &c, measured, &phi, counts, reach, measured == 0 ? stats : NULL, kept, err);
            if (measured == 0 && stats) {
                f->stats_seconds = t_first + ooc_clock_seconds() - t;
                if (!rc)
                    rc = ooc__check_stats(f, *stats, err);
            }
            measured = c.m;
        }
        if (rc || r == rounds || phi <= 0)
            break;
        uint64_t *rows = NULL, got = 0;
        if (plusplus) {
            rc = plusplus_next(f, &j, &c, phi, r, err);
            continue;
        }
        rc = kept_round == r + 1 ? draw_kept(f, &j, kept, phi, &c, err) : 0;
        if (rc == 1) {
            rc = 0;
            continue;
        }
        if (!rc)
            rc = draw_round(f, &j, r + 1, phi, &rows, &got, err);
        if (!rc && got)
            rc = add_rows(f, &c, rows, got, err);
        free(rows);
    }
    free(kept);
    *n_candidates = c.m;
    if (!rc && plusplus && c.m < f->k)
        rc = top_up(f, &c, centers, err); /* phi reached 0: fewer distinct rows than k were found */
    else if (!rc && plusplus)
        memcpy(centers, c.pts, f->k * f->d * sizeof *centers);
    else if (!rc && c.m <= f->k)
        rc = top_up(f, &c, centers, err);
    else if (!rc) {
        int mine = ooc__weighted_kmeans(c.pts, counts, (size_t)c.m, (size_t)f->d, (size_t)f->k, f->p->seed,
                                        ooc_stream_get_stats(f->stream)->threads, centers)
                       ? ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory reclustering %llu candidates",
                                       (unsigned long long)c.m)
                       : 0;
        rc = ooc__agree(f, mine, err);
    }
    if (!rc) { /* the state refers to candidates [0, measured) */
        *seed = (ooc__init_seed){j.rows, c.pts, measured, j.scale};
        j.rows = NULL;
        c.pts = NULL;
    }
    ooc_rowstate_free(j.rows);
    free(counts);
    free(reach);
    free(c.pts);
    free(c.rows);
    return rc;
}

void ooc__init_seed_free(ooc__init_seed *s)
{
    ooc_rowstate_free(s->rows);
    free(s->candidates);
    *s = (ooc__init_seed){0};
}

static int random_init(ooc__fit *f, double *centers, ooc_error *err)
{
    uint64_t *rows = malloc(f->k * sizeof *rows);
    int rc = ooc__agree(f, rows ? 0 : ooc_error_set(err, OOC_ENOMEM, "kmeans: out of memory"), err);
    if (!rc && distinct_rows(f, OOC__STREAM_RANDOM_INIT, NULL, 0, f->k, rows) != 0)
        rc = ooc_error_set(err, OOC_EINTERNAL, "kmeans: cannot draw %llu distinct rows", (unsigned long long)f->k);
    if (!rc)
        rc = ooc_stream_read_rows(f->stream, rows, (size_t)f->k, centers, err);
    free(rows);
    return rc;
}

uint64_t ooc__kmeans_init_candidates(const ooc__fit *f)
{
    if (f->p->init != OOC_INIT_KMEANS_PARALLEL)
        return f->k;
    /* a round draws each row with probability min(1, l dmin / phi): l rows or fewer on average */
    double m = 1 + ceil(round_l(f)) * f->p->init_max_iter;
    return m < (double)f->in->rows ? (uint64_t)m : f->in->rows;
}

void ooc__kmeans_init_memory(const ooc__fit *f, uint64_t *held, size_t *partial)
{
    uint64_t m = ooc__kmeans_init_candidates(f), d = f->d, esize = ooc_dtype_size(f->in->dtype);
    if (f->p->init == OOC_INIT_KMEANS_PP) /* k-means++'s trials beside the centres, typed for their pass */
        m += 2 * TRIALS_MAX;
    *held = f->k * sizeof(uint64_t); /* --init random: the rows drawn */
    *partial = 0;
    if (f->p->init == OOC_INIT_RANDOM)
        return;
    int parallel = f->p->init == OOC_INIT_KMEANS_PARALLEL;
    uint64_t n_new = parallel ? (uint64_t)ceil(round_l(f)) : 1;
    /* Not counted: the rows kept for a draw (a few a chunk, in sections of 4 MiB at most, touched only as
     * filled), which the stream's reserve holds. */
    state_job j = {.d = d, .chunk_rows = f->in->chunk_rows, .m = m,
                   .stats_doubles = (ooc_colstats_partial_bytes(d) + 7) / 8,
                   .scratch_bytes = ooc__assign_scratch_bytes(f->in->dtype, (size_t)n_new, (size_t)d)};
    *partial = state_partial_doubles(&j) * sizeof(double);
    /* the candidates, their rows, counts and reach; a pass's typed candidates (new and old, together m),
     * pruning table (old x new pairs: m^2 / 4 at most, m for k-means++'s one new a pass) and accumulator;
     * or, at the end, the reclustering */
    uint64_t drawn = m * (d + 3) * sizeof(double), pairs = parallel ? m / 2 * (m - m / 2) : m;
    uint64_t pass = m * (d + 1) * esize + (pairs < PRUNE_MAX_PAIRS ? pairs : PRUNE_MAX_PAIRS) * sizeof(near_new) +
                    (m + 1) * sizeof(uint64_t) + state_reduced_doubles(&j) * sizeof(double);
    uint64_t recluster = parallel ? ooc__weighted_kmeans_bytes((size_t)m, (size_t)d, (size_t)f->k) : 0;
    *held = drawn + (pass > recluster ? pass : recluster);
}

int ooc__kmeans_init(ooc__fit *f, double *centers, uint64_t *n_candidates, ooc__init_seed *seed,
                     ooc_colstats **stats, ooc_error *err)
{
    *n_candidates = f->k;
    switch (f->p->init) {
    case OOC_INIT_KMEANS_PARALLEL: return sampled_init(f, 0, centers, n_candidates, seed, stats, err);
    case OOC_INIT_KMEANS_PP: return sampled_init(f, 1, centers, n_candidates, seed, stats, err);
    case OOC_INIT_RANDOM: return random_init(f, centers, err);
    }
    return ooc_error_set(err, OOC_EINVAL, "kmeans: unknown init");
}
