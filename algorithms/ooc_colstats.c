#include "ooc_colstats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A summary of some rows: per column n, the mean as base + offset (base one of the values: summaries of data
 * far from 0 compare their means by bases, which differ exactly, and offsets, which keep the digits of the
 * spread), var (the mean squared deviation: kept, rather than their sum, so that values near 1e154 and beyond
 * whose variance is a double still have one), min, max; the first non-finite row. Laid out in one block:
 * [n | base | offset | var | min | max] x cols, then the row. */
typedef struct summary_view {
    double *n, *base, *offset, *var, *min, *max;
    uint64_t *bad_row;
} summary_view;

static size_t summary_size(uint64_t cols)
{
    return (size_t)cols * 6 * sizeof(double) + sizeof(uint64_t);
}

static summary_view view(void *p, uint64_t cols)
{
    double *d = p;
    summary_view v = {d, d + cols, d + 2 * cols, d + 3 * cols, d + 4 * cols, d + 5 * cols, (uint64_t *)(d + 6 * cols)};
    return v;
}

static void summary_init(summary_view v, uint64_t cols)
{
    for (uint64_t j = 0; j < cols; j++) {
        v.n[j] = v.base[j] = v.offset[j] = v.var[j] = 0;
        v.min[j] = INFINITY;
        v.max[j] = -INFINITY;
    }
    *v.bad_row = OOC_NO_ROW;
}

/* Mean and variance of a column from its sums of (value − shift) × scale. */
static void finish(summary_view v, uint64_t cols, const double *shift, const double *scale, const double *s1,
                   const double *s2)
{
    for (uint64_t j = 0; j < cols; j++) {
        if (v.n[j] == 0)
            continue;
        double d = s1[j] / v.n[j];
        v.base[j] = scale[j] == 1 ? shift[j] : (shift[j] * scale[j] + d) / scale[j]; /* scaled: the mean whole */
        v.offset[j] = scale[j] == 1 ? d : 0;
        double var = (s2[j] - s1[j] * d) / v.n[j] / scale[j] / scale[j];
        v.var[j] = isnan(var) ? var : fmax(0.0, var); /* sums that overflowed stay unknown, not 0 */
    }
}

/* Sums are taken about a shift (the chunk's first finite value per column) so that one pass is
 * numerically sound: deviations from a sample of the data stay of the order of its spread. A column whose
 * deviations' squares overflow is summed again scaled by a power of two (scale; else 1, the same bits). */
#define SUMMARISE(T)                                                                                       \
    static void summarise_##T(const T *x, uint64_t row0, uint64_t nrows, uint64_t cols, summary_view v,      \
                              double *shift, const double *scale, double *s1, double *s2)                  \
    {                                                                                                      \
        for (uint64_t j = 0; j < cols; j++) {                                                              \
            shift[j] = NAN;                                                                                \
            s1[j] = s2[j] = 0;                                                                             \
        }                                                                                                  \
        for (uint64_t r = 0; r < nrows; r++) {                                                             \
            const T *row = x + r * cols;                                                                   \
            for (uint64_t j = 0; j < cols; j++) {                                                          \
                double val = (double)row[j];                                                               \
                if (!isfinite(val)) {                                                                      \
                    if (*v.bad_row == OOC_NO_ROW)                                                          \
                        *v.bad_row = row0 + r;                                                             \
                    continue;                                                                              \
                }                                                                                          \
                if (isnan(shift[j]))                                                                       \
                    shift[j] = val;                                                                        \
                double t = val * scale[j] - shift[j] * scale[j];                                           \
                v.n[j] += 1;                                                                               \
                s1[j] += t;                                                                                \
                s2[j] += t * t;                                                                            \
                v.min[j] = val < v.min[j] ? val : v.min[j];                                                \
                v.max[j] = val > v.max[j] ? val : v.max[j];                                                \
            }                                                                                              \
        }                                                                                                  \
        finish(v, cols, shift, scale, s1, s2);                                                             \
    }                                                                                                      \
                                                                                                           \
    /* The same sums in the same order when every value is finite (the shift is then row 0), without the  \
     * checks in the loop, so that it vectorises across columns. Returns 0 when a value is not finite: the \
     * caller then starts again with the loop above, as it does when a sum overflowed. */                   \
    static int summarise_finite_##T(const T *restrict x, uint64_t nrows, uint64_t cols, summary_view v,     \
                                    double *restrict shift, const double *restrict scale, double *restrict s1, \
                                    double *restrict s2, double *restrict lo, double *restrict hi,         \
                                    double *restrict nan_if_bad)                                           \
    {                                                                                                      \
        for (uint64_t j = 0; j < cols; j++) {                                                              \
            shift[j] = nrows ? (double)x[j] : 0;                                                           \
            s1[j] = s2[j] = nan_if_bad[j] = 0;                                                             \
            lo[j] = INFINITY;                                                                              \
            hi[j] = -INFINITY;                                                                             \
        }                                                                                                  \
        for (uint64_t r = 0; r < nrows; r++) {                                                             \
            const T *row = x + r * cols;                                                                   \
            for (uint64_t j = 0; j < cols; j++) {                                                          \
                double val = (double)row[j], t = val - shift[j];                                           \
                nan_if_bad[j] += val - val; /* NaN from an infinity or a NaN, else 0 */                    \
                s1[j] += t;                                                                                \
                s2[j] += t * t;                                                                            \
                lo[j] = val < lo[j] ? val : lo[j];                                                         \
                hi[j] = val > hi[j] ? val : hi[j];                                                         \
            }                                                                                              \
        }                                                                                                  \
        for (uint64_t j = 0; j < cols; j++)                                                                \
            if (nan_if_bad[j] != 0 || !isfinite(s2[j]))                                                    \
                return 0;                                                                                  \
        for (uint64_t j = 0; j < cols; j++) {                                                              \
            v.n[j] = (double)nrows;                                                                        \
            v.min[j] = lo[j];                                                                              \
            v.max[j] = hi[j];                                                                              \
        }                                                                                                  \
        finish(v, cols, shift, scale, s1, s2);                                                             \
        return 1;                                                                                          \
    }

