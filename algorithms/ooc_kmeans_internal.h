/* ooc_kmeans_internal.h: what the KMeans files share. */
#ifndef OOC_KMEANS_INTERNAL_H
#define OOC_KMEANS_INTERNAL_H

#include "ooc_kmeans.h"

#include <stddef.h>
#include <stdint.h>

/* Random streams under the user's seed (ooc_random.h), one per use, so no two uses share draws. */
enum {
    OOC__STREAM_FIRST_CENTER = 100, /* k-means|| and k-means++: the first centre's row */
    OOC__STREAM_ROUND = 101,        /* k-means|| round r: stream + r, index = row */
    OOC__STREAM_RECLUSTER = 200,    /* in-memory weighted k-means++ */
    OOC__STREAM_TOPUP = 201,        /* rows added when k-means|| yields fewer than k candidates */
    OOC__STREAM_RANDOM_INIT = 202,  /* --init random */
    OOC__STREAM_PLUSPLUS = 203      /* out-of-core k-means++: index = centre */
};

/* ooc__weighted_kmeans(): cluster m weighted points (m x d, weights >= 0, some > 0) into k <= m centres in
 * memory: weighted greedy k-means++ (2 + ln k local trials, as scikit-learn) then weighted Lloyd to
 * convergence. Deterministic for a seed. centers: k x d out. Returns 0 or OOC_ENOMEM. */
int ooc__weighted_kmeans(const double *points, const double *weights, size_t m, size_t d, size_t k, uint64_t seed,
                         double *centers);

/* The per-fit context the init and Lloyd files share. */
typedef struct ooc__fit {
    ooc_stream *stream;
    const ooc_array_info *in;
    const ooc_kmeans_params *p;
    uint64_t k, d;
} ooc__fit;

/* ooc__kmeans_init(): k x d initial centres by p->init. *n_candidates: k-means|| candidates (else k). */
int ooc__kmeans_init(ooc__fit *f, double *centers, uint64_t *n_candidates, ooc_error *err);

/* A pass assigning every row to its nearest of k centres: Lloyd's (accumulating new centres) or the final
 * one (labels and inertia only). */
typedef struct ooc__assign_result {
    double *sums;     /* k x d, Lloyd only */
    double *counts;   /* k */
    double inertia;
    uint64_t n_far;   /* rows kept in far[] (the farthest from their centres, for empty clusters) */
    double *far;      /* n_far x d, farthest first */
} ooc__assign_result;

int ooc__assign_pass(ooc__fit *f, const double *centers, int accumulate, ooc_h5_chunked *labels,
                     ooc__assign_result *res, ooc_error *err);
void ooc__assign_result_free(ooc__assign_result *r);

#endif
