#define _GNU_SOURCE /* PTHREAD_MUTEX_RECURSIVE */
#include "ooc_h5_internal.h"

#include "ooc_h5zstd_internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t h5_mutex;
static pthread_once_t h5_once = PTHREAD_ONCE_INIT;

static void h5_init(void)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&h5_mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    H5open();
    /* The library never prints: HDF5's own error stack goes into our messages instead. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    H5Zregister(&ooc__h5z_zstd_class);
}

void ooc__h5_lock(void)
{
    pthread_once(&h5_once, h5_init);
    pthread_mutex_lock(&h5_mutex);
}

void ooc__h5_unlock(void)
{
    pthread_mutex_unlock(&h5_mutex);
}

typedef struct stack_scan {
    char innermost[160];
    int full_disk;
} stack_scan;

static herr_t scan_entry(unsigned n, const H5E_error2_t *e, void *data)
{
    stack_scan *s = data;
    if (n == 0 && e->desc)
        snprintf(s->innermost, sizeof s->innermost, "%s", e->desc);
    /* The sec2 driver reports the system error as "errno = 28, error message = 'No space left ...'". */
    if (e->desc && (strstr(e->desc, "No space left") || strstr(e->desc, "File too large") ||
                    strstr(e->desc, "Disk quota exceeded")))
        s->full_disk = 1;
    return 0;
}

int ooc__h5_fail(ooc_error *err, int code, const char *fmt, ...)
{
    stack_scan s = {"", 0};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, scan_entry, &s);
    H5Eclear2(H5E_DEFAULT);
    if (!err)
        return s.full_disk ? OOC_ENOSPACE : code;
    char what[OOC_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (s.full_disk)
        return ooc_error_set(err, OOC_ENOSPACE, "%s: %s", what, ooc_strerror(OOC_ENOSPACE));
    if (s.innermost[0])
        return ooc_error_set(err, code, "%s: %s", what, s.innermost);
    return ooc_error_set(err, code, "%s: %s", what, ooc_strerror(code));
}

hid_t ooc__h5_mem_type(ooc_dtype t)
{
    switch (t) {
    case OOC_FLOAT64: return H5T_NATIVE_DOUBLE;
    case OOC_FLOAT32: return H5T_NATIVE_FLOAT;
    case OOC_INT32: return H5T_NATIVE_INT32;
    case OOC_INT64: return H5T_NATIVE_INT64;
    }
    return H5T_NATIVE_DOUBLE;
}
