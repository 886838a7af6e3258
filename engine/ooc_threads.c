#include "ooc_threads.h"

#include <omp.h>

int ooc_threads_resolve(int requested)
{
    int n = requested >= 1 ? requested : omp_get_num_procs(); /* libgomp counts the affinity mask */
    int most = omp_get_thread_limit();                          /* OMP_THREAD_LIMIT: no more run */
    n = n > most ? most : n;
    return n >= 1 ? n : 1;
}
