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

typedef struct ooc__rng {
    philox4x32_ctr_t ctr; /* the next call's counter; ctr.v[3] counts calls */
    philox4x32_key_t key;
    uint64_t want;        /* words the caller still expects to take: sizes the refills */
    unsigned pos, len;    /* word[pos..len) not yet handed out */
    uint64_t word[2 * OOC__RNG_CALLS];
} ooc__rng;

/* ooc__rng_init(): the stream (seed, stream, index), of which the caller expects to take about `want` words
 * (a hint for speed only). */
static inline void ooc__rng_init(ooc__rng *g, uint64_t seed, uint32_t stream, uint64_t index, uint64_t want)
{
    g->ctr = (philox4x32_ctr_t){{(uint32_t)index, (uint32_t)(index >> 32), stream, 0}};
    g->key = (philox4x32_key_t){{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    g->want = want;
    g->pos = g->len = 0;
}

/* ooc__rng_refill(): compute the next words into g->word (at least 2, at most 2 * OOC__RNG_CALLS). */
void ooc__rng_refill(ooc__rng *g);

/* A Philox4x32-10 kernel: for c in [0, n), n <= OOC__RNG_CALLS, call c of counter ctr with v[3] + c (mod
 * 2^32) and key gives word[2c] = v[0] | v[1] << 32 and word[2c + 1] = v[2] | v[3] << 32 of Random123's
 * philox4x32_R(10, ...). word has room for 2 * OOC__RNG_CALLS words; a SIMD kernel may fill words past 2n
 * (calls rounded up to its width). */
typedef struct ooc__philox_kernel {
    const char *name;
    void (*fn)(philox4x32_ctr_t ctr, philox4x32_key_t key, unsigned n, uint64_t *word);
} ooc__philox_kernel;

/* ooc__philox_kernels(): the kernels this build has and this CPU runs, the one ooc__rng_refill() uses
 * first and Random123's own loop ("scalar", the tests' oracle) last; *count gets their number. */
const ooc__philox_kernel *ooc__philox_kernels(unsigned *count);

static inline uint64_t ooc__rng_next(ooc__rng *g)
{
    if (g->pos == g->len)
        ooc__rng_refill(g);
    return g->word[g->pos++];
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

/* ooc__normal_slow(): finish a draw whose word w missed the fast path (tail, wedge, retry). */
double ooc__normal_slow(const ooc__zig *z, ooc__rng *g, uint64_t w);

/* ooc__normal(): one N(0, 1) variate from g. As in ZIGNOR, a word's bits 0-7 pick the layer and bits 11-63
 * make a uniform u in [-1, 1) (sign included, so no branch on it); x = u x[i] is accepted at once when it
 * lies in the layer's inner rectangle, about 99% of draws. */
static inline double ooc__normal(const ooc__zig *z, ooc__rng *g)
{
    uint64_t w = ooc__rng_next(g);
    unsigned i = (unsigned)(w & 0xff);
    double x = ooc__u11(w) * z->x[i];
    if (fabs(x) < z->x[i + 1])
        return x;
    return ooc__normal_slow(z, g, w);
}

#endif
