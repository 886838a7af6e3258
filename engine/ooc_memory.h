/* ooc_memory.h: the memory a run may use. */
#ifndef OOC_MEMORY_H
#define OOC_MEMORY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ooc_memory_available(): bytes this process can still take: the least of the system's available memory
 * (MemAvailable), what its memory cgroup and those above it leave (cgroup v2's memory.max, or v1's
 * limit_in_bytes, less their usage without inactive page cache), and what ulimit -v and -d leave. */
uint64_t ooc_memory_available(void);

/* ooc_memory_address_limited(): whether a resource limit caps this process's address space or data segment
 * (ulimit -v or -d). Reads the limits alone: safe before the C library is initialised (.preinit_array). */
int ooc_memory_address_limited(void);

/* ooc_memory_default_limit(): the --memory-limit default: half of ooc_memory_available(). */
uint64_t ooc_memory_default_limit(void);

/* ooc_memory_peak_rss(): the process's peak resident set so far, in bytes (VmHWM, else getrusage). */
uint64_t ooc_memory_peak_rss(void);

#ifdef __cplusplus
}
#endif

#endif
