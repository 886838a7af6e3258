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

static uint64_t meminfo_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
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
    uint64_t avail = meminfo_available(), cg = cgroup_headroom();
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
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_maxrss * 1024;
}
