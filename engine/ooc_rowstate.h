/* ooc_rowstate.h: per-row state an algorithm carries from pass to pass (k-means||'s distance to the nearest
 * candidate, Lloyd's bounds), chunked like the array.
 *
 * It lives in memory when the stream's memory limit has room for all of it beside the working buffers, and
 * otherwise in an unlinked temporary file ($TMPDIR, else /tmp) that each pass reads and writes one chunk at a
 * time: so peak memory does not grow with the number of rows. The stream decides which when it is created,
 * from ooc_stream_params.state_row_bytes. State starts as zero bytes.
 *
 * A pass with .state set hands map() its chunk's state (nrows x row_bytes) to read and update; serial code
 * walks it chunk by chunk with ooc_rowstate_scan().
 *
 * Distributed (the stream's dist), each process holds the state of the chunks it maps (ooc_dist_item());
 * every call below is then collective.
 */
#ifndef OOC_ROWSTATE_H
#define OOC_ROWSTATE_H

#include "ooc_error.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ooc_rowstate ooc_rowstate;
struct ooc_stream;

/* ooc_rowstate_create(): zeroed state of row_bytes per row (at most the stream's state_row_bytes) for every
 * row of the stream's array. OOC_EINVAL when the stream was not created for it; OOC_EIO or OOC_ENOSPACE when
 * the temporary file fails. */
int ooc_rowstate_create(struct ooc_stream *s, size_t row_bytes, ooc_rowstate **out, ooc_error *err);
void ooc_rowstate_free(ooc_rowstate *rs); /* NULL is a no-op */

/* ooc_rowstate_spilled(): whether it lives in a file. */
int ooc_rowstate_spilled(const ooc_rowstate *rs);

/* ooc_rowstate_scan(): fn on every chunk's state in chunk order, serially, read only. Stops at fn's first
 * nonzero return, which it returns. ctx: ctx_bytes that fn may change; distributed, the process holding a
 * chunk's state runs fn, then hands ctx (and fn's result) on to every process. */
typedef int (*ooc_rowstate_fn)(void *ctx, uint64_t row0, uint64_t nrows, const void *state, ooc_error *err);
int ooc_rowstate_scan(ooc_rowstate *rs, ooc_rowstate_fn fn, void *ctx, size_t ctx_bytes, ooc_error *err);

/* ooc_rowstate_scan_parallel(): each(ctx, chunk, row0, nrows, state, slot, err) on every chunk's state on
 * the stream's threads (slot in [0, threads): the caller's per-thread buffers), read only; then, when not
 * NULL, done(ctx, chunk, slot, err) for chunk 0, 1, 2, ... in order, one at a time. Distributed, each process
 * visits its own chunks only, and all return the first failure of any. */
typedef int (*ooc_rowstate_each_fn)(void *ctx, uint64_t chunk, uint64_t row0, uint64_t nrows, const void *state,
                                    int slot, ooc_error *err);
typedef int (*ooc_rowstate_done_fn)(void *ctx, uint64_t chunk, int slot, ooc_error *err);
int ooc_rowstate_scan_parallel(ooc_rowstate *rs, ooc_rowstate_each_fn each, ooc_rowstate_done_fn done, void *ctx,
                               ooc_error *err);
int ooc_rowstate_threads(const ooc_rowstate *rs);

#ifdef __cplusplus
}
#endif

#endif
