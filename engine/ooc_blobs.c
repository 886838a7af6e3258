#include "ooc_blobs.h"

#include "ooc_normal_internal.h"
#include "ooc_units.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Philox streams under one seed: word streams of rows (index = row) and of centres (index = centre). */
enum { STREAM_ROWS = 0, STREAM_CENTERS = 1 };

struct ooc_blobs {
    ooc_blobs_params p;
    const ooc__zig *zig;
    double centers[]; /* k × d */
};

ooc_blobs_params ooc_blobs_params_default(void)
{
    return (ooc_blobs_params){
        .samples = 1000000,
        .features = 20,
        .centers = 12,
        .cluster_std = 1.0,
        .center_lo = -10,
        .center_hi = 10,
        .seed = 0,
        .chunk_rows = 200000,
        .dtype = OOC_FLOAT64,
    };
}

/* The largest value the dtype holds, and whether c + cluster_std x (any normal draw) stays within it for a
 * centre coordinate c of magnitude at most `top`: beyond, the value would be written as infinity. */
static double dtype_max(const ooc_blobs_params *p)
{
    return p->dtype == OOC_FLOAT32 ? FLT_MAX : DBL_MAX;
}

static int values_fit(const ooc_blobs_params *p, double top)
{
    return top + p->cluster_std * ooc__normal_bound(ooc__zig_tables()) <= dtype_max(p);
}

const ooc_blobs_names ooc_blobs_keys = {"blobs: ", "samples", "features", "centers", "chunk_rows",
                                        "cluster_std", "center_box", "LO:HI", "dtype"};

int ooc_blobs_params_check_named(const ooc_blobs_params *p, const ooc_blobs_names *nm, ooc_error *err)
{
    char why[256] = "";
    if (p->samples < 1)
        snprintf(why, sizeof why, "%s must be at least 1", nm->samples);
    else if (p->features < 1)
        snprintf(why, sizeof why, "%s must be at least 1", nm->features);
    else if (p->features > (uint64_t)1 << 31) /* a row's draws are counted in 32 bits, two words a draw */
        snprintf(why, sizeof why, "%s must be at most 2147483648", nm->features);
    else if (p->centers < 1)
        snprintf(why, sizeof why, "%s must be at least 1", nm->centers);
    else if (p->centers > INT32_MAX) /* labels are int32 */
        snprintf(why, sizeof why, "%s must be at most 2147483647", nm->centers);
    else if (p->chunk_rows < 1)
        snprintf(why, sizeof why, "%s must be at least 1", nm->chunk_rows);
    else if (!isfinite(p->cluster_std) || p->cluster_std < 0)
        snprintf(why, sizeof why, "%s must be finite and at least 0", nm->cluster_std);
    else if (!isfinite(p->center_hi - p->center_lo) || !(p->center_lo < p->center_hi))
        snprintf(why, sizeof why, "%s must be %s with LO < HI, both finite", nm->center_box, nm->center_box_form);
    else if (p->dtype != OOC_FLOAT64 && p->dtype != OOC_FLOAT32)
        snprintf(why, sizeof why, "%s must be float64 or float32", nm->dtype);
    else if (p->samples > UINT64_MAX / 8 / p->features) /* its size in bytes is counted in 64 bits */
        snprintf(why, sizeof why, "%s * %s * 8 bytes overflows 64 bits", nm->samples, nm->features);
    else if (p->chunk_rows > SIZE_MAX / 4 / 8 / p->features)
        snprintf(why, sizeof why, "%s * %s is too large for memory", nm->chunk_rows, nm->features);
    else if (p->centers > ((uint64_t)1 << 28) / p->features) /* the centres are held whole in memory */
        snprintf(why, sizeof why, "%s * %s must be at most 268435456 (2 GiB of float64 centres)", nm->centers,
                 nm->features);
    else if ((p->chunk_rows < p->samples ? p->chunk_rows : p->samples) * p->features * 8 >= (uint64_t)1 << 32)
        snprintf(why, sizeof why, "a chunk (%s x %s x 8 bytes) must stay under HDF5's 4 GiB limit: lower %s",
                 nm->chunk_rows, nm->features, nm->chunk_rows);
    if (*why)
        return ooc_error_set(err, OOC_EINVAL, "%s%s", nm->prefix, why);
    double top = fmax(fabs(p->center_lo), fabs(p->center_hi));
    if (!values_fit(p, top))
        return ooc_error_set(err, OOC_EINVAL, "%s%s up to %g in magnitude and %s %g make values beyond %s's range "
                             "(%g), which would be written as infinity", nm->prefix, nm->center_box, top,
                             nm->cluster_std, p->cluster_std, ooc_dtype_name(p->dtype), dtype_max(p));
    return 0;
}

