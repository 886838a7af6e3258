/* kmeans-ooc: cluster an input out of core (fit), label new data with a saved model (predict), print
 * labels (labels). Parses options, then calls the library. Under mpirun, fit and predict are distributed
 * (ooc_dist.h): every process reads its own chunks; process 0 writes the outputs and prints. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE */

#include "cli_common.h"
#include "ooc_array.h"
#include "ooc_cancel.h"
#include "ooc_chunk_output.h"
#include "ooc_dist.h"
#include "ooc_kmeans.h"
#include "ooc_memory.h"
#include "ooc_output.h"
#include "ooc_stream.h"
#include "ooc_units.h"

#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void usage(void)
{
    ooc_kmeans_params d = ooc_kmeans_params_default();
    printf("Usage: kmeans-ooc fit INPUT [options]\n"
           "       kmeans-ooc predict MODEL.h5 INPUT --labels FILE.h5[:/labels] [options]\n"
           "       kmeans-ooc labels FILE.h5[:/labels] [--rows A:B | --chunk I]\n\n"
           "KMeans out of core, as scikit-learn and dask-ml define it. INPUT: FILE.h5[:/dataset] (default /X) or\n"
           "blobs:samples=N,features=D,centers=K,seed=S,... (generated, never stored). Under mpirun, fit and\n"
           "predict split the chunks among the processes, with the same results; process 0 writes and prints.\n\n"
           "fit options:\n"
           "  -k, --n-clusters K          [default: %llu]\n"
           "      --init k-means||, k-means++ or random  [default: k-means||]\n"
           "                              passes over the data: k-means|| 1 + init-max-iter (and, rarely, the\n"
           "                              chunks holding drawn rows), k-means++ 2k-1 (greedy, as\n"
           "                              scikit-learn's: 2 + ln k trials a centre), random 1 (for the\n"
           "                              statistics)\n"
           "      --oversampling-factor L k-means|| draws about l = L*k rows a round, the paper's l = O(k) as\n"
           "                              Spark and cuML [default: %g]; dask-ml's oversampling_factor is l\n"
           "                              itself (its 10 with k=8 is L=1.25 here)\n"
           "      --init-max-iter R       rounds of k-means|| [default: %d] (the paper finds 5 enough; dask-ml\n"
           "                              runs ln(cost) rounds when unset)\n"
           "      --max-iter N            Lloyd iterations at most, one pass each [default: %d]\n"
           "      --tol T                 stop when the squared centre shift summed over clusters is at most\n"
           "                              T x mean feature variance (scikit-learn's rule) [default: %g]\n"
           "      --seed S                [default: 0]\n"
           "  -o, --model FILE.h5         write the model [default: none]\n"
           "      --labels FILE.h5[:/labels]  write the label of every row, chunk by chunk [default: none]\n"
           "fit and predict options:\n"
           "  -t, --threads T             [default: all cores]; without -t, fewer when --memory-limit\n"
           "                              cannot hold every core's buffers (same results)\n"
           "      --memory-limit SIZE     what the engine may hold (512M, 2G) [default: half the available\n"
           "                              memory]\n"
           "      --json                  one JSON object on stdout\n"
           "  -f, --force                 replace existing outputs\n"
           "  -q, --quiet                 no progress bar (the results and warnings are still printed)\n"
           "  -v, --verbose               a line per iteration; progress even off a terminal\n"
           "  -h, --help, -V, --version\n"
           "labels options:\n"
           "      --rows A:B              rows A (included) to B (excluded), from 0, as Python [default: all]\n"
           "      --chunk I               the rows of chunk I\n"
           "  -q, -v, -h, -V as above\n",
           (unsigned long long)d.k, d.oversampling_factor, d.init_max_iter, d.max_iter, d.tol);
}

enum { OPT_INIT = 256, OPT_OVERSAMPLING, OPT_INIT_MAX_ITER, OPT_MAX_ITER, OPT_TOL, OPT_SEED, OPT_MEMORY_LIMIT,
       OPT_LABELS, OPT_JSON, OPT_ROWS, OPT_CHUNK };

