/* Parsing of counts, sizes, reals and plain integers: accepted forms, refused forms, their error codes; sizes
 * formatted for messages. */
#include "ooc_error.h"
#include "ooc_test.h"
#include "ooc_units.h"

#include <stdint.h>
#include <string.h>

typedef int (*parse_u64_fn)(const char *, uint64_t *);

/* Each accepted string gives its value; each refused one its code and leaves *out alone. */
static void check_ok(parse_u64_fn f, const char *s, uint64_t want)
{
    uint64_t v = 12345;
    int rc = f(s, &v);
    if (rc != 0 || v != want)
        fprintf(stderr, "  input \"%s\"\n", s);
    ASSERT_OK(rc);
    ASSERT(v == want);
}

static void check_bad(parse_u64_fn f, const char *s, int code)
{
    uint64_t v = 12345;
    int rc = f(s, &v);
    if (rc != code)
        fprintf(stderr, "  input \"%s\"\n", s);
    ASSERT_INT_EQ(rc, code);
    ASSERT(v == 12345);
}

static void test_count(void)
{
    check_ok(ooc_parse_count, "0", 0);
    check_ok(ooc_parse_count, "1000000", 1000000);
    check_ok(ooc_parse_count, "1e6", 1000000);
    check_ok(ooc_parse_count, "1.5M", 1500000);
    check_ok(ooc_parse_count, "100M", 100000000);
    check_ok(ooc_parse_count, "2G", 2000000000);
    check_ok(ooc_parse_count, "10k", 10000);
    check_ok(ooc_parse_count, "10K", 10000);
    check_ok(ooc_parse_count, "2.5k", 2500);
    check_ok(ooc_parse_count, "1e19", 10000000000000000000u);
    check_ok(ooc_parse_count, "18446744073709551615", UINT64_MAX); /* digits are read exactly, not as double */
    check_ok(ooc_parse_count, "9007199254740993", 9007199254740993u);
    /* read in decimal, exactly: 1.001 x 1000 in double is 1000.9999999999999, which was refused */
    check_ok(ooc_parse_count, "1.001k", 1001);
    check_ok(ooc_parse_count, "1.003k", 1003);
    check_ok(ooc_parse_count, "1.000001M", 1000001);
    check_ok(ooc_parse_count, "0.001k", 1);
    check_ok(ooc_parse_count, "1.0010k", 1001);
    check_ok(ooc_parse_count, "+3", 3);
    check_ok(ooc_parse_count, "3.0", 3);
    check_ok(ooc_parse_count, "1e3k", 1000000);
    check_ok(ooc_parse_count, "12345678901234567.89e2", 1234567890123456789u);
    check_ok(ooc_parse_count, "0e400", 0);
    check_ok(ooc_parse_count, "3.000000000000000000000000", 3); /* zeros past 64 bits' digits are no value */
    check_ok(ooc_parse_count, "1000000000000000000000e-18", 1000);
    check_ok(ooc_parse_count, "18446744073709551615.000", UINT64_MAX);
    check_ok(ooc_parse_count, "00012", 12);
    check_bad(ooc_parse_count, "1.0001k", OOC_EINVAL);
    check_bad(ooc_parse_count, "e5", OOC_EINVAL);
    check_bad(ooc_parse_count, "1e", OOC_EINVAL);
    check_bad(ooc_parse_count, "1e+", OOC_EINVAL);
    check_bad(ooc_parse_count, ".", OOC_EINVAL);
    check_bad(ooc_parse_count, "1.2.3", OOC_EINVAL);
    check_bad(ooc_parse_count, "2e19", OOC_ERANGE);
    check_bad(ooc_parse_count, "", OOC_EINVAL);
    check_bad(ooc_parse_count, NULL, OOC_EINVAL);
    check_bad(ooc_parse_count, "-1", OOC_EINVAL);
    check_bad(ooc_parse_count, "0x10", OOC_EINVAL);
    check_bad(ooc_parse_count, "inf", OOC_EINVAL);
    check_bad(ooc_parse_count, "nan", OOC_EINVAL);
    check_bad(ooc_parse_size, "0x1M", OOC_EINVAL);
    check_bad(ooc_parse_count, "1.5", OOC_EINVAL);
    check_bad(ooc_parse_count, "1e-3", OOC_EINVAL);
    check_bad(ooc_parse_count, "abc", OOC_EINVAL);
    check_bad(ooc_parse_count, "10x", OOC_EINVAL);
    check_bad(ooc_parse_count, "10MB", OOC_EINVAL);
    check_bad(ooc_parse_count, "M", OOC_EINVAL);
    check_bad(ooc_parse_count, " 5", OOC_EINVAL);
    check_bad(ooc_parse_count, "5 ", OOC_EINVAL);
    check_bad(ooc_parse_count, "1e30", OOC_ERANGE);
    check_bad(ooc_parse_count, "1e-400", OOC_EINVAL); /* underflows: no count, not one past the largest */
    check_bad(ooc_parse_size, "1e-400", OOC_EINVAL);
    check_bad(ooc_parse_count, "18446744073709551616", OOC_ERANGE);
    check_bad(ooc_parse_count, "20G0", OOC_EINVAL);
}

