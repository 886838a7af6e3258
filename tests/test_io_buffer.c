/* ooc__buffer_alloc(): chunk-sized buffers are 2 MiB aligned, writable to their last byte, and never taken
 * from malloc's heap, even once glibc has raised its mmap threshold
 * (after a large block is freed): a block from the heap stays resident after it is freed, and a stream
 * that frees buffers mid-run for others would then hold more than its memory limit. */
#define _GNU_SOURCE /* mallinfo2 */
#include "ooc_buffer_internal.h"
#include "ooc_test.h"

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static void test_large_buffers_bypass_the_heap(void)
{
    const size_t sizes[] = {(size_t)2 << 20, (size_t)6 << 20, ((size_t)6 << 20) + 12345, (size_t)32000000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        void *big = malloc(sizes[i] + ((size_t)4 << 20)); /* mmapped, then freed: glibc's threshold rises */
        ASSERT(big != NULL);
        free(big);
        size_t heap = mallinfo2().arena;
        unsigned char *p = ooc__buffer_alloc(sizes[i]);
        ASSERT(p != NULL);
        ASSERT((uintptr_t)p % ((size_t)2 << 20) == 0);
        memset(p, 0xab, sizes[i]);
        ASSERT(mallinfo2().arena < heap + ((size_t)1 << 20));
        ooc__buffer_free(p, sizes[i]);
    }
}

static void test_small_buffers(void)
{
    unsigned char *p = ooc__buffer_alloc(1000);
    ASSERT(p != NULL);
    memset(p, 1, 1000);
    ooc__buffer_free(p, 1000);
    ooc__buffer_free(NULL, (size_t)8 << 20); /* no-ops */
    ooc__buffer_free(NULL, 10);
    p = ooc__buffer_alloc(0);
    ASSERT(p != NULL);
    ooc__buffer_free(p, 0);
}

/* Zeroed at every size, also where the same memory was just written and freed. */
static void test_calloc_zeroes(void)
{
    const size_t sizes[] = {0, 1000, ((size_t)2 << 20) - 1, (size_t)2 << 20, (size_t)32000000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        unsigned char *p = ooc__buffer_alloc(sizes[i]);
        ASSERT(p != NULL);
        memset(p, 0xab, sizes[i]);
        ooc__buffer_free(p, sizes[i]);
        p = ooc__buffer_calloc(sizes[i]);
        ASSERT(p != NULL);
        for (size_t j = 0; j < sizes[i]; j += 4093)
            ASSERT_INT_EQ(p[j], 0);
        if (sizes[i])
            ASSERT_INT_EQ(p[sizes[i] - 1], 0);
        ooc__buffer_free(p, sizes[i]);
    }
}

/* The VmFlags of the mapping holding addr in /proc/self/smaps, or "" when not found. */
static void vm_flags(uintptr_t addr, char *flags, size_t cap)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    int inside = 0;
    flags[0] = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
            inside = addr >= lo && addr < hi;
        else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(flags, cap, "%s", line + 8);
            break;
        }
    }
    if (f)
        fclose(f);
}

/* A block from malloc gets huge pages advised over its whole 2 MiB pages, and only there. */
static void test_advise_marks_whole_huge_pages(void)
{
    void *probe = mmap(NULL, (size_t)4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT(probe != MAP_FAILED);
    int thp = madvise(probe, (size_t)4 << 20, MADV_HUGEPAGE) == 0; /* kernels without THP refuse it */
    munmap(probe, (size_t)4 << 20);
    size_t bytes = (size_t)9 << 20;
    unsigned char *p = malloc(bytes);
    ASSERT(p != NULL);
    ooc__buffer_advise(p, bytes);
    uintptr_t first = ((uintptr_t)p + ((size_t)2 << 20) - 1) & ~(uintptr_t)(((size_t)2 << 20) - 1);
    char flags[512];
    vm_flags(first, flags, sizeof flags);
    ASSERT(flags[0] != 0);
    if (thp)
        ASSERT(strstr(flags, " hg") != NULL);
    if (first > (uintptr_t)p) { /* the head short of a huge page keeps the default */
        vm_flags((uintptr_t)p, flags, sizeof flags);
        ASSERT(strstr(flags, " hg") == NULL);
    }
    memset(p, 1, bytes);
    free(p);
    unsigned char small[100];
    ooc__buffer_advise(NULL, bytes); /* no-ops */
    ooc__buffer_advise(small, sizeof small);
}

OOC_TEST_MAIN(test_large_buffers_bypass_the_heap, test_small_buffers, test_calloc_zeroes,
              test_advise_marks_whole_huge_pages)
