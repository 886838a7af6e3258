#include "ooc_shuffle_internal.h"

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Rows of BLOCK elements at a time, so the bytes being moved stay in L1 instead of sweeping the whole
 * chunk once per byte plane. */
#define BLOCK 2048

/* In both directions, n elements from element i0 on; byte plane j starts at j * stride (of dst when
 * shuffling, of src when unshuffling). */
static void shuffle_scalar(const uint8_t *src, uint8_t *dst, size_t n, size_t size, size_t stride, size_t i0)
{
    for (size_t b = i0; b < n; b += BLOCK) {
        size_t e = b + BLOCK < n ? b + BLOCK : n;
        for (size_t j = 0; j < size; j++)
            for (size_t i = b; i < e; i++)
                dst[j * stride + i] = src[i * size + j];
    }
}

static void unshuffle_scalar(const uint8_t *src, uint8_t *dst, size_t n, size_t size, size_t stride, size_t i0)
{
    for (size_t b = i0; b < n; b += BLOCK) {
        size_t e = b + BLOCK < n ? b + BLOCK : n;
        for (size_t j = 0; j < size; j++)
            for (size_t i = b; i < e; i++)
                dst[i * size + j] = src[j * stride + i];
    }
}

#if defined(__SSE2__)
/* 16 elements of size = 2^s bytes (4 or 8) at a time, as a 16 x size byte transpose: `size` vectors in, one
 * vector per byte plane out. Byte j of element i starts in vector i >> (4 - s), at position (i << s | j) mod
 * 16. Interleaving vector m with vector m + size/2 (unpacklo into 2m, unpackhi into 2m + 1) moves the top bit
 * of each byte's vector number to the bottom of its position, and the top bit of its position to the bottom
 * of its vector number; after four such steps byte j of element i sits in vector j at position i. Returns how
 * many elements were done. */
static inline size_t shuffle_sse2(const uint8_t *src, uint8_t *dst, size_t n, size_t size, size_t stride)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i a[8], b[8];
        for (size_t k = 0; k < size; k++)
            a[k] = _mm_loadu_si128((const __m128i *)(src + i * size + 16 * k));
        for (int step = 0; step < 4; step++) {
            for (size_t m = 0; m < size / 2; m++) {
                b[2 * m] = _mm_unpacklo_epi8(a[m], a[m + size / 2]);
                b[2 * m + 1] = _mm_unpackhi_epi8(a[m], a[m + size / 2]);
            }
            for (size_t k = 0; k < size; k++)
                a[k] = b[k];
        }
        for (size_t j = 0; j < size; j++)
            _mm_storeu_si128((__m128i *)(dst + j * stride + i), a[j]);
    }
    return i;
}

static size_t shuffle8_sse2(const uint8_t *src, uint8_t *dst, size_t n, size_t stride)
{
    return shuffle_sse2(src, dst, n, 8, stride);
}

static size_t shuffle4_sse2(const uint8_t *src, uint8_t *dst, size_t n, size_t stride)
{
    return shuffle_sse2(src, dst, n, 4, stride);
}

/* 16 elements at a time: load 16 bytes of each byte plane, transpose with unpack steps (8, then 16, then
 * 32-bit lanes), store the elements. Returns how many elements were done. */
static size_t unshuffle8_sse2(const uint8_t *src, uint8_t *dst, size_t n, size_t stride)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i a[8], b[8], c[8];
        for (int k = 0; k < 8; k++)
            a[k] = _mm_loadu_si128((const __m128i *)(src + (size_t)k * stride + i));
        for (int k = 0; k < 4; k++) {
            b[2 * k] = _mm_unpacklo_epi8(a[2 * k], a[2 * k + 1]);     /* elements 0-7: planes 2k, 2k+1 */
            b[2 * k + 1] = _mm_unpackhi_epi8(a[2 * k], a[2 * k + 1]); /* elements 8-15 */
        }
        for (int h = 0; h < 2; h++) { /* h: elements 0-7 or 8-15 */
            c[4 * h + 0] = _mm_unpacklo_epi16(b[0 + h], b[2 + h]); /* planes 0-3, 4 elements */
            c[4 * h + 1] = _mm_unpackhi_epi16(b[0 + h], b[2 + h]);
            c[4 * h + 2] = _mm_unpacklo_epi16(b[4 + h], b[6 + h]); /* planes 4-7 */
            c[4 * h + 3] = _mm_unpackhi_epi16(b[4 + h], b[6 + h]);
        }
        uint8_t *out = dst + i * 8;
        for (int q = 0; q < 4; q++) { /* q: groups of 4 elements */
            int h = q / 2, part = q % 2;
            __m128i lo = c[4 * h + part], hi = c[4 * h + 2 + part];
            _mm_storeu_si128((__m128i *)(out + 32 * q), _mm_unpacklo_epi32(lo, hi));
            _mm_storeu_si128((__m128i *)(out + 32 * q + 16), _mm_unpackhi_epi32(lo, hi));
        }
    }
    return i;
}

