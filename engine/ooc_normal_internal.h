/* ooc_normal_internal.h: counter-based random words and exact standard normals, for the blobs source.
 *
 * ooc__rng is a stream of 64-bit words from Random123's Philox4x32-10, keyed by a 64-bit seed, with the
 * counter (index low 32 bits, index high 32 bits, stream, draw): call number `draw` of that stream yields
 * two words. So the words of (seed, stream, index) are a pure function of those three, whoever asks.
 *
 * ooc__normal() is the Ziggurat method of Marsaglia & Tsang (2000) with 256 layers, made exact as in
 * Doornik's ZIGNOR: the layer and the signed 53-bit uniform come from disjoint bits of one word, the
 * tail beyond r is sampled by Marsaglia's exact method, and wedges are settled by comparing with exp().
 * Rejections take further words from the same stream, so a sequence of normals stays a pure function of
 * the stream's words.
 */
#ifndef OOC_NORMAL_INTERNAL_H
#define OOC_NORMAL_INTERNAL_H

#include <Random123/philox.h>
#include <math.h>
#include <stdint.h>

/* Calls computed ahead per refill: independent counters let the CPU overlap them. Any refill size gives the
 * same words. */
#define OOC__RNG_CALLS 16

/* Calls a SIMD kernel may compute past the last one asked for (its vector width less one). */
#define OOC__PHILOX_SLACK 7

typedef struct ooc__rng {
    philox4x32_ctr_t ctr; /* the next call's counter; ctr.v[3] counts calls */
    philox4x32_key_t key;
    uint64_t want;        /* words the caller still expects to take: sizes the refills */
    const uint64_t *src;  /* src[pos..len) not yet handed out: word, or words the caller computed */
    unsigned pos, len;
    uint64_t word[2 * (OOC__RNG_CALLS + OOC__PHILOX_SLACK)];
} ooc__rng;

/* ooc__rng_init(): the stream (seed, stream, index), of which the caller expects to take about `want` words
 * (a hint for speed only). */
static inline philox4x32_key_t ooc__rng_key(uint64_t seed)
{
    return (philox4x32_key_t){{(uint32_t)seed, (uint32_t)(seed >> 32)}};
}

/* The counter of the first call of stream (stream, index). */
static inline philox4x32_ctr_t ooc__rng_ctr(uint32_t stream, uint64_t index)
{
    return (philox4x32_ctr_t){{(uint32_t)index, (uint32_t)(index >> 32), stream, 0}};
}

static inline void ooc__rng_init(ooc__rng *g, uint64_t seed, uint32_t stream, uint64_t index, uint64_t want)
{
    g->ctr = ooc__rng_ctr(stream, index);
    g->key = ooc__rng_key(seed);
    g->want = want;
    g->src = g->word;
    g->pos = g->len = 0;
}

/* ooc__rng_resume(): the same stream when its first `calls` calls are already computed, in words[0, 2 calls)
 * (which must outlive g's use of them), and the first `taken` of those words already handed out: it hands out
 * the rest first, then computes on from call `calls`. */
static inline void ooc__rng_resume(ooc__rng *g, uint64_t seed, uint32_t stream, uint64_t index,
                                   const uint64_t *words, unsigned calls, unsigned taken, uint64_t want)
{
    ooc__rng_init(g, seed, stream, index, want > 2 * (uint64_t)calls ? want - 2 * (uint64_t)calls : 0);
    g->ctr.v[3] = calls;
    g->src = words;
    g->pos = taken;
    g->len = 2 * calls;
}

/* ooc__rng_refill(): compute the next words into g->word (at least 2, at most 2 * OOC__RNG_CALLS). */
void ooc__rng_refill(ooc__rng *g);

/* Philox4x32-10 over several streams at once: call c in [0, calls) of stream s in [0, streams), whose counter
 * is ctr with s added to the 64-bit index v[0] | v[1] << 32 and c to v[3] (each wrapping), gives word[2 i] =
 * v[0] | v[1] << 32 and word[2 i + 1] = v[2] | v[3] << 32 of Random123's philox4x32_R(10, ...), i = s calls +
 * c. word has room for 2 (streams calls + OOC__PHILOX_SLACK) words; a SIMD kernel may fill those past the
 * last call. */
void ooc__philox(philox4x32_ctr_t ctr, philox4x32_key_t key, size_t streams, unsigned calls, uint64_t *word);

typedef struct ooc__philox_kernel {
    const char *name;
    void (*fn)(philox4x32_ctr_t ctr, philox4x32_key_t key, size_t streams, unsigned calls, uint64_t *word);
} ooc__philox_kernel;

/* ooc__philox_kernels(): the kernels this build has and this CPU runs, the one ooc__philox() uses first and
 * Random123's own loop ("scalar", the tests' oracle) last; *count gets their number. */
const ooc__philox_kernel *ooc__philox_kernels(unsigned *count);

static inline uint64_t ooc__rng_next(ooc__rng *g)
{
    if (g->pos == g->len)
        ooc__rng_refill(g);
    return g->src[g->pos++];
}

/* The top 53 bits of a word as a double in [0, 1). */
static inline double ooc__u01(uint64_t w)
{
    return (double)(int64_t)(w >> 11) * 0x1p-53; /* signed: the cheap conversion */
}

/* The top 53 bits of a word as a double in [-1, 1), a multiple of 2^-52. */
static inline double ooc__u11(uint64_t w)
{
    return (double)((int64_t)(w >> 11) - ((int64_t)1 << 52)) * 0x1p-52;
}

#define OOC__ZIG_LAYERS 256

/* Layer i (1..255) is the rectangle [0, x[i]) × [f[i], f[i+1]) under f(x) = exp(-x²/2), with x[1] = r and
 * x[256] = 0; layer 0 is [0, r) × [0, f(r)) plus the tail, spread over [0, x[0]). All have area v. */
typedef struct ooc__zig {
    double x[OOC__ZIG_LAYERS + 1];
    double f[OOC__ZIG_LAYERS + 1];
    double r, v;
} ooc__zig;

/* ooc__zig_tables(): the tables, computed on first use (thread-safe); never NULL. */
const ooc__zig *ooc__zig_tables(void);

/* ooc__normal_bound(): no draw is larger in magnitude (the tail's r + X, with X² < 2Y and Y at most 53 ln 2). */
double ooc__normal_bound(const ooc__zig *z);

/* ooc__normal_slow(): finish a draw whose word w missed the fast path (tail, wedge, retry). */
double ooc__normal_slow(const ooc__zig *z, ooc__rng *g, uint64_t w);

/* ooc__normal_fast(): as in ZIGNOR, a word's bits 0-7 pick the layer and bits 11-63 make a uniform u in
 * [-1, 1) (sign included, so no branch on it); x = u x[i] is accepted at once when it lies in the layer's
 * inner rectangle, about 99% of words. Returns 0 when w needs ooc__normal_slow(). */
static inline int ooc__normal_fast(const ooc__zig *z, uint64_t w, double *x)
{
    unsigned i = (unsigned)(w & 0xff);
    *x = ooc__u11(w) * z->x[i];
    return fabs(*x) < z->x[i + 1];
}

/* ooc__normal(): one N(0, 1) variate from g. */
static inline double ooc__normal(const ooc__zig *z, ooc__rng *g)
{
    uint64_t w = ooc__rng_next(g);
    double x;
    return ooc__normal_fast(z, w, &x) ? x : ooc__normal_slow(z, g, w);
}

#endif
