/* The assignment kernels against the scalar reference: labels and distances bitwise equal for every
 * variant on many shapes (k, d, n with tails that fill no tile), float32 and float64; near-ties counted to
 * show they were met; exact ties to the lowest index; the same outputs however rows are split into calls
 * and whether the second nearest distance is asked for; that bound never above the exact second nearest
 * (the reference's, checked by brute force) and within the variant's rounding allowance of it; float64
 * values outside what float32 ranking takes on trust; a variant and enough scratch for every shape. */
#include "ooc_assign_internal.h"
#include "ooc_random.h"
#include "ooc_test.h"

#include <float.h>
#include <stdint.h>

typedef struct variant {
    const char *name;
    ooc__assign_fn f64, f32;
    int ranks_f32; /* ranks in float32 whatever the data's type */
} variant;

static ooc__assign_fn pick(const variant *v, ooc_dtype t)
{
    return t == OOC_FLOAT32 ? v->f32 : v->f64;
}

/* direct-v32 runs only where the CPU has AVX2, direct-v64 (float64 only) where it has AVX-512 (see
 * available()); gemm-f64s is float64 data ranked by float32 GEMM. */
static const variant variants[] = {
    {"direct", ooc__assign_direct_f64, ooc__assign_direct_f32, 0},
    {"direct-v16", ooc__assign_direct_v16_f64, ooc__assign_direct_v16_f32, 0},
    {"direct-v32", ooc__assign_direct_v32_f64, ooc__assign_direct_v32_f32, 0},
    {"direct-v64", ooc__assign_direct_v64_f64, NULL, 0},
    {"gemm", ooc__assign_gemm_f64, ooc__assign_gemm_f32, 0},
    {"gemm-f64s", ooc__assign_gemm_f64s, NULL, 1},
};
enum { NVARIANTS = sizeof variants / sizeof variants[0] };

static int available(int v, ooc_dtype t)
{
    if (!pick(&variants[v], t))
        return 0;
    if (variants[v].f64 == ooc__assign_direct_v64_f64)
        return ooc__assign_have_avx512();
    return variants[v].f64 != ooc__assign_direct_v32_f64 || ooc__assign_have_avx2();
}

/* How values are drawn: uniform in [-1, 1); the same shifted far from the origin (where the fast variants'
 * rounding bound lets many centres through); small integers (exact ties in D everywhere); rows on the
 * boundary between two random centres, off the midpoint by a relative 10^-(i mod 17) (near-ties at every
 * scale, where ranking by ‖c‖² − 2x·c alone goes wrong). */
enum data_kind { UNIFORM, OFFSET, INTEGER, BOUNDARY };

static double draw(enum data_kind kind, uint64_t seed, uint32_t stream, uint64_t i)
{
    double u = ooc_random_uniform(seed, stream, i);
    switch (kind) {
    case UNIFORM:
        return 2 * u - 1;
    case OFFSET:
        return 40 + u;
    case INTEGER:
        return (double)(int)(5 * u) - 2;
    default:
        return 2 * u - 1;
    }
}

/* A problem in its own type: x (n x d), c (k x d), their norms, room for two sets of outputs and scratch.
 * Outputs hold one extra element each, a canary no kernel may touch. */
typedef struct problem {
    ooc_dtype t;
    size_t n, d, k, esize;
    void *x, *c, *cn, *scratch;
    size_t scratch_bytes;
    int32_t *labels, *labels_ref;
    double *dist, *dist_ref, *second, *second_ref;
} problem;

static double elem(const problem *p, const void *a, size_t i)
{
    return p->t == OOC_FLOAT32 ? (double)((const float *)a)[i] : ((const double *)a)[i];
}

static void set_elem(const problem *p, void *a, size_t i, double v)
{
    if (p->t == OOC_FLOAT32)
        ((float *)a)[i] = (float)v;
    else
        ((double *)a)[i] = v;
}

