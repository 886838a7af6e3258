#include "ooc_units.h"

#include "ooc_error.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A finite number, then an optional multiplier letter; `scale(c)` gives its factor (0: not a suffix).
 * *tail is what follows, for the caller to accept or refuse. */
static int parse_scaled(const char *s, double (*scale)(char), double *out, const char **tail)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return OOC_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* strtod also reads hex, "inf" and "nan": none of them is a count or a size. */
    if (end == s || strspn(s, "0123456789.eE+-") < (size_t)(end - s))
        return OOC_EINVAL;
    if (errno == ERANGE && fabs(v) < 1) /* 1e-400: below every count and size, not past them */
        return OOC_EINVAL;
    if (errno == ERANGE || !isfinite(v))
        return OOC_ERANGE;
    if (*end && scale(*end) != 0)
        v *= scale(*end++);
    *out = v;
    *tail = end;
    return 0;
}

static double binary_scale(char c)
{
    switch (c) {
    case 'k': case 'K': return 1024.0;
    case 'm': case 'M': return 1024.0 * 1024;
    case 'g': case 'G': return 1024.0 * 1024 * 1024;
    }
    return 0;
}

static int to_u64(double v, uint64_t *out)
{
    if (v < 0 || v != floor(v))
        return OOC_EINVAL;
    if (v >= 18446744073709551616.0)
        return OOC_ERANGE;
    *out = (uint64_t)v;
    return 0;
}

/* The power of ten a count's suffix stands for, or -1. */
static int decimal_suffix(char c)
{
    return c == 'k' || c == 'K' ? 3 : c == 'M' ? 6 : c == 'G' ? 9 : -1;
}

/* A count read exactly, in decimal ("1.001k" is 1001, which 1.001 x 1000 in double is not): [+]DIGITS[.DIGITS]
 * [e[+-]DIGITS][k|M|G] is M x 10^E with M the digits as an integer (below 2^64), whole when E < 0. */
int ooc_parse_count(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return OOC_EINVAL;
    const char *p = s + (*s == '+');
    uint64_t m = 0;
    int digits = 0, dot = 0;
    long e = 0, zeros = 0; /* zeros: those after m's last digit, not yet in it ("3.000", "1000e-3") */
    for (; isdigit((unsigned char)*p) || (*p == '.' && !dot); p++) {
        if (*p == '.') {
            dot = 1;
            continue;
        }
        digits++;
        e -= dot;
        if (*p == '0') {
            zeros += m != 0; /* a leading zero: only its place counts */
            continue;
        }
        for (; zeros >= 0; zeros--) { /* the zeros before this digit, then its own place */
            if (m > UINT64_MAX / 10)
                return OOC_ERANGE; /* more significant digits than a 64-bit count holds */
            m *= 10;
        }
        zeros = 0;
        if (m > UINT64_MAX - (uint64_t)(*p - '0'))
            return OOC_ERANGE;
        m += (uint64_t)(*p - '0');
    }
    e += zeros; /* m x 10^zeros x 10^e */
    if (!digits)
        return OOC_EINVAL;
    if (*p == 'e' || *p == 'E') {
        char *end;
        errno = 0;
        long x = strtol(p + 1, &end, 10);
        if (end == p + 1 || !isdigit((unsigned char)end[-1]))
            return OOC_EINVAL;
        if (errno == ERANGE || x > 1000 || x < -1000)
            return x < 0 ? OOC_EINVAL : OOC_ERANGE;
        e += x;
        p = end;
    }
    if (*p && decimal_suffix(*p) >= 0)
        e += decimal_suffix(*p++);
    if (*p)
        return OOC_EINVAL;
    for (; e < 0; e++) { /* whole only if the digits dropped are zeros */
        if (m % 10)
            return OOC_EINVAL;
        m /= 10;
    }
    for (; e > 0 && m; e--) {
        if (m > UINT64_MAX / 10)
            return OOC_ERANGE;
        m *= 10;
    }
    *out = m;
    return 0;
}

int ooc_parse_size(const char *s, uint64_t *out)
{
    double v;
    const char *tail;
    int rc = parse_scaled(s, binary_scale, &v, &tail);
    if (rc)
        return rc;
    /* "B" may end any size, "iB" only a multiplier ("512MiB", not "512iB"); strtod never stops on one. */
    int scaled = tail > s && binary_scale(tail[-1]) != 0;
    if (*tail && strcmp(tail, "B") != 0 && !(scaled && strcmp(tail, "iB") == 0))
        return OOC_EINVAL;
    if (v < 0)
        return OOC_EINVAL;
    return to_u64(floor(v), out);
}

int ooc_parse_double(const char *s, double *out)
{
    if (!s || !*s || isspace((unsigned char)*s) || strpbrk(s, "xX")) /* decimal, as Python's float(): no hex */
        return OOC_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end)
        return OOC_EINVAL;
    if (!isfinite(v)) /* nan, inf, and overflow; an underflow is its subnormal or 0, as Python reads it */
        return OOC_ERANGE;
    *out = v;
    return 0;
}

int ooc_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return OOC_EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return OOC_EINVAL;
    if (errno == ERANGE)
        return OOC_ERANGE;
    *out = v;
    return 0;
}

const char *ooc_format_size(uint64_t bytes, char *buf, size_t size)
{
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    int u = -1;
    while (u < 5 && v >= 1024) {
        v /= 1024;
        u++;
    }
    if (u < 0)
        snprintf(buf, size, "%llu byte%s", (unsigned long long)bytes, bytes == 1 ? "" : "s");
    else
        snprintf(buf, size, v >= 100 ? "%.0f %s" : "%.3g %s", v, unit[u]);
    return buf;
}
