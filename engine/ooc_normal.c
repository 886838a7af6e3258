#define _POSIX_C_SOURCE 200809L /* pthread_once under -std=c11 */

#include "ooc_normal_internal.h"

#include <math.h>
#include <pthread.h>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

static ooc__zig zig;
static pthread_once_t zig_once = PTHREAD_ONCE_INIT;

static double gauss(double x)
{
    return exp(-0.5 * x * x);
}

/* Build the layers up from x[1] = r, each of area v(r) = r f(r) + tail(r). Returns 1 when 255 layers stay
 * below f = 1 (r too large: the top layer, up to f = 1, is bigger than v), 0 when they reach f = 1 early or
 * exactly (r too small or right). */
static int build(double r)
{
    const double sqrt_half_pi = 1.25331413731550025121, sqrt_half = 0.70710678118654752440;
    double v = r * gauss(r) + sqrt_half_pi * erfc(r * sqrt_half);
    zig.r = r;
    zig.v = v;
    zig.x[0] = v / gauss(r);
    zig.x[1] = r;
    for (int i = 1; i < OOC__ZIG_LAYERS; i++) {
        double top = v / zig.x[i] + gauss(zig.x[i]); /* f at the top edge of layer i */
        if (top >= 1)
            return 0;
        zig.x[i + 1] = i + 1 < OOC__ZIG_LAYERS ? sqrt(-2 * log(top)) : 0;
    }
    return 1;
}

/* r is fixed by asking the top layer to end exactly at f = 1: bisect until lo and hi are adjacent doubles,
 * then keep hi, whose top layer exceeds v by under 1e-12 of v (the recursion amplifies rounding), an error
 * in the density far below what any sample could show. The test checks r and v against a 40-digit
 * computation. */
static void zig_init(void)
{
    double lo = 3, hi = 4; /* build(3) = 0, build(4) = 1 */
    for (;;) {
        double mid = lo + (hi - lo) / 2;
        if (mid <= lo || mid >= hi)
            break;
        if (build(mid))
            hi = mid;
        else
            lo = mid;
    }
    build(hi);
    for (int i = 0; i <= OOC__ZIG_LAYERS; i++)
        zig.f[i] = gauss(zig.x[i]);
}

const ooc__zig *ooc__zig_tables(void)
{
    pthread_once(&zig_once, zig_init);
    return &zig;
}

/* Random123's loop: the portable kernel and the oracle the SIMD ones are tested against. */
static void philox_scalar(philox4x32_ctr_t ctr, philox4x32_key_t key, unsigned n, uint64_t *word)
{
    for (unsigned c = 0; c < n; c++) {
        philox4x32_ctr_t r = philox4x32_R(10, ctr, key);
        ctr.v[3]++;
        word[2 * c] = r.v[0] | (uint64_t)r.v[1] << 32;
        word[2 * c + 1] = r.v[2] | (uint64_t)r.v[3] << 32;
    }
}

#if defined(__SSE2__)
/* The SIMD kernels run the calls side by side, one call per 64-bit lane: a round is
 *   (x0, x1, x2, x3) <- (hi(M1 x2) ^ x1 ^ k0, lo(M1 x2), hi(M0 x0) ^ x3 ^ k1, lo(M0 x0))
 * and pmuludq multiplies the low 32 bits of each 64-bit lane into the whole lane, so lo() is the product
 * itself and hi() one shift. The high halves of x0..x3 carry garbage that only ever flows into other high
 * halves, and the stores mask it off. The calls of a refill differ only in v[3], which round 1 merely XORs
 * into x2 = hi(M0 v0) ^ k1 ^ v[3]: so round 1, and the key of every round, are computed once for them all. */
typedef struct philox_shared {
    uint32_t x0, x1, x2, x3; /* after round 1, without v[3] in x2 */
    uint32_t k0[10], k1[10]; /* k[r]: the key of round r + 1 */
} philox_shared;

