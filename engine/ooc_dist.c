/* Built with MPI (OOC_HAVE_MPI) or without: then no dist exists (ooc_dist_init() gives NULL), and every call
 * takes its single-process branch. */
#include "ooc_dist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifdef OOC_HAVE_MPI
#include <mpi.h>
#endif

struct ooc_dist {
    int rank, size, local_size;
};

int ooc_dist_launch_rank(void)
{
    /* Open MPI's mpirun, MPICH's Hydra and Slurm (PMI), PMIx launchers. */
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return atoi(v) > 0 ? atoi(v) : 0;
    }
    return -1;
}

int ooc_dist_init(int *argc, char ***argv, ooc_dist **out, ooc_error *err)
{
    *out = NULL;
    if (ooc_dist_launch_rank() < 0)
        return 0;
#ifdef OOC_HAVE_MPI
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return ooc_error_set(err, OOC_EINVAL, "MPI: cannot initialise");
    if (provided < MPI_THREAD_SERIALIZED) {
        MPI_Finalize();
        return ooc_error_set(err, OOC_EINVAL, "MPI: the library cannot be called from several threads in turn "
                                              "(MPI_THREAD_SERIALIZED)");
    }
    ooc_dist *d = calloc(1, sizeof *d);
    if (!d) {
        MPI_Finalize();
        return ooc_error_set(err, OOC_ENOMEM, "MPI: out of memory");
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm local;
    d->local_size = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local) == MPI_SUCCESS) {
        MPI_Comm_size(local, &d->local_size);
        MPI_Comm_free(&local);
    }
    *out = d;
    return 0;
#else
    (void)argc;
    (void)argv;
    return ooc_error_set(err, OOC_EINVAL, "launched by MPI, but this build of ooc has no MPI (install "
                                          "libopenmpi-dev and rebuild)");
#endif
}

void ooc_dist_finalize(ooc_dist *d)
{
    if (!d)
        return;
#ifdef OOC_HAVE_MPI
    MPI_Finalize();
#endif
    free(d);
}

int ooc_dist_rank(const ooc_dist *d)
{
    return d ? d->rank : 0;
}

int ooc_dist_size(const ooc_dist *d)
{
    return d ? d->size : 1;
}

int ooc_dist_local_size(const ooc_dist *d)
{
    return d ? d->local_size : 1;
}

int ooc_dist_owner(const ooc_dist *d, uint64_t i)
{
    return (int)(i % (uint64_t)ooc_dist_size(d));
}

uint64_t ooc_dist_owned(const ooc_dist *d, uint64_t n)
{
    uint64_t rank = (uint64_t)ooc_dist_rank(d);
    return n > rank ? (n - rank - 1) / (uint64_t)ooc_dist_size(d) + 1 : 0;
}

uint64_t ooc_dist_item(const ooc_dist *d, uint64_t j)
{
    return j * (uint64_t)ooc_dist_size(d) + (uint64_t)ooc_dist_rank(d);
}

void ooc_dist_abort(const ooc_dist *d, int status)
{
#ifdef OOC_HAVE_MPI
    if (d)
        MPI_Abort(MPI_COMM_WORLD, status);
#else
    (void)d;
#endif
    exit(status);
}

#ifdef OOC_HAVE_MPI
/* MPI counts are ints: the engine's messages (partials, encoded chunks) stay far below INT_MAX bytes. */
static int count_of(const ooc_dist *d, size_t bytes)
{
    if (bytes > INT_MAX)
        ooc_dist_abort(d, 1);
    return (int)bytes;
}
#endif

int ooc_dist_agree(const ooc_dist *d, int rc, ooc_error *err)
{
    if (!d)
        return rc;
    ooc_error mine;
    ooc_error_clear(&mine);
    if (rc)
        mine = err && err->code ? *err : (ooc_error){.code = rc};
    ooc_error *all = malloc((size_t)d->size * sizeof *all);
    if (!all) /* the others wait for this process's answer, and none can be given */
        ooc_dist_abort(d, 1);
    ooc_dist_allgather(d, &mine, sizeof mine, all);
    rc = 0;
    for (int r = 0; r < d->size && !rc; r++)
        if ((rc = all[r].code) != 0 && err)
            *err = all[r];
    free(all);
    return rc;
}

