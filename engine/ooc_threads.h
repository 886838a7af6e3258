/* ooc_threads.h: how many threads a run uses. */
#ifndef OOC_THREADS_H
#define OOC_THREADS_H

#ifdef __cplusplus
extern "C" {
#endif

/* ooc_threads_resolve(): `requested` if >= 1, else the cores this process may run on (its CPU affinity,
 * as cgroups and taskset set it); at most OpenMP's thread limit (OMP_THREAD_LIMIT). */
int ooc_threads_resolve(int requested);

#ifdef __cplusplus
}
#endif

#endif
