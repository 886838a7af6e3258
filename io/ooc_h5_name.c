#include "ooc_h5.h"

#include <string.h>

int ooc_h5_split_name(const char *spec, const char *default_dataset, char *file, size_t file_size, char *dataset,
                      size_t dataset_size)
{
    const char *sep = NULL;
    for (const char *p = strstr(spec, ":/"); p; p = strstr(p + 1, ":/"))
        sep = p;
    size_t file_len = sep ? (size_t)(sep - spec) : strlen(spec);
    const char *ds = sep ? sep + 1 : default_dataset;
    /* "FILE.h5:" names no dataset after its colon: a mistake, not a file named so. */
    if (file_len == 0 || spec[file_len - 1] == ':' || file_len >= file_size || strlen(ds) >= dataset_size)
        return OOC_EINVAL;
    memcpy(file, spec, file_len);
    file[file_len] = '\0';
    strcpy(dataset, ds);
    return 0;
}
