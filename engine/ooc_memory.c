#define _DEFAULT_SOURCE /* getrusage, strtok_r */
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

/* The number after "KEY" and the separator sep on a line of a file ("VmHWM: 1024 kB" in /proc, "inactive_file
 * 4096" in a cgroup's memory.stat), or 0 when absent. */
static uint64_t keyed_number(const char *path, const char *key, char sep)
{
    FILE *f = fopen(path, "r");
    char line[256];
    unsigned long long v = 0;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == sep) {
            if (sscanf(line + n + 1, "%llu", &v) != 1)
                v = 0;
            break;
        }
    if (f)
        fclose(f);
    return v;
}

/* The "KEY: N kB" line of a /proc file, in bytes, or 0 when absent. */
static uint64_t proc_kb(const char *path, const char *key)
{
    return keyed_number(path, key, ':') * 1024;
}

#define NO_LIMIT UINT64_MAX

/* The memory hierarchy this process is in: v2 (cgroup2) or v1 (a cgroup mount with the memory controller).
 * Its path, the mount point plus this process's cgroup (/proc/self/cgroup) relative to the mount's root,
 * into dir, and the mount point into top; 0 when there is none. */
static int cgroup_dir(int v2, char *dir, size_t dir_size, char *top, size_t top_size)
{
    char line[4096], cg[4096] = "", root[4096], mnt[4096], fstype[64], super[1024];
    FILE *f = fopen("/proc/self/cgroup", "r");
    while (f && fgets(line, sizeof line, f)) { /* "ID:controllers:path" */
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        char *ctl = c1 + 1, *tok, *save = NULL;
        int match = v2 ? *ctl == '\0' : 0;
        for (tok = v2 ? NULL : strtok_r(ctl, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            match |= strcmp(tok, "memory") == 0;
        if (match) {
            snprintf(cg, sizeof cg, "%s", c2 + 1);
            cg[strcspn(cg, "\n")] = '\0';
            break;
        }
    }
    if (f)
        fclose(f);
    if (!*cg || !(f = fopen("/proc/self/mountinfo", "r")))
        return 0;
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) { /* "ID PARENT MAJ:MIN ROOT MOUNT OPTIONS [TAGS] - TYPE SOURCE SUPER" */
        const char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
            sscanf(dash + 3, "%63s %*s %1023s", fstype, super) != 2)
            continue;
        if (v2) {
            found = strcmp(fstype, "cgroup2") == 0;
        } else if (strcmp(fstype, "cgroup") == 0) {
            char *tok, *save = NULL;
            for (tok = strtok_r(super, ",", &save); tok && !found; tok = strtok_r(NULL, ",", &save))
                found = strcmp(tok, "memory") == 0;
        }
    }
    fclose(f);
    if (!found)
        return 0;
    /* A mount of part of the hierarchy (a container's) shows the cgroups below its root only. */
    size_t r = strcmp(root, "/") == 0 ? 0 : strlen(root);
    const char *rel = strncmp(cg, root, r) == 0 && (cg[r] == '/' || cg[r] == '\0') ? cg + r : "";
    snprintf(top, top_size, "%s", mnt);
    return snprintf(dir, dir_size, "%s%s", mnt, strcmp(rel, "/") == 0 ? "" : rel) < (int)dir_size;
}

/* What the memory cgroup and every cgroup above it still allow: the least of limit − usage, where usage
 * leaves out the page cache the kernel would drop first (inactive files, as container runtimes count it);
 * NO_LIMIT when none sets a limit. */
static uint64_t cgroup_headroom(void)
{
    char dir[4096], top[4096], path[4200];
    uint64_t least = NO_LIMIT;
    for (int v2 = 1; v2 >= 0 && least == NO_LIMIT; v2--) {
        if (!cgroup_dir(v2, dir, sizeof dir, top, sizeof top))
            continue;
        for (;;) {
            snprintf(path, sizeof path, "%s/%s", dir, v2 ? "memory.max" : "memory.limit_in_bytes");
            uint64_t max = read_number(path); /* 0: "max", or no such file */
            if (max && max < ((uint64_t)1 << 60)) { /* v1 writes "no limit" as a huge number */
                snprintf(path, sizeof path, "%s/%s", dir, v2 ? "memory.current" : "memory.usage_in_bytes");
                uint64_t used = read_number(path);
                snprintf(path, sizeof path, "%s/memory.stat", dir);
                uint64_t cache = keyed_number(path, v2 ? "inactive_file" : "total_inactive_file", ' ');
                used = used > cache ? used - cache : 0;
                uint64_t room = max > used ? max - used : 0;
                least = room < least ? room : least;
            }
            char *slash = strrchr(dir, '/');
            if (strlen(dir) <= strlen(top) || !slash)
                break;
            *slash = '\0';
        }
    }
    return least;
}

/* The resource limits on this process's address space (ulimit -v) and data (ulimit -d), and the line of
 * /proc/self/status that gives what each counts. */
static const struct {
    int resource;
    const char *key;
} address_limits[] = {{RLIMIT_AS, "VmSize"}, {RLIMIT_DATA, "VmData"}};

int ooc_memory_address_limited(void)
{
    for (size_t i = 0; i < sizeof address_limits / sizeof address_limits[0]; i++) {
        struct rlimit rl;
        if (getrlimit(address_limits[i].resource, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            return 1;
    }
    return 0;
}

/* What those limits still allow, from the sizes /proc/self/status gives; NO_LIMIT when neither is set. */
static uint64_t rlimit_headroom(void)
{
    uint64_t least = NO_LIMIT;
    for (size_t i = 0; i < sizeof address_limits / sizeof address_limits[0]; i++) {
        struct rlimit rl;
        if (getrlimit(address_limits[i].resource, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
            continue;
        uint64_t used = proc_kb("/proc/self/status", address_limits[i].key);
        uint64_t room = (uint64_t)rl.rlim_cur > used ? (uint64_t)rl.rlim_cur - used : 0;
        least = room < least ? room : least;
    }
    return least;
}

uint64_t ooc_memory_available(void)
{
    uint64_t avail = proc_kb("/proc/meminfo", "MemAvailable"), cg = cgroup_headroom(), rl = rlimit_headroom();
    avail = avail ? avail : NO_LIMIT;
    avail = cg < avail ? cg : avail;
    avail = rl < avail ? rl : avail;
    return avail == NO_LIMIT ? (uint64_t)1 << 30 : avail;
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
