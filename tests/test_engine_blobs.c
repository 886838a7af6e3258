/* The blobs source and its normal generator: exact distribution, per-blob statistics, determinism, specs.
 * Statistical tolerances are 5 standard errors or a 0.1% critical value; the seeds are fixed, so a pass is
 * reproducible, and a correct generator would pass for almost any seed. */
#define _POSIX_C_SOURCE 200809L /* pthreads under -std=c11 */

#include "ooc_blobs.h"
#include "ooc_normal_internal.h"
#include "ooc_random.h"
#include "ooc_test.h"

#include <pthread.h>
#include <stdint.h>

static double phi_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

static double normal_pdf(double x)
{
    return exp(-0.5 * x * x) / sqrt(2 * 3.14159265358979323846);
}

/* Upper 0.1% point of chi-square with df degrees of freedom (Wilson-Hilferty, z = 3.0902). */
static double chi2_crit(double df)
{
    double c = 2 / (9 * df);
    return df * pow(1 - c + 3.0902 * sqrt(c), 3);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_zig_tables(void)
{
    const ooc__zig *z = ooc__zig_tables();
    ASSERT(z == ooc__zig_tables());
    /* r as in Marsaglia & Tsang (2000) for 256 layers; both to 17 digits from a 40-digit computation (the
     * paper's v = 4.92867323399e-3 is off in its last digits). */
    ASSERT_NEAR(z->r, 3.6541528853610088, 1e-15);
    ASSERT_NEAR(z->v, 4.9286732339746553e-3, 1e-17);
    ASSERT_NEAR(z->x[0] * exp(-0.5 * z->r * z->r), z->v, 1e-17);
    ASSERT_INT_EQ(z->x[OOC__ZIG_LAYERS] == 0 && z->f[OOC__ZIG_LAYERS] == 1, 1);
    for (int i = 1; i < OOC__ZIG_LAYERS; i++) {
        ASSERT(z->x[i + 1] < z->x[i]);
        ASSERT_NEAR(z->x[i] * (z->f[i + 1] - z->f[i]) / z->v, 1, 1e-11);
    }
}

static void test_rng_words(void)
{
    /* Random123's known answer for Philox4x32-10 with zero counter and key. */
    ooc__rng g;
    ooc__rng_init(&g, 0, 0, 0, 0);
    ASSERT(ooc__rng_next(&g) == 0xe169c58d6627e8d5u);
    ASSERT(ooc__rng_next(&g) == 0x9b00dbd8bc57ac4cu);
    /* The refill hint changes nothing; seed, stream and index all matter, in all their bits. */
    uint64_t ref[100];
    ooc__rng_init(&g, 7, 3, 5, 0);
    for (int i = 0; i < 100; i++)
        ref[i] = ooc__rng_next(&g);
    const uint64_t wants[] = {1, 2, 3, 31, 33, 1000};
    for (size_t k = 0; k < sizeof wants / sizeof wants[0]; k++) {
        ooc__rng_init(&g, 7, 3, 5, wants[k]);
        for (int i = 0; i < 100; i++)
            ASSERT(ooc__rng_next(&g) == ref[i]);
    }
    const uint64_t other[][3] = {{7 + (1ull << 32), 3, 5}, {7, 4, 5}, {7, 3, 5 + (1ull << 32)}, {8, 3, 5}};
    for (int k = 0; k < 4; k++) {
        ooc__rng_init(&g, other[k][0], (uint32_t)other[k][1], other[k][2], 0);
        ASSERT(ooc__rng_next(&g) != ref[0]);
    }
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void philox_ref(philox4x32_ctr_t ctr, philox4x32_key_t key, uint64_t w[2])
{
    philox4x32_ctr_t r = philox4x32_R(10, ctr, key);
    w[0] = r.v[0] | (uint64_t)r.v[1] << 32;
    w[1] = r.v[2] | (uint64_t)r.v[3] << 32;
}

/* Every kernel this CPU runs against Random123's philox4x32_R, call by call: random counters and keys (v[3]
 * often about to wrap, the index often about to carry into v[1]), every call count up to 16 for 1 to 5
 * streams, and nothing written past the slack the kernels are allowed. */
static void test_philox_kernels(void)
{
    unsigned count;
    const ooc__philox_kernel *k = ooc__philox_kernels(&count);
    ASSERT(count >= 1 && strcmp(k[count - 1].name, "scalar") == 0);
    enum { MAX_CALLS = 5 * 16 + OOC__PHILOX_SLACK, GUARD = 4 };
    uint64_t s = 42;
    for (unsigned i = 0; i < count; i++) {
        long bad = 0;
        for (int t = 0; t < 20000; t++) {
            uint64_t a = splitmix64(&s), b = splitmix64(&s), c = splitmix64(&s);
            philox4x32_ctr_t ctr = {{(uint32_t)a, (uint32_t)(a >> 32), (uint32_t)b, (uint32_t)(b >> 32)}};
            philox4x32_key_t key = {{(uint32_t)c, (uint32_t)(c >> 32)}};
            if (t % 4 == 1)
                ctr.v[3] = 0xffffffffu - (uint32_t)(c % 20);
            if (t % 4 == 2)
                ctr.v[0] = 0xffffffffu - (uint32_t)(c % 3), ctr.v[1] = t % 8 == 2 ? 0xffffffffu : ctr.v[1];
            if (t == 0)
                ctr = (philox4x32_ctr_t){{0, 0, 0, 0}}, key = (philox4x32_key_t){{0, 0}};
            unsigned calls = 1 + (unsigned)t % 16, streams = 1 + (unsigned)(t / 16) % 5;
            uint64_t word[2 * MAX_CALLS + GUARD];
            for (int j = 0; j < 2 * MAX_CALLS + GUARD; j++)
                word[j] = 0x5a5a5a5a5a5a5a5au;
            k[i].fn(ctr, key, streams, calls, word);
            uint64_t index = ctr.v[0] | (uint64_t)ctr.v[1] << 32;
            for (unsigned st = 0; st < streams; st++)
                for (unsigned j = 0; j < calls; j++) {
                    uint64_t ref[2], at = index + st;
                    philox4x32_ctr_t cj = {{(uint32_t)at, (uint32_t)(at >> 32), ctr.v[2], ctr.v[3] + j}};
                    philox_ref(cj, key, ref);
                    size_t w = 2 * ((size_t)st * calls + j);
                    bad += word[w] != ref[0] || word[w + 1] != ref[1];
                }
            size_t end = 2 * ((size_t)streams * calls + OOC__PHILOX_SLACK);
            for (size_t j = end; j < end + GUARD; j++)
                bad += word[j] != 0x5a5a5a5a5a5a5a5au;
        }
        if (bad)
            OOC__FAIL("kernel %s: %ld mismatches with philox4x32_R", k[i].name, bad);
    }
}

/* ooc__rng through whatever kernel it picks: random streams, refill hints, starting draws and lengths give
 * the words of philox4x32_R for counters (index, stream, draw), draw after draw. */
static void test_rng_refill_sizes(void)
{
    uint64_t s = 7;
    long bad = 0;
    for (int t = 0; t < 5000; t++) {
        uint64_t seed = splitmix64(&s), index = splitmix64(&s), r = splitmix64(&s);
        uint32_t stream = (uint32_t)r, draw0 = (uint32_t)(r >> 32);
        uint64_t want = splitmix64(&s) % 50, len = splitmix64(&s) % 80;
        ooc__rng g;
        ooc__rng_init(&g, seed, stream, index, want);
        g.ctr.v[3] = draw0;
        philox4x32_ctr_t ctr = {{(uint32_t)index, (uint32_t)(index >> 32), stream, draw0}};
        philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
        for (uint64_t i = 0; i < len; i += 2) {
            uint64_t ref[2];
            philox_ref(ctr, key, ref);
            ctr.v[3]++;
            bad += ooc__rng_next(&g) != ref[0];
            bad += i + 1 < len && ooc__rng_next(&g) != ref[1];
        }
    }
    ASSERT_INT_EQ(bad, 0);
}

/* A stream resumed from words computed for several streams at once (as the blobs rows are) goes on with the
 * same words as the stream read from its start: any number of calls computed, any number of words taken. */
static void test_rng_resume(void)
{
    uint64_t s = 11;
    long bad = 0;
    for (int t = 0; t < 3000; t++) {
        uint64_t seed = splitmix64(&s), index = splitmix64(&s), r = splitmix64(&s);
        uint32_t stream = (uint32_t)r;
        unsigned streams = 1 + (unsigned)(r >> 32) % 4, calls = 1 + (unsigned)(r >> 40) % 12;
        uint64_t words[2 * (4 * 12 + OOC__PHILOX_SLACK)];
        ooc__philox(ooc__rng_ctr(stream, index), ooc__rng_key(seed), streams, calls, words);
        for (unsigned st = 0; st < streams; st++) {
            unsigned taken = (unsigned)(splitmix64(&s) % (2 * calls + 1));
            ooc__rng ref, g;
            ooc__rng_init(&ref, seed, stream, index + st, 0);
            for (unsigned i = 0; i < taken; i++)
                ooc__rng_next(&ref);
            ooc__rng_resume(&g, seed, stream, index + st, words + 2 * calls * st, calls, taken, t % 40);
            for (int i = 0; i < 60; i++)
                bad += ooc__rng_next(&g) != ooc__rng_next(&ref);
        }
    }
    ASSERT_INT_EQ(bad, 0);
}

/* 10^6 normals from one stream: moments and the Kolmogorov-Smirnov distance to the normal CDF. */
static void test_normal_moments_ks(void)
{
    enum { N = 1000000 };
    const ooc__zig *z = ooc__zig_tables();
    double *x = malloc(N * sizeof *x);
    ooc__rng g;
    ooc__rng_init(&g, 2024, 9, 0, N);
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
    for (int i = 0; i < N; i++) {
        double v = x[i] = ooc__normal(z, &g);
        s1 += v, s2 += v * v, s3 += v * v * v, s4 += v * v * v * v;
    }
    double m = s1 / N, var = s2 / N - m * m;
    double skew = (s3 / N - 3 * m * s2 / N + 2 * m * m * m) / pow(var, 1.5);
    double kurt = (s4 / N - 4 * m * s3 / N + 6 * m * m * s2 / N - 3 * m * m * m * m) / (var * var) - 3;
    ASSERT_NEAR(m, 0, 5 * sqrt(1.0 / N));
    ASSERT_NEAR(var, 1, 5 * sqrt(2.0 / N));
    ASSERT_NEAR(skew, 0, 5 * sqrt(6.0 / N));
    ASSERT_NEAR(kurt, 0, 5 * sqrt(24.0 / N));
    qsort(x, N, sizeof *x, cmp_double);
    double d = 0;
    for (int i = 0; i < N; i++) {
        double f = phi_cdf(x[i]);
        d = fmax(d, fmax(f - (double)i / N, (double)(i + 1) / N - f));
    }
    ASSERT_NEAR(d, 0, 1.949 / sqrt(N)); /* the KS critical value at 0.1% */
    free(x);
}

/* 10^7 normals, counted: chi-square over 0.05-wide bins (which sees every layer and wedge), the mass beyond
 * 3, beyond the ziggurat's r and beyond 4.5, and the mean excess over r of the tail draws. */
static void test_normal_histogram_tails(void)
{
    enum { N = 10000000, NB = 180 }; /* bins of [-4.5, 4.5), plus one for each side beyond */
    const double lo = -4.5, w = 0.05;
    const ooc__zig *z = ooc__zig_tables();
    const double r = z->r;
    static long count[NB + 2];
    long beyond3 = 0, beyond_r = 0, beyond45 = 0;
    double excess = 0;
    ooc__rng g;
    ooc__rng_init(&g, 77, 0, 12345, N);
    for (long i = 0; i < N; i++) {
        double v = ooc__normal(z, &g), a = fabs(v);
        double t = floor((v - lo) / w);
        count[t < 0 ? 0 : t >= NB ? NB + 1 : 1 + (long)t]++;
        beyond3 += a > 3;
        beyond45 += a > 4.5;
        if (a > r)
            beyond_r++, excess += a - r;
    }
    double chi2 = 0;
    for (int b = 0; b < NB + 2; b++) {
        double p = b == 0 || b == NB + 1 ? phi_cdf(lo) : phi_cdf(lo + b * w) - phi_cdf(lo + (b - 1) * w);
        chi2 += (count[b] - N * p) * (count[b] - N * p) / (N * p);
    }
    ASSERT_NEAR(chi2, 0, chi2_crit(NB + 1));
    const double cuts[] = {3, r, 4.5};
    const long seen[] = {beyond3, beyond_r, beyond45};
    for (int k = 0; k < 3; k++) {
        double p = erfc(cuts[k] / sqrt(2.0));
        ASSERT_NEAR(seen[k], N * p, 5 * sqrt(N * p * (1 - p)));
    }
    /* X | X > r has mean r + lambda, variance 1 + r lambda - lambda^2, lambda the inverse Mills ratio. */
    double lambda = normal_pdf(r) / (0.5 * erfc(r / sqrt(2.0)));
    double sd = sqrt(1 + r * lambda - lambda * lambda);
    ASSERT_NEAR(excess / beyond_r, lambda - r, 5 * sd / sqrt((double)beyond_r));
}

enum { T_THREADS = 4, T_ROWS = 4000, T_D = 9 };
static double t_rows[T_ROWS * T_D];

/* Thread t creates its own source (so the first use of the tables is concurrent) and makes rows t, t + 4,
 * t + 8, ... in runs of 3. */
static void *t_worker(void *arg)
{
    size_t t = (size_t)(uintptr_t)arg;
    ooc_blobs_params p = ooc_blobs_params_default();
    p.features = T_D, p.seed = 5;
    ooc_blobs *b = NULL;
    if (ooc_blobs_create(&p, NULL, &b, NULL) == 0)
        for (size_t r = 3 * t; r < T_ROWS; r += 3 * T_THREADS)
            ooc_blobs_rows(b, r, r + 3 <= T_ROWS ? 3 : T_ROWS - r, t_rows + r * T_D, NULL);
    ooc_blobs_free(b);
    return NULL;
}

/* Runs first, before anything else has built the ziggurat tables. */
static void test_blobs_threads(void)
{
    pthread_t th[T_THREADS];
    for (size_t t = 0; t < T_THREADS; t++)
        ASSERT_OK(pthread_create(&th[t], NULL, t_worker, (void *)(uintptr_t)t));
    for (size_t t = 0; t < T_THREADS; t++)
        pthread_join(th[t], NULL);
    ooc_blobs_params p = ooc_blobs_params_default();
    p.features = T_D, p.seed = 5;
    ooc_blobs *b = NULL;
    ASSERT_OK(ooc_blobs_create(&p, NULL, &b, NULL));
    static double serial[T_ROWS * T_D];
    ooc_blobs_rows(b, 0, T_ROWS, serial, NULL);
    ASSERT_MEM_EQ(t_rows, serial, sizeof serial);
    ooc_blobs_free(b);
}

static ooc_blobs_params small_params(void)
{
    ooc_blobs_params p = ooc_blobs_params_default();
    p.samples = 1000, p.features = 7, p.centers = 3, p.seed = 9, p.chunk_rows = 100, p.cluster_std = 1.5;
    return p;
}

static ooc_blobs *make(const ooc_blobs_params *p, const double *centers)
{
    ooc_blobs *b = NULL;
    ooc_error err = {0};
    ASSERT_OK(ooc_blobs_create(p, centers, &b, &err));
    if (!b) {
        fprintf(stderr, "ooc_blobs_create: %s\n", err.msg);
        exit(1);
    }
    return b;
}

/* 200k rows, d = 5, k = 4: per-blob means and standard deviations, label frequencies, centres in the box. */
static void test_blobs_per_blob(void)
{
    ooc_blobs_params p = ooc_blobs_params_default();
    p.samples = 200000, p.features = 5, p.centers = 4, p.cluster_std = 2.5, p.seed = 42;
    enum { K = 4, D = 5 };
    ooc_blobs *b = make(&p, NULL);
    const double *c = ooc_blobs_centers(b);
    for (int e = 0; e < K * D; e++)
        ASSERT(c[e] >= p.center_lo && c[e] < p.center_hi);
    double *x = malloc(p.samples * D * sizeof *x);
    int32_t *y = malloc(p.samples * sizeof *y);
    ooc_blobs_rows(b, 0, p.samples, x, y);
    double n[K] = {0}, s1[K][D] = {{0}}, s2[K][D] = {{0}};
    for (size_t i = 0; i < p.samples; i++) {
        ASSERT(y[i] >= 0 && y[i] < K);
        if (y[i] < 0 || y[i] >= K)
            break;
        n[y[i]]++;
        for (int j = 0; j < D; j++) {
            double dev = x[i * D + j] - c[y[i] * D + j];
            s1[y[i]][j] += dev, s2[y[i]][j] += dev * dev;
        }
    }
    double chi2 = 0, e = (double)p.samples / K;
    for (int k = 0; k < K; k++) {
        chi2 += (n[k] - e) * (n[k] - e) / e;
        for (int j = 0; j < D; j++) {
            double mean = s1[k][j] / n[k], sd = sqrt(s2[k][j] / n[k] - mean * mean);
            ASSERT_NEAR(mean, 0, 5 * p.cluster_std / sqrt(n[k]));
            ASSERT_NEAR(sd, p.cluster_std, 5 * p.cluster_std / sqrt(2 * n[k]));
        }
    }
    ASSERT_NEAR(chi2, 0, chi2_crit(K - 1));
    free(x);
    free(y);
    ooc_blobs_free(b);
}

/* Rows are a function of (seed, row) only: pieces, order, chunk_rows and labels-or-not change nothing. */
static void test_blobs_determinism(void)
{
    ooc_blobs_params p = small_params();
    enum { N = 1000, D = 7 };
    ooc_blobs *b = make(&p, NULL);
    static double all[N * D], part[N * D], row[D];
    static int32_t yall[N], ypart[N];
    ooc_blobs_rows(b, 0, N, all, yall);
    const size_t cuts[] = {0, 1, 17, 300, 301, 999, N};
    for (int k = 0; k + 1 < 7; k++)
        ooc_blobs_rows(b, cuts[k], cuts[k + 1] - cuts[k], part + cuts[k] * D, ypart + cuts[k]);
    ASSERT_MEM_EQ(all, part, sizeof all);
    ASSERT_MEM_EQ(yall, ypart, sizeof yall);
    for (size_t i = N; i-- > 0;) {
        ooc_blobs_rows(b, i, 1, row, NULL);
        ASSERT_MEM_EQ(row, all + i * D, sizeof row);
    }
    ooc_blobs_params q = p;
    q.chunk_rows = 7;
    ooc_blobs *b7 = make(&q, NULL);
    ASSERT_MEM_EQ(ooc_blobs_centers(b7), ooc_blobs_centers(b), 3 * D * sizeof(double));
    ooc_blobs_rows(b7, 0, N, part, NULL);
    ASSERT_MEM_EQ(all, part, sizeof all);
    ASSERT_INT_EQ(ooc_blobs_nchunks(b), 10);
    ASSERT_INT_EQ(ooc_blobs_nchunks(b7), 143);

    q = p;
    q.dtype = OOC_FLOAT32;
    ooc_blobs *b32 = make(&q, NULL);
    static float x32[N * D];
    ooc_blobs_rows(b32, 0, N, x32, ypart);
    for (int e = 0; e < N * D; e++)
        ASSERT(x32[e] == (float)all[e]);
    ASSERT_MEM_EQ(yall, ypart, sizeof yall);

    q = p;
    q.seed = p.seed + (1ull << 32);
    ooc_blobs *bs = make(&q, NULL);
    ooc_blobs_rows(bs, 0, N, part, NULL);
    int same = 0;
    for (int e = 0; e < N * D; e++)
        same += part[e] == all[e];
    ASSERT_INT_EQ(same, 0);
    ASSERT(memcmp(ooc_blobs_centers(bs), ooc_blobs_centers(b), 3 * D * sizeof(double)) != 0);
    ooc_blobs_free(b);
    ooc_blobs_free(b7);
    ooc_blobs_free(b32);
    ooc_blobs_free(bs);
}

/* Given centres are copied; with cluster_std 0 every row is exactly its blob's centre. */
static void test_blobs_given_centers(void)
{
    ooc_blobs_params p = small_params();
    p.features = 2, p.centers = 3, p.cluster_std = 0;
    double c[6] = {1, 2, -3, 4.5, 1e300, -0.25};
    ooc_blobs *b = make(&p, c);
    c[0] = 99;
    ASSERT(ooc_blobs_centers(b)[0] == 1);
    ASSERT(ooc_blobs_get_params(b)->cluster_std == 0);
    static double x[1000 * 2];
    static int32_t y[1000];
    ooc_blobs_rows(b, 0, 1000, x, y);
    int seen[3] = {0};
    for (int i = 0; i < 1000; i++) {
        ASSERT(x[2 * i] == ooc_blobs_centers(b)[2 * y[i]] && x[2 * i + 1] == ooc_blobs_centers(b)[2 * y[i] + 1]);
        seen[y[i]] = 1;
    }
    ASSERT(seen[0] && seen[1] && seen[2]);
    ooc_blobs_free(b);
    ooc_blobs_free(NULL);

    ooc_error err = {0};
    c[3] = NAN;
    ASSERT_INT_EQ(ooc_blobs_create(&p, c, &b, &err), OOC_EINVAL);
    ASSERT(b == NULL);
    ASSERT_STR_CONTAINS(err.msg, "blobs: centre 1, feature 1: not a finite number");
    p.features = 0;
    ASSERT_INT_EQ(ooc_blobs_create(&p, NULL, &b, &err), OOC_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "blobs: features must be at least 1");
}

static int params_eq(const ooc_blobs_params *a, const ooc_blobs_params *b)
{
    return a->samples == b->samples && a->features == b->features && a->centers == b->centers &&
           a->seed == b->seed && a->chunk_rows == b->chunk_rows && a->dtype == b->dtype &&
           memcmp(&a->cluster_std, &b->cluster_std, sizeof(double)) == 0 &&
           memcmp(&a->center_lo, &b->center_lo, sizeof(double)) == 0 &&
           memcmp(&a->center_hi, &b->center_hi, sizeof(double)) == 0;
}

static void test_spec_parse_format(void)
{
    ooc_blobs_params p, d = ooc_blobs_params_default(), q;
    ooc_error err = {0};
    ASSERT_OK(ooc_blobs_parse("blobs:", &p, &err));
    ASSERT(params_eq(&p, &d));
    ASSERT(d.samples == 1000000 && d.features == 20 && d.centers == 12 && d.cluster_std == 1 &&
           d.center_lo == -10 && d.center_hi == 10 && d.seed == 0 && d.chunk_rows == 200000 &&
           d.dtype == OOC_FLOAT64);
    ASSERT_OK(ooc_blobs_params_check(&d, &err));

    ASSERT_OK(ooc_blobs_parse("blobs:dtype=float32,samples=1.5M,center_box=-1e-300:3.3333333333333335,"
                              "features=3,centers=1e3,seed=18446744073709551615,chunk_rows=10k,cluster_std=0.1",
                              &p, &err));
    ASSERT(p.samples == 1500000 && p.features == 3 && p.centers == 1000 && p.seed == UINT64_MAX &&
           p.chunk_rows == 10000 && p.cluster_std == 0.1 && p.center_lo == -1e-300 &&
           p.center_hi == 3.3333333333333335 && p.dtype == OOC_FLOAT32);
    char buf[512];
    int len = ooc_blobs_format(&p, buf, sizeof buf);
    ASSERT_INT_EQ(len, strlen(buf));
    ASSERT_OK(ooc_blobs_parse(buf, &q, &err));
    ASSERT(params_eq(&p, &q));
    ASSERT_INT_EQ(ooc_blobs_format(&d, buf, sizeof buf), strlen(buf));
    ASSERT(strcmp(buf, "blobs:samples=1000000,features=20,centers=12,seed=0,chunk_rows=200000,cluster_std=1,"
                       "center_box=-10:10,dtype=float64") == 0);
    char small[8];
    ASSERT_INT_EQ(ooc_blobs_format(&d, small, sizeof small), strlen(buf));
    ASSERT(strcmp(small, "blobs:s") == 0);
    ASSERT_OK(ooc_blobs_parse(buf, &q, NULL));
    ASSERT(params_eq(&d, &q));
}

static void test_spec_errors(void)
{
    static const char *const bad[][2] = {
        {"samples=5", "samples=5: not a blobs spec"},
        {"blob:samples=5", "blob:samples=5: not a blobs spec"},
        {"blobs:foo=1", "blobs:foo=1: unknown key 'foo'"},
        {"blobs:Samples=1", "unknown key 'Samples'"},
        {"blobs:samples=x", "blobs:samples=x: 'samples' is not a count"},
        {"blobs:features=1.5", "blobs:features=1.5: 'features' is not a count"},
        {"blobs:centers=-1", "'centers' is not a count"},
        {"blobs:samples=1e30", "blobs:samples=1e30: 'samples' is out of range"},
        {"blobs:seed=1e3", "blobs:seed=1e3: 'seed' is not a non-negative integer"},
        {"blobs:chunk_rows=", "blobs:chunk_rows=: 'chunk_rows' is not a count"},
        {"blobs:cluster_std=abc", "'cluster_std' is not a finite number"},
        {"blobs:center_box=1", "blobs:center_box=1: 'center_box' is not LO:HI"},
        {"blobs:center_box=1:x", "'center_box' is not LO:HI"},
        {"blobs:center_box=-1,1", "blobs:center_box=-1: 'center_box' is not LO:HI"},
        {"blobs:dtype=int32", "blobs:dtype=int32: 'dtype' is not float64 or float32"},
        {"blobs:seed=1,samples=2,seed=1", "blobs:seed=1: 'seed' given twice"},
        {"blobs:samples", "blobs:samples: expected KEY=VALUE"},
        {"blobs:samples=5,", "blobs:samples=5,: expected KEY=VALUE after the last ','"},
        {"blobs:,samples=5", "blobs:: expected KEY=VALUE"},
        {"blobs:samples=5,,seed=1", "blobs:: expected KEY=VALUE"},
        {"blobs:samples= 5", "'samples' is not a count"},
        {"blobs:cluster_std=1000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "000000000000000000000000000000000000000000000000000000000000000000000000",
         "blobs:cluster_std=1000000000000000000000000000...: the value of 'cluster_std' is too long"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        ooc_blobs_params p = ooc_blobs_params_default(), d = p;
        ooc_error err = {0};
        ASSERT_INT_EQ(ooc_blobs_parse(bad[k][0], &p, &err), OOC_EINVAL);
        ASSERT_INT_EQ(err.code, OOC_EINVAL);
        ASSERT_STR_CONTAINS(err.msg, bad[k][1]);
        ASSERT(params_eq(&p, &d)); /* untouched on error */
    }
    ooc_blobs_params p;
    ASSERT_INT_EQ(ooc_blobs_parse(NULL, &p, NULL), OOC_EINVAL);
}

static void test_params_check(void)
{
    static const struct {
        const char *spec, *msg;
    } bad[] = {
        {"blobs:samples=0", "blobs: samples must be at least 1"},
        {"blobs:features=0", "blobs: features must be at least 1"},
        {"blobs:features=2147483649", "blobs: features must be at most 2147483648"},
        {"blobs:centers=0", "blobs: centers must be at least 1"},
        {"blobs:centers=2147483648", "blobs: centers must be at most 2147483647"},
        {"blobs:chunk_rows=0", "blobs: chunk_rows must be at least 1"},
        {"blobs:cluster_std=-1", "blobs: cluster_std must be finite and at least 0"},
        {"blobs:center_box=5:1", "blobs: center_box must be LO:HI with LO < HI"},
        {"blobs:center_box=1:1", "blobs: center_box must be LO:HI with LO < HI"},
        {"blobs:center_box=-1e308:1e308", "blobs: center_box must be LO:HI with LO < HI, both finite"},
        {"blobs:samples=9223372036854775808,features=2", "blobs: samples * features * 8 bytes overflows 64 bits"},
        {"blobs:samples=1e18,features=10", "blobs: samples * features * 8 bytes overflows 64 bits"},
        {"blobs:samples=1,chunk_rows=1e18", "blobs: chunk_rows * features is too large for memory"},
        {"blobs:centers=2000000000,features=2000000000", "blobs: centers * features must be at most 268435456"},
        {"blobs:centers=1e9", "blobs: centers * features must be at most 268435456"},
        {"blobs:centers=1000,features=268436", "blobs: centers * features must be at most 268435456"},
        {"blobs:samples=300000,features=3000", "under HDF5's 4 GiB limit: lower chunk_rows"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        ooc_blobs_params p;
        ooc_error err = {0};
        ASSERT_OK(ooc_blobs_parse(bad[k].spec, &p, &err));
        ASSERT_INT_EQ(ooc_blobs_params_check(&p, &err), OOC_EINVAL);
        ASSERT_STR_CONTAINS(err.msg, bad[k].msg);
    }
    ooc_blobs_params p = ooc_blobs_params_default();
    p.centers = 1000, p.features = 268435, p.chunk_rows = 1; /* the most centres allowed: 268,435,000 values */
    ASSERT_OK(ooc_blobs_params_check(&p, NULL));
    p = ooc_blobs_params_default();
    p.dtype = OOC_INT32;
    ASSERT_INT_EQ(ooc_blobs_params_check(&p, NULL), OOC_EINVAL);
    p = ooc_blobs_params_default();
    p.cluster_std = INFINITY;
    ASSERT_INT_EQ(ooc_blobs_params_check(&p, NULL), OOC_EINVAL);
    p = ooc_blobs_params_default();
    p.cluster_std = 0, p.samples = UINT64_MAX / 8 + 1, p.features = 1, p.chunk_rows = 1;
    ASSERT_INT_EQ(ooc_blobs_params_check(&p, NULL), OOC_EINVAL);
    p.samples = UINT64_MAX / 8;
    ASSERT_OK(ooc_blobs_params_check(&p, NULL));
    ooc_blobs *b = make(&p, NULL);
    ASSERT(ooc_blobs_nchunks(b) == UINT64_MAX / 8);
    double last;
    ooc_blobs_rows(b, UINT64_MAX / 8 - 1, 1, &last, NULL);
    ASSERT(last >= p.center_lo && last < p.center_hi);
    ooc_blobs_free(b);
}

/* A keyed draw is the first word of its stream, however it is computed. */
static void test_random_u64_is_first_word(void)
{
    for (uint64_t t = 0; t < 1000; t++) {
        uint64_t seed = t * 0x9E3779B97F4A7C15ull, index = t * t * 977 + (t << 40);
        uint32_t stream = (uint32_t)(t % 7);
        ooc__rng g;
        ooc__rng_init(&g, seed, stream, index, 3);
        ASSERT_INT_EQ(ooc_random_u64(seed, stream, index), ooc__rng_next(&g));
    }
}

/* Uniforms for a run of indices at once equal the one-at-a-time ones, across block boundaries and the carry
 * of the index into its high 32 bits. */
static void test_random_uniforms(void)
{
    enum { N = 1500 };
    static double u[N];
    const uint64_t starts[] = {0, 12345, 0xffffffffull - 700, (7ull << 40) + 3};
    for (size_t s = 0; s < sizeof starts / sizeof *starts; s++)
        for (uint64_t n = 0; n <= N; n += 499) {
            ooc_random_uniforms(42 + s, (uint32_t)(s * 3), starts[s], n, u);
            long bad = 0;
            for (uint64_t i = 0; i < n; i++)
                bad += u[i] != ooc_random_uniform(42 + s, (uint32_t)(s * 3), starts[s] + i);
            ASSERT_INT_EQ(bad, 0);
        }
}

OOC_TEST_MAIN(test_random_u64_is_first_word, test_random_uniforms, test_blobs_threads, test_zig_tables, test_rng_words, test_philox_kernels,
              test_rng_refill_sizes, test_rng_resume, test_normal_moments_ks, test_normal_histogram_tails,
              test_blobs_per_blob, test_blobs_determinism,
              test_blobs_given_centers, test_spec_parse_format, test_spec_errors, test_params_check)
