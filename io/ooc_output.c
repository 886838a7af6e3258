#define _GNU_SOURCE /* renameat2 */
#include "ooc_output.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Temporary files a signal handler may have to remove, each by its name in its directory, held open: the
 * directory may be renamed while the run writes (a path would then lead nowhere, and the temporary stay
 * behind). Fixed storage, so removing needs no allocation. */
#define MAX_LIVE 16
static int live_dir[MAX_LIVE];
static char live_name[MAX_LIVE][NAME_MAX + 1];
static volatile sig_atomic_t live_used[MAX_LIVE];
/* Runs renaming outputs into place (threads may commit at once): a temporary may then hold a replaced
 * destination's old contents. Lock-free, so a signal handler may read it. */
static atomic_int committing;

/* How an output went into place, so that it can be taken back while the others of its run fail. */
enum placed { NOT_PLACED, CREATED, EXCHANGED, BACKED_UP, REPLACED };

struct ooc_output {
    char *dest, *tmp;
    int dir;              /* the destination's directory, held open (O_PATH) */
    char *tmp_name;       /* tmp's last component (in tmp): its name in dir */
    char *backup; /* BACKED_UP: a hard link to the replaced file, under a hidden name of its own */
    int force, slot;
    int ready; /* synced and the destination checked: only the rename is left */
    enum placed placed;
    const char *kept; /* the old file could not be put back: its hidden copy (tmp or backup) stays */
};

static int register_live(int dir, const char *name)
{
    for (int i = 0; i < MAX_LIVE; i++) {
        if (!live_used[i] && strlen(name) <= NAME_MAX) {
            live_dir[i] = dir;
            strcpy(live_name[i], name);
            live_used[i] = 1;
            return i;
        }
    }
    return -1;
}

static void unregister_live(int slot)
{
    if (slot >= 0)
        live_used[slot] = 0;
}

int ooc_output_remove_all_temporaries(void)
{
    int removed = 0;
    for (int i = 0; i < MAX_LIVE && !atomic_load(&committing); i++)
        if (live_used[i]) {
            unlinkat(live_dir[i], live_name[i], 0);
            removed++;
        }
    return removed;
}


static void output_free(ooc_output *o)
{
    unregister_live(o->slot);
    if (o->dir >= 0)
        close(o->dir);
    free(o->backup);
    free(o->dest);
    free(o->tmp);
    free(o);
}

/* "dir/.name.XXXXXX": hidden, beside the destination; the name cut so that the whole stays within NAME_MAX
 * (255 bytes), which a destination's own name may reach. */
static char *temp_template(const char *dest)
{
    const char *slash = strrchr(dest, '/');
    size_t dir_len = slash ? (size_t)(slash - dest + 1) : 0;
    size_t n = strlen(dest) + 16;
    char *t = malloc(n);
    if (t)
        snprintf(t, n, "%.*s.%.*s.XXXXXX", (int)dir_len, dest, NAME_MAX - 8, dest + dir_len);
    return t;
}

/* Creates a new file from a template ending in XXXXXX, as mkstemp() does but with mode 0666, so that the
 * kernel applies the umask and any default ACL itself, as for any new file (mkstemp's 0600 would have to be
 * widened by a umask read with umask(), which changes it for every thread for a moment). */
