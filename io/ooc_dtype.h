/* ooc_dtype.h: the element types ooc computes in and stores. */
#ifndef OOC_DTYPE_H
#define OOC_DTYPE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ooc_dtype {
    OOC_FLOAT64 = 0,
    OOC_FLOAT32 = 1,
    OOC_INT32 = 2, /* labels */
    OOC_INT64 = 3  /* cluster sizes */
} ooc_dtype;

/* ooc_dtype_valid(): 1 for the four types above, else 0 (functions taking an ooc_dtype refuse others). */
int ooc_dtype_valid(ooc_dtype t);

/* ooc_dtype_size(): bytes per element. */
size_t ooc_dtype_size(ooc_dtype t);

/* ooc_dtype_name(): "float64", "float32", "int32", "int64". */
const char *ooc_dtype_name(ooc_dtype t);

/* ooc_dtype_parse(): "float64" or "float32" (the data types a user may ask for); 0 or OOC_EINVAL. */
int ooc_dtype_parse(const char *s, ooc_dtype *out);

#ifdef __cplusplus
}
#endif

#endif
