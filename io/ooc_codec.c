#include "ooc_codec.h"

#include "ooc_buffer_internal.h"
#include "ooc_shuffle_internal.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

struct ooc_codec_ctx {
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    void *scratch; /* shuffled bytes between the shuffle and zstd */
    size_t scratch_cap;
};

int ooc_codec_parse(const char *s, ooc_codec *c)
{
    if (strcmp(s, "none") == 0) {
        c->zstd_level = 0;
        return 0;
    }
    if (strcmp(s, "zstd") == 0) {
        c->zstd_level = 3;
        return 0;
    }
    if (strncmp(s, "zstd:", 5) != 0)
        return OOC_EINVAL;
    char *end;
    long level = strtol(s + 5, &end, 10);
    if (end == s + 5 || *end || level < 1 || level > ZSTD_maxCLevel())
        return OOC_EINVAL;
    c->zstd_level = (int)level;
    return 0;
}

size_t ooc_codec_bound(const ooc_codec *c, size_t raw_bytes)
{
    return c->zstd_level ? ZSTD_compressBound(raw_bytes) : raw_bytes;
}

int ooc_codec_ctx_create(ooc_codec_ctx **out)
{
    *out = NULL;
    ooc_codec_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return OOC_ENOMEM;
    ctx->cctx = ZSTD_createCCtx();
    ctx->dctx = ZSTD_createDCtx();
    if (!ctx->cctx || !ctx->dctx) {
        ooc_codec_ctx_free(ctx);
        return OOC_ENOMEM;
    }
    *out = ctx;
    return 0;
}

void ooc_codec_ctx_free(ooc_codec_ctx *ctx)
{
    if (!ctx)
        return;
    ZSTD_freeCCtx(ctx->cctx);
    ZSTD_freeDCtx(ctx->dctx);
    ooc__buffer_free(ctx->scratch, ctx->scratch_cap);
    free(ctx);
}

static void *scratch(ooc_codec_ctx *ctx, size_t bytes)
{
    if (bytes > ctx->scratch_cap) {
        void *p = ooc__buffer_alloc(bytes);
        if (!p)
            return NULL;
        ooc__buffer_free(ctx->scratch, ctx->scratch_cap);
        ctx->scratch = p;
        ctx->scratch_cap = bytes;
    }
    return ctx->scratch;
}

int ooc_codec_ctx_reserve(ooc_codec_ctx *ctx, size_t bytes)
{
    void *p = scratch(ctx, bytes);
    if (!p)
        return OOC_ENOMEM;
    memset(p, 0, bytes);
    return 0;
}

void ooc_codec_stage(const ooc_codec *c, const void *src, size_t offset, size_t bytes, void *staged,
                     size_t raw_bytes)
{
    if (c->shuffle)
        ooc__shuffle_part(src, staged, bytes / c->elem_size, c->elem_size, offset / c->elem_size,
                          raw_bytes / c->elem_size);
    else
        memcpy((char *)staged + offset, src, bytes);
}