static int create_unique(int dir, char *tmpl)
{
    static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char *x = tmpl + strlen(tmpl) - 6;
    for (uint64_t tries = 0; tries < 100; tries++) {
        uint64_t v;
        if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v) /* no entropy yet: still names to try */
            v = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL) ^ (tries * 0x9E3779B97F4A7C15u);
        for (int i = 0; i < 6; i++, v /= sizeof letters - 1)
            x[i] = letters[v % (sizeof letters - 1)];
        int fd = openat(dir, tmpl, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

/* Whether dest may be taken: absent, or (with force) a regular file. A rename would replace a device node
 * or a FIFO with a regular file (as root, /dev/null). */
static int check_dest(const char *dest, int force, ooc_error *err)
{
    struct stat st;
    if (dest[0] == '\0')
        return ooc_error_set(err, OOC_EINVAL, "an empty output file name");
    /* Absent is fine; a name the rename would refuse (too long, a parent that is no directory) is refused
     * now, before any work, not after it (where one output could be in place and the other not). */
    if (lstat(dest, &st) != 0)
        return errno == ENOENT ? 0 : ooc_error_set(err, OOC_EINVAL, "%s: %s", dest, strerror(errno));
    /* A symbolic link is judged by its target; one that leads nowhere is still a name the rename takes (the
     * link is replaced, as mv does), so it exists. */
    int dangling = S_ISLNK(st.st_mode) && stat(dest, &st) != 0;
    if (!dangling && S_ISDIR(st.st_mode))
        return ooc_error_set(err, OOC_EINVAL, "%s: is a directory", dest);
    if (!dangling && !S_ISREG(st.st_mode))
        return ooc_error_set(err, OOC_EINVAL, "%s: not a regular file; outputs replace only regular files", dest);
    if (!force)
        return ooc_error_set(err, OOC_EEXIST, "%s: %s", dest, ooc_strerror(OOC_EEXIST));
    return 0;
}

int ooc_output_open(const char *dest, int force, ooc_output **out, ooc_error *err)
{
    *out = NULL;
    int rc = check_dest(dest, force, err);
    if (rc)
        return rc;
    ooc_output *o = calloc(1, sizeof *o);
    if (o)
        o->dir = -1;
    if (!o || !(o->dest = strdup(dest)) || !(o->tmp = temp_template(dest))) {
        if (o)
            free(o->dest);
        free(o);
        return ooc_error_set(err, OOC_ENOMEM, "%s: out of memory", dest);
    }
    o->force = force;
    o->slot = -1;
    /* The directory: "m.h5:/x" or "m.h5/" name "m.h5:" or "m.h5" in messages, which is not what was meant. */
    char *slash = strrchr(o->tmp, '/');
    int dir_len = slash ? (int)(slash - o->tmp) + (slash == o->tmp) : 1;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", dir_len, slash ? o->tmp : ".");
    o->tmp_name = slash ? slash + 1 : o->tmp;
    o->dir = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int fd = o->dir >= 0 ? create_unique(o->dir, o->tmp_name) : -1;
    if (fd < 0) {
        int e = errno;
        output_free(o);
        return ooc_error_set(err, e == ENOSPC ? OOC_ENOSPACE : OOC_EIO, "%s: cannot create a file in directory "
                             "'%s': %s", dest, dir, strerror(e));
    }
    o->slot = register_live(o->dir, o->tmp_name);
    close(fd);
    *out = o;
    return 0;
}

const char *ooc_output_path(const ooc_output *o)
{
    return o->tmp;
}

const char *ooc_output_dest(const ooc_output *o)
{
    return o->dest;
}

static int sync_path(const char *path, int flags)
{
    int fd = open(path, flags);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* A hard link to the destination under a new hidden name beside it (o->backup), or -1 (no hard links here). */
static int link_backup(ooc_output *o)
{
    for (int tries = 0; tries < 8; tries++) {
        char *name = temp_template(o->dest);
        int fd = name ? create_unique(AT_FDCWD, name) : -1;
        if (fd < 0) {
            free(name);
            return -1;
        }
        close(fd);
        unlink(name); /* a name nobody else takes, for link(), which creates it */
        if (link(o->dest, name) == 0) {
            o->backup = name;
            return 0;
        }
        free(name);
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

/* The rename, recording how: a destination replaced is exchanged with the temporary where the file system
 * can, so that the temporary keeps the old file until the run's other outputs are in place too; where it
 * cannot (NFS), a hard link keeps it. */
static int place(ooc_output *o)
{
    if (o->force) {
        if (renameat2(AT_FDCWD, o->tmp, AT_FDCWD, o->dest, RENAME_EXCHANGE) == 0) {
            o->placed = EXCHANGED;
            return 0;
        }
        if (errno != ENOENT && errno != EINVAL && errno != ENOSYS)
            return -1;
        if (errno != ENOENT) {
            int backed_up = link_backup(o) == 0;
            if (rename(o->tmp, o->dest) != 0) {
                int e = errno;
                if (backed_up)
                    unlink(o->backup);
                errno = e;
                return -1;
            }
            o->placed = backed_up ? BACKED_UP : REPLACED; /* REPLACED: for good */
            return 0;
        }
    }
    if (renameat2(AT_FDCWD, o->tmp, AT_FDCWD, o->dest, RENAME_NOREPLACE) != 0) {
        if (errno != EINVAL && errno != ENOSYS)
            return -1;
        /* File systems without RENAME_NOREPLACE: link() refuses an existing name just as atomically. */
        if (link(o->tmp, o->dest) != 0)
            return -1;
        unlink(o->tmp);
    }
    o->placed = CREATED;
    return 0;
}

/* Back as it was before place(): the old file exchanged or renamed back, or the new name taken away again.
 * When that fails, the old file's hidden copy is kept (o->kept) rather than removed with the temporaries. */
static void unplace(ooc_output *o)
{
    if (o->placed == EXCHANGED && renameat2(AT_FDCWD, o->tmp, AT_FDCWD, o->dest, RENAME_EXCHANGE) != 0)
        o->kept = o->tmp;
    else if (o->placed == BACKED_UP && rename(o->backup, o->dest) != 0)
        o->kept = o->backup;
    else if (o->placed == CREATED)
        rename(o->dest, o->tmp);
    o->placed = NOT_PLACED;
}

int ooc_output_ready(ooc_output *o, ooc_error *err)
{
    if (o->ready)
        return 0;
    if (sync_path(o->tmp, O_RDONLY) != 0) {
        int e = errno;
        return ooc_error_set(err, e == ENOSPC ? OOC_ENOSPACE : OOC_EIO, "%s: cannot write: %s", o->dest, strerror(e));
    }
    int rc = check_dest(o->dest, o->force, err);
    o->ready = !rc;
    return rc;
}

static void sync_dir(const char *dest)
{
    const char *slash = strrchr(dest, '/');
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - dest + 1) : 1, slash ? dest : ".");
    sync_path(dir, O_RDONLY | O_DIRECTORY);
}

int ooc_output_commit_all(ooc_output *const *outs, int n, ooc_error *err)
{
    int rc = 0, i = 0;
    for (; i < n && !rc; i++)
        rc = outs[i] ? ooc_output_ready(outs[i], err) : 0;
    atomic_fetch_add(&committing, 1);
    for (i = 0; i < n && !rc; i++) {
        if (outs[i] && place(outs[i]) != 0) {
            int e = errno;
            rc = e == EEXIST ? ooc_error_set(err, OOC_EEXIST, "%s: %s", outs[i]->dest, ooc_strerror(OOC_EEXIST))
                             : ooc_error_set(err, OOC_EIO, "%s: cannot rename into place: %s", outs[i]->dest,
                                             strerror(e));
        }
    }
    while (rc && i-- > 0) /* a REPLACED output (no exchange, no hard links) cannot be taken back */
        if (outs[i])
            unplace(outs[i]);
    atomic_fetch_sub(&committing, 1);
    for (i = 0; i < n; i++) {
        ooc_output *o = outs[i];
        if (!o)
            continue;
        if (!rc)
            sync_dir(o->dest);
        if (o->kept) { /* say where the old file is; its copy stays */
            size_t len = err ? strlen(err->msg) : 0;
            if (err)
                snprintf(err->msg + len, sizeof err->msg - len, "; %s could not be put back: its old contents are "
                         "in %s", o->dest, o->kept);
            unregister_live(o->slot);
            o->slot = -1;
            output_free(o);
            continue;
        }
        if (o->backup)
            unlink(o->backup);
        ooc_output_abort(o); /* the temporary: nothing, or the old file once exchanged */
    }
    return rc;
}

int ooc_output_commit(ooc_output *o, ooc_error *err)
{
    return ooc_output_commit_all(&o, 1, err);
}

void ooc_output_abort(ooc_output *o)
{
    if (!o)
        return;
    unlinkat(o->dir, o->tmp_name, 0);
    output_free(o);
}
