/* What the slurm compute plugin's files share (nothing of it is exported). */
#ifndef MF_SLURM_INT_H
#define MF_SLURM_INT_H

#include <mflow/plugin.h>

#include <stddef.h>
#include <stdint.h>

#define SL_HIDDEN __attribute__((visibility("hidden")))

/* ---- cmd.c: running the Slurm commands ---------------------------------------------------- */

/* Output of a command, NUL-terminated (may hold NULs itself). */
struct sl_out {
    char *data;
    size_t len, cap;
};

void sl_out_free(struct sl_out *o);
void sl_out_add(struct sl_out *o, const char *data, size_t n);

/* Run argv (argv[0] found on PATH unless it has a '/') with stdin from /dev/null, stdout and
 * stderr captured, in its own process group (a Ctrl-C at the terminal does not reach it),
 * with default signal dispositions, killed past timeout_s. Returns the exit status (0-255),
 * 128+N when killed by signal N, or <0 when it could not run (-errno; -ETIMEDOUT when it
 * was killed for time). */
SL_HIDDEN int sl_run(const char *const *argv, double timeout_s, struct sl_out *out,
                     struct sl_out *err);

/* ---- parse.c: what Slurm prints -------------------------------------------------------- */

/* One line of `squeue --noheader --array --Format=JobArrayID:|,State:|,exit_code:|,
 * StartTime:|,EndTime:|,Reason:|` (see SL_SQUEUE_FORMAT). Fields point into the line. */
#define SL_SQUEUE_FORMAT "JobArrayID:|,State:|,exit_code:|,StartTime:|,EndTime:|,Reason:|"
struct sl_qline {
    char jobid[32];              /* "123" */
    long index;                  /* array index, -1 for a plain job */
    char state[32];              /* "RUNNING", "TIMEOUT", ... */
    int has_status;
    int exit_code, term_signal;  /* from the raw wait status */
    double start_time, end_time; /* unix seconds, 0 when unknown */
    char reason[128];
};

/* Parse one squeue line; 0, or -1 when it is not one. */
SL_HIDDEN int sl_parse_squeue_line(const char *line, struct sl_qline *q);

/* Parse `scontrol -o show job ID` output: every job (one a line) is handed to cb with the
 * same fields as squeue's (reason from Reason=, exit from ExitCode=a:b). */
SL_HIDDEN int sl_parse_scontrol(const char *text, void (*cb)(void *ud, const struct sl_qline *q),
                                void *ud);

/* Parse `sacct -n -P -X -o JobID,State,ExitCode,Start,End` output lines likewise. */
SL_HIDDEN int sl_parse_sacct(const char *text, void (*cb)(void *ud, const struct sl_qline *q),
                             void *ud);

/* "2024-05-01T10:00:00" (local time) to unix seconds; 0 for "N/A", "Unknown", "NONE". */
SL_HIDDEN double sl_parse_time(const char *s);

/* What a Slurm job state means for mflow. */
enum sl_class {
    SL_PENDING = 1,              /* not started yet */
    SL_ACTIVE = 2,               /* running (or finishing) */
    SL_DONE_OK = 3,              /* COMPLETED */
    SL_DONE_FAILED = 4,          /* ended badly: see timed_out and the explanation */
    SL_DONE_CANCELLED = 5,
    SL_UNKNOWN = 6,
};

/* Classify a state (a base name like "OUT_OF_MEMORY"; "CANCELLED by 0" is CANCELLED).
 * *timed_out is 1 for TIMEOUT and DEADLINE; *why (never NULL for ended states) is a short
 * explanation of what Slurm did. */
SL_HIDDEN int sl_classify(const char *state, int *timed_out, const char **why);

/* The number of the leading job id of `sbatch --parsable` output ("123" or "123;cluster"):
 * copied into id (digits only); 0, or -1 when there is none. */
SL_HIDDEN int sl_parse_sbatch(const char *out, char *id, size_t idsz);

/* Split a whitespace-separated option string into a malloc'd NULL-terminated vector (no
 * quoting: each word is one argument). *n receives the count. NULL on out-of-memory. */
SL_HIDDEN char **sl_split_words(const char *s, size_t *n);
SL_HIDDEN void sl_free_vec(char **v);

/* ---- describe.c: the describe operation's document ----------------------------------- */

/* The JSON description (plugin.h, describe) of a cluster from the output of
 * `scontrol --oneliner show node` (nodes) and `sinfo --noheader --format=%P|%a|%l|%D|%N`
 * (parts): a node offer each, only those of `partition` when it is not NULL. malloc'd;
 * NULL when out of memory. */
SL_HIDDEN char *sl_describe_json(const char *nodes, const char *parts, const char *partition,
                                 const char *source);

#endif
