#include "ooc_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

/* A message longer than the room for it (long paths) keeps its start and its end, "WHAT: WHY" with the
 * middle of WHAT elided, cut between UTF-8 characters, rather than losing WHY. */
static void fit_message(char *dst, size_t room, const char *msg, size_t len)
{
    static const char gap[] = "...";
    size_t head = (room - sizeof gap) / 2, tail = room - sizeof gap - head;
    while (head > 0 && ((unsigned char)msg[head] & 0xC0) == 0x80) /* msg[head] continues a character */
        head--;
    size_t from = len - tail;
    while (from < len && ((unsigned char)msg[from] & 0xC0) == 0x80)
        from++;
    memcpy(dst, msg, head);
    memcpy(dst + head, gap, sizeof gap - 1);
    memcpy(dst + head + sizeof gap - 1, msg + from, len - from + 1);
}

int ooc_error_set(ooc_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    char *whole = n >= (int)sizeof err->msg ? malloc((size_t)n + 1) : NULL;
    if (whole && vsnprintf(whole, (size_t)n + 1, fmt, again) == n)
        fit_message(err->msg, sizeof err->msg, whole, (size_t)n);
    free(whole); /* without it, the message stays cut at the end */
    va_end(again);
    va_end(ap);
    err->code = code;
    return code;
}

void ooc_error_copy(ooc_error *dst, const ooc_error *src)
{
    if (dst && src)
        *dst = *src;
}
