#define _GNU_SOURCE /* sync_file_range, posix_fadvise, strdup */
#include "ooc_h5.h"

#include "ooc_h5_internal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

struct ooc_h5_file {
    hid_t id;
    char *path;
};

struct ooc_h5_chunked {
    hid_t id;
    char *name; /* "path:/name" for messages */
    ooc_h5_chunked_params params; /* as created: chunk_rows clamped to rows, codec.elem_size set */
    size_t chunk_bytes;
    int fd;                  /* the file's descriptor (sec2 driver), or -1: for drop-behind */
    haddr_t prev_addr;       /* the bytes written before, still in the page cache */
    hsize_t prev_size;       /* 0: none */
};

int ooc_h5_file_create(const char *path, const char *name, ooc_h5_file **out, ooc_error *err)
{
    *out = NULL;
    ooc_h5_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(name ? name : path))) {
        free(f);
        return ooc_error_set(err, OOC_ENOMEM, "%s: out of memory", path);
    }
    ooc__h5_lock();
    f->id = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    int rc = f->id < 0 ? ooc__h5_fail(err, OOC_EIO, "%s: cannot create HDF5 file", f->path) : 0;
    ooc__h5_unlock();
    if (rc) {
        free(f->path);
        free(f);
        return rc;
    }
    *out = f;
    return 0;
}

int ooc_h5_file_close(ooc_h5_file *f, ooc_error *err)
{
    if (!f)
        return 0;
    ooc__h5_lock();
    int rc = 0;
    if (H5Fflush(f->id, H5F_SCOPE_LOCAL) < 0)
        rc = ooc__h5_fail(err, OOC_EIO, "%s: cannot write", f->path);
    if (H5Fclose(f->id) < 0) {
        ooc__h5_close_failed();
        if (!rc)
            rc = ooc__h5_fail(err, OOC_EIO, "%s: cannot close", f->path);
    }
    ooc__h5_unlock();
    free(f->path);
    free(f);
    return rc;
}

/* Object creation properties that keep files reproducible: no modification times. */
static hid_t untimed_dcpl(void)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    return dcpl;
}

