#include "ooc_random.h"

#include "ooc_normal_internal.h"

/* The first word of stream (seed, stream, index), as ooc__rng gives it, from one call of Random123's
 * function: a refill would compute a whole SIMD batch of calls for the one word. */
uint64_t ooc_random_u64(uint64_t seed, uint32_t stream, uint64_t index)
{
    philox4x32_ctr_t ctr = {{(uint32_t)index, (uint32_t)(index >> 32), stream, 0}};
    philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr_t r = philox4x32_R(10, ctr, key);
    return r.v[0] | (uint64_t)r.v[1] << 32;
}

double ooc_random_uniform(uint64_t seed, uint32_t stream, uint64_t index)
{
    return ooc__u01(ooc_random_u64(seed, stream, index));
}

uint64_t ooc_random_below(uint64_t seed, uint32_t stream, uint64_t index, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)ooc_random_u64(seed, stream, index) * n) >> 64);
}