static void fill_rows(problem *p, enum data_kind kind, uint64_t seed)
{
    for (size_t i = 0; i < p->n; i++) {
        size_t a = (size_t)ooc_random_below(seed, 5, 2 * i, p->k);
        size_t b = (size_t)ooc_random_below(seed, 5, 2 * i + 1, p->k);
        double w = 0.5 + pow(10, -(double)(i % 17)) * (ooc_random_uniform(seed, 6, i) - 0.5);
        for (size_t t = 0; t < p->d; t++) {
            double v = kind == BOUNDARY ? w * elem(p, p->c, a * p->d + t) + (1 - w) * elem(p, p->c, b * p->d + t)
                                        : draw(kind, seed, 1, i * p->d + t);
            set_elem(p, p->x, i * p->d + t, v);
        }
    }
}

static void fill(problem *p, enum data_kind kind, uint64_t seed, size_t dup_every)
{
    for (size_t j = 0; j < p->k; j++) {
        /* Every dup_every-th centre repeats an earlier one: exact ties that must go to the lower index. */
        size_t src = dup_every && j > 0 && j % dup_every == 0 ? (size_t)ooc_random_below(seed, 3, j, j) : j;
        double norm = 0;
        for (size_t t = 0; t < p->d; t++) {
            double v = src == j ? draw(kind, seed, 2, j * p->d + t) : elem(p, p->c, src * p->d + t);
            set_elem(p, p->c, j * p->d + t, v);
            v = elem(p, p->c, j * p->d + t);
            norm += v * v;
        }
        set_elem(p, p->cn, j, norm);
    }
    fill_rows(p, kind, seed);
}

static void problem_init(problem *p, ooc_dtype t, size_t n, size_t d, size_t k)
{
    p->t = t;
    p->n = n;
    p->d = d;
    p->k = k;
    p->esize = ooc_dtype_size(t);
    p->x = malloc((n * d + 1) * p->esize);
    p->c = malloc(k * d * p->esize);
    p->cn = malloc(k * p->esize);
    p->scratch_bytes = ooc__assign_scratch_bytes(t, k, d);
    p->scratch = aligned_alloc(64, p->scratch_bytes);
    p->labels = malloc((n + 1) * sizeof *p->labels);
    p->labels_ref = malloc((n + 1) * sizeof *p->labels_ref);
    p->dist = malloc((n + 1) * sizeof *p->dist);
    p->dist_ref = malloc((n + 1) * sizeof *p->dist_ref);
    p->second = malloc((n + 1) * sizeof *p->second);
    p->second_ref = malloc((n + 1) * sizeof *p->second_ref);
    if (!p->x || !p->c || !p->cn || !p->scratch || !p->labels || !p->labels_ref || !p->dist || !p->dist_ref ||
        !p->second || !p->second_ref) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
}

static void problem_free(problem *p)
{
    free(p->x);
    free(p->c);
    free(p->cn);
    free(p->scratch);
    free(p->labels);
    free(p->labels_ref);
    free(p->dist);
    free(p->dist_ref);
    free(p->second);
    free(p->second_ref);
}

/* Run f on rows [i0, i1) into labels/dist/second (NULL: not asked), with scratch full of NaN bytes (a
 * kernel must not read what it did not write) and canaries after row n. */
static void run(const problem *p, ooc__assign_fn f, size_t i0, size_t i1, int32_t *labels, double *dist,
                double *second)
{
    memset(p->scratch, 0xff, p->scratch_bytes);
    labels[p->n] = -7;
    dist[p->n] = -7;
    if (second)
        second[p->n] = -7;
    f((const char *)p->x + i0 * p->d * p->esize, i1 - i0, p->d, p->c, p->cn, p->k, labels + i0, dist + i0,
      second ? second + i0 : NULL, p->scratch);
    ASSERT_INT_EQ(labels[p->n], -7);
    ASSERT(dist[p->n] == -7);
    ASSERT(!second || second[p->n] == -7);
}

static double sqdist(const problem *p, size_t i, size_t j)
{
    if (p->t == OOC_FLOAT32)
        return ooc__sqdist_f32((const float *)p->x + i * p->d, (const float *)p->c + j * p->d, p->d);
    return ooc__sqdist_f64((const double *)p->x + i * p->d, (const double *)p->c + j * p->d, p->d);
}

