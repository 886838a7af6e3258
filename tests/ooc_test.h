/* ooc_test.h: the harness behind every C test. A test file defines `static void test_NAME(void)` functions
 * and lists them in `OOC_TEST_MAIN(test_a, test_b, ...)`. Assertions print both sides with file:line and
 * count failures; the program prints "N passed, N failed" and exits non-zero on any failure. */
#ifndef OOC_TEST_H
#define OOC_TEST_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ooc_test_failures;

#define OOC__FAIL(...)                                                                                     \
    do {                                                                                                   \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                                    \
        fprintf(stderr, __VA_ARGS__);                                                                      \
        fputc('\n', stderr);                                                                               \
        ooc_test_failures++;                                                                               \
    } while (0)

#define ASSERT(cond)                                                                                       \
    do {                                                                                                   \
        if (!(cond))                                                                                       \
            OOC__FAIL("assertion failed: %s", #cond);                                                      \
    } while (0)

#define ASSERT_INT_EQ(a, b)                                                                                \
    do {                                                                                                   \
        long long a_ = (long long)(a), b_ = (long long)(b);                                                \
        if (a_ != b_)                                                                                      \
            OOC__FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);                                           \
    } while (0)

#define ASSERT_OK(call)                                                                                    \
    do {                                                                                                   \
        int rc_ = (call);                                                                                  \
        if (rc_ != 0)                                                                                      \
            OOC__FAIL("%s returned %d", #call, rc_);                                                       \
    } while (0)

/* |a - b| <= tol */
#define ASSERT_NEAR(a, b, tol)                                                                             \
    do {                                                                                                   \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);                                     \
        if (!(fabs(a_ - b_) <= t_))                                                                        \
            OOC__FAIL("%s ~ %s: %.17g vs %.17g (|diff| %.3g > %.3g)", #a, #b, a_, b_, fabs(a_ - b_), t_);  \
    } while (0)

#define ASSERT_STR_CONTAINS(hay, needle)                                                                   \
    do {                                                                                                   \
        const char *h_ = (hay), *n_ = (needle);                                                            \
        if (!h_ || !strstr(h_, n_))                                                                        \
            OOC__FAIL("%s contains %s: \"%s\" lacks \"%s\"", #hay, #needle, h_ ? h_ : "(null)", n_);      \
    } while (0)

#define ASSERT_MEM_EQ(a, b, n)                                                                             \
    do {                                                                                                   \
        if (memcmp((a), (b), (n)) != 0)                                                                    \
            OOC__FAIL("%s and %s differ in their first %zu bytes", #a, #b, (size_t)(n));                   \
    } while (0)

typedef void (*ooc_test_fn)(void);

static inline int ooc_test_run(const char *const *names, const ooc_test_fn *fns, int n)
{
    int passed = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        int before = ooc_test_failures;
        fns[i]();
        if (ooc_test_failures == before) {
            passed++;
            printf("ok   %s\n", names[i]);
        } else {
            failed++;
            printf("FAIL %s\n", names[i]);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#define OOC__STR(...) #__VA_ARGS__
#define OOC_TEST_MAIN(...)                                                                                 \
    int main(void)                                                                                         \
    {                                                                                                      \
        static const ooc_test_fn fns_[] = {__VA_ARGS__};                                                   \
        static char names_buf_[] = OOC__STR(__VA_ARGS__);                                                  \
        const char *names_[sizeof fns_ / sizeof fns_[0]];                                                  \
        int n_ = 0;                                                                                        \
        for (char *tok = strtok(names_buf_, ", "); tok && n_ < (int)(sizeof fns_ / sizeof fns_[0]);        \
             tok = strtok(NULL, ", "))                                                                     \
            names_[n_++] = tok;                                                                            \
        return ooc_test_run(names_, fns_, n_);                                                             \
    }

#endif
