#define _GNU_SOURCE /* realpath, PATH_MAX, pthread_setattr_default_np */
#include "cli_common.h"

#include "ooc_blobs.h"
#include "ooc_cancel.h"
#include "ooc_clock.h"
#include "ooc_dist.h"
#include "ooc_h5.h"
#include "ooc_output.h"
#include "ooc_threads.h"
#include "ooc_units.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *program = "ooc";
/* Under mpirun every process parses the same options and meets the same errors: process 0 says them. */
static int speaks = 1;

uint64_t cli_memory_limit(const char *value)
{
    uint64_t v;
    int rc = ooc_parse_size(value, &v);
    if (rc == OOC_ERANGE)
        cli_usage_error("--memory-limit: '%s' is too large (more than 16 EiB)", value);
    if (rc != 0 || v == 0)
        cli_usage_error("--memory-limit: '%s' is not a memory size (e.g. 512M, 2G)", value);
    return v;
}

const char *cli_one_operand(int argc, char **argv, const char *what)
{
    if (optind == argc)
        cli_usage_error("missing %s (see '%s --help')", what, program);
    if (optind != argc - 1)
        cli_usage_error("one %s expected, got '%s' too (see '%s --help')", what, argv[argc - 1], program);
    return argv[optind];
}

void cli_file_name(const char *what, const char *spec)
{
    size_t n = strlen(spec);
    if (n == 0)
        cli_usage_error("%s: an empty file name", what);
    if (spec[n - 1] == ':')
        cli_usage_error("%s: '%s' ends with ':' (a file name, with no dataset, is expected)", what, spec);
}

void cli_output_name(const char *option, const char *spec, const char *default_dataset)
{
    char file[4096], dataset[1024];
    if (!default_dataset) {
        cli_file_name(option, spec);
        return;
    }
    if (ooc_h5_split_name(spec, default_dataset, file, sizeof file, dataset, sizeof dataset) != 0)
        cli_usage_error("%s: '%s' is not FILE.h5[:/dataset]", option, spec);
    size_t n = strlen(dataset);
    const char *last = strrchr(dataset, '/');
    /* HDF5 names no object "." or "..": a path ending so names a group (creating it failed as an I/O error) */
    if (dataset[n - 1] == '/' || strcmp(last, "/.") == 0 || strcmp(last, "/..") == 0)
        cli_usage_error("%s: '%s' names a group, not a dataset", option, spec);
}

void cli_input_name(const char *input)
{
    ooc_blobs_params p;
    ooc_error err;
    char file[4096], dataset[1024];
    if (strncmp(input, "blobs:", 6) != 0) {
        if (ooc_h5_split_name(input, "/X", file, sizeof file, dataset, sizeof dataset) != 0)
            cli_usage_error("INPUT: '%s' is not FILE.h5[:/dataset] or blobs:...", input);
        return;
    }
    if (ooc_blobs_parse(input, &p, &err) != 0) /* the message names the item */
        cli_usage_error("%s", err.msg);
    if (ooc_blobs_params_check(&p, &err) != 0)
        cli_usage_error("%s: %s", input, err.msg);
}

/* The file part of FILE.h5[:/dataset], canonical: the directory resolved (it exists even when the file does
 * not yet), so "./a.h5", "a.h5" and "a.h5:/labels" name the same file. */
static void canonical_file(const char *spec, char *out, size_t size)
{
    char file[PATH_MAX], ds[1024], dir[PATH_MAX], base[PATH_MAX], real[PATH_MAX];
    if (ooc_h5_split_name(spec, "/", file, sizeof file, ds, sizeof ds) != 0) {
        snprintf(out, size, "%s", spec);
        return;
    }
    snprintf(dir, sizeof dir, "%s", file);
    snprintf(base, sizeof base, "%s", file);
    if (realpath(dirname(dir), real))
        snprintf(out, size, "%s/%s", real, basename(base));
    else
        snprintf(out, size, "%s", file);
}

