#include "ooc_stream.h"

#include "ooc_buffer_internal.h"
#include "ooc_cancel.h"
#include "ooc_clock.h"
#include "ooc_memory.h"
#include "ooc_pass_internal.h"
#include "ooc_prefetch_internal.h"
#include "ooc_rowstate_internal.h"
#include "ooc_threads.h"
#include "ooc_units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A thread's buffers, for the chunk it works on. */
typedef struct worker {
    ooc_array_raw raw; /* chunks fetched by the worker itself (no prefetcher) */
    ooc_codec_ctx *codec;
    void *rows;  /* a decoded chunk that is not cached, while passes take whole chunks (hold_rows()) */
    void *piece; /* a piece of a chunk decoded in pieces */
    void *out;   /* the chunk's output rows */
    size_t out_cap;
} worker;

/* What a chunk leaves for its consume(), in one of the pass's slots (ooc__pass_ordered()). */
typedef struct packet {
    uint64_t bytes_read;
    int decoded; /* the chunk was read (not skipped: ooc_pass.skip) */
    void *partial;
    void *out_enc; /* the output rows encoded */
    size_t out_enc_bytes;
    size_t partial_cap, out_enc_cap; /* as allocated (ooc__buffer_alloc()) */
} packet;

/* A worker may run this many chunks ahead of the last one folded, so that the time a chunk would wait for
 * the one before it (a slower worker, a pause of the VM) goes to the next one instead: with one, the
 * threads of a streaming fit (10M x 20 rows, 2 threads) spent 10% of their time waiting. */
#define WINDOW 2

/* A distributed pass goes in rounds: in round j, process r maps chunk j * nprocs + r, if there is one, and
 * every process then receives every header, every partial (each at a 64-byte aligned place) and, in
 * process 0, every encoded output chunk. */
typedef struct round_header {
    ooc_error err;          /* code 0, or this process's failure: every process stops after this round */
    int32_t has_chunk;
    uint64_t partial_bytes, out_bytes;
} round_header;

typedef struct exchange {
    round_header *hdr;      /* per process */
    size_t *counts, *displs; /* per process */
    void *partials, *outs;  /* nprocs partials; nprocs encoded chunks (process 0) */
    size_t partials_bytes, outs_bytes; /* as allocated (ooc__buffer_alloc()) */
    size_t partial_stride, out_stride;
    uint64_t rounds, done;  /* rounds in the pass, and exchanged */
    int stopped;            /* a round carried a failure */
} exchange;

struct ooc_stream {
    ooc_array *a;
    ooc_stream_params p;
    int rank, nprocs; /* p.dist's */
    exchange x;
    ooc_stream_stats stats;
    size_t chunk_bytes; /* a full decoded chunk */
    uint64_t piece_rows; /* rows of a piece, for inputs decoded in pieces (ooc_array_stage()); else 0 */
    worker *workers;  /* per thread */
    packet *packets;  /* per slot: threads * WINDOW */
    ooc__prefetch *prefetch; /* HDF5 inputs not read in place: reads run ahead of the workers */
    int prefetching;         /* the prefetcher runs for the pass under way */
    int in_place;            /* chunks read in place: each worker reads its own */
    void **cache;       /* per chunk of this process's first cache_len: its decoded rows, or NULL */
    uint64_t cache_len;   /* at most the chunks the limit can hold: not one entry for each chunk (16M chunks
                           * of one row took 128 MB of entries alone) */
    uint64_t cache_slots; /* this process's first cache_slots chunks are cached once read */
    uint64_t slots_beside_rows; /* cache_slots while the workers hold whole decoded chunks */
    /* the pass being run */
    const ooc_pass *pass;
    void *acc;
    size_t out_chunk_bytes, out_cap; /* the output's buffers, as allocated */
    uint64_t done_rows, done_bytes, done_chunks; /* folded */
    uint64_t mapped_bytes;                       /* of the chunks this process mapped */
    double start; /* ooc_clock_seconds() when the pass began */
};

ooc_stream_params ooc_stream_params_default(void)
{
    ooc_stream_params p = {0};
    p.cache = 1;
    return p;
}

ooc_stream_params ooc_stream_params_resolved(const ooc_stream_params *p)
{
    ooc_stream_params r = *p;
    int local = ooc_dist_local_size(p->dist), cores = ooc_threads_resolve(0);
    if (r.threads < 1) /* a negative count, as ooc_threads_resolve() takes it: all cores */
        r.threads = cores > local ? cores / local : 1;
    else
        r.threads = ooc_threads_resolve(r.threads); /* OMP_THREAD_LIMIT bounds it */
    if (!r.memory_limit)
        r.memory_limit = ooc_memory_default_limit() / (uint64_t)local;
    return r;
}

/* What the process holds besides what working_bytes() counts: code, HDF5, zstd and OpenBLAS state (10-15 MB
 * measured), small arrays, allocator slack. Counted so that the whole process, not just the engine's chunks,
 * stays within the limit (the origin workload peaked 23 MiB over with 32 MiB, before partials and output
 * buffers were counted apart: 64 MiB then, 40 since). */
#define PROCESS_RESERVE ((uint64_t)40 << 20)

/* What Open MPI holds besides, distributed: its shared-memory transport, 2-3 MiB more a process for each
 * other on the machine (measured over a process alone); peak RSS ran up to 5 MiB over --memory-limit at 3
 * and 4 processes without it. */
#define MPI_RESERVE(s) ((uint64_t)3 * (uint64_t)ooc_dist_local_size((s)->p.dist) << 20)

