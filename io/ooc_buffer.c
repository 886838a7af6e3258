#define _DEFAULT_SOURCE /* madvise */
#include "ooc_buffer_internal.h"

#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

void *ooc__buffer_alloc(size_t bytes)
{
    if (bytes < HUGE_PAGE)
        return malloc(bytes ? bytes : 1);
    /* Aligned but not rounded up: the memory budget counts exact sizes, and the tail short of a huge page
     * simply gets small pages. */
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE, bytes) != 0)
        return NULL;
    madvise(p, bytes, MADV_HUGEPAGE); /* advice only: failure is harmless */
    return p;
}