static void test_size(void)
{
    check_ok(ooc_parse_size, "4096", 4096);
    check_ok(ooc_parse_size, "512K", 512u << 10);
    check_ok(ooc_parse_size, "512k", 512u << 10);
    check_ok(ooc_parse_size, "512M", 512u << 20);
    check_ok(ooc_parse_size, "1G", 1u << 30);
    check_ok(ooc_parse_size, "1.5G", 3u << 29);
    check_ok(ooc_parse_size, "512MiB", 512u << 20);
    check_ok(ooc_parse_size, "2GB", 2ull << 30); /* binary either way: a memory limit, not a disk size */
    check_ok(ooc_parse_size, "100B", 100);
    check_ok(ooc_parse_size, "16E6", 16000000); /* the E of an exponent, not a multiplier */
    check_bad(ooc_parse_size, "-1M", OOC_EINVAL);
    check_bad(ooc_parse_size, "M", OOC_EINVAL);
    check_bad(ooc_parse_size, "", OOC_EINVAL);
    check_bad(ooc_parse_size, "512iB", OOC_EINVAL);
    check_bad(ooc_parse_size, "512MB ", OOC_EINVAL);
    check_bad(ooc_parse_size, "512T", OOC_EINVAL);
    check_bad(ooc_parse_size, "1MM", OOC_EINVAL);
    check_bad(ooc_parse_size, "17179869184G", OOC_ERANGE); /* 2^64 */
    check_bad(ooc_parse_size, "1e400", OOC_ERANGE);
}

static void test_double(void)
{
    const struct {
        const char *s;
        double v;
    } ok[] = {{"1", 1}, {"0.5", 0.5}, {"1e-4", 1e-4}, {"-10", -10}, {"3.3333333333333335", 3.3333333333333335},
                 {"1e-310", 1e-310}, {"4.9e-324", 0x1p-1074}, {"1e-400", 0}};
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
        double v = 0;
        ASSERT_OK(ooc_parse_double(ok[k].s, &v));
        ASSERT(v == ok[k].v);
    }
    const struct {
        const char *s;
        int code;
    } bad[] = {{"", OOC_EINVAL},   {" 1", OOC_EINVAL},   {"1x", OOC_EINVAL}, {"x", OOC_EINVAL},
               {"1e999", OOC_ERANGE}, {"inf", OOC_ERANGE}, {"nan", OOC_ERANGE}, {"1,5", OOC_EINVAL},
               {"0x10", OOC_EINVAL}, {"0x1p-3", OOC_EINVAL}}; /* decimal only, as Python's float() */
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        double v = 7;
        ASSERT_INT_EQ(ooc_parse_double(bad[k].s, &v), bad[k].code);
        ASSERT(v == 7);
    }
    double v = 7;
    ASSERT_INT_EQ(ooc_parse_double(NULL, &v), OOC_EINVAL);
}

static void test_u64(void)
{
    check_ok(ooc_parse_u64, "0", 0);
    check_ok(ooc_parse_u64, "007", 7);
    check_ok(ooc_parse_u64, "18446744073709551615", UINT64_MAX);
    check_bad(ooc_parse_u64, "18446744073709551616", OOC_ERANGE);
    check_bad(ooc_parse_u64, "-1", OOC_EINVAL);
    check_bad(ooc_parse_u64, "+1", OOC_EINVAL);
    check_bad(ooc_parse_u64, "1e3", OOC_EINVAL);
    check_bad(ooc_parse_u64, "1k", OOC_EINVAL);
    check_bad(ooc_parse_u64, " 1", OOC_EINVAL);
    check_bad(ooc_parse_u64, "", OOC_EINVAL);
    check_bad(ooc_parse_u64, NULL, OOC_EINVAL);
}

/* Sizes written back as a user would type them: what ooc_parse_size() reads as the same bytes, to 3 digits. */
static void test_format_size(void)
{
    const struct {
        uint64_t bytes;
        const char *text;
    } cases[] = {{0, "0 bytes"},           {1, "1 byte"}, {1023, "1023 bytes"}, {1024, "1 KiB"},
                 {512u << 10, "512 KiB"},  {(1u << 20) - 1, "1024 KiB"}, {67u << 20, "67 MiB"},
                 {3u << 29, "1.5 GiB"},    {UINT64_MAX, "16 EiB"}};
    char buf[32];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        ASSERT(strcmp(ooc_format_size(cases[k].bytes, buf, sizeof buf), cases[k].text) == 0);
}

OOC_TEST_MAIN(test_count, test_size, test_double, test_u64, test_format_size)
