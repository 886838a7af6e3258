/* test_engine_pass: ooc__pass_ordered(), the loop every pass, scan and chunkgen run on. Chunks are produced
 * in parallel and consumed in chunk order; a thread may run `window` chunks ahead of the last consumed one,
 * in slots of its own that nobody touches until the chunk is consumed. Checked for 1-5 threads, windows of
 * 1-3 and chunk times that make threads run ahead (one slow chunk, uneven times): the order, each slot
 * holding the chunk it was given, and the first failure in chunk order winning. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include "ooc_pass_internal.h"
#include "ooc_test.h"

#include <stdatomic.h>
#include <time.h>

enum { NCHUNKS = 60, MAX_SLOTS = 16 };

typedef struct pass_ctx {
    int threads, window;
    int delay; /* 0: none; 1: chunk 0 slow; 2: uneven produce() and consume() times, by chunk */
    uint64_t fail_mask;        /* chunks whose produce() fails (below 64) */
    atomic_int in_use[MAX_SLOTS];
    uint64_t held[MAX_SLOTS];  /* the chunk a slot carries */
    atomic_int bad;            /* a slot outside the thread's, or reused before its chunk was consumed */
    uint64_t consumed[NCHUNKS];
    int nconsumed;
} pass_ctx;

static void sleep_us(long us)
{
    struct timespec t = {0, us * 1000};
    nanosleep(&t, NULL);
}

static int produce(void *ctx, uint64_t chunk, int worker, int slot, ooc_error *err)
{
    pass_ctx *c = ctx;
    if (worker < 0 || worker >= c->threads || slot / c->window != worker || atomic_exchange(&c->in_use[slot], 1))
        atomic_store(&c->bad, 1);
    if (c->delay == 1 && chunk == 0)
        sleep_us(30000);
    else if (c->delay == 2)
        sleep_us((long)(chunk * 7919 % 5) * 700);
    c->held[slot] = chunk;
    if (chunk < 64 && c->fail_mask >> chunk & 1) { /* never consumed: its slot is free again */
        atomic_store(&c->in_use[slot], 0);
        return ooc_error_set(err, OOC_EIO, "test: chunk %llu: refused", (unsigned long long)chunk);
    }
    return 0;
}

static int consume(void *ctx, uint64_t chunk, int slot, ooc_error *err)
{
    (void)err;
    pass_ctx *c = ctx;
    if (c->delay == 2 && chunk % 3 == 0) /* a slow consumer: a thread waiting for this slot must go on waiting */
        sleep_us(300);
    if (c->held[slot] != chunk)
        atomic_store(&c->bad, 1);
    if (c->nconsumed < NCHUNKS)
        c->consumed[c->nconsumed] = chunk;
    c->nconsumed++;
    atomic_store(&c->in_use[slot], 0);
    return 0;
}

static pass_ctx *new_ctx(int threads, int window, int delay, uint64_t fail_mask)
{
    pass_ctx *c = calloc(1, sizeof *c);
    c->threads = threads;
    c->window = window;
    c->delay = delay;
    c->fail_mask = fail_mask;
    for (int s = 0; s < MAX_SLOTS; s++)
        atomic_init(&c->in_use[s], 0);
    atomic_init(&c->bad, 0);
    return c;
}

static void test_order_and_slots(void)
{
    for (int threads = 1; threads <= 5; threads++)
        for (int window = 1; window <= 3; window++)
            for (int delay = 0; delay <= 2; delay++) {
                pass_ctx *c = new_ctx(threads, window, delay, 0);
                ooc__ordered_pass p = {NCHUNKS, threads, window, produce, consume, c};
                ooc_error err;
                ooc_error_clear(&err);
                ASSERT_OK(ooc__pass_ordered(&p, &err));
                ASSERT_INT_EQ(atomic_load(&c->bad), 0);
                ASSERT_INT_EQ(c->nconsumed, NCHUNKS);
                for (int i = 0; i < NCHUNKS && i < c->nconsumed; i++)
                    if (c->consumed[i] != (uint64_t)i) {
                        OOC__FAIL("threads %d window %d delay %d: consumed #%d is chunk %llu", threads, window, delay,
                                  i, (unsigned long long)c->consumed[i]);
                        break;
                    }
                free(c);
            }
}

static void test_first_failure_wins(void)
{
    struct {
        uint64_t mask, first;
        int delay;
    } cases[] = {
        {1u << 5, 5, 0},
        {1u << 3 | 1u << 9 | 1ull << 40, 3, 2},
        {1u << 0 | 1u << 1, 0, 1}, /* chunk 0 slow: chunk 1 fails first in time */
        {1ull << 59, 59, 2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int threads = 1; threads <= 4; threads++)
            for (int window = 1; window <= 2; window++) {
                pass_ctx *c = new_ctx(threads, window, cases[k].delay, cases[k].mask);
                ooc__ordered_pass p = {NCHUNKS, threads, window, produce, consume, c};
                ooc_error err;
                ooc_error_clear(&err);
                char want[64];
                snprintf(want, sizeof want, "test: chunk %llu: refused", (unsigned long long)cases[k].first);
                ASSERT_INT_EQ(ooc__pass_ordered(&p, &err), OOC_EIO);
                if (strcmp(err.msg, want) != 0)
                    OOC__FAIL("case %zu, threads %d, window %d: error \"%s\", expected \"%s\"", k, threads, window,
                              err.msg, want);
                ASSERT_INT_EQ(c->nconsumed, (int)cases[k].first); /* exactly the chunks before it, in order */
                for (int i = 0; i < c->nconsumed && i < NCHUNKS; i++)
                    ASSERT_INT_EQ(c->consumed[i], i);
                ASSERT_INT_EQ(atomic_load(&c->bad), 0);
                free(c);
            }
}

OOC_TEST_MAIN(test_order_and_slots, test_first_failure_wins)