/* The argmin of ‖c_j‖² − 2x_i·c_j in the data's precision, summed in order: what a fast variant's ranking
 * alone would answer (lowest index on ties). */
static size_t score_argmin(const problem *p, size_t i)
{
    size_t best = 0;
    if (p->t == OOC_FLOAT32) {
        const float *x = (const float *)p->x + i * p->d, *c = p->c, *cn = p->cn;
        float sb = 0;
        for (size_t j = 0; j < p->k; j++) {
            float dot = 0;
            for (size_t t = 0; t < p->d; t++)
                dot += x[t] * c[j * p->d + t];
            float s = cn[j] - 2 * dot;
            if (j == 0 || s < sb) {
                sb = s;
                best = j;
            }
        }
    } else {
        const double *x = (const double *)p->x + i * p->d, *c = p->c, *cn = p->cn;
        double sb = 0;
        for (size_t j = 0; j < p->k; j++) {
            double dot = 0;
            for (size_t t = 0; t < p->d; t++)
                dot += x[t] * c[j * p->d + t];
            double s = cn[j] - 2 * dot;
            if (j == 0 || s < sb) {
                sb = s;
                best = j;
            }
        }
    }
    return best;
}

/* Rows whose two best distances (by the reference's own D) are within rel of each other, where a kernel
 * ranking by ‖c‖² − 2x·c alone would be free to differ; *misranked counts the rows where such a ranking
 * does differ from the reference. Also checks the reference is the argmin, lowest index on ties. */
static size_t near_ties(const problem *p, double rel, size_t *misranked)
{
    size_t count = 0;
    for (size_t i = 0; i < p->n; i++) {
        *misranked += score_argmin(p, i) != (size_t)p->labels_ref[i];
        double d1 = INFINITY, d2 = INFINITY;
        size_t best = 0;
        for (size_t j = 0; j < p->k; j++) {
            double dj = sqdist(p, i, j);
            if (dj < d1) {
                d2 = d1;
                d1 = dj;
                best = j;
            } else if (dj < d2) {
                d2 = dj;
            }
        }
        if ((size_t)p->labels_ref[i] != best || p->dist_ref[i] != d1 || p->second_ref[i] != d2)
            OOC__FAIL("reference row %zu: label %d dist %.17g second %.17g, argmin %zu dist %.17g second %.17g", i,
                      p->labels_ref[i], p->dist_ref[i], p->second_ref[i], best, d1, d2);
        if (p->k > 1 && d2 - d1 <= rel * d2)
            count++;
    }
    return count;
}

static void check_same(const problem *p, const char *name, const char *what)
{
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->labels[i] != p->labels_ref[i] || memcmp(&p->dist[i], &p->dist_ref[i], sizeof(double)))
            if (!bad++)
                first = i;
    if (bad)
        OOC__FAIL("%s %s %s n=%zu d=%zu k=%zu: %zu rows differ from the reference, first %zu: label %d "
                  "dist %.17g, reference %d %.17g",
                  name, ooc_dtype_name(p->t), what, p->n, p->d, p->k, bad, first, p->labels[first], p->dist[first],
                  p->labels_ref[first], p->dist_ref[first]);
}

/* The largest gap between the exact second nearest distance and a variant's bound on it, relative to the
 * exact value, over every problem checked (for the report). */
static double widest_second[2];

/* A variant's second[] against the reference's exact values: never above, and below by at most the
 * variant's rounding allowance (twice the settling's, ooc_assign_settle.c) and 1e-6 relative. */
