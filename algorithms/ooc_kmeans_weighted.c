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

/* For each of n targets, the first index whose running sum of v exceeds it (the last with v > 0 if rounding
 * runs past), all in one pass: the running sum is the same for every target. order: n scratch indices. */
static void pick(const double *v, size_t m, const double *target, size_t n, size_t *order, size_t *out)
{
    for (size_t a = 0; a < n; a++) { /* targets ascending (insertion sort: n <= TRIALS_MAX) */
        size_t b = a;
        for (; b > 0 && target[order[b - 1]] > target[a]; b--)
            order[b] = order[b - 1];
        order[b] = a;
    }
    double run = 0;
    size_t last = 0, next = 0;
    for (size_t i = 0; i < m && next < n; i++) {
        if (v[i] <= 0)
            continue;
        run += v[i];
        last = i;
        for (; next < n && run > target[order[next]]; next++)
            out[order[next]] = i;
    }
    for (; next < n; next++)
        out[order[next]] = last;
}

/* Trials measured together: the lanes of one AVX-512 vector (two AVX2 ones). */
enum { TRIAL_LANES = 8 };

/* Points x columns x trial lanes below which a step runs on one thread: about a millisecond of work. A step
 * is one parallel region, and k of them run in a row: with less work each, waking the other threads and
 * meeting them at the end costs more than it saves, and on a machine whose cores are busy with other work a
 * region can wait a whole time slice for a thread (a 200-cluster fit measured 0.06 s on one thread, 0.6 s
 * on two with one core taken). */
#define PARALLEL_STEP_MIN ((size_t)8 << 20)

/* D from every point to each of the trials' candidates (dd: trials x m), each summed in sqdist()'s order
 * (the same bits), with TRIAL_LANES trials in the lanes of the inner loop (candidates transposed into ct:
 * d x a multiple of TRIAL_LANES columns, the spare ones repeating the last candidate) and two points at a
 * time, so that the sums stay in registers and two chains of additions run side by side, without
 * reordering any sum; points split among threads when there are enough of them. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
trial_distances(const double *pts, size_t m, size_t d, const size_t *cand, size_t trials, double *ct, double *dd,
                int threads)
{
    size_t tp = (trials + TRIAL_LANES - 1) / TRIAL_LANES * TRIAL_LANES;
    for (size_t j = 0; j < d; j++)
        for (size_t t = 0; t < tp; t++)
            ct[j * tp + t] = pts[cand[t < trials ? t : trials - 1] * d + j];
    typedef double lanes __attribute__((vector_size(TRIAL_LANES * sizeof(double)), aligned(8)));
    size_t pairs = (m + 1) / 2;
    int team = m * d * tp >= PARALLEL_STEP_MIN ? threads : 1;
#pragma omp parallel for num_threads(team) if (team > 1) schedule(static)
    for (size_t p = 0; p < pairs; p++) {
        size_t i0 = 2 * p, i1 = i0 + 1 < m ? i0 + 1 : i0; /* an odd last point is measured twice */
        for (size_t g = 0; g < tp; g += TRIAL_LANES) {
            lanes a0 = {0}, a1 = {0};
            for (size_t j = 0; j < d; j++) {
                lanes c = *(const lanes *)(ct + j * tp + g);
                lanes v0 = pts[i0 * d + j] - c, v1 = pts[i1 * d + j] - c;
                a0 += v0 * v0;
                a1 += v1 * v1;
            }
            for (size_t u = 0; u < TRIAL_LANES && g + u < trials; u++) {
                dd[(g + u) * m + i0] = a0[u];
                dd[(g + u) * m + i1] = a1[u];
            }
        }
    }
}

static size_t trial_count(size_t k)
{
    size_t trials = 2 + (size_t)log((double)k);
    return trials < TRIALS_MAX ? trials : TRIALS_MAX;
}

size_t ooc__weighted_kmeans_bytes(size_t m, size_t d, size_t k)
{
    size_t trials = trial_count(k);
    size_t plusplus = m * (2 + trials) * sizeof(double) + d * (trials + TRIAL_LANES) * sizeof(double);
    size_t lloyd = ooc__assign_scratch_bytes(OOC_FLOAT64, k, d) + 64 + m * (2 * sizeof(int32_t) + sizeof(double)) +
                   k * (d + 2) * sizeof(double);
    return m * d * sizeof(double) + (plusplus > lloyd ? plusplus : lloyd); /* the points scaled, at most */
}

