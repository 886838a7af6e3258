#define _GNU_SOURCE /* O_TMPFILE, fallocate() */
#include "ooc_rowstate_internal.h"

#include "ooc_buffer_internal.h"
#include "ooc_pass_internal.h"
#include "ooc_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ooc_rowstate {
    size_t row_bytes;
    uint64_t rows, chunk_rows, nchunks;
    unsigned char *mem; /* in memory: the state of every row of this process's chunks, */
    uint64_t mem_bytes;
    int fd;             /* or spilled: the file; either way one chunk after another (local_offset()) */
    const char *dir;
    const char *input; /* for messages */
    unsigned char **buf; /* spilled: per worker, one chunk's state */
    int threads;
    const ooc_dist *dist; /* distributed: this process holds its chunks' state (ooc_dist_item()) */
};

static const char *temp_dir(void)
{
    const char *d = getenv("TMPDIR");
    return d && *d ? d : "/tmp";
}

/* An unlinked file: nothing is left behind, whatever ends the process. */
static int open_spill(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    char path[4096];
    snprintf(path, sizeof path, "%s/.ooc-rowstate.XXXXXX", dir);
    fd = mkstemp(path);
    if (fd >= 0)
        unlink(path);
    return fd;
}

/* The spill file's room taken at once, so that a $TMPDIR too small fails now rather than passes later: an
 * error, or 0 also where the file system cannot reserve (the writes will say). */
static int reserve(const ooc_rowstate *rs, uint64_t bytes, ooc_error *err)
{
    if (bytes == 0 || fallocate(rs->fd, 0, 0, (off_t)bytes) == 0 ||
        (errno != ENOSPC && errno != EDQUOT && errno != EFBIG))
        return 0;
    return ooc_error_set(err, errno == EFBIG ? OOC_EIO : OOC_ENOSPACE, "%s: per-row state: %.1f MiB in %s: %s",
                         rs->input, (double)bytes / 1048576.0, rs->dir, strerror(errno));
}

static int create(struct ooc_stream *s, size_t row_bytes, ooc_rowstate **out, ooc_error *err)
{
    const ooc_array_info *in = ooc_array_get_info(ooc_stream_array(s));
    const ooc_stream_stats *st = ooc_stream_get_stats(s);
    if (row_bytes == 0 || row_bytes > st->state_row_bytes)
        return ooc_error_set(err, OOC_EINVAL, "%s: per-row state of %zu bytes, the stream has room for %zu",
                             in->input, row_bytes, (size_t)st->state_row_bytes);
    ooc_rowstate *rs = calloc(1, sizeof *rs);
    if (!rs)
        return ooc_error_set(err, OOC_ENOMEM, "%s: out of memory for per-row state", in->input);
    rs->row_bytes = row_bytes;
    rs->rows = in->rows;
    rs->chunk_rows = in->chunk_rows;
    rs->nchunks = in->nchunks;
    rs->threads = st->threads;
    rs->dist = ooc_stream_dist(s);
    rs->fd = -1;
    rs->dir = temp_dir();
    rs->input = in->input;
    uint64_t own = ooc_dist_owned(rs->dist, in->nchunks) * in->chunk_rows * row_bytes;
    int ok;
    if (!st->state_spilled) {
        rs->mem_bytes = own;
        ok = (rs->mem = ooc__buffer_calloc(rs->mem_bytes)) != NULL;
    } else {
        ok = (rs->buf = calloc((size_t)rs->threads, sizeof *rs->buf)) != NULL;
        for (int i = 0; ok && i < rs->threads; i++)
            ok = (rs->buf[i] = malloc(in->chunk_rows * row_bytes)) != NULL;
        if (ok && (rs->fd = open_spill(rs->dir)) < 0) {
            int e = errno;
            ooc_rowstate_free(rs);
            return ooc_error_set(err, e == ENOSPC ? OOC_ENOSPACE : OOC_EIO,
                                 "%s: per-row state: cannot create a temporary file in %s: %s", in->input,
                                 temp_dir(), strerror(e));
        }
        int rc = ok ? reserve(rs, own, err) : 0;
        if (rc) {
            ooc_rowstate_free(rs);
            return rc;
        }
    }
    if (!ok) {
        ooc_rowstate_free(rs);
        return ooc_error_set(err, OOC_ENOMEM, "%s: out of memory for per-row state", in->input);
    }
    *out = rs;
    return 0;
}

int ooc_rowstate_create(struct ooc_stream *s, size_t row_bytes, ooc_rowstate **out, ooc_error *err)
{
    *out = NULL;
    int rc = ooc_dist_agree(ooc_stream_dist(s), create(s, row_bytes, out, err), err);
    if (rc) {
        ooc_rowstate_free(*out);
        *out = NULL;
    }
    return rc;
}

void ooc_rowstate_free(ooc_rowstate *rs)
{
    if (!rs)
        return;
    ooc__buffer_free(rs->mem, rs->mem_bytes);
    for (int i = 0; rs->buf && i < rs->threads; i++)
        free(rs->buf[i]);
    free(rs->buf);
    if (rs->fd >= 0)
        close(rs->fd);
    free(rs);
}

int ooc_rowstate_spilled(const ooc_rowstate *rs)
{
    return rs->mem == NULL;
}

/* Where the chunk's state starts: after that of this process's chunks before it, so that a process holds
 * (and touches) its own chunks' state alone. Every process's whole array, touched in chunks dealt round
 * robin, took each process the memory of all rows: huge pages spanned the chunks of both. */
