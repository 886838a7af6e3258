/* cli_common.h: what every ooc tool shares: error lines and exit statuses, signals, the progress bar. */
#ifndef OOC_CLI_COMMON_H
#define OOC_CLI_COMMON_H

#include "ooc_dist.h"
#include "ooc_error.h"
#include "ooc_progress.h"

#include <jansson.h>
#include <stdint.h>

enum { CLI_EXIT_OK = 0, CLI_EXIT_FAILURE = 1, CLI_EXIT_USAGE = 2 };

/* cli_init(): remember the program name for messages; SIGINT/SIGTERM/SIGHUP request a clean stop (a second one
 * removes temporary outputs and exits at once); SIGXFSZ is ignored so a file size limit is a write error. */
void cli_init(const char *program);

/* cli_same_command_line(): 0 when every process of the run was started with this argv (always, alone); under
 * an MPMD launch (mpirun A : B) with other options in some process, OOC_EINVAL with its message in all, which
 * then must stop: their passes would exchange buffers of other sizes. Collective. */
int cli_same_command_line(const ooc_dist *d, int argc, char **argv, ooc_error *err);

/* cli_one_process(): for tools that run as one process: under mpirun, every process but 0 leaves now
 * (status 0), so that one writes and prints. */
void cli_one_process(void);

/* cli_usage_error(): "PROGRAM: error: WHAT: WHY" and exit 2. */
_Noreturn void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cli_warning(): "PROGRAM: warning: WHAT" on stderr (process 0 only); the run goes on. */
void cli_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cli_bad_option(): for getopt_long's '?' or ':' (optstring starting with ':'): one error line naming the
 * option (and, for an ambiguous abbreviation, those of `options` it may stand for), exit 2. */
struct option;
_Noreturn void cli_bad_option(int opt, char *const *argv, const struct option *options);

/* cli_fail(): print err as "PROGRAM: error: ..." and return the exit status for it: 128 + signal after an
 * interrupt, else 1. Under mpirun, only process 0 prints errors (this one and cli_usage_error()'s). */
int cli_fail(const ooc_error *err);

/* cli_stopped(): OOC_EINTERRUPTED in err when a signal has reached the run, whether rc is 0 or the code of a
 * failure that followed the signal; else rc. */
int cli_stopped(int rc, ooc_error *err);

/* cli_begin_commit(): just before the run's outputs are renamed into place (in every process of a distributed
 * run, whose agreement follows): the last check for a signal (OOC_EINTERRUPTED); from here on SIGINT, SIGTERM
 * and SIGHUP no longer stop the run, and other fatal signals wait for cli_end_commit(). A second signal used
 * to exit (130) between the renames or after them, leaving one output in place and not the other, or outputs
 * in place after a run that said it was interrupted. */
int cli_begin_commit(ooc_error *err);

/* cli_end_commit(): the renames are done (rc 0) or failed; a fatal signal that came meanwhile acts now. */
void cli_end_commit(int rc);

/* cli_write_stdout(): n bytes to stdout with write(2), after what stdio holds: a signal stops the output
 * between writes (OOC_EINTERRUPTED), where stdio retried a write a signal cut short and stayed blocked on a
 * pipe no one read. */
int cli_write_stdout(const char *text, size_t n, ooc_error *err);

/* cli_print_json(): o and a newline through cli_write_stdout(); frees o. A failure is cli_stdout_check()'s. */
void cli_print_json(json_t *o);

/* cli_stdout_check(): whether what the program printed on stdout could all be written (not on a full disk,
 * nor to a closed pipe with SIGPIPE ignored): 0, or OOC_EIO in err, "standard output: WHY".
 * cli_stdout_status(): status, or when that fails, its error printed and 1. */
int cli_stdout_check(ooc_error *err);
int cli_stdout_status(int status);

/* Option values: each exits with status 2 and a message naming the option on a bad value. */
uint64_t cli_count(const char *option, const char *value, uint64_t min);
uint64_t cli_u64(const char *option, const char *value, uint64_t max);
double cli_double(const char *option, const char *value);
int cli_threads(const char *option, const char *value);
uint64_t cli_memory_limit(const char *value); /* --memory-limit: a size (512M, 2G), not 0 */

/* cli_file_name(): a plain file named by `what` ("--model", "MODEL.h5"): an empty name, or one ending in ':'
 * (FILE.h5: with its dataset left out, where none is taken), exits 2 now. */
void cli_file_name(const char *what, const char *spec);

/* cli_output_name(): an output named by option ("--labels"; "OUTPUT" for an operand): a file
 * (cli_file_name()), or with default_dataset FILE.h5[:/dataset]. An empty file or dataset name, or the root
 * group, exits 2 now, before any data is read. */
void cli_output_name(const char *option, const char *spec, const char *default_dataset);

/* cli_input_name(): an INPUT that is neither FILE.h5[:/dataset] (an empty name, say) nor a "blobs:" spec that
 * parses with parameters in range exits 2 now, as a bad option value would; files are left to the run. */
void cli_input_name(const char *input);

/* cli_same_file(): whether two FILE.h5[:/dataset] names are one file (paths resolved, hard links too), so
 * that an output never replaces an input. */
int cli_same_file(const char *a_spec, const char *b_spec);

/* cli_reads_from(): whether the output FILE.h5[:/dataset] out_spec is a file the input in_spec
 * (FILE.h5[:/dataset], default_dataset when none is named; a "blobs:" spec reads none) takes values from:
 * the input file itself, or one it reaches through external links, virtual datasets or external storage. */
int cli_reads_from(const char *in_spec, const char *default_dataset, const char *out_spec);

/* cli_one_operand(): after getopt, the single operand (what names it in messages: "INPUT"), or exit 2. */
const char *cli_one_operand(int argc, char **argv, const char *what);

/* cli_progress_*: a live bar on stderr, on a terminal only (or always with verbose), at most ~5 updates a
 * second: chunks done/total, rows/s, MB/s, ETA. */
typedef struct cli_progress {
    int enabled;
    double last_draw;
    int width; /* the line on screen, if any (cli_common.c: bar_line_open), is `width` characters */
} cli_progress;

void cli_progress_init(cli_progress *bar, int quiet, int verbose);
void cli_progress_update(const ooc_progress *p, void *bar);
void cli_progress_finish(cli_progress *bar);

/* cli_json_number(): v as a JSON number, or null when it is NaN or infinite (which JSON cannot say). */
json_t *cli_json_number(double v);

/* cli_json_text(): s as a JSON string; bytes that are not UTF-8 (a file name in another encoding) become
 * U+FFFD, rather than the string, and whatever holds it, dropping out of the output. */
json_t *cli_json_text(const char *s);

/* cli_version(): "PROGRAM (ooc) VERSION" on stdout. */
void cli_version(void);

/* cli_print_and_exit(): print() (usage, version) from process 0 only, then exit 0 in every process: under
 * mpirun, --help and --version are said once. */
_Noreturn void cli_print_and_exit(void (*print)(void));

#endif