int ooc_blobs_params_check(const ooc_blobs_params *p, ooc_error *err)
{
    return ooc_blobs_params_check_named(p, &ooc_blobs_keys, err);
}

enum { K_SAMPLES, K_FEATURES, K_CENTERS, K_SEED, K_CHUNK_ROWS, K_CLUSTER_STD, K_CENTER_BOX, K_DTYPE, K_NKEYS };

static const struct {
    const char *name, *kind;
} keys[K_NKEYS] = {
    [K_SAMPLES] = {"samples", "a count"},
    [K_FEATURES] = {"features", "a count"},
    [K_CENTERS] = {"centers", "a count"},
    [K_SEED] = {"seed", "a non-negative integer"},
    [K_CHUNK_ROWS] = {"chunk_rows", "a count"},
    [K_CLUSTER_STD] = {"cluster_std", "a finite number"},
    [K_CENTER_BOX] = {"center_box", "LO:HI"},
    [K_DTYPE] = {"dtype", "float64 or float32"},
};

static int parse_box(char *v, ooc_blobs_params *q)
{
    char *colon = strchr(v, ':');
    if (!colon)
        return OOC_EINVAL;
    *colon = '\0';
    int rc = ooc_parse_double(v, &q->center_lo);
    return rc ? rc : ooc_parse_double(colon + 1, &q->center_hi);
}

static int parse_value(int k, char *v, ooc_blobs_params *q)
{
    switch (k) {
    case K_SAMPLES: return ooc_parse_count(v, &q->samples);
    case K_FEATURES: return ooc_parse_count(v, &q->features);
    case K_CENTERS: return ooc_parse_count(v, &q->centers);
    case K_SEED: return ooc_parse_u64(v, &q->seed);
    case K_CHUNK_ROWS: return ooc_parse_count(v, &q->chunk_rows);
    case K_CLUSTER_STD: return ooc_parse_double(v, &q->cluster_std);
    case K_CENTER_BOX: return parse_box(v, q);
    case K_DTYPE: return ooc_dtype_parse(v, &q->dtype);
    }
    return OOC_EINVAL;
}

/* One "key=value" item of n bytes (not NUL-terminated); *seen has a bit per key already given. */
static int parse_item(const char *item, size_t n, ooc_blobs_params *q, unsigned *seen, ooc_error *err)
{
    const char *eq = memchr(item, '=', n);
    if (!eq)
        return ooc_error_set(err, OOC_EINVAL, "blobs:%.*s: expected KEY=VALUE", (int)n, item);
    size_t klen = (size_t)(eq - item), vlen = n - klen - 1;
    int k = 0;
    while (k < K_NKEYS && !(strlen(keys[k].name) == klen && memcmp(keys[k].name, item, klen) == 0))
        k++;
    if (k == K_NKEYS)
        return ooc_error_set(err, OOC_EINVAL,
                             "blobs:%.*s: unknown key '%.*s' (expected samples, features, centers, seed, "
                             "chunk_rows, cluster_std, center_box or dtype)",
                             (int)n, item, (int)klen, item);
    if (*seen & 1u << k)
        return ooc_error_set(err, OOC_EINVAL, "blobs:%.*s: '%s' given twice", (int)n, item, keys[k].name);
    *seen |= 1u << k;
    char v[128]; /* %.17g needs 24 characters */
    if (vlen >= sizeof v)
        return ooc_error_set(err, OOC_EINVAL, "blobs:%.*s...: the value of '%s' is too long", 40, item,
                             keys[k].name);
    memcpy(v, eq + 1, vlen);
    v[vlen] = '\0';
    int rc = parse_value(k, v, q);
    if (rc == OOC_ERANGE)
        return ooc_error_set(err, OOC_EINVAL, "blobs:%.*s: '%s' is out of range", (int)n, item, keys[k].name);
    if (rc)
        return ooc_error_set(err, OOC_EINVAL, "blobs:%.*s: '%s' is not %s", (int)n, item, keys[k].name,
                             keys[k].kind);
    return 0;
}

