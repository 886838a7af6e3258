#define _DEFAULT_SOURCE /* madvise, MAP_ANONYMOUS */
#include "ooc_buffer_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE ((size_t)2 << 20)

/* The pages a mapping of `bytes` takes: the tail short of a huge page simply gets small pages, so that the
 * memory budget's exact sizes hold. */
static size_t mapped_bytes(size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (bytes + page - 1) / page * page;
}

void *ooc__buffer_alloc(size_t bytes)
{
    if (bytes < HUGE_PAGE)
        return malloc(bytes ? bytes : 1);
    size_t len = mapped_bytes(bytes), span = len + HUGE_PAGE;
    if (len < bytes || span < len)
        return NULL;
    char *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    char *p = (char *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (p > m) /* keep only the aligned part */
        munmap(m, (size_t)(p - m));
    if (m + span > p + len)
        munmap(p + len, (size_t)(m + span - (p + len)));
    madvise(p, len, MADV_HUGEPAGE); /* advice only: failure is harmless */
    return p;
}

size_t ooc__buffer_footprint(size_t bytes)
{
    if (bytes >= HUGE_PAGE)
        return mapped_bytes(bytes);
    size_t block = (bytes + sizeof(size_t) + 15) & ~(size_t)15; /* glibc: a size word, 16-byte steps, 32 at least */
    return block < 32 ? 32 : block;
}

void *ooc__buffer_calloc(size_t bytes)
{
    return bytes < HUGE_PAGE ? calloc(1, bytes ? bytes : 1) : ooc__buffer_alloc(bytes); /* new maps read 0 */
}

void ooc__buffer_advise(void *p, size_t bytes)
{
    uintptr_t first = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    uintptr_t end = ((uintptr_t)p + bytes) & ~(uintptr_t)(HUGE_PAGE - 1);
    if (p && end > first)
        madvise((void *)first, end - first, MADV_HUGEPAGE); /* advice only, as above */
}

void ooc__buffer_free(void *p, size_t bytes)
{
    if (!p)
        return;
    if (bytes < HUGE_PAGE)
        free(p);
    else
        munmap(p, mapped_bytes(bytes));
}
