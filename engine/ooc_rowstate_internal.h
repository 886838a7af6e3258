/* ooc_rowstate_internal.h: what the stream needs of per-row state, beside the public ooc_rowstate.h. */
#ifndef OOC_ROWSTATE_INTERNAL_H
#define OOC_ROWSTATE_INTERNAL_H

#include "ooc_rowstate.h"

/* The state of chunk `chunk` for worker `slot` (0 .. threads-1), and after map() its write-back. */
void *ooc__rowstate_load(ooc_rowstate *rs, uint64_t chunk, int slot, ooc_error *err);
int ooc__rowstate_store(ooc_rowstate *rs, uint64_t chunk, int slot, ooc_error *err);
size_t ooc__rowstate_row_bytes(const ooc_rowstate *rs);

#endif