static void check_second(const problem *p, const char *name, const char *what, int ranks_f32)
{
    double cmax = 0, unit = p->t == OOC_FLOAT32 || ranks_f32 ? FLT_EPSILON / 2 : DBL_EPSILON / 2;
    for (size_t j = 0; j < p->k; j++)
        cmax = fmax(cmax, elem(p, p->cn, j));
    size_t above = 0, loose = 0, first = 0;
    for (size_t i = 0; i < p->n; i++) {
        double exact = p->second_ref[i], got = p->second[i];
        double allow = isinf(exact) ? 0 : 1e-6 * exact + 32.0 * (double)(p->d + 4) * unit * (p->dist_ref[i] + 2 * cmax);
        if (got == exact)
            continue;
        int bad = !(got < exact) ? (above++, 1) : !(exact - got <= allow) ? (loose++, 1) : 0;
        if (bad && above + loose == 1)
            first = i;
        if (exact > 0 && got < exact)
            widest_second[p->t == OOC_FLOAT32] = fmax(widest_second[p->t == OOC_FLOAT32], (exact - got) / exact);
    }
    if (above || loose)
        OOC__FAIL("%s %s %s n=%zu d=%zu k=%zu: second nearest above the exact value in %zu rows, too loose in "
                  "%zu; first row %zu: %.17g, exact %.17g",
                  name, ooc_dtype_name(p->t), what, p->n, p->d, p->k, above, loose, first, p->second[first],
                  p->second_ref[first]);
}

/* Each variant, and the selected one, against the reference on one problem: without and with the second
 * nearest; then split into two calls. */
static void check_problem(problem *p, const char *what)
{
    run(p, p->t == OOC_FLOAT32 ? ooc__assign_ref_f32 : ooc__assign_ref_f64, 0, p->n, p->labels_ref, p->dist_ref,
        p->second_ref);
    for (int v = 0; v <= NVARIANTS; v++) {
        if (v < NVARIANTS && !available(v, p->t))
            continue;
        ooc__assign_fn f = v < NVARIANTS ? pick(&variants[v], p->t) : ooc__assign_select(p->t, p->k, p->d);
        const char *name = v < NVARIANTS ? variants[v].name : "selected";
        run(p, f, 0, p->n, p->labels, p->dist, NULL);
        check_same(p, name, what);
        run(p, f, 0, p->n, p->labels, p->dist, p->second);
        check_same(p, name, what);
        check_second(p, name, what, v < NVARIANTS ? variants[v].ranks_f32 : f == ooc__assign_gemm_f64s);
        if (p->n >= 2) {
            size_t m = 1 + (size_t)ooc_random_below(7, 4, p->n * 31 + p->k, p->n - 1);
            run(p, f, 0, m, p->labels, p->dist, NULL);
            run(p, f, m, p->n, p->labels, p->dist, NULL);
            if (memcmp(p->labels, p->labels_ref, p->n * sizeof *p->labels) ||
                memcmp(p->dist, p->dist_ref, p->n * sizeof *p->dist))
                OOC__FAIL("%s %s %s n=%zu d=%zu k=%zu: split at %zu changes the outputs", name,
                          ooc_dtype_name(p->t), what, p->n, p->d, p->k, m);
        }
    }
}

static const size_t ks[] = {1, 2, 3, 7, 8, 12, 17, 64, 256, 300, 1000};
static const size_t ds[] = {1, 2, 3, 7, 20, 32, 128};

/* Rows for a shape: 0, 1, a few, and as many as a budget allows (at least 40, so the largest shapes span
 * several GEMM tiles), never a multiple of a block or tile. */
static void row_counts(size_t k, size_t d, size_t out[4])
{
    size_t big = 1500000 / (k * d);
    big = big < 40 ? 40 : big > 1100 ? 1100 : big;
    out[0] = 0;
    out[1] = 1;
    out[2] = 5 + k % 7;
    out[3] = big + 3 + k % 13;
}

static void check_shapes(ooc_dtype t, enum data_kind kind, const char *what, double rel, size_t *ties,
                         size_t *misranked)
{
    for (size_t a = 0; a < sizeof ks / sizeof ks[0]; a++)
        for (size_t b = 0; b < sizeof ds / sizeof ds[0]; b++) {
            size_t ns[4];
            row_counts(ks[a], ds[b], ns);
            for (int r = 0; r < 4; r++) {
                problem p;
                problem_init(&p, t, ns[r], ds[b], ks[a]);
                fill(&p, kind, 1000 * a + 10 * b + (uint64_t)r, 0);
                check_problem(&p, what);
                *ties += near_ties(&p, rel, misranked);
                problem_free(&p);
            }
        }
}

