#include "ooc_random.h"

#include "ooc_normal_internal.h"

uint64_t ooc_random_u64(uint64_t seed, uint32_t stream, uint64_t index)
{
    ooc__rng g;
    ooc__rng_init(&g, seed, stream, index, 1);
    return ooc__rng_next(&g);
}

double ooc_random_uniform(uint64_t seed, uint32_t stream, uint64_t index)
{
    return ooc__u01(ooc_random_u64(seed, stream, index));
}

uint64_t ooc_random_below(uint64_t seed, uint32_t stream, uint64_t index, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)ooc_random_u64(seed, stream, index) * n) >> 64);
}
