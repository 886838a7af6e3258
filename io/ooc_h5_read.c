#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC, st_mtim */
#include "ooc_h5.h"

#include "ooc_h5_inplace_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

struct ooc_h5_reader {
    hid_t file, dset, space;
    hid_t dcpl;  /* the dataset's creation properties: its fill value */
    int prefill; /* HDF5 leaves the caller's buffer as it was where no storage was allocated */
    char *name; /* "path:/dataset" */
    ooc_h5_info info;
    ooc__h5_inplace *inplace; /* where the raw chunks lie, once located */
    int inplace_tried;
    void *band; /* read_bands()'s buffer (reads hold the HDF5 lock: one at a time) */
    size_t band_cap;
    int watch;         /* our own descriptor on the file that holds the data, or -1 (watch()) */
    struct stat known; /* that file as it was opened */
};

const ooc_h5_info *ooc_h5_reader_info(const ooc_h5_reader *r)
{
    return &r->info;
}

const char *ooc_h5_reader_name(const ooc_h5_reader *r)
{
    return r->name;
}

void ooc_h5_reader_close(ooc_h5_reader *r)
{
    if (!r)
        return;
    ooc__h5_lock();
    if (r->space > 0)
        H5Sclose(r->space);
    if (r->dcpl > 0)
        H5Pclose(r->dcpl);
    if (r->dset > 0)
        H5Dclose(r->dset);
    if (r->file > 0)
        H5Fclose(r->file);
    ooc__h5_unlock();
    ooc__h5_inplace_close(r->inplace);
    if (r->watch >= 0)
        close(r->watch);
    free(r->band);
    free(r->name);
    free(r);
}

/* Type: any integer or float, either byte order (HDF5 converts float16, long double and other float
 * layouts to float64 on read); anything else is refused. */
static int describe_type(ooc_h5_reader *r, ooc_error *err)
{
    ooc_h5_info *in = &r->info;
    hid_t type = H5Dget_type(r->dset);
    if (type < 0)
        return ooc__h5_fail(err, OOC_ECORRUPT, "%s: cannot read the data type", r->name);
    H5T_class_t cls = H5Tget_class(type);
    in->type_size = H5Tget_size(type);
    in->big_endian = H5Tget_order(type) == H5T_ORDER_BE;
    int rc = 0;
    if (cls == H5T_FLOAT) {
        in->is_float = in->is_signed = 1;
        snprintf(in->type_name, sizeof in->type_name, "float%zu", in->type_size * 8);
    } else if (cls == H5T_INTEGER && in->type_size >= 1 && in->type_size <= 8) {
        in->is_signed = H5Tget_sign(type) == H5T_SGN_2;
        snprintf(in->type_name, sizeof in->type_name, "%sint%zu", in->is_signed ? "" : "u", in->type_size * 8);
    } else {
        /* h5py writes bool as an enum, str as a string, a structured array as a compound */
        static const char *const classes[] = {"integer", "float", "time", "string", "bitfield", "opaque",
                                              "compound", "reference", "enum", "variable-length", "array"};
        int known = cls >= 0 && (size_t)cls < sizeof classes / sizeof classes[0];
        rc = ooc_error_set(err, OOC_EFORMAT, "%s: not a numeric dataset: HDF5 %s type of %zu bytes%s", r->name,
                           known ? classes[cls] : "unknown", in->type_size,
                           cls == H5T_INTEGER ? " (integers up to 8 bytes are read)" : "");
    }
    /* The fast path hands decoded bytes straight to the caller: only little-endian float32 and float64. */
    if (!rc && in->is_float && !in->big_endian && (in->type_size == 4 || in->type_size == 8))
        in->codec.elem_size = in->type_size;
    H5Tclose(type);
    return rc;
}

static const char *layout_name(hid_t dcpl)
{
    switch (H5Pget_layout(dcpl)) {
    case H5D_CHUNKED: return "chunked";
    case H5D_COMPACT: return "compact";
    case H5D_VIRTUAL: return "virtual";
    default: return H5Pget_external_count(dcpl) > 0 ? "external" : "contiguous";
    }
}

#define RAW_CHUNK_MIN_BYTES 4096