static void philox_shared_init(philox_shared *f, philox4x32_ctr_t ctr, philox4x32_key_t key)
{
    uint64_t p0 = (uint64_t)PHILOX_M4x32_0 * ctr.v[0], p1 = (uint64_t)PHILOX_M4x32_1 * ctr.v[2];
    f->x0 = (uint32_t)(p1 >> 32) ^ ctr.v[1] ^ key.v[0];
    f->x1 = (uint32_t)p1;
    f->x2 = (uint32_t)(p0 >> 32) ^ key.v[1];
    f->x3 = (uint32_t)p0;
    for (int r = 0; r < 10; r++) {
        f->k0[r] = key.v[0] + (uint32_t)r * PHILOX_W32_0;
        f->k1[r] = key.v[1] + (uint32_t)r * PHILOX_W32_1;
    }
}

/* Two calls per iteration. */
static void philox_sse2(philox4x32_ctr_t ctr, philox4x32_key_t key, unsigned n, uint64_t *word)
{
    philox_shared f;
    philox_shared_init(&f, ctr, key);
    const __m128i m0 = _mm_set1_epi32((int)PHILOX_M4x32_0), m1 = _mm_set1_epi32((int)PHILOX_M4x32_1);
    const __m128i low = _mm_set1_epi64x(0xffffffff);
    __m128i k0[10], k1[10];
    for (int r = 1; r < 10; r++) {
        k0[r] = _mm_set1_epi32((int)f.k0[r]);
        k1[r] = _mm_set1_epi32((int)f.k1[r]);
    }
    __m128i v3 = _mm_set_epi64x(1, 0); /* + ctr.v[3], by 32-bit adds: it wraps as v[3] does */
    v3 = _mm_add_epi32(v3, _mm_set1_epi64x(ctr.v[3]));
    for (unsigned c = 0; c < n; c += 2) {
        __m128i x0 = _mm_set1_epi32((int)f.x0), x1 = _mm_set1_epi32((int)f.x1);
        __m128i x2 = _mm_xor_si128(v3, _mm_set1_epi32((int)f.x2)), x3 = _mm_set1_epi32((int)f.x3);
        v3 = _mm_add_epi32(v3, _mm_set1_epi64x(2));
        for (int r = 1; r < 10; r++) {
            __m128i p0 = _mm_mul_epu32(x0, m0), p1 = _mm_mul_epu32(x2, m1);
            x0 = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi64(p1, 32), x1), k0[r]);
            x2 = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi64(p0, 32), x3), k1[r]);
            x1 = p1;
            x3 = p0;
        }
        __m128i w0 = _mm_or_si128(_mm_and_si128(x0, low), _mm_slli_epi64(x1, 32)); /* word 2c, 2c + 2 */
        __m128i w1 = _mm_or_si128(_mm_and_si128(x2, low), _mm_slli_epi64(x3, 32)); /* word 2c + 1, 2c + 3 */
        _mm_storeu_si128((__m128i *)(word + 2 * c), _mm_unpacklo_epi64(w0, w1));
        _mm_storeu_si128((__m128i *)(word + 2 * c + 2), _mm_unpackhi_epi64(w0, w1));
    }
}

#if defined(__GNUC__)
#define OOC__PHILOX_AVX2 1
/* The same with four calls per iteration, for CPUs with AVX2: the build does not assume it, GCC and Clang
 * compile this function for it, and ooc__philox_kernels() offers it only when the CPU has it. */
