/* ooc_h5.h: HDF5 datasets, read and written chunk by chunk.
 *
 * Writing: ooc_h5_file_create() a file (normally the temporary path of an ooc_output), add small datasets
 * and root attributes, and chunked datasets whose chunks are encoded by ooc_codec in the caller's threads
 * and handed over as raw bytes in any order (write them in chunk order for byte-identical files).
 *
 * Reading: ooc_h5_reader_open() any 1-D or 2-D numeric dataset; read row ranges through HDF5 (any layout,
 * filter, type and byte order, converted to the type asked for), or, when the dataset is laid out as ours
 * (row chunks spanning all columns, native float, filters [shuffle?][zstd?]), fetch raw chunks and decode
 * them with ooc_codec in the caller's threads.
 *
 * Every call is thread-safe (HDF5 itself runs under one lock). Errors name the file, dataset and chunk.
 */
#ifndef OOC_H5_H
#define OOC_H5_H

#include "ooc_codec.h"
#include "ooc_dtype.h"
#include "ooc_error.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- writing ---------------------------------------------------------------------------------------- */

typedef struct ooc_h5_file ooc_h5_file;

/* ooc_h5_file_create(): create (truncate) an HDF5 file at path; messages call it `name` (the destination
 * the user named, when path is its temporary file; NULL: path). */
int ooc_h5_file_create(const char *path, const char *name, ooc_h5_file **out, ooc_error *err);

/* ooc_h5_file_close(): flush and close; a failed flush (e.g. full disk) is an error. NULL is a no-op. */
int ooc_h5_file_close(ooc_h5_file *f, ooc_error *err);

/* Root attributes. */
int ooc_h5_attr_uint(ooc_h5_file *f, const char *name, uint64_t value, ooc_error *err);
int ooc_h5_attr_double(ooc_h5_file *f, const char *name, double value, ooc_error *err);
int ooc_h5_attr_doubles(ooc_h5_file *f, const char *name, const double *values, size_t n, ooc_error *err);
int ooc_h5_attr_string(ooc_h5_file *f, const char *name, const char *value, ooc_error *err);
/* ooc_h5_attr_bool(): an 8-bit enum FALSE = 0, TRUE = 1, which h5py reads as numpy.bool_. */
int ooc_h5_attr_bool(ooc_h5_file *f, const char *name, int value, ooc_error *err);

/* ooc_h5_write_dataset(): a small contiguous dataset written whole: rank 1 (dims[0]) or 2 (dims[0] x
 * dims[1]) elements of type t from data. */
int ooc_h5_write_dataset(ooc_h5_file *f, const char *name, ooc_dtype t, int rank, const uint64_t *dims,
                         const void *data, ooc_error *err);

typedef struct ooc_h5_chunked_params {
    ooc_dtype dtype;
    int rank;            /* 1 (rows) or 2 (rows x cols) */
    uint64_t rows, cols; /* cols = 1 when rank = 1 */
    uint64_t chunk_rows; /* rows per chunk; clamped to rows */
    ooc_codec codec;     /* filters of the dataset; codec.elem_size is set from dtype */
} ooc_h5_chunked_params;

typedef struct ooc_h5_chunked ooc_h5_chunked;

/* ooc_h5_chunked_create(): a chunked dataset `name` in f with the shuffle/zstd filters of p->codec. With f
 * NULL, its layout alone, for encoding chunks that another process writes: writing to it is an error. */
int ooc_h5_chunked_create(ooc_h5_file *f, const char *name, const ooc_h5_chunked_params *p,
                          ooc_h5_chunked **out, ooc_error *err);

/* ooc_h5_chunked_codec(): the codec chunks must be encoded with (elem_size filled in). */
const ooc_codec *ooc_h5_chunked_codec(const ooc_h5_chunked *d);

/* ooc_h5_chunked_blame(): err (an encoding's failure, say) as one of chunk `chunk` of d, named; its code. */
int ooc_h5_chunked_blame(const ooc_h5_chunked *d, uint64_t chunk, ooc_error *err);

/* ooc_h5_chunked_chunk_bytes(): raw bytes of one stored chunk: chunk_rows x cols x element size. The last
 * chunk is stored at full size too (HDF5's rule), its rows past the end zero. */
size_t ooc_h5_chunked_chunk_bytes(const ooc_h5_chunked *d);

