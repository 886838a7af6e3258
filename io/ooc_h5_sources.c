/* The files a dataset's values come from: so that an output never replaces one of them. */
#include "ooc_h5.h"
#include "ooc_h5_internal.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { MAX_DEPTH = 8 }; /* virtual datasets whose sources are virtual in turn */

static int is_file(const char *path, const struct stat *other)
{
    struct stat st;
    return stat(path, &st) == 0 && st.st_dev == other->st_dev && st.st_ino == other->st_ino;
}

static int uses(const char *path, const char *dataset, const struct stat *other, int depth);

/* A file that the file at `parent` names (a virtual dataset's source, external raw storage), where HDF5 looks
 * for it by default: as given (absolute, or from the current directory) and beside `parent`. With a
 * dataset, whether that dataset in it uses `other`; without, whether it is `other`. */
static int named_uses(const char *parent, const char *name, const char *dataset, const struct stat *other, int depth)
{
    if (strcmp(name, ".") == 0) /* a virtual dataset's source in its own file */
        return dataset && uses(parent, dataset, other, depth + 1);
    const char *slash = strrchr(parent, '/');
    size_t dir = name[0] == '/' || !slash ? 0 : (size_t)(slash - parent + 1);
    char *beside = malloc(dir + strlen(name) + 1);
    if (beside) {
        memcpy(beside, parent, dir);
        strcpy(beside + dir, name);
    }
    int found = 0;
    const char *where[2] = {name, beside};
    for (int i = 0; i < 2 && !found; i++)
        if (where[i])
            found = dataset ? uses(where[i], dataset, other, depth + 1) : is_file(where[i], other);
    free(beside);
    return found;
}

/* The file holding the dataset's object: another than the one opened when a link on the way was external. */
static int held_in(hid_t dset, const struct stat *other)
{
    hid_t file = H5Iget_file_id(dset);
    ssize_t n = file < 0 ? -1 : H5Fget_name(file, NULL, 0);
    char *name = n < 0 ? NULL : malloc((size_t)n + 1);
    int found = name && H5Fget_name(file, name, (size_t)n + 1) >= 0 && is_file(name, other);
    free(name);
    if (file >= 0)
        H5Fclose(file);
    return found;
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
        found = file && dset && named_uses(path, file, dset, other, depth);
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
                memchr(name, '\0', sizeof name) && named_uses(path, name, NULL, other, 0);
    }
    return found;
}

static int uses(const char *path, const char *dataset, const struct stat *other, int depth)
{
    struct stat st;
    if (is_file(path, other))
        return 1;
    if (depth > MAX_DEPTH || stat(path, &st) != 0 || !S_ISREG(st.st_mode) || H5Fis_hdf5(path) <= 0)
        return 0;
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t dset = file < 0 ? H5I_INVALID_HID : H5Dopen2(file, dataset, H5P_DEFAULT);
    hid_t dcpl = dset < 0 ? H5I_INVALID_HID : H5Dget_create_plist(dset);
    int found = (dset >= 0 && held_in(dset, other)) ||
                (dcpl >= 0 && (virtual_uses(path, dcpl, other, depth) || external_uses(path, dcpl, other)));
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (dset >= 0)
        H5Dclose(dset);
    if (file >= 0)
        H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    return found;
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