static void report(ooc_dtype t, enum data_kind kind, const char *what, double rel, size_t *ties, size_t *misranked)
{
    *ties = *misranked = 0;
    check_shapes(t, kind, what, rel, ties, misranked);
    printf("     %s %s: %zu near-ties (relative %g), %zu rows misranked by the scores alone\n", ooc_dtype_name(t),
           what, *ties, rel, *misranked);
}

static void test_uniform(void)
{
    size_t ties, misranked;
    report(OOC_FLOAT64, UNIFORM, "uniform", 1e-12, &ties, &misranked);
    report(OOC_FLOAT32, UNIFORM, "uniform", 1e-5, &ties, &misranked);
}

/* Far from the origin ‖x‖² dwarfs the distances: ‖c‖² − 2x·c cancels badly, most so in float32. */
static void test_offset(void)
{
    size_t ties, misranked;
    report(OOC_FLOAT64, OFFSET, "offset", 1e-12, &ties, &misranked);
    report(OOC_FLOAT32, OFFSET, "offset", 1e-5, &ties, &misranked);
    ASSERT(misranked > 0);
}

/* Small integers: D is exact, so equal distances are exact ties, everywhere. */
static void test_integer_ties(void)
{
    size_t ties, misranked;
    report(OOC_FLOAT64, INTEGER, "integer", 0, &ties, &misranked);
    ASSERT(ties > 0);
    report(OOC_FLOAT32, INTEGER, "integer", 0, &ties, &misranked);
    ASSERT(ties > 0);
}

/* Rows between two centres at every distance from the midpoint. */
static void test_boundary(void)
{
    size_t ties, misranked;
    report(OOC_FLOAT64, BOUNDARY, "boundary", 1e-12, &ties, &misranked);
    ASSERT(ties > 0);
    ASSERT(misranked > 0);
    report(OOC_FLOAT32, BOUNDARY, "boundary", 1e-5, &ties, &misranked);
    ASSERT(ties > 0);
    ASSERT(misranked > 0);
}

/* Duplicated centres: every variant labels each row with the first copy of its nearest centre. */
static void test_duplicate_centres(void)
{
    static const size_t shapes[][3] = {{300, 2, 8}, {1000, 20, 12}, {257, 32, 64}, {130, 128, 256}, {77, 7, 1000}};
    for (int dt = 0; dt < 2; dt++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            problem p;
            ooc_dtype t = dt ? OOC_FLOAT32 : OOC_FLOAT64;
            problem_init(&p, t, shapes[s][0], shapes[s][1], shapes[s][2]);
            fill(&p, UNIFORM, 77 + s, 3);
            check_problem(&p, "duplicates");
            size_t on_dup = 0;
            for (size_t i = 0; i < p.n; i++) {
                size_t l = (size_t)p.labels_ref[i];
                for (size_t j = 0; j < l; j++)
                    if (sqdist(&p, i, j) == p.dist_ref[i])
                        OOC__FAIL("row %zu: label %zu but centre %zu is as near", i, l, j);
                for (size_t j = l + 1; j < p.k; j++)
                    on_dup += sqdist(&p, i, j) == p.dist_ref[i];
            }
            ASSERT(on_dup > 0);
            problem_free(&p);
        }
}

/* Rows that are centres: distance 0 to the first copy. */
static void test_rows_on_centres(void)
{
    for (int dt = 0; dt < 2; dt++) {
        problem p;
        ooc_dtype t = dt ? OOC_FLOAT32 : OOC_FLOAT64;
        problem_init(&p, t, 64, 20, 12);
        fill(&p, UNIFORM, 5, 4);
        for (size_t i = 0; i < p.n; i++)
            memcpy((char *)p.x + i * p.d * p.esize, (char *)p.c + (i % p.k) * p.d * p.esize, p.d * p.esize);
        check_problem(&p, "on-centres");
        for (size_t i = 0; i < p.n; i++)
            ASSERT(p.dist_ref[i] == 0);
        problem_free(&p);
    }
}

