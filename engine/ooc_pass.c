#include "ooc_pass_internal.h"

#include "ooc_cancel.h"

#include <omp.h>
#include <stdatomic.h>

int ooc__pass_ordered(const ooc__ordered_pass *p, ooc_error *err)
{
    atomic_int failed = 0;
    ooc_error first;
    ooc_error_clear(&first);
    /* schedule(dynamic, 1) hands chunks out in order; the ordered block then lets chunk i's consumer run
     * only after chunk i - 1's, so a thread that finishes early waits there for at most one chunk. */
#pragma omp parallel num_threads(p->threads)
    {
        int slot = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1) ordered
        for (uint64_t i = 0; i < p->nchunks; i++) {
            ooc_error e;
            ooc_error_clear(&e);
            int rc = 0;
            if (!atomic_load(&failed)) {
                if (ooc_cancel_requested())
                    rc = ooc_error_set(&e, OOC_EINTERRUPTED, "interrupted by signal %d", ooc_cancel_requested());
                else
                    rc = p->produce(p->ctx, i, slot, &e);
            }
#pragma omp ordered
            {
                if (!rc && !atomic_load(&failed))
                    rc = p->consume(p->ctx, i, slot, &e);
                if (rc && !atomic_load(&failed)) {
                    first = e;
                    atomic_store(&failed, 1);
                }
            }
        }
    }
    if (atomic_load(&failed)) {
        ooc_error_copy(err, &first);
        return first.code;
    }
    return 0;
}

int ooc__pass_each_slot(int threads, ooc__slot_fn fn, void *ctx)
{
    int failed = 0;
#pragma omp parallel for num_threads(threads) schedule(static, 1) reduction(+ : failed)
    for (int slot = 0; slot < threads; slot++)
        failed += fn(ctx, slot) != 0;
    return failed;
}
