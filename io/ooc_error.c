#include "ooc_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *ooc_strerror(int code)
{
    switch (code) {
#define OOC__ERRNO_CASE(name, value, msg)                                                                  \
    case value:                                                                                            \
        return msg;
        OOC_ERRNO_MAP(OOC__ERRNO_CASE)
#undef OOC__ERRNO_CASE
    }
    return "unknown error";
}

void ooc_error_clear(ooc_error *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

int ooc_error_set(ooc_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void ooc_error_copy(ooc_error *dst, const ooc_error *src)
{
    if (dst && src && src->code != 0 && dst->code == 0)
        *dst = *src;
}
