#include "ooc_h5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ooc_h5_split_name(const char *spec, const char *default_dataset, char *file, size_t file_size, char *dataset,
                      size_t dataset_size)
{
    const char *sep = NULL;
    for (const char *p = strstr(spec, ":/"); p; p = strstr(p + 1, ":/"))
        sep = p;
    size_t file_len = sep ? (size_t)(sep - spec) : strlen(spec);
    const char *ds = sep ? sep + 1 : default_dataset;
    if (file_len == 0 || file_len >= file_size || strlen(ds) >= dataset_size)
        return OOC_EINVAL;
    memcpy(file, spec, file_len);
    file[file_len] = '\0';
    strcpy(dataset, ds);
    return 0;
}

int ooc_h5_read_matrix(const char *path, const char *dataset, double **out, uint64_t *rows, uint64_t *cols,
                       ooc_error *err)
{
    ooc_h5_reader *r;
    int rc = ooc_h5_reader_open(path, dataset, &r, err);
    if (rc)
        return rc;
    const ooc_h5_info *in = ooc_h5_reader_info(r);
    double *m = NULL;
    if (in->rank != 2)
        rc = ooc_error_set(err, OOC_EFORMAT, "%s: a 1-D dataset; expected 2-D", ooc_h5_reader_name(r));
    else if (in->rows == 0 || in->cols == 0)
        rc = ooc_error_set(err, OOC_EFORMAT, "%s: empty dataset", ooc_h5_reader_name(r));
    else if (in->rows > (1u << 28) / in->cols)
        rc = ooc_error_set(err, OOC_ERANGE, "%s: too large to hold in memory", ooc_h5_reader_name(r));
    else if (!(m = malloc(in->rows * in->cols * sizeof *m)))
        rc = ooc_error_set(err, OOC_ENOMEM, "%s: out of memory", ooc_h5_reader_name(r));
    else
        rc = ooc_h5_reader_read_rows(r, 0, in->rows, OOC_FLOAT64, m, err);
    if (!rc) {
        *out = m;
        *rows = in->rows;
        *cols = in->cols;
    } else {
        free(m);
    }
    ooc_h5_reader_close(r);
    return rc;
}
