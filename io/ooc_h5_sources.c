/* The files a dataset's values come from: so that an output never replaces one of them, and so that a
 * virtual dataset whose sources lead back to it is refused before HDF5 reads it. */
#define _DEFAULT_SOURCE /* realpath */
#include "ooc_h5.h"
#include "ooc_h5_internal.h"

#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { MAX_DEPTH = 16 }; /* links and virtual datasets leading on to others (HDF5 follows 16 links) */

static int is_file(const char *path, const struct stat *other)
{
    struct stat st;
    return stat(path, &st) == 0 && st.st_dev == other->st_dev && st.st_ino == other->st_ino;
}

/* The HDF5 file at path, open read-only, with *st its status; H5I_INVALID_HID when it is no regular HDF5 file
 * (missing: a virtual dataset's source HDF5 reads as fill values). */
static hid_t open_hdf5(const char *path, struct stat *st)
{
    if (stat(path, st) != 0 || !S_ISREG(st->st_mode))
        return H5I_INVALID_HID;
    ooc__h5_reading(path);
    if (H5Fis_hdf5(path) <= 0)
        return H5I_INVALID_HID;
    return H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
}

/* The creation properties of `dataset` in `file` (a copy: the dataset is closed), or H5I_INVALID_HID. */
static hid_t dataset_plist(hid_t file, const char *dataset)
{
    hid_t dset = H5Dopen2(file, dataset, H5P_DEFAULT);
    hid_t dcpl = dset < 0 ? H5I_INVALID_HID : H5Dget_create_plist(dset);
    if (dset >= 0)
        H5Dclose(dset);
    return dcpl;
}

/* `name` as a file beside the file at `parent` (name itself when absolute, or parent has no directory);
 * malloc'd, NULL when out of memory. */
static char *beside(const char *parent, const char *name)
{
    const char *slash = strrchr(parent, '/');
    size_t dir = name[0] == '/' || !slash ? 0 : (size_t)(slash - parent + 1);
    char *s = malloc(dir + strlen(name) + 1);
    if (s) {
        memcpy(s, parent, dir);
        strcpy(s + dir, name);
    }
    return s;
}

/* Whether found(place, ctx) holds for `name` under one of the ':'-separated prefixes in environment variable
 * var (HDF5_EXT_PREFIX, HDF5_VDS_PREFIX, HDF5_EXTFILE_PREFIX), ${ORIGIN} standing for the directory of the file
 * at `file` (whether HDF5 expands it there or not: then it names nothing). */
static int under_prefixes(const char *var, const char *file, const char *name,
                          int (*found)(const char *place, void *ctx), void *ctx)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", file);
    char *end = strrchr(dir, '/');
    if (end)
        *end = '\0';
    for (const char *p = getenv(var); p && *p;) {
        size_t m = strcspn(p, ":");
        char at[3 * PATH_MAX];
        if (m >= 9 && strncmp(p, "${ORIGIN}", 9) == 0)
            snprintf(at, sizeof at, "%s%.*s/%s", end ? dir : ".", (int)(m - 9), p + 9, name);
        else
            snprintf(at, sizeof at, "%.*s/%s", (int)m, p, name);
        if (m > 0 && found(at, ctx))
            return 1;
        p += m + (p[m] == ':');
    }
    return 0;
}

/* Whether found(place, ctx) holds for the file `name` beside the file at `file` (as reached, or its real path:
 * HDF5 looks beside both). */
static int found_beside(const char *file, int real, const char *name, int (*found)(const char *place, void *ctx),
                        void *ctx)
{
    char resolved[PATH_MAX];
    if (real && !realpath(file, resolved))
        return 0;
    char *near = beside(real ? resolved : file, name);
    int hit = near && found(near, ctx);
    free(near);
    return hit;
}

static int uses(const char *path, const char *dataset, const struct stat *other, int depth);

/* The places named_uses() has looked at: a file (lstat: a symbolic link is a place of its own) in a directory
 * (whose path places the names the file holds). The same place often comes again (as given, beside the parent,
 * its real path): looked at once, not a chain of links followed again from each. */
