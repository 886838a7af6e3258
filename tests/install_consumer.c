/* install_consumer: a program outside the project, built by test_cli_install.py against the installed
 * headers and library (pkg-config ooc): fits INPUT with K clusters and default parameters, and prints the
 * inertia, n_iter and centres with 17 significant digits, one value a line. */
#include <ooc_kmeans.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: install_consumer INPUT K\n");
        return 2;
    }
    ooc_error err;
    ooc_array *a;
    if (ooc_array_open(argv[1], &a, &err) != 0) {
        fprintf(stderr, "install_consumer: %s\n", err.msg);
        return 1;
    }
    ooc_stream_params sp = ooc_stream_params_default();
    ooc_kmeans_params p = ooc_kmeans_params_default();
    p.k = strtoull(argv[2], NULL, 10);
    ooc_kmeans_model *m;
    int rc = ooc_kmeans_fit(a, &sp, &p, NULL, &m, &err);
    if (rc == 0) {
        printf("%.17g\n%d\n", m->inertia, m->n_iter);
        for (uint64_t i = 0; i < m->k * m->d; i++)
            printf("%.17g\n", m->centers[i]);
        ooc_kmeans_model_free(m);
    } else {
        fprintf(stderr, "install_consumer: %s\n", err.msg);
    }
    ooc_array_free(a);
    return rc ? 1 : 0;
}