int ooc_blobs_parse(const char *spec, ooc_blobs_params *p, ooc_error *err)
{
    static const char prefix[] = "blobs:";
    if (!spec || strncmp(spec, prefix, sizeof prefix - 1) != 0)
        return ooc_error_set(err, OOC_EINVAL, "%s: not a blobs spec (expected blobs:KEY=VALUE,...)",
                             spec ? spec : "(null)");
    ooc_blobs_params q = ooc_blobs_params_default();
    unsigned seen = 0;
    const char *s = spec + sizeof prefix - 1;
    /* Every comma separates two items, so "blobs:" alone is the defaults but a stray comma is an error. */
    while (*s) {
        size_t n = strcspn(s, ",");
        int rc = parse_item(s, n, &q, &seen, err);
        if (rc)
            return rc;
        s += n;
        if (*s == ',') {
            s++;
            if (!*s)
                return ooc_error_set(err, OOC_EINVAL, "%s: expected KEY=VALUE after the last ','", spec);
        }
    }
    *p = q;
    return 0;
}

int ooc_blobs_format(const ooc_blobs_params *p, char *buf, size_t size)
{
    /* %.17g gives back the same double through strtod. */
    return snprintf(buf, size,
                    "blobs:samples=%" PRIu64 ",features=%" PRIu64 ",centers=%" PRIu64 ",seed=%" PRIu64
                    ",chunk_rows=%" PRIu64 ",cluster_std=%.17g,center_box=%.17g:%.17g,dtype=%s",
                    p->samples, p->features, p->centers, p->seed, p->chunk_rows, p->cluster_std, p->center_lo,
                    p->center_hi, ooc_dtype_name(p->dtype));
}

/* Centre i is drawn from its own word stream, one word per coordinate: lo + u (hi - lo), u in [0, 1). */
static void draw_centers(ooc_blobs *b)
{
    const ooc_blobs_params *p = &b->p;
    double width = p->center_hi - p->center_lo;
    for (uint64_t i = 0; i < p->centers; i++) {
        ooc__rng g;
        ooc__rng_init(&g, p->seed, STREAM_CENTERS, i, p->features);
        for (uint64_t j = 0; j < p->features; j++)
            b->centers[i * p->features + j] = p->center_lo + ooc__u01(ooc__rng_next(&g)) * width;
    }
}

int ooc_blobs_create(const ooc_blobs_params *p, const double *centers, ooc_blobs **out, ooc_error *err)
{
    *out = NULL;
    int rc = ooc_blobs_params_check(p, err);
    if (rc)
        return rc;
    size_t d = (size_t)p->features, kd = (size_t)p->centers * d;
    for (size_t e = 0; centers && e < kd; e++) {
        if (!isfinite(centers[e]))
            return ooc_error_set(err, OOC_EINVAL, "blobs: centre %zu, feature %zu: not a finite number", e / d,
                                 e % d);
        if (!values_fit(p, fabs(centers[e])))
            return ooc_error_set(err, OOC_EINVAL, "blobs: centre %zu, feature %zu: %g with cluster_std %g makes "
                                 "values beyond %s's range (%g), which would be written as infinity", e / d, e % d,
                                 centers[e], p->cluster_std, ooc_dtype_name(p->dtype), dtype_max(p));
    }
    ooc_blobs *b = malloc(sizeof *b + kd * sizeof(double));
    if (!b)
        return ooc_error_set(err, OOC_ENOMEM, "blobs: %zu centres * %zu features: out of memory", kd / d, d);
    b->p = *p;
    b->zig = ooc__zig_tables();
    if (centers)
        memcpy(b->centers, centers, kd * sizeof(double));
    else
        draw_centers(b);
    *out = b;
    return 0;
}