/* Pieces of about this size stay in L2 (1 MiB or more on Zen 4 and most x86 cores) from their decoding to
 * their use. */
#define PIECE_BYTES ((size_t)256 << 10)

/* The prefetch ring: threads + 1 stored chunks for HDF5 inputs not read in place, else none. */
static int ring_depth(const ooc_stream *s)
{
    return ooc_array_get_info(s->a)->h5 && !s->in_place ? s->p.threads + 1 : 0;
}

/* Per thread: a decoded chunk (held only while needed: hold_rows()), the codec's scratch where our codec
 * decompresses (zstd chunks of our layout), a piece and, when chunks are read in place, the stored chunk;
 * stored chunks in the prefetch ring otherwise. Chunks whose filters HDF5 decodes (gzip, say): its buffers
 * for the one chunk it decodes at a time (gzip, 32 MB chunks, one thread: 260 MiB at the peak, of which our
 * own buffers are about 100; 5 storage chunks counted). A pass's output chunks: a thread's, and its packets'
 * encoded ones (and one a process, distributed). The caller's held bytes and partials (ooc_stream_params). */
static uint64_t working_bytes(const ooc_stream *s, const ooc_stream_params *p, int threads, size_t piece_bytes,
                              uint64_t stored_bytes)
{
    const ooc_array_info *in = ooc_array_get_info(s->a);
    const ooc_h5_info *h5 = in->h5;
    int scratch = h5 && h5->raw_chunks && h5->codec.zstd_level > 0;
    /* Chunks HDF5 decodes: its buffers for a few of them, plus what a read holds besides: its chunk cache
     * (1 MiB) and ~6 KiB for each of up to 512 storage chunks a read touches (io/ooc_h5_read.c); and its
     * metadata cache, which the chunk index fills: ~96 bytes a storage chunk (100k chunks of 10 rows ran
     * 8 MiB over a 128M limit), up to the cache's 32 MiB. */
    uint64_t index = 0;
    if (h5 && h5->chunked && h5->chunk_rows && h5->chunk_cols) {
        index = (h5->rows + h5->chunk_rows - 1) / h5->chunk_rows * ((h5->cols + h5->chunk_cols - 1) / h5->chunk_cols);
        index = index < ((uint64_t)32 << 20) / 96 ? index * 96 : (uint64_t)32 << 20;
    }
    uint64_t library = h5 && !h5->raw_chunks && h5->nfilters > 0
                           ? 5 * h5->chunk_rows * h5->chunk_cols * h5->type_size + ((uint64_t)4 << 20) + index : 0;
    /* Unfiltered chunks that split the columns: the reader's buffer for a band of them (one read at a time) */
    if (h5 && h5->chunked && h5->nfilters == 0 && h5->chunk_cols < h5->cols)
        library += s->chunk_bytes / h5->cols * h5->chunk_cols;
    /* Chunks read in place: where each is stored, 16 bytes a chunk (io/ooc_h5_inplace.c) */
    if (s->in_place)
        library += in->nchunks * 2 * sizeof(uint64_t);
    uint64_t out = (uint64_t)in->chunk_rows * p->output_row_bytes, out_encoded = out + out / 64 + 4096;
    uint64_t per_thread = (uint64_t)(1 + scratch) * s->chunk_bytes + piece_bytes + stored_bytes + (1u << 20) +
                          out + WINDOW * out_encoded + WINDOW * (uint64_t)p->partial_bytes;
    uint64_t per_process = s->nprocs > 1 ? (uint64_t)s->nprocs * (p->partial_bytes + out_encoded) + MPI_RESERVE(s) : 0;
    return PROCESS_RESERVE + (uint64_t)threads * per_thread + (uint64_t)ring_depth(s) * s->chunk_bytes + library +
           per_process + p->held_bytes;
}

/* The chunk's cache entry (its place among this process's chunks), or NULL: not a chunk it may cache. */
static void **cache_entry(const ooc_stream *s, uint64_t chunk)
{
    uint64_t j = chunk / (uint64_t)s->nprocs;
    return ooc_dist_owner(s->p.dist, chunk) == s->rank && j < s->cache_len ? &s->cache[j] : NULL;
}

/* Whether a chunk is cached once read: this process's, among its first cache_slots (within cache_len). */
static int cacheable(const ooc_stream *s, uint64_t chunk)
{
    return cache_entry(s, chunk) && chunk / (uint64_t)s->nprocs < s->cache_slots;
}

static size_t piece_buffer_bytes(const ooc_stream *s)
{
    const ooc_array_info *in = ooc_array_get_info(s->a);
    return (size_t)s->piece_rows * in->cols * ooc_dtype_size(in->dtype);
}

/* A thread's buffers, touched now by that thread, so that the first pass runs at the speed of the others and
 * the threads share the cost of the first touch (which a VM's host may make slow). */
static int worker_create(void *ctx, int i)
{
    ooc_stream *s = ctx;
    worker *b = &s->workers[i];
    size_t piece_bytes = piece_buffer_bytes(s);
    if (ooc_codec_ctx_create(&b->codec) != 0)
        return -1;
    if (!s->piece_rows) /* not shuffled: chunks are decoded whole, with no shuffle scratch */
        return 0;
    if (!(b->piece = ooc__buffer_alloc(piece_bytes)) || ooc_codec_ctx_reserve(b->codec, s->chunk_bytes) != 0)
        return -1;
    memset(b->piece, 0, piece_bytes);
    return 0;
}

