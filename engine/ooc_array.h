/* ooc_array.h: a lazy 2-D chunked array (samples x features) over an input.
 *
 * Inputs: "FILE.h5" or "FILE.h5:/path/to/dataset" (default /X): any 2-D numeric HDF5 dataset, any layout,
 * any filter HDF5 decodes, any integer or float type in either byte order; and "blobs:..." (ooc_blobs.h),
 * generated on demand. Opening reads metadata only.
 *
 * The array is processed in row chunks ("processing chunks"): for our own layout, the storage chunks; for
 * other chunked datasets, whole multiples of the storage chunk rows; for contiguous ones, blocks of about
 * OOC_ARRAY_TARGET_CHUNK_BYTES. Chunk i covers rows [i * chunk_rows, min((i + 1) * chunk_rows, rows)).
 *
 * Reading chunk i never reads chunk j, and goes in two steps so a pass can run ahead on I/O:
 * ooc_array_fetch() (the serial part: HDF5, under its lock; or, for zstd chunks of our layout, a read of the
 * chunk's bytes from their place in the file, in parallel, see ooc_h5_reader_read_raw_chunk_in_place) into
 * an ooc_array_raw, then
 * ooc_array_decode() (the parallel part: decompression, type conversion, generation) into rows.
 */
#ifndef OOC_ARRAY_H
#define OOC_ARRAY_H

#include "ooc_codec.h"
#include "ooc_dist.h"
#include "ooc_dtype.h"
#include "ooc_error.h"
#include "ooc_h5.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OOC_ARRAY_TARGET_CHUNK_BYTES ((size_t)16 << 20)

typedef struct ooc_array ooc_array;

typedef struct ooc_array_info {
    uint64_t rows, cols;
    ooc_dtype dtype;           /* the compute type: float32 when stored as float32, else float64 */
    uint64_t chunk_rows;       /* rows of a processing chunk */
    uint64_t nchunks;
    const char *input;         /* as the user gave it */
    const ooc_h5_info *h5;     /* storage details of an HDF5 input; NULL for generated arrays */
} ooc_array_info;

/* ooc_array_open(): OOC_EINVAL for a malformed input string or blobs spec; the reader's errors for files;
 * OOC_EFORMAT for a dataset that is not 2-D; OOC_EINVAL for zero rows or columns. */
int ooc_array_open(const char *input, ooc_array **out, ooc_error *err);
/* ooc_array_describe(): the same, to describe the input only: zero rows or columns (then no chunk) and a
 * filter HDF5 cannot decode (ooc_h5_reader_describe()) are no error; such an array is not for streaming. */
int ooc_array_describe(const char *input, ooc_array **out, ooc_error *err);
void ooc_array_free(ooc_array *a); /* NULL is a no-op */

const ooc_array_info *ooc_array_get_info(const ooc_array *a);

/* ooc_array_agree(): collective; OOC_EINVAL in every process unless each sees the input as process 0 does:
 * the same shape, type and chunking and, for a file, the same bytes stored (another copy of the input with
 * other values almost always compresses to another size). Processes that each open the path on their own
 * machine may open different files; their rows would be mixed silently. d NULL: 0. */
int ooc_array_agree(const ooc_array *a, const ooc_dist *d, ooc_error *err);

/* ooc_array_chunk_rows(): rows in chunk i (the last may be short). */
uint64_t ooc_array_chunk_rows(const ooc_array *a, uint64_t chunk);

/* A chunk between fetch and decode. Zero-initialise; reuse across chunks; ooc_array_raw_free() at the end. */
typedef struct ooc_array_raw {
    uint64_t chunk;
    size_t bytes;      /* stored bytes (raw chunks), or rows already converted (other layouts), in buf */
    int decoded;       /* they are rows already (HDF5 decoded them) */
    uint64_t bytes_read; /* bytes taken from the file for this chunk */
    void *buf;
    size_t cap;
} ooc_array_raw;

void ooc_array_raw_free(ooc_array_raw *raw);

/* ooc_array_in_place(): whether this array's chunks are read in place (see
 * ooc_h5_reader_read_raw_chunk_in_place): then a fetch takes no lock, and *max_stored_bytes gets the most
 * one fetched chunk holds. */
int ooc_array_in_place(ooc_array *a, uint64_t *max_stored_bytes);

/* ooc_array_fetch(): the I/O of chunk `chunk` into raw. Serialised internally; call from any thread. */
int ooc_array_fetch(ooc_array *a, uint64_t chunk, ooc_array_raw *raw, ooc_error *err);

/* ooc_array_decode(): rows of the fetched chunk into dst, row-major in info->dtype. dst must hold a full
 * chunk (info->chunk_rows x cols), even for a short last chunk: only its first ooc_array_chunk_rows() rows
 * are the chunk's. ctx: the calling thread's codec scratch. Errors name the input and chunk. */
int ooc_array_decode(ooc_array *a, const ooc_array_raw *raw, ooc_codec_ctx *ctx, void *dst, ooc_error *err);

/* Decoding in pieces, so each piece of rows is used while still in cache: ooc_array_stage() decodes a
 * fetched chunk of our byte-shuffled layout to its staged form (ooc_codec_decode_staged(): in ctx's scratch,
 * or in raw's bytes) and returns 1 with *staged set; for other chunks it returns 0 and does nothing (decode
 * them whole); or a negative error, as ooc_array_decode()'s. ooc_array_unstage(): rows [from, from + n) of
 * the chunk, row-major in info->dtype, from its staged form into dst. raw and ctx must be left as they are
 * until the last piece. */
int ooc_array_stage(ooc_array *a, const ooc_array_raw *raw, ooc_codec_ctx *ctx, const void **staged, ooc_error *err);
void ooc_array_unstage(const ooc_array *a, const void *staged, uint64_t from, uint64_t n, void *dst);

#ifdef __cplusplus
}
#endif

#endif
