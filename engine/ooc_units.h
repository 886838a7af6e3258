/* ooc_units.h: parsing of the numbers users type: counts, memory sizes, reals; and memory sizes for messages.
 * Each returns 0 or OOC_EINVAL (not a number of that kind) / OOC_ERANGE (overflow); the whole string must
 * be consumed. */
#ifndef OOC_UNITS_H
#define OOC_UNITS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ooc_parse_count(): "1000000", "1e6", "1.5M", "100M", "2G", "10k": k/M/G are decimal (10^3, 10^6, 10^9);
 * the value must be a non-negative integer. */
int ooc_parse_count(const char *s, uint64_t *out);

/* ooc_parse_size(): memory sizes "1048576", "512K", "512M", "2G", "1.5G": K/M/G are binary (2^10, 2^20,
 * 2^30); a trailing "B"/"iB" is accepted ("512MiB"). */
int ooc_parse_size(const char *s, uint64_t *out);

/* ooc_parse_double(): a finite real ("1", "0.5", "1e-4", "-10"). */
int ooc_parse_double(const char *s, double *out);

/* ooc_parse_u64(): a plain non-negative decimal integer (seeds, levels). */
int ooc_parse_u64(const char *s, uint64_t *out);

/* ooc_format_size(): bytes as a user would write them back, in the largest binary unit that keeps the
 * value at 1 or more, to 3 significant digits or the unit: "512 KiB", "67 MiB", "1.5 GiB", "100 bytes".
 * Returns buf. */
const char *ooc_format_size(uint64_t bytes, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
