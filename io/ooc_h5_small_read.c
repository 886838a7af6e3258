/* Whole small datasets and root attributes, read at once (a model's centres, counts and parameters). */
#include "ooc_h5.h"
#include "ooc_h5_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A whole non-empty dataset of the given rank (1 or 2) as float64, rows x cols (cols 1 for rank 1). */
static int read_whole(const char *path, const char *dataset, int rank, double **out, uint64_t *rows,
                      uint64_t *cols, ooc_error *err)
{
    *out = NULL;
    ooc_h5_reader *r;
    int rc = ooc_h5_reader_open(path, dataset, &r, err);
    if (rc)
        return rc;
    const ooc_h5_info *in = ooc_h5_reader_info(r);
    double *m = NULL;
    if (in->rank != rank)
        rc = ooc_error_set(err, OOC_EFORMAT, "%s: a %d-D dataset; expected %d-D", ooc_h5_reader_name(r), in->rank,
                           rank);
    else if (in->rows == 0 || in->cols == 0)
        rc = ooc_error_set(err, OOC_EFORMAT, "%s: empty dataset", ooc_h5_reader_name(r));
    else if (in->rows > (1u << 28) / in->cols)
        rc = ooc_error_set(err, OOC_ERANGE, "%s: too large to hold in memory", ooc_h5_reader_name(r));
    else if (!(m = malloc(in->rows * in->cols * sizeof *m)))
        rc = ooc_error_set(err, OOC_ENOMEM, "%s: out of memory", ooc_h5_reader_name(r));
    else
        rc = ooc_h5_reader_read_rows(r, 0, in->rows, OOC_FLOAT64, m, err);
    if (!rc) {
        *out = m;
        *rows = in->rows;
        *cols = in->cols;
    } else {
        free(m);
    }
    ooc_h5_reader_close(r);
    return rc;
}

int ooc_h5_read_matrix(const char *path, const char *dataset, double **out, uint64_t *rows, uint64_t *cols,
                       ooc_error *err)
{
    return read_whole(path, dataset, 2, out, rows, cols, err);
}

int ooc_h5_read_vector(const char *path, const char *dataset, double **out, uint64_t *n, ooc_error *err)
{
    uint64_t one;
    return read_whole(path, dataset, 1, out, n, &one, err);
}

/* An enum's value (h5py's and our booleans) as its integer, converted from the enum's base type. */
static herr_t read_enum(hid_t attr, hid_t type, double *v)
{
    hid_t mem = H5Tget_native_type(type, H5T_DIR_ASCEND), base = mem < 0 ? H5I_INVALID_HID : H5Tget_super(mem);
    unsigned char value[16]; /* the base's bytes, then the double's */
    herr_t rc = base >= 0 && H5Tget_size(base) <= sizeof value && H5Aread(attr, mem, value) >= 0 &&
                        H5Tconvert(base, H5T_NATIVE_DOUBLE, 1, value, NULL, H5P_DEFAULT) >= 0
                    ? 0
                    : -1;
    if (!rc)
        memcpy(v, value, sizeof *v);
    if (base >= 0)
        H5Tclose(base);
    if (mem >= 0)
        H5Tclose(mem);
    return rc;
}

/* The root attribute `name`, a scalar, read by `got` (under the lock, the attribute and its type open). */
typedef int (*attr_reader)(hid_t attr, hid_t type, H5T_class_t cls, void *out);

static int read_root_attr(const char *path, const char *name, attr_reader got, void *out, const char *not_what,
                          ooc_error *err)
{
    ooc__h5_lock();
    ooc__h5_reading(path);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    htri_t has = file < 0 ? -1 : H5Aexists(file, name);
    hid_t attr = has > 0 ? H5Aopen(file, name, H5P_DEFAULT) : H5I_INVALID_HID;
    hid_t space = attr < 0 ? H5I_INVALID_HID : H5Aget_space(attr);
    hid_t type = attr < 0 ? H5I_INVALID_HID : H5Aget_type(attr);
    H5T_class_t cls = type < 0 ? H5T_NO_CLASS : H5Tget_class(type);
    int rc;
    if (file < 0 || has < 0)
        rc = ooc__h5_fail(err, OOC_EFORMAT, "%s: cannot read its attributes", path);
    else if (has == 0)
        rc = OOC_ENOTFOUND;
    else if (space < 0 || H5Sget_simple_extent_npoints(space) != 1 || got(attr, type, cls, out) != 0)
        rc = ooc_error_set(err, OOC_EFORMAT, "%s: attribute %s: not %s", path, name, not_what);
    else
        rc = 0;
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (attr >= 0)
        H5Aclose(attr);
    if (file >= 0)
        H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    ooc__h5_unlock();
    return rc;
}

static int got_number(hid_t attr, hid_t type, H5T_class_t cls, void *out)
{
    if (cls == H5T_ENUM)
        return read_enum(attr, type, out) < 0;
    return !(cls == H5T_INTEGER || cls == H5T_FLOAT) || H5Aread(attr, H5T_NATIVE_DOUBLE, out) < 0;
}

int ooc_h5_read_root_number(const char *path, const char *name, double *v, ooc_error *err)
{
    return read_root_attr(path, name, got_number, v, "a number", err);
}

/* A non-negative integer: an integer type's, or a float holding one. */
static int got_count(hid_t attr, hid_t type, H5T_class_t cls, void *out)
{
    uint64_t *v = out;
    if (cls == H5T_INTEGER && H5Tget_sign(type) == H5T_SGN_NONE)
        return H5Aread(attr, H5T_NATIVE_UINT64, v) < 0;
    if (cls == H5T_INTEGER) {
        int64_t i;
        if (H5Aread(attr, H5T_NATIVE_INT64, &i) < 0 || i < 0)
            return 1;
        *v = (uint64_t)i;
        return 0;
    }
    double d;
    if (got_number(attr, type, cls, &d) || !(d >= 0 && d < 0x1p64 && d == (double)(uint64_t)d))
        return 1;
    *v = (uint64_t)d;
    return 0;
}

int ooc_h5_read_root_count(const char *path, const char *name, uint64_t *v, ooc_error *err)
{
    return read_root_attr(path, name, got_count, v, "a count", err);
}

typedef struct text {
    char *buf;
    size_t size;
} text;

/* A fixed-length or variable-length string, cut to the buffer. */
static int got_string(hid_t attr, hid_t type, H5T_class_t cls, void *out)
{
    text *t = out;
    if (cls != H5T_STRING)
        return 1;
    hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_cset(mem, H5Tget_cset(type)); /* HDF5 converts no string between ASCII and UTF-8 */
    int rc = 1;
    if (H5Tis_variable_str(type) > 0) {
        char *s = NULL;
        H5Tset_size(mem, H5T_VARIABLE);
        if (H5Aread(attr, mem, &s) >= 0 && s) {
            snprintf(t->buf, t->size, "%s", s);
            rc = 0;
        }
        H5free_memory(s);
    } else {
        size_t n = H5Tget_size(type);
        char *s = n ? calloc(1, n + 1) : NULL;
        H5Tset_size(mem, n + 1);
        if (s && H5Aread(attr, mem, s) >= 0) {
            snprintf(t->buf, t->size, "%s", s);
            rc = 0;
        }
        free(s);
    }
    H5Tclose(mem);
    return rc;
}

int ooc_h5_read_root_string(const char *path, const char *name, char *buf, size_t size, ooc_error *err)
{
    text t = {buf, size};
    return read_root_attr(path, name, got_string, &t, "a string", err);
}
