/* ooc_generate.h: write a blobs dataset to HDF5 (what `chunkgen` does).
 *
 * The file holds /X (samples x features, the blobs source's exact values, chunked by chunk_rows rows,
 * shuffle + zstd as asked), /y (each row's true blob, int32, chunked alike), /centers (k x d float64) and
 * root attributes samples, features, centers, cluster_std, center_box, seed, chunk_rows, dtype,
 * compression, shuffle. Chunks are generated and compressed in parallel and written in chunk order, so the
 * file is byte-for-byte the same for any thread count. The file appears only when complete (ooc_output).
 */
#ifndef OOC_GENERATE_H
#define OOC_GENERATE_H

#include "ooc_blobs.h"
#include "ooc_codec.h"
#include "ooc_error.h"
#include "ooc_progress.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ooc_generate_stats {
    uint64_t rows, chunks;
    uint64_t raw_bytes;    /* bytes of /X (and /y) before compression */
    uint64_t stored_bytes; /* bytes of their compressed chunks */
    double seconds;
} ooc_generate_stats;

typedef struct ooc_generate_params {
    ooc_blobs_params blobs;        /* shape, blobs and chunking   [default: ooc_blobs_params_default()] */
    const double *centers;         /* k x d centres to use, or NULL to draw them   [default: NULL] */
    const char *centers_from;      /* where given centres came from, recorded as an attribute [default: NULL] */
    ooc_codec codec;               /* zstd_level and shuffle (only with zstd) [default: zstd 3, shuffle] */
    int labels;                    /* write /y                    [default: 1] */
    int force;                     /* replace an existing file    [default: 0] */
    int threads;                   /* 0: all cores                [default: 0] */
    ooc_progress_fn progress;      /* called after each chunk     [default: NULL] */
    void *progress_user;
    /* Called once the file is complete and on disk, just before it is renamed into place, with the run's
     * statistics: the caller reports them there (a tool's summary on stdout), so that a run that cannot report
     * replaces nothing. A nonzero return, with err filled, abandons the file.   [default: NULL] */
    int (*before_commit)(const ooc_generate_stats *stats, void *user, ooc_error *err);
    void *before_commit_user;
} ooc_generate_params;

ooc_generate_params ooc_generate_params_default(void);

/* ooc_generate(): write the dataset to path. stats may be NULL. Errors: the parameters (OOC_EINVAL), an
 * existing path without force (OOC_EEXIST), I/O (OOC_EIO, OOC_ENOSPACE), a cancel request
 * (OOC_EINTERRUPTED); on any of them no file is left behind and an existing one is untouched. */
int ooc_generate(const ooc_generate_params *p, const char *path, ooc_generate_stats *stats, ooc_error *err);

#ifdef __cplusplus
}
#endif

#endif
