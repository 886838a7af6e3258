/* In-memory weighted KMeans of the k-means|| candidates: weighted greedy k-means++ then weighted Lloyd. */
#include "ooc_assign_internal.h"
#include "ooc_kmeans_internal.h"
#include "ooc_random.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Trials per centre at most (2 + ln k reaches it at k = e^30). */
enum { TRIALS_MAX = 32 };

static double sqdist(const double *a, const double *b, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double t = a[j] - b[j];
        s += t * t;
    }
    return s;
}

/* The first index whose running sum of v exceeds target (the last with v > 0 if rounding runs past). */
static size_t pick(const double *v, size_t m, double target)
{
    double run = 0;
    size_t last = 0;
    for (size_t i = 0; i < m; i++) {
        if (v[i] <= 0)
            continue;
        run += v[i];
        last = i;
        if (run > target)
            return i;
    }
    return last;
}

/* D from every point to each of the trials' candidates (dd: trials x m), each summed in sqdist()'s order
 * (the same bits), with the trials in the lanes of the inner loop (candidates transposed into ct: d x
 * trials) so that it vectorises without reordering any sum; points split among threads. */
__attribute__((target_clones("avx2", "default"))) static void trial_distances(const double *pts, size_t m, size_t d,
                                                                               const size_t *cand, size_t trials,
                                                                               double *ct, double *dd, int threads)
{
    for (size_t j = 0; j < d; j++)
        for (size_t t = 0; t < trials; t++)
            ct[j * trials + t] = pts[cand[t] * d + j];
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < m; i++) {
        double acc[TRIALS_MAX] = {0};
        for (size_t j = 0; j < d; j++) {
            double x = pts[i * d + j];
            for (size_t t = 0; t < trials; t++) {
                double v = x - ct[j * trials + t];
                acc[t] += v * v;
            }
        }
        for (size_t t = 0; t < trials; t++)
            dd[t * m + i] = acc[t];
    }
}

/* Weighted greedy k-means++ (scikit-learn's _kmeans_plusplus with sample weights): 2 + ln k trials for each
 * centre, the one that lowers the weighted potential most taken. */
static int plusplus(const double *pts, const double *w, size_t m, size_t d, size_t k, uint64_t seed, int threads,
                    double *centers)
{
    size_t trials = 2 + (size_t)log((double)k);
    trials = trials < TRIALS_MAX ? trials : TRIALS_MAX;
    double *closest = malloc(m * sizeof *closest), *wd = malloc(m * sizeof *wd);
    double *dd = malloc(trials * m * sizeof *dd), *ct = malloc(d * trials * sizeof *ct);
    if (!closest || !wd || !dd || !ct) {
        free(closest);
        free(wd);
        free(dd);
        free(ct);
        return OOC_ENOMEM;
    }
    uint64_t draw = 0;
    double total_w = 0;
    for (size_t i = 0; i < m; i++)
        total_w += w[i];
    size_t first = pick(w, m, ooc_random_uniform(seed, OOC__STREAM_RECLUSTER, draw++) * total_w);
    memcpy(centers, pts + first * d, d * sizeof *centers);
    double pot = 0;
    for (size_t i = 0; i < m; i++) {
        closest[i] = sqdist(pts + i * d, centers, d);
        pot += w[i] * closest[i];
    }
    size_t cand[TRIALS_MAX];
    for (size_t c = 1; c < k; c++) {
        for (size_t i = 0; i < m; i++)
            wd[i] = w[i] * closest[i];
        for (size_t t = 0; t < trials; t++) {
            double u = ooc_random_uniform(seed, OOC__STREAM_RECLUSTER, draw++);
            /* All points already on a centre: fall back to the weights. */
            cand[t] = pot > 0 ? pick(wd, m, u * pot) : pick(w, m, u * total_w);
        }
        trial_distances(pts, m, d, cand, trials, ct, dd, threads);
        size_t best = 0;
        double best_pot = INFINITY;
        for (size_t t = 0; t < trials; t++) {
            double cand_pot = 0;
            for (size_t i = 0; i < m; i++)
                cand_pot += w[i] * (dd[t * m + i] < closest[i] ? dd[t * m + i] : closest[i]);
            if (cand_pot < best_pot) {
                best_pot = cand_pot;
                best = t;
            }
        }
        memcpy(centers + c * d, pts + cand[best] * d, d * sizeof *centers);
        pot = 0;
        for (size_t i = 0; i < m; i++) {
            closest[i] = dd[best * m + i] < closest[i] ? dd[best * m + i] : closest[i];
            pot += w[i] * closest[i];
        }
    }
    free(closest);
    free(wd);
    free(dd);
    free(ct);
    return 0;
}

/* Weighted Lloyd to convergence (labels unchanged, or 300 iterations). */
static int lloyd(const double *pts, const double *w, size_t m, size_t d, size_t k, double *centers)
{
    ooc__assign_fn assign = ooc__assign_select(OOC_FLOAT64, k, d);
    void *scratch = aligned_alloc(64, (ooc__assign_scratch_bytes(OOC_FLOAT64, k, d) + 63) / 64 * 64);
    int32_t *labels = malloc(m * sizeof *labels), *prev = malloc(m * sizeof *prev);
    double *dist = malloc(m * sizeof *dist), *norm2 = malloc(k * sizeof *norm2);
    double *sums = malloc(k * d * sizeof *sums), *wsum = malloc(k * sizeof *wsum);
    int rc = scratch && labels && prev && dist && norm2 && sums && wsum ? 0 : OOC_ENOMEM;
    for (int it = 0; !rc && it < 300; it++) {
        for (size_t j = 0; j < k; j++) {
            double s = 0;
            for (size_t t = 0; t < d; t++)
                s += centers[j * d + t] * centers[j * d + t];
            norm2[j] = s;
        }
        assign(pts, m, d, centers, norm2, k, labels, dist, NULL, scratch);
        if (it > 0 && memcmp(labels, prev, m * sizeof *labels) == 0)
            break;
        memcpy(prev, labels, m * sizeof *labels);
        memset(sums, 0, k * d * sizeof *sums);
        memset(wsum, 0, k * sizeof *wsum);
        for (size_t i = 0; i < m; i++) {
            size_t j = (size_t)labels[i];
            wsum[j] += w[i];
            for (size_t t = 0; t < d; t++)
                sums[j * d + t] += w[i] * pts[i * d + t];
        }
        for (size_t j = 0; j < k; j++)
            if (wsum[j] > 0) /* a centre that attracts no weight stays where it is */
                for (size_t t = 0; t < d; t++)
                    centers[j * d + t] = sums[j * d + t] / wsum[j];
    }
    free(scratch);
    free(labels);
    free(prev);
    free(dist);
    free(norm2);
    free(sums);
    free(wsum);
    return rc;
}

int ooc__weighted_kmeans(const double *points, const double *weights, size_t m, size_t d, size_t k, uint64_t seed,
                         int threads, double *centers)
{
    int rc = plusplus(points, weights, m, d, k, seed, threads, centers);
    return rc ? rc : lloyd(points, weights, m, d, k, centers);
}