static int describe_layout(ooc_h5_reader *r, ooc_error *err)
{
    ooc_h5_info *in = &r->info;
    hid_t dcpl = r->dcpl = H5Dget_create_plist(r->dset);
    if (dcpl < 0)
        return ooc__h5_fail(err, OOC_ECORRUPT, "%s: cannot read the storage layout", r->name);
    int rc = 0;
    /* Where storage was never allocated (a chunk never written), HDF5 gives the fill value only when it is
     * to write fill values: not with fill time NEVER (our writer's, netCDF's NC_NOFILL), nor, in some HDF5
     * releases, IFSET without a fill value of the user's (plain HDF5's default). Then it reads nothing there
     * and leaves the buffer as it was: stale rows of another chunk. We fill the buffer first. */
    H5D_fill_time_t when = H5D_FILL_TIME_IFSET;
    H5D_fill_value_t fill = H5D_FILL_VALUE_UNDEFINED;
    if (H5Pget_fill_time(dcpl, &when) < 0 || H5Pfill_value_defined(dcpl, &fill) < 0)
        H5Eclear2(H5E_DEFAULT);
    r->prefill = when == H5D_FILL_TIME_NEVER || (when == H5D_FILL_TIME_IFSET && fill != H5D_FILL_VALUE_USER_DEFINED);
    in->chunked = H5Pget_layout(dcpl) == H5D_CHUNKED;
    snprintf(in->layout, sizeof in->layout, "%s", layout_name(dcpl));
    if (in->chunked) {
        hsize_t chunk[2] = {1, 1}, max[2] = {0, 1};
        H5Pget_chunk(dcpl, 2, chunk);
        H5Sget_simple_extent_dims(r->space, NULL, max);
        in->chunk_rows = chunk[0];
        in->chunk_cols = in->rank == 2 ? chunk[1] : 1;
        /* HDF5 creates no chunk larger than a fixed dimension, and 1.10 reads such a chunk past the end of
         * its decoded buffer (it crashed on a file whose chunk shape was damaged): refused before any read. */
        for (int i = 0; i < in->rank && !rc; i++)
            if (chunk[i] == 0 || (max[i] != H5S_UNLIMITED && chunk[i] > max[i]))
                rc = ooc_error_set(err, OOC_ECORRUPT,
                                   "%s: storage chunks of %llu x %llu, beyond its %llu %s at most: the file is damaged",
                                   r->name, (unsigned long long)in->chunk_rows, (unsigned long long)in->chunk_cols,
                                   (unsigned long long)max[i], i == 0 ? "rows" : "columns");
    }
    int n = H5Pget_nfilters(dcpl);
    /* A partial last chunk stored unfiltered (H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS) keeps a filter mask of 0,
     * so nothing but the dataset's option tells our codec not to decode it: HDF5 reads such datasets. */
    unsigned opts = 0;
    if (in->chunked && H5Pget_chunk_opts(dcpl, &opts) < 0)
        H5Eclear2(H5E_DEFAULT);
    int raw_edge = (opts & H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS) && in->chunk_rows && in->rows % in->chunk_rows;
    int fast = in->chunked && in->codec.elem_size && in->chunk_cols == in->cols && n >= 0 && n <= 2 && !raw_edge;
    for (int i = 0; i < n && i < OOC_H5_MAX_FILTERS && !rc; i++) {
        unsigned flags, cd[8];
        size_t ncd = 8;
        ooc_h5_filter *f = &in->filters[in->nfilters++];
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof f->name, f->name, NULL);
        f->id = (int)id;
        if (id == H5Z_FILTER_ERROR) {
            rc = ooc__h5_fail(err, OOC_ECORRUPT, "%s: cannot read filter %d", r->name, i);
        } else if (!f->name[0] || id == OOC_H5Z_FILTER_ZSTD) {
            snprintf(f->name, sizeof f->name, "%s", id == OOC_H5Z_FILTER_ZSTD ? "zstd"
                                                  : id == H5Z_FILTER_DEFLATE  ? "deflate"
                                                                              : "unknown");
        }
        f->available = H5Zfilter_avail(id) > 0;
        f->optional = (flags & H5Z_FLAG_OPTIONAL) != 0;
        /* Ours is [shuffle?] then [zstd?], each at most once, in that order. */
        if (id == H5Z_FILTER_SHUFFLE && i == 0 && !in->codec.shuffle)
            in->codec.shuffle = 1;
        else if (id == OOC_H5Z_FILTER_ZSTD && !in->codec.zstd_level)
            in->codec.zstd_level = ncd > 0 && cd[0] > 0 ? (int)cd[0] : 3;
        else
            fast = 0;
    }
    /* A storage chunk taller than the dataset (h5py's resizable datasets: chunks of 1000 rows, 300 written)
     * decodes to more rows than the one processing chunk, clamped to the rows, holds: HDF5 reads those.
     * So does HDF5 read chunks of less than a page (rows written one at a time): a processing chunk each
     * would cost more than the rows in it (200k rows in 1-row chunks: 7.3 s a fit; through HDF5 2.5 s). */
    in->raw_chunks = fast && !rc && in->chunk_rows <= in->rows &&
                     in->chunk_rows * in->cols * in->type_size >= RAW_CHUNK_MIN_BYTES;
    return rc;
}