typedef struct place_id {
    dev_t dev, dir_dev;
    ino_t ino, dir_ino;
} place_id;

enum { MAX_PLACES = 8 };

typedef struct named {
    const char *dataset; /* NULL: whether the file itself is `other` */
    const struct stat *other;
    int depth, seen;
    place_id at[MAX_PLACES];
} named;

/* found() for named_uses(): whether a place not looked at yet uses (or is) the other file. */
static int named_at(const char *place, void *ctx)
{
    named *n = ctx;
    char *dir = beside(place, ".");
    struct stat f, d;
    int fresh = dir && lstat(place, &f) == 0 && stat(dir, &d) == 0;
    free(dir);
    for (int i = 0; fresh && i < n->seen; i++)
        fresh = n->at[i].dev != f.st_dev || n->at[i].ino != f.st_ino || n->at[i].dir_dev != d.st_dev ||
                n->at[i].dir_ino != d.st_ino;
    if (!fresh)
        return 0;
    if (n->seen < MAX_PLACES)
        n->at[n->seen++] = (place_id){f.st_dev, d.st_dev, f.st_ino, d.st_ino};
    return n->dataset ? uses(place, n->dataset, n->other, n->depth) : is_file(place, n->other);
}

/* A file that the file at `parent` names (an external link's target, a virtual dataset's source, external raw
 * storage), wherever HDF5 may find it (H5F_prefix_open_file, H5D__efl_*): as given (absolute, or from the
 * current directory), beside `parent` (as reached, or its real path), under the prefixes of environment variable
 * `var`; an absolute name not there (a link's or a source's, not raw storage's) by its last part, from the
 * current directory and in those places. Every place counts, not only the first that opens: an output refused
 * once too often beats an input replaced. With a dataset, whether that dataset in it uses `other`; without,
 * whether it is `other`. */
static int named_uses(const char *parent, const char *name, const char *var, const char *dataset,
                      const struct stat *other, int depth)
{
    if (strcmp(name, ".") == 0) /* a virtual dataset's source in its own file */
        return dataset && uses(parent, dataset, other, depth + 1);
    named n = {dataset, other, depth + 1, 0, {{0}}};
    const char *rel = name[0] != '/' ? name : dataset ? strrchr(name, '/') + 1 : NULL;
    return named_at(name, &n) ||
           (rel && (named_at(rel, &n) || found_beside(parent, 0, rel, named_at, &n) ||
                    found_beside(parent, 1, rel, named_at, &n) || under_prefixes(var, parent, rel, named_at, &n)));
}

static char *virtual_name(hid_t dcpl, size_t i, ssize_t (*get)(hid_t, size_t, char *, size_t))
{
    ssize_t n = get(dcpl, i, NULL, 0);
    char *s = n < 0 ? NULL : malloc((size_t)n + 1);
    if (s && get(dcpl, i, s, (size_t)n + 1) < 0) {
        free(s);
        s = NULL;
    }
    return s;
}

static int virtual_uses(const char *path, hid_t dcpl, const struct stat *other, int depth)
{
    size_t n = 0;
    if (H5Pget_layout(dcpl) != H5D_VIRTUAL || H5Pget_virtual_count(dcpl, &n) < 0)
        return 0;
    int found = 0;
    for (size_t i = 0; i < n && !found; i++) {
        char *file = virtual_name(dcpl, i, H5Pget_virtual_filename);
        char *dset = virtual_name(dcpl, i, H5Pget_virtual_dsetname);
        found = file && dset && named_uses(path, file, "HDF5_VDS_PREFIX", dset, other, depth);
        free(file);
        free(dset);
    }
    return found;
}

