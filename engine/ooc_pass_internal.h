/* ooc_pass_internal.h: the engine's parallel loops over chunks. OpenMP lives here and nowhere else. */
#ifndef OOC_PASS_INTERNAL_H
#define OOC_PASS_INTERNAL_H

#include "ooc_error.h"
#include "ooc_progress.h"

#include <stdint.h>

/* Work on one chunk. produce() runs on thread `worker` in [0, threads), whose per-thread buffers no other
 * chunk uses meanwhile, and leaves its result in `slot`'s buffers, in [0, threads * window); consume() of
 * the chunk then gets the same slot, which is free again once it returns. Each returns 0 or a negative
 * OOC_E* code with err filled. */
typedef int (*ooc__produce_fn)(void *ctx, uint64_t chunk, int worker, int slot, ooc_error *err);
typedef int (*ooc__consume_fn)(void *ctx, uint64_t chunk, int slot, ooc_error *err);

/* ooc__pass_ordered(): for every chunk, produce() in parallel on `threads` threads, then consume() in chunk
 * order, one at a time (the writer's side: consume of chunk i runs after consume of i - 1, on whichever
 * thread completes the run up to i). A thread may be `window` chunks ahead of the last consumed one before
 * it waits (thread t's slots: t * window + [0, window); with a window of 1 a thread's slot is its own
 * index). Stops at the first failure, which is the lowest-numbered failing chunk whatever the thread count
 * and window, or at a cancel request (OOC_EINTERRUPTED). consume() may report progress through
 * p->progress. */
typedef struct ooc__ordered_pass {
    uint64_t nchunks;
    int threads, window;
    ooc__produce_fn produce;
    ooc__consume_fn consume;
    void *ctx;
} ooc__ordered_pass;

int ooc__pass_ordered(const ooc__ordered_pass *p, ooc_error *err);

/* ooc__pass_each_slot(): fn(ctx, slot) for every slot in [0, threads), in parallel on the passes' threads:
 * per-thread buffers set up (and first touched) by as many threads as will use them. Returns how many calls
 * failed (returned nonzero). */
typedef int (*ooc__slot_fn)(void *ctx, int slot);
int ooc__pass_each_slot(int threads, ooc__slot_fn fn, void *ctx);

#endif
