#define _POSIX_C_SOURCE 200809L /* sched_yield */
#include "ooc_pass_internal.h"

#include "ooc_cancel.h"

#include <omp.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

/* A pass under way. Chunks are handed out in order (schedule(dynamic, 1)), and every chunk from `next` (the
 * first not consumed) up to one produced is in a slot or in the hands of a thread waiting for one: the
 * chunks produced and not yet consumed lie in [next, next + slots + threads), and ring[i % that] is chunk
 * i's slot + 1 once produced, else 0. */
typedef struct run {
    const ooc__ordered_pass *p;
    int slots;
    uint64_t ring_size;
    omp_lock_t lock;     /* guards ring, next, rc and the first failure */
    int *ring;
    uint64_t next;       /* the next chunk to consume */
    int *rc;             /* per slot: its produce()'s result */
    ooc_error *err;      /* per slot */
    atomic_int *busy;    /* per slot: produced and not yet consumed (its thread may not reuse it) */
    atomic_int failed;
    ooc_error first;
} run;

/* A free slot of thread t, waiting for one to be consumed when the thread is a window ahead; -1 once the
 * pass has failed. */
static int free_slot(run *r, int t)
{
    int w = r->p->window;
    for (;;) {
        for (int s = t * w; s < (t + 1) * w; s++)
            if (!atomic_load_explicit(&r->busy[s], memory_order_acquire))
                return s;
        if (atomic_load(&r->failed))
            return -1;
        sched_yield(); /* the thread holding chunk `next` runs meanwhile */
    }
}

/* Chunk i, produced into slot s with result rc: parked, then every chunk from `next` on that is ready is
 * consumed, in order. */
static void park_and_consume(run *r, uint64_t i, int s, int rc)
{
    r->rc[s] = rc;
    omp_set_lock(&r->lock);
    r->ring[i % r->ring_size] = s + 1;
    while (!atomic_load(&r->failed) && r->next < r->p->nchunks && r->ring[r->next % r->ring_size]) {
        int q = r->ring[r->next % r->ring_size] - 1;
        r->ring[r->next % r->ring_size] = 0;
        int qrc = r->rc[q];
        if (!qrc)
            qrc = r->p->consume(r->p->ctx, r->next, q, &r->err[q]);
        if (qrc) {
            r->first = r->err[q];
            atomic_store(&r->failed, 1);
        }
        atomic_store_explicit(&r->busy[q], 0, memory_order_release);
        r->next++;
    }
    omp_unset_lock(&r->lock);
}

int ooc__pass_ordered(const ooc__ordered_pass *p, ooc_error *err)
{
    run r = {.p = p, .slots = p->threads * p->window, .ring_size = (uint64_t)(p->threads * (p->window + 1))};
    r.ring = calloc((size_t)r.ring_size, sizeof *r.ring);
    r.rc = calloc((size_t)r.slots, sizeof *r.rc);
    r.err = calloc((size_t)r.slots, sizeof *r.err);
    r.busy = calloc((size_t)r.slots, sizeof *r.busy);
    if (!r.ring || !r.rc || !r.err || !r.busy) {
        free(r.ring);
        free(r.rc);
        free(r.err);
        free(r.busy);
        return ooc_error_set(err, OOC_ENOMEM, "out of memory");
    }
    for (int s = 0; s < r.slots; s++)
        atomic_init(&r.busy[s], 0);
    atomic_init(&r.failed, 0);
    ooc_error_clear(&r.first);
    omp_init_lock(&r.lock);
    /* No more threads than chunks: a thread with none would only wait at the end, spinning on a core that
     * the others (or other programs) could use: k-means++ over a 1-chunk input (1797 x 64, k = 100, 199
     * passes) took 0.4-0.9 s on two threads against 0.11-0.19 s on one. */
    int threads = (uint64_t)p->threads < p->nchunks ? p->threads : p->nchunks > 0 ? (int)p->nchunks : 1;
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
        for (uint64_t i = 0; i < p->nchunks; i++) {
            int s = atomic_load(&r.failed) ? -1 : free_slot(&r, t);
            if (s < 0)
                continue; /* the pass has failed: the remaining chunks are skipped */
            atomic_store_explicit(&r.busy[s], 1, memory_order_relaxed);
            ooc_error_clear(&r.err[s]);
            int rc = ooc_cancel_check(&r.err[s]);
            if (!rc)
                rc = p->produce(p->ctx, i, t, s, &r.err[s]);
            park_and_consume(&r, i, s, rc);
        }
    }
    omp_destroy_lock(&r.lock);
    free(r.ring);
    free(r.rc);
    free(r.err);
    free(r.busy);
    if (atomic_load(&r.failed)) {
        ooc_error_copy(err, &r.first);
        return r.first.code;
    }
    return 0;
}

int ooc__pass_each_slot(int threads, ooc__slot_fn fn, void *ctx)
{
    int failed = 0;
#pragma omp parallel for num_threads(threads) schedule(static, 1) reduction(+ : failed)
    for (int slot = 0; slot < threads; slot++)
        failed += fn(ctx, slot) != 0;
    return failed;
}
