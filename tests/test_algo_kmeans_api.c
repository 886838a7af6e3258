/* The KMeans functions as another program calls them, beyond what the tools exercise: a labels output of the
 * wrong type or shape is refused before anything is written (it used to be filled with garbage and bytes
 * never set); the caller's OpenBLAS and OpenMP thread settings are as they were after a fit or prediction;
 * a cancel stops a fit and, once cleared, the next one runs (to the same result as a fit never cancelled);
 * an ooc_error reused across calls, as C callers do, reports each failing call's own error (a pass's failure
 * used to leave the one before in place). */
#define _GNU_SOURCE /* mkdtemp */
#include "ooc_array.h"
#include "ooc_cancel.h"
#include "ooc_chunk_output.h"
#include "ooc_kmeans.h"
#include "ooc_test.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/ooc_kmeans_api_XXXXXX";
static const char *spec = "blobs:samples=3000,features=3,centers=4,seed=5,chunk_rows=700";

static ooc_kmeans_params params(void)
{
    ooc_kmeans_params p = ooc_kmeans_params_default();
    p.k = 4;
    return p;
}

static void test_labels_output_checked(void)
{
    ooc_error err;
    ooc_array *a;
    ASSERT_OK(ooc_array_open(spec, &a, &err));
    const ooc_array_info *in = ooc_array_get_info(a);
    const ooc_h5_chunked_params good = {OOC_INT32, 1, in->rows, 1, in->chunk_rows, {3, 1, 0}};
    ooc_h5_chunked_params bad[5] = {good, good, good, good, good};
    bad[0].dtype = OOC_FLOAT64;
    bad[1].dtype = OOC_INT64;
    bad[2].rank = 2, bad[2].cols = 3;
    bad[3].rows = in->rows + 1000;
    bad[4].chunk_rows = 1000;
    ooc_stream_params sp = ooc_stream_params_default();
    ooc_kmeans_params p = params();
    ooc_kmeans_model *m = NULL;
    char path[64];
    snprintf(path, sizeof path, "%s/labels.h5", dir);
    for (int i = 0; i < 5; i++) {
        ooc_chunk_output *o;
        ASSERT_OK(ooc_chunk_output_create(path, "/labels", &bad[i], 1, &o, &err));
        ooc_kmeans_model *none = NULL;
        ASSERT_INT_EQ(ooc_kmeans_fit(a, &sp, &p, o, &none, &err), OOC_EINVAL);
        ASSERT(none == NULL);
        ASSERT(strstr(err.msg, "labels output must be int32, 1-D, 3000 rows in chunks of 700") != NULL);
        if (i == 0) { /* predict checks it too */
            ASSERT_OK(ooc_kmeans_fit(a, &sp, &p, NULL, &m, &err));
            ASSERT_INT_EQ(ooc_kmeans_predict(a, &sp, m, o, NULL, &err), OOC_EINVAL);
            ASSERT(strstr(err.msg, "not float64, 1-D") != NULL);
        }
        ooc_chunk_output_abort(o);
        ASSERT(access(path, F_OK) != 0);
    }
    ooc_chunk_output *o;
    ASSERT_OK(ooc_chunk_output_create(path, "/labels", &good, 1, &o, &err));
    ooc_kmeans_prediction done;
    ASSERT_OK(ooc_kmeans_predict(a, &sp, m, o, &done, &err));
    ASSERT(fabs(done.inertia - m->inertia) <= 1e-12 * m->inertia); /* the fit's from sums, up to rounding */
    ASSERT_INT_EQ(done.passes, 1);
    ASSERT(done.bytes_read == 0 && done.threads >= 1 && done.seconds > 0); /* generated: nothing read */
    ooc_chunk_output_abort(o);
    ooc_kmeans_model_free(m);
    ooc_array_free(a);
}

static void test_thread_settings_restored(void)
{
    ooc_error err;
    ooc_array *a;
    ASSERT_OK(ooc_array_open(spec, &a, &err));
    openblas_set_num_threads(2);
    omp_set_num_threads(3); /* after OpenBLAS's: its OpenMP build sets this default too */
    ooc_stream_params sp = ooc_stream_params_default();
    ooc_kmeans_params p = params();
    ooc_kmeans_model *m;
    ASSERT_OK(ooc_kmeans_fit(a, &sp, &p, NULL, &m, &err));
    ASSERT_INT_EQ(openblas_get_num_threads(), 2);
    ASSERT_INT_EQ(omp_get_max_threads(), 3);
    ASSERT_OK(ooc_kmeans_predict(a, &sp, m, NULL, NULL, &err));
    ASSERT_INT_EQ(openblas_get_num_threads(), 2);
    ASSERT_INT_EQ(omp_get_max_threads(), 3);
    ooc_kmeans_model_free(m);
    ooc_array_free(a);
}