/* float64 values that float32 ranking must not take on trust (gemm-f64s sends rows with a nonzero value
 * outside [2^-50, 2^50] in magnitude to the reference, and centres with one to float64 GEMM): every variant
 * still gives the reference's outputs, on shapes where gemm-f64s is selected or not. */
static void test_extreme_values(void)
{
    static const size_t shapes[][3] = {{203, 20, 300}, {61, 7, 1000}, {45, 128, 256}, {150, 20, 12}};
    static const double odd[] = {0x1p-50, 0x1p50, 0x1p-51, 0x1p51, 1e-30, 1e30, 1e-300, 1e300, -1e-310, 1e-40};
    enum { NODD = sizeof odd / sizeof odd[0] };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int centres = 0; centres < 2; centres++) {
            problem p;
            problem_init(&p, OOC_FLOAT64, shapes[s][0], shapes[s][1], shapes[s][2]);
            fill(&p, UNIFORM, 300 + s, 0);
            double *x = p.x, *c = p.c, *cn = p.cn;
            for (size_t i = 0; i < p.n; i++) /* one odd value in most rows, a scaled row in some */
                if (i % 7 == 6)
                    for (size_t t = 0; t < p.d; t++)
                        x[i * p.d + t] *= 1e-20;
                else if (i % (NODD + 1))
                    x[i * p.d + i % p.d] = odd[i % (NODD + 1) - 1];
            if (centres) { /* a centre with a tiny value, its norm recomputed */
                size_t j = p.k / 2;
                c[j * p.d] = 1e-200;
                cn[j] = 0;
                for (size_t t = 0; t < p.d; t++)
                    cn[j] += c[j * p.d + t] * c[j * p.d + t];
            }
            check_problem(&p, centres ? "extreme rows and a tiny centre" : "extreme rows");
            problem_free(&p);
        }
}

static void test_select(void)
{
    static const size_t more_k[] = {1, 2, 5, 8, 16, 31, 100, 4096, 65536};
    static const size_t more_d[] = {1, 2, 4, 20, 64, 300, 2048};
    for (int dt = 0; dt < 2; dt++) {
        ooc_dtype t = dt ? OOC_FLOAT32 : OOC_FLOAT64;
        for (size_t a = 0; a < sizeof more_k / sizeof more_k[0]; a++)
            for (size_t b = 0; b < sizeof more_d / sizeof more_d[0]; b++) {
                size_t k = more_k[a], d = more_d[b];
                ooc__assign_fn f = ooc__assign_select(t, k, d);
                int known = f == (dt ? ooc__assign_ref_f32 : ooc__assign_ref_f64);
                for (int v = 0; v < NVARIANTS; v++)
                    known |= f == pick(&variants[v], t);
                ASSERT(known);
                size_t bytes = ooc__assign_scratch_bytes(t, k, d);
                ASSERT_INT_EQ(bytes % 64, 0);
                ASSERT(bytes >= ooc__assign_direct_scratch(t, k, d));
                ASSERT(bytes >= ooc__assign_gemm_scratch(t, k, d));
                ASSERT(t == OOC_FLOAT32 || bytes >= ooc__assign_gemm_f64s_scratch(k, d));
                ASSERT(f == ooc__assign_select(t, k, d));
            }
    }
}

/* D by its definition, written out: partial sum t mod 4 over the whole groups of 4, the last d mod 4 terms
 * into the first partial sums, then (s0 + s1) + (s2 + s3). */
