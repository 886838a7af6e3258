#include "ooc_cancel.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>

/* Lock-free, so safe both in a signal handler and across the threads that poll it. */
static atomic_int requested;

void ooc_cancel_request(int signo)
{
    int none = 0;
    atomic_compare_exchange_strong(&requested, &none, signo ? signo : SIGINT);
}

void ooc_cancel_clear(void)
{
    atomic_store(&requested, 0);
}

int ooc_cancel_requested(void)
{
    return atomic_load_explicit(&requested, memory_order_relaxed);
}

const char *ooc_signal_name(int signo)
{
    return signo == SIGINT ? "SIGINT" : signo == SIGTERM ? "SIGTERM" : signo == SIGHUP ? "SIGHUP" : "a signal";
}

#define INTERRUPTED "interrupted: signal %d"

int ooc_cancel_check(ooc_error *err)
{
    int signo = ooc_cancel_requested();
    return signo ? ooc_error_set(err, OOC_EINTERRUPTED, INTERRUPTED " (%s)", signo, ooc_signal_name(signo)) : 0;
}

int ooc_cancel_signal_of(const ooc_error *err)
{
    int signo = 0;
    if (err && err->code == OOC_EINTERRUPTED && sscanf(err->msg, INTERRUPTED, &signo) == 1 && signo > 0 && signo < 65)
        return signo;
    return 0;
}