static int external_uses(const char *path, hid_t dcpl, const struct stat *other)
{
    int n = H5Pget_external_count(dcpl), found = 0;
    for (int i = 0; i < n && !found; i++) {
        char name[4096];
        off_t offset;
        hsize_t size;
        found = H5Pget_external(dcpl, (unsigned)i, sizeof name, name, &offset, &size) >= 0 &&
                memchr(name, '\0', sizeof name) && named_uses(path, name, "HDF5_EXTFILE_PREFIX", NULL, other, 0);
    }
    return found;
}

/* `head` (up to `at` bytes of the way's first part, a group path) joined with `target` (absolute, or relative
 * to that group) and the way's rest. */
static char *joined(const char *head, size_t at, const char *target, const char *rest)
{
    size_t n = at + strlen(target) + strlen(rest) + 2;
    char *s = malloc(n);
    if (s && target[0] == '/')
        snprintf(s, n, "%s%s", target, rest);
    else if (s)
        snprintf(s, n, "%.*s/%s%s", (int)at, head, target, rest);
    return s;
}

/* The links on the way to `dataset` in the open file at `path`: an external one leads to another file,
 * which holds the rest of the way and is an input too; a soft one to another path. Followed here rather
 * than through HDF5, which shows only where a way ends (a chain of external links passes other files).
 * 1 when one leads to `other`; *followed says whether one was met (the rest of the way is then done). */
static int links_use(const char *path, hid_t file, const char *dataset, const struct stat *other, int depth,
                     int *followed)
{
    size_t n = strlen(dataset);
    char *part = malloc(n + 1);
    int found = 0;
    *followed = 0;
    for (size_t i = 1; part && i <= n && !*followed; i++) {
        H5L_info_t info;
        if (dataset[i] != '/' && dataset[i] != '\0')
            continue;
        memcpy(part, dataset, i);
        part[i] = '\0';
        if (H5Lget_info(file, part, &info, H5P_DEFAULT) < 0)
            break;
        if (info.type != H5L_TYPE_EXTERNAL && info.type != H5L_TYPE_SOFT)
            continue;
        *followed = 1;
        char *val = malloc(info.u.val_size + 1), *next = NULL;
        const char *file_name = NULL, *obj = NULL;
        unsigned flags;
        size_t group = (size_t)(strrchr(part, '/') - part); /* the link's group: part[0, group) */
        if (val && H5Lget_val(file, part, val, info.u.val_size, H5P_DEFAULT) >= 0) {
            val[info.u.val_size] = '\0';
            if (info.type == H5L_TYPE_SOFT && (next = joined(part, group, val, dataset + i)))
                found = uses(path, next, other, depth + 1);
            else if (info.type == H5L_TYPE_EXTERNAL &&
                     H5Lunpack_elink_val(val, info.u.val_size, &flags, &file_name, &obj) >= 0 &&
                     (next = joined("", 0, obj, dataset + i)))
                found = named_uses(path, file_name, "HDF5_EXT_PREFIX", next, other, depth);
        }
        free(next);
        free(val);
    }
    free(part);
    return found;
}

static int uses(const char *path, const char *dataset, const struct stat *other, int depth)
{
    struct stat st;
    if (is_file(path, other))
        return 1;
    hid_t file = depth > MAX_DEPTH ? H5I_INVALID_HID : open_hdf5(path, &st);
    if (file < 0)
        return 0;
    int followed = 0, found = links_use(path, file, dataset, other, depth, &followed);
    hid_t dcpl = found || followed ? H5I_INVALID_HID : dataset_plist(file, dataset);
    found = found || (dcpl >= 0 && (virtual_uses(path, dcpl, other, depth) || external_uses(path, dcpl, other)));
    if (dcpl >= 0)
        H5Pclose(dcpl);
    H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    return found;
}

/* A dataset on the way from the input: its file (device, inode) and its path, made absolute. */
typedef struct visit {
    dev_t dev;
    ino_t ino;
    char *dataset;
} visit;

static int virtual_loops(const char *path, const char *dataset, visit *way, int depth);

/* Source i of a virtual dataset in the file at `path`, where HDF5 looks for it by default: its own file
 * ("."), as named, beside `path`; 0 when none is there (HDF5 reads fill values: no cycle). */
