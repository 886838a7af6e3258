#include "ooc_shuffle_internal.h"

#include <stdint.h>
#include <string.h>

/* Element sizes are small constants (4 or 8 for our data); the inner loops specialise through `size` being
 * a compile-time constant in the per-size copies below. */
#define OOC__SHUFFLE_LOOPS(SIZE)                                                                           \
    static void shuffle_##SIZE(const uint8_t *src, uint8_t *dst, size_t n)                                 \
    {                                                                                                      \
        for (size_t j = 0; j < SIZE; j++)                                                                  \
            for (size_t i = 0; i < n; i++)                                                                 \
                dst[j * n + i] = src[i * SIZE + j];                                                        \
    }                                                                                                      \
    static void unshuffle_##SIZE(const uint8_t *src, uint8_t *dst, size_t n)                               \
    {                                                                                                      \
        for (size_t j = 0; j < SIZE; j++)                                                                  \
            for (size_t i = 0; i < n; i++)                                                                 \
                dst[i * SIZE + j] = src[j * n + i];                                                        \
    }

OOC__SHUFFLE_LOOPS(2)
OOC__SHUFFLE_LOOPS(4)
OOC__SHUFFLE_LOOPS(8)

void ooc__shuffle(const void *src, void *dst, size_t nbytes, size_t size)
{
    size_t n = size ? nbytes / size : 0;
    if (size <= 1 || n <= 1) {
        memcpy(dst, src, nbytes);
        return;
    }
    const uint8_t *s = src;
    uint8_t *d = dst;
    switch (size) {
    case 2: shuffle_2(s, d, n); break;
    case 4: shuffle_4(s, d, n); break;
    case 8: shuffle_8(s, d, n); break;
    default:
        for (size_t j = 0; j < size; j++)
            for (size_t i = 0; i < n; i++)
                d[j * n + i] = s[i * size + j];
    }
    memcpy(d + n * size, s + n * size, nbytes - n * size);
}

void ooc__unshuffle(const void *src, void *dst, size_t nbytes, size_t size)
{
    size_t n = size ? nbytes / size : 0;
    if (size <= 1 || n <= 1) {
        memcpy(dst, src, nbytes);
        return;
    }
    const uint8_t *s = src;
    uint8_t *d = dst;
    switch (size) {
    case 2: unshuffle_2(s, d, n); break;
    case 4: unshuffle_4(s, d, n); break;
    case 8: unshuffle_8(s, d, n); break;
    default:
        for (size_t j = 0; j < size; j++)
            for (size_t i = 0; i < n; i++)
                d[i * size + j] = s[j * n + i];
    }
    memcpy(d + n * size, s + n * size, nbytes - n * size);
}