static double defined_sqdist(const double *x, const double *c, size_t d)
{
    double s[4] = {0, 0, 0, 0};
    size_t whole = d / 4 * 4;
    for (size_t t = 0; t < d; t++) {
        double v = x[t] - c[t];
        s[t < whole ? t % 4 : t - whole] += v * v;
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* The row operations Lloyd's bounds and sums use (D; a row added to a sum, with its square), portable and
 * AVX2 builds, against D's definition and
 * against each other, bitwise, for every d up to 70 (each tail of the 4-column steps), float64 and float32. */
static void test_row_ops(void)
{
    enum { DMAX = 70 };
    double xd[DMAX], cd[DMAX], s1[DMAX], s2[DMAX], want[DMAX];
    float xf[DMAX], cf[DMAX];
    int bad = 0;
    for (size_t d = 1; d <= DMAX; d++)
        for (uint64_t seed = 0; seed < 20; seed++) {
            for (size_t t = 0; t < d; t++) {
                xd[t] = draw(seed % 2 ? OFFSET : UNIFORM, seed, 1, d * DMAX + t);
                cd[t] = draw(UNIFORM, seed, 2, d * DMAX + t);
                xf[t] = (float)xd[t];
                cf[t] = (float)cd[t];
                s1[t] = s2[t] = draw(UNIFORM, seed, 3, d * DMAX + t);
            }
            double dd = defined_sqdist(xd, cd, d), got = ooc__sqdist_f64(xd, cd, d);
            bad += memcmp(&got, &dd, sizeof got) != 0;
            double xw[DMAX], cw[DMAX]; /* float32 rows, widened exactly */
            for (size_t t = 0; t < d; t++) {
                xw[t] = xf[t];
                cw[t] = cf[t];
                want[t] = s1[t] + (xd[t] - cd[t]); /* the sums are taken about an origin: here c */
            }
            double df = defined_sqdist(xw, cw, d);
            got = ooc__sqdist_f32(xf, cf, d);
            bad += memcmp(&got, &df, sizeof got) != 0;
            /* add_row's square about the origin c: D's definition, with the origin in double */
            double dfo = defined_sqdist(xw, cd, d);
            got = ooc__add_row_f64(s1, xd, cd, d);
            bad += memcmp(s1, want, d * sizeof *s1) != 0 || memcmp(&got, &dd, sizeof got) != 0;
#ifdef OOC__HAVE_ROW_AVX2
            if (ooc__assign_have_avx2()) {
                got = ooc__sqdist_f64_avx2(xd, cd, d);
                bad += memcmp(&got, &dd, sizeof got) != 0;
                got = ooc__sqdist_f32_avx2(xf, cf, d);
                bad += memcmp(&got, &df, sizeof got) != 0;
                got = ooc__add_row_f64_avx2(s2, xd, cd, d);
                bad += memcmp(s2, want, d * sizeof *s2) != 0 || memcmp(&got, &dd, sizeof got) != 0;
                got = ooc__add_row_f32(s1, xf, cd, d);
                bad += memcmp(&got, &dfo, sizeof got) != 0;
                got = ooc__add_row_f32_avx2(s2, xf, cd, d);
                bad += memcmp(s1, s2, d * sizeof *s1) != 0 || memcmp(&got, &dfo, sizeof got) != 0;
            }
#endif
        }
    ASSERT_INT_EQ(bad, 0);
}

static void test_isa(void)
{
    printf("     AVX2 %s: direct-v32 %s; AVX-512 %s: direct-v64 %s\n", ooc__assign_have_avx2() ? "present" : "absent",
           ooc__assign_have_avx2() ? "tested" : "not tested", ooc__assign_have_avx512() ? "present" : "absent",
           ooc__assign_have_avx512() ? "tested" : "not tested");
}

/* After the tests above: how loose the fast variants' second nearest got (the reference's is exact). */
static void test_second_report(void)
{
    printf("     second nearest: widest gap below the exact value %.3g relative (float64), %.3g (float32)\n",
           widest_second[0], widest_second[1]);
    ASSERT(widest_second[0] > 0 && widest_second[1] > 0);
}

OOC_TEST_MAIN(test_isa, test_uniform, test_offset, test_boundary, test_integer_ties, test_duplicate_centres,
              test_rows_on_centres, test_extreme_values, test_select, test_row_ops, test_second_report)
