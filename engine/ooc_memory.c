#define _DEFAULT_SOURCE /* getrusage */
#include "ooc_memory.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

/* The first unsigned number in a file, or 0 if it is absent or says "max". */
static uint64_t read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    if (f) {
        if (fscanf(f, "%llu", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

/* The "KEY: N kB" line of a /proc file, in bytes, or 0 when absent. */
static uint64_t proc_kb(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    char line[256];
    unsigned long long kb = 0;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            if (sscanf(line + n + 1, "%llu", &kb) != 1)
                kb = 0;
            break;
        }
    if (f)
        fclose(f);
    return kb * 1024;
}

/* What the cgroup still allows, or 0 when it sets no limit. */
static uint64_t cgroup_headroom(void)
{
    uint64_t max = read_number("/sys/fs/cgroup/memory.max");
    uint64_t cur = read_number("/sys/fs/cgroup/memory.current");
    if (!max) {
        max = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes");
        cur = read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes");
        if (max >= ((uint64_t)1 << 60)) /* v1 writes "no limit" as a huge number */
            max = 0;
    }
    if (!max)
        return 0;
    return max > cur ? max - cur : 0;
}

uint64_t ooc_memory_available(void)
{
    uint64_t avail = proc_kb("/proc/meminfo", "MemAvailable"), cg = cgroup_headroom();
    if (cg && (!avail || cg < avail))
        avail = cg;
    return avail ? avail : (uint64_t)1 << 30;
}

uint64_t ooc_memory_default_limit(void)
{
    return ooc_memory_available() / 2;
}

uint64_t ooc_memory_peak_rss(void)
{
    /* This program's own peak: getrusage()'s survives exec, so a process started from a big one (a Python
     * test, say) would report its parent's peak. */
    uint64_t hwm = proc_kb("/proc/self/status", "VmHWM");
    if (hwm)
        return hwm;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_maxrss * 1024;
}