int cli_same_file(const char *a_spec, const char *b_spec)
{
    char a[2 * PATH_MAX], b[2 * PATH_MAX];
    canonical_file(a_spec, a, sizeof a);
    canonical_file(b_spec, b, sizeof b);
    struct stat sa, sb; /* hard links too */
    return strcmp(a, b) == 0 ||
           (stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
}

int cli_reads_from(const char *in_spec, const char *default_dataset, const char *out_spec)
{
    char in[PATH_MAX], dataset[1024], out[PATH_MAX], unused[1024];
    if (cli_same_file(in_spec, out_spec))
        return 1;
    return strncmp(in_spec, "blobs:", 6) != 0 &&
           ooc_h5_split_name(in_spec, default_dataset, in, sizeof in, dataset, sizeof dataset) == 0 &&
           ooc_h5_split_name(out_spec, "/", out, sizeof out, unused, sizeof unused) == 0 &&
           ooc_h5_dataset_uses_file(in, dataset, out);
}

/* What a signal that stops the run at once says on its way out, the first or a second one, written ready (a
 * handler may only write(2) it). */
static const int handled[] = {SIGINT, SIGTERM, SIGHUP};
enum { HANDLED = sizeof handled / sizeof handled[0] };
static char stop_line[2][HANDLED][256];
/* The run's error line is out (put_line()): a signal during the exit that follows adds no second one. */
static volatile sig_atomic_t said_error;
/* A progress bar's line is on stderr, unfinished (there is one bar at a time): a line said meanwhile (an
 * error, from a handler too) starts on a line of its own. */
static volatile sig_atomic_t bar_line_open;
static int under_mpirun;

/* The run's outputs are going into place (or are in place): signals no longer stop it. A fatal signal of
 * the others that comes meanwhile is raised once the renames are done. */
static volatile sig_atomic_t finishing, deferred;

int cli_begin_commit(ooc_error *err)
{
    finishing = 1;
    int rc = ooc_cancel_check(err); /* a signal before this point stops the run; from here on none does */
    finishing = !rc;
    return rc;
}

void cli_end_commit(int rc)
{
    finishing = !rc;
    if (deferred) {
        ooc_output_remove_all_temporaries();
        signal(deferred, SIG_DFL);
        raise(deferred);
    }
}

static void on_signal(int signo)
{
    if (finishing)
        return;
    int again = ooc_cancel_requested() != 0;
    if (again || (ooc_h5_busy() && !under_mpirun)) {
        /* A second signal: the user insists. Or HDF5 is at work, where the run cannot see the first (a damaged
         * file kept it there for ever, past timeout's SIGTERM; under mpirun, which follows its SIGTERM with
         * SIGKILL, a process leaving at once would leave before process 0 says why). Leave nothing partial
         * behind and go. */
        ooc_output_remove_all_temporaries();
        for (int i = 0; i < HANDLED && speaks && !said_error; i++)
            if (handled[i] == signo && ((bar_line_open && write(STDERR_FILENO, "\n", 1) < 0) ||
                                        write(STDERR_FILENO, stop_line[again][i], strlen(stop_line[again][i])) < 0))
                break;
        _exit(128 + signo);
    }
    /* Under mpirun a signal comes when a process has died too: mpirun sends SIGTERM, then SIGKILL a second
     * later, to processes that may be blocked in a collective with the dead one and never get to clean up.
     * The run stops either way: its temporaries go now. */
    if (under_mpirun)
        ooc_output_remove_all_temporaries();
    ooc_cancel_request(signo);
}

/* Signals whose default action ends the process, other than the three above: the reader of stdout gone
 * (`| head`, a closed pipe: results print before the outputs are renamed into place, so they are still
 * temporaries then), Ctrl-\ (SIGQUIT), a CPU-time limit, a stray user signal or alarm. End as the default action
 * does (a core dump for SIGQUIT), without a word, but with no temporary left behind. */
static const int fatal[] = {SIGPIPE, SIGQUIT, SIGXCPU, SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM};

static void on_fatal_signal(int signo)
{
    if (finishing) {
        deferred = signo;
        return;
    }
    ooc_output_remove_all_temporaries();
    signal(signo, SIG_DFL);
    raise(signo); /* blocked until this handler returns, then fatal */
}

/* A crash inside HDF5 (the thread was in one of ooc's HDF5 calls) is a damaged file: HDF5 1.10 crashes on
 * some, h5dump and h5py too. Said in one line, as any bad input is, exit 1, temporaries removed. Any other
 * crash is a bug of ours: it goes on to the handler before (AddressSanitizer's report) or the default action.
 * On a stack of its own, so that a recursion that overflowed the stack is caught too. */
static const int crashes[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
enum { CRASHES = sizeof crashes / sizeof crashes[0] };
static struct sigaction crash_before[CRASHES];
static char crash_stack[1 << 16];

static void write_stderr(const char *text)
{
    if (write(STDERR_FILENO, text, strlen(text)) < 0)
        return; /* nothing to be done in a handler */
}

static void on_crash(int signo, siginfo_t *info, void *context)
{
    const char *file = ooc_h5_crash_file();
    ooc_output_remove_all_temporaries();
    if (file) {
        if (speaks) {
            write_stderr(bar_line_open ? "\n" : "");
            write_stderr(program);
            write_stderr(": error: ");
            write_stderr(*file ? file : "an HDF5 file");
            write_stderr(signo == SIGABRT ? ": HDF5 aborted reading it" : ": HDF5 crashed reading it");
            write_stderr(": the file is damaged\n");
        }
        _exit(CLI_EXIT_FAILURE);
    }
    for (int i = 0; i < CRASHES; i++) {
        if (crashes[i] != signo)
            continue;
        if (crash_before[i].sa_flags & SA_SIGINFO) {
            crash_before[i].sa_sigaction(signo, info, context);
        } else if (crash_before[i].sa_handler != SIG_IGN && crash_before[i].sa_handler != SIG_DFL) {
            crash_before[i].sa_handler(signo);
        } else {
            signal(signo, SIG_DFL);
            raise(signo); /* blocked until this handler returns, then fatal */
        }
    }
}

static void catch_crashes(void)
{
    stack_t alt = {.ss_sp = crash_stack, .ss_size = sizeof crash_stack};
    sigaltstack(&alt, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_crash;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < CRASHES; i++)
        sigaction(crashes[i], &sa, &crash_before[i]);
}

/* Handle signo with sa, unless it came ignored (nohup, a shell's trap '' or a parent's SIG_IGN for SIGPIPE):
 * the tools keep that choice, as the usual Unix tools do. */
static void take_signal(int signo, const struct sigaction *sa)
{
    struct sigaction before;
    if (sigaction(signo, NULL, &before) == 0 && !(before.sa_flags & SA_SIGINFO) && before.sa_handler == SIG_IGN)
        return;
    sigaction(signo, sa, NULL);
}

static void put_line(const char *kind, const char *msg);

/* At exit: temporaries still there mean a library ended the run (libgomp when it cannot start a thread: a
 * process limit, OMP_STACKSIZE too small), having said why on a line of its own. */
static void on_library_exit(void)
{
    if (ooc_output_remove_all_temporaries() && speaks && !said_error)
        put_line("error", "the run was ended by a library (see the line above); no output was written");
}

/* Stacks of at least STACK_NEED: HDF5 and the passes use a few hundred KiB; a small `ulimit -s` (which also
 * sets the threads' default stack) crashed the tools, or, inside HDF5, was reported as a damaged file. The
 * soft limit is raised to it where the hard one allows, the threads' default set to it; with a hard limit
 * below it, the run is refused. */
#define STACK_NEED ((size_t)2 << 20)
/* What the threads need, measured: 128 KiB ran every tool on every input kind; 32 KiB crashed chunkgen. */
#define THREAD_STACK_NEED ((size_t)512 << 10)

/* OMP_STACKSIZE (a size, KiB unless it says B, K, M or G) or GOMP_STACKSIZE (KiB), as libgomp reads them
 * before main: its threads' stacks; 0 when neither is set or valid (libgomp ignores those then too). */
static uint64_t omp_stack_size(const char **name)
{
    static const char *const vars[] = {"OMP_STACKSIZE", "GOMP_STACKSIZE"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = getenv(vars[i]);
        uint64_t n;
        if (!v || !*v)
            continue;
        if (strspn(v, "0123456789") == strlen(v)) { /* a number alone counts KiB */
            if (ooc_parse_u64(v, &n) != 0 || n > UINT64_MAX >> 10)
                continue;
            n <<= 10;
        } else if (i == 1 || ooc_parse_size(v, &n) != 0) {
            continue;
        }
        *name = vars[i];
        return n;
    }
    return 0;
}

static void ensure_stack(void)
{
    const char *var = NULL;
    uint64_t omp = omp_stack_size(&var);
    if (omp && omp < THREAD_STACK_NEED) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s=%s: threads need %zu KiB of stack", var, getenv(var),
                 THREAD_STACK_NEED / 1024);
        if (speaks)
            put_line("error", msg);
        exit(CLI_EXIT_FAILURE);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < STACK_NEED) {
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < STACK_NEED) {
            char msg[256];
            snprintf(msg, sizeof msg, "the stack limit is %llu KiB (ulimit -s): the tools need %zu KiB",
                     (unsigned long long)rl.rlim_max / 1024, STACK_NEED / 1024);
            if (speaks)
                put_line("error", msg);
            exit(CLI_EXIT_FAILURE);
        }
        rl.rlim_cur = STACK_NEED;
        setrlimit(RLIMIT_STACK, &rl);
    }
    pthread_attr_t attr;
    size_t size = 0;
    if (pthread_getattr_default_np(&attr) == 0) {
        if (pthread_attr_getstacksize(&attr, &size) == 0 && size < STACK_NEED &&
            pthread_attr_setstacksize(&attr, STACK_NEED) == 0)
            pthread_setattr_default_np(&attr);
        pthread_attr_destroy(&attr);
    }
}

