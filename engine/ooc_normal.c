#define _POSIX_C_SOURCE 200809L /* pthread_once under -std=c11 */

#include "ooc_normal_internal.h"

#include <math.h>
#include <pthread.h>

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

/* Counter (index + s, v[2], v[3] + c) of call c of stream s, as the kernels number them. */
static philox4x32_ctr_t call_counter(philox4x32_ctr_t ctr, uint64_t s, unsigned c)
{
    uint64_t index = (ctr.v[0] | (uint64_t)ctr.v[1] << 32) + s;
    return (philox4x32_ctr_t){{(uint32_t)index, (uint32_t)(index >> 32), ctr.v[2], ctr.v[3] + c}};
}

/* Random123's loop: the portable kernel and the oracle the SIMD ones are tested against. */
static void philox_scalar(philox4x32_ctr_t ctr, philox4x32_key_t key, size_t streams, unsigned calls,
                          uint64_t *word)
{
    for (size_t s = 0; s < streams; s++)
        for (unsigned c = 0; c < calls; c++, word += 2) {
            philox4x32_ctr_t r = philox4x32_R(10, call_counter(ctr, s, c), key);
            word[0] = r.v[0] | (uint64_t)r.v[1] << 32;
            word[1] = r.v[2] | (uint64_t)r.v[3] << 32;
        }
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
/* The SIMD kernels run the calls side by side, one call per 64-bit lane: a round is
 *   (x0, x1, x2, x3) <- (hi(M1 x2) ^ x1 ^ k0, lo(M1 x2), hi(M0 x0) ^ x3 ^ k1, lo(M0 x0))
 * and pmuludq multiplies the low 32 bits of each 64-bit lane into the whole lane, so lo() is the product
 * itself and hi() one shift. The high halves of x0..x3 carry garbage that only ever flows into other high
 * halves, and the stores mask it off. Each lane keeps its (stream, call) and steps it by the vector width,
 * carrying into the next stream. A round's multiply-shift-xor chain is long, so GROUP vectors go through the
 * rounds together to keep the multipliers busy. GCC and Clang compile each kernel for its instruction set
 * alone: ooc__philox_kernels() offers it only when the CPU has that set. */
#define GROUP 4
#define OOC__PHILOX_AVX 1

/* AVX-512: eight calls a vector, and one ternary-logic instruction for each three-way XOR. */
#define AVX512 __attribute__((target("avx512f"), always_inline)) static inline

typedef struct avx512_lanes {
    __m512i s, c; /* each lane's stream and call */
    __m512i calls, one, width;
} avx512_lanes;

AVX512 void avx512_carry(avx512_lanes *l)
{
    for (__mmask8 m; (m = _mm512_cmpge_epu64_mask(l->c, l->calls));) {
        l->c = _mm512_mask_sub_epi64(l->c, m, l->c, l->calls);
        l->s = _mm512_mask_add_epi64(l->s, m, l->s, l->one);
    }
}

/* n (1 or GROUP) vectors of calls, from the lanes' position on, into word. */
AVX512 void avx512_block(philox4x32_ctr_t ctr, philox4x32_key_t key, avx512_lanes *l, int n, uint64_t *word)
{
    const __m512i m0 = _mm512_set1_epi64(PHILOX_M4x32_0), m1 = _mm512_set1_epi64(PHILOX_M4x32_1);
    const __m512i index = _mm512_set1_epi64((int64_t)(ctr.v[0] | (uint64_t)ctr.v[1] << 32));
    __m512i x0[GROUP], x1[GROUP], x2[GROUP], x3[GROUP];
    for (int g = 0; g < n; g++) {
        x0[g] = _mm512_add_epi64(index, l->s);
        x1[g] = _mm512_srli_epi64(x0[g], 32);
        x2[g] = _mm512_set1_epi64(ctr.v[2]);
        x3[g] = _mm512_add_epi64(_mm512_set1_epi64(ctr.v[3]), l->c);
        l->c = _mm512_add_epi64(l->c, l->width);
        avx512_carry(l);
    }
#pragma GCC unroll 10
    for (uint32_t r = 0; r < 10; r++) {
        const __m512i k0 = _mm512_set1_epi64(key.v[0] + r * PHILOX_W32_0);
        const __m512i k1 = _mm512_set1_epi64(key.v[1] + r * PHILOX_W32_1);
        for (int g = 0; g < n; g++) {
            __m512i p0 = _mm512_mul_epu32(x0[g], m0), p1 = _mm512_mul_epu32(x2[g], m1);
            x0[g] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1, 32), x1[g], k0, 0x96);
            x2[g] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0, 32), x3[g], k1, 0x96);
            x1[g] = p1;
            x3[g] = p0;
        }
    }
    const __m512i first = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
    const __m512i second = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
    for (int g = 0; g < n; g++, word += 16) {
        __m512i w0 = _mm512_mask_blend_epi32(0xaaaa, x0[g], _mm512_slli_epi64(x1[g], 32)); /* words 2c */
        __m512i w1 = _mm512_mask_blend_epi32(0xaaaa, x2[g], _mm512_slli_epi64(x3[g], 32)); /* words 2c + 1 */
        _mm512_storeu_si512(word, _mm512_permutex2var_epi64(w0, first, w1));
        _mm512_storeu_si512(word + 8, _mm512_permutex2var_epi64(w0, second, w1));
    }
}