/* Whether every link of an absolute or relative path exists (H5Lexists needs each parent to exist). */
static int path_exists(hid_t file, const char *path)
{
    char buf[1024];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        int ok = strcmp(buf, "/") == 0 || H5Lexists(file, buf, H5P_DEFAULT) > 0;
        buf[i] = saved;
        if (!ok)
            return 0;
    }
    return 1;
}

/* Unfiltered chunks are best read straight from the file, at the chunk's own size: HDF5 1.10's chunk cache
 * reads them at the size the chunk index records, and a damaged index recording less overran its buffer
 * (h5py reads such files as written when its cache is off too). Without filters the cache saves nothing. */
static int reopen_uncached(ooc_h5_reader *r, const char *path, const char *dataset, ooc_error *err)
{
    /* Closed first: a dataset opened twice shares the first opening's chunk cache. */
    H5Dclose(r->dset);
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    r->dset = dapl < 0 || H5Pset_chunk_cache(dapl, H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0, H5D_CHUNK_CACHE_W0_DEFAULT) < 0
                  ? H5I_INVALID_HID
                  : H5Dopen2(r->file, dataset, dapl);
    if (dapl >= 0)
        H5Pclose(dapl);
    return r->dset < 0 ? ooc__h5_fail(err, OOC_EFORMAT, "%s: '%s' cannot be opened again", path, dataset) : 0;
}

/* The first filter HDF5 cannot decode here, refused. An optional one is not: writers such as h5py's lzf skip
 * it on chunks it does not shrink, and HDF5 reads those; a chunk that needs it fails when read, naming it. */
static int check_filters(const ooc_h5_reader *r, ooc_error *err)
{
    for (int i = 0; i < r->info.nfilters; i++)
        if (!r->info.filters[i].available && !r->info.filters[i].optional)
            return ooc_error_set(err, OOC_EFORMAT, "%s: HDF5 filter %d (%s) is not available to decode it", r->name,
                                 r->info.filters[i].id, r->info.filters[i].name);
    return 0;
}

/* When zstd decodes first and only shuffle follows (which keeps the size), the first stored chunk's frames
 * must hold a whole chunk: a damaged type size or chunk shape makes HDF5 expect more and copy past the
 * decoded buffer (wrong numbers, exit 0; h5py reads the same). Once, at open: the chunks of one file share
 * the damage. The first frame's header settles it when it records a whole chunk; otherwise (several frames,
 * a size not recorded, damage) the chunk is read, and decoded when its frames do not record their size. A
 * chunk stored with zstd skipped is left to HDF5, and so is a stored size past the file's (damage of another
 * kind, which HDF5's own read meets). */
