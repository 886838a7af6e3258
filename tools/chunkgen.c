/* chunkgen: make a Gaussian-blobs dataset in a zstd-compressed HDF5 file. Parses options, then calls
 * ooc_generate(). */
#include "cli_common.h"
#include "ooc_generate.h"
#include "ooc_h5.h"
#include "ooc_threads.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
    ooc_blobs_params d = ooc_blobs_params_default();
    printf("Usage: chunkgen [options] OUTPUT.h5\n"
           "Write Gaussian blobs (as scikit-learn's make_blobs) to OUTPUT.h5: /X (samples x features), /y (true\n"
           "blob of each row, int32), /centers (k x d), chunked by rows, byte-shuffled and zstd-compressed.\n"
           "/X holds exactly the values of the input 'blobs:' with the same parameters.\n\n"
           "Options:\n"
           "  -n, --samples N            rows (1000, 1e6, 10M, 2G) [default: 1M]\n"
           "  -d, --features D           columns [default: %llu]\n"
           "  -c, --centers K            number of blobs [default: %llu]\n"
           "      --cluster-std F        standard deviation of each blob [default: %g]\n"
           "      --center-box LO,HI     centres drawn uniformly in this box [default: %g,%g]\n"
           "      --centers-from FILE.h5[:/dataset]\n"
           "                             use these centres (k x d) instead of --center-box [default: none;\n"
           "                             the dataset: /centers (chunkgen's), else /cluster_centers (a model's)]\n"
           "      --chunk-rows R         rows per chunk [default: %llu]\n"
           "      --dtype float64|float32  [default: float64]\n"
           "      --compression zstd[:LEVEL]|none  zstd level 1..22 [default: zstd:3]\n"
           "      --no-shuffle           no byte-shuffle before compression [default: shuffle with zstd]\n"
           "      --seed S               [default: 0]\n"
           "  -t, --threads T            [default: all cores]\n"
           "      --no-labels            do not write /y\n"
           "  -f, --force                replace an existing OUTPUT\n"
           "  -q, --quiet                no progress, no summary\n"
           "  -v, --verbose              progress even when stderr is not a terminal\n"
           "  -h, --help                 this help\n"
           "  -V, --version              version\n",
           (unsigned long long)d.features, (unsigned long long)d.centers, d.cluster_std, d.center_lo, d.center_hi,
           (unsigned long long)d.chunk_rows);
}

enum { OPT_CLUSTER_STD = 256, OPT_CENTER_BOX, OPT_CENTERS_FROM, OPT_CHUNK_ROWS, OPT_DTYPE, OPT_COMPRESSION,
       OPT_NO_SHUFFLE, OPT_SEED, OPT_NO_LABELS };

