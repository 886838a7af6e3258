/* ooc_random.h: counter-based random numbers: a value is a pure function of (seed, stream, index), so
 * what a row draws does not depend on chunking, threads or processes. Random123's Philox4x32-10. */
#ifndef OOC_RANDOM_H
#define OOC_RANDOM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ooc_random_u64(): 64 random bits for (seed, stream, index). */
uint64_t ooc_random_u64(uint64_t seed, uint32_t stream, uint64_t index);

/* ooc_random_uniform(): a double in [0, 1) (53 random bits) for (seed, stream, index). */
double ooc_random_uniform(uint64_t seed, uint32_t stream, uint64_t index);

/* ooc_random_uniforms(): out[i] = ooc_random_uniform(seed, stream, index0 + i) for i in [0, n), computed
 * many at a time (SIMD): for draws over every row. */
void ooc_random_uniforms(uint64_t seed, uint32_t stream, uint64_t index0, uint64_t n, double *out);

/* ooc_random_below(): an integer in [0, n) for (seed, stream, index) (n >= 1; bias below n / 2^64). */
uint64_t ooc_random_below(uint64_t seed, uint32_t stream, uint64_t index, uint64_t n);

#ifdef __cplusplus
}
#endif

#endif
