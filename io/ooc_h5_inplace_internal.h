/* ooc_h5_inplace_internal.h: raw chunks read in place: straight from where they lie in the file.
 *
 * H5Dread_chunk reads a chunk under HDF5's global lock, one thread at a time. Knowing where each chunk lies
 * in the file, every thread reads its own with pread(), no lock taken, into a buffer it reuses. Mapping the
 * chunk instead (and decompressing from the page cache's own pages) saves that copy but costs more: filling
 * the page tables, then unmapping, which interrupts every other core to flush its TLB. On a 2-core VM a
 * streaming pass of 10M x 20 float64 ran 0.65-0.70 s an iteration mapped, 0.47-0.50 s read.
 *
 * HDF5 1.10 tells where chunk i lies only through H5Dget_chunk_info, which walks the chunk index from the
 * start on every call: locating all N chunks costs N^2/2 steps (about 12 ns each here). The table is built
 * only when that is small against reading the chunks (see ooc_h5_inplace.c); otherwise every chunk is
 * read through HDF5 as before.
 *
 * A location is trusted only when the bytes there are whole zstd frames of the chunk's decoded size;
 * anything else (a file with a user block we misjudged, a corrupt index) falls back to HDF5's read, which
 * reports what is wrong. Only zstd chunks are read in place: their frames can be checked that way.
 */
#ifndef OOC_H5_INPLACE_INTERNAL_H
#define OOC_H5_INPLACE_INTERNAL_H

#include "ooc_h5.h"
#include "ooc_h5_internal.h"

typedef struct ooc__h5_inplace ooc__h5_inplace;

/* ooc__h5_inplace_open(): the chunk table of dset (a raw_chunks dataset with zstd) in `file`, the HDF5 file
 * that holds it, read through fd (a descriptor on that file, borrowed: it must stay open as long as the
 * table), or NULL when the chunks are too many to locate cheaply or anything fails. Call with the HDF5 lock
 * held. */
ooc__h5_inplace *ooc__h5_inplace_open(int fd, hid_t file, hid_t dset, const ooc_h5_info *in);
void ooc__h5_inplace_close(ooc__h5_inplace *t); /* NULL is a no-op */

/* ooc__h5_inplace_read(): chunk `chunk`'s stored bytes into buf (cap bytes; no lock needed); returns how many,
 * or 0 if it cannot be read in place (not located, larger than cap, a failed read, not whole zstd frames of
 * decoded_bytes). */
size_t ooc__h5_inplace_read(const ooc__h5_inplace *t, uint64_t chunk, size_t decoded_bytes, void *buf, size_t cap);

/* ooc__h5_inplace_max_bytes(): the largest stored chunk, the most one read takes. */
uint64_t ooc__h5_inplace_max_bytes(const ooc__h5_inplace *t);

/* ooc__h5_inplace_first_frame_size(): the content size that the first zstd frame of the stored chunk at
 * HDF5 address addr (size stored bytes) records, from its header alone, read through `file`'s own descriptor
 * without reading the chunk; ZSTD_CONTENTSIZE_UNKNOWN when it cannot be read so. Call with the HDF5 lock. */
unsigned long long ooc__h5_inplace_first_frame_size(hid_t file, haddr_t addr, hsize_t size);

#endif