/* The workers hold a whole decoded chunk each only while passes need one (to decode a chunk that is not
 * cached, when a pass does not take pieces or the input is not decoded in pieces); otherwise that room,
 * a chunk per thread, caches chunks instead. Chunks cached past the room left when the rows come back are
 * dropped (read again when next needed). The buffers themselves are allocated on first use
 * (chunk_rows_of()): when every chunk is cached they never are, and fresh memory is slow to touch. */
static void hold_rows(ooc_stream *s, int need)
{
    s->cache_slots = s->p.cache ? s->slots_beside_rows + (need ? 0 : (uint64_t)s->p.threads) : 0;
    for (uint64_t j = s->cache_slots; j < s->cache_len; j++) {
        ooc__buffer_free(s->cache[j], s->chunk_bytes);
        s->cache[j] = NULL;
    }
    if (!need)
        for (int i = 0; i < s->p.threads; i++) {
            ooc__buffer_free(s->workers[i].rows, s->chunk_bytes);
            s->workers[i].rows = NULL;
        }
}

/* For the message when the limit is too small: what the caller's share is for. */
static const char *held_what(const ooc_stream_params *p, char *buf, size_t size)
{
    if (!p->held_name || (p->held_bytes == 0 && p->partial_bytes == 0))
        return "";
    snprintf(buf, size, " and %s", p->held_name);
    return buf;
}

/* What the limit leaves beside the working buffers and the state: the cache's share. */
static uint64_t cache_room(const ooc_stream *s)
{
    return s->p.memory_limit - s->stats.working_bytes - s->stats.state_bytes;
}

/* The cache's slots and entries, in its share. */
static void cache_share(ooc_stream *s)
{
    const ooc_array_info *in = ooc_array_get_info(s->a);
    s->slots_beside_rows = s->p.cache ? cache_room(s) / (ooc__buffer_footprint(s->chunk_bytes) + sizeof *s->cache) : 0;
    uint64_t owned = ooc_dist_owned(s->p.dist, in->nchunks), most = s->slots_beside_rows + (uint64_t)s->p.threads;
    s->cache_len = s->p.cache ? (owned < most ? owned : most) : 0;
}

int ooc_stream_reserve(ooc_stream *s, uint64_t bytes)
{
    if (bytes > cache_room(s))
        return -1;
    s->stats.working_bytes += bytes;
    cache_share(s); /* fewer entries: the array allocated for more is kept */
    return 0;
}

int ooc_stream_create(ooc_array *a, const ooc_stream_params *p, ooc_stream **out, ooc_error *err)
{
    *out = NULL;
    const ooc_array_info *in = ooc_array_get_info(a);
    ooc_stream *s = calloc(1, sizeof *s);
    if (!s)
        return ooc_error_set(err, OOC_ENOMEM, "stream: out of memory");
    s->a = a;
    s->p = ooc_stream_params_resolved(p);
    s->rank = ooc_dist_rank(p->dist);
    s->nprocs = ooc_dist_size(p->dist);
    size_t row_bytes = (size_t)in->cols * ooc_dtype_size(in->dtype);
    s->chunk_bytes = (size_t)in->chunk_rows * row_bytes;
    int shuffled = in->h5 && in->h5->raw_chunks && in->h5->codec.shuffle;
    if (shuffled)
        s->piece_rows = PIECE_BYTES / row_bytes ? PIECE_BYTES / row_bytes : 1;
    size_t piece_bytes = (size_t)s->piece_rows * row_bytes;
    /* Chunks read in place need no prefetch thread: each worker reads its own, without a lock, and the
     * kernel's readahead fills the page cache. */
    uint64_t stored = 0, working, state;
    s->in_place = ooc_array_in_place(a, &stored);
    /* With the thread count left to us (0), fewer threads rather than no run when the limit is tight: the
     * results are the same for any count. */
    for (;; s->p.threads--) {
        working = working_bytes(s, p, s->p.threads, piece_bytes, stored);
        /* Per-row state: all of this process's in memory if it fits beside the working buffers, else a chunk
         * per thread. */
        state = (uint64_t)p->state_row_bytes * (s->nprocs > 1 ? ooc_dist_owned(p->dist, in->nchunks) * in->chunk_rows : in->rows);
        s->stats.state_spilled = 0;
        if (working + state > s->p.memory_limit) {
            state = (uint64_t)p->state_row_bytes * in->chunk_rows * (uint64_t)s->p.threads;
            s->stats.state_spilled = p->state_row_bytes > 0;
        }
        if (working + state <= s->p.memory_limit || p->threads > 0 || s->p.threads == 1)
            break;
    }
    if (working + state > s->p.memory_limit) {
        char limit[32], chunk[32], held[160];
        const char *what = held_what(p, held, sizeof held);
        int rc = ooc_error_set(err, OOC_ERANGE,
                               "%s: memory limit %s is too small for %d thread%s on %s chunks%s%s (needs %.0f MiB): "
                               "raise --memory-limit%s",
                               in->input, ooc_format_size(s->p.memory_limit, limit, sizeof limit), s->p.threads,
                               s->p.threads > 1 ? "s" : "", ooc_format_size(s->chunk_bytes, chunk, sizeof chunk),
                               !state ? "" : *what ? ", per-row state" : " and per-row state", what,
                               (double)(working + state) / 1048576.0 + 1,
                               s->p.threads > 1 ? " or lower --threads" : "");
        free(s);
        return rc;
    }
    s->stats.working_bytes = working;
    s->stats.state_bytes = state;
    s->stats.state_row_bytes = p->state_row_bytes;
    s->stats.memory_limit = s->p.memory_limit;
    s->stats.threads = s->p.threads;
    cache_share(s);
    s->cache = calloc(s->cache_len ? s->cache_len : 1, sizeof *s->cache);
    s->workers = calloc((size_t)s->p.threads, sizeof *s->workers);
    s->packets = calloc((size_t)s->p.threads * WINDOW, sizeof *s->packets);
    int ring = ring_depth(s);
    int ok = s->cache && s->workers && s->packets && (!ring || ooc__prefetch_create(a, ring, &s->prefetch) == 0) &&
             ooc__pass_each_slot(s->p.threads, worker_create, s) == 0;
    if (!ok) {
        ooc_stream_free(s);
        return ooc_error_set(err, OOC_ENOMEM, "%s: cannot allocate the stream's buffers", in->input);
    }
    *out = s;
    return 0;
}