void cli_init(const char *name)
{
    const char *slash = strrchr(name, '/');
    program = slash ? slash + 1 : name;
    speaks = ooc_dist_launch_rank() <= 0;
    under_mpirun = ooc_dist_launch_rank() >= 0;
    ensure_stack(); /* first: the rest formats lines on the stack (a soft ulimit -s 16 crashed in snprintf) */
    opterr = 0; /* getopt's own messages would make a second line: cli_bad_option() says it once */
    /* The documented command lines put options after the input ("fit INPUT -k 8"), which GNU getopt takes
     * unless POSIXLY_CORRECT asks it to stop at the first operand. */
    unsetenv("POSIXLY_CORRECT");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < HANDLED; i++) { /* SIGHUP: the terminal closed, a clean stop too (exit 129) */
        snprintf(stop_line[0][i], sizeof stop_line[0][i], "%s: error: interrupted: signal %d (%s)\n", program,
                 handled[i], ooc_signal_name(handled[i]));
        snprintf(stop_line[1][i], sizeof stop_line[1][i], "%s: error: interrupted: signal %d (%s) again, stopped at once\n",
                 program, handled[i], ooc_signal_name(handled[i]));
        take_signal(handled[i], &sa);
    }
    sa.sa_handler = on_fatal_signal;
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        take_signal(fatal[i], &sa);
    signal(SIGXFSZ, SIG_IGN);
    catch_crashes();
    atexit(on_library_exit);
    /* Blocks of 512 KiB or more are mappings of their own, given back when freed. By default glibc raises
     * that threshold to the size of the largest block freed, after which HDF5's buffers for decoding chunks
     * (gzip: a few MB each, in every thread's arena) stay resident once freed: 6 MiB over a 200M limit. */
    mallopt(M_MMAP_THRESHOLD, 512 * 1024);
}