static const struct option options[] = {
    {"n-clusters", required_argument, NULL, 'k'},
    {"init", required_argument, NULL, OPT_INIT},
    {"oversampling-factor", required_argument, NULL, OPT_OVERSAMPLING},
    {"init-max-iter", required_argument, NULL, OPT_INIT_MAX_ITER},
    {"max-iter", required_argument, NULL, OPT_MAX_ITER},
    {"tol", required_argument, NULL, OPT_TOL},
    {"seed", required_argument, NULL, OPT_SEED},
    {"threads", required_argument, NULL, 't'},
    {"memory-limit", required_argument, NULL, OPT_MEMORY_LIMIT},
    {"model", required_argument, NULL, 'o'},
    {"labels", required_argument, NULL, OPT_LABELS},
    {"json", no_argument, NULL, OPT_JSON},
    {"rows", required_argument, NULL, OPT_ROWS},
    {"chunk", required_argument, NULL, OPT_CHUNK},
    {"force", no_argument, NULL, 'f'},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

typedef struct cli {
    const char *command, *input, *model_in, *model_out, *labels_out, *rows, *chunk;
    int json, force, quiet, verbose;
    ooc_kmeans_params kp;
    ooc_stream_params sp;
    cli_progress bar;
    const char *fit_only;   /* the last option given that only fit uses, for the other commands' refusal */
    const char *not_labels; /* the last option given that `labels` has no use for */
} cli;

static int int_option(const char *option, const char *value, int min)
{
    uint64_t v = cli_count(option, value, (uint64_t)min);
    if (v > 1000000000)
        cli_usage_error("%s: '%s' is too large (at most 1000000000)", option, value);
    return (int)v;
}

/* Which command an option belongs to, so that the others refuse it rather than ignore it. */
static void note_option_owner(cli *c, int opt)
{
    static const int fit_only[] = {'k', OPT_INIT, OPT_OVERSAMPLING, OPT_INIT_MAX_ITER, OPT_MAX_ITER, OPT_TOL, OPT_SEED, 'o'};
    static const int any_command[] = {OPT_ROWS, OPT_CHUNK, 'q', 'v', 'h', 'V', '?', ':'};
    const char *name = NULL; /* the long name: argv may hold the option's value instead */
    for (const struct option *o = options; o->name && !name; o++)
        if (o->val == opt)
            name = o->name;
    for (size_t i = 0; i < sizeof fit_only / sizeof *fit_only; i++)
        if (opt == fit_only[i])
            c->fit_only = name;
    int general = 0;
    for (size_t i = 0; i < sizeof any_command / sizeof *any_command; i++)
        general |= opt == any_command[i];
    if (!general)
        c->not_labels = name;
}

static void parse_option(cli *c, int opt, char **argv)
{
    note_option_owner(c, opt);
    switch (opt) {
    case 'k':
        c->kp.k = cli_count("--n-clusters", optarg, 1);
        if (c->kp.k > INT32_MAX) /* labels are int32 */
            cli_usage_error("--n-clusters: '%s' is too large (at most 2147483647)", optarg);
        break;
    case OPT_INIT:
        if (ooc_kmeans_init_parse(optarg, &c->kp.init) != 0)
            cli_usage_error("--init: '%s' is not k-means||, k-means++ or random", optarg);
        break;
    case OPT_OVERSAMPLING:
        c->kp.oversampling_factor = cli_double("--oversampling-factor", optarg);
        if (!(c->kp.oversampling_factor > 0))
            cli_usage_error("--oversampling-factor: '%s' must be positive", optarg);
        break;
    case OPT_INIT_MAX_ITER: c->kp.init_max_iter = int_option("--init-max-iter", optarg, 1); break;
    case OPT_MAX_ITER: c->kp.max_iter = int_option("--max-iter", optarg, 1); break;
    case OPT_TOL:
        c->kp.tol = cli_double("--tol", optarg);
        if (c->kp.tol < 0)
            cli_usage_error("--tol: '%s' must not be negative", optarg);
        break;
    case OPT_SEED: c->kp.seed = cli_u64("--seed", optarg, INT64_MAX); /* JSON integers are int64 */ break;
    case 't': c->sp.threads = cli_threads("--threads", optarg); break;
    case OPT_MEMORY_LIMIT: c->sp.memory_limit = cli_memory_limit(optarg); break;
    case 'o': c->model_out = optarg; break;
    case OPT_LABELS: c->labels_out = optarg; break;
    case OPT_JSON: c->json = 1; break;
    case OPT_ROWS: c->rows = optarg; break;
    case OPT_CHUNK: c->chunk = optarg; break;
    case 'f': c->force = 1; break;
    case 'q': c->quiet = 1; break;
    case 'v': c->verbose = 1; break;
    case 'h': cli_print_and_exit(usage);
    case 'V': cli_print_and_exit(cli_version);
    default: cli_bad_option(opt, argv, options);
    }
}

/* One bound of a Python slice, the n bytes at s: a count (17, 1e6, 10k), with an optional minus (counted from
 * the end); past int64, the nearest int64 (which clamps the same: no dataset has 2^63 rows). 0 or -1. */
static int parse_bound(const char *s, size_t n, int64_t *v)
{
    int negative = n > 0 && s[0] == '-';
    const char *body = s + negative;
    size_t len = n - (size_t)negative;
    if (len == 0 || body[0] == '+' || body[0] == '-')
        return -1;
    while (len > 1 && body[0] == '0' && body[1] >= '0' && body[1] <= '9') /* 0005 is 5, however many zeros */
        body++, len--;
    char count[64];
    uint64_t u = 0;
    int rc;
    if (len >= sizeof count) /* only digits run this long: past int64 */
        rc = strspn(body, "0123456789") >= len ? OOC_ERANGE : OOC_EINVAL;
    else {
        memcpy(count, body, len);
        count[len] = '\0';
        rc = ooc_parse_count(count, &u);
    }
    if (rc == OOC_ERANGE || (rc == 0 && u > INT64_MAX))
        u = (uint64_t)INT64_MAX + (uint64_t)negative;
    else if (rc)
        return -1;
    *v = (int64_t)(negative ? 0 - u : u);
    return 0;
}

/* --rows A:B: either side may be empty (A = 0, B = the end). 0 or -1. */
static int split_rows(const char *s, int64_t *a, int64_t *b, int *has_a, int *has_b)
{
    const char *colon = strchr(s, ':');
    if (!colon)
        return -1;
    *has_a = colon > s;
    *has_b = colon[1] != '\0';
    if ((*has_a && parse_bound(s, (size_t)(colon - s), a) != 0) ||
        (*has_b && parse_bound(colon + 1, strlen(colon + 1), b) != 0))
        return -1;
    return 0;
}

static void check_rows_syntax(const char *s)
{
    int64_t a, b;
    int has_a, has_b;
    if (split_rows(s, &a, &b, &has_a, &has_b) != 0)
        cli_usage_error("--rows: '%s' is not A:B (rows from 0, A included, B excluded)", s);
}

static void parse(int argc, char **argv, cli *c)
{
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
        cli_print_and_exit(usage);
    if (argc >= 2 && (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0))
        cli_print_and_exit(cli_version);
    if (argc < 2)
        cli_usage_error("missing command: fit, predict or labels (see 'kmeans-ooc --help')");
    c->command = argv[1];
    if (strcmp(c->command, "fit") && strcmp(c->command, "predict") && strcmp(c->command, "labels"))
        cli_usage_error("%s: unknown command: fit, predict or labels (see 'kmeans-ooc --help')", c->command);
    optind = 2;
    int opt;
    while ((opt = getopt_long(argc, argv, ":k:t:o:fqvhV", options, NULL)) != -1)
        parse_option(c, opt, argv);
    int want = strcmp(c->command, "predict") == 0 ? 2 : 1;
    if (argc - optind != want)
        cli_usage_error("%s takes %s (see 'kmeans-ooc --help')", c->command,
                        want == 2 ? "MODEL.h5 and INPUT" : strcmp(c->command, "labels") == 0 ? "FILE.h5[:/labels]" : "INPUT");
    if (want == 2)
        cli_file_name("MODEL.h5", c->model_in = argv[optind++]);
    c->input = argv[optind];
    int is_labels = strcmp(c->command, "labels") == 0, is_predict = want == 2;
    if (!is_labels)
        cli_input_name(c->input);
    if (!is_labels && (c->rows || c->chunk))
        cli_usage_error("--rows and --chunk belong to 'kmeans-ooc labels'");
    if (is_labels && c->not_labels)
        cli_usage_error("--%s: not an option of 'kmeans-ooc labels' (see 'kmeans-ooc --help')", c->not_labels);
    if (strcmp(c->command, "fit") != 0 && c->fit_only)
        cli_usage_error("--%s belongs to 'kmeans-ooc fit'", c->fit_only);
    if (is_labels && c->rows && c->chunk)
        cli_usage_error("--rows and --chunk: give one of them");
    if (is_predict && !c->labels_out)
        cli_usage_error("predict needs --labels FILE.h5[:/labels]");
    if (is_predict && c->model_out)
        cli_usage_error("--model belongs to 'kmeans-ooc fit'");
    if (c->model_out)
        cli_file_name("--model", c->model_out);
    if (c->labels_out)
        cli_output_name("--labels", c->labels_out, "/labels");
    if (c->model_out && c->labels_out && cli_same_file(c->model_out, c->labels_out))
        cli_usage_error("--model and --labels name the same file");
    const char *outs[2] = {c->model_out, c->labels_out};
    for (int i = 0; i < 2 && !is_labels; i++)
        if (outs[i] && (cli_reads_from(c->input, "/X", outs[i]) ||
                        (c->model_in && cli_reads_from(c->model_in, "/cluster_centers", outs[i]))))
            cli_usage_error("%s: is an input of this run; outputs never replace inputs", outs[i]);
    if (c->rows)
        check_rows_syntax(c->rows);
    if (c->chunk)
        cli_count("--chunk", c->chunk, 0);
}

static void on_iteration(const ooc_kmeans_iteration *it, void *user)
{
    cli *c = user;
    cli_progress_finish(&c->bar);
    if (!c->verbose)
        return;
    char empty[64] = "", unread[48] = "";
    if (it->empty)
        snprintf(empty, sizeof empty, "  (%llu empty, %llu relocated)", (unsigned long long)it->empty,
                 (unsigned long long)it->relocated);
    if (it->chunks_unread)
        snprintf(unread, sizeof unread, "  (%llu chunks unread)", (unsigned long long)it->chunks_unread);
    fprintf(stderr, "iter %3d  inertia %.10g  shift %.4g%s  %.2f s%s\n", it->iter, it->inertia, it->shift, empty,
            it->seconds, unread);
}

static void on_note(const char *note, void *user)
{
    cli *c = user;
    cli_progress_finish(&c->bar);
    if (c->verbose)
        fprintf(stderr, "note: %s\n", note);
}

static int is_writer(const cli *c)
{
    return ooc_dist_rank(c->sp.dist) == 0;
}

/* The labels output: chunked like the input, int32, zstd. Process 0 writes it (the others only encode their
 * chunks). */
static int open_labels(const cli *c, ooc_array *a, ooc_chunk_output **out, ooc_error *err)
{
    char file[4096], dataset[1024];
    if (ooc_h5_split_name(c->labels_out, "/labels", file, sizeof file, dataset, sizeof dataset) != 0)
        return ooc_error_set(err, OOC_EINVAL, "%s: not FILE.h5[:/dataset]", c->labels_out);
    const ooc_array_info *in = ooc_array_get_info(a);
    ooc_h5_chunked_params p = {OOC_INT32, 1, in->rows, 1, in->chunk_rows, {3, 1, 0}};
    if (!is_writer(c))
        return ooc_chunk_output_create_remote(dataset, &p, out, err);
    return ooc_chunk_output_create(file, dataset, &p, c->force, out, err);
}

/* threads: those the passes ran on (fewer than asked when the memory limit could not hold more). */
static json_t *params_json(const cli *c, int threads)
{
    const ooc_kmeans_params *p = &c->kp;
    ooc_stream_params sp = ooc_stream_params_resolved(&c->sp);
    return json_pack("{s:o,s:I,s:s,s:f,s:i,s:i,s:f,s:I,s:i,s:i,s:I}", "input", cli_json_text(c->input), "n_clusters",
                     (json_int_t)p->k, "init", ooc_kmeans_init_name(p->init), "oversampling_factor", p->oversampling_factor,
                     "init_max_iter", p->init_max_iter, "max_iter", p->max_iter, "tol", p->tol, "seed",
                     (json_int_t)p->seed, "processes", ooc_dist_size(sp.dist), "threads", threads, "memory_limit",
                     (json_int_t)sp.memory_limit);
}

/* As scikit-learn warns (ConvergenceWarning): clusters left empty at the end, which Lloyd's relocation could
 * not fill, mean the rows hold fewer distinct points than clusters. */
static void warn_empty_clusters(const ooc_kmeans_model *m)
{
    uint64_t distinct = 0;
    for (uint64_t j = 0; j < m->k; j++)
        distinct += m->sizes[j] > 0;
    if (distinct == m->k)
        return;
    /* Distinct rows look the same when their squared distances underflow to 0: values below about 1e-154,
     * hence centres too. */
    double largest = 0;
    for (uint64_t e = 0; e < m->k * m->d; e++)
        largest = fmax(largest, fabs(m->centers[e]));
    uint64_t empty = m->k - distinct;
    cli_warning("%llu distinct clusters found, fewer than k = %llu (duplicate rows%s?); the other %llu %s empty",
                (unsigned long long)distinct, (unsigned long long)m->k,
                m->inertia == 0 && largest < 1e-150 ? ", or values so small that squared distances underflow to 0" : "",
                (unsigned long long)empty, empty == 1 ? "is" : "are");
}

/* A sum of finite squared distances past the largest double (each distance fits; their sum does not): the
 * inertia is inf, as scikit-learn's, and --json, which has no inf, says null. Squared distances near the
 * smallest normal double (data near 1e-160) keep few bits or none: labels and centres cannot be exact. */
static void warn_inertia_range(double inertia, uint64_t rows)
{
    if (isinf(inertia))
        cli_warning("the inertia, a sum of finite squared distances, passes the largest double (%g): it is "
                    "inf, null in --json", DBL_MAX);
    else if (inertia > 0 && inertia < 0x1p-1000 * (double)rows)
        cli_warning("squared distances are near the smallest normal double (%g a row on average), where they "
                    "keep few exact bits: labels and centres may be off; multiply the data by a power of two",
                    inertia / (double)rows);
}

static void print_fit(const cli *c, const ooc_kmeans_model *m)
{
    warn_empty_clusters(m);
    warn_inertia_range(m->inertia, m->n_samples);
    if (!c->json) {
        printf("kmeans: %llu x %llu, k=%llu, inertia %.10g, %d iterations%s, %llu passes, %.2f s (stats %.2f s, "
               "init %.2f s, lloyd %.2f s, labels %.2f s)\n",
               (unsigned long long)m->n_samples, (unsigned long long)m->d, (unsigned long long)m->k, m->inertia,
               m->n_iter, m->converged ? " (converged)" : " (max-iter reached)", (unsigned long long)m->passes,
               m->seconds_total, m->seconds_stats, m->seconds_init, m->seconds_lloyd, m->seconds_labels);
        return;
    }
    json_t *o = json_object(), *hist = json_array(), *centers = json_array(), *sizes = json_array();
    for (int i = 0; i < m->history_len; i++) {
        const ooc_kmeans_iteration *h = &m->history[i];
        json_array_append_new(hist, json_pack("{s:i,s:o,s:o,s:I,s:I,s:I,s:I,s:f}", "iter", h->iter, "inertia",
                                              cli_json_number(h->inertia), "shift", cli_json_number(h->shift),
                                              "empty_clusters", (json_int_t)h->empty, "relocated",
                                              (json_int_t)h->relocated, "recomputed", (json_int_t)h->recomputed,
                                              "chunks_unread", (json_int_t)h->chunks_unread, "seconds", h->seconds));
    }
    for (uint64_t j = 0; j < m->k; j++) {
        json_t *row = json_array();
        for (uint64_t t = 0; t < m->d; t++)
            json_array_append_new(row, cli_json_number(m->centers[j * m->d + t]));
        json_array_append_new(centers, row);
        json_array_append_new(sizes, json_integer((json_int_t)m->sizes[j]));
    }
    json_object_set_new(o, "n_samples", json_integer((json_int_t)m->n_samples));
    json_object_set_new(o, "n_features", json_integer((json_int_t)m->d));
    json_object_set_new(o, "n_clusters", json_integer((json_int_t)m->k));
    json_object_set_new(o, "inertia", cli_json_number(m->inertia));
    json_object_set_new(o, "n_iter", json_integer(m->n_iter));
    json_object_set_new(o, "converged", json_boolean(m->converged));
    json_object_set_new(o, "passes", json_integer((json_int_t)m->passes));
    json_object_set_new(o, "bytes_read", json_integer((json_int_t)m->bytes_read));
    json_object_set_new(o, "per_row_state", json_string(m->state_spilled ? "file" : "memory"));
    json_object_set_new(o, "n_candidates", json_integer((json_int_t)m->n_candidates));
    json_object_set_new(o, "seconds", json_pack("{s:f,s:f,s:f,s:f,s:f}", "stats", m->seconds_stats, "init",
                                                m->seconds_init, "lloyd", m->seconds_lloyd, "labels", m->seconds_labels,
                                                "total", m->seconds_total));
    json_object_set_new(o, "rows_per_second",
                        json_real(m->seconds_total > 0 ? (double)m->n_samples * (double)m->passes / m->seconds_total : 0));
    json_object_set_new(o, "peak_rss_bytes", json_integer((json_int_t)ooc_memory_peak_rss()));
    json_object_set_new(o, "history", hist);
    json_object_set_new(o, "cluster_sizes", sizes);
    json_object_set_new(o, "cluster_centers", centers);
    json_t *params = params_json(c, m->threads);
    json_object_set_new(params, "model", c->model_out ? cli_json_text(c->model_out) : json_null());
    json_object_set_new(params, "labels", c->labels_out ? cli_json_text(c->labels_out) : json_null());
    json_object_set_new(o, "parameters", params);
    cli_print_json(o);
}

static int run_fit(cli *c, ooc_error *err)
{
    ooc_array *a = NULL;
    ooc_output *model = NULL;
    ooc_chunk_output *labels = NULL;
    ooc_kmeans_model *m = NULL;
    /* Both outputs are reserved before any data is read (an existing file is refused now, not after the
     * fit), written beside their destinations, and renamed into place only when everything succeeded. */
    int rc = c->model_out && is_writer(c) ? ooc_output_open(c->model_out, c->force, &model, err) : 0;
    if (!rc)
        rc = ooc_array_open(c->input, &a, err);
    if (!rc && c->labels_out)
        rc = open_labels(c, a, &labels, err);
    rc = ooc_dist_agree(c->sp.dist, rc, err);
    if (!rc)
        rc = ooc_kmeans_fit(a, &c->sp, &c->kp, labels, &m, err);
    if (!rc && model)
        rc = ooc_kmeans_model_write(m, c->input, ooc_output_path(model), c->model_out, err);
    /* Both are made ready (synced, destinations checked again) and the signals checked before either is
     * renamed, so that a failure or an interruption leaves both destinations as they were. */
    if (!rc && labels)
        rc = ooc_chunk_output_ready(labels, err);
    if (!rc && model)
        rc = ooc_output_ready(model, err);
    rc = cli_stopped(rc, err);
    if (!rc && is_writer(c)) { /* the results are out before the outputs are in place: a run that cannot
                                  * report them fails */
        print_fit(c, m);
        rc = cli_stdout_check(err);
    }
    rc = ooc_dist_agree(c->sp.dist, rc, err);
    if (!rc) {
        rc = ooc_dist_agree(c->sp.dist, cli_begin_commit(err), err);
        if (!rc) { /* both in place or neither, even when a rename fails */
            ooc_output *both[2] = {labels ? ooc_chunk_output_detach(labels) : NULL, model};
            labels = NULL;
            model = NULL;
            rc = ooc_output_commit_all(both, 2, err);
        }
        cli_end_commit(rc);
    }
    rc = ooc_dist_agree(c->sp.dist, rc, err);
    ooc_chunk_output_abort(labels);
    ooc_output_abort(model);
    ooc_kmeans_model_free(m);
    ooc_array_free(a);
    return rc;
}

/* predict --json: fit's keys that a prediction has (the one pass labels: its time is the total). */
static void print_predict_json(const cli *c, const ooc_array_info *in, const ooc_kmeans_model *m,
                               const ooc_kmeans_prediction *done)
{
    ooc_stream_params sp = ooc_stream_params_resolved(&c->sp);
    json_t *o = json_pack("{s:I,s:I,s:I,s:o,s:I,s:I,s:{s:f,s:f},s:o,s:I}", "n_samples", (json_int_t)in->rows,
                          "n_features", (json_int_t)m->d, "n_clusters", (json_int_t)m->k, "inertia",
                          cli_json_number(done->inertia), "passes", (json_int_t)done->passes, "bytes_read",
                          (json_int_t)done->bytes_read, "seconds", "labels", done->seconds, "total",
                          done->seconds, "rows_per_second",
                          cli_json_number((double)in->rows / done->seconds), "peak_rss_bytes",
                          (json_int_t)ooc_memory_peak_rss());
    json_object_set_new(o, "parameters",
                        json_pack("{s:o,s:o,s:o,s:i,s:i,s:I}", "model", cli_json_text(c->model_in), "input",
                                  cli_json_text(c->input), "labels", cli_json_text(c->labels_out), "processes",
                                  ooc_dist_size(sp.dist), "threads", done->threads, "memory_limit",
                                  (json_int_t)sp.memory_limit));
    cli_print_json(o);
}

static int run_predict(cli *c, ooc_error *err)
{
    ooc_array *a = NULL;
    ooc_chunk_output *labels = NULL;
    ooc_kmeans_model *m = NULL;
    ooc_kmeans_prediction done = {0};
    int rc = ooc_kmeans_model_load(c->model_in, &m, err);
    if (!rc)
        rc = ooc_array_open(c->input, &a, err);
    if (!rc && ooc_array_get_info(a)->cols != m->d)
        rc = ooc_error_set(err, OOC_EINVAL, "%s: %llu features, but the model %s has %llu", c->input,
                           (unsigned long long)ooc_array_get_info(a)->cols, c->model_in, (unsigned long long)m->d);
    if (!rc)
        rc = open_labels(c, a, &labels, err);
    rc = ooc_dist_agree(c->sp.dist, rc, err);
    if (!rc)
        rc = ooc_kmeans_predict(a, &c->sp, m, labels, &done, err);
    if (!rc)
        rc = ooc_chunk_output_ready(labels, err);
    rc = cli_stopped(rc, err);
    if (!rc && is_writer(c))
        warn_inertia_range(done.inertia, ooc_array_get_info(a)->rows);
    if (!rc && is_writer(c) && c->json) /* as fit: reported before the labels are in place */
        print_predict_json(c, ooc_array_get_info(a), m, &done);
    else if (!rc && is_writer(c))
        printf("predict: %llu row%s labelled, inertia %.10g\n", (unsigned long long)ooc_array_get_info(a)->rows,
               ooc_array_get_info(a)->rows == 1 ? "" : "s", done.inertia);
    if (!rc && is_writer(c))
        rc = cli_stdout_check(err);
    rc = ooc_dist_agree(c->sp.dist, rc, err);
    if (!rc) {
        rc = ooc_dist_agree(c->sp.dist, cli_begin_commit(err), err);
        if (!rc) {
            rc = ooc_chunk_output_commit(labels, err);
            labels = NULL;
        }
        cli_end_commit(rc);
    }
    rc = ooc_dist_agree(c->sp.dist, rc, err);
    ooc_chunk_output_abort(labels);
    ooc_kmeans_model_free(m);
    ooc_array_free(a);
    return rc;
}

/* A slice bound as Python resolves it: negative counts from the end; clamped to [0, n]. */
static uint64_t resolve_bound(int64_t v, uint64_t n)
{
    uint64_t back = 0 - (uint64_t)v; /* |v| for v < 0, INT64_MIN too */
    if (v < 0)
        return back >= n ? 0 : n - back;
    return (uint64_t)v > n ? n : (uint64_t)v;
}

/* "A:B", "A:", ":B", "-10:" (half-open, from 0; syntax checked by parse()), as Python slices are. */
static void parse_rows(const char *s, uint64_t n, uint64_t *a, uint64_t *b)
{
    int64_t sa = 0, sb = 0;
    int has_a, has_b;
    split_rows(s, &sa, &sb, &has_a, &has_b);
    *a = has_a ? resolve_bound(sa, n) : 0;
    *b = has_b ? resolve_bound(sb, n) : n;
    if (*a > *b)
        *a = *b;
}

/* Labels go out 64 KiB at a time through cli_write_stdout(), which a signal stops between writes. */
typedef struct labels_out {
    char buf[1 << 16];
    size_t n;
} labels_out;

static int labels_flush(labels_out *o, ooc_error *err)
{
    int rc = cli_write_stdout(o->buf, o->n, err);
    o->n = 0;
    return rc;
}

static int run_labels(cli *c, ooc_error *err)
{
    char file[4096], dataset[1024];
    if (ooc_h5_split_name(c->input, "/labels", file, sizeof file, dataset, sizeof dataset) != 0)
        cli_usage_error("%s: not FILE.h5[:/dataset]", c->input);
    ooc_h5_reader *r;
    int rc = ooc_h5_reader_open(file, dataset, &r, err);
    if (rc)
        return rc;
    const ooc_h5_info *in = ooc_h5_reader_info(r);
    uint64_t a = 0, b = in->rows;
    if (in->rank != 1 || in->is_float) {
        rc = ooc_error_set(err, OOC_EFORMAT, "%s: not a 1-D integer labels dataset", ooc_h5_reader_name(r));
    } else if (c->chunk) {
        uint64_t chunk = cli_count("--chunk", c->chunk, 0), rows = in->chunked ? in->chunk_rows : in->rows;
        uint64_t nchunks = rows ? (in->rows + rows - 1) / rows : 0;
        if (chunk >= nchunks) {
            rc = ooc_error_set(err, OOC_EINVAL, "%s: chunk %llu: %s %llu chunk%s", ooc_h5_reader_name(r),
                               (unsigned long long)chunk, nchunks == 1 ? "there is" : "there are",
                               (unsigned long long)nchunks, nchunks == 1 ? "" : "s");
        } else {
            a = chunk * rows;
            b = a + rows < in->rows ? a + rows : in->rows;
        }
    } else if (c->rows) {
        parse_rows(c->rows, in->rows, &a, &b);
    }
    /* In blocks, so printing all labels of a large file needs no more memory than a block. Read as int64:
     * HDF5 would clamp wider values to int32's range, and a label outside it is no label of ours. */
    enum { BLOCK = 1 << 20 };
    int64_t *buf = rc ? NULL : malloc(sizeof *buf * (b - a < BLOCK ? (b - a ? b - a : 1) : BLOCK));
    labels_out *out = rc ? NULL : malloc(sizeof *out);
    int out_rc = 0; /* the output's own failure: nothing more goes out */
    if (!rc && (!buf || !out))
        rc = ooc_error_set(err, OOC_ENOMEM, "labels: out of memory");
    if (out)
        out->n = 0;
    for (uint64_t at = a; !rc && at < b; at += BLOCK) {
        uint64_t n = b - at < BLOCK ? b - at : BLOCK;
        rc = ooc_h5_reader_read_rows(r, at, n, OOC_INT64, buf, err);
        for (uint64_t i = 0; !rc && i < n; i++) {
            if (buf[i] < INT32_MIN || buf[i] > INT32_MAX)
                rc = ooc_error_set(err, OOC_EFORMAT, "%s: row %llu: the label is outside int32's range",
                                   ooc_h5_reader_name(r), (unsigned long long)(at + i));
            else
                out->n += (size_t)snprintf(out->buf + out->n, 16, "%d\n", (int)buf[i]);
            if (!rc && out->n > sizeof out->buf - 16)
                rc = out_rc = labels_flush(out, err);
        }
    }
    if (out && !out_rc) { /* the labels read before a failure are printed too */
        ooc_error ignored;
        int flushed = labels_flush(out, rc ? &ignored : err);
        rc = rc ? rc : flushed;
    }
    free(out);
    free(buf);
    ooc_h5_reader_close(r);
    return rc;
}

/* Before any library starts. Debian 12's OpenBLAS (0.3.21, built for 64 threads at most) maps a 128 MiB
 * buffer for each of its threads as it loads, one per CPU or per OMP_NUM_THREADS if fewer, and when an
 * address-space limit (ulimit -v, or -d) leaves no room for them it retries forever (OpenMathLib/OpenBLAS issue
 * 5289): this program would hang before main(). The loader runs a program's
 * .preinit_array before any library's constructor, so this looks for that room first (a map of that size,
 * never touched, then unmapped) and, when it is not there, says so and exits 1. It reads the environment
 * from envp and writes with write(): the C library itself is not initialised yet. */
static void refuse_openblas_hang(int argc, char **argv, char **envp)
{
    (void)argc, (void)argv;
    if (!ooc_memory_address_limited())
        return;
    long cpus = sysconf(_SC_NPROCESSORS_CONF), threads = cpus > 0 ? cpus : 1;
    for (char **e = envp; e && *e; e++) {
        long omp = strncmp(*e, "OMP_NUM_THREADS=", 16) == 0 ? atol(*e + 16) : 0;
        threads = omp > 0 && omp < threads ? omp : threads;
    }
    threads = threads < 64 ? threads : 64;
    size_t need = (size_t)threads << 27;
    void *room = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (room != MAP_FAILED) {
        munmap(room, need);
        return;
    }
    char msg[400];
    int len = snprintf(msg, sizeof msg,
                       "kmeans-ooc: error: the address-space limit (ulimit -v or -d) leaves no room for the %ld MiB "
                       "OpenBLAS maps as it loads (128 MiB for each of %ld threads; OMP_NUM_THREADS may lower "
                       "them), where it would wait forever: raise the limit\n",
                       threads * 128, threads);
    if (len > 0) /* nothing more to do if the write fails */
        (void)!write(STDERR_FILENO, msg, (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1);
    _exit(1);
}
__attribute__((section(".preinit_array"), used)) static void (*const openblas_load_check)(int, char **,
                                                                                        char **) = refuse_openblas_hang;

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    cli c = {.kp = ooc_kmeans_params_default(), .sp = ooc_stream_params_default()};
    parse(argc, argv, &c);
    c.kp.on_iteration = on_iteration;
    c.kp.on_note = on_note;
    c.kp.user = &c;
    cli_progress_init(&c.bar, c.quiet, c.verbose);
    c.sp.progress = cli_progress_update;
    c.sp.progress_user = &c.bar;
    ooc_error err;
    ooc_error_clear(&err);
    ooc_dist *dist = NULL;
    if (ooc_dist_init(&argc, &argv, &dist, &err) != 0)
        return cli_fail(&err);
    c.sp.dist = dist;
    if (cli_same_command_line(dist, argc, argv, &err) != 0) {
        cli_fail(&err);
        ooc_dist_finalize(dist);
        return CLI_EXIT_USAGE;
    }
    if (!is_writer(&c)) { /* process 0 speaks for all */
        c.verbose = 0;
        c.json = 0;
        c.sp.progress = NULL;
    }
    c.sp.memory_limit = ooc_stream_params_resolved(&c.sp).memory_limit; /* once: --json reports this one */
    int rc = strcmp(c.command, "fit") == 0       ? run_fit(&c, &err)
             : strcmp(c.command, "predict") == 0 ? run_predict(&c, &err)
             : is_writer(&c)                     ? run_labels(&c, &err)
                                                 : 0;
    cli_progress_finish(&c.bar);
    int status = rc ? cli_fail(&err) : cli_stdout_status(CLI_EXIT_OK);
    ooc_dist_finalize(dist);
    return status;
}
