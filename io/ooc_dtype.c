#include "ooc_dtype.h"

#include "ooc_error.h"

#include <string.h>

int ooc_dtype_valid(ooc_dtype t)
{
    return t == OOC_FLOAT64 || t == OOC_FLOAT32 || t == OOC_INT32 || t == OOC_INT64;
}

size_t ooc_dtype_size(ooc_dtype t)
{
    return (t == OOC_FLOAT32 || t == OOC_INT32) ? 4 : 8;
}

const char *ooc_dtype_name(ooc_dtype t)
{
    switch (t) {
    case OOC_FLOAT64: return "float64";
    case OOC_FLOAT32: return "float32";
    case OOC_INT32: return "int32";
    case OOC_INT64: return "int64";
    }
    return "?";
}

int ooc_dtype_parse(const char *s, ooc_dtype *out)
{
    if (strcmp(s, "float64") == 0)
        *out = OOC_FLOAT64;
    else if (strcmp(s, "float32") == 0)
        *out = OOC_FLOAT32;
    else
        return OOC_EINVAL;
    return 0;
}
