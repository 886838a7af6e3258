/* ooc_h5_internal.h: what the io/ HDF5 files share. */
#ifndef OOC_H5_INTERNAL_H
#define OOC_H5_INTERNAL_H

#include "ooc_dtype.h"
#include "ooc_error.h"

#include <hdf5.h>

/* Every HDF5 call of ours runs under this one lock: a thread-safe libhdf5 (Debian's is) serialises calls
 * anyway, and one built without thread safety needs it. The first lock also initialises the library for
 * ooc (zstd filter registered); while a thread holds the lock, HDF5's error printing is off for it, and
 * its own setting comes back after (a program's HDF5 is left as it was). Recursive, so a locked helper may
 * call another. */
void ooc__h5_lock(void);
void ooc__h5_unlock(void);

/* ooc__h5_close_failed(): under the lock, after H5Fclose() failed: HDF5's files are then not closed at exit. */
void ooc__h5_close_failed(void);

/* ooc__h5_reading(): under the lock, before HDF5 opens path to read it: the file ooc_h5_crash_file() names. */
void ooc__h5_reading(const char *path);

/* ooc__h5_fail(): record an HDF5 failure: code (OOC_ENOSPACE when the stack shows a full disk or a file
 * size limit), the caller's "WHAT" message, and HDF5's innermost reason as "WHY". Clears HDF5's error stack.
 * Call with the lock held. Returns the code. */
int ooc__h5_fail(ooc_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ooc__h5_mem_type(): the native HDF5 type of an ooc dtype (a library-owned id, not to be closed). */
hid_t ooc__h5_mem_type(ooc_dtype t);

/* ooc__h5_virtual_cycle(): whether the virtual dataset `dataset` of the file at `path` has sources that lead
 * back to a dataset on the way (or go 16 deep): HDF5 1.10 recurses for ever reading one, and crashes. Sources
 * are looked for where HDF5 looks by default; a missing one (read as fill values) ends its way. Call with the
 * lock held. */
int ooc__h5_virtual_cycle(const char *path, const char *dataset);

/* ooc__h5_virtual_sources(): with dset a virtual dataset (dcpl its creation properties; `name` in messages)
 * of the file at path, an error (OOC_ENOTFOUND) for the first source found nowhere HDF5 may look: it reads
 * such a source's rows as fill values, and clustering them would average made-up data. Other layouts: 0. */
int ooc__h5_virtual_sources(const char *path, hid_t dset, hid_t dcpl, const char *name, ooc_error *err);

/* ooc__h5_external_sources(): with dcpl a dataset's creation properties naming external raw data files (of the
 * HDF5 file at path; `name` in messages; bytes: the data's size), an error for the first file found nowhere
 * HDF5 looks (OOC_ENOTFOUND) or too short for the rows it stores (OOC_ECORRUPT: HDF5 reads the missing bytes
 * as zeros). No external files: 0. */
int ooc__h5_external_sources(const char *path, hid_t dcpl, uint64_t bytes, const char *name, ooc_error *err);

#endif
