/* ooc_stream.h: parallel map/reduce passes over an ooc_array, in bounded memory.
 *
 * A pass hands every chunk's rows to map() on `threads` threads, each chunk into a partial result of its
 * own, and folds the partials into the caller's accumulator with combine() in chunk-index order. So a
 * reduction is bitwise identical for any thread count.
 *
 * Distributed (ooc_stream_params.dist, ooc_dist.h): each process maps its own chunks, and every process folds
 * every chunk's partial, in chunk order: the same accumulator in every process, bitwise that of a single
 * process. A pass is then collective, and returns the same result in every process.
 *
 * Memory: everything the stream holds (per-thread chunk buffers, decompression scratch, partials, and the
 * cache of decoded chunks) stays under the memory limit. The working buffers come first; what the limit
 * leaves holds decoded chunks, filled as passes read them: data that fits is read and decompressed once per
 * run, data that does not streams, with as many chunks cached as fit. Passes that take chunks in pieces
 * (ooc_pass.pieces) need no whole decoded chunk per thread, and the cache gets that room while they run.
 */
#ifndef OOC_STREAM_H
#define OOC_STREAM_H

#include "ooc_array.h"
#include "ooc_dist.h"
#include "ooc_error.h"
#include "ooc_progress.h"
#include "ooc_rowstate.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ooc_stream_params {
    int threads;             /* 0 (or less): all cores (shared among the dist's processes on this machine), or fewer
                                when the memory limit cannot hold their buffers  [default: 0] */
    uint64_t memory_limit;   /* bytes the stream may hold; 0: ooc_memory_default_limit(), likewise
                                shared                                           [default: 0] */
    int cache;               /* keep decoded chunks that fit under the limit     [default: 1] */
    size_t state_row_bytes;  /* per-row state (ooc_rowstate.h) the caller keeps at once, bytes per row:
                                in memory when it fits beside the working buffers, else spilled to a
                                file; counted in the limit before the cache      [default: 0] */
    uint64_t held_bytes;     /* what the caller holds beside the stream for the run (a model, its
                                copies, candidates): counted in the limit before the cache  [default: 0] */
    size_t partial_bytes;    /* the largest ooc_pass.partial_size the caller's passes use: the stream
                                holds two a thread (and one a process, distributed)  [default: 0] */
    size_t output_row_bytes; /* bytes a row of the output a pass writes (ooc_pass.output; 4 for int32
                                labels), or 0: no pass writes one                [default: 0] */
    const char *held_name;   /* what the two above are for, in the message when the limit cannot hold
                                them ("k = 500 centres", say)                    [default: NULL] */
    ooc_progress_fn progress; /* after each chunk                                 [default: NULL] */
    void *progress_user;
    const ooc_dist *dist;    /* the processes passes are split over, or NULL: this one alone
                                                                                 [default: NULL] */
} ooc_stream_params;

ooc_stream_params ooc_stream_params_default(void);

/* ooc_stream_params_resolved(): p with threads and memory_limit as a stream takes them when left at 0. */
ooc_stream_params ooc_stream_params_resolved(const ooc_stream_params *p);

typedef struct ooc_stream_stats {
    uint64_t passes;          /* passes run */
    uint64_t bytes_read;      /* bytes taken from storage, over all passes */
    uint64_t bytes_decoded;   /* bytes of rows handed to map(), over all passes */
    uint64_t chunks_cached;   /* chunks held decoded in memory */
    uint64_t cache_bytes;     /* bytes they take */
    uint64_t working_bytes;   /* per-thread buffers, partials, and the caller's held_bytes */
    uint64_t state_bytes;     /* what per-row state holds in memory: all of it, or per-thread buffers */
    size_t state_row_bytes;   /* as asked */
    int state_spilled;        /* per-row state lives in a temporary file */
    uint64_t memory_limit;    /* the limit in force */
    int threads;
    double seconds;           /* in passes, over all passes */
} ooc_stream_stats;

typedef struct ooc_stream ooc_stream;

/* ooc_stream_create(): a stream over a (which must outlive it). OOC_ERANGE when the limit cannot hold even
 * the working buffers (the message says how much is needed). */
