/* Settling the fast variants' ranking with the reference's own distance.
 *
 * Why the bound holds. Score s_j = fl(‖c_j‖² − 2·x·c_j) in precision u (2^-53 or 2^-24). Any summation
 * order of a length-d dot product errs by at most γ_d Σ|x_t c_t| ≤ γ_d ‖x‖‖c_j‖ (γ_m = m·u/(1 − m·u)), and
 * c_norm2 is within γ_(d+1) of ‖c_j‖², so |s_j − (D_j − ‖x‖²)| ≤ e_s = γ_(d+2) (‖x‖² + 2 cmax). D itself
 * (a sum of d non-negative rounded squares in double) errs by e_D ≤ γ_(d+3) D_j ≤ γ_(d+3) 2 (‖x‖² + cmax).
 * The reference's winner j* has D(j*) ≤ D(b) for the score's winner b, so s_j* − s_b ≤ 2 (e_s + e_D).
 * With ‖x‖² ≤ 2 (D_b + cmax), that is below 12 γ_(d+3) (D_b + 2 cmax); we allow 16 (d + 4) u (D_b + 2 cmax).
 * Every centre within it of the best score gets D computed, so the exact winner is always among them. For
 * data near the origin relative to its spread the margin is a tiny fraction of the gap between clusters and
 * only rows on a boundary pay; far from the origin (‖x‖² ≫ D) more centres fall within it, which costs
 * time and never changes a label.
 *
 * Speed. A row costs two branch-free passes over its k scores in 16-byte vectors (GNU C vector extensions:
 * SSE2 on any x86-64): the lowest score and where it is, per lane, then how many scores are within the
 * margin, each folded across lanes by halves; only rows where that count exceeds one take the scalar path.
 * Which of several equal lowest scores is taken does not matter: they are all within the margin, and D
 * settles them.
 *
 * Float64 data ranked in float32 (ooc__assign_gemm_f64s()): the scores come from x' = fl32(x), c' = fl32(c)
 * and fl32(‖c‖²). With every nonzero |x_t|, |c_t| in [2^-50, 2^50] (rows outside go to the reference, the
 * centres to float64 GEMM), each conversion is within u = 2^-24 relative, every product x'_t c'_t is a
 * normal float (and a sum that underflows is exact), so |x'·c' − x·c| <= (2u + u²) Σ|x_t c_t| on top of
 * the dot product's γ_d Σ|x'_t c'_t|, and the norm is off by u cmax: in all e_s <= γ_(d+4) (‖x‖² + 2 cmax)
 * with u = 2^-24, while e_D (in double) is negligible beside it. Then 2 (e_s + e_D) <= 4 γ_(d+5)
 * (D_b + 2 cmax), well within the same allowance 16 (d + 4) u: the argument above holds as it is.
 *
 * Underflow. The bounds above are relative; a product below T's smallest normal (float32 data near 1e-22,
 * whose squared distances are subnormal floats) is off by up to half T's smallest subnormal instead. A
 * score has 2d + 1 such products at most, so 2 e_s gains at most (2d + 1) TINY and e_D (in double) at most
 * d DBL_TRUE_MIN: the allowance gains 16 (d + 4) TINY, which for data of ordinary size changes no bit of the
 * limit. Where scores are that small every centre falls within it and D, in double, settles them all.
 * (Float64 data near 1e-161 has D itself subnormal: then D cannot tell the centres apart either.)
 *
 * The second nearest (when asked). Let M = limit − s_b, the allowance above. By the same bounds, for any
 * centre j, D_j* − D_b* >= s_j − s_b − 2 e_s (D* exact), and D_b* >= D_b − e_D, so D_j* >= D_b + s_j − limit
 * since M >= 2 e_s + e_D with room. For a centre outside the margin (s_j > limit) that is positive, and D_j
 * (rounded) >= D_j* (1 − γ_(d+3)); the two additions and the product by 1 − ooc__sqdist_margin(d) that
 * compute it keep it below. Centres within the margin have their D computed anyway. So second = the lower
 * of the exact D of the settled centres other than the label and of that bound for the lowest score
 * outside the margin: on the common path (only b within) the second lowest score, which pass one tracks
 * per lane beside the lowest. */
