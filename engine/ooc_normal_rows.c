/* A row's normals, y[j] = c[j] + s * N(0, 1) for j < n: the scalar loop, and an AVX-512 one that runs the
 * ziggurat's fast path on eight words at once. Both take the same words in the same order and do the same
 * IEEE operations, so they give the same bits (the build has -ffp-contract=off: no fused multiply-adds). */
#include "ooc_normal_internal.h"

#include <stdint.h>

static void normals_scalar(const ooc__zig *z, ooc__rng *g, const double *c, double s, size_t n, double *y64,
                           float *y32)
{
    for (size_t j = 0; j < n; j++) {
        double v = c[j] + s * ooc__normal(z, g);
        if (y64)
            y64[j] = v;
        else
            y32[j] = (float)v;
    }
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define OOC__NORMALS_AVX512 1

/* Up to eight words at a time: the lanes before the first one that misses the fast path are stored; that
 * one is redone by ooc__normal() (which takes further words when it must), and the loop goes on after it. */
__attribute__((target("avx512f,avx512dq,avx512vl"))) static void normals_avx512(const ooc__zig *z, ooc__rng *g,
                                                                       const double *c, double s, size_t n,
                                                                       double *y64, float *y32)
{
    const __m512i low8 = _mm512_set1_epi64(0xff), one = _mm512_set1_epi64(1);
    const __m512i half = _mm512_set1_epi64((int64_t)1 << 52);
    const __m512d scale = _mm512_set1_pd(0x1p-52), sv = _mm512_set1_pd(s);
    const __m512d abs_mask = _mm512_castsi512_pd(_mm512_set1_epi64(INT64_MAX));
    size_t j = 0;
    while (j < n) {
        if (g->pos == g->len)
            ooc__rng_refill(g);
        size_t k = g->len - g->pos, left = n - j;
        k = k < left ? k : left;
        k = k < 8 ? k : 8;
        __mmask8 lanes = (__mmask8)((1u << k) - 1);
        __m512i w = _mm512_maskz_loadu_epi64(lanes, g->word + g->pos);
        __m512i i = _mm512_and_si512(w, low8);
        __m512d xi = _mm512_i64gather_pd(i, z->x, 8), xi1 = _mm512_i64gather_pd(_mm512_add_epi64(i, one), z->x, 8);
        __m512d u = _mm512_mul_pd(_mm512_cvtepi64_pd(_mm512_sub_epi64(_mm512_srli_epi64(w, 11), half)), scale);
        __m512d x = _mm512_mul_pd(u, xi);
        __mmask8 fast = _mm512_mask_cmp_pd_mask(lanes, _mm512_and_pd(x, abs_mask), xi1, _CMP_LT_OQ);
        unsigned done = (unsigned)__builtin_ctz(~(unsigned)fast); /* lanes before the first miss */
        __mmask8 keep = (__mmask8)((1u << done) - 1);
        __m512d v = _mm512_add_pd(_mm512_maskz_loadu_pd(keep, c + j), _mm512_mul_pd(sv, x));
        if (y64)
            _mm512_mask_storeu_pd(y64 + j, keep, v);
        else
            _mm256_mask_storeu_ps(y32 + j, keep, _mm512_cvtpd_ps(v));
        g->pos += done;
        j += done;
        if (done < k) { /* the lane that missed: the slow path, from its word on */
            normals_scalar(z, g, c + j, s, 1, y64 ? y64 + j : NULL, y64 ? NULL : y32 + j);
            j++;
        }
    }
}
#endif

typedef void (*normals_fn)(const ooc__zig *, ooc__rng *, const double *, double, size_t, double *, float *);

static normals_fn pick(void)
{
#if defined(OOC__NORMALS_AVX512)
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return normals_avx512;
#endif
    return normals_scalar;
}

void ooc__normals(const ooc__zig *z, ooc__rng *g, const double *c, double s, size_t n, double *y64, float *y32,
                  int portable)
{
    static normals_fn fast; /* a benign race: every thread computes the same pointer */
    if (!fast)
        fast = pick();
    (portable ? normals_scalar : fast)(z, g, c, s, n, y64, y32);
}
