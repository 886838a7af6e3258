/* chunkinfo: look inside an input: shape, type, storage chunks, filters, sizes; with --stats one pass of
 * per-column statistics. The analogue of `h5ls -v` plus `DataFrame.describe()`. */
#include "cli_common.h"
#include "ooc_array.h"
#include "ooc_colstats.h"
#include "ooc_memory.h"
#include "ooc_stream.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    printf("Usage: chunkinfo INPUT [--stats] [--json] [-t T]\n"
           "Describe INPUT (FILE.h5, FILE.h5:/dataset [default dataset: /X], or blobs:...): shape, dtype,\n"
           "storage chunks, filters, stored and raw sizes. With --stats, one pass computes per-column count,\n"
           "mean, population variance, min, max and the first row holding NaN or infinity (reported, not an\n"
           "error).\n\n"
           "Options:\n"
           "      --stats               per-column statistics (one pass over the data)\n"
           "      --json                one JSON object on stdout\n"
           "  -t, --threads T           [default: all cores]; without -t, fewer when --memory-limit cannot\n"
           "                            hold every core's buffers\n"
           "      --memory-limit SIZE   bytes the pass may hold (512M, 2G) [default: half the available memory]\n"
           "  -q, --quiet               no progress\n"
           "  -v, --verbose             progress even when stderr is not a terminal\n"
           "  -h, --help                this help\n"
           "  -V, --version             version\n");
}

enum { OPT_STATS = 256, OPT_JSON, OPT_MEMORY_LIMIT };