static const struct option options[] = {
    {"samples", required_argument, NULL, 'n'},
    {"features", required_argument, NULL, 'd'},
    {"centers", required_argument, NULL, 'c'},
    {"cluster-std", required_argument, NULL, OPT_CLUSTER_STD},
    {"center-box", required_argument, NULL, OPT_CENTER_BOX},
    {"centers-from", required_argument, NULL, OPT_CENTERS_FROM},
    {"chunk-rows", required_argument, NULL, OPT_CHUNK_ROWS},
    {"dtype", required_argument, NULL, OPT_DTYPE},
    {"compression", required_argument, NULL, OPT_COMPRESSION},
    {"no-shuffle", no_argument, NULL, OPT_NO_SHUFFLE},
    {"seed", required_argument, NULL, OPT_SEED},
    {"threads", required_argument, NULL, 't'},
    {"no-labels", no_argument, NULL, OPT_NO_LABELS},
    {"force", no_argument, NULL, 'f'},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* The blob parameters named as chunkgen's options in its refusals. */
static const ooc_blobs_names option_names = {"", "--samples", "--features", "--centers", "--chunk-rows",
                                             "--cluster-std", "--center-box", "LO,HI", "--dtype"};

static void parse_box(const char *value, ooc_blobs_params *b)
{
    const char *comma = strchr(value, ',');
    char lo[64];
    if (!comma || (size_t)(comma - value) >= sizeof lo || strchr(comma + 1, ','))
        cli_usage_error("--center-box: '%s' is not LO,HI", value);
    memcpy(lo, value, (size_t)(comma - value));
    lo[comma - value] = '\0';
    b->center_lo = cli_double("--center-box", lo);
    b->center_hi = cli_double("--center-box", comma + 1);
    if (!(b->center_lo < b->center_hi))
        cli_usage_error("--center-box: '%s': LO must be below HI", value);
    if (!isfinite(b->center_hi - b->center_lo)) /* the draws scale by the width */
        cli_usage_error("--center-box: '%s': HI - LO must be a finite number", value);
}

typedef struct cli {
    ooc_generate_params p;
    const char *output, *centers_from;
    int quiet, verbose, features_given, centers_given, box_given;
    cli_progress bar;
} cli;

static void parse(int argc, char **argv, cli *c)
{
    ooc_blobs_params *b = &c->p.blobs;
    int opt;
    while ((opt = getopt_long(argc, argv, ":n:d:c:t:fqvhV", options, NULL)) != -1) {
        switch (opt) {
        case 'n': b->samples = cli_count("--samples", optarg, 1); break;
        case 'd': b->features = cli_count("--features", optarg, 1); c->features_given = 1; break;
        case 'c': b->centers = cli_count("--centers", optarg, 1); c->centers_given = 1; break;
        case OPT_CLUSTER_STD:
            b->cluster_std = cli_double("--cluster-std", optarg);
            if (b->cluster_std < 0)
                cli_usage_error("--cluster-std: '%s' must not be negative", optarg);
            break;
        case OPT_CENTER_BOX:
            parse_box(optarg, b);
            c->box_given = 1;
            break;
        case OPT_CENTERS_FROM: c->centers_from = optarg; break;
        case OPT_CHUNK_ROWS: b->chunk_rows = cli_count("--chunk-rows", optarg, 1); break;
        case OPT_DTYPE:
            if (ooc_dtype_parse(optarg, &b->dtype) != 0)
                cli_usage_error("--dtype: '%s' is not float64 or float32", optarg);
            break;
        case OPT_COMPRESSION:
            if (ooc_codec_parse(optarg, &c->p.codec) != 0)
                cli_usage_error("--compression: '%s' is not zstd, zstd:LEVEL (1..22) or none", optarg);
            break;
        case OPT_NO_SHUFFLE: c->p.codec.shuffle = 0; break;
        case OPT_SEED: b->seed = cli_u64("--seed", optarg, UINT64_MAX); break;
        case 't': c->p.threads = cli_threads("--threads", optarg); break;
        case OPT_NO_LABELS: c->p.labels = 0; break;
        case 'f': c->p.force = 1; break;
        case 'q': c->quiet = 1; break;
        case 'v': c->verbose = 1; break;
        case 'h': cli_print_and_exit(usage);
        case 'V': cli_print_and_exit(cli_version);
        default: cli_bad_option(opt, argv, options);
        }
    }
    c->output = cli_one_operand(argc, argv, "OUTPUT.h5");
    cli_output_name("OUTPUT.h5", c->output, NULL);
    if (c->centers_from && c->box_given) /* the box would be recorded in the attributes, unused */
        cli_usage_error("--center-box and --centers-from: give one of them, not both");
    if (c->centers_from && (cli_reads_from(c->centers_from, "/centers", c->output) ||
                            cli_reads_from(c->centers_from, "/cluster_centers", c->output)))
        cli_usage_error("%s: is an input of this run (--centers-from); outputs never replace inputs", c->output);
    ooc_error err;
    if (!c->centers_from && ooc_blobs_params_check_named(b, &option_names, &err) != 0)
        cli_usage_error("%s", err.msg);
}

/* --centers-from: the file decides k and d; explicit -c/-d must agree with it. Without a dataset named, a
 * chunkgen file's /centers, else a model's /cluster_centers. */
static int load_centers(cli *c, double **centers, ooc_error *err)
{
    char file[4096], dataset[1024];
    if (ooc_h5_split_name(c->centers_from, "/centers", file, sizeof file, dataset, sizeof dataset) != 0)
        cli_usage_error("--centers-from: '%s' is not FILE.h5[:/dataset]", c->centers_from);
    uint64_t k, d;
    int rc = ooc_h5_read_matrix(file, dataset, centers, &k, &d, err);
    if (rc == OOC_ENOTFOUND && strcmp(file, c->centers_from) == 0 && access(file, F_OK) == 0) { /* no ":/dataset" */
        rc = ooc_h5_read_matrix(file, "/cluster_centers", centers, &k, &d, err);
        if (rc == OOC_ENOTFOUND)
            ooc_error_set(err, rc, "%s: no dataset '/centers' (chunkgen's) or '/cluster_centers' (a model's): name "
                                   "one as FILE.h5:/dataset", file);
    }
    if (rc)
        return rc;
    ooc_blobs_params *b = &c->p.blobs;
    if (c->centers_given && k != b->centers)
        cli_usage_error("--centers-from: %s holds %llu centres, but -c %llu was given", c->centers_from,
                        (unsigned long long)k, (unsigned long long)b->centers);
    if (c->features_given && d != b->features)
        cli_usage_error("--centers-from: %s holds centres of %llu features, but -d %llu was given", c->centers_from,
                        (unsigned long long)d, (unsigned long long)b->features);
    b->centers = k;
    b->features = d;
    if (ooc_blobs_params_check_named(b, &option_names, err) != 0)
        cli_usage_error("%s", err->msg);
    c->p.centers = *centers;
    c->p.centers_from = c->centers_from;
    return 0;
}

/* The summary, on stdout before the file is renamed into place: a run that cannot print it fails whole. */
static int report(const ooc_generate_stats *st, void *user, ooc_error *err)
{
    cli *c = user;
    cli_progress_finish(&c->bar);
    const ooc_blobs_params *b = &c->p.blobs;
    int threads = ooc_threads_resolve(c->p.threads);
    if (!c->quiet)
        printf("%s: %llu x %llu %s, %llu chunk%s, %.1f MB raw, %.1f MB stored (ratio %.2f), %.2f s, %.3g rows/s, "
               "%d thread%s\n",
               c->output, (unsigned long long)b->samples, (unsigned long long)b->features, ooc_dtype_name(b->dtype),
               (unsigned long long)st->chunks, st->chunks == 1 ? "" : "s", (double)st->raw_bytes / 1e6,
               (double)st->stored_bytes / 1e6, st->stored_bytes ? (double)st->raw_bytes / (double)st->stored_bytes : 0.0,
               st->seconds, (double)st->rows / (st->seconds > 0 ? st->seconds : 1e-9), threads, threads == 1 ? "" : "s");
    int rc = cli_stdout_check(err);
    return rc ? rc : cli_begin_commit(err); /* the rename into place follows */
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    cli c = {.p = ooc_generate_params_default()};
    parse(argc, argv, &c);
    cli_one_process();

    ooc_error err;
    ooc_error_clear(&err);
    double *centers = NULL;
    cli_progress_init(&c.bar, c.quiet, c.verbose);
    c.p.progress = cli_progress_update;
    c.p.progress_user = &c.bar;
    c.p.before_commit = report;
    c.p.before_commit_user = &c;
    int rc = c.centers_from ? load_centers(&c, &centers, &err) : 0;
    if (!rc)
        rc = ooc_generate(&c.p, c.output, NULL, &err);
    cli_end_commit(rc);
    cli_progress_finish(&c.bar);
    free(centers);
    if (rc)
        return cli_fail(&err);
    return cli_stdout_status(CLI_EXIT_OK);
}