static int check_decoded_size(const ooc_h5_reader *r, ooc_error *err)
{
    const ooc_h5_info *in = &r->info;
    if (!in->chunked || in->nfilters == 0 || in->filters[in->nfilters - 1].id != OOC_H5Z_FILTER_ZSTD)
        return 0;
    for (int i = 0; i < in->nfilters - 1; i++)
        if (in->filters[i].id != H5Z_FILTER_SHUFFLE) /* scaleoffset or nbit before zstd: another size */
            return 0;
    hsize_t at[2] = {0, 0}, size = 0;
    haddr_t addr = HADDR_UNDEF;
    unsigned mask = 0;
    uint32_t read_mask = 0;
    void *buf = NULL;
    hsize_t file_bytes = 0;
    unsigned long long held = ZSTD_CONTENTSIZE_UNKNOWN;
    uint64_t whole = in->chunk_rows * in->chunk_cols * in->type_size;
    if (H5Dget_chunk_info(r->dset, r->space, 0, at, &mask, &addr, &size) >= 0 && addr != HADDR_UNDEF &&
        size > 0 && H5Fget_filesize(r->file, &file_bytes) >= 0 && size <= file_bytes &&
        !(mask & (1u << (in->nfilters - 1))) &&
        (held = ooc__h5_inplace_first_frame_size(r->file, addr, size)) != whole && (buf = malloc(size)) != NULL &&
        H5Dread_chunk(r->dset, H5P_DEFAULT, at, &read_mask, buf) >= 0)
        held = ooc_codec_zstd_decoded_size(buf, size, whole + 1); /* more than whole: damaged too */
    free(buf);
    H5Eclear2(H5E_DEFAULT); /* no chunk, or one HDF5 cannot read: its read says so */
    if (held == ZSTD_CONTENTSIZE_UNKNOWN || held == ZSTD_CONTENTSIZE_ERROR || held == whole)
        return 0;
    return ooc_error_set(err, OOC_ECORRUPT, "%s: the chunk at row %llu decodes to %llu bytes, but its %llu x %llu "
                         "values (%zu bytes each) take %llu: the file is damaged", r->name, (unsigned long long)at[0],
                         held, (unsigned long long)in->chunk_rows, (unsigned long long)in->chunk_cols, in->type_size,
                         (unsigned long long)whole);
}

/* to_read: refuse what cannot be read (a filter not available), rather than only describe it. */
static int open_checked(ooc_h5_reader *r, const char *path, const char *dataset, int to_read, ooc_error *err)
{
    if (access(path, R_OK) != 0) /* "data.h5:X" is a file name: datasets are named FILE.h5:/X */
        return ooc_error_set(err, errno == ENOENT ? OOC_ENOTFOUND : OOC_EIO, "%s: %s%s", path, strerror(errno),
                             errno == ENOENT && strchr(path, ':') ? " (a dataset is named FILE.h5:/path)" : "");
    /* A FIFO or a terminal would block HDF5's first read for ever; a directory is no file either. */
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return ooc_error_set(err, OOC_EFORMAT, "%s: not a regular file", path);
    ooc__h5_reading(path);
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0)
        return ooc_error_set(err, OOC_EFORMAT, "%s: not an HDF5 file", path);
    r->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (r->file < 0)
        return ooc__h5_fail(err, OOC_ECORRUPT, "%s: cannot open", path);
    if (!path_exists(r->file, dataset))
        return ooc_error_set(err, OOC_ENOTFOUND, "%s: no dataset '%s'", path, dataset);
    r->dset = H5Dopen2(r->file, dataset, H5P_DEFAULT);
    if (r->dset < 0)
        return ooc__h5_fail(err, OOC_EFORMAT, "%s: cannot open '%s' as a dataset", path, dataset);
    r->space = H5Dget_space(r->dset);
    int rank = r->space < 0 ? -1 : H5Sget_simple_extent_ndims(r->space);
    if (rank < 0)
        return ooc__h5_fail(err, OOC_ECORRUPT, "%s: cannot read the shape", r->name);
    r->info.rank = rank;
    if (rank != 1 && rank != 2)
        return ooc_error_set(err, OOC_EFORMAT, "%s: a %d-D dataset; expected 2-D (samples x features)", r->name,
                             rank);
    hsize_t dims[2] = {0, 1}, max[2] = {0, 1};
    H5Sget_simple_extent_dims(r->space, dims, max);
    r->info.rows = dims[0];
    r->info.cols = rank == 2 ? dims[1] : 1;
    /* HDF5 never extends a dataset past its maximum shape; a damaged one that says so would be read as
     * fill values for as many rows as the damage says (10^11 rows: hours). */
    for (int i = 0; i < rank; i++)
        if (max[i] != H5S_UNLIMITED && dims[i] > max[i])
            return ooc_error_set(err, OOC_ECORRUPT, "%s: %llu %s, beyond its %llu at most: the file is damaged",
                                 r->name, (unsigned long long)dims[i], i == 0 ? "rows" : "columns",
                                 (unsigned long long)max[i]);
    r->info.stored_bytes = H5Dget_storage_size(r->dset);
    int rc = describe_type(r, err);
    if (!rc)
        rc = describe_layout(r, err);
    if (!rc && to_read)
        rc = check_filters(r, err);
    if (!rc && to_read)
        rc = check_decoded_size(r, err);
    if (!rc && strcmp(r->info.layout, "virtual") == 0 && ooc__h5_virtual_cycle(path, dataset))
        rc = ooc_error_set(err, OOC_EFORMAT, "%s: a virtual dataset whose sources lead back to it", r->name);
    if (!rc && to_read)
        rc = ooc__h5_virtual_sources(path, r->dset, r->dcpl, r->name, err);
    if (!rc && to_read)
        rc = ooc__h5_external_sources(path, r->dcpl, r->info.rows * r->info.cols * r->info.type_size, r->name, err);
    return rc || !r->info.chunked || r->info.nfilters ? rc : reopen_uncached(r, path, dataset, err);
}

