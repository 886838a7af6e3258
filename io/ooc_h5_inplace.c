#define _GNU_SOURCE /* mmap, sysconf, MAP_POPULATE */
#include "ooc_h5_inplace_internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

struct ooc__h5_inplace {
    int fd;
    uint64_t file_bytes;
    uint64_t nchunks;
    uint64_t *offset; /* per row chunk: where its stored bytes start in the file; 0 when unknown */
    uint64_t *bytes;  /* and how many there are */
    uint64_t max_bytes;
};

/* Locating N chunks costs about N^2/2 x 12 ns, once per run; one pass reads them at no more than 5 GB/s, in
 * N x (stored chunk bytes) / 5 GB/s. Build the table when the first is under 1% of the second: N <= stored
 * chunk bytes / 3000, and always for 64 chunks or fewer (the origin's 28 MB chunks: up to 9,300 chunks,
 * 1.9e9 rows; 160 KB chunks: up to 64). */
static int worth_locating(uint64_t nchunks, uint64_t stored_bytes)
{
    return nchunks > 0 && (nchunks <= 64 || nchunks <= stored_bytes / nchunks / 3000);
}

static int fill_table(ooc__h5_inplace *t, hid_t file, hid_t dset, const ooc_h5_info *in)
{
    hsize_t base = 0, n = 0;
    hid_t fcpl = H5Fget_create_plist(file);
    if (fcpl < 0 || H5Pget_userblock(fcpl, &base) < 0) /* HDF5 addresses count from the user block's end */
        base = 0;
    if (fcpl >= 0)
        H5Pclose(fcpl);
    hid_t space = H5Dget_space(dset); /* HDF5 1.10 refuses H5S_ALL here */
    int rc = space < 0 || H5Dget_num_chunks(dset, space, &n) < 0 || !worth_locating(n, in->stored_bytes) ? -1 : 0;
    for (hsize_t i = 0; i < n && !rc; i++) {
        hsize_t at[2] = {0, 0}, size = 0;
        haddr_t addr = HADDR_UNDEF;
        unsigned mask = 0;
        if (H5Dget_chunk_info(dset, space, i, at, &mask, &addr, &size) < 0) {
            rc = -1;
            break;
        }
        uint64_t c = at[0] / in->chunk_rows;
        if (mask || addr == HADDR_UNDEF || size == 0 || at[1] != 0 || c >= t->nchunks ||
            base + addr > t->file_bytes || size > t->file_bytes - base - addr)
            continue; /* not as the codec expects, or beyond the file: HDF5 reads it and says what is wrong */
        t->offset[c] = base + addr;
        t->bytes[c] = size;
        t->max_bytes = size > t->max_bytes ? size : t->max_bytes;
    }
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

ooc__h5_inplace *ooc__h5_inplace_open(const char *path, hid_t file, hid_t dset, const ooc_h5_info *in)
{
    if (!in->raw_chunks || !in->codec.zstd_level || in->chunk_rows == 0)
        return NULL;
    ooc__h5_inplace *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->nchunks = (in->rows + in->chunk_rows - 1) / in->chunk_rows;
    t->offset = calloc(t->nchunks, sizeof *t->offset);
    t->bytes = calloc(t->nchunks, sizeof *t->bytes);
    struct stat st;
    t->fd = open(path, O_RDONLY | O_CLOEXEC);
    int ok = t->offset && t->bytes && t->fd >= 0 && fstat(t->fd, &st) == 0;
    if (ok) {
        t->file_bytes = (uint64_t)st.st_size;
        ok = fill_table(t, file, dset, in) == 0;
    }
    H5Eclear2(H5E_DEFAULT);
    if (!ok) {
        ooc__h5_inplace_close(t);
        return NULL;
    }
    return t;
}

void ooc__h5_inplace_close(ooc__h5_inplace *t)
{
    if (!t)
        return;
    if (t->fd >= 0)
        close(t->fd);
    free(t->offset);
    free(t->bytes);
    free(t);
}

int ooc__h5_inplace_view(const ooc__h5_inplace *t, uint64_t chunk, size_t decoded_bytes, ooc_h5_chunk_view *v)
{
    memset(v, 0, sizeof *v);
    if (chunk >= t->nchunks || t->bytes[chunk] == 0)
        return 0;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), at = t->offset[chunk], start = at - at % page;
    size_t len = (size_t)(at + t->bytes[chunk] - start);
    void *map = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, t->fd, (off_t)start);
    if (map == MAP_FAILED)
        return 0;
    const void *data = (const char *)map + (at - start);
    size_t bytes = (size_t)t->bytes[chunk];
    /* Walking the frame's block headers also brings its pages in, here rather than in the decoder. */
    if (ZSTD_getFrameContentSize(data, bytes) != decoded_bytes || ZSTD_findFrameCompressedSize(data, bytes) != bytes) {
        munmap(map, len);
        return 0;
    }
    v->data = data;
    v->bytes = bytes;
    v->map = map;
    v->map_bytes = len;
    return 1;
}

uint64_t ooc__h5_inplace_max_bytes(const ooc__h5_inplace *t)
{
    return t->max_bytes;
}

void ooc_h5_chunk_view_release(ooc_h5_chunk_view *v)
{
    if (v->map)
        munmap(v->map, v->map_bytes);
    memset(v, 0, sizeof *v);
}