static uint64_t local_offset(const ooc_rowstate *rs, uint64_t chunk)
{
    return chunk / (uint64_t)ooc_dist_size(rs->dist) * rs->chunk_rows * rs->row_bytes;
}

static uint64_t chunk_bytes(const ooc_rowstate *rs, uint64_t chunk)
{
    uint64_t row0 = chunk * rs->chunk_rows, n = rs->rows - row0;
    return (n < rs->chunk_rows ? n : rs->chunk_rows) * rs->row_bytes;
}

/* Whole reads and writes at the chunk's place in the file; a read past the end (never written) is zeros. */
static int transfer(ooc_rowstate *rs, uint64_t chunk, unsigned char *buf, int writing, ooc_error *err)
{
    uint64_t want = chunk_bytes(rs, chunk), done = 0;
    off_t at = (off_t)local_offset(rs, chunk);
    while (done < want) {
        ssize_t n = writing ? pwrite(rs->fd, buf + done, want - done, at + (off_t)done)
                            : pread(rs->fd, buf + done, want - done, at + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ooc_error_set(err, errno == ENOSPC || errno == EDQUOT ? OOC_ENOSPACE : OOC_EIO,
                                 "%s: per-row state in %s: chunk %llu: %s", rs->input, rs->dir,
                                 (unsigned long long)chunk, strerror(errno));
        if (n == 0) { /* past the end: never written */
            memset(buf + done, 0, want - done);
            break;
        }
        done += (uint64_t)n;
    }
    return 0;
}

void *ooc__rowstate_load(ooc_rowstate *rs, uint64_t chunk, int slot, ooc_error *err)
{
    if (rs->mem)
        return rs->mem + local_offset(rs, chunk);
    return transfer(rs, chunk, rs->buf[slot], 0, err) ? NULL : rs->buf[slot];
}

int ooc__rowstate_store(ooc_rowstate *rs, uint64_t chunk, int slot, ooc_error *err)
{
    return rs->mem ? 0 : transfer(rs, chunk, rs->buf[slot], 1, err);
}

/* What the process holding a chunk's state tells the others in a distributed scan: fn's result, its error,
 * then the caller's context as fn left it. */
typedef struct scan_turn {
    int rc;
    ooc_error err;
} scan_turn;

int ooc_rowstate_scan(ooc_rowstate *rs, ooc_rowstate_fn fn, void *ctx, size_t ctx_bytes, ooc_error *err)
{
    unsigned char *turn = rs->dist ? malloc(sizeof(scan_turn) + ctx_bytes) : NULL;
    int rc = ooc_dist_agree(rs->dist, rs->dist && !turn ? ooc_error_set(err, OOC_ENOMEM, "out of memory") : 0, err);
    for (uint64_t c = 0; !rc && c < rs->nchunks; c++) {
        int holder = ooc_dist_owner(rs->dist, c);
        if (holder == ooc_dist_rank(rs->dist)) {
            const void *st = ooc__rowstate_load(rs, c, 0, err);
            rc = st ? fn(ctx, c * rs->chunk_rows, chunk_bytes(rs, c) / rs->row_bytes, st, err) : err->code;
        }
        if (!rs->dist)
            continue;
        scan_turn t = {.rc = rc};
        ooc_error_clear(&t.err);
        if (rc && err)
            t.err = *err;
        memcpy(turn, &t, sizeof t);
        memcpy(turn + sizeof t, ctx, ctx_bytes);
        ooc_dist_bcast(rs->dist, turn, sizeof t + ctx_bytes, holder);
        memcpy(&t, turn, sizeof t);
        memcpy(ctx, turn + sizeof t, ctx_bytes);
        rc = t.rc;
        if (rc && err && t.err.code)
            *err = t.err;
    }
    free(turn);
    return rc;
}

int ooc_rowstate_threads(const ooc_rowstate *rs)
{
    return rs->threads;
}

typedef struct parallel_scan {
    ooc_rowstate *rs;
    ooc_rowstate_each_fn each;
    ooc_rowstate_done_fn done;
    void *ctx;
} parallel_scan;

static int scan_each(void *ctx, uint64_t j, int worker, int slot, ooc_error *err)
{
    parallel_scan *p = ctx;
    uint64_t chunk = ooc_dist_item(p->rs->dist, j);
    const void *st = ooc__rowstate_load(p->rs, chunk, worker, err);
    if (!st)
        return err->code;
    return p->each(p->ctx, chunk, chunk * p->rs->chunk_rows, chunk_bytes(p->rs, chunk) / p->rs->row_bytes, st,
                   slot, err);
}

static int scan_done(void *ctx, uint64_t j, int slot, ooc_error *err)
{
    parallel_scan *p = ctx;
    return p->done ? p->done(p->ctx, ooc_dist_item(p->rs->dist, j), slot, err) : 0;
}

int ooc_rowstate_scan_parallel(ooc_rowstate *rs, ooc_rowstate_each_fn each, ooc_rowstate_done_fn done, void *ctx,
                               ooc_error *err)
{
    parallel_scan p = {rs, each, done, ctx};
    /* a window of one: each() and done() get slots in [0, threads) */
    ooc__ordered_pass op = {ooc_dist_owned(rs->dist, rs->nchunks), rs->threads, 1, scan_each, scan_done, &p};
    return ooc_dist_agree(rs->dist, ooc__pass_ordered(&op, err), err);
}

size_t ooc__rowstate_row_bytes(const ooc_rowstate *rs)
{
    return rs->row_bytes;
}
