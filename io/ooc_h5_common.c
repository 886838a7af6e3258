#define _GNU_SOURCE /* PTHREAD_MUTEX_RECURSIVE */
#include "ooc_h5.h"
#include "ooc_h5_internal.h"

#include "ooc_h5zstd_internal.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t h5_mutex;
static pthread_once_t h5_once = PTHREAD_ONCE_INIT;
/* For ooc_h5_crash_file(): how deep the calling thread is in ooc__h5_lock() (in HDF5 when above 0), and the
 * file HDF5 was last asked to read. */
static _Thread_local volatile sig_atomic_t depth;
static char last_read[PATH_MAX];
/* Locks held, over all threads (ooc_h5_busy()). */
static atomic_int held;
/* The calling thread's HDF5 error printing, put back when it leaves its outermost lock. */
static _Thread_local H5E_auto2_t caller_print;
static _Thread_local void *caller_print_data;
/* A file HDF5 failed to close (a full disk): HDF5 still holds it, and closing it again crashes. */
static atomic_int close_failed;

/* HDF5's own exit handler closes the files still open (a program's that uses ooc may count on it to flush
 * its own) but crashes in H5F__close_cb on one whose close failed before. This one does the same unless such
 * a file is left, or another thread is inside HDF5 (exit() from a thread libgomp could not start, say), or
 * no object is open: then there is nothing to flush, and H5close() would only meet what HDF5 could not free
 * after refusing a damaged file, printing "HDF5: infinite loop closing library" and a line of object types. */
static void h5_exit(void)
{
    if (atomic_load(&close_failed) || depth > 0 || pthread_mutex_trylock(&h5_mutex) != 0)
        return;
    if (atomic_load(&held) == 0 && H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) > 0)
        H5close(); /* the lock stays held: no thread enters HDF5 after it */
    else
        pthread_mutex_unlock(&h5_mutex);
}

static void h5_init(void)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&h5_mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    /* When ooc is first to start HDF5, its exit handler is h5_exit() instead of HDF5's own. */
    if (H5dont_atexit() >= 0)
        atexit(h5_exit);
    H5open();
    H5Zregister(&ooc__h5z_zstd_class);
}

void ooc__h5_lock(void)
{
    pthread_once(&h5_once, h5_init);
    pthread_mutex_lock(&h5_mutex);
    if (depth++ == 0) {
        /* The library never prints: HDF5's own error stack goes into our messages instead. A thread-safe
         * HDF5 keeps this setting per thread; the caller's comes back with the outermost unlock. */
        H5Eget_auto2(H5E_DEFAULT, &caller_print, &caller_print_data);
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    }
    atomic_fetch_add(&held, 1);
}

void ooc__h5_unlock(void)
{
    if (depth == 1)
        H5Eset_auto2(H5E_DEFAULT, caller_print, caller_print_data);
    depth--;
    atomic_fetch_sub(&held, 1);
    pthread_mutex_unlock(&h5_mutex);
}

void ooc__h5_close_failed(void)
{
    atomic_store(&close_failed, 1);
}

void ooc__h5_reading(const char *path)
{
    snprintf(last_read, sizeof last_read, "%s", path);
}

int ooc_h5_busy(void)
{
    return atomic_load(&held) > 0;
}

const char *ooc_h5_crash_file(void)
{
    return depth > 0 ? last_read : NULL;
}

typedef struct stack_scan {
    char innermost[160];
    const char *full; /* the system's reason when the disk or a size limit is full */
} stack_scan;

static herr_t scan_entry(unsigned n, const H5E_error2_t *e, void *data)
{
    static const char *const full_reasons[] = {"No space left on device", "File too large", "Disk quota exceeded"};
    stack_scan *s = data;
    if (n == 0 && e->desc)
        snprintf(s->innermost, sizeof s->innermost, "%s", e->desc);
    /* The sec2 driver reports the system error as "errno = 28, error message = 'No space left ...'". */
    for (size_t i = 0; e->desc && i < sizeof full_reasons / sizeof *full_reasons; i++)
        if (strstr(e->desc, full_reasons[i]))
            s->full = full_reasons[i];
    return 0;
}

int ooc__h5_fail(ooc_error *err, int code, const char *fmt, ...)
{
    stack_scan s = {"", NULL};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, scan_entry, &s);
    H5Eclear2(H5E_DEFAULT);
    if (s.full)
        code = OOC_ENOSPACE;
    if (!err)
        return code;
    char what[OOC_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *why = s.full ? s.full : s.innermost[0] ? s.innermost : ooc_strerror(code);
    return ooc_error_set(err, code, "%s: %s", what, why);
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
