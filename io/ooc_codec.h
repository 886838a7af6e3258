/* ooc_codec.h: one chunk's bytes as stored by HDF5 with the filters [shuffle?] -> [zstd?].
 *
 * This is the fast path: our threads compress and decompress whole chunks, and HDF5 only moves the raw
 * bytes (H5Dwrite_chunk / H5Dread_chunk). Encoded chunks are byte-for-byte what HDF5's shuffle filter and
 * the zstd filter 32015 produce and accept, so h5py (with the plugin) reads our files and we read theirs.
 * Every zstd frame we write carries zstd's content checksum, so a corrupt chunk is detected on decode.
 */
#ifndef OOC_CODEC_H
#define OOC_CODEC_H

#include "ooc_error.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OOC_H5Z_FILTER_ZSTD 32015 /* the registered HDF5 filter id for Zstandard */

typedef struct ooc_codec {
    int zstd_level;   /* 0: no compression; else the zstd level (1..22), stored as cd_values[0] */
    int shuffle;      /* byte-shuffle before compression, as HDF5's shuffle filter */
    size_t elem_size; /* bytes per element, for the shuffle */
} ooc_codec;

/* ooc_codec_parse(): "zstd", "zstd:LEVEL" (1..22) or "none" into c->zstd_level; 0 or OOC_EINVAL. */
int ooc_codec_parse(const char *s, ooc_codec *c);

/* ooc_codec_bound(): the largest encoded size of a raw chunk of raw_bytes. */
size_t ooc_codec_bound(const ooc_codec *c, size_t raw_bytes);

/* Per-thread scratch: zstd contexts and a shuffle buffer. Not shared between threads. */
typedef struct ooc_codec_ctx ooc_codec_ctx;
int ooc_codec_ctx_create(ooc_codec_ctx **out);
void ooc_codec_ctx_free(ooc_codec_ctx *ctx); /* NULL is a no-op */

/* ooc_codec_ctx_reserve(): allocate and touch now the shuffle scratch for chunks of up to `bytes`, so the
 * first chunk does not pay for it. 0 or OOC_ENOMEM. */
int ooc_codec_ctx_reserve(ooc_codec_ctx *ctx, size_t bytes);

/* ooc_codec_encode(): encode raw_bytes of src into dst (capacity cap >= ooc_codec_bound()); *out_bytes gets
 * the encoded size. Returns 0, OOC_ENOMEM, or OOC_EINTERNAL (zstd refused: message in err). */
int ooc_codec_encode(const ooc_codec *c, ooc_codec_ctx *ctx, const void *src, size_t raw_bytes, void *dst,
                     size_t cap, size_t *out_bytes, ooc_error *err);

/* The same in two steps, so a producer can hand a chunk over in parts while each is still in its cache:
 * ooc_codec_stage() puts the raw bytes [offset, offset + bytes) of a chunk of raw_bytes, given at src, in
 * their places in the chunk's staged form at `staged` (byte-shuffled if the codec shuffles, else as they
 * are); offset, bytes and raw_bytes are multiples of elem_size. Once every part is staged,
 * ooc_codec_encode_staged() encodes the chunk as ooc_codec_encode() would have encoded the raw chunk. */
void ooc_codec_stage(const ooc_codec *c, const void *src, size_t offset, size_t bytes, void *staged,
                     size_t raw_bytes);
int ooc_codec_encode_staged(const ooc_codec *c, ooc_codec_ctx *ctx, const void *staged, size_t raw_bytes,
                            void *dst, size_t cap, size_t *out_bytes, ooc_error *err);

/* ooc_codec_decode(): decode `bytes` of src (with zstd, one frame or several) into exactly raw_bytes at dst.
 * Anything else (bad frame, checksum mismatch, wrong decoded size) is OOC_ECORRUPT with zstd's reason in err
 * ("zstd: ..."). */
int ooc_codec_decode(const ooc_codec *c, ooc_codec_ctx *ctx, const void *src, size_t bytes, void *dst,
                     size_t raw_bytes, ooc_error *err);

/* ooc_codec_zstd_content_size(): the decoded size of the zstd frames at src, one after the other (zstd and
 * the HDF5 zstd filter accept a chunk of several): ZSTD_CONTENTSIZE_UNKNOWN when a frame does not record it,
 * ZSTD_CONTENTSIZE_ERROR when the bytes are not whole frames. */
unsigned long long ooc_codec_zstd_content_size(const void *src, size_t bytes);
/* ooc_codec_zstd_decoded_size(): the same, but frames that do not record their size are decoded (into at
 * most `limit` bytes) to learn it: ZSTD_CONTENTSIZE_UNKNOWN when they hold more or cannot be decoded. */
unsigned long long ooc_codec_zstd_decoded_size(const void *src, size_t bytes, size_t limit);

/* Decoding in two steps, the inverse of the two above, so a consumer can take a chunk's rows in parts while
 * each is still in its cache: ooc_codec_decode_staged() decodes the stored chunk into its staged form
 * (*staged: in ctx's scratch, valid until ctx's next use; or src itself when nothing is compressed), with
 * ooc_codec_decode()'s errors; ooc_codec_unstage() then puts the raw bytes [offset, offset + bytes) of the
 * chunk, contiguous, at dst (offset, bytes and raw_bytes multiples of elem_size). */
int ooc_codec_decode_staged(const ooc_codec *c, ooc_codec_ctx *ctx, const void *src, size_t bytes,
                            size_t raw_bytes, const void **staged, ooc_error *err);
void ooc_codec_unstage(const ooc_codec *c, const void *staged, size_t offset, size_t bytes, void *dst,
                       size_t raw_bytes);

#ifdef __cplusplus
}
#endif

#endif