static int write_attr(ooc_h5_file *f, const char *name, hid_t type, hid_t space, const void *value,
                      ooc_error *err)
{
    hid_t a = H5Acreate2(f->id, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (a < 0 || H5Awrite(a, type, value) < 0)
        rc = ooc__h5_fail(err, OOC_EIO, "%s: cannot write attribute '%s'", f->path, name);
    if (a >= 0)
        H5Aclose(a);
    return rc;
}

static int attr_array(ooc_h5_file *f, const char *name, hid_t type, const void *values, size_t n,
                      ooc_error *err)
{
    ooc__h5_lock();
    hsize_t dim = n;
    hid_t space = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    int rc = write_attr(f, name, type, space, values, err);
    H5Sclose(space);
    ooc__h5_unlock();
    return rc;
}

int ooc_h5_attr_uint(ooc_h5_file *f, const char *name, uint64_t value, ooc_error *err)
{
    return attr_array(f, name, H5T_NATIVE_UINT64, &value, 1, err);
}

int ooc_h5_attr_bool(ooc_h5_file *f, const char *name, int value, ooc_error *err)
{
    ooc__h5_lock();
    hid_t type = H5Tenum_create(H5T_NATIVE_INT8);
    int8_t no = 0, yes = 1, v = value ? 1 : 0;
    H5Tenum_insert(type, "FALSE", &no);
    H5Tenum_insert(type, "TRUE", &yes);
    hid_t space = H5Screate(H5S_SCALAR);
    int rc = write_attr(f, name, type, space, &v, err);
    H5Sclose(space);
    H5Tclose(type);
    ooc__h5_unlock();
    return rc;
}

int ooc_h5_attr_double(ooc_h5_file *f, const char *name, double value, ooc_error *err)
{
    return attr_array(f, name, H5T_NATIVE_DOUBLE, &value, 1, err);
}

int ooc_h5_attr_doubles(ooc_h5_file *f, const char *name, const double *values, size_t n, ooc_error *err)
{
    return attr_array(f, name, H5T_NATIVE_DOUBLE, values, n, err);
}

int ooc_h5_attr_string(ooc_h5_file *f, const char *name, const char *value, ooc_error *err)
{
    ooc__h5_lock();
    /* Variable-length UTF-8: what h5py writes for a Python str, read back as str. */
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    hid_t space = H5Screate(H5S_SCALAR);
    int rc = write_attr(f, name, type, space, &value, err);
    H5Sclose(space);
    H5Tclose(type);
    ooc__h5_unlock();
    return rc;
}

int ooc_h5_write_dataset(ooc_h5_file *f, const char *name, ooc_dtype t, int rank, const uint64_t *dims,
                         const void *data, ooc_error *err)
{
    if ((rank != 1 && rank != 2) || !ooc_dtype_valid(t))
        return ooc_error_set(err, OOC_EINVAL, "%s:%s: a %d-D dataset of type %d: expected 1-D or 2-D of an ooc_dtype",
                             f->path, name, rank, (int)t);
    hsize_t hd[2] = {dims[0], rank > 1 ? dims[1] : 1};
    ooc__h5_lock();
    hid_t space = H5Screate_simple(rank, hd, NULL);
    hid_t dcpl = untimed_dcpl();
    hid_t d = H5Dcreate2(f->id, name, ooc__h5_mem_type(t), space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int rc = 0;
    if (d < 0 || H5Dwrite(d, ooc__h5_mem_type(t), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        rc = ooc__h5_fail(err, OOC_EIO, "%s:%s: cannot write dataset", f->path, name);
    if (d >= 0)
        H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    ooc__h5_unlock();
    return rc;
}

static hid_t chunked_dcpl(const ooc_h5_chunked *d)
{
    hid_t dcpl = untimed_dcpl();
    hsize_t chunk[2] = {d->params.chunk_rows, d->params.cols};
    H5Pset_chunk(dcpl, d->params.rank, chunk);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    if (d->params.codec.shuffle)
        H5Pset_shuffle(dcpl);
    if (d->params.codec.zstd_level) {
        unsigned level = (unsigned)d->params.codec.zstd_level;
        H5Pset_filter(dcpl, OOC_H5Z_FILTER_ZSTD, H5Z_FLAG_MANDATORY, 1, &level);
    }
    return dcpl;
}

int ooc_h5_chunked_create(ooc_h5_file *f, const char *name, const ooc_h5_chunked_params *p,
                          ooc_h5_chunked **out, ooc_error *err)
{
    *out = NULL;
    if (p->rows == 0 || p->cols == 0 || p->chunk_rows == 0 || (p->rank != 1 && p->rank != 2) ||
        (p->rank == 1 && p->cols != 1))
        return ooc_error_set(err, OOC_EINVAL, "%s:%s: invalid dataset shape", f ? f->path : "", name);
    if (!ooc_dtype_valid(p->dtype))
        return ooc_error_set(err, OOC_EINVAL, "%s:%s: type %d is no ooc_dtype", f ? f->path : "", name, (int)p->dtype);
    if (p->codec.zstd_level < 0 || p->codec.zstd_level > 22)
        return ooc_error_set(err, OOC_EINVAL, "%s:%s: zstd level %d is not 1..22 (or 0, none)", f ? f->path : "",
                             name, p->codec.zstd_level);
    ooc_h5_chunked *d = calloc(1, sizeof *d);
    const char *path = f ? f->path : "(another process)";
    size_t n = strlen(path) + strlen(name) + 2;
    if (!d || !(d->name = malloc(n))) {
        free(d);
        return ooc_error_set(err, OOC_ENOMEM, "%s:%s: out of memory", path, name);
    }
    snprintf(d->name, n, "%s:%s", path, name);
    d->params = *p;
    d->params.chunk_rows = p->chunk_rows < p->rows ? p->chunk_rows : p->rows;
    d->params.codec.elem_size = ooc_dtype_size(p->dtype);
    d->chunk_bytes = (size_t)(d->params.chunk_rows * p->cols * d->params.codec.elem_size);
    d->fd = -1;
    d->id = H5I_INVALID_HID;
    if (!f) {
        *out = d;
        return 0;
    }

    hsize_t dims[2] = {p->rows, p->cols};
    ooc__h5_lock();
    hid_t space = H5Screate_simple(p->rank, dims, NULL);
    hid_t dcpl = chunked_dcpl(d);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1); /* "/a/b/labels" creates /a and /a/b, as h5py does */
    d->id = H5Dcreate2(f->id, name, ooc__h5_mem_type(p->dtype), space, lcpl, dcpl, H5P_DEFAULT);
    H5Pclose(lcpl);
    int rc = d->id < 0 ? ooc__h5_fail(err, OOC_EIO, "%s: cannot create dataset", d->name) : 0;
    H5Pclose(dcpl);
    H5Sclose(space);
    hid_t fapl = H5Fget_access_plist(f->id);
    void *handle = NULL;
    if (fapl >= 0 && H5Pget_driver(fapl) == H5FD_SEC2 && H5Fget_vfd_handle(f->id, fapl, &handle) >= 0 && handle)
        d->fd = *(int *)handle;
    if (fapl >= 0)
        H5Pclose(fapl);
    ooc__h5_unlock();
    if (rc) {
        free(d->name);
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

const ooc_codec *ooc_h5_chunked_codec(const ooc_h5_chunked *d)
{
    return &d->params.codec;
}

int ooc_h5_chunked_blame(const ooc_h5_chunked *d, uint64_t chunk, ooc_error *err)
{
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    return ooc_error_set(err, err->code, "%s: chunk %llu: %s", d->name, (unsigned long long)chunk, why);
}

size_t ooc_h5_chunked_chunk_bytes(const ooc_h5_chunked *d)
{
    return d->chunk_bytes;
}

uint64_t ooc_h5_chunked_chunk_rows(const ooc_h5_chunked *d)
{
    return d->params.chunk_rows;
}

ooc_h5_chunked_params ooc_h5_chunked_get_params(const ooc_h5_chunked *d)
{
    return d->params;
}

/* Drop-behind: start writing a chunk back to disk as soon as it is written, and drop the one before from
 * the page cache once it is on disk. The writeback overlaps the computation instead of all landing on the
 * final fsync, and the page cache stays a few chunks large: filling it with a whole file costs more system
 * time than the write itself (fresh pages), and a cgroup memory limit counts it. New chunks are appended,
 * so the bytes a write added are where the file grew (asking HDF5 where the chunk went searches its index
 * linearly). Small chunks are left to the kernel: a syscall each would cost more than it saves. */
#define DROP_BEHIND_MIN_BYTES ((size_t)1 << 20)

static void drop_behind(ooc_h5_chunked *d, off_t before, off_t after)
{
    if (after <= before)
        return;
    sync_file_range(d->fd, before, after - before, SYNC_FILE_RANGE_WRITE);
    if (d->prev_size > 0) {
        sync_file_range(d->fd, (off_t)d->prev_addr, (off_t)d->prev_size,
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
        posix_fadvise(d->fd, (off_t)d->prev_addr, (off_t)d->prev_size, POSIX_FADV_DONTNEED);
    }
    d->prev_addr = (haddr_t)before;
    d->prev_size = (hsize_t)(after - before);
}

static off_t file_size(int fd)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 ? st.st_size : -1;
}

int ooc_h5_chunked_write(ooc_h5_chunked *d, uint64_t chunk, const void *encoded, size_t bytes, ooc_error *err)
{
    if (chunk * d->params.chunk_rows >= d->params.rows)
        return ooc_error_set(err, OOC_EINVAL, "%s: chunk %llu: beyond the dataset", d->name,
                             (unsigned long long)chunk);
    if (d->id == H5I_INVALID_HID)
        return ooc_error_set(err, OOC_EINVAL, "%s: chunk %llu: the dataset has no file here", d->name,
                             (unsigned long long)chunk);
    hsize_t offset[2] = {chunk * d->params.chunk_rows, 0};
    ooc__h5_lock();
    int rc = 0;
    int track = d->fd >= 0 && bytes >= DROP_BEHIND_MIN_BYTES;
    off_t before = track ? file_size(d->fd) : -1;
    if (H5Dwrite_chunk(d->id, H5P_DEFAULT, 0, offset, bytes, encoded) < 0)
        rc = ooc__h5_fail(err, OOC_EIO, "%s: chunk %llu: cannot write", d->name, (unsigned long long)chunk);
    else if (track && before >= 0)
        drop_behind(d, before, file_size(d->fd));
    ooc__h5_unlock();
    return rc;
}

int ooc_h5_chunked_close(ooc_h5_chunked *d, ooc_error *err)
{
    if (!d)
        return 0;
    int rc = 0;
    if (d->id != H5I_INVALID_HID) {
        ooc__h5_lock();
        rc = H5Dclose(d->id) < 0 ? ooc__h5_fail(err, OOC_EIO, "%s: cannot close", d->name) : 0;
        ooc__h5_unlock();
    }
    free(d->name);
    free(d);
    return rc;
}