int cli_same_command_line(const ooc_dist *d, int argc, char **argv, ooc_error *err)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a over the arguments and their ends */
    for (int i = 0; i < argc; i++)
        for (const unsigned char *c = (const unsigned char *)argv[i];; c++) {
            h = (h ^ *c) * 1099511628211u;
            if (!*c)
                break;
        }
    uint64_t first = h;
    ooc_dist_bcast(d, &first, sizeof first, 0);
    int rc = first == h ? 0
                        : ooc_error_set(err, OOC_EINVAL, "the processes were started with different command lines "
                                                         "(mpirun A : B); every process must run the same one");
    return ooc_dist_agree(d, rc, err);
}

void cli_one_process(void)
{
    if (!speaks)
        exit(CLI_EXIT_OK);
}

/* "PROGRAM: KIND: message" on stderr as one line: control characters (a newline in a value, say) escaped. */
static void put_line(const char *kind, const char *msg)
{
    fprintf(stderr, "%s%s: %s: ", bar_line_open ? "\n" : "", program, kind);
    bar_line_open = 0;
    for (const unsigned char *c = (const unsigned char *)msg; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            fprintf(stderr, "\\x%02x", *c);
        else
            fputc(*c, stderr);
    fputc('\n', stderr);
    if (strcmp(kind, "error") == 0)
        said_error = 1;
}

/* put_line(), from process 0 only. */
static void say(const char *kind, const char *fmt, va_list ap)
{
    if (!speaks)
        return;
    char msg[8192]; /* usage errors quote values, paths among them */
    vsnprintf(msg, sizeof msg, fmt, ap);
    put_line(kind, msg);
}

void cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("error", fmt, ap);
    va_end(ap);
    /* Under mpirun, before MPI is up: the silent processes leave with 0, or mpirun, seeing one of them fail
     * first, may tear the job down before it has forwarded process 0's message (1 run in 20 lost it). The
     * job's status is process 0's 2. */
    exit(speaks ? CLI_EXIT_USAGE : CLI_EXIT_OK);
}

