/* Whole small datasets and root attributes, read at once (a model's centres, counts and parameters). */
#include "ooc_h5.h"
#include "ooc_h5_internal.h"

#include <stdlib.h>

/* A whole non-empty dataset of the given rank (1 or 2) as float64, rows x cols (cols 1 for rank 1). */
static int read_whole(const char *path, const char *dataset, int rank, double **out, uint64_t *rows,
                      uint64_t *cols, ooc_error *err)
{
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

int ooc_h5_read_root_number(const char *path, const char *name, double *v, ooc_error *err)
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
    else if (space < 0 || H5Sget_simple_extent_npoints(space) != 1 || (cls != H5T_INTEGER && cls != H5T_FLOAT) ||
             H5Aread(attr, H5T_NATIVE_DOUBLE, v) < 0)
        rc = ooc__h5_fail(err, OOC_EFORMAT, "%s: attribute %s: not a number", path, name);
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
