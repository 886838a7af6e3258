#include "ooc_prefetch_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct ring_slot {
    ooc_array_raw raw;
    uint64_t chunk;
    int ready;    /* fetched (or failed) and not yet released */
    int rc;
    ooc_error err;
} ring_slot;

struct ooc__prefetch {
    ooc_array *a;
    int depth;
    ring_slot *ring;
    pthread_mutex_t mu;
    pthread_cond_t changed;
    pthread_t thread;
    int running, stop;
    uint64_t first, stride, count; /* chunks first + j * stride for j < count */
    int (*skip)(void *ctx, uint64_t j);
    void *skip_ctx;
};

int ooc__prefetch_create(ooc_array *a, int depth, ooc__prefetch **out)
{
    ooc__prefetch *p = calloc(1, sizeof *p);
    if (!p || !(p->ring = calloc((size_t)depth, sizeof *p->ring))) {
        free(p);
        return OOC_ENOMEM;
    }
    p->a = a;
    p->depth = depth;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->changed, NULL);
    *out = p;
    return 0;
}

void ooc__prefetch_free(ooc__prefetch *p)
{
    if (!p)
        return;
    ooc__prefetch_finish(p);
    for (int i = 0; i < p->depth; i++)
        ooc_array_raw_free(&p->ring[i].raw);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->changed);
    free(p->ring);
    free(p);
}

static void *fetch_loop(void *arg)
{
    ooc__prefetch *p = arg;
    for (uint64_t j = 0; j < p->count; j++) {
        uint64_t c = p->first + j * p->stride;
        if (p->skip(p->skip_ctx, j))
            continue;
        ring_slot *s = &p->ring[j % (uint64_t)p->depth];
        pthread_mutex_lock(&p->mu);
        while (s->ready && !p->stop)
            pthread_cond_wait(&p->changed, &p->mu);
        int stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        /* The slot is ours until we mark it ready: fetch without holding the mutex. */
        ooc_error_clear(&s->err);
        s->rc = ooc_array_fetch(p->a, c, &s->raw, &s->err);
        pthread_mutex_lock(&p->mu);
        s->chunk = c;
        s->ready = 1;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

/* The ring slot of chunk c: by its place in the pass, so that a stride cannot crowd chunks into one slot. */
static ring_slot *slot_of(ooc__prefetch *p, uint64_t chunk)
{
    return &p->ring[(chunk - p->first) / p->stride % (uint64_t)p->depth];
}

int ooc__prefetch_start(ooc__prefetch *p, uint64_t first, uint64_t stride, uint64_t count,
                        int (*skip)(void *ctx, uint64_t j), void *ctx, ooc_error *err)
{
    p->first = first;
    p->stride = stride;
    p->count = count;
    p->skip = skip;
    p->skip_ctx = ctx;
    p->stop = 0;
    for (int i = 0; i < p->depth; i++)
        p->ring[i].ready = 0;
    if (pthread_create(&p->thread, NULL, fetch_loop, p) != 0)
        return ooc_error_set(err, OOC_ENOMEM, "cannot start the prefetch thread");
    p->running = 1;
    return 0;
}

int ooc__prefetch_wait(ooc__prefetch *p, uint64_t chunk, const ooc_array_raw **raw, ooc_error *err)
{
    ring_slot *s = slot_of(p, chunk);
    pthread_mutex_lock(&p->mu);
    while (!(s->ready && s->chunk == chunk))
        pthread_cond_wait(&p->changed, &p->mu);
    pthread_mutex_unlock(&p->mu);
    if (s->rc) {
        ooc_error_copy(err, &s->err);
        return s->rc;
    }
    *raw = &s->raw;
    return 0;
}

void ooc__prefetch_release(ooc__prefetch *p, uint64_t chunk)
{
    ring_slot *s = slot_of(p, chunk);
    pthread_mutex_lock(&p->mu);
    s->ready = 0;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->mu);
}

void ooc__prefetch_finish(ooc__prefetch *p)
{
    if (!p->running)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    p->running = 0;
}

ooc_array_raw *ooc__prefetch_idle_raw(ooc__prefetch *p, int i)
{
    return &p->ring[i].raw;
}

uint64_t ooc__prefetch_bytes(const ooc__prefetch *p)
{
    uint64_t n = 0;
    for (int i = 0; i < p->depth; i++)
        n += p->ring[i].raw.cap;
    return n;
}
