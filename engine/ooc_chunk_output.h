/* ooc_chunk_output.h: a new HDF5 file holding one chunked dataset (1-D or 2-D), written chunk by chunk from
 * a parallel pass (ooc_pass.output) in chunk order, and renamed into place only on commit. Labels use it:
 * chunk i of the output belongs to chunk i of the input. */
#ifndef OOC_CHUNK_OUTPUT_H
#define OOC_CHUNK_OUTPUT_H

#include "ooc_error.h"
#include "ooc_h5.h"
#include "ooc_output.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ooc_chunk_output ooc_chunk_output;

/* ooc_chunk_output_create(): reserve path (OOC_EEXIST unless force) and create `dataset` in it with the
 * layout of p (its codec's zstd level and shuffle). */
int ooc_chunk_output_create(const char *path, const char *dataset, const ooc_h5_chunked_params *p, int force,
                            ooc_chunk_output **out, ooc_error *err);

/* ooc_chunk_output_create_remote(): in the processes of a distributed run other than 0, the output that
 * process 0 created: its layout, for the stream to encode this process's chunks, which it sends to process 0
 * (ooc_stream.h). Commit and abort only free it. */
int ooc_chunk_output_create_remote(const char *dataset, const ooc_h5_chunked_params *p, ooc_chunk_output **out,
                                   ooc_error *err);

/* ooc_chunk_output_file(): the file, for attributes and small datasets beside the chunked one. */
ooc_h5_file *ooc_chunk_output_file(ooc_chunk_output *o);

/* ooc_chunk_output_dataset(): the chunked dataset, for the stream to encode and write chunks. */
ooc_h5_chunked *ooc_chunk_output_dataset(ooc_chunk_output *o);

/* ooc_chunk_output_ready(): close the file and ooc_output_ready() it (see ooc_output.h): after this only the
 * rename is left. On failure o is kept for ooc_chunk_output_abort(). */
int ooc_chunk_output_ready(ooc_chunk_output *o, ooc_error *err);

/* ooc_chunk_output_commit(): ooc_chunk_output_ready() if not yet done, and rename into place; frees o. On
 * failure nothing is left behind. */
int ooc_chunk_output_commit(ooc_chunk_output *o, ooc_error *err);

/* ooc_chunk_output_detach(): after ooc_chunk_output_ready(), the file as an ooc_output, to commit with other
 * outputs (ooc_output_commit_all()); NULL in a remote output. Frees o. */
ooc_output *ooc_chunk_output_detach(ooc_chunk_output *o);

/* ooc_chunk_output_abort(): remove everything written; frees o. NULL is a no-op. */
void ooc_chunk_output_abort(ooc_chunk_output *o);

#ifdef __cplusplus
}
#endif

#endif