__attribute__((target("avx512f"))) static void philox_avx512(philox4x32_ctr_t ctr, philox4x32_key_t key,
                                                             size_t streams, unsigned calls, uint64_t *word)
{
    avx512_lanes l = {
        .s = _mm512_setzero_si512(),
        .c = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0),
        .calls = _mm512_set1_epi64(calls),
        .one = _mm512_set1_epi64(1),
        .width = _mm512_set1_epi64(8),
    };
    avx512_carry(&l);
    size_t total = streams * calls, f = 0;
    for (; f + 8 * GROUP <= total; f += 8 * GROUP)
        avx512_block(ctr, key, &l, GROUP, word + 2 * f);
    for (; f < total; f += 8)
        avx512_block(ctr, key, &l, 1, word + 2 * f);
}

/* AVX2: four calls a vector. */
#define AVX2 __attribute__((target("avx2"), always_inline)) static inline

typedef struct avx2_lanes {
    __m256i s, c;
    __m256i calls, last, one, width;
} avx2_lanes;

AVX2 void avx2_carry(avx2_lanes *l)
{
    for (;;) {
        __m256i m = _mm256_cmpgt_epi64(l->c, l->last);
        if (_mm256_testz_si256(m, m))
            return;
        l->c = _mm256_sub_epi64(l->c, _mm256_and_si256(m, l->calls));
        l->s = _mm256_add_epi64(l->s, _mm256_and_si256(m, l->one));
    }
}