static void test_cancel_cleared(void)
{
    ooc_error err;
    ooc_array *a;
    ASSERT_OK(ooc_array_open(spec, &a, &err));
    ooc_stream_params sp = ooc_stream_params_default();
    ooc_kmeans_params p = params();
    ooc_kmeans_model *before, *cancelled = NULL, *after;
    ASSERT_OK(ooc_kmeans_fit(a, &sp, &p, NULL, &before, &err));
    ooc_array *missing;
    ASSERT_INT_EQ(ooc_array_open("/nonexistent/ooc.h5", &missing, &err), OOC_ENOTFOUND);
    ooc_cancel_request(SIGINT);
    ASSERT_INT_EQ(ooc_kmeans_fit(a, &sp, &p, NULL, &cancelled, &err), OOC_EINTERRUPTED);
    ASSERT(cancelled == NULL);
    ASSERT_INT_EQ(err.code, OOC_EINTERRUPTED);
    ASSERT_INT_EQ(ooc_cancel_signal_of(&err), SIGINT);
    ooc_cancel_clear();
    ASSERT_OK(ooc_kmeans_fit(a, &sp, &p, NULL, &after, &err));
    ASSERT(memcmp(&before->inertia, &after->inertia, sizeof before->inertia) == 0);
    ASSERT(memcmp(before->centers, after->centers, p.k * 3 * sizeof *before->centers) == 0);
    ooc_kmeans_model_free(before);
    ooc_kmeans_model_free(after);
    ooc_array_free(a);
}

/* A model written and loaded back is the model: centres, sizes, and what the fit did and was asked (the
 * load used to read the centres and sizes only, and a model written back lost the rest). */
static void test_model_round_trip(void)
{
    ooc_error err;
    ooc_array *a;
    ASSERT_OK(ooc_array_open(spec, &a, &err));
    ooc_stream_params sp = ooc_stream_params_default();
    ooc_kmeans_params p = params();
    p.init = OOC_INIT_KMEANS_PP;
    p.oversampling_factor = 1.5;
    p.init_max_iter = 3;
    p.max_iter = 50;
    p.tol = 0.01;
    p.seed = ((uint64_t)1 << 60) + 1; /* past what a double holds */
    ooc_kmeans_model *m, *back = NULL;
    ASSERT_OK(ooc_kmeans_fit(a, &sp, &p, NULL, &m, &err));
    char path[64];
    snprintf(path, sizeof path, "%s/model.h5", dir);
    ASSERT_OK(ooc_kmeans_model_write(m, spec, path, path, &err));
    ASSERT_OK(ooc_kmeans_model_load(path, &back, &err));
    ASSERT(back != NULL);
    if (back) {
        ASSERT(back->k == m->k && back->d == m->d);
        ASSERT(memcmp(back->centers, m->centers, m->k * m->d * sizeof *m->centers) == 0);
        ASSERT(memcmp(back->sizes, m->sizes, m->k * sizeof *m->sizes) == 0);
        ASSERT(memcmp(&back->inertia, &m->inertia, sizeof m->inertia) == 0);
        ASSERT_INT_EQ(back->n_iter, m->n_iter);
        ASSERT_INT_EQ(back->converged, m->converged);
        ASSERT_INT_EQ(back->n_samples, 3000);
        ASSERT_INT_EQ(back->params.k, 4);
        ASSERT_INT_EQ(back->params.init, OOC_INIT_KMEANS_PP);
        ASSERT(back->params.oversampling_factor == 1.5 && back->params.tol == 0.01);
        ASSERT_INT_EQ(back->params.init_max_iter, 3);
        ASSERT_INT_EQ(back->params.max_iter, 50);
        ASSERT(back->params.seed == p.seed);
    }
    unlink(path);
    ooc_kmeans_model_free(back);
    ooc_kmeans_model_free(m);
    ooc_array_free(a);
}

/* A failed call sets its out-pointer to NULL (it used to leave whatever the caller had there, which a caller
 * freeing it after a failure then freed). */
static void test_failure_sets_out_null(void)
{
    ooc_error err;
    int stale;
    ooc_array *a = (ooc_array *)&stale;
    ASSERT(ooc_array_open("/nonexistent/ooc.h5", &a, &err) != 0 && a == NULL);
    ooc_kmeans_model *m = (ooc_kmeans_model *)&stale;
    ASSERT(ooc_kmeans_model_load("/nonexistent/model.h5", &m, &err) != 0 && m == NULL);
    ASSERT_OK(ooc_array_open(spec, &a, &err));
    ooc_stream_params sp = ooc_stream_params_default();
    ooc_kmeans_params p = params();
    p.k = 3001; /* more than the rows */
    m = (ooc_kmeans_model *)&stale;
    ASSERT_INT_EQ(ooc_kmeans_fit(a, &sp, &p, NULL, &m, &err), OOC_EINVAL);
    ASSERT(m == NULL);
    ooc_array_free(a);
}

static void test_setup(void)
{
    ASSERT(mkdtemp(dir) != NULL);
}

static void test_cleanup(void)
{
    ASSERT_OK(rmdir(dir));
}

OOC_TEST_MAIN(test_setup, test_labels_output_checked, test_thread_settings_restored, test_cancel_cleared,
              test_model_round_trip, test_failure_sets_out_null, test_cleanup)
