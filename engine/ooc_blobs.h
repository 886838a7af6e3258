/* ooc_blobs.h: the deterministic Gaussian-blobs source (scikit-learn's make_blobs, generated lazily).
 *
 * Row r of the array depends only on (seed, r) and the centres: its blob label is drawn uniformly from
 * [0, centers) and its features are centre + cluster_std * N(0,1), all from a counter-based generator
 * (Random123 Philox4x32-10 keyed by the seed, counter = row and draw index). So any chunk can be made on
 * demand, by any thread, in any order, and the values do not even depend on chunk_rows. float32 data is the
 * float64 data rounded to float32.
 *
 * Spec string (the `blobs:` input): "blobs:samples=N,features=D,centers=K,seed=S,chunk_rows=R,
 * cluster_std=F,center_box=LO:HI,dtype=float64|float32"; every key optional (defaults below), counts accept
 * ooc_parse_count() forms ("10M", "1e6").
 */
#ifndef OOC_BLOBS_H
#define OOC_BLOBS_H

#include "ooc_dtype.h"
#include "ooc_error.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ooc_blobs_params {
    uint64_t samples;    /* rows                           [default: 1000000] */
    uint64_t features;   /* columns                        [default: 20] */
    uint64_t centers;    /* number of blobs                [default: 12] */
    double cluster_std;  /* per-blob standard deviation    [default: 1.0] */
    double center_lo;    /* centres drawn uniformly in     [default: -10] */
    double center_hi;    /*   [center_lo, center_hi)^d     [default: 10] */
    uint64_t seed;       /*                                [default: 0] */
    uint64_t chunk_rows; /* rows per chunk                 [default: 200000] */
    ooc_dtype dtype;     /* OOC_FLOAT64 or OOC_FLOAT32     [default: OOC_FLOAT64] */
} ooc_blobs_params;

ooc_blobs_params ooc_blobs_params_default(void);

/* ooc_blobs_params_check(): samples >= 1, 1 <= features <= 2^31, 1 <= centers <= INT32_MAX (labels are
 * int32), chunk_rows >= 1, cluster_std >= 0 and finite, center_lo < center_hi with a finite width, dtype
 * float; samples * features * 8 bytes fits in 64 bits, chunk_rows × features float64 values in a quarter of
 * the address space, centers × features at most 2^28. Returns 0 or OOC_EINVAL with a message naming the bad parameter
 * ("blobs: features must be at least 1"). */
int ooc_blobs_params_check(const ooc_blobs_params *p, ooc_error *err);

/* How a message names the parameters: a prefix, then each one's name (and how a box is written).
 * ooc_blobs_keys: "blobs: " and the keys of the blobs: input (samples, chunk_rows, ...; LO:HI), which
 * ooc_blobs_params_check() uses. */
typedef struct ooc_blobs_names {
    const char *prefix, *samples, *features, *centers, *chunk_rows, *cluster_std, *center_box, *center_box_form,
        *dtype;
} ooc_blobs_names;
extern const ooc_blobs_names ooc_blobs_keys;

/* ooc_blobs_params_check_named(): ooc_blobs_params_check() with the parameters named by `names` (a program's
 * options, say). */
int ooc_blobs_params_check_named(const ooc_blobs_params *p, const ooc_blobs_names *names, ooc_error *err);

/* ooc_blobs_parse(): parse a "blobs:..." spec into *p, starting from ooc_blobs_params_default(); a missing
 * prefix, unknown keys, malformed values, repeated keys, empty items → OOC_EINVAL naming the item ("blobs:
 * samples=x: 'samples' is not a count"), *p untouched. Does not call _check(). */
int ooc_blobs_parse(const char *spec, ooc_blobs_params *p, ooc_error *err);

/* ooc_blobs_format(): the canonical spec string of *p (every key, reals as %.17g, so that parsing it gives
 * *p back exactly), as snprintf: returns the length. */
int ooc_blobs_format(const ooc_blobs_params *p, char *buf, size_t size);

typedef struct ooc_blobs ooc_blobs;

/* ooc_blobs_create(): a source for *p (checked). centers: k × d row-major finite float64 to use (copied) as
 * the blob centres, or NULL to draw them uniformly in the box from the seed (a stream of their own). */
int ooc_blobs_create(const ooc_blobs_params *p, const double *centers, ooc_blobs **out, ooc_error *err);
void ooc_blobs_free(ooc_blobs *b); /* NULL is a no-op */

const ooc_blobs_params *ooc_blobs_get_params(const ooc_blobs *b);
const double *ooc_blobs_centers(const ooc_blobs *b); /* k × d row-major float64 */
uint64_t ooc_blobs_nchunks(const ooc_blobs *b);      /* ceil(samples / chunk_rows) */

/* ooc_blobs_rows(): rows [row0, row0 + n) (row0 + n <= samples) into x (n × d, row-major, params dtype)
 * and their blob labels into y (n int32; y may be NULL). Pure and thread-safe: no allocation, no I/O. */
void ooc_blobs_rows(const ooc_blobs *b, uint64_t row0, size_t n, void *x, int32_t *y);

#ifdef __cplusplus
}
#endif

#endif