SUMMARISE(double)
SUMMARISE(float)

size_t ooc_colstats_partial_bytes(uint64_t cols)
{
    return summary_size(cols);
}

void ooc_colstats_partial_init(void *partial, uint64_t cols)
{
    summary_init(view(partial, cols), cols);
}

int ooc_colstats_summarise(const void *rows, ooc_dtype t, uint64_t row0, uint64_t nrows, uint64_t cols,
                           void *partial, ooc_error *err)
{
    summary_view v = view(partial, cols);
    summary_init(v, cols);
    double *scratch = malloc(7 * cols * sizeof *scratch);
    if (!scratch)
        return ooc_error_set(err, OOC_ENOMEM, "statistics: out of memory");
    double *shift = scratch, *scale = shift + cols, *s1 = scale + cols, *s2 = s1 + cols, *lo = s2 + cols;
    double *hi = lo + cols, *bad = hi + cols;
    for (uint64_t j = 0; j < cols; j++)
        scale[j] = 1;
    int finite = t == OOC_FLOAT32 ? summarise_finite_float(rows, nrows, cols, v, shift, scale, s1, s2, lo, hi, bad)
                                  : summarise_finite_double(rows, nrows, cols, v, shift, scale, s1, s2, lo, hi, bad);
    if (!finite) {
        /* Deviations below 2 after scaling by 2^-(e + 1), e the exponent of the largest |value|. */
        for (uint64_t j = 0; j < cols; j++)
            if (!isfinite(s2[j]) && isfinite(lo[j]) && isfinite(hi[j]))
                scale[j] = ldexp(1, -(ilogb(fmax(fabs(lo[j]), fabs(hi[j]))) + 1));
        if (t == OOC_FLOAT32)
            summarise_float(rows, row0, nrows, cols, v, shift, scale, s1, s2);
        else
            summarise_double(rows, row0, nrows, cols, v, shift, scale, s1, s2);
    }
    free(scratch);
    return 0;
}

/* Chan, Golub & LeVeque's pairwise merge of (n, mean, var), with weights wa + wb = 1. Means of opposite
 * signs near the largest double differ by more than it: then halves. */