void cli_warning(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("warning", fmt, ap);
    va_end(ap);
}

/* The long options an abbreviation such as "--m" may stand for, when more than one (getopt_long calls them
 * unknown, as an unknown option, with opterr off), into list. */
static int ambiguous(const char *arg, const struct option *options, char *list, size_t size)
{
    size_t n = strcspn(arg + 2, "="), used = 0;
    int matches = 0;
    for (const struct option *o = options; o->name; o++) {
        if (strncmp(o->name, arg + 2, n) != 0)
            continue;
        if (strlen(o->name) == n)
            return 0; /* an exact name is never ambiguous */
        used += (size_t)snprintf(list + used, used < size ? size - used : 0, "%s--%s", matches++ ? ", " : "", o->name);
    }
    return matches > 1;
}

void cli_bad_option(int opt, char *const *argv, const struct option *options)
{
    const char *arg = argv[optind - 1];
    char list[1024];
    if (strncmp(arg, "--", 2) == 0 && arg[2] && ambiguous(arg, options, list, sizeof list))
        cli_usage_error("%.*s: ambiguous option, could be %s (see '%s --help')", (int)(2 + strcspn(arg + 2, "=")),
                        arg, list, program);
    if (opt == ':')
        cli_usage_error("%s: missing value (see '%s --help')", arg, program);
    /* getopt_long sets optopt to a known long option's value when it was given a value it takes none of. */
    const char *eq = strchr(arg, '=');
    if (strncmp(arg, "--", 2) == 0 && optopt && eq)
        cli_usage_error("%.*s: takes no value (see '%s --help')", (int)(eq - arg), arg, program);
    if (strncmp(arg, "--", 2) != 0 && optopt > 0 && optopt < 128)
        cli_usage_error("-%c: unknown option (see '%s --help')", optopt, program);
    cli_usage_error("%s: unknown option (see '%s --help')", arg, program);
}