void ooc_stream_free(ooc_stream *s)
{
    if (!s)
        return;
    ooc__prefetch_free(s->prefetch);
    for (int i = 0; s->workers && i < s->p.threads; i++) {
        ooc_array_raw_free(&s->workers[i].raw);
        ooc_codec_ctx_free(s->workers[i].codec);
        ooc__buffer_free(s->workers[i].rows, s->chunk_bytes);
        ooc__buffer_free(s->workers[i].piece, piece_buffer_bytes(s));
        ooc__buffer_free(s->workers[i].out, s->workers[i].out_cap);
    }
    for (int i = 0; s->packets && i < s->p.threads * WINDOW; i++) {
        ooc__buffer_free(s->packets[i].partial, s->packets[i].partial_cap);
        ooc__buffer_free(s->packets[i].out_enc, s->packets[i].out_enc_cap);
    }
    for (uint64_t j = 0; s->cache && j < s->cache_len; j++)
        ooc__buffer_free(s->cache[j], s->chunk_bytes);
    free(s->cache);
    free(s->workers);
    free(s->packets);
    free(s->x.hdr);
    free(s->x.counts);
    free(s->x.displs);
    ooc__buffer_free(s->x.partials, s->x.partials_bytes);
    ooc__buffer_free(s->x.outs, s->x.outs_bytes);
    free(s);
}

const ooc_stream_stats *ooc_stream_get_stats(const ooc_stream *s)
{
    return &s->stats;
}

ooc_array *ooc_stream_array(const ooc_stream *s)
{
    return s->a;
}

const ooc_dist *ooc_stream_dist(const ooc_stream *s)
{
    return s->p.dist;
}

/* The chunk's fetched bytes: from the prefetcher while a pass runs it, or fetched here. */
static int fetch(ooc_stream *s, uint64_t chunk, worker *b, const ooc_array_raw **raw, ooc_error *err)
{
    if (s->prefetching)
        return ooc__prefetch_wait(s->prefetch, chunk, raw, err);
    /* Between passes (rows read for the initialisation), the workers fetch into the idle ring's buffers when
     * there is one: a worker's own buffer would hold a decoded chunk more, beyond the limit. */
    ooc_array_raw *mine = s->prefetch ? ooc__prefetch_idle_raw(s->prefetch, (int)(b - s->workers)) : &b->raw;
    *raw = mine;
    return ooc_array_fetch(s->a, chunk, mine, err);
}

/* The worker is done with the chunk's fetched bytes: the prefetcher may reuse their place in its ring. */
static void release(ooc_stream *s, uint64_t chunk)
{
    if (s->prefetching)
        ooc__prefetch_release(s->prefetch, chunk);
}

/* The chunk's rows: from the cache, or read (into the cache when it has room for this chunk). With staged
 * not NULL, a chunk that is not cached (no room, or no memory after all) may instead be only staged
 * (ooc_array_stage()): *rows is then NULL, *staged set, and the caller releases the chunk once done with it. */
static int chunk_rows_of(ooc_stream *s, uint64_t chunk, worker *b, uint64_t *bytes_read, const void **rows,
                         const void **staged, ooc_error *err)
{
    *rows = NULL;
    void **entry = cache_entry(s, chunk);
    if (entry && *entry) {
        *rows = *entry;
        return 0;
    }
    const ooc_array_raw *raw;
    int rc = fetch(s, chunk, b, &raw, err);
    if (rc)
        return rc;
    *bytes_read = raw->bytes_read;
    /* NULL: not to be cached, or no memory to cache it after all: this chunk is streamed */
    void *dst = cacheable(s, chunk) ? ooc__buffer_alloc(s->chunk_bytes) : NULL;
    if (!dst && staged && (rc = ooc_array_stage(s->a, raw, b->codec, staged, err)) != 0) {
        if (rc < 0)
            release(s, chunk);
        return rc < 0 ? rc : 0;
    }
    if (!dst && !b->rows && !(b->rows = ooc__buffer_alloc(s->chunk_bytes))) {
        release(s, chunk);
        return ooc_error_set(err, OOC_ENOMEM, "%s: cannot allocate the stream's buffers",
                             ooc_array_get_info(s->a)->input);
    }
    dst = dst ? dst : b->rows;
    rc = ooc_array_decode(s->a, raw, b->codec, dst, err);
    release(s, chunk);
    if (rc) {
        if (dst != b->rows)
            ooc__buffer_free(dst, s->chunk_bytes);
        return rc;
    }
    if (dst != b->rows)
        *entry = dst; /* cacheable: entry is not NULL */
    *rows = dst;
    return 0;
}

/* A staged chunk's rows, a piece at a time: each piece decoded into the worker's piece buffer and handed to
 * map() while still in cache, with its rows' state and output. */
