/* The byte shuffle and unshuffle (SIMD paths for 4- and 8-byte elements, blocked scalar code for the rest
 * and the tails) against the filter's definition written as plain loops: every element size that matters,
 * every byte count up to 300 and some large ones, odd alignments, trailing bytes, round trips, and no byte
 * written past the end; and a buffer shuffled, and unshuffled, in parts. */
#include "ooc_shuffle_internal.h"
#include "ooc_test.h"

#include <stdint.h>

enum { PAD = 16, GUARD = 32 }; /* up to PAD bytes of misalignment; GUARD bytes checked after the end */

static void ref_shuffle(const uint8_t *src, uint8_t *dst, size_t nbytes, size_t size)
{
    size_t n = nbytes / size;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < size; j++)
            dst[j * n + i] = src[i * size + j];
    memcpy(dst + n * size, src + n * size, nbytes - n * size);
}

static void ref_unshuffle(const uint8_t *src, uint8_t *dst, size_t nbytes, size_t size)
{
    size_t n = nbytes / size;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < size; j++)
            dst[i * size + j] = src[j * n + i];
    memcpy(dst + n * size, src + n * size, nbytes - n * size);
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        p[i] = (uint8_t)(s >> 56);
    }
}

/* One case: src at offset a, dst at offset b from 16-byte alignment. Returns the number of failed checks. */
static int check(size_t nbytes, size_t size, size_t a, size_t b, uint64_t seed)
{
    size_t cap = nbytes + PAD + GUARD;
    uint8_t *src = malloc(cap), *dst = malloc(cap), *ref = malloc(cap), *back = malloc(cap);
    fill(src + a, nbytes, seed);
    memset(dst, 0xA5, cap);
    memset(back, 0xA5, cap);
    int bad = 0;

    ooc__shuffle(src + a, dst + b, nbytes, size);
    ref_shuffle(src + a, ref, nbytes, size);
    bad += memcmp(dst + b, ref, nbytes) != 0;
    for (size_t i = 0; i < cap; i++)
        bad += (i < b || i >= b + nbytes) && dst[i] != 0xA5;

    ooc__unshuffle(dst + b, back + a, nbytes, size);
    bad += memcmp(back + a, src + a, nbytes) != 0;
    for (size_t i = 0; i < cap; i++)
        bad += (i < a || i >= a + nbytes) && back[i] != 0xA5;

    /* Unshuffling arbitrary bytes, not only shuffled ones, against the reference. */
    ooc__unshuffle(src + a, dst + b, nbytes, size);
    ref_unshuffle(src + a, ref, nbytes, size);
    bad += memcmp(dst + b, ref, nbytes) != 0;

    free(src);
    free(dst);
    free(ref);
    free(back);
    return bad;
}

static const size_t sizes[] = {1, 2, 3, 4, 5, 8, 12, 16};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void test_shuffle_small(void)
{
    for (size_t k = 0; k < NSIZES; k++) {
        int bad = 0;
        for (size_t nbytes = 0; nbytes <= 300; nbytes++)
            bad += check(nbytes, sizes[k], nbytes % PAD, (nbytes * 7) % PAD, nbytes);
        if (bad)
            OOC__FAIL("element size %zu: %d failed checks for 0..300 bytes", sizes[k], bad);
    }
}

/* Large buffers: many 16-element SIMD steps and several of the scalar code's blocks, some with trailing bytes. */
static void test_shuffle_large(void)
{
    const size_t lens[] = {16 * 2048 * 8, 16 * 2048 * 8 + 1, 1000003, (1u << 20) + 8 * 15 + 7, 4000000};
    for (size_t k = 0; k < NSIZES; k++)
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
            int bad = check(lens[l], sizes[k], l, 3 * l % PAD, 100 + l);
            if (bad)
                OOC__FAIL("element size %zu, %zu bytes: %d failed checks", sizes[k], lens[l], bad);
        }
}

/* Sizes 4 and 8 with every element count up to 80 and every alignment: each SIMD/tail split. */
static void test_shuffle_alignment(void)
{
    int bad = 0;
    for (size_t size = 4; size <= 8; size += 4)
        for (size_t n = 0; n <= 80; n++)
            for (size_t a = 0; a < PAD; a++)
                bad += check(n * size + a % size, size, a, (PAD - a) % PAD, n * 31 + a);
    ASSERT_INT_EQ(bad, 0);
}

/* A buffer shuffled in parts of random lengths (each part from its own misaligned buffer, as a producer
 * hands them over) against the reference shuffle of the whole: every size, part lengths from 0 up to past
 * several SIMD steps, and nothing written outside the buffer. */
static void test_shuffle_parts(void)
{
    uint64_t s = 5;
    for (size_t k = 0; k < NSIZES; k++) {
        size_t size = sizes[k];
        int bad = 0;
        for (size_t total = 0; total <= 3000; total += 1 + total / 3) {
            size_t nbytes = total * size, cap = nbytes + PAD + GUARD;
            uint8_t *src = malloc(cap), *part = malloc(cap), *dst = malloc(cap), *ref = malloc(cap);
            fill(src, nbytes, total);
            memset(dst, 0xA5, cap);
            ref_shuffle(src, ref, nbytes, size);
            for (size_t first = 0; first < total;) {
                s = s * 6364136223846793005u + 1442695040888963407u;
                size_t n = (size_t)(s >> 33) % 70, a = (size_t)(s >> 20) % PAD;
                n = n < total - first ? n : total - first;
                memcpy(part + a, src + first * size, n * size);
                ooc__shuffle_part(part + a, dst + PAD, n, size, first, total);
                first += n;
            }
            bad += memcmp(dst + PAD, ref, nbytes) != 0;
            for (size_t i = 0; i < cap; i++)
                bad += (i < PAD || i >= PAD + nbytes) && dst[i] != 0xA5;
            free(src);
            free(part);
            free(dst);
            free(ref);
        }
        if (bad)
            OOC__FAIL("element size %zu: %d failed checks", size, bad);
    }
}

/* The inverse: a shuffled buffer unshuffled in parts of random lengths, each into its own misaligned
 * buffer (as a consumer takes them), against the reference unshuffle of the whole; nothing written past a
 * part. */
static void test_unshuffle_parts(void)
{
    uint64_t s = 7;
    for (size_t k = 0; k < NSIZES; k++) {
        size_t size = sizes[k];
        int bad = 0;
        for (size_t total = 0; total <= 3000; total += 1 + total / 3) {
            size_t nbytes = total * size, cap = nbytes + PAD + GUARD;
            uint8_t *src = malloc(cap), *part = malloc(cap), *ref = malloc(cap);
            fill(src, nbytes, total + 9);
            ref_unshuffle(src, ref, nbytes, size);
            for (size_t first = 0; first < total;) {
                s = s * 6364136223846793005u + 1442695040888963407u;
                size_t n = (size_t)(s >> 33) % 70, a = (size_t)(s >> 20) % PAD;
                n = n < total - first ? n : total - first;
                memset(part, 0xA5, cap);
                ooc__unshuffle_part(src, part + a, n, size, first, total);
                bad += memcmp(part + a, ref + first * size, n * size) != 0;
                for (size_t i = 0; i < cap; i++)
                    bad += (i < a || i >= a + n * size) && part[i] != 0xA5;
                first += n;
            }
            free(src);
            free(part);
            free(ref);
        }
        if (bad)
            OOC__FAIL("element size %zu: %d failed checks", size, bad);
    }
}

OOC_TEST_MAIN(test_shuffle_small, test_shuffle_large, test_shuffle_alignment, test_shuffle_parts,
              test_unshuffle_parts)