int cli_stopped(int rc, ooc_error *err)
{
    /* Whatever failed after the signal: under mpirun its handler removes the temporaries at once, and making
     * the outputs ready then finds them gone. */
    return ooc_cancel_requested() && (!rc || err->code != OOC_EINTERRUPTED) ? ooc_cancel_check(err) : rc;
}

int cli_fail(const ooc_error *failed)
{
    ooc_error e = *failed;
    cli_stopped(e.code, &e);
    if (speaks)
        put_line("error", e.msg[0] ? e.msg : ooc_strerror(e.code));
    /* Under MPI, processes the signal did not reach stop with the one it reached: all exit alike. */
    int signo = ooc_cancel_requested() ? ooc_cancel_requested() : ooc_cancel_signal_of(&e);
    if (e.code == OOC_EINTERRUPTED && signo)
        return 128 + signo;
    return CLI_EXIT_FAILURE;
}

/* The first failure of cli_print_json(), for cli_stdout_check() to report. */
static ooc_error json_failed;

int cli_write_stdout(const char *text, size_t n, ooc_error *err)
{
    if (fflush(stdout) != 0) /* what stdio holds goes first */
        return cli_stdout_check(err);
    for (size_t done = 0; done < n;) {
        ssize_t w = write(STDOUT_FILENO, text + done, n - done);
        int e = errno, rc = ooc_cancel_check(err);
        if (rc)
            return rc;
        if (w < 0 && e != EINTR)
            return ooc_error_set(err, e == ENOSPC ? OOC_ENOSPACE : OOC_EIO, "standard output: %s", strerror(e));
        done += w > 0 ? (size_t)w : 0;
    }
    return 0;
}

void cli_print_json(json_t *o)
{
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!text && !json_failed.code)
        ooc_error_set(&json_failed, OOC_ENOMEM, "standard output: out of memory for the JSON");
    else if (text && !json_failed.code && !cli_write_stdout(text, strlen(text), &json_failed))
        cli_write_stdout("\n", 1, &json_failed);
    free(text);
}

int cli_stdout_check(ooc_error *err)
{
    if (json_failed.code) {
        if (err)
            *err = json_failed;
        return json_failed.code;
    }
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout))
        return 0;
    return ooc_error_set(err, OOC_EIO, "standard output: %s", errno ? strerror(errno) : "write error");
}

int cli_stdout_status(int status)
{
    ooc_error err;
    if (cli_stdout_check(&err) == 0)
        return status;
    int failed = cli_fail(&err);
    return status == CLI_EXIT_OK ? failed : status;
}

uint64_t cli_count(const char *option, const char *value, uint64_t min)
{
    uint64_t v;
    int rc = ooc_parse_count(value, &v);
    if (rc == OOC_ERANGE) /* past 64 bits: the option's own limit, lower, is said when a value passes it */
        cli_usage_error("%s: '%s' is too large", option, value);
    if (rc)
        cli_usage_error("%s: '%s' is not a count (e.g. 1000, 1e6, 10M)", option, value);
    if (v < min)
        cli_usage_error("%s: '%s' must be at least %llu", option, value, (unsigned long long)min);
    return v;
}

uint64_t cli_u64(const char *option, const char *value, uint64_t max)
{
    uint64_t v;
    int rc = ooc_parse_u64(value, &v);
    if (rc == OOC_ERANGE || (rc == 0 && v > max))
        cli_usage_error("%s: '%s' is too large (at most %llu)", option, value, (unsigned long long)max);
    if (rc)
        cli_usage_error("%s: '%s' is not a non-negative integer", option, value);
    return v;
}

double cli_double(const char *option, const char *value)
{
    double v;
    int rc = ooc_parse_double(value, &v);
    if (rc == OOC_ERANGE) /* 1e999, inf, nan */
        cli_usage_error("%s: '%s' is not a finite number a double holds", option, value);
    if (rc)
        cli_usage_error("%s: '%s' is not a number", option, value);
    return v;
}

