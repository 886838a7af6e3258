#include "ooc_kmeans.h"

#include <math.h>
#include <string.h>

ooc_kmeans_params ooc_kmeans_params_default(void)
{
    ooc_kmeans_params p = {0};
    p.k = 8;
    p.init = OOC_INIT_KMEANS_PARALLEL;
    p.oversampling_factor = 2;
    p.init_max_iter = 5;
    p.max_iter = 300;
    p.tol = 1e-4;
    return p;
}

int ooc_kmeans_params_check(const ooc_kmeans_params *p, ooc_error *err)
{
    if (p->k < 1 || p->k > INT32_MAX)
        return ooc_error_set(err, OOC_EINVAL, "kmeans: n_clusters must be from 1 to 2147483647");
    if (!(p->oversampling_factor > 0) || !isfinite(p->oversampling_factor))
        return ooc_error_set(err, OOC_EINVAL, "kmeans: oversampling_factor must be positive");
    if (p->init_max_iter < 1)
        return ooc_error_set(err, OOC_EINVAL, "kmeans: init_max_iter must be at least 1");
    if (p->max_iter < 1)
        return ooc_error_set(err, OOC_EINVAL, "kmeans: max_iter must be at least 1");
    if (!(p->tol >= 0) || !isfinite(p->tol))
        return ooc_error_set(err, OOC_EINVAL, "kmeans: tol must be finite and at least 0");
    return 0;
}

static const char *const init_names[] = {"k-means||", "k-means++", "random"};

int ooc_kmeans_init_parse(const char *s, ooc_kmeans_init *out)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, init_names[i]) == 0) {
            *out = (ooc_kmeans_init)i;
            return 0;
        }
    return OOC_EINVAL;
}

const char *ooc_kmeans_init_name(ooc_kmeans_init init)
{
    return (unsigned)init < 3 ? init_names[init] : "?";
}