/* HDF5 reads the bytes past a file's end as zeros: a file truncated while it is read, or rewritten (`cp` over
 * it), would give rows that were never there. So each read ends by checking that the file holding the data
 * is as it was opened (unchanged()), on a descriptor of our own (the same file HDF5 holds, even if another
 * is renamed over its path). Call with the lock held. */
static void watch(ooc_h5_reader *r)
{
    /* the file that holds the data: not the one the user named when the dataset is an external link */
    hid_t file = H5Iget_file_id(r->dset);
    ssize_t n = file < 0 ? -1 : H5Fget_name(file, NULL, 0);
    char *path = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (path && H5Fget_name(file, path, (size_t)n + 1) == n)
        r->watch = open(path, O_RDONLY | O_CLOEXEC);
    if (file >= 0)
        H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    if (r->watch >= 0 && fstat(r->watch, &r->known) != 0) {
        close(r->watch);
        r->watch = -1;
    }
    free(path);
}

/* An error when the file holding the data is no longer as it was opened: another size or modification time. */
static int unchanged(const ooc_h5_reader *r, ooc_error *err)
{
    struct stat now;
    if (r->watch < 0 || fstat(r->watch, &now) != 0)
        return 0;
    if (now.st_size == r->known.st_size && now.st_mtim.tv_sec == r->known.st_mtim.tv_sec &&
        now.st_mtim.tv_nsec == r->known.st_mtim.tv_nsec)
        return 0;
    return ooc_error_set(err, OOC_EIO, "%s: the file changed while it was read (%lld bytes, %lld when opened): "
                         "another program wrote it", r->name, (long long)now.st_size, (long long)r->known.st_size);
}