#include "ooc_assign_internal.h"

#include <float.h>
#include <math.h>

/* Rows a batch of the settling takes a step at a time (see OOC__ASSIGN_SETTLE). */
enum { SETTLE_BATCH = 8 };

#define OOC__ASSIGN_SETTLE(NAME, XSUF, XT, T, I, UNIT, TINY, BIG, ROUND_UP, VB, ATTR)                     \
    ATTR static void NAME(const XT *x, size_t n, size_t d, const XT *c, size_t k, const T *cnp, size_t kp, \
                          double cmax, const T *dot, size_t ld, int32_t *labels, double *dist, double *second) \
    {                                                                                                      \
        typedef T vec __attribute__((vector_size(VB), aligned(16), may_alias));                            \
        typedef I ivec __attribute__((vector_size(VB), aligned(16), may_alias));                           \
        enum { L = (VB) / sizeof(T) };                                                                     \
        const double rel = 16.0 * (double)(d + 4) * (UNIT), keep = 1 - ooc__sqdist_margin(d);              \
        const double floor = 16.0 * (double)(d + 4) * (TINY); /* products that underflow: see above */     \
        ivec lane;                                                                                         \
        for (int u = 0; u < L; u++)                                                                        \
            lane[u] = u;                                                                                   \
        /* Rows a batch at a time, each step for all of them before the next: a row's steps depend on one  \
         * another (its best score, then D to that centre, then the margin), and rows interleaved keep the \
         * CPU busy while each waits (a third off the kernel's time at d = 20, k = 8-64, bench_assign). */  \
        vec best[SETTLE_BATCH], next[SETTLE_BATCH];                                                        \
        T sb[SETTLE_BATCH];                                                                                \
        I bi[SETTLE_BATCH];                                                                                \
        double d_b[SETTLE_BATCH];                                                                          \
        for (size_t i0 = 0; i0 < n; i0 += SETTLE_BATCH) {                                                  \
            const size_t nb = n - i0 < SETTLE_BATCH ? n - i0 : SETTLE_BATCH;                               \
            for (size_t r = 0; r < nb; r++) {                                                              \
                const T *g = dot + (i0 + r) * ld;                                                          \
                vec bst = *(const vec *)cnp - 2 * *(const vec *)g, nxt = (vec){0} + (T)INFINITY;           \
                ivec where = lane;                                                                         \
                for (size_t j = L; j < kp; j += L) { /* per lane: the lowest score, first where equal */   \
                    vec s = *(const vec *)(cnp + j) - 2 * *(const vec *)(g + j);                           \
                    ivec m = s < bst;                                                                      \
                    if (second) { /* and the second lowest: the lower of it and the larger of bst and s */ \
                        vec hi = (vec)(((ivec)bst & m) | ((ivec)s & ~m));                                  \
                        ivec h = hi < nxt;                                                                 \
                        nxt = (vec)(((ivec)hi & h) | ((ivec)nxt & ~h));                                    \
                    }                                                                                      \
                    bst = (vec)(((ivec)bst & ~m) | ((ivec)s & m));                                         \
                    where = (where & ~m) | ((lane + (I)j) & m);                                            \
                }                                                                                          \
                /* Across lanes, in blocks of 2, 4, ... lanes: the lowest score, the lowest lane where     \
                 * equal (from the block above when the lane is in the upper half of its new block). Any   \
                 * lowest score would do for the label (D settles equal ones); the lane keeps second's     \
                 * bound as it was. */                                                                     \
                vec low = bst;                                                                             \
                ivec at = where;                                                                           \
                for (int h = 1; h < L; h *= 2) {                                                           \
                    ivec swap = lane ^ (I)h;                                                               \
                    vec ol = __builtin_shuffle(low, swap);                                                 \
                    ivec oa = __builtin_shuffle(at, swap);                                                 \
                    ivec m = (ol < low) | ((ol == low) & ((lane & (I)h) != 0));                            \
                    low = (vec)(((ivec)low & ~m) | ((ivec)ol & m));                                        \
                    at = (at & ~m) | (oa & m);                                                             \
                }                                                                                          \
                best[r] = bst;                                                                             \
                next[r] = nxt;                                                                             \
                sb[r] = low[0];                                                                            \
                bi[r] = (size_t)at[0] < k ? at[0] : 0; /* every score NaN: data outside the contract */    \
            }                                                                                              \
            for (size_t r = 0; r < nb; r++)                                                                \
                d_b[r] = ooc__sqdist_##XSUF(x + (i0 + r) * d, c + (size_t)bi[r] * d, d);                   \
            for (size_t r = 0; r < nb; r++) {                                                              \
                const size_t i = i0 + r, b = (size_t)bi[r];                                                \
                const XT *xi = x + i * d;                                                                  \
                const T *g = dot + i * ld;                                                                 \
                const int ub = (int)(b & (L - 1)); /* its lane: where[u] is u mod L */                     \
                const double limit = (double)sb[r] + rel * (d_b[r] + 2 * cmax) + floor;                    \
                const T lim = ROUND_UP(limit); /* a T >= limit: (double)s <= limit implies s <= lim */     \
                /* Every score and dot product is at most (‖x‖ + 2 max‖c‖)² <= 2 D_b + 8 cmax in magnitude; \
                 * beyond a quarter of T's range (float32 data past about 1e19) one may have overflowed,   \
                 * and the ranking means nothing: D settles every centre, as the reference does. */        \
                const int all = !(2 * d_b[r] + 8 * cmax <= BIG / 4);                                       \
                ivec within = {0};                                                                         \
                for (size_t j = 0; j < kp; j += L)                                                         \
                    within -= (*(const vec *)(cnp + j) - 2 * *(const vec *)(g + j)) <= lim;                \
                for (int h = 1; h < L; h *= 2)                                                             \
                    within += __builtin_shuffle(within, lane ^ (I)h);                                      \
                const I count = within[0];                                                                 \
                size_t label = b;                                                                          \
                double db = d_b[r], d2 = INFINITY; /* d2: the second lowest D computed */                  \
                T out = (T)INFINITY;               /* the lowest score outside the margin */               \
                if (count > 1 || all) {                                                                    \
                    for (size_t j = 0; j < k; j++) {                                                       \
                        T s = cnp[j] - 2 * g[j];                                                           \
                        if (j == b || (!all && !(s <= lim))) {                                             \
                            out = j != b && s < out ? s : out;                                             \
                            continue;                                                                      \
                        }                                                                                  \
                        double dj = ooc__sqdist_##XSUF(xi, c + j * d, d);                                  \
                        if (dj < db || (dj == db && j < label)) {                                          \
                            d2 = db;                                                                       \
                            db = dj;                                                                       \
                            label = j;                                                                     \
                        } else if (dj < d2) {                                                              \
                            d2 = dj;                                                                       \
                        }                                                                                  \
                    }                                                                                      \
                }                                                                                          \
                labels[i] = (int32_t)label;                                                                \
                dist[i] = db;                                                                              \
                if (second && all) {                                                                       \
                    second[i] = d2;                                                                        \
                } else if (second) {                                                                       \
                    if (count <= 1) /* all but b are outside: the second lowest score */                   \
                        for (int u = 0; u < L; u++)                                                        \
                            out = u == ub ? (next[r][u] < out ? next[r][u] : out)                          \
                                          : (best[r][u] < out ? best[r][u] : out);                         \
                    double bound = (((double)out - limit) + d_b[r]) * keep;                                \
                    second[i] = d2 < bound ? d2 : bound;                                                   \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
    }

/* The limit in the scores' type, never below it: exact in double; in float, limit·(1 ± 2u) rounded to
 * nearest is at least limit (for either sign), and FLT_TRUE_MIN covers subnormal spacing. */
#define OOC__ROUND_UP_F64(v) (v)
#define OOC__ROUND_UP_F32(v) ((float)((v) + FLT_EPSILON * fabs(v) + FLT_TRUE_MIN))

/* Whether vectors of `lanes` fit kp and ld exactly, four or more to a row: with fewer, a row's fixed work
 * (folding the lanes, even by halves) costs more than the wider passes save (bench_assign, --second, ns a
 * row: float64 k = 12, 32 in 32-byte vectors, 46 in two 64-byte ones; float32 k = 32, 41 and 58). */
static int wide_enough(size_t kp, size_t ld, size_t lanes)
{
    return kp % lanes == 0 && ld % lanes == 0 && kp >= 4 * lanes;
}

/* Three builds of the settling (16-, 32- and 64-byte vectors: SSE2, AVX2, AVX-512), the same answer from
 * each: labels and dist are exact whatever the ranking's lanes, and second is the second lowest score (or
 * an exact D), which does not depend on how the scores are split among lanes either. The widest one that
 * the CPU has and that is wide_enough() runs (bench_assign, float64, ns a row: d,k = 32,1000 2471 -> 1843;
 * 16,256 466 -> 317). */
#define OOC__SETTLE_DISPATCH(SUF, XSUF, XT, T, I, UNIT, TINY, BIG, ROUND_UP)                               \
    OOC__ASSIGN_SETTLE(settle_v16_##SUF, XSUF, XT, T, I, UNIT, TINY, BIG, ROUND_UP, 16, )                  \
    OOC__ASSIGN_SETTLE(settle_v32_##SUF, XSUF, XT, T, I, UNIT, TINY, BIG, ROUND_UP, 32, OOC__AVX2)         \
    OOC__ASSIGN_SETTLE(settle_v64_##SUF, XSUF, XT, T, I, UNIT, TINY, BIG, ROUND_UP, 64, OOC__AVX512)       \
                                                                                                           \
    void ooc__assign_settle_##SUF(const XT *x, size_t n, size_t d, const XT *c, size_t k, const T *cnp,    \
                                  size_t kp, double cmax, const T *dot, size_t ld, int32_t *labels,        \
                                  double *dist, double *second)                                            \
    {                                                                                                      \
        if (wide_enough(kp, ld, 64 / sizeof(T)) && ooc__assign_have_avx512())                              \
            settle_v64_##SUF(x, n, d, c, k, cnp, kp, cmax, dot, ld, labels, dist, second);                 \
        else if (wide_enough(kp, ld, 32 / sizeof(T)) && ooc__assign_have_avx2())                           \
            settle_v32_##SUF(x, n, d, c, k, cnp, kp, cmax, dot, ld, labels, dist, second);                 \
        else                                                                                               \
            settle_v16_##SUF(x, n, d, c, k, cnp, kp, cmax, dot, ld, labels, dist, second);                 \
    }

#define OOC__PAD_NORMS(SUF, T)                                                                             \
    double ooc__assign_pad_norms_##SUF(const T *cn, size_t k, size_t kp, T *cnp)                           \
    {                                                                                                      \
        double cmax = 0;                                                                                   \
        for (size_t j = 0; j < kp; j++) {                                                                  \
            cnp[j] = j < k ? cn[j] : (T)INFINITY;                                                          \
            if (j < k && (double)cn[j] > cmax)                                                             \
                cmax = (double)cn[j];                                                                      \
        }                                                                                                  \
        return cmax;                                                                                       \
    }

OOC__PAD_NORMS(f64, double)
OOC__PAD_NORMS(f32, float)
/* f64s: float64 rows and centres, ranked by float32 scores (ooc_assign_gemm.c), settled with D in double. */
OOC__SETTLE_DISPATCH(f64, f64, double, double, int64_t, DBL_EPSILON / 2, DBL_TRUE_MIN, DBL_MAX, OOC__ROUND_UP_F64)
OOC__SETTLE_DISPATCH(f32, f32, float, float, int32_t, FLT_EPSILON / 2, FLT_TRUE_MIN, FLT_MAX, OOC__ROUND_UP_F32)
OOC__SETTLE_DISPATCH(f64s, f64, double, float, int32_t, FLT_EPSILON / 2, FLT_TRUE_MIN, FLT_MAX, OOC__ROUND_UP_F32)
