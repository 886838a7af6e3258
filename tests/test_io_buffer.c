/* ooc__buffer_alloc(): chunk-sized buffers are 2 MiB aligned, writable to their last byte, and never taken
 * from malloc's heap, even once glibc has raised its mmap threshold
 * (after a large block is freed): a block from the heap stays resident after it is freed, and a stream
 * that frees buffers mid-run for others would then hold more than its memory limit. */
#define _GNU_SOURCE /* mallinfo2 */
#include "ooc_buffer_internal.h"
#include "ooc_test.h"

#include <malloc.h>
#include <stdint.h>
#include <string.h>

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

OOC_TEST_MAIN(test_large_buffers_bypass_the_heap, test_small_buffers)
