#include "ooc_threads.h"

#include <omp.h>

int ooc_threads_resolve(int requested)
{
    if (requested >= 1)
        return requested;
    int n = omp_get_num_procs(); /* libgomp counts the affinity mask, not the machine */
    return n >= 1 ? n : 1;
}
