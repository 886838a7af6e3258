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

void ooc_random_uniforms(uint64_t seed, uint32_t stream, uint64_t index0, uint64_t n, double *out)
{
    enum { BLOCK = 512 };
    uint64_t word[2 * (BLOCK + OOC__PHILOX_SLACK)]; /* one call a stream: its first two words */
    for (uint64_t i0 = 0; i0 < n; i0 += BLOCK) {
        uint64_t m = n - i0 < BLOCK ? n - i0 : BLOCK;
        ooc__philox(ooc__rng_ctr(stream, index0 + i0), ooc__rng_key(seed), (size_t)m, 1, word);
        for (uint64_t i = 0; i < m; i++)
            out[i0 + i] = ooc__u01(word[2 * i]);
    }
}

uint64_t ooc_random_below(uint64_t seed, uint32_t stream, uint64_t index, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)ooc_random_u64(seed, stream, index) * n) >> 64);
}
