/* Choosing an assignment variant by shape, and the scratch that serves them all. */
#include "ooc_assign_internal.h"

size_t ooc__assign_scratch_bytes(ooc_dtype t, size_t k, size_t d)
{
    size_t direct = ooc__assign_direct_scratch(t, k, d), gemm = ooc__assign_gemm_scratch(t, k, d);
    size_t bytes = direct > gemm ? direct : gemm;
    return (bytes + 63) / 64 * 64;
}

/* TODO crossover */
ooc__assign_fn ooc__assign_select(ooc_dtype t, size_t k, size_t d)
{
    int f32 = t == OOC_FLOAT32;
    if (k * d <= 4096)
        return f32 ? ooc__assign_direct_f32 : ooc__assign_direct_f64;
    return f32 ? ooc__assign_gemm_f32 : ooc__assign_gemm_f64;
}
