/* A fitted model in HDF5: /cluster_centers, /cluster_sizes and the parameters as root attributes. */
#include "ooc_h5.h"
#include "ooc_kmeans.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int write_model(ooc_h5_file *f, const ooc_kmeans_model *m, const char *input, ooc_error *err)
{
    const ooc_kmeans_params *p = &m->params;
    uint64_t dims[2] = {m->k, m->d};
    int rc = ooc_h5_write_dataset(f, "/cluster_centers", OOC_FLOAT64, 2, dims, m->centers, err);
    if (!rc) rc = ooc_h5_write_dataset(f, "/cluster_sizes", OOC_INT64, 1, dims, m->sizes, err);
    if (!rc) rc = ooc_h5_attr_double(f, "inertia", m->inertia, err);
    if (!rc) rc = ooc_h5_attr_uint(f, "n_iter", (uint64_t)m->n_iter, err);
    if (!rc) rc = ooc_h5_attr_bool(f, "converged", m->converged, err);
    if (!rc) rc = ooc_h5_attr_uint(f, "n_samples", m->n_samples, err);
    if (!rc) rc = ooc_h5_attr_uint(f, "n_features", m->d, err);
    if (!rc) rc = ooc_h5_attr_uint(f, "n_clusters", m->k, err);
    if (!rc) rc = ooc_h5_attr_string(f, "init", ooc_kmeans_init_name(p->init), err);
    if (!rc) rc = ooc_h5_attr_double(f, "oversampling_factor", p->oversampling_factor, err);
    if (!rc) rc = ooc_h5_attr_uint(f, "init_max_iter", (uint64_t)p->init_max_iter, err);
    if (!rc) rc = ooc_h5_attr_uint(f, "max_iter", (uint64_t)p->max_iter, err);
    if (!rc) rc = ooc_h5_attr_double(f, "tol", p->tol, err);
    if (!rc) rc = ooc_h5_attr_uint(f, "seed", p->seed, err);
    if (!rc) rc = ooc_h5_attr_string(f, "input", input, err);
    if (!rc) rc = ooc_h5_attr_string(f, "ooc_version", OOC_VERSION, err);
    return rc;
}

int ooc_kmeans_model_write(const ooc_kmeans_model *m, const char *input, const char *path, const char *name,
                           ooc_error *err)
{
    ooc_h5_file *f = NULL;
    int rc = ooc_h5_file_create(path, name, &f, err);
    if (!rc)
        rc = write_model(f, m, input, err);
    int rc2 = ooc_h5_file_close(f, rc ? NULL : err);
    return rc ? rc : rc2;
}

/* What a model file may hold besides its centres must agree with them; a file of centres alone (written by
 * another program, as one would hand scikit-learn's cluster_centers_ on) is a model too. */
static int check_sizes(const char *path, ooc_kmeans_model *m, ooc_error *err)
{
    double *v = NULL;
    uint64_t n = 0;
    int rc = ooc_h5_read_vector(path, "/cluster_sizes", &v, &n, err);
    if (rc == OOC_ENOTFOUND) {
        ooc_error_clear(err);
        return 0;
    }
    if (!rc && n != m->k)
        rc = ooc_error_set(err, OOC_EFORMAT, "%s:/cluster_sizes: %llu counts for %llu centres", path,
                           (unsigned long long)n, (unsigned long long)m->k);
    for (uint64_t j = 0; !rc && j < n; j++) {
        if (!(v[j] >= 0 && v[j] < 0x1p63 && v[j] == (double)(int64_t)v[j]))
            rc = ooc_error_set(err, OOC_EFORMAT, "%s:/cluster_sizes: count %llu is %g, not a count of rows", path,
                               (unsigned long long)j, v[j]);
        else
            m->sizes[j] = (int64_t)v[j];
    }
    free(v);
    return rc;
}

static int check_shape_attr(const char *path, const char *name, uint64_t want, const char *what, ooc_error *err)
{
    double v = 0;
    int rc = ooc_h5_read_root_number(path, name, &v, err);
    if (rc == OOC_ENOTFOUND)
        return 0;
    if (!rc && v != (double)want)
        rc = ooc_error_set(err, OOC_EFORMAT, "%s: attribute %s is %.17g, but /cluster_centers has %llu %s", path, name,
                           v, (unsigned long long)want, what);
    return rc;
}

/* The attributes ooc_kmeans_model_write() adds, where present (an absent one leaves err untouched): each
 * must hold a value the field can take. */
static int found(int rc)
{
    return rc == OOC_ENOTFOUND ? 0 : rc;
}