AVX2 void avx2_block(philox4x32_ctr_t ctr, philox4x32_key_t key, avx2_lanes *l, int n, uint64_t *word)
{
    const __m256i m0 = _mm256_set1_epi64x(PHILOX_M4x32_0), m1 = _mm256_set1_epi64x(PHILOX_M4x32_1);
    const __m256i index = _mm256_set1_epi64x((int64_t)(ctr.v[0] | (uint64_t)ctr.v[1] << 32));
    const __m256i low = _mm256_set1_epi64x(0xffffffff);
    __m256i x0[GROUP], x1[GROUP], x2[GROUP], x3[GROUP];
    for (int g = 0; g < n; g++) {
        x0[g] = _mm256_add_epi64(index, l->s);
        x1[g] = _mm256_srli_epi64(x0[g], 32);
        x2[g] = _mm256_set1_epi64x(ctr.v[2]);
        x3[g] = _mm256_add_epi64(_mm256_set1_epi64x(ctr.v[3]), l->c);
        l->c = _mm256_add_epi64(l->c, l->width);
        avx2_carry(l);
    }
#pragma GCC unroll 10
    for (uint32_t r = 0; r < 10; r++) {
        const __m256i k0 = _mm256_set1_epi64x(key.v[0] + r * PHILOX_W32_0);
        const __m256i k1 = _mm256_set1_epi64x(key.v[1] + r * PHILOX_W32_1);
        for (int g = 0; g < n; g++) {
            __m256i p0 = _mm256_mul_epu32(x0[g], m0), p1 = _mm256_mul_epu32(x2[g], m1);
            x0[g] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), x1[g]), k0);
            x2[g] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), x3[g]), k1);
            x1[g] = p1;
            x3[g] = p0;
        }
    }
    for (int g = 0; g < n; g++, word += 8) {
        __m256i w0 = _mm256_or_si256(_mm256_and_si256(x0[g], low), _mm256_slli_epi64(x1[g], 32));
        __m256i w1 = _mm256_or_si256(_mm256_and_si256(x2[g], low), _mm256_slli_epi64(x3[g], 32));
        __m256i a = _mm256_unpacklo_epi64(w0, w1), b = _mm256_unpackhi_epi64(w0, w1); /* calls 0, 2 | 1, 3 */
        _mm256_storeu_si256((__m256i *)word, _mm256_permute2x128_si256(a, b, 0x20));
        _mm256_storeu_si256((__m256i *)(word + 4), _mm256_permute2x128_si256(a, b, 0x31));
    }
}

__attribute__((target("avx2"))) static void philox_avx2(philox4x32_ctr_t ctr, philox4x32_key_t key,
                                                         size_t streams, unsigned calls, uint64_t *word)
{
    avx2_lanes l = {
        .s = _mm256_setzero_si256(),
        .c = _mm256_set_epi64x(3, 2, 1, 0),
        .calls = _mm256_set1_epi64x(calls),
        .last = _mm256_set1_epi64x((int64_t)calls - 1),
        .one = _mm256_set1_epi64x(1),
        .width = _mm256_set1_epi64x(4),
    };
    avx2_carry(&l);
    size_t total = streams * calls, f = 0;
    for (; f + 4 * GROUP <= total; f += 4 * GROUP)
        avx2_block(ctr, key, &l, GROUP, word + 2 * f);
    for (; f < total; f += 4)
        avx2_block(ctr, key, &l, 1, word + 2 * f);
}
#endif

static const ooc__philox_kernel kernels[] = {
#if defined(OOC__PHILOX_AVX)
    {"avx512", philox_avx512},
    {"avx2", philox_avx2},
#endif
    {"scalar", philox_scalar},
};

const ooc__philox_kernel *ooc__philox_kernels(unsigned *count)
{
    unsigned skip = 0;
#if defined(OOC__PHILOX_AVX)
    skip = __builtin_cpu_supports("avx512f") ? 0 : __builtin_cpu_supports("avx2") ? 1 : 2;
#endif
    *count = (unsigned)(sizeof kernels / sizeof kernels[0]) - skip;
    return kernels + skip;
}

void ooc__philox(philox4x32_ctr_t ctr, philox4x32_key_t key, size_t streams, unsigned calls, uint64_t *word)
{
    unsigned count;
    ooc__philox_kernels(&count)->fn(ctr, key, streams, calls, word);
}

void ooc__rng_refill(ooc__rng *g)
{
    uint64_t calls = g->want / 2 + 1; /* the words wanted, rounded up, or one call when none are */
    unsigned n = calls < OOC__RNG_CALLS ? (unsigned)calls : OOC__RNG_CALLS;
    ooc__philox(g->ctr, g->key, 1, n, g->word);
    g->ctr.v[3] += n;
    g->want -= g->want < 2 * n ? g->want : 2 * n;
    g->src = g->word;
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

/* Every draw but the tail's is below r. The tail's r + X is accepted when 2Y > X², and Y = -ln(1 - U) is at
 * most 53 ln 2 since 1 - U >= 2^-53: X < sqrt(106 ln 2) (8.57). The last factor covers the roundings. */
double ooc__normal_bound(const ooc__zig *z)
{
    return (z->r + sqrt(106 * log(2.0))) * (1 + 0x1p-40);
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