static const struct option options[] = {
    {"stats", no_argument, NULL, OPT_STATS},
    {"json", no_argument, NULL, OPT_JSON},
    {"threads", required_argument, NULL, 't'},
    {"memory-limit", required_argument, NULL, OPT_MEMORY_LIMIT},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

typedef struct cli {
    const char *input;
    int stats, json, quiet, verbose;
    ooc_stream_params sp;
} cli;

static void parse(int argc, char **argv, cli *c)
{
    int opt;
    while ((opt = getopt_long(argc, argv, ":t:qvhV", options, NULL)) != -1) {
        switch (opt) {
        case OPT_STATS: c->stats = 1; break;
        case OPT_JSON: c->json = 1; break;
        case 't': c->sp.threads = cli_threads("--threads", optarg); break;
        case OPT_MEMORY_LIMIT: c->sp.memory_limit = cli_memory_limit(optarg); break;
        case 'q': c->quiet = 1; break;
        case 'v': c->verbose = 1; break;
        case 'h': cli_print_and_exit(usage);
        case 'V': cli_print_and_exit(cli_version);
        default: cli_bad_option(opt, argv, options);
        }
    }
    c->input = cli_one_operand(argc, argv, "INPUT");
    cli_input_name(c->input);
}

typedef struct sizes {
    const char *dtype;
    uint64_t raw, stored;
} sizes;

static sizes sizes_of(const ooc_array_info *in)
{
    sizes z;
    if (in->h5) {
        z.dtype = in->h5->type_name;
        z.raw = in->rows * in->cols * in->h5->type_size;
        z.stored = in->h5->stored_bytes;
    } else {
        z.dtype = ooc_dtype_name(in->dtype);
        z.raw = in->rows * in->cols * ooc_dtype_size(in->dtype);
        z.stored = 0;
    }
    return z;
}

static void print_text(const ooc_array_info *in, const ooc_colstats *st)
{
    sizes z = sizes_of(in);
    const ooc_h5_info *h = in->h5;
    printf("input       %s\n", in->input);
    printf("shape       %llu x %llu\n", (unsigned long long)in->rows, (unsigned long long)in->cols);
    printf("dtype       %s%s\n", z.dtype, h && h->type_size > 1 ? (h->big_endian ? " (big-endian)" : " (little-endian)") : "");
    if (h && h->chunked)
        printf("chunks      %llu x %llu (storage)\n", (unsigned long long)h->chunk_rows, (unsigned long long)h->chunk_cols);
    else
        printf("chunks      none (%s)\n", h ? h->layout : "generated");
    printf("processing  %llu chunks of %llu rows\n", (unsigned long long)in->nchunks, (unsigned long long)in->chunk_rows);
    printf("filters     ");
    for (int i = 0; h && i < h->nfilters; i++)
        printf("%s%s(%d%s)", i ? ", " : "", h->filters[i].name, h->filters[i].id,
               h->filters[i].available ? "" : ", not available");
    printf("%s\n", h && h->nfilters ? "" : "none");
    printf("raw         %llu bytes (%.1f MB)\n", (unsigned long long)z.raw, (double)z.raw / 1e6);
    if (h && (strcmp(h->layout, "virtual") == 0 || strcmp(h->layout, "external") == 0))
        printf("stored      in other files (%s)\n", h->layout);
    else if (h && z.stored)
        printf("stored      %llu bytes (%.1f MB), ratio %.3f\n", (unsigned long long)z.stored, (double)z.stored / 1e6,
               (double)z.raw / (double)z.stored);
    else if (h)
        printf("stored      0 bytes (nothing written: fill values)\n");
    if (!st)
        return;
    printf("\n%8s %14s %14s %14s %14s %12s\n", "column", "mean", "var", "min", "max", "count");
    for (uint64_t c = 0; c < st->cols; c++)
        printf("%8llu %14.6g %14.6g %14.6g %14.6g %12.0f\n", (unsigned long long)c, st->mean[c], st->var[c],
               st->min[c], st->max[c], st->count[c]);
    if (st->first_nonfinite_row == OOC_NO_ROW)
        printf("\nfirst non-finite row: none\n");
    else
        printf("\nfirst non-finite row: %llu\n", (unsigned long long)st->first_nonfinite_row);
}

static void print_json(const ooc_array_info *in, const ooc_colstats *st, const ooc_stream_stats *ss)
{
    sizes z = sizes_of(in);
    const ooc_h5_info *h = in->h5;
    json_t *o = json_object();
    json_object_set_new(o, "input", cli_json_text(in->input));
    json_object_set_new(o, "shape", json_pack("[II]", (json_int_t)in->rows, (json_int_t)in->cols));
    json_object_set_new(o, "dtype", json_string(z.dtype));
    if (h)
        json_object_set_new(o, "byte_order", json_string(h->big_endian ? "big" : "little"));
    json_object_set_new(o, "layout", json_string(h ? h->layout : "generated"));
    json_object_set_new(o, "chunks", h && h->chunked ? json_pack("[II]", (json_int_t)h->chunk_rows, (json_int_t)h->chunk_cols)
                                                     : json_null());
    json_object_set_new(o, "processing_chunk_rows", json_integer((json_int_t)in->chunk_rows));
    json_object_set_new(o, "processing_chunks", json_integer((json_int_t)in->nchunks));
    json_t *filters = json_array();
    for (int i = 0; h && i < h->nfilters; i++)
        json_array_append_new(filters,
                              json_pack("{s:o,s:i,s:b}", "name", cli_json_text(h->filters[i].name), "id", h->filters[i].id,
                                        "available", h->filters[i].available));
    json_object_set_new(o, "filters", filters);
    json_object_set_new(o, "stored_bytes", json_integer((json_int_t)z.stored));
    json_object_set_new(o, "raw_bytes", json_integer((json_int_t)z.raw));
    if (st) {
        json_t *cols = json_array();
        for (uint64_t c = 0; c < st->cols; c++)
            json_array_append_new(cols, json_pack("{s:o,s:o,s:o,s:o,s:I}", "mean", cli_json_number(st->mean[c]), "var",
                                                  cli_json_number(st->var[c]), "min", cli_json_number(st->min[c]), "max",
                                                  cli_json_number(st->max[c]), "count", (json_int_t)st->count[c]));
        json_object_set_new(o, "columns", cols);
        json_object_set_new(o, "first_nonfinite_row", st->first_nonfinite_row == OOC_NO_ROW
                                                          ? json_null()
                                                          : json_integer((json_int_t)st->first_nonfinite_row));
        json_object_set_new(o, "seconds", json_real(ss->seconds));
        json_object_set_new(o, "bytes_read", json_integer((json_int_t)ss->bytes_read));
        json_object_set_new(o, "threads", json_integer(ss->threads));
        json_object_set_new(o, "memory_limit", json_integer((json_int_t)ss->memory_limit));
        json_object_set_new(o, "working_bytes", json_integer((json_int_t)ss->working_bytes));
        json_object_set_new(o, "peak_rss_bytes", json_integer((json_int_t)ooc_memory_peak_rss()));
    }
    cli_print_json(o);
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    cli c = {.sp = ooc_stream_params_default()};
    parse(argc, argv, &c);
    cli_one_process();
    ooc_error err;
    ooc_error_clear(&err);
    ooc_array *a = NULL;
    ooc_stream *s = NULL;
    ooc_colstats *st = NULL;
    cli_progress bar;
    cli_progress_init(&bar, c.quiet, c.verbose);
    c.sp.progress = cli_progress_update;
    c.sp.progress_user = &bar;
    c.sp.cache = 0; /* one pass: a cache would only hold memory (16M x 20 float32: 1.3 GB) and touch it fresh */
    /* Without --stats, a description, as h5ls -v gives one: of an empty dataset too, and of one whose filter
     * cannot be decoded here (it says so). */
    int rc = (c.stats ? ooc_array_open : ooc_array_describe)(c.input, &a, &err);
    if (!rc && c.stats)
        rc = ooc_stream_create(a, &c.sp, &s, &err);
    if (!rc && c.stats)
        rc = ooc_colstats_compute(s, &st, &err);
    cli_progress_finish(&bar);
    int status = CLI_EXIT_OK;
    if (rc)
        status = cli_fail(&err);
    else if (c.json)
        print_json(ooc_array_get_info(a), st, s ? ooc_stream_get_stats(s) : NULL);
    else
        print_text(ooc_array_get_info(a), st);
    ooc_colstats_free(st);
    ooc_stream_free(s);
    ooc_array_free(a);
    return cli_stdout_status(status);
}