int cli_threads(const char *option, const char *value)
{
    uint64_t v;
    if (ooc_parse_count(value, &v) != 0 || v < 1 || v > 4096) /* written as any count is: 2, +2, 2.0 */
        cli_usage_error("%s: '%s' must be a thread count from 1 to 4096", option, value);
    return (int)v;
}

void cli_progress_init(cli_progress *bar, int quiet, int verbose)
{
    memset(bar, 0, sizeof *bar);
    bar->enabled = !quiet && (verbose || isatty(STDERR_FILENO));
}

void cli_progress_update(const ooc_progress *p, void *user)
{
    cli_progress *bar = user;
    double t = ooc_clock_seconds();
    int last = p->chunks_done == p->chunks_total;
    if (!bar->enabled || (!last && t - bar->last_draw < 0.2))
        return;
    bar->last_draw = t;
    enum { WIDTH = 24 };
    char cells[WIDTH + 1];
    int filled = p->chunks_total ? (int)(WIDTH * p->chunks_done / p->chunks_total) : WIDTH;
    for (int i = 0; i < WIDTH; i++)
        cells[i] = i < filled ? '#' : '.';
    cells[WIDTH] = '\0';
    double secs = p->seconds > 1e-9 ? p->seconds : 1e-9;
    double eta = p->chunks_done ? secs * (double)(p->chunks_total - p->chunks_done) / (double)p->chunks_done : 0;
    char line[256];
    int len = snprintf(line, sizeof line, "%s [%s] %llu/%llu chunks  %.3g Mrows/s  %.0f MB/s  ETA %d:%02d", p->phase,
                       cells, (unsigned long long)p->chunks_done, (unsigned long long)p->chunks_total,
                       (double)p->rows_done / secs / 1e6, (double)p->bytes_done / secs / 1e6, (int)eta / 60,
                       (int)eta % 60);
    len = len < 0 ? 0 : len < (int)sizeof line ? len : (int)sizeof line - 1;
    /* Within the terminal's width (a wrapped line is not redrawn by \r), and over all of the last one. */
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && len > ws.ws_col - 1)
        len = ws.ws_col - 1;
    fprintf(stderr, "\r%.*s%*s", len, line, bar_line_open && bar->width > len ? bar->width - len : 0, "");
    bar->width = len;
    bar_line_open = 1;
    if (last) /* each pass keeps its finished line */
        cli_progress_finish(bar);
}

void cli_progress_finish(cli_progress *bar)
{
    if (bar_line_open)
        fputc('\n', stderr);
    bar->width = bar_line_open = 0;
}

void cli_version(void)
{
    printf("%s (ooc) %s\n", program, OOC_VERSION);
}

void cli_print_and_exit(void (*print)(void))
{
    if (speaks)
        print();
    exit(cli_stdout_status(CLI_EXIT_OK));
}

json_t *cli_json_number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* Bytes of the UTF-8 character at s (RFC 3629: no overlong forms, surrogates or code points past U+10FFFF),
 * or 0 when it is not one. */
static size_t utf8_char(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
    unsigned char lo = s[0] == 0xE0 ? 0xA0 : s[0] == 0xF0 ? 0x90 : 0x80;
    unsigned char hi = s[0] == 0xED ? 0x9F : s[0] == 0xF4 ? 0x8F : 0xBF;
    for (size_t i = 1; i < n; i++)
        if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xBF))
            return 0;
    return n;
}

json_t *cli_json_text(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t len = strlen(s);
    char *fixed = malloc(3 * len + 1); /* U+FFFD (3 bytes) for each byte at most */
    if (!fixed)
        return json_null();
    size_t out = 0;
    for (const unsigned char *c = (const unsigned char *)s; *c;) {
        size_t n = utf8_char(c);
        if (n) {
            memcpy(fixed + out, c, n);
            out += n;
            c += n;
        } else {
            memcpy(fixed + out, "\xEF\xBF\xBD", 3);
            out += 3;
            c++;
        }
    }
    fixed[out] = '\0';
    j = json_string(fixed);
    free(fixed);
    return j ? j : json_null();
}
