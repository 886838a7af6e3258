/* ooc_shuffle_internal.h: HDF5's byte shuffle (filter H5Z_FILTER_SHUFFLE), done in our own threads.
 * For n elements of `size` bytes, byte j of element i moves to position j * n + i; trailing bytes that do
 * not fill an element are copied as they are, exactly as HDF5 does. src and dst must not overlap. */
#ifndef OOC_SHUFFLE_INTERNAL_H
#define OOC_SHUFFLE_INTERNAL_H

#include <stddef.h>

void ooc__shuffle(const void *src, void *dst, size_t nbytes, size_t size);
void ooc__unshuffle(const void *src, void *dst, size_t nbytes, size_t size);

/* ooc__shuffle_part(): n elements, contiguous at src, that are elements [first, first + n) of a buffer of
 * `total` elements, to their places in that buffer's shuffle at dst (byte j of element first + i to
 * j * total + first + i). Shuffling every part of a buffer this way gives ooc__shuffle() of it. */
void ooc__shuffle_part(const void *src, void *dst, size_t n, size_t size, size_t first, size_t total);

/* ooc__unshuffle_part(): the inverse: elements [first, first + n) of the buffer of `total` elements whose
 * shuffle is at src, contiguous at dst. Unshuffling every part gives ooc__unshuffle() of the buffer. */
void ooc__unshuffle_part(const void *src, void *dst, size_t n, size_t size, size_t first, size_t total);

#endif
