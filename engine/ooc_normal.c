#define _POSIX_C_SOURCE 200809L /* pthread_once under -std=c11 */

#include "ooc_normal_internal.h"

#include <math.h>
#include <pthread.h>

static ooc__zig zig;
static pthread_once_t zig_once = PTHREAD_ONCE_INIT;

static double gauss(double x)
{
    return exp(-0.5 * x * x);
}

/* Build the layers up from x[1] = r, each of area v(r) = r f(r) + tail(r). Returns 1 when 255 layers stay
 * below f = 1 (r too large: the top layer, up to f = 1, is bigger than v), 0 when they reach f = 1 early or
 * exactly (r too small or right). */
static int build(double r)
{
    const double sqrt_half_pi = 1.25331413731550025121, sqrt_half = 0.70710678118654752440;
    double v = r * gauss(r) + sqrt_half_pi * erfc(r * sqrt_half);
    zig.r = r;
    zig.v = v;
    zig.x[0] = v / gauss(r);
    zig.x[1] = r;
    for (int i = 1; i < OOC__ZIG_LAYERS; i++) {
        double top = v / zig.x[i] + gauss(zig.x[i]); /* f at the top edge of layer i */
        if (top >= 1)
            return 0;
        zig.x[i + 1] = i + 1 < OOC__ZIG_LAYERS ? sqrt(-2 * log(top)) : 0;
    }
    return 1;
}

/* r is fixed by asking the top layer to end exactly at f = 1: bisect until lo and hi are adjacent doubles,
 * then keep hi, whose top layer exceeds v by under 1e-12 of v (the recursion amplifies rounding), an error
 * in the density far below what any sample could show. The test checks r and v against a 40-digit
 * computation. */
static void zig_init(void)
{
    double lo = 3, hi = 4; /* build(3) = 0, build(4) = 1 */
    for (;;) {
        double mid = lo + (hi - lo) / 2;
        if (mid <= lo || mid >= hi)
            break;
        if (build(mid))
            hi = mid;
        else
            lo = mid;
    }
    build(hi);
    for (int i = 0; i <= OOC__ZIG_LAYERS; i++)
        zig.f[i] = gauss(zig.x[i]);
}

const ooc__zig *ooc__zig_tables(void)
{
    pthread_once(&zig_once, zig_init);
    return &zig;
}

void ooc__rng_refill(ooc__rng *g)
{
    uint64_t calls = g->want / 2 + 1; /* the words wanted, rounded up, or one call when none are */
    unsigned n = calls < OOC__RNG_CALLS ? (unsigned)calls : OOC__RNG_CALLS;
    philox4x32_ctr_t ctr = g->ctr;
    philox4x32_key_t key = g->key;
    uint64_t *word = g->word;
    for (unsigned c = 0; c < n; c++) {
        philox4x32_ctr_t r = philox4x32_R(10, ctr, key);
        ctr.v[3]++;
        word[2 * c] = r.v[0] | (uint64_t)r.v[1] << 32;
        word[2 * c + 1] = r.v[2] | (uint64_t)r.v[3] << 32;
    }
    g->ctr.v[3] += n;
    g->want -= g->want < 2 * n ? g->want : 2 * n;
    g->pos = 0;
    g->len = 2 * n;
}

/* Marsaglia (1964): for X = -ln(U1)/r, Y = -ln(U2), accept r + X when 2Y > X². U in (0, 1]. */
static double tail(double r, ooc__rng *g)
{
    for (;;) {
        double x = -log(1 - ooc__u01(ooc__rng_next(g))) / r;
        double y = -log(1 - ooc__u01(ooc__rng_next(g)));
        if (y + y > x * x)
            return r + x;
    }
}

/* The first pass repeats the fast test on w; the later ones are fresh draws after a wedge rejection. */
double ooc__normal_slow(const ooc__zig *z, ooc__rng *g, uint64_t w)
{
    for (;;) {
        unsigned i = (unsigned)(w & 0xff);
        double x = ooc__u11(w) * z->x[i];
        if (fabs(x) < z->x[i + 1])
            return x;
        if (i == 0)
            return x < 0 ? -tail(z->r, g) : tail(z->r, g);
        /* A point uniform in the part of layer i outside the inner rectangle: under the curve or not. */
        if (z->f[i] + ooc__u01(ooc__rng_next(g)) * (z->f[i + 1] - z->f[i]) < gauss(x))
            return x;
        w = ooc__rng_next(g);
    }
}