void ooc_dist_allgather(const ooc_dist *d, const void *send, size_t bytes, void *recv)
{
    if (!d) {
        memcpy(recv, send, bytes);
        return;
    }
#ifdef OOC_HAVE_MPI
    int n = count_of(d, bytes);
    MPI_Allgather(send, n, MPI_BYTE, recv, n, MPI_BYTE, MPI_COMM_WORLD);
#endif
}

static void gatherv(const ooc_dist *d, const void *send, const size_t *counts, const size_t *displs, void *recv,
                    int all)
{
    if (!d) {
        memcpy((char *)recv + displs[0], send, counts[0]);
        return;
    }
#ifdef OOC_HAVE_MPI
    int *c = malloc(2 * (size_t)d->size * sizeof *c);
    if (!c)
        ooc_dist_abort(d, 1);
    int *at = c + d->size;
    for (int r = 0; r < d->size; r++) {
        c[r] = count_of(d, counts[r]);
        at[r] = count_of(d, displs[r]);
    }
    if (all)
        MPI_Allgatherv(send, c[d->rank], MPI_BYTE, recv, c, at, MPI_BYTE, MPI_COMM_WORLD);
    else
        MPI_Gatherv(send, c[d->rank], MPI_BYTE, recv, c, at, MPI_BYTE, 0, MPI_COMM_WORLD);
    free(c);
#else
    (void)all;
#endif
}

void ooc_dist_allgatherv(const ooc_dist *d, const void *send, const size_t *counts, const size_t *displs,
                         void *recv)
{
    gatherv(d, send, counts, displs, recv, 1);
}

void ooc_dist_gatherv(const ooc_dist *d, const void *send, const size_t *counts, const size_t *displs, void *recv)
{
    gatherv(d, send, counts, displs, recv, 0);
}

void ooc_dist_bcast(const ooc_dist *d, void *buf, size_t bytes, int root)
{
#ifdef OOC_HAVE_MPI
    if (d)
        MPI_Bcast(buf, count_of(d, bytes), MPI_BYTE, root, MPI_COMM_WORLD);
#else
    (void)d;
    (void)buf;
    (void)bytes;
    (void)root;
#endif
}

void ooc_dist_sum(const ooc_dist *d, uint64_t *v)
{
#ifdef OOC_HAVE_MPI
    if (d)
        MPI_Allreduce(MPI_IN_PLACE, v, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
#else
    (void)d;
    (void)v;
#endif
}

int ooc_dist_concat(const ooc_dist *d, const void *mine, uint64_t n_mine, size_t elem_size, void **all,
                    uint64_t *n_all, ooc_error *err)
{
    int size = ooc_dist_size(d);
    uint64_t *n = malloc((size_t)size * sizeof *n);
    size_t *counts = malloc((size_t)size * sizeof *counts), *displs = malloc((size_t)size * sizeof *displs);
    int rc = ooc_dist_agree(d, n && counts && displs ? 0 : ooc_error_set(err, OOC_ENOMEM, "out of memory"), err);
    *all = NULL;
    if (!rc) {
        ooc_dist_allgather(d, &n_mine, sizeof n_mine, n);
        uint64_t total = 0;
        for (int r = 0; r < size; r++) {
            counts[r] = (size_t)n[r] * elem_size;
            displs[r] = (size_t)total * elem_size;
            total += n[r];
        }
        *n_all = total;
        *all = malloc(total ? (size_t)total * elem_size : 1);
        rc = ooc_dist_agree(d, *all ? 0 : ooc_error_set(err, OOC_ENOMEM, "out of memory"), err);
        if (!rc)
            ooc_dist_allgatherv(d, mine, counts, displs, *all);
    }
    if (rc) {
        free(*all);
        *all = NULL;
    }
    free(n);
    free(counts);
    free(displs);
    return rc;
}
