#define _POSIX_C_SOURCE 200809L /* pread */
#include "ooc_h5_inplace_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

struct ooc__h5_inplace {
    int fd; /* borrowed: the reader's */
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

/* Where HDF5's addresses count from in the file: the user block's end. */
static hsize_t address_base(hid_t file)
{
    hsize_t base = 0;
    hid_t fcpl = H5Fget_create_plist(file);
    if (fcpl < 0 || H5Pget_userblock(fcpl, &base) < 0)
        base = 0;
    if (fcpl >= 0)
        H5Pclose(fcpl);
    return base;
}

static int fill_table(ooc__h5_inplace *t, hid_t file, hid_t dset, const ooc_h5_info *in)
{
    hsize_t base = address_base(file), n = 0;
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

ooc__h5_inplace *ooc__h5_inplace_open(int fd, hid_t file, hid_t dset, const ooc_h5_info *in)
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
    t->fd = fd;
    int ok = t->offset && t->bytes && fd >= 0 && fstat(fd, &st) == 0;
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
    free(t->offset);
    free(t->bytes);
    free(t);
}

size_t ooc__h5_inplace_read(const ooc__h5_inplace *t, uint64_t chunk, size_t decoded_bytes, void *buf, size_t cap)
{
    if (chunk >= t->nchunks || t->bytes[chunk] == 0 || t->bytes[chunk] > cap)
        return 0;
    size_t bytes = (size_t)t->bytes[chunk], done = 0;
    while (done < bytes) {
        ssize_t n = pread(t->fd, (char *)buf + done, bytes - done, (off_t)(t->offset[chunk] + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) /* HDF5's own read then says what is wrong */
            return 0;
        done += (size_t)n;
    }
    if (ooc_codec_zstd_content_size(buf, bytes) != decoded_bytes)
        return 0;
    return bytes;
}

uint64_t ooc__h5_inplace_max_bytes(const ooc__h5_inplace *t)
{
    return t->max_bytes;
}

unsigned long long ooc__h5_inplace_first_frame_size(hid_t file, haddr_t addr, hsize_t size)
{
    unsigned char header[18]; /* zstd's largest frame header (ZSTD_FRAMEHEADERSIZE_MAX, not in its stable API) */
    size_t n = size < sizeof header ? (size_t)size : sizeof header;
    void *handle = NULL; /* the sec2 driver's: its file descriptor */
    if (H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) < 0 || !handle ||
        pread(*(int *)handle, header, n, (off_t)(address_base(file) + addr)) != (ssize_t)n)
        return ZSTD_CONTENTSIZE_UNKNOWN;
    unsigned long long held = ZSTD_getFrameContentSize(header, n);
    return held == ZSTD_CONTENTSIZE_ERROR ? ZSTD_CONTENTSIZE_UNKNOWN : held;
}