__attribute__((target("avx2"))) static void philox_avx2(philox4x32_ctr_t ctr, philox4x32_key_t key,
                                                         unsigned n, uint64_t *word)
{
    philox_shared f;
    philox_shared_init(&f, ctr, key);
    const __m256i m0 = _mm256_set1_epi32((int)PHILOX_M4x32_0), m1 = _mm256_set1_epi32((int)PHILOX_M4x32_1);
    const __m256i low = _mm256_set1_epi64x(0xffffffff);
    __m256i k0[10], k1[10];
    for (int r = 1; r < 10; r++) {
        k0[r] = _mm256_set1_epi32((int)f.k0[r]);
        k1[r] = _mm256_set1_epi32((int)f.k1[r]);
    }
    __m256i v3 = _mm256_set_epi64x(3, 2, 1, 0);
    v3 = _mm256_add_epi32(v3, _mm256_set1_epi64x(ctr.v[3]));
    for (unsigned c = 0; c < n; c += 4) {
        __m256i x0 = _mm256_set1_epi32((int)f.x0), x1 = _mm256_set1_epi32((int)f.x1);
        __m256i x2 = _mm256_xor_si256(v3, _mm256_set1_epi32((int)f.x2)), x3 = _mm256_set1_epi32((int)f.x3);
        v3 = _mm256_add_epi32(v3, _mm256_set1_epi64x(4));
        for (int r = 1; r < 10; r++) {
            __m256i p0 = _mm256_mul_epu32(x0, m0), p1 = _mm256_mul_epu32(x2, m1);
            x0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), x1), k0[r]);
            x2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), x3), k1[r]);
            x1 = p1;
            x3 = p0;
        }
        __m256i w0 = _mm256_or_si256(_mm256_and_si256(x0, low), _mm256_slli_epi64(x1, 32));
        __m256i w1 = _mm256_or_si256(_mm256_and_si256(x2, low), _mm256_slli_epi64(x3, 32));
        __m256i a = _mm256_unpacklo_epi64(w0, w1), b = _mm256_unpackhi_epi64(w0, w1); /* calls 0, 2 | 1, 3 */
        _mm256_storeu_si256((__m256i *)(word + 2 * c), _mm256_permute2x128_si256(a, b, 0x20));
        _mm256_storeu_si256((__m256i *)(word + 2 * c + 4), _mm256_permute2x128_si256(a, b, 0x31));
    }
}
#endif
#endif

static const ooc__philox_kernel kernels[] = {
#if defined(OOC__PHILOX_AVX2)
    {"avx2", philox_avx2},
#endif
#if defined(__SSE2__)
    {"sse2", philox_sse2},
#endif
    {"scalar", philox_scalar},
};

const ooc__philox_kernel *ooc__philox_kernels(unsigned *count)
{
    unsigned skip = 0;
#if defined(OOC__PHILOX_AVX2)
    skip = !__builtin_cpu_supports("avx2");
#endif
    *count = (unsigned)(sizeof kernels / sizeof kernels[0]) - skip;
    return kernels + skip;
}

void ooc__rng_refill(ooc__rng *g)
{
    uint64_t calls = g->want / 2 + 1; /* the words wanted, rounded up, or one call when none are */
    unsigned n = calls < OOC__RNG_CALLS ? (unsigned)calls : OOC__RNG_CALLS, count;
    ooc__philox_kernels(&count)->fn(g->ctr, g->key, n, g->word);
    g->ctr.v[3] += n;
    g->want -= g->want < 2 * n ? g->want : 2 * n;
    g->pos = 0;
    g->len = 2 * n;
}

/* Marsaglia (1964): for X = -ln(U1)/r, Y = -ln(U2), accept r + X when 2Y > X². U in (0, 1]. */
static double tail(double r, ooc__rng *g)
{
    for (;;) {
        double x = -log(1 - ooc__u01(ooc__rng_next(g))) / r;
        double y = -log(1 - ooc__u01(ooc__rng_next(g)));
        if (y + y > x * x)
            return r + x;
    }
}

/* The first pass repeats the fast test on w; the later ones are fresh draws after a wedge rejection. */
double ooc__normal_slow(const ooc__zig *z, ooc__rng *g, uint64_t w)
{
    for (;;) {
        unsigned i = (unsigned)(w & 0xff);
        double x = ooc__u11(w) * z->x[i];
        if (fabs(x) < z->x[i + 1])
            return x;
        if (i == 0)
            return x < 0 ? -tail(z->r, g) : tail(z->r, g);
        /* A point uniform in the part of layer i outside the inner rectangle: under the curve or not. */
        if (z->f[i] + ooc__u01(ooc__rng_next(g)) * (z->f[i + 1] - z->f[i]) < gauss(x))
            return x;
        w = ooc__rng_next(g);
    }
}