/* ooc_h5_chunked_chunk_rows(): rows per chunk (after clamping to the dataset's rows). */
uint64_t ooc_h5_chunked_chunk_rows(const ooc_h5_chunked *d);

/* ooc_h5_chunked_get_params(): the dataset's type, shape and filters as created (chunk_rows clamped). */
ooc_h5_chunked_params ooc_h5_chunked_get_params(const ooc_h5_chunked *d);

/* ooc_h5_chunked_write(): store chunk index `chunk` from `bytes` encoded bytes. */
int ooc_h5_chunked_write(ooc_h5_chunked *d, uint64_t chunk, const void *encoded, size_t bytes, ooc_error *err);

/* ooc_h5_chunked_close(): close, reporting a failed metadata write. NULL is a no-op. */
int ooc_h5_chunked_close(ooc_h5_chunked *d, ooc_error *err);

/* ---- reading ---------------------------------------------------------------------------------------- */

/* ooc_h5_crash_file(): for a handler of SIGSEGV and the like: NULL unless the calling thread is inside an
 * HDF5 call of ooc's, and then the file HDF5 was last asked to read (HDF5 1.10 crashes on some damaged
 * files, h5dump and h5py too). Async-signal-safe. */
const char *ooc_h5_crash_file(void);

/* ooc_h5_busy(): whether a thread is inside an HDF5 call of ooc's now: a run cannot see a cancel request
 * there until HDF5 returns (on some damaged files it never does). Async-signal-safe. */
int ooc_h5_busy(void);

#define OOC_H5_MAX_FILTERS 8

typedef struct ooc_h5_filter {
    int id;
    char name[48];
    int available; /* HDF5 can decode it here (a plugin found, or built in) */
    int optional;  /* H5Z_FLAG_OPTIONAL: a chunk may have been stored without it (its filter mask says so) */
} ooc_h5_filter;

typedef struct ooc_h5_info {
    int rank;                  /* as stored; readers accept 1 or 2 */
    uint64_t rows, cols;       /* cols = 1 for rank 1 */
    char type_name[32];        /* "float64", "int16", "uint8", ... */
    int is_float, is_signed;   /* integers and floats other than float32 are converted to float64 on read */
    int big_endian;
    size_t type_size;
    int chunked;               /* else contiguous or compact */
    char layout[16];           /* "chunked", "contiguous", "compact", "virtual" or "external" (raw storage
                                * in other files) */
    uint64_t chunk_rows, chunk_cols; /* storage chunk shape when chunked */
    int nfilters;
    ooc_h5_filter filters[OOC_H5_MAX_FILTERS];
    uint64_t stored_bytes;     /* bytes the data takes in the file */
    int raw_chunks;            /* our fast path applies: chunk_cols = cols, chunk_rows <= rows, a chunk of a
                                * page (4 KiB) or more, native little-endian float, [shuffle?][zstd?] */
    ooc_codec codec;           /* the decoder for raw chunks when raw_chunks */
} ooc_h5_info;

typedef struct ooc_h5_reader ooc_h5_reader;

/* ooc_h5_reader_open(): open dataset (e.g. "/X") of the HDF5 file at path, read-only. Errors: missing file
 * (OOC_ENOTFOUND), not HDF5 or unreadable metadata (OOC_EFORMAT/OOC_ECORRUPT), missing dataset
 * (OOC_ENOTFOUND), non-numeric type, rank other than 1 or 2, or a filter HDF5 cannot decode (OOC_EFORMAT). */
int ooc_h5_reader_open(const char *path, const char *dataset, ooc_h5_reader **out, ooc_error *err);
/* ooc_h5_reader_describe(): the same, to describe the dataset only: a filter HDF5 cannot decode is no error
 * (its `available` says so), and reading rows then fails. */
int ooc_h5_reader_describe(const char *path, const char *dataset, ooc_h5_reader **out, ooc_error *err);
void ooc_h5_reader_close(ooc_h5_reader *r); /* NULL is a no-op */

const ooc_h5_info *ooc_h5_reader_info(const ooc_h5_reader *r);
const char *ooc_h5_reader_name(const ooc_h5_reader *r); /* "path:/dataset", for messages */

/* ooc_h5_reader_read_rows(): rows [row0, row0 + n) converted to t into dst (n x cols, row-major), through
 * HDF5's own pipeline; rows never written read as the dataset's fill value (0 by default), whatever its fill
 * time. A failure names the storage chunk holding row0 when the dataset is chunked. */