static size_t unshuffle4_sse2(const uint8_t *src, uint8_t *dst, size_t n, size_t stride)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i a0 = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i a1 = _mm_loadu_si128((const __m128i *)(src + stride + i));
        __m128i a2 = _mm_loadu_si128((const __m128i *)(src + 2 * stride + i));
        __m128i a3 = _mm_loadu_si128((const __m128i *)(src + 3 * stride + i));
        __m128i b01lo = _mm_unpacklo_epi8(a0, a1), b01hi = _mm_unpackhi_epi8(a0, a1);
        __m128i b23lo = _mm_unpacklo_epi8(a2, a3), b23hi = _mm_unpackhi_epi8(a2, a3);
        uint8_t *out = dst + i * 4;
        _mm_storeu_si128((__m128i *)(out + 0), _mm_unpacklo_epi16(b01lo, b23lo));
        _mm_storeu_si128((__m128i *)(out + 16), _mm_unpackhi_epi16(b01lo, b23lo));
        _mm_storeu_si128((__m128i *)(out + 32), _mm_unpacklo_epi16(b01hi, b23hi));
        _mm_storeu_si128((__m128i *)(out + 48), _mm_unpackhi_epi16(b01hi, b23hi));
    }
    return i;
}
#endif

/* Kernels for one direction: SIMD for 8- and 4-byte elements (each returns the elements it did), and the
 * blocked scalar code for the rest. */
typedef struct direction {
    size_t (*by8)(const uint8_t *, uint8_t *, size_t, size_t);
    size_t (*by4)(const uint8_t *, uint8_t *, size_t, size_t);
    void (*scalar)(const uint8_t *, uint8_t *, size_t, size_t, size_t, size_t);
} direction;

#if defined(__SSE2__)
static const direction forward = {shuffle8_sse2, shuffle4_sse2, shuffle_scalar};
static const direction inverse = {unshuffle8_sse2, unshuffle4_sse2, unshuffle_scalar};
#else
static const direction forward = {NULL, NULL, shuffle_scalar};
static const direction inverse = {NULL, NULL, unshuffle_scalar};
#endif

static void transpose(const direction *dir, const uint8_t *src, uint8_t *dst, size_t n, size_t size, size_t stride)
{
    size_t done = 0;
    if (size == 8 && dir->by8)
        done = dir->by8(src, dst, n, stride);
    else if (size == 4 && dir->by4)
        done = dir->by4(src, dst, n, stride);
    dir->scalar(src, dst, n, size, stride, done);
}

/* A whole buffer: bytes past the last whole element are copied as they are, as HDF5 does. */
static void transpose_all(const direction *dir, const void *src, void *dst, size_t nbytes, size_t size)
{
    size_t n = size ? nbytes / size : 0;
    if (size <= 1 || n <= 1) {
        memcpy(dst, src, nbytes);
        return;
    }
    transpose(dir, src, dst, n, size, n);
    memcpy((uint8_t *)dst + n * size, (const uint8_t *)src + n * size, nbytes - n * size);
}

void ooc__shuffle(const void *src, void *dst, size_t nbytes, size_t size)
{
    transpose_all(&forward, src, dst, nbytes, size);
}

void ooc__unshuffle(const void *src, void *dst, size_t nbytes, size_t size)
{
    transpose_all(&inverse, src, dst, nbytes, size);
}

void ooc__shuffle_part(const void *src, void *dst, size_t n, size_t size, size_t first, size_t total)
{
    if (size <= 1 || total <= 1)
        memcpy((uint8_t *)dst + first * size, src, n * size);
    else
        transpose(&forward, src, (uint8_t *)dst + first, n, size, total);
}

void ooc__unshuffle_part(const void *src, void *dst, size_t n, size_t size, size_t first, size_t total)
{
    if (size <= 1 || total <= 1)
        memcpy(dst, (const uint8_t *)src + first * size, n * size);
    else
        transpose(&inverse, (const uint8_t *)src + first, dst, n, size, total);
}
