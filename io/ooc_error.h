/* ooc_error.h: error codes and error context shared by every layer of ooc.
 *
 * Every fallible call returns int: 0 on success or a negative OOC_E* code. Calls that can say more take an
 * `ooc_error *err` (may be NULL) and fill it with the code and a one-line message "WHAT: WHY" naming the
 * file, dataset, chunk or row concerned; what it holds means something only after a failure. The tools
 * print it as "PROGRAM: error: WHAT: WHY".
 *
 * Conventions of every public header:
 * - Pointer arguments must not be NULL unless a function's comment says they may.
 * - A call that makes an object returns it through `out`, and sets *out to NULL when it fails.
 * - The library never prints, exits or aborts, except in a distributed run (ooc_dist.h), which ends every
 *   process when one cannot take part in a collective (no memory for it): the others would wait for ever.
 * - Calls on different objects may run on different threads at once; one object is used by one thread at
 *   a time. A cancel (ooc_cancel.h) is the process's, and so is the memory a default limit is half of.
 * - GNU OpenMP cannot start threads again in a child forked after it ran: a program that forks after
 *   calling ooc calls it again only in the parent, or execs in the child.
 */
#ifndef OOC_ERROR_H
#define OOC_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message): the one table behind the enum and ooc_strerror(). */
#define OOC_ERRNO_MAP(X)                                                                                   \
    X(OK, 0, "success")                                                                                    \
    X(INVAL, -1, "invalid argument")                                                                       \
    X(NOMEM, -2, "out of memory")                                                                          \
    X(IO, -3, "input/output error")                                                                        \
    X(NOSPACE, -4, "no space left on device")                                                                \
    X(EXIST, -5, "file exists (use --force to replace it)")                                                \
    X(NOTFOUND, -6, "not found")                                                                           \
    X(FORMAT, -7, "unsupported data layout or type")                                                       \
    X(CORRUPT, -8, "corrupt or truncated data")                                                            \
    X(NONFINITE, -9, "NaN or infinity in the data")                                                        \
    X(RANGE, -10, "value out of range")                                                                    \
    X(INTERRUPTED, -11, "interrupted")                                                                     \
    X(INTERNAL, -12, "internal error")

typedef enum ooc_errno {
#define OOC__ERRNO_ENUM(name, value, msg) OOC_E##name = value,
    OOC_ERRNO_MAP(OOC__ERRNO_ENUM)
#undef OOC__ERRNO_ENUM
} ooc_errno;

#define OOC_ERROR_MSG_MAX 512

typedef struct ooc_error {
    int code;                    /* 0 or a negative OOC_E* code */
    char msg[OOC_ERROR_MSG_MAX]; /* "WHAT: WHY", without a trailing newline; a longer one keeps its start
                                  * and its end, "..." between */
} ooc_error;

/* ooc_strerror(): the generic message for a code; never NULL. */
const char *ooc_strerror(int code);

/* ooc_error_clear(): reset to success (err may be NULL). */
void ooc_error_clear(ooc_error *err);

/* ooc_error_set(): record code and a printf-style "WHAT: WHY" message; returns code, so a failing call can
 * `return ooc_error_set(err, OOC_EIO, "%s: cannot open: %s", path, strerror(errno));`. err may be NULL. */
int ooc_error_set(ooc_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ooc_error_copy(): copy src into dst, replacing what dst held (dst may be NULL). */
void ooc_error_copy(ooc_error *dst, const ooc_error *src);

#ifdef __cplusplus
}
#endif

#endif