static int source_loops(const char *path, hid_t dcpl, size_t i, visit *way, int depth)
{
    char *file = virtual_name(dcpl, i, H5Pget_virtual_filename);
    char *dset = virtual_name(dcpl, i, H5Pget_virtual_dsetname);
    int loops = 0;
    if (file && dset && strcmp(file, ".") == 0) {
        loops = virtual_loops(path, dset, way, depth + 1);
    } else if (file && dset) {
        char *near = beside(path, file);
        struct stat st;
        const char *where = stat(file, &st) == 0 ? file : near;
        loops = where && virtual_loops(where, dset, way, depth + 1);
        free(near);
    }
    free(file);
    free(dset);
    return loops;
}

static int virtual_loops(const char *path, const char *dataset, visit *way, int depth)
{
    struct stat st;
    hid_t file = open_hdf5(path, &st);
    size_t n = strlen(dataset), count = 0;
    char *abs = file < 0 || depth >= MAX_DEPTH ? NULL : malloc(n + 2);
    int loops = file >= 0 && depth >= MAX_DEPTH;
    if (abs) {
        snprintf(abs, n + 2, "%s%s", dataset[0] == '/' ? "" : "/", dataset);
        for (int i = 0; i < depth && !loops; i++)
            loops = way[i].dev == st.st_dev && way[i].ino == st.st_ino && strcmp(way[i].dataset, abs) == 0;
        way[depth] = (visit){st.st_dev, st.st_ino, abs};
    }
    hid_t dcpl = abs && !loops ? dataset_plist(file, abs) : H5I_INVALID_HID;
    if (dcpl >= 0 && H5Pget_layout(dcpl) == H5D_VIRTUAL && H5Pget_virtual_count(dcpl, &count) >= 0)
        for (size_t i = 0; i < count && !loops; i++)
            loops = source_loops(path, dcpl, i, way, depth);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (file >= 0)
        H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    free(abs);
    return loops;
}

int ooc__h5_virtual_cycle(const char *path, const char *dataset)
{
    visit way[MAX_DEPTH];
    return virtual_loops(path, dataset, way, 0);
}

/* Whether `dset` opens in the HDF5 file at path. */
static int dataset_opens(const char *path, const char *dset)
{
    struct stat st;
    hid_t file = open_hdf5(path, &st);
    hid_t d = file >= 0 && H5Lexists(file, dset, H5P_DEFAULT) > 0 ? H5Dopen2(file, dset, H5P_DEFAULT) : H5I_INVALID_HID;
    if (d >= 0)
        H5Dclose(d);
    if (file >= 0)
        H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    return d >= 0;
}

static int dataset_opens_at(const char *place, void *dset)
{
    return dataset_opens(place, dset);
}

/* Whether dset opens in the file `name` beside the file at `file` (as reached, or its real path). */
static int opens_beside(const char *file, int real, const char *name, const char *dset)
{
    return found_beside(file, real, name, dataset_opens_at, (void *)dset);
}

/* Whether the source dataset `dset` of the file `name` (as the virtual dataset in the file `holder`, reached
 * as `path`, names it; "." is that file) opens anywhere HDF5 1.10 may look for it (H5F_prefix_open_file):
 * under HDF5_VDS_PREFIX, beside the file (as reached, or its real path), as named, and by its last part in the
 * current directory. Any of them will do: a source is refused only when it is found nowhere. */
static int source_opens(const char *path, const char *holder, const char *name, const char *dset)
{
    if (strcmp(name, ".") == 0)
        return dataset_opens(holder, dset) || dataset_opens(path, dset);
    char lit[PATH_MAX]; /* "%%" is a '%' */
    size_t n = 0;
    for (const char *c = name; *c && n + 1 < sizeof lit; c++)
        lit[n++] = *c == '%' && c[1] == '%' ? *c++ : *c;
    lit[n] = '\0';
    const char *slash = strrchr(lit, '/'), *last = slash ? slash + 1 : lit;
    if (dataset_opens(lit, dset) || dataset_opens(last, dset))
        return 1;
    const char *rel = lit[0] == '/' ? last : lit;
    for (int real = 0; real <= 1; real++)
        if (opens_beside(path, real, rel, dset) || opens_beside(path, real, last, dset) ||
            opens_beside(holder, real, rel, dset) || opens_beside(holder, real, last, dset))
            return 1;
    return under_prefixes("HDF5_VDS_PREFIX", holder, rel, dataset_opens_at, (void *)dset); /* as HDF5 joins them */
}