int ooc_h5_reader_read_rows(ooc_h5_reader *r, uint64_t row0, uint64_t n, ooc_dtype t, void *dst,
                            ooc_error *err);

/* ooc_h5_reader_read_raw_chunk(): the stored bytes of row chunk `chunk` (raw_chunks datasets only) into
 * *buf, grown with realloc as needed (*cap tracks its size); *bytes gets the stored size, to decode with
 * info->codec into chunk_rows x cols elements. *bytes = 0 when the chunk is not stored as the codec expects
 * (never written, so HDF5 would give fill values, or stored with filters skipped): read its rows with
 * ooc_h5_reader_read_rows() instead. */
int ooc_h5_reader_read_raw_chunk(ooc_h5_reader *r, uint64_t chunk, void **buf, size_t *cap, size_t *bytes,
                                 ooc_error *err);

/* ooc_h5_reader_read_raw_chunk_in_place(): like ooc_h5_reader_read_raw_chunk(), but read straight from
 * where the chunk lies in the file (the first call locates the chunks; later ones take no lock, so threads
 * read in parallel) into buf, of cap bytes. Returns the stored bytes read, or 0 when the chunk cannot be read
 * in place (not zstd, too many chunks to locate, larger than cap, not whole zstd frames where HDF5's index
 * says, a failed read): then read it with ooc_h5_reader_read_raw_chunk(), which says what is wrong. */
size_t ooc_h5_reader_read_raw_chunk_in_place(ooc_h5_reader *r, uint64_t chunk, void *buf, size_t cap);

/* ooc_h5_reader_in_place(): whether raw chunks can be read in place (locating them on the first call):
 * then *max_bytes gets the largest stored chunk, the most one read takes. */
int ooc_h5_reader_in_place(ooc_h5_reader *r, uint64_t *max_bytes);

/* ---- conveniences ----------------------------------------------------------------------------------- */

/* ooc_h5_split_name(): "FILE.h5" or "FILE.h5:/path/to/dataset" into the file and the dataset (default_dataset
 * when none is given; the dataset is what follows the last ":/"). OOC_EINVAL if a part does not fit, or if
 * the file part ends with ':' (as "FILE.h5:" does). */
int ooc_h5_split_name(const char *spec, const char *default_dataset, char *file, size_t file_size, char *dataset,
                      size_t dataset_size);

/* ooc_h5_dataset_uses_file(): 1 when the values of `dataset` in the HDF5 file at `path` come, in whole or in
 * part, from the file at `other` (the same file: device and inode): the file at `path` itself, the file an
 * external link on the way leads to, a virtual dataset's source files (and theirs), external raw storage;
 * looked for everywhere HDF5 may find them (as named, beside the file naming them or its real path, under
 * HDF5_EXT_PREFIX, HDF5_VDS_PREFIX and HDF5_EXTFILE_PREFIX, an absolute name by its last part). Else 0, also when the
 * dataset cannot be opened (reading it will say why). For refusing an output that would replace an input. */
int ooc_h5_dataset_uses_file(const char *path, const char *dataset, const char *other);

/* ooc_h5_read_matrix(): a whole small non-empty 2-D dataset as float64 into *out (malloc'd, rows x cols);
 * ooc_h5_read_vector() a 1-D one (n values). OOC_ENOTFOUND when there is no such dataset. */
int ooc_h5_read_matrix(const char *path, const char *dataset, double **out, uint64_t *rows, uint64_t *cols,
                       ooc_error *err);
int ooc_h5_read_vector(const char *path, const char *dataset, double **out, uint64_t *n, ooc_error *err);

/* ooc_h5_read_root_number(): the file's root attribute `name`, a numeric scalar (or an enum's, such as a
 * boolean), as a double in *v; OOC_ENOTFOUND (err untouched) when the root has no such attribute, OOC_EFORMAT
 * when it is not a number. ooc_h5_read_root_count() likewise for a non-negative integer (exact to 2^64 - 1),
 * ooc_h5_read_root_string() for a string, cut to fit buf (size bytes). */
int ooc_h5_read_root_number(const char *path, const char *name, double *v, ooc_error *err);
int ooc_h5_read_root_count(const char *path, const char *name, uint64_t *v, ooc_error *err);
int ooc_h5_read_root_string(const char *path, const char *name, char *buf, size_t size, ooc_error *err);

#ifdef __cplusplus
}
#endif

#endif
