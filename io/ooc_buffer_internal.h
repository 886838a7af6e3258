/* ooc_buffer_internal.h: allocation of chunk-sized buffers (tens of MB). */
#ifndef OOC_BUFFER_INTERNAL_H
#define OOC_BUFFER_INTERNAL_H

#include <stddef.h>

/* ooc__buffer_alloc(): `bytes` aligned to 2 MiB and advised for transparent huge pages: first touching a
 * 32 MB chunk then costs 16 page faults instead of 8192, which is most of the cost of filling a cache.
 * Buffers of 2 MiB or more are mappings of their own, outside malloc: glibc raises its mmap threshold to
 * the size of a large block freed, after which blocks that size come from its heap and stay resident once
 * freed, so a stream that frees buffers mid-run for others (ooc_stream.c) would outgrow its memory limit.
 * NULL on failure. */
void *ooc__buffer_alloc(size_t bytes);

/* ooc__buffer_calloc(): ooc__buffer_alloc(), zeroed (mappings are; small buffers come from calloc). */
void *ooc__buffer_calloc(size_t bytes);

/* ooc__buffer_footprint(): the memory a buffer of ooc__buffer_alloc(bytes) takes: its pages, or malloc's
 * block with its header (a cache of a million 16-byte chunks takes 32 MB, not 16). */
size_t ooc__buffer_footprint(size_t bytes);

/* ooc__buffer_free(): a buffer of ooc__buffer_alloc(bytes) or ooc__buffer_calloc(bytes), with the same bytes.
 * NULL is a no-op. */
void ooc__buffer_free(void *p, size_t bytes);

/* ooc__buffer_advise(): huge pages for the whole 2 MiB pages inside a block of `bytes` at p that malloc or
 * realloc gave (a buffer whose owner frees or grows it with them: a chunk's stored bytes). */
void ooc__buffer_advise(void *p, size_t bytes);

#endif