/* The size of external raw data file `file` of the HDF5 file at `path`, where HDF5 1.10 looks: as named
 * (absolute, or from the current directory), or, when HDF5_EXTFILE_PREFIX is set, under it (${ORIGIN}: the
 * file's directory); -1 when it is not there. */
static int regular_file(const char *place, void *size)
{
    struct stat st;
    if (stat(place, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    *(off_t *)size = st.st_size;
    return 1;
}

static off_t external_size(const char *path, const char *file)
{
    off_t size = -1;
    const char *prefix = getenv("HDF5_EXTFILE_PREFIX");
    if (file[0] == '/' || !prefix || !*prefix)
        regular_file(file, &size);
    else /* entries apart by ':', in case HDF5 takes a list */
        under_prefixes("HDF5_EXTFILE_PREFIX", path, file, regular_file, &size);
    return size;
}

int ooc__h5_external_sources(const char *path, hid_t dcpl, uint64_t bytes, const char *name, ooc_error *err)
{
    int n = H5Pget_external_count(dcpl);
    for (int i = 0; i < n && bytes > 0; i++) {
        char file[PATH_MAX];
        off_t offset;
        hsize_t size;
        if (H5Pget_external(dcpl, (unsigned)i, sizeof file, file, &offset, &size) < 0 || !memchr(file, '\0', sizeof file))
            continue;
        uint64_t need = size == H5F_UNLIMITED || size > bytes ? bytes : size;
        off_t has = external_size(path, file);
        if (has < 0)
            return ooc_error_set(err, OOC_ENOTFOUND, "%s: external raw data file '%s' not found", name, file);
        if ((uint64_t)has < (uint64_t)offset + need)
            return ooc_error_set(err, OOC_ECORRUPT, "%s: external raw data file '%s' holds %lld bytes, the rows it "
                                 "stores need %llu from byte %lld: it is truncated", name, file, (long long)has,
                                 (unsigned long long)need, (long long)offset);
        bytes -= need;
    }
    return 0;
}

int ooc__h5_virtual_sources(const char *path, hid_t dset, hid_t dcpl, const char *name, ooc_error *err)
{
    size_t n = 0;
    if (H5Pget_layout(dcpl) != H5D_VIRTUAL || H5Pget_virtual_count(dcpl, &n) < 0)
        return 0;
    char holder[PATH_MAX]; /* the file that holds the dataset: another than path through an external link */
    if (H5Fget_name(dset, holder, sizeof holder) <= 0)
        snprintf(holder, sizeof holder, "%s", path);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char *file = virtual_name(dcpl, i, H5Pget_virtual_filename);
        char *src = virtual_name(dcpl, i, H5Pget_virtual_dsetname);
        /* %b: one source file per block of an unlimited mapping, as many as there are */
        if (file && src && !strstr(file, "%b") && !strstr(src, "%b") && !source_opens(path, holder, file, src))
            rc = ooc_error_set(err, OOC_ENOTFOUND, "%s: its virtual source %s:%s cannot be read (HDF5 would give "
                               "fill values for its rows)", name, file, src);
        free(file);
        free(src);
    }
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

int ooc_h5_dataset_uses_file(const char *path, const char *dataset, const char *other)
{
    struct stat o;
    if (stat(other, &o) != 0) /* nothing there to replace */
        return 0;
    ooc__h5_lock();
    int found = uses(path, dataset, &o, 0);
    ooc__h5_unlock();
    return found;
}
