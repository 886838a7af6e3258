/* ooc_buffer_internal.h: allocation of chunk-sized buffers (tens of MB). */
#ifndef OOC_BUFFER_INTERNAL_H
#define OOC_BUFFER_INTERNAL_H

#include <stddef.h>

/* ooc__buffer_alloc(): `bytes` aligned to 2 MiB and advised for transparent huge pages: first touching a
 * 32 MB chunk then costs 16 page faults instead of 8192, which is most of the cost of filling a cache.
 * Free with free(). NULL on failure. */
void *ooc__buffer_alloc(size_t bytes);

#endif
