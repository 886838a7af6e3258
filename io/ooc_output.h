/* ooc_output.h: outputs that appear whole or not at all.
 *
 * ooc_output_open() reserves a temporary file beside the destination (same directory, so the final rename
 * is atomic); the caller writes it at ooc_output_path(); ooc_output_commit() syncs it and renames it into
 * place; ooc_output_abort() removes it (by its name in the directory, held open: a directory renamed meanwhile
 * keeps nothing of the run's). An existing destination is refused unless force, both when opening
 * (so no work is wasted) and at the rename (so a file that appeared meanwhile is not clobbered). A run with
 * several outputs commits them together (ooc_output_commit_all()): all in place, or none.
 */
#ifndef OOC_OUTPUT_H
#define OOC_OUTPUT_H

#include "ooc_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ooc_output ooc_output;

/* ooc_output_open(): the destinations ooc_output_ready() refuses are refused here already; OOC_EIO if the
 * temporary file cannot be created (message names the directory and the system's reason). */
int ooc_output_open(const char *dest, int force, ooc_output **out, ooc_error *err);

/* ooc_output_path(): where to write: the temporary file. */
const char *ooc_output_path(const ooc_output *o);

/* ooc_output_dest(): the destination path. */
const char *ooc_output_dest(const ooc_output *o);

/* ooc_output_ready(): fsync the temporary file and check again that the destination may be taken, so that
 * a run committing several outputs finds any failure before its first rename. On failure o is kept (the
 * caller aborts it). Refused destinations: an empty name, a directory or any other non-regular file
 * (OOC_EINVAL), an existing file unless force (OOC_EEXIST). */
int ooc_output_ready(ooc_output *o, ooc_error *err);

/* ooc_output_commit(): ooc_output_ready() if not yet done, rename into place, fsync the directory; frees o.
 * On failure the temporary file is removed and the destination left as it was. */
int ooc_output_commit(ooc_output *o, ooc_error *err);

/* ooc_output_commit_all(): ooc_output_commit() of n outputs (NULL entries skipped) as one: when one fails,
 * those already renamed are taken back (a replaced destination gets its old file again: kept by exchanging it
 * with the temporary, or on file systems without RENAME_EXCHANGE, such as NFS, by a hard link) and every
 * destination is left as it was; should a take-back fail too, the old file stays under its hidden name, which
 * the message gives. Frees them all. */
int ooc_output_commit_all(ooc_output *const *outs, int n, ooc_error *err);

/* ooc_output_abort(): remove the temporary file; frees o. NULL is a no-op. */
void ooc_output_abort(ooc_output *o);

/* ooc_output_remove_all_temporaries(): unlink every temporary file still open; nothing while a commit is
 * renaming (a temporary may then hold a replaced file's old contents). Returns how many. Async-signal-safe:
 * for a program that must exit from a signal handler without unwinding (best not while committing: see
 * cli_common.c), or from an exit() a library called. */
int ooc_output_remove_all_temporaries(void);

#ifdef __cplusplus
}
#endif

#endif
