/* ooc_cancel.h: stopping a run cleanly. A tool's SIGINT/SIGTERM handler calls ooc_cancel_request(); every
 * pass checks ooc_cancel_requested() between chunks and fails with OOC_EINTERRUPTED, so outputs are
 * aborted and nothing partial is left behind. */
#ifndef OOC_CANCEL_H
#define OOC_CANCEL_H

#include "ooc_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ooc_cancel_request(): async-signal-safe; signo is remembered (the first one wins). */
void ooc_cancel_request(int signo);

/* ooc_cancel_clear(): forget a request, for a program that stopped one run and starts another (a request is
 * process-wide: it stops every run under way). */
void ooc_cancel_clear(void);

/* ooc_cancel_requested(): 0, or the signal number passed to ooc_cancel_request(). */
int ooc_cancel_requested(void);

/* ooc_signal_name(): "SIGINT", "SIGTERM", "SIGHUP", or "a signal" for any other. */
const char *ooc_signal_name(int signo);

/* ooc_cancel_check(): 0, or OOC_EINTERRUPTED ("interrupted: signal 2 (SIGINT)") once a cancel was requested. Also
 * called just before outputs are renamed into place: a signal that came after the last pass still leaves
 * the destinations as they were. */
int ooc_cancel_check(ooc_error *err);

/* ooc_cancel_signal_of(): the signal an OOC_EINTERRUPTED error of ooc_cancel_check() names (another
 * process's, under MPI), else 0. */
int ooc_cancel_signal_of(const ooc_error *err);

#ifdef __cplusplus
}
#endif

#endif