void ooc_colstats_merge(void *acc, const void *partial, uint64_t cols)
{
    summary_view a = view(acc, cols), b = view((void *)partial, cols);
    for (uint64_t c = 0; c < cols; c++) {
        double n = a.n[c] + b.n[c];
        if (a.n[c] == 0) { /* not through delta²·0: for |mean| past 1e154 that is inf·0, NaN */
            a.n[c] = b.n[c];
            a.base[c] = b.base[c];
            a.offset[c] = b.offset[c];
            a.var[c] = b.var[c];
        } else if (b.n[c] > 0) {
            double wa = a.n[c] / n, wb = b.n[c] / n, spread;
            double delta = (b.base[c] - a.base[c]) + (b.offset[c] - a.offset[c]);
            if (isfinite(delta)) {
                a.offset[c] += delta * wb;
                spread = delta * sqrt(wa * wb);
                spread *= spread;
            } else {
                double ma = a.base[c] + a.offset[c], mb = b.base[c] + b.offset[c], half = mb * 0.5 - ma * 0.5;
                a.base[c] = (ma * 0.5 + half * wb) * 2;
                a.offset[c] = 0;
                spread = half * sqrt(wa * wb);
                spread *= spread * 4;
            }
            a.var[c] = a.var[c] * wa + b.var[c] * wb + spread;
            a.n[c] = n;
        }
        a.min[c] = fmin(a.min[c], b.min[c]);
        a.max[c] = fmax(a.max[c], b.max[c]);
    }
    if (*a.bad_row == OOC_NO_ROW)
        *a.bad_row = *b.bad_row;
}

int ooc_colstats_from_partial(const void *acc, uint64_t rows, uint64_t cols, ooc_colstats **out, ooc_error *err)
{
    *out = NULL;
    ooc_colstats *st = calloc(1, sizeof *st);
    double *cols5 = malloc((size_t)cols * 5 * sizeof(double));
    if (!st || !cols5) {
        free(st);
        free(cols5);
        return ooc_error_set(err, OOC_ENOMEM, "statistics: out of memory");
    }
    summary_view a = view((void *)acc, cols);
    st->rows = rows;
    st->cols = cols;
    st->count = cols5;
    st->mean = cols5 + cols;
    st->var = cols5 + 2 * cols;
    st->min = cols5 + 3 * cols;
    st->max = cols5 + 4 * cols;
    for (uint64_t c = 0; c < cols; c++) {
        st->count[c] = a.n[c];
        st->mean[c] = a.n[c] > 0 ? a.base[c] + a.offset[c] : NAN;
        /* var is NaN only where finite values' squared deviations overflowed (inf - inf): the variance is
         * past the largest double, and numpy's is inf too. */
        st->var[c] = a.n[c] == 0 ? NAN : isnan(a.var[c]) ? INFINITY : a.var[c];
        st->min[c] = a.n[c] > 0 ? a.min[c] : NAN;
        st->max[c] = a.n[c] > 0 ? a.max[c] : NAN;
    }
    st->first_nonfinite_row = *a.bad_row;
    *out = st;
    return 0;
}

/* The pass of ooc_colstats_compute(). */
typedef struct job {
    uint64_t cols;
    ooc_dtype dtype;
} job;

static int map_chunk(void *ctx, const void *rows, uint64_t row0, uint64_t nrows, void *state, void *partial, void *out,
                     ooc_error *err)
{
    (void)state;
    (void)out;
    const job *j = ctx;
    return ooc_colstats_summarise(rows, j->dtype, row0, nrows, j->cols, partial, err);
}

static void combine(void *ctx, void *acc, const void *partial)
{
    ooc_colstats_merge(acc, partial, ((const job *)ctx)->cols);
}

void ooc_colstats_free(ooc_colstats *st)
{
    if (!st)
        return;
    free(st->count);
    free(st);
}

int ooc_colstats_compute(ooc_stream *s, ooc_colstats **out, ooc_error *err)
{
    *out = NULL;
    const ooc_array_info *in = ooc_array_get_info(ooc_stream_array(s));
    job j = {in->cols, in->dtype};
    void *acc = malloc(summary_size(in->cols));
    const ooc_dist *dist = ooc_stream_dist(s);
    int rc = ooc_dist_agree(dist, acc ? 0 : ooc_error_set(err, OOC_ENOMEM, "statistics: out of memory"), err);
    if (rc) {
        free(acc);
        return rc;
    }
    ooc_colstats_partial_init(acc, in->cols);
    ooc_pass pass = {.phase = "stats", .partial_size = summary_size(in->cols), .ctx = &j, .map = map_chunk,
                     .combine = combine};
    rc = ooc_stream_run(s, &pass, acc, err);
    if (!rc) {
        int mine = ooc_colstats_from_partial(acc, in->rows, in->cols, out, err);
        if ((rc = ooc_dist_agree(dist, mine, err)) != 0 && !mine) { /* another process failed */
            ooc_colstats_free(*out);
            *out = NULL;
        }
    }
    free(acc);
    return rc;
}

double ooc_colstats_mean_variance(const ooc_colstats *st)
{
    double sum = 0; /* of var / cols: the mean of variances near the largest double is one too */
    for (uint64_t c = 0; c < st->cols; c++)
        sum += st->var[c] / (double)st->cols;
    return sum;
}
