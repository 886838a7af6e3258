/* ooc_clock.h: elapsed time, for phases' seconds and progress rates. */
#ifndef OOC_CLOCK_H
#define OOC_CLOCK_H

#ifdef __cplusplus
extern "C" {
#endif

/* ooc_clock_seconds(): a monotonic clock in seconds (only differences mean anything). */
double ooc_clock_seconds(void);

#ifdef __cplusplus
}
#endif

#endif