static int map_pieces(ooc_stream *s, worker *b, void *partial, const void *staged, uint64_t row0, uint64_t n,
                      char *state, ooc_error *err)
{
    const ooc_pass *pass = s->pass;
    uint64_t chunk_rows = ooc_array_get_info(s->a)->chunk_rows;
    size_t state_row_bytes = state ? ooc__rowstate_row_bytes(pass->state) : 0;
    size_t out_row_bytes = pass->output ? (size_t)(s->out_chunk_bytes / chunk_rows) : 0;
    char *out = pass->output ? b->out : NULL;
    for (uint64_t at = 0; at < n; at += s->piece_rows) {
        uint64_t m = n - at < s->piece_rows ? n - at : s->piece_rows;
        ooc_array_unstage(s->a, staged, at, m, b->piece);
        int rc = pass->map(pass->ctx, b->piece, row0 + at, m, state ? state + at * state_row_bytes : NULL,
                           partial, out ? out + at * out_row_bytes : NULL, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* Whether the pass leaves this process's j-th chunk unread (ooc_pass.skip). */
static int pass_skips(const ooc_stream *s, uint64_t j)
{
    return s->pass->skip && s->pass->skip[j];
}

static int produce(void *ctx, uint64_t j, int worker_index, int slot, ooc_error *err)
{
    ooc_stream *s = ctx;
    uint64_t chunk = ooc_dist_item(s->p.dist, j);
    worker *b = &s->workers[worker_index];
    packet *pk = &s->packets[slot];
    const void *rows = NULL, *staged = NULL;
    pk->bytes_read = 0;
    uint64_t row0 = chunk * ooc_array_get_info(s->a)->chunk_rows, n = ooc_array_chunk_rows(s->a, chunk);
    pk->decoded = !pass_skips(s, j);
    if (!pk->decoded)
        return s->pass->map(s->pass->ctx, NULL, row0, n, NULL, pk->partial, NULL, err);
    int pieces = s->pass->pieces && s->piece_rows;
    int rc = s->pass->no_input ? 0 : chunk_rows_of(s, chunk, b, &pk->bytes_read, &rows, pieces ? &staged : NULL, err);
    if (rc)
        return rc;
    void *state = NULL;
    if (s->pass->state && !(state = ooc__rowstate_load(s->pass->state, chunk, worker_index, err)))
        rc = err->code;
    else if (staged)
        rc = map_pieces(s, b, pk->partial, staged, row0, n, state, err);
    else
        rc = s->pass->map(s->pass->ctx, rows, row0, n, state, pk->partial, s->pass->output ? b->out : NULL, err);
    if (staged)
        release(s, chunk);
    if (!rc && state && !s->pass->state_read_only)
        rc = ooc__rowstate_store(s->pass->state, chunk, worker_index, err);
    if (rc || !s->pass->output)
        return rc;
    /* HDF5 stores the last chunk at full size: its rows past the end are zero. */
    size_t used = (size_t)(s->out_chunk_bytes / ooc_array_get_info(s->a)->chunk_rows * n);
    memset((char *)b->out + used, 0, s->out_chunk_bytes - used);
    rc = ooc_codec_encode(ooc_h5_chunked_codec(s->pass->output), b->codec, b->out, s->out_chunk_bytes, pk->out_enc,
                          s->out_cap, &pk->out_enc_bytes, err);
    return rc ? ooc_h5_chunked_blame(s->pass->output, chunk, err) : 0;
}

/* Chunk `chunk`'s partial into the accumulator, and the progress it makes. */
static void fold(ooc_stream *s, uint64_t chunk, const void *partial)
{
    s->pass->combine(s->pass->ctx, s->acc, partial);
    const ooc_array_info *in = ooc_array_get_info(s->a);
    uint64_t rows = ooc_array_chunk_rows(s->a, chunk);
    s->done_rows += rows;
    s->done_bytes += rows * in->cols * ooc_dtype_size(in->dtype);
    s->done_chunks++;
    if (s->p.progress) {
        ooc_progress pr = {s->pass->phase, s->done_chunks, in->nchunks, s->done_rows, s->done_bytes,
                           ooc_clock_seconds() - s->start};
        s->p.progress(&pr, s->p.progress_user);
    }
}

/* What this process did for its own chunk, once folded or sent. */
static void account(ooc_stream *s, uint64_t chunk, const packet *b)
{
    const ooc_array_info *in = ooc_array_get_info(s->a);
    s->stats.bytes_read += b->bytes_read;
    if (b->decoded)
        s->mapped_bytes += ooc_array_chunk_rows(s->a, chunk) * in->cols * ooc_dtype_size(in->dtype);
}

static size_t round_up64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* One round of a distributed pass: this process's chunk (b; NULL when it has none in the round) or failure
 * goes to every process, and every chunk of the round is folded, in order. Returns the failure of the
 * lowest-numbered process that failed in the round, or process 0's failure to write. */
static int exchange_round(ooc_stream *s, const packet *b, const ooc_error *failure, ooc_error *err)
{
    exchange *x = &s->x;
    const ooc_pass *pass = s->pass;
    round_header mine = {.has_chunk = b != NULL};
    ooc_error_clear(&mine.err);
    if (failure)
        mine.err = *failure;
    if (b && !failure) {
        mine.partial_bytes = pass->reduced_bytes ? pass->reduced_bytes(pass->ctx, b->partial) : pass->partial_size;
        mine.out_bytes = pass->output ? b->out_enc_bytes : 0;
    }
    ooc_dist_allgather(s->p.dist, &mine, sizeof mine, x->hdr);
    uint64_t round = x->done++;
    for (int r = 0; r < s->nprocs; r++)
        if (x->hdr[r].err.code) {
            x->stopped = 1;
            *err = x->hdr[r].err;
            return err->code;
        }
    for (int r = 0; r < s->nprocs; r++) {
        x->counts[r] = x->hdr[r].partial_bytes;
        x->displs[r] = (size_t)r * x->partial_stride;
    }
    ooc_dist_allgatherv(s->p.dist, b ? b->partial : NULL, x->counts, x->displs, x->partials);
    int rc = 0;
    if (pass->output) {
        for (int r = 0; r < s->nprocs; r++) {
            x->counts[r] = x->hdr[r].out_bytes;
            x->displs[r] = (size_t)r * x->out_stride;
        }
        ooc_dist_gatherv(s->p.dist, b ? b->out_enc : NULL, x->counts, x->displs, x->outs);
        for (int r = 0; r < s->nprocs && s->rank == 0 && !rc; r++)
            if (x->hdr[r].has_chunk)
                rc = ooc_h5_chunked_write(pass->output, round * (uint64_t)s->nprocs + (uint64_t)r,
                                          (char *)x->outs + x->displs[r], x->counts[r], err);
    }
    for (int r = 0; r < s->nprocs && !rc; r++)
        if (x->hdr[r].has_chunk)
            fold(s, round * (uint64_t)s->nprocs + (uint64_t)r, (char *)x->partials + (size_t)r * x->partial_stride);
    return rc;
}

static int consume(void *ctx, uint64_t j, int slot, ooc_error *err)
{
    ooc_stream *s = ctx;
    uint64_t chunk = ooc_dist_item(s->p.dist, j);
    const packet *b = &s->packets[slot];
    account(s, chunk, b);
    if (s->p.dist)
        return exchange_round(s, b, NULL, err);
    if (s->pass->output) {
        int rc = ooc_h5_chunked_write(s->pass->output, chunk, b->out_enc, b->out_enc_bytes, err);
        if (rc)
            return rc;
    }
    fold(s, chunk, b->partial);
    return 0;
}

/* After a distributed pass has run out of this process's chunks, or failed here: the rounds it has not
 * taken part in yet (the last, when it has no chunk there; or a failure, which stops every process), then
 * agreement on the result (process 0 may have failed to write the last round). A signal is looked for before
 * each round: a process with no chunks (more processes than chunks) ran the whole fit after one. */
static int finish_rounds(ooc_stream *s, int rc, ooc_error *err)
{
    while (!s->x.stopped && s->x.done < s->x.rounds) {
        if (!rc)
            rc = ooc_cancel_check(err);
        ooc_error failure = *err;
        if (rc && !failure.code)
            failure.code = rc;
        int r = exchange_round(s, NULL, rc ? &failure : NULL, err);
        if (r)
            rc = r;
    }
    return ooc_dist_agree(s->p.dist, rc, err);
}

/* A pass's buffer of exactly `size` bytes (the budget counts each pass's own), contents not kept: a new one
 * when the size changes, so that a partial of megabytes (k-means||'s kept rows) gets huge pages, as
 * ooc__buffer_alloc() gives, rather than thousands of page faults in each pass that grows it. */
static int renew(void **p, size_t *cap, size_t size)
{
    if (*p && *cap == size)
        return 0;
    ooc__buffer_free(*p, *cap);
    *cap = size;
    return (*p = ooc__buffer_alloc(size)) ? 0 : -1;
}

/* A distributed pass's exchange buffers: room for every process's partial and (process 0) encoded chunk. */
static int ensure_exchange(ooc_stream *s, const ooc_pass *pass)
{
    exchange *x = &s->x;
    size_t n = (size_t)s->nprocs;
    x->partial_stride = round_up64(pass->partial_size);
    x->out_stride = pass->output && s->rank == 0 ? round_up64(s->out_cap) : 0;
    ooc__buffer_free(x->partials, x->partials_bytes);
    ooc__buffer_free(x->outs, x->outs_bytes);
    x->partials_bytes = n * x->partial_stride;
    x->outs_bytes = n * x->out_stride;
    x->partials = ooc__buffer_alloc(x->partials_bytes);
    x->outs = x->out_stride ? ooc__buffer_alloc(x->outs_bytes) : NULL;
    if (!x->hdr) {
        x->hdr = calloc(n, sizeof *x->hdr);
        x->counts = calloc(n, sizeof *x->counts);
        x->displs = calloc(n, sizeof *x->displs);
    }
    return x->partials && (x->outs || !x->out_stride) && x->hdr && x->counts && x->displs ? 0 : -1;
}

/* Per-thread partials, and output buffers when the pass writes an output chunked like the array. */
static int ensure_buffers(ooc_stream *s, const ooc_pass *pass, ooc_error *err)
{
    const ooc_array_info *in = ooc_array_get_info(s->a);
    if (pass->output) {
        s->out_chunk_bytes = ooc_h5_chunked_chunk_bytes(pass->output);
        if (ooc_h5_chunked_chunk_rows(pass->output) != in->chunk_rows)
            return ooc_error_set(err, OOC_EINVAL, "%s: output chunks of %llu rows do not match the input's %llu",
                                 in->input, (unsigned long long)ooc_h5_chunked_chunk_rows(pass->output),
                                 (unsigned long long)in->chunk_rows);
        s->out_cap = ooc_codec_bound(ooc_h5_chunked_codec(pass->output), s->out_chunk_bytes);
    }
    for (int i = 0; i < s->p.threads * WINDOW; i++) {
        packet *b = &s->packets[i];
        if (renew(&b->partial, &b->partial_cap, pass->partial_size) ||
            (pass->output && renew(&b->out_enc, &b->out_enc_cap, s->out_cap)))
            return ooc_error_set(err, OOC_ENOMEM, "%s: cannot allocate the pass's buffers", in->input);
    }
    for (int i = 0; pass->output && i < s->p.threads; i++)
        if (renew(&s->workers[i].out, &s->workers[i].out_cap, s->out_chunk_bytes))
            return ooc_error_set(err, OOC_ENOMEM, "%s: cannot allocate the pass's buffers", in->input);
    if (s->p.dist && ensure_exchange(s, pass) != 0)
        return ooc_error_set(err, OOC_ENOMEM, "%s: cannot allocate the pass's exchange buffers", in->input);
    return 0;
}

/* Whether the prefetcher passes over this process's j-th chunk: cached, or not read by the pass. */
static int prefetch_skips(void *ctx, uint64_t j)
{
    const ooc_stream *s = ctx;
    return (j < s->cache_len && s->cache[j]) || pass_skips(s, j);
}

/* The pass over this process's chunks. */
static int run_local(ooc_stream *s, const ooc_pass *pass, ooc_error *err)
{
    int rc = ensure_buffers(s, pass, err);
    if (rc)
        return rc;
    uint64_t n = ooc_dist_owned(s->p.dist, ooc_array_get_info(s->a)->nchunks);
    ooc__prefetch *prefetch = pass->no_input ? NULL : s->prefetch;
    if (prefetch && (rc = ooc__prefetch_start(prefetch, (uint64_t)s->rank, (uint64_t)s->nprocs, n, prefetch_skips,
                                              s, err)) != 0)
        return rc;
    s->prefetching = prefetch != NULL;
    ooc__ordered_pass op = {n, s->p.threads, WINDOW, produce, consume, s};
    rc = ooc__pass_ordered(&op, err);
    if (prefetch)
        ooc__prefetch_finish(prefetch);
    s->prefetching = 0;
    return rc;
}

int ooc_stream_run(ooc_stream *s, const ooc_pass *pass, void *acc, ooc_error *err)
{
    ooc_error local;
    ooc_error_clear(&local);
    err = err ? err : &local;
    s->pass = pass;
    s->acc = acc;
    s->done_rows = s->done_bytes = s->done_chunks = s->mapped_bytes = 0;
    s->x.done = 0;
    s->x.stopped = 0;
    s->x.rounds = (ooc_array_get_info(s->a)->nchunks + (uint64_t)s->nprocs - 1) / (uint64_t)s->nprocs;
    s->start = ooc_clock_seconds();
    if (!pass->no_input)
        hold_rows(s, !pass->pieces || !s->piece_rows);
    int rc = run_local(s, pass, err);
    if (s->p.dist)
        rc = finish_rounds(s, rc, err);
    s->stats.passes += !pass->no_input;
    s->stats.bytes_decoded += s->mapped_bytes;
    s->stats.seconds += ooc_clock_seconds() - s->start;
    s->stats.chunks_cached = 0;
    for (uint64_t j = 0; j < s->cache_len; j++)
        s->stats.chunks_cached += s->cache[j] != NULL;
    s->stats.cache_bytes = s->stats.chunks_cached * s->chunk_bytes;
    return rc;
}

/* ooc_stream_read_rows() in parallel: the distinct chunks holding the rows, each decoded by one worker; then
 * chunks to warm (warm_chunks()). */
typedef struct gather {
    ooc_stream *s;
    const uint64_t *rows;
    double *out;
    const size_t *first; /* per distinct chunk: its first index into rows; first[nparts] = n */
    size_t nparts;
    const uint64_t *warm; /* nwarm chunks to decode into the cache */
    size_t nwarm;
} gather;

/* Chunks for the threads that would otherwise wait while the others read the rows' chunks: up to threads - 1
 * a chunk read, taken from this process's chunks that every pass caches (the first slots_beside_rows) and that
 * are not cached yet, lowest first. A pass would decode them anyway: the first read of a fit (k-means||'s
 * first centre, one chunk) then costs the wall time of one chunk instead of keeping the other threads idle
 * for it. Into warm (room for threads - 1 per part); returns how many. */
static size_t warm_chunks(const ooc_stream *s, const gather *g, uint64_t *warm)
{
    const ooc_array_info *in = ooc_array_get_info(s->a);
    uint64_t owned = ooc_dist_owned(s->p.dist, in->nchunks);
    size_t want = (size_t)(s->p.threads - 1) * g->nparts, n = 0, p = 0;
    for (uint64_t j = 0; j < owned && j < s->slots_beside_rows && n < want; j++) {
        uint64_t chunk = ooc_dist_item(s->p.dist, j);
        if (*cache_entry(s, chunk)) /* j < slots_beside_rows <= cache_len */
            continue;
        while (p < g->nparts && g->rows[g->first[p]] / in->chunk_rows < chunk) /* the parts' chunks ascend */
            p++;
        if (p == g->nparts || g->rows[g->first[p]] / in->chunk_rows != chunk) /* not read anyway */
            warm[n++] = chunk;
    }
    return n;
}

static int gather_chunk(void *ctx, uint64_t part, int worker_index, int slot, ooc_error *err)
{
    gather *g = ctx;
    ooc_stream *s = g->s;
    const ooc_array_info *in = ooc_array_get_info(s->a);
    worker *b = &s->workers[worker_index];
    const void *data, *staged = NULL;
    s->packets[slot].bytes_read = 0;
    uint64_t chunk = part < g->nparts ? g->rows[g->first[part]] / in->chunk_rows : g->warm[part - g->nparts];
    int rc = chunk_rows_of(s, chunk, b, &s->packets[slot].bytes_read, &data, s->piece_rows ? &staged : NULL, err);
    if (part >= g->nparts) { /* a chunk to warm: now in the cache (staged only when memory ran short) */
        if (!rc && staged)
            release(s, chunk);
        return rc;
    }
    if (rc)
        return rc;
    size_t row_bytes = (size_t)in->cols * ooc_dtype_size(in->dtype);
    for (size_t i = g->first[part]; i < g->first[part + 1]; i++) {
        uint64_t r = g->rows[i] - chunk * in->chunk_rows;
        const void *row = staged ? b->piece : (const char *)data + r * row_bytes;
        if (staged)
            ooc_array_unstage(s->a, staged, r, 1, b->piece);
        for (uint64_t j = 0; j < in->cols; j++)
            g->out[i * in->cols + j] =
                in->dtype == OOC_FLOAT32 ? (double)((const float *)row)[j] : ((const double *)row)[j];
    }
    if (staged)
        release(s, chunk);
    return 0;
}

static int gather_done(void *ctx, uint64_t part, int slot, ooc_error *err)
{
    (void)part;
    (void)err;
    gather *g = ctx;
    g->s->stats.bytes_read += g->s->packets[slot].bytes_read;
    return 0;
}

/* The rows (sorted, in range) from this process's reads alone. */
static int read_rows_here(ooc_stream *s, const uint64_t *rows, size_t n, double *out, ooc_error *err)
{
    const ooc_array_info *in = ooc_array_get_info(s->a);
    size_t *first = malloc((n + 1) * sizeof *first), parts = 0;
    if (!first)
        return ooc_error_set(err, OOC_ENOMEM, "%s: out of memory", in->input);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || rows[i] / in->chunk_rows != rows[i - 1] / in->chunk_rows)
            first[parts++] = i;
    first[parts] = n;
    hold_rows(s, !s->piece_rows); /* before warm_chunks(): it may drop cached chunks */
    gather g = {s, rows, out, first, parts, NULL, 0};
    uint64_t *warm = malloc(((size_t)(s->p.threads - 1) * parts + 1) * sizeof *warm);
    int rc = warm ? 0 : ooc_error_set(err, OOC_ENOMEM, "%s: out of memory", in->input);
    if (!rc) {
        g.warm = warm;
        g.nwarm = warm_chunks(s, &g, warm);
        ooc__ordered_pass op = {parts + g.nwarm, s->p.threads, WINDOW, gather_chunk, gather_done, &g};
        rc = ooc__pass_ordered(&op, err);
    }
    free(warm);
    free(first);
    return rc;
}

/* The process that reads row r: its chunk's owner. */
static int row_owner(const ooc_stream *s, uint64_t r)
{
    return ooc_dist_owner(s->p.dist, r / ooc_array_get_info(s->a)->chunk_rows);
}

/* Distributed: each process reads the rows of its own chunks, and every process gets them all, each row from
 * its chunk's owner (no process reads another's chunks). */
static int read_rows_shared(ooc_stream *s, const uint64_t *rows, size_t n, double *out, ooc_error *err)
{
    const ooc_array_info *in = ooc_array_get_info(s->a);
    int size = ooc_dist_size(s->p.dist), rank = ooc_dist_rank(s->p.dist);
    uint64_t *mine = malloc((n ? n : 1) * sizeof *mine), *next = calloc((size_t)size, sizeof *next);
    double *got = malloc((n ? n : 1) * in->cols * sizeof *got), *all = NULL;
    size_t n_mine = 0;
    int rc = mine && next && got ? 0 : ooc_error_set(err, OOC_ENOMEM, "%s: out of memory", in->input);
    for (size_t i = 0; !rc && i < n; i++)
        if (row_owner(s, rows[i]) == rank)
            mine[n_mine++] = rows[i];
    if (!rc)
        rc = read_rows_here(s, mine, n_mine, got, err);
    uint64_t n_all = 0;
    rc = ooc_dist_agree(s->p.dist, rc, err);
    if (!rc)
        rc = ooc_dist_concat(s->p.dist, got, n_mine, in->cols * sizeof *got, (void **)&all, &n_all, err);
    if (!rc) { /* in rank order: row i is the next of its owner's; next[p]: where p's next row is in all */
        for (size_t i = 0; i < n; i++)
            next[row_owner(s, rows[i])]++;
        for (uint64_t p = 0, at = 0, c; p < (uint64_t)size; p++, at += c) {
            c = next[p];
            next[p] = at;
        }
        for (size_t i = 0; i < n; i++)
            memcpy(out + i * in->cols, all + next[row_owner(s, rows[i])]++ * in->cols, in->cols * sizeof *out);
    }
    free(all);
    free(got);
    free(next);
    free(mine);
    return rc;
}

int ooc_stream_read_rows(ooc_stream *s, const uint64_t *rows, size_t n, double *out, ooc_error *err)
{
    const ooc_array_info *in = ooc_array_get_info(s->a);
    for (size_t i = 0; i < n; i++)
        if (rows[i] >= in->rows)
            return ooc_error_set(err, OOC_EINVAL, "%s: row %llu is beyond the %llu rows", in->input,
                                 (unsigned long long)rows[i], (unsigned long long)in->rows);
    if (ooc_dist_size(s->p.dist) > 1)
        return read_rows_shared(s, rows, n, out, err);
    return read_rows_here(s, rows, n, out, err);
}