static int reader_open(const char *path, const char *dataset, int to_read, ooc_h5_reader **out, ooc_error *err)
{
    *out = NULL;
    ooc_h5_reader *r = calloc(1, sizeof *r);
    size_t n = strlen(path) + strlen(dataset) + 2;
    if (!r || !(r->name = malloc(n))) {
        free(r);
        return ooc_error_set(err, OOC_ENOMEM, "%s: out of memory", path);
    }
    snprintf(r->name, n, "%s:%s", path, dataset);
    r->file = r->dset = r->space = r->dcpl = -1;
    r->watch = -1;
    ooc__h5_lock();
    int rc = open_checked(r, path, dataset, to_read, err);
    if (!rc && to_read)
        watch(r);
    ooc__h5_unlock();
    if (rc) {
        ooc_h5_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

int ooc_h5_reader_open(const char *path, const char *dataset, ooc_h5_reader **out, ooc_error *err)
{
    return reader_open(path, dataset, 1, out, err);
}

int ooc_h5_reader_describe(const char *path, const char *dataset, ooc_h5_reader **out, ooc_error *err)
{
    return reader_open(path, dataset, 0, out, err);
}

/* "chunk 3 (rows 600..799)" or "rows 600..799", to name where a read failed. */
static void where(const ooc_h5_reader *r, uint64_t row0, uint64_t n, char *buf, size_t size)
{
    uint64_t last = row0 + (n ? n - 1 : 0);
    if (r->info.chunked && r->info.chunk_rows && row0 / r->info.chunk_rows == last / r->info.chunk_rows)
        snprintf(buf, size, "chunk %llu (rows %llu..%llu)", (unsigned long long)(row0 / r->info.chunk_rows),
                 (unsigned long long)row0, (unsigned long long)last);
    else
        snprintf(buf, size, "rows %llu..%llu", (unsigned long long)row0, (unsigned long long)last);
}

/* n elements of type t at dst set to the dataset's fill value (0 when it has none or HDF5 cannot convert it). */
static void fill(const ooc_h5_reader *r, size_t n, ooc_dtype t, void *dst)
{
    size_t size = ooc_dtype_size(t);
    unsigned char value[8] = {0}, zero[8] = {0};
    if (H5Pget_fill_value(r->dcpl, ooc__h5_mem_type(t), value) < 0) {
        H5Eclear2(H5E_DEFAULT);
        memset(value, 0, sizeof value);
    }
    if (memcmp(value, zero, size) == 0) {
        memset(dst, 0, n * size);
        return;
    }
    for (size_t i = 0; i < n; i++)
        memcpy((char *)dst + i * size, value, size);
}

/* HDF5 keeps a few KiB of bookkeeping for every storage chunk a read touches (1.10: about 6 KiB), held until
 * the read ends: a million 1-row chunks read at once took 6 GB. So a read touches at most this many. */
#define READ_CHUNKS_MAX 512

static uint64_t rows_per_read(const ooc_h5_reader *r)
{
    if (!r->info.chunked || !r->info.chunk_rows)
        return UINT64_MAX;
    uint64_t across = (r->info.cols + r->info.chunk_cols - 1) / r->info.chunk_cols; /* chunks side by side */
    uint64_t bands = READ_CHUNKS_MAX / across > 0 ? READ_CHUNKS_MAX / across : 1;
    return bands * r->info.chunk_rows;
}

/* Rows [row0, row0 + n), columns [col0, col0 + cols) into dst (n x cols, contiguous). */
static int read_block(ooc_h5_reader *r, uint64_t row0, uint64_t n, uint64_t col0, uint64_t cols, ooc_dtype t,
                      void *dst)
{
    hsize_t start[2] = {row0, col0}, count[2] = {n, cols};
    hid_t mem = H5Screate_simple(r->info.rank, count, NULL);
    int bad = H5Sselect_hyperslab(r->space, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
              H5Dread(r->dset, ooc__h5_mem_type(t), mem, r->space, H5P_DEFAULT, dst) < 0;
    /* Every HDF5 call clears the error stack first: keep the read's reason across the close. */
    hid_t reason = bad ? H5Eget_current_stack() : H5I_INVALID_HID;
    H5Sclose(mem);
    if (reason >= 0)
        H5Eset_current_stack(reason);
    return bad;
}

/* Unfiltered chunks that split the columns, read a band of chunk columns at a time into a buffer of their
 * own: read whole rows at once with HDF5's chunk cache off (reopen_uncached()), HDF5 made a read of each
 * row of each chunk (h5py's chunks for a resizable 1M x 20, (256, 5): 6.5 s a pass against h5py's 0.4 s);
 * in a band, each chunk is one run of the file and of the buffer, read at once. */
static int read_bands(ooc_h5_reader *r, uint64_t row0, uint64_t n, ooc_dtype t, void *dst)
{
    size_t esize = ooc_dtype_size(t), width = (size_t)r->info.chunk_cols;
    if (n * width * esize > r->band_cap) {
        void *b = realloc(r->band, n * width * esize);
        if (!b)
            return 1;
        r->band = b;
        r->band_cap = n * width * esize;
    }
    for (uint64_t c0 = 0; c0 < r->info.cols; c0 += width) {
        size_t w = r->info.cols - c0 < width ? (size_t)(r->info.cols - c0) : width;
        if (read_block(r, row0, n, c0, w, t, r->band))
            return 1;
        for (uint64_t i = 0; i < n; i++)
            memcpy((char *)dst + ((size_t)i * r->info.cols + c0) * esize, (char *)r->band + (size_t)i * w * esize,
                   w * esize);
    }
    return 0;
}

static int read_hyperslab(ooc_h5_reader *r, uint64_t row0, uint64_t n, ooc_dtype t, void *dst)
{
    if (r->info.chunked && r->info.nfilters == 0 && r->info.rank == 2 && r->info.chunk_cols < r->info.cols)
        return read_bands(r, row0, n, t, dst);
    return read_block(r, row0, n, 0, r->info.cols, t, dst);
}

int ooc_h5_reader_read_rows(ooc_h5_reader *r, uint64_t row0, uint64_t n, ooc_dtype t, void *dst,
                            ooc_error *err)
{
    if (!ooc_dtype_valid(t))
        return ooc_error_set(err, OOC_EINVAL, "%s: type %d is no ooc_dtype", r->name, (int)t);
    if (row0 > r->info.rows || n > r->info.rows - row0)
        return ooc_error_set(err, OOC_EINVAL, "%s: rows %llu..%llu are beyond the %llu rows", r->name,
                             (unsigned long long)row0, (unsigned long long)(row0 + n),
                             (unsigned long long)r->info.rows);
    if (n == 0)
        return 0;
    ooc__h5_lock();
    int rc = 0;
    if (r->prefill)
        fill(r, (size_t)(n * r->info.cols), t, dst);
    size_t row_bytes = (size_t)r->info.cols * ooc_dtype_size(t);
    uint64_t block = rows_per_read(r) < n ? rows_per_read(r) : n, at = row0, end = row0 + n;
    for (; at < end; at += block)
        if (read_hyperslab(r, at, end - at < block ? end - at : block, t, (char *)dst + (at - row0) * row_bytes))
            break;
    if (at < end) {
        /* Name the storage chunk that failed: read that block again one row chunk at a time. */
        uint64_t to = end - at < block ? end : at + block;
        uint64_t step = r->info.chunked && r->info.chunk_rows ? r->info.chunk_rows : to - at;
        H5Eclear2(H5E_DEFAULT);
        for (uint64_t c = at - at % step; c < to; c += step) {
            uint64_t from = c > at ? c : at, until = c + step < to ? c + step : to;
            if (read_hyperslab(r, from, until - from, t, (char *)dst + (from - row0) * row_bytes)) {
                at = from;
                break;
            }
        }
        char w[96];
        where(r, at, step < to - at ? step : to - at, w, sizeof w);
        rc = ooc__h5_fail(err, OOC_ECORRUPT, "%s: %s: cannot read", r->name, w);
    }
    ooc__h5_unlock();
    return rc ? rc : unchanged(r, err);
}

static uint64_t chunk_bytes(const ooc_h5_info *in)
{
    return in->chunk_rows * in->cols * in->type_size;
}

/* Whether a raw chunk stored with the filters of `mask` skipped holds as many bytes as that leaves: with zstd
 * skipped (shuffle alone keeps the size), the whole chunk. HDF5 1.10 trusts the filters' output and reads a
 * shorter one past its end (garbage rows, different on every run). */
static int stored_as_masked(const ooc_h5_info *in, unsigned mask, uint64_t stored)
{
    for (int i = 0; i < in->nfilters; i++)
        if (in->filters[i].id == OOC_H5Z_FILTER_ZSTD && (mask >> i & 1u))
            return stored == chunk_bytes(in);
    return 1;
}

int ooc_h5_reader_read_raw_chunk(ooc_h5_reader *r, uint64_t chunk, void **buf, size_t *cap, size_t *bytes,
                                 ooc_error *err)
{
    const ooc_h5_info *in = &r->info;
    if (!in->raw_chunks || chunk * in->chunk_rows >= in->rows)
        return ooc_error_set(err, OOC_EINVAL, "%s: chunk %llu: no such raw chunk", r->name,
                             (unsigned long long)chunk);
    hsize_t offset[2] = {chunk * in->chunk_rows, 0};
    hsize_t stored = 0;
    int rc = 0;
    *bytes = 0;
    /* Unfiltered chunks go through HDF5's own read, as h5py's do: for them H5Dget_chunk_storage_size gives
     * the chunk's size while H5Dread_chunk reads as many bytes as the chunk index records, which a damaged
     * or foreign index may set larger than the buffer. */
    if (in->nfilters == 0)
        return 0;
    ooc__h5_lock();
    /* An index lookup (H5Dget_chunk_info_by_coord would search the chunks one by one: quadratic over a
     * pass). It fails for a chunk never written: then *bytes stays 0 and the caller reads the rows through
     * HDF5, which gives fill values or says what is wrong. */
    if (H5Dget_chunk_storage_size(r->dset, offset, &stored) < 0 || stored == 0) {
        H5Eclear2(H5E_DEFAULT);
    } else {
        if (stored > *cap) {
            void *p = realloc(*buf, stored);
            if (!p) {
                ooc__h5_unlock();
                return ooc_error_set(err, OOC_ENOMEM, "%s: chunk %llu: cannot allocate %llu bytes", r->name,
                                     (unsigned long long)chunk, (unsigned long long)stored);
            }
            *buf = p;
            *cap = stored;
        }
        uint32_t mask = 0;
        if (H5Dread_chunk(r->dset, H5P_DEFAULT, offset, &mask, *buf) < 0)
            rc = ooc__h5_fail(err, OOC_ECORRUPT, "%s: chunk %llu: cannot read", r->name, (unsigned long long)chunk);
        else if (mask == 0) /* stored with a filter skipped: not what the codec expects */
            *bytes = stored;
        else if (!stored_as_masked(in, mask, stored)) /* HDF5 would read past the stored bytes */
            rc = ooc_error_set(err, OOC_ECORRUPT, "%s: chunk %llu: stored %llu bytes, but its filter mask says they "
                               "are not compressed, which takes %llu", r->name, (unsigned long long)chunk,
                               (unsigned long long)stored, (unsigned long long)chunk_bytes(in));
    }
    ooc__h5_unlock();
    return rc ? rc : unchanged(r, err);
}

/* The chunk table, located on first use, in the file that holds the dataset: not the one the user named
 * when the dataset is an external link into another (its addresses and user block are the other's). Read
 * through the watched descriptor: the file HDF5 holds and unchanged() checks. */
static const ooc__h5_inplace *inplace(ooc_h5_reader *r)
{
    ooc__h5_lock();
    if (!r->inplace_tried) {
        r->inplace_tried = 1;
        hid_t file = H5Iget_file_id(r->dset);
        if (file >= 0 && r->watch >= 0)
            r->inplace = ooc__h5_inplace_open(r->watch, file, r->dset, &r->info);
        if (file >= 0)
            H5Fclose(file);
        H5Eclear2(H5E_DEFAULT);
    }
    ooc__h5_unlock();
    return r->inplace;
}

size_t ooc_h5_reader_read_raw_chunk_in_place(ooc_h5_reader *r, uint64_t chunk, void *buf, size_t cap)
{
    const ooc__h5_inplace *t = inplace(r);
    const ooc_h5_info *in = &r->info;
    size_t n = t ? ooc__h5_inplace_read(t, chunk, (size_t)(in->chunk_rows * in->cols * in->type_size), buf, cap) : 0;
    return n && !unchanged(r, NULL) ? n : 0; /* a changed file: HDF5's read, which says so (above) */
}

int ooc_h5_reader_in_place(ooc_h5_reader *r, uint64_t *max_bytes)
{
    const ooc__h5_inplace *t = inplace(r);
    *max_bytes = t ? ooc__h5_inplace_max_bytes(t) : 0;
    return t != NULL;
}

