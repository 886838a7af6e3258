/* ooc_shuffle_internal.h: HDF5's byte shuffle (filter H5Z_FILTER_SHUFFLE), done in our own threads.
 * For n elements of `size` bytes, byte j of element i moves to position j * n + i; trailing bytes that do
 * not fill an element are copied as they are, exactly as HDF5 does. src and dst must not overlap. */
#ifndef OOC_SHUFFLE_INTERNAL_H
#define OOC_SHUFFLE_INTERNAL_H

#include <stddef.h>

void ooc__shuffle(const void *src, void *dst, size_t nbytes, size_t size);
void ooc__unshuffle(const void *src, void *dst, size_t nbytes, size_t size);

#endif
