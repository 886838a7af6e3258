/* ooc_prefetch_internal.h: a thread that fetches chunks ahead of the workers during a pass, so that reading
 * (serialised by HDF5) overlaps decoding instead of stalling it. Chunks are fetched in the pass's order into
 * a ring of `depth` buffers; the pass's j-th chunk uses buffer j % depth once the (j - depth)-th has
 * released it. */
#ifndef OOC_PREFETCH_INTERNAL_H
#define OOC_PREFETCH_INTERNAL_H

#include "ooc_array.h"

typedef struct ooc__prefetch ooc__prefetch;

int ooc__prefetch_create(ooc_array *a, int depth, ooc__prefetch **out);
void ooc__prefetch_free(ooc__prefetch *p); /* NULL is a no-op; the pass must be finished */

/* ooc__prefetch_start(): begin fetching chunks first + j * stride for j in [0, count) (this process's, in a
 * distributed pass), but not the j-th when skip(ctx, j) (the stream's: cached, or not read by the pass). */
int ooc__prefetch_start(ooc__prefetch *p, uint64_t first, uint64_t stride, uint64_t count,
                        int (*skip)(void *ctx, uint64_t j), void *ctx, ooc_error *err);

/* ooc__prefetch_wait(): chunk c once fetched (*raw stays valid until release), or its fetch error. */
int ooc__prefetch_wait(ooc__prefetch *p, uint64_t chunk, const ooc_array_raw **raw, ooc_error *err);

/* ooc__prefetch_release(): the worker is done with chunk c's buffer. */
void ooc__prefetch_release(ooc__prefetch *p, uint64_t chunk);

/* ooc__prefetch_finish(): stop the fetcher (also mid-pass, after a failure) and wait for it. */
void ooc__prefetch_finish(ooc__prefetch *p);

/* ooc__prefetch_idle_raw(): buffer i (< depth) of the ring, for a worker's own fetch while no pass runs: the
 * ring's memory, counted once, serves both. */
ooc_array_raw *ooc__prefetch_idle_raw(ooc__prefetch *p, int i);

/* ooc__prefetch_bytes(): bytes its buffers hold now. */
uint64_t ooc__prefetch_bytes(const ooc__prefetch *p);

#endif