int ooc_stream_create(ooc_array *a, const ooc_stream_params *p, ooc_stream **out, ooc_error *err);
void ooc_stream_free(ooc_stream *s); /* NULL is a no-op */

const ooc_stream_stats *ooc_stream_get_stats(const ooc_stream *s);
/* ooc_stream_reserve(): before the first pass, `bytes` more for the caller to hold from now on, taken from
 * what the limit leaves the cache; 0, or -1 when the cache's share is smaller (nothing reserved). */
int ooc_stream_reserve(ooc_stream *s, uint64_t bytes);
ooc_array *ooc_stream_array(const ooc_stream *s);
const ooc_dist *ooc_stream_dist(const ooc_stream *s);

typedef struct ooc_pass {
    const char *phase;   /* for progress: "stats", "lloyd", ... */
    size_t partial_size; /* bytes of one chunk's partial result */
    void *ctx;
    /* map(): rows [row0, row0 + nrows) of the array (row-major, the array's dtype) into `partial`, which it
     * must fill entirely, and, when the pass has an output, the chunk's nrows output rows into `out` (else
     * out is NULL). With .state, `state` is the chunk's rows' state to read and update (else NULL). Runs
     * concurrently for different chunks. */
    int (*map)(void *ctx, const void *rows, uint64_t row0, uint64_t nrows, void *state, void *partial, void *out,
               ooc_error *err);
    /* combine(): fold one chunk's partial into acc; called for chunk 0, 1, 2, ... in order. */
    void (*combine)(void *ctx, void *acc, const void *partial);
    /* reduced_bytes(): how many bytes from the partial's start combine() reads, or NULL: all partial_size.
     * A distributed pass sends only those to the other processes. */
    size_t (*reduced_bytes)(void *ctx, const void *partial);
    /* output: a chunked dataset with the array's chunk rows (ooc_chunk_output_dataset()), or NULL. The
     * stream encodes each chunk's output rows in the worker and writes them in chunk order. */
    ooc_h5_chunked *output;
    /* no_input: map() needs no data (rows is NULL): the pass only writes what the caller holds, and does
     * not count as a pass over the data. */
    int no_input;
    /* state: per-row state handed to map() chunk by chunk (created on this stream), or NULL; state_read_only:
     * map() does not change it (a spilled state is then not written back). */
    ooc_rowstate *state;
    int state_read_only;
    /* pieces: map() takes a chunk in pieces: it may be called for consecutive row ranges of one chunk, in
     * row order, on one thread, with the same `partial`, and `state` and `out` at the piece's own rows. The
     * first piece starts at the chunk's first row (row0 a multiple of the chunk rows): it fills the partial
     * as for a whole chunk, and the others add to it. The stream then decodes chunks that it does not cache
     * a piece at a time (ooc_array_stage()), each piece used while still in cache. */
    int pieces;
    /* skip: per chunk of this process (its j-th: ooc_dist_item()), or NULL: a chunk whose entry is nonzero
     * is not read, nor its state loaded: map() gets it whole, with rows and state NULL, and fills its
     * partial from what the caller kept of it. Not with an output. */
    const unsigned char *skip;
} ooc_pass;

/* ooc_stream_run(): one pass; acc (initialised by the caller) receives the folded partials. Stops at the
 * first failing chunk (the lowest-numbered, whatever the thread and process counts) or a cancel request.
 * Distributed, process 0 writes the output; the others' pass->output only describes it
 * (ooc_chunk_output_create_remote()). */
int ooc_stream_run(ooc_stream *s, const ooc_pass *pass, void *acc, ooc_error *err);

/* ooc_stream_read_rows(): rows rows[0..n) (sorted ascending, duplicates allowed) as float64 into out
 * (n x cols), reading only the chunks that hold them (from the cache when there), on the stream's threads.
 * Distributed (collective, as a pass): each process reads those of its own chunks, and every process gets
 * them all. */
int ooc_stream_read_rows(ooc_stream *s, const uint64_t *rows, size_t n, double *out, ooc_error *err);

#ifdef __cplusplus
}
#endif

#endif