int ooc_codec_encode_staged(const ooc_codec *c, ooc_codec_ctx *ctx, const void *staged, size_t raw_bytes,
                            void *dst, size_t cap, size_t *out_bytes, ooc_error *err)
{
    if (!c->zstd_level) {
        if (cap < raw_bytes)
            return ooc_error_set(err, OOC_EINTERNAL, "codec: output buffer too small");
        memcpy(dst, staged, raw_bytes);
        *out_bytes = raw_bytes;
        return 0;
    }
    ZSTD_CCtx_reset(ctx->cctx, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(ctx->cctx, ZSTD_c_compressionLevel, c->zstd_level);
    ZSTD_CCtx_setParameter(ctx->cctx, ZSTD_c_checksumFlag, 1);
    size_t n = ZSTD_compress2(ctx->cctx, dst, cap, staged, raw_bytes);
    if (ZSTD_isError(n) && ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation)
        return ooc_error_set(err, OOC_ENOMEM, "zstd: out of memory compressing it");
    if (ZSTD_isError(n))
        return ooc_error_set(err, OOC_EINTERNAL, "zstd: %s", ZSTD_getErrorName(n));
    *out_bytes = n;
    return 0;
}

int ooc_codec_encode(const ooc_codec *c, ooc_codec_ctx *ctx, const void *src, size_t raw_bytes, void *dst,
                     size_t cap, size_t *out_bytes, ooc_error *err)
{
    if (!c->shuffle)
        return ooc_codec_encode_staged(c, ctx, src, raw_bytes, dst, cap, out_bytes, err);
    if (!c->zstd_level) { /* the shuffled bytes are the encoding */
        if (cap < raw_bytes)
            return ooc_error_set(err, OOC_EINTERNAL, "codec: output buffer too small");
        ooc__shuffle(src, dst, raw_bytes, c->elem_size);
        *out_bytes = raw_bytes;
        return 0;
    }
    void *tmp = scratch(ctx, raw_bytes);
    if (!tmp)
        return ooc_error_set(err, OOC_ENOMEM, "codec: cannot allocate %zu bytes", raw_bytes);
    ooc__shuffle(src, tmp, raw_bytes, c->elem_size);
    return ooc_codec_encode_staged(c, ctx, tmp, raw_bytes, dst, cap, out_bytes, err);
}

unsigned long long ooc_codec_zstd_content_size(const void *src, size_t bytes)
{
    unsigned long long total = 0;
    while (bytes > 0) {
        unsigned long long n = ZSTD_getFrameContentSize(src, bytes); /* 0 for a skippable frame */
        size_t frame = ZSTD_findFrameCompressedSize(src, bytes);
        if (n == ZSTD_CONTENTSIZE_ERROR || ZSTD_isError(frame) || total + n < total)
            return ZSTD_CONTENTSIZE_ERROR;
        if (n == ZSTD_CONTENTSIZE_UNKNOWN)
            return n;
        total += n;
        src = (const char *)src + frame;
        bytes -= frame;
    }
    return total;
}

unsigned long long ooc_codec_zstd_decoded_size(const void *src, size_t bytes, size_t limit)
{
    unsigned long long n = ooc_codec_zstd_content_size(src, bytes);
    void *dst = n == ZSTD_CONTENTSIZE_UNKNOWN ? malloc(limit ? limit : 1) : NULL;
    if (!dst)
        return n;
    size_t got = ZSTD_decompress(dst, limit, src, bytes);
    free(dst);
    return ZSTD_isError(got) ? ZSTD_CONTENTSIZE_UNKNOWN : got;
}

/* zstd's frames at src, one after the other, into exactly raw_bytes at dst. */
static int unzstd(ooc_codec_ctx *ctx, const void *src, size_t bytes, void *dst, size_t raw_bytes, ooc_error *err)
{
    if (ZSTD_getFrameContentSize(src, bytes) == ZSTD_CONTENTSIZE_ERROR)
        return ooc_error_set(err, OOC_ECORRUPT, "zstd: not a zstd frame");
    /* Frames that declare another size are refused before any work: they cannot be this chunk. (Frames
     * cut short or followed by junk are left to the decoder, which says what is wrong.) */
    unsigned long long declared = ooc_codec_zstd_content_size(src, bytes);
    if (declared != ZSTD_CONTENTSIZE_ERROR && declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != raw_bytes)
        return ooc_error_set(err, OOC_ECORRUPT, "zstd: the frames hold %llu bytes, expected %zu", declared,
                             raw_bytes);
    size_t n = ZSTD_decompressDCtx(ctx->dctx, dst, raw_bytes, src, bytes);
    if (ZSTD_isError(n))
        return ooc_error_set(err, OOC_ECORRUPT, "zstd: %s", ZSTD_getErrorName(n));
    if (n != raw_bytes)
        return ooc_error_set(err, OOC_ECORRUPT, "zstd: decoded %zu bytes, expected %zu", n, raw_bytes);
    return 0;
}

int ooc_codec_decode_staged(const ooc_codec *c, ooc_codec_ctx *ctx, const void *src, size_t bytes,
                            size_t raw_bytes, const void **staged, ooc_error *err)
{
    if (!c->zstd_level) {
        if (bytes != raw_bytes)
            return ooc_error_set(err, OOC_ECORRUPT, "stored chunk has %zu bytes, expected %zu", bytes, raw_bytes);
        *staged = src;
        return 0;
    }
    void *out = scratch(ctx, raw_bytes);
    if (!out)
        return ooc_error_set(err, OOC_ENOMEM, "codec: cannot allocate %zu bytes", raw_bytes);
    int rc = unzstd(ctx, src, bytes, out, raw_bytes, err);
    *staged = out;
    return rc;
}

void ooc_codec_unstage(const ooc_codec *c, const void *staged, size_t offset, size_t bytes, void *dst,
                       size_t raw_bytes)
{
    if (c->shuffle)
        ooc__unshuffle_part(staged, dst, bytes / c->elem_size, c->elem_size, offset / c->elem_size,
                            raw_bytes / c->elem_size);
    else
        memcpy(dst, (const char *)staged + offset, bytes);
}

int ooc_codec_decode(const ooc_codec *c, ooc_codec_ctx *ctx, const void *src, size_t bytes, void *dst,
                     size_t raw_bytes, ooc_error *err)
{
    if (c->zstd_level && !c->shuffle) /* straight into dst */
        return unzstd(ctx, src, bytes, dst, raw_bytes, err);
    const void *staged = NULL;
    int rc = ooc_codec_decode_staged(c, ctx, src, bytes, raw_bytes, &staged, err);
    if (!rc && c->shuffle)
        ooc__unshuffle(staged, dst, raw_bytes, c->elem_size);
    else if (!rc)
        memcpy(dst, staged, raw_bytes);
    return rc;
}