void ooc_blobs_free(ooc_blobs *b)
{
    free(b);
}

const ooc_blobs_params *ooc_blobs_get_params(const ooc_blobs *b)
{
    return &b->p;
}

const double *ooc_blobs_centers(const ooc_blobs *b)
{
    return b->centers;
}

uint64_t ooc_blobs_nchunks(const ooc_blobs *b)
{
    return b->p.samples / b->p.chunk_rows + (b->p.samples % b->p.chunk_rows != 0);
}

/* The high 64 bits of a × b: maps a uniform word to [0, b) without the bias of a modulo (Lemire). */
static uint64_t mulhi64(uint64_t a, uint64_t b)
{
    uint64_t alo = (uint32_t)a, ahi = a >> 32, blo = (uint32_t)b, bhi = b >> 32;
    uint64_t ll = alo * blo, hl = ahi * blo, lh = alo * bhi, hh = ahi * bhi;
    uint64_t mid = (ll >> 32) + (uint32_t)hl + (uint32_t)lh;
    return hh + (hl >> 32) + (lh >> 32) + (mid >> 32);
}

/* Element j of a row of float64 or float32. */
static void put(void *row, int f32, size_t j, double v)
{
    if (f32)
        ((float *)row)[j] = (float)v;
    else
        ((double *)row)[j] = v;
}

/* Row r from the first `calls` calls of its stream, already computed in words: word 0 picks the blob, the
 * next words make the d normals in order. The loop takes the words straight from the array while every draw
 * is accepted at once, and goes on through an ooc__rng from the first that is not. */
static int32_t blobs_row(const ooc_blobs *b, uint64_t r, const uint64_t *words, unsigned calls, void *row)
{
    const ooc_blobs_params *p = &b->p;
    size_t d = (size_t)p->features, j = 0, fast = 2 * (size_t)calls - 1 < d ? 2 * (size_t)calls - 1 : d;
    int f32 = p->dtype == OOC_FLOAT32;
    double s = p->cluster_std, v;
    uint64_t label = mulhi64(words[0], p->centers);
    const double *c = b->centers + label * d;
    for (; j < fast && ooc__normal_fast(b->zig, words[1 + j], &v); j++)
        put(row, f32, j, c[j] + s * v);
    if (j < d) {
        ooc__rng g;
        ooc__rng_resume(&g, p->seed, STREAM_ROWS, r, words, calls, (unsigned)(1 + j), 1 + d);
        for (; j < d; j++)
            put(row, f32, j, c[j] + s * ooc__normal(b->zig, &g));
    }
    return (int32_t)label;
}

/* The first calls of many rows' streams are computed by one kernel call: it runs them side by side. */
enum { BATCH_WORDS = 2048 };

void ooc_blobs_rows(const ooc_blobs *b, uint64_t row0, size_t n, void *x, int32_t *y)
{
    const ooc_blobs_params *p = &b->p;
    size_t d = (size_t)p->features, row_bytes = d * ooc_dtype_size(p->dtype);
    /* A row's 1 + d words and at least one spare, for the rare draw that takes more than one. */
    const unsigned most = BATCH_WORDS / 2 - OOC__PHILOX_SLACK;
    unsigned calls = (d + 3) / 2 < most ? (unsigned)((d + 3) / 2) : most;
    size_t batch = most / calls;
    uint64_t words[BATCH_WORDS];
    for (size_t i0 = 0; i0 < n; i0 += batch) {
        size_t m = n - i0 < batch ? n - i0 : batch;
        ooc__philox(ooc__rng_ctr(STREAM_ROWS, row0 + i0), ooc__rng_key(p->seed), m, calls, words);
        for (size_t i = i0; i < i0 + m; i++) {
            int32_t label = blobs_row(b, row0 + i, words + 2 * calls * (i - i0), calls, (char *)x + i * row_bytes);
            if (y)
                y[i] = label;
        }
    }
}
