#include "ooc_h5zstd_internal.h"

#include "ooc_codec.h"

#include <stdlib.h>
#include <zstd.h>

#define DEFAULT_LEVEL 3

/* HDF5's filter contract: return the new data size and swap *buf (malloc'd) for the output, or 0 on
 * failure leaving *buf alone. */
static size_t zstd_compress_chunk(unsigned cd_nelmts, const unsigned cd_values[], size_t nbytes,
                                  size_t *buf_size, void **buf)
{
    int level = cd_nelmts > 0 ? (int)cd_values[0] : DEFAULT_LEVEL;
    size_t cap = ZSTD_compressBound(nbytes);
    void *out = malloc(cap);
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    size_t n = 0;
    if (out && cctx) {
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
        n = ZSTD_compress2(cctx, out, cap, *buf, nbytes);
    }
    ZSTD_freeCCtx(cctx);
    if (!out || ZSTD_isError(n) || n == 0) {
        free(out);
        return 0;
    }
    free(*buf);
    *buf = out;
    *buf_size = cap;
    return n;
}

/* Frames written by other zstd filters may not record their content size, and a chunk may hold several
 * frames, skippable or empty ones among them: decode it as a stream into a buffer that grows, starting at
 * the first frame's size when it declares one (never at 0: a buffer that doubles must hold something). */
static size_t zstd_decompress_chunk(size_t nbytes, size_t *buf_size, void **buf)
{
    unsigned long long declared = ZSTD_getFrameContentSize(*buf, nbytes);
    if (declared == ZSTD_CONTENTSIZE_ERROR)
        return 0;
    size_t cap = declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > 0 ? (size_t)declared : ZSTD_DStreamOutSize();
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > 0 && (unsigned long long)cap != declared)
        return 0;
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    unsigned char *out = malloc(cap);
    ZSTD_inBuffer in = {*buf, nbytes, 0};
    size_t pos = 0, ret = 1;
    while (dctx && out) {
        ZSTD_outBuffer ob = {out, cap, pos};
        ret = ZSTD_decompressStream(dctx, &ob, &in);
        pos = ob.pos;
        if (ZSTD_isError(ret) || (ret == 0 && in.pos == in.size))
            break;
        if (pos == cap) {
            unsigned char *grown = cap < SIZE_MAX / 2 ? realloc(out, cap * 2) : NULL;
            if (!grown)
                break;
            out = grown;
            cap *= 2;
        } else if (in.pos == in.size) {
            break; /* the input ended inside a frame: truncated */
        }
    }
    ZSTD_freeDCtx(dctx);
    if (!dctx || !out || ret != 0 || in.pos != in.size) {
        free(out);
        return 0;
    }
    free(*buf);
    *buf = out;
    *buf_size = cap;
    return pos;
}

static size_t zstd_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[], size_t nbytes,
                          size_t *buf_size, void **buf)
{
    if (flags & H5Z_FLAG_REVERSE)
        return zstd_decompress_chunk(nbytes, buf_size, buf);
    return zstd_compress_chunk((unsigned)cd_nelmts, cd_values, nbytes, buf_size, buf);
}

const H5Z_class2_t ooc__h5z_zstd_class = {
    H5Z_CLASS_T_VERS,
    (H5Z_filter_t)OOC_H5Z_FILTER_ZSTD,
    1, /* encoder present */
    1, /* decoder present */
    "Zstandard (ooc)",
    NULL, /* can_apply */
    NULL, /* set_local */
    zstd_filter,
};