/* Weighted greedy k-means++ (scikit-learn's _kmeans_plusplus with sample weights): 2 + ln k trials for each
 * centre, the one that lowers the weighted potential most taken. */
static int plusplus(const double *pts, const double *w, size_t m, size_t d, size_t k, uint64_t seed, int threads,
                    double *centers)
{
    size_t trials = trial_count(k);
    double *closest = malloc(m * sizeof *closest), *wd = malloc(m * sizeof *wd);
    double *dd = malloc(trials * m * sizeof *dd), *ct = malloc(d * (trials + TRIAL_LANES) * sizeof *ct);
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
    size_t first, order[TRIALS_MAX], cand[TRIALS_MAX];
    double target[TRIALS_MAX], cand_pot[TRIALS_MAX];
    target[0] = ooc_random_uniform(seed, OOC__STREAM_RECLUSTER, draw++) * total_w;
    pick(w, m, target, 1, order, &first);
    memcpy(centers, pts + first * d, d * sizeof *centers);
    double pot = 0;
    for (size_t i = 0; i < m; i++) {
        closest[i] = sqdist(pts + i * d, centers, d);
        pot += w[i] * closest[i];
    }
    for (size_t c = 1; c < k; c++) {
        for (size_t i = 0; i < m; i++)
            wd[i] = w[i] * closest[i];
        for (size_t t = 0; t < trials; t++) /* all points already on a centre: fall back to the weights */
            target[t] = ooc_random_uniform(seed, OOC__STREAM_RECLUSTER, draw++) * (pot > 0 ? pot : total_w);
        pick(pot > 0 ? wd : w, m, target, trials, order, cand);
        trial_distances(pts, m, d, cand, trials, ct, dd, threads);
        for (size_t t = 0; t < trials; t++)
            cand_pot[t] = 0;
        for (size_t i = 0; i < m; i++) /* each trial's sum in point order, the trials side by side */
            for (size_t t = 0; t < trials; t++)
                cand_pot[t] += w[i] * (dd[t * m + i] < closest[i] ? dd[t * m + i] : closest[i]);
        size_t best = 0;
        double best_pot = INFINITY;
        for (size_t t = 0; t < trials; t++)
            if (cand_pot[t] < best_pot) {
                best_pot = cand_pot[t];
                best = t;
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

/* The binary exponent of the points' widest spread over a column when it leaves [2^-60, 2^60], else 0. */
static int spread_exponent(const double *pts, size_t m, size_t d)
{
    double spread = 0;
    for (size_t t = 0; t < d; t++) {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < m; i++) {
            lo = fmin(lo, pts[i * d + t]);
            hi = fmax(hi, pts[i * d + t]);
        }
        spread = fmax(spread, hi - lo);
    }
    return spread > 0 && isfinite(spread) && (spread < 0x1p-60 || spread > 0x1p60) ? ilogb(spread) : 0;
}

/* Points spread far beyond 1 or far below it are clustered times a power of two that brings the spread to
 * [1, 2): their weighted potentials (weights up to the row count, times squared distances) then neither
 * overflow (points 1e152 apart made every trial's potential inf, and the pick arbitrary: 7 times the
 * inertia) nor underflow. Powers of two scale every step exactly, so the centres are those of the points
 * as they are. */
int ooc__weighted_kmeans(const double *points, const double *weights, size_t m, size_t d, size_t k, uint64_t seed,
                         int threads, double *centers)
{
    int e = spread_exponent(points, m, d);
    double *scaled = e ? malloc(m * d * sizeof *scaled) : NULL;
    if (e && !scaled)
        return OOC_ENOMEM;
    for (size_t i = 0; scaled && i < m * d; i++)
        scaled[i] = ldexp(points[i], -e);
    const double *pts = scaled ? scaled : points;
    int rc = plusplus(pts, weights, m, d, k, seed, threads, centers);
    if (!rc)
        rc = lloyd(pts, weights, m, d, k, centers);
    for (size_t i = 0; !rc && e && i < k * d; i++)
        centers[i] = ldexp(centers[i], e);
    free(scaled);
    return rc;
}
