#include "ooc_chunk_output.h"

#include <stdlib.h>

struct ooc_chunk_output {
    ooc_output *out;
    ooc_h5_file *file;
    ooc_h5_chunked *dataset;
};

int ooc_chunk_output_create(const char *path, const char *dataset, const ooc_h5_chunked_params *p, int force,
                            ooc_chunk_output **out, ooc_error *err)
{
    *out = NULL;
    ooc_chunk_output *o = calloc(1, sizeof *o);
    if (!o)
        return ooc_error_set(err, OOC_ENOMEM, "%s: out of memory", path);
    int rc = ooc_output_open(path, force, &o->out, err);
    if (!rc)
        rc = ooc_h5_file_create(ooc_output_path(o->out), path, &o->file, err);
    if (!rc)
        rc = ooc_h5_chunked_create(o->file, dataset, p, &o->dataset, err);
    if (rc) {
        ooc_chunk_output_abort(o);
        return rc;
    }
    *out = o;
    return 0;
}

int ooc_chunk_output_create_remote(const char *dataset, const ooc_h5_chunked_params *p, ooc_chunk_output **out,
                                   ooc_error *err)
{
    *out = NULL;
    ooc_chunk_output *o = calloc(1, sizeof *o);
    if (!o)
        return ooc_error_set(err, OOC_ENOMEM, "%s: out of memory", dataset);
    int rc = ooc_h5_chunked_create(NULL, dataset, p, &o->dataset, err);
    if (rc) {
        free(o);
        return rc;
    }
    *out = o;
    return 0;
}

ooc_h5_file *ooc_chunk_output_file(ooc_chunk_output *o)
{
    return o->file;
}

ooc_h5_chunked *ooc_chunk_output_dataset(ooc_chunk_output *o)
{
    return o->dataset;
}

int ooc_chunk_output_ready(ooc_chunk_output *o, ooc_error *err)
{
    int rc = ooc_h5_chunked_close(o->dataset, err);
    o->dataset = NULL;
    int rc2 = ooc_h5_file_close(o->file, rc ? NULL : err);
    o->file = NULL;
    rc = rc ? rc : rc2;
    return rc || !o->out ? rc : ooc_output_ready(o->out, err);
}

int ooc_chunk_output_commit(ooc_chunk_output *o, ooc_error *err)
{
    int rc = ooc_chunk_output_ready(o, err);
    if (rc) {
        ooc_chunk_output_abort(o);
        return rc;
    }
    rc = o->out ? ooc_output_commit(o->out, err) : 0;
    free(o);
    return rc;
}

ooc_output *ooc_chunk_output_detach(ooc_chunk_output *o)
{
    ooc_output *out = o->out;
    free(o);
    return out;
}

void ooc_chunk_output_abort(ooc_chunk_output *o)
{
    if (!o)
        return;
    ooc_h5_chunked_close(o->dataset, NULL);
    ooc_h5_file_close(o->file, NULL);
    ooc_output_abort(o->out);
    free(o);
}
