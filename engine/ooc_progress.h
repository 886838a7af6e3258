/* ooc_progress.h: how far a pass has gone, reported to a caller's callback (the tools draw a bar). */
#ifndef OOC_PROGRESS_H
#define OOC_PROGRESS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ooc_progress {
    const char *phase;     /* "generate", "init", "lloyd", "labels", ... */
    uint64_t chunks_done, chunks_total;
    uint64_t rows_done;
    uint64_t bytes_done;   /* raw (decompressed) bytes */
    double seconds;        /* since the pass started */
} ooc_progress;

/* Called from one thread at a time, after each chunk; must be quick (throttle drawing yourself). */
typedef void (*ooc_progress_fn)(const ooc_progress *p, void *user);

#ifdef __cplusplus
}
#endif

#endif
