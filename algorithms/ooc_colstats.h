/* ooc_colstats.h: per-column statistics in one pass (count, mean, population variance, min, max) and the
 * first row holding NaN or infinity. Non-finite values are left out of the statistics and reported by row.
 * Chunks are summarised on their own and merged in chunk order (Chan et al.'s pairwise update), so the
 * results are bitwise identical for any thread count. KMeans uses it for its tolerance (mean variance)
 * and to refuse non-finite data. */
#ifndef OOC_COLSTATS_H
#define OOC_COLSTATS_H

#include "ooc_dtype.h"
#include "ooc_error.h"
#include "ooc_stream.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OOC_NO_ROW UINT64_MAX

typedef struct ooc_colstats {
    uint64_t rows, cols;
    double *count;  /* finite values per column */
    double *mean, *var, *min, *max;  /* over the finite values; var is the population variance */
    uint64_t first_nonfinite_row;    /* OOC_NO_ROW when every value is finite */
} ooc_colstats;

/* ooc_colstats_compute(): one pass over the stream's array. *out is freed with ooc_colstats_free(). */
int ooc_colstats_compute(ooc_stream *s, ooc_colstats **out, ooc_error *err);
void ooc_colstats_free(ooc_colstats *st); /* NULL is a no-op */

/* The same statistics computed inside another pass, to save one: its partials carry
 * ooc_colstats_partial_bytes(cols) bytes for them; its map calls ooc_colstats_summarise() on each chunk's
 * rows (of type t), its combine ooc_colstats_merge(); the accumulator starts as ooc_colstats_partial_init(),
 * and after the pass ooc_colstats_from_partial() gives what ooc_colstats_compute() would have. */
size_t ooc_colstats_partial_bytes(uint64_t cols);
void ooc_colstats_partial_init(void *partial, uint64_t cols);
int ooc_colstats_summarise(const void *rows, ooc_dtype t, uint64_t row0, uint64_t nrows, uint64_t cols,
                           void *partial, ooc_error *err);
void ooc_colstats_merge(void *acc, const void *partial, uint64_t cols);
int ooc_colstats_from_partial(const void *acc, uint64_t rows, uint64_t cols, ooc_colstats **out, ooc_error *err);

/* ooc_colstats_mean_variance(): the mean over columns of the variance (scikit-learn's tolerance scale). */
double ooc_colstats_mean_variance(const ooc_colstats *st);

#ifdef __cplusplus
}
#endif

#endif
