/* ooc_dist.h: the processes one run is split over (MPI ranks), or this process alone.
 *
 * A stream given a dist (ooc_stream_params.dist) takes chunk i in process i % size: each process reads,
 * decodes and maps its own chunks, and every chunk's partial goes to every process, which all fold them in
 * chunk order, as a single process does. So results are bitwise those of a single process, for any number
 * of processes and threads. Outputs chunked like the input (labels) are written by process 0, which the
 * others send their encoded chunks to.
 *
 * Every call below is collective: all processes make it, in the same order. A failure in one process is
 * learned by all at the next collective that agrees on errors (ooc_dist_agree(), or a pass's chunk
 * exchange), so no process waits for one that has given up. NULL is this process alone: size 1, rank 0,
 * and every call a local no-op or copy.
 */
#ifndef OOC_DIST_H
#define OOC_DIST_H

#include "ooc_error.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ooc_dist ooc_dist;

/* ooc_dist_launch_rank(): this process's rank when an MPI launcher (mpirun, mpiexec, srun) started it, as
 * the launcher tells it before MPI is initialised; -1 when none did. */
int ooc_dist_launch_rank(void);

/* ooc_dist_init(): when launched by MPI and built with it, initialise MPI (a thread at a time may call it)
 * and join all of the launch's processes into *out; otherwise *out = NULL. OOC_EINVAL when launched by
 * MPI but built without it, or when MPI cannot be used from several threads in turn. */
int ooc_dist_init(int *argc, char ***argv, ooc_dist **out, ooc_error *err);

/* ooc_dist_finalize(): leave MPI; frees d. NULL is a no-op. */
void ooc_dist_finalize(ooc_dist *d);

int ooc_dist_rank(const ooc_dist *d);
int ooc_dist_size(const ooc_dist *d);
/* ooc_dist_local_size(): the processes on this machine (sharing its cores and memory). */
int ooc_dist_local_size(const ooc_dist *d);

/* Work item i (a chunk) belongs to process ooc_dist_owner() = i % size. ooc_dist_owned(): how many of items
 * [0, n) are this process's; ooc_dist_item(): its j-th, j * size + rank. */
int ooc_dist_owner(const ooc_dist *d, uint64_t i);
uint64_t ooc_dist_owned(const ooc_dist *d, uint64_t n);
uint64_t ooc_dist_item(const ooc_dist *d, uint64_t j);

/* ooc_dist_agree(): rc and err are this process's result. Returns 0 when every process succeeded; else
 * every process returns, with err, the error of the lowest-ranked process that failed. */
int ooc_dist_agree(const ooc_dist *d, int rc, ooc_error *err);

/* ooc_dist_allgather(): `bytes` bytes from every process (the same count in all) into recv, size x bytes,
 * in rank order. */
void ooc_dist_allgather(const ooc_dist *d, const void *send, size_t bytes, void *recv);

/* ooc_dist_allgatherv(): counts[r] bytes from process r (every process knows every count) into recv at
 * offset displs[r]. */
void ooc_dist_allgatherv(const ooc_dist *d, const void *send, const size_t *counts, const size_t *displs,
                         void *recv);

/* ooc_dist_gatherv(): the same, but into process 0's recv only (the others' recv is not used). */
void ooc_dist_gatherv(const ooc_dist *d, const void *send, const size_t *counts, const size_t *displs, void *recv);

/* ooc_dist_bcast(): process root's `bytes` bytes at buf into every process's buf. */
void ooc_dist_bcast(const ooc_dist *d, void *buf, size_t bytes, int root);

/* ooc_dist_sum(): *v summed over the processes, in every process. */
void ooc_dist_sum(const ooc_dist *d, uint64_t *v);

/* ooc_dist_concat(): every process's n_mine elements of elem_size bytes, concatenated in rank order into a
 * new array *all (free() it) of *n_all elements. Returns 0, or OOC_ENOMEM in every process. */
int ooc_dist_concat(const ooc_dist *d, const void *mine, uint64_t n_mine, size_t elem_size, void **all,
                    uint64_t *n_all, ooc_error *err);

/* ooc_dist_abort(): end every process of the run at once, with status. For a failure the others cannot be
 * told of; never returns. */
#ifdef __cplusplus
[[noreturn]]
#else
_Noreturn
#endif
void ooc_dist_abort(const ooc_dist *d, int status);

#ifdef __cplusplus
}
#endif

#endif