static int load_count(const char *path, const char *name, uint64_t lo, uint64_t hi, uint64_t *v, ooc_error *err)
{
    uint64_t got = 0;
    int rc = ooc_h5_read_root_count(path, name, &got, err);
    if (!rc && (got < lo || got > hi))
        rc = ooc_error_set(err, OOC_EFORMAT, "%s: attribute %s is %llu, not in [%llu, %llu]", path, name,
                           (unsigned long long)got, (unsigned long long)lo, (unsigned long long)hi);
    if (!rc)
        *v = got;
    return found(rc);
}

static int load_int(const char *path, const char *name, int lo, int *v, ooc_error *err)
{
    uint64_t got = (uint64_t)*v;
    int rc = load_count(path, name, (uint64_t)lo, INT_MAX, &got, err);
    *v = (int)got;
    return rc;
}

/* A real attribute that must be above lo (at or above with `or_equal`) */
static int load_real(const char *path, const char *name, double lo, int or_equal, double *v, ooc_error *err)
{
    double got = 0;
    int rc = ooc_h5_read_root_number(path, name, &got, err);
    if (!rc && !(got > lo || (or_equal && got == lo)))
        rc = ooc_error_set(err, OOC_EFORMAT, "%s: attribute %s is %.17g, not %s %g", path, name, got,
                           or_equal ? "at least" : "above", lo);
    if (!rc)
        *v = got;
    return found(rc);
}

static int load_init(const char *path, ooc_kmeans_init *init, ooc_error *err)
{
    char name[64];
    int rc = ooc_h5_read_root_string(path, "init", name, sizeof name, err);
    if (!rc && ooc_kmeans_init_parse(name, init) != 0)
        rc = ooc_error_set(err, OOC_EFORMAT, "%s: attribute init is '%s', not k-means||, k-means++ or random", path,
                           name);
    return found(rc);
}

static int load_attributes(const char *path, ooc_kmeans_model *m, ooc_error *err)
{
    ooc_kmeans_params *p = &m->params;
    uint64_t converged = 0;
    int rc = load_real(path, "inertia", 0, 1, &m->inertia, err);
    if (!rc) rc = load_int(path, "n_iter", 0, &m->n_iter, err);
    if (!rc) rc = load_count(path, "converged", 0, 1, &converged, err);
    if (!rc) rc = load_count(path, "n_samples", 0, UINT64_MAX, &m->n_samples, err);
    if (!rc) rc = load_init(path, &p->init, err);
    if (!rc) rc = load_real(path, "oversampling_factor", 0, 0, &p->oversampling_factor, err);
    if (!rc) rc = load_int(path, "init_max_iter", 1, &p->init_max_iter, err);
    if (!rc) rc = load_int(path, "max_iter", 1, &p->max_iter, err);
    if (!rc) rc = load_real(path, "tol", 0, 1, &p->tol, err);
    if (!rc) rc = load_count(path, "seed", 0, UINT64_MAX, &p->seed, err);
    m->converged = (int)converged;
    return rc;
}

int ooc_kmeans_model_load(const char *path, ooc_kmeans_model **out, ooc_error *err)
{
    *out = NULL;
    ooc_kmeans_model *m = calloc(1, sizeof *m);
    if (!m)
        return ooc_error_set(err, OOC_ENOMEM, "%s: out of memory", path);
    m->params = ooc_kmeans_params_default();
    int rc = ooc_h5_read_matrix(path, "/cluster_centers", &m->centers, &m->k, &m->d, err);
    if (!rc && !(m->sizes = calloc(m->k, sizeof *m->sizes)))
        rc = ooc_error_set(err, OOC_ENOMEM, "%s: out of memory", path);
    for (uint64_t i = 0; !rc && i < m->k * m->d; i++)
        if (!(m->centers[i] - m->centers[i] == 0))
            rc = ooc_error_set(err, OOC_EFORMAT, "%s:/cluster_centers: centre %llu: NaN or infinity", path,
                               (unsigned long long)(i / m->d));
    if (!rc)
        rc = check_sizes(path, m, err);
    if (!rc)
        rc = check_shape_attr(path, "n_clusters", m->k, "rows", err);
    if (!rc)
        rc = check_shape_attr(path, "n_features", m->d, "columns", err);
    if (!rc)
        rc = load_attributes(path, m, err);
    if (rc) {
        ooc_kmeans_model_free(m);
        return rc;
    }
    m->params.k = m->k;
    *out = m;
    return 0;
}
