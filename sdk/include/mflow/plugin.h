/*
 * mflow plugin ABI, major version 1.
 *
 * A plugin is a shared object that exports exactly one symbol,
 *
 *     const struct mf_plugin_desc *mf_plugin_entry_v1(const struct mf_host_api *host);
 *
 * and links nothing of libmflow: every host service comes through `host`.
 * Build one out of tree with `pkg-config --cflags --libs mflow-plugin`.
 *
 * Compatibility rules (what the host promises and checks):
 *  - The ABI major is in the entry symbol's name and in `abi_major`. The host refuses a
 *    plugin whose `abi_major` differs from MF_PLUGIN_ABI_MAJOR, naming the file and both
 *    versions.
 *  - Every struct crossing the boundary starts with `uint32_t struct_size`. Structs only grow
 *    at the end; each field added after 1.0 is marked with the minor that added it. A reader
 *    reads only the fields that lie inside the size it was given (MF_HAS_FIELD), so an older
 *    plugin works with a newer host and the reverse.
 *  - The host refuses a descriptor or an operations table smaller than the 1.0 size of that
 *    struct (MF_PLUGIN_DESC_V1_0_SIZE and friends).
 *  - A plugin built against minor N may call a host function added in minor M > N only after
 *    checking MF_HAS_FIELD(host, fn) and that the pointer is not NULL.
 *  - Fixed-width integers, explicit enum values, no bitfields, no struct passed by value.
 *  - Retired fields and enum values keep their place (renamed `reserved_*`), never reused.
 *
 * Minor versions: 1.0 the first; 1.1 adds the optional streaming writer at the end of
 * struct mf_storage_ops (writer_open, writer_write, writer_commit, writer_abort); 1.2 adds
 * the optional `describe` at the end of struct mf_compute_ops. A 1.0 or 1.1 compute plugin
 * loads as before and has no description. 1.3 adds `schemes` at the end of struct
 * mf_storage_ops: the URL schemes a storage plugin serves, so that a datastore root picks
 * its plugin (a plugin without it is chosen only by name); and `settings` at the end of
 * struct mf_job_spec (the step's own "PLUGIN.KEY=VALUE" settings, flow ABI 1.2). 1.4 adds
 * the optional `get_range` at the end of struct mf_storage_ops (a byte range of an object).
 * 1.5 adds, at the end of struct mf_storage_ops, `flags` (MF_STORAGE_*: how the host best
 * reads and writes large values through this plugin; 0, or an older table, changes nothing)
 * and the optional `prepare` (the places a run's objects will be put, made ready before its
 * tasks put them). 1.6 adds the flag MF_STORAGE_FORK_SAFE (an opened instance a forked
 * task may inherit from the task server); a 1.5 table has it clear and opens per task.
 *
 * Beside this ABI the mflow command offers compute plugins one host service of its own, a
 * task server that forks `mflow task ...` jobs from a preloaded mflow: <mflow/task_server.h>.
 *
 * Return codes: an operation that returns `int` returns 0 for success, a negative MF_E*
 * code below, or a positive errno value passed through (ENOSPC, EACCES, ...); the host shows
 * either with mf_strerror. The exceptions are stated at the operation, and there the
 * meaning of each value is fixed: storage `exists` returns exactly 1 (present), 0 (absent)
 * or a negative code (an errno must be negated, or mapped to MF_EIO/MF_EPERM); compute
 * `wait` returns 1, 0 or a negative code. A failing call leaves a message for the host to
 * show through the kind's `last_error` (never NULL; "no error" or "" when none);
 * messages name the thing and what to do, and never contain secrets.
 *
 * Life of a plugin (every kind):
 *  - Loading: the host dlopen()s every *.so of its plugin directory and of MFLOW_PLUGIN_PATH
 *    (or, when it looks for one plugin by name, mflow_<kind>_<name>.so first) with local
 *    symbols, and calls the entry with its host table. The entry must be cheap and must not
 *    start anything: it returns a pointer to a static descriptor, or NULL to decline (log
 *    why through host->log). The loader refuses (and `mflow plugins` shows why) a descriptor
 *    or operations table smaller than 1.0's, another major, a bad name, a name another file
 *    already took, no init or fini, and any operation this header marks "Mandatory" left
 *    NULL, naming that operation. It warns (once, naming them) about symbols exported
 *    beside the entry: export only the entry (MF_PLUGIN_EXPORT; -fvisibility=hidden).
 *  - Instances: `init` makes an instance (*state) that every operation gets, and `fini`
 *    ends it. A process may make several instances of one plugin at once (one per open
 *    client, a test making two), so keep nothing per instance in globals.
 *  - init failure: there is no instance yet for last_error, so init reports why through
 *    host->log(MF_LOG_ERROR, <plugin name>, ...) and returns its code; the host prints
 *    "<kind> plugin '<name>' did not start: <mf_strerror(code)>" after the logged lines.
 *    Check settings and reachability in init (a wrong root, missing credentials): that is
 *    where a run fails before anything runs.
 *  - Processes: `mflow run` (the orchestrator) makes one storage instance and one instance
 *    of each compute plugin its steps use. Every task is a separate process, `mflow task`,
 *    forked from a task server (a preloaded mflow, see <mflow/task_server.h>) or spawned by
 *    the compute backend, possibly on another machine: each task loads the storage plugin
 *    and calls init itself. So a storage plugin's instances in many processes use one
 *    datastore at once: a store must be safe across processes (atomic replacement, no
 *    in-process cache that another process could make stale, no lock held between calls).
 *    The task server holds no instance: a forked task starts its own.
 *  - Threads: the host calls one instance's operations from one thread at a time, except
 *    storage operations: the blob layer's streaming writer writes on a second thread while
 *    the first calls exists and writer_commit. A storage instance must be thread-safe.
 *    last_error is asked right after the failing call, on the same thread; a per-thread
 *    message (or one guarded by a lock) keeps threads from overwriting each other's.
 *  - Settings: host->config_get(name, key) answers from the command line, the option's
 *    environment variable, $MFLOW_HOME/config.json ("<name>": {"<key>": ...}), then the
 *    option's default. Declare every setting in the option table (`mflow plugins` shows it).
 */
#ifndef MFLOW_PLUGIN_H
#define MFLOW_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MF_PLUGIN_ABI_MAJOR 1
#define MF_PLUGIN_ABI_MINOR 6

/* The exported entry of a plugin: exactly this symbol and nothing else. */
#define MF_PLUGIN_ENTRY_SYMBOL "mf_plugin_entry_v1"

#if defined(__GNUC__)
#define MF_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define MF_PLUGIN_EXPORT
#endif

/* True when `field` lies inside the struct_size that `ptr` declares. */
#define MF_HAS_FIELD(ptr, field)                                                     \
    ((ptr)->struct_size >= offsetof(__typeof__(*(ptr)), field) + sizeof((ptr)->field))

/* Error codes shared by the core and plugins (negative; errno values are positive). */
enum {
    MF_OK = 0,
    MF_EINVAL = -1,      /* bad argument or input */
    MF_ENOMEM = -2,      /* out of memory */
    MF_ENOTFOUND = -3,   /* no such object, key, job, plugin */
    MF_EIO = -4,         /* I/O failed (disk, network) */
    MF_ECORRUPT = -5,    /* data does not match its hash or format */
    MF_EABI = -6,        /* ABI mismatch */
    MF_EPERM = -7,       /* credentials refused */
    MF_EUNAVAIL = -8,    /* backend unreachable or not installed */
    MF_ETIMEOUT = -9,    /* timed out */
    MF_ECANCELED = -10,  /* canceled */
    MF_EEXIST = -11,     /* already exists */
    MF_ENOTSUP = -12,    /* not supported by this plugin */
    MF_EFAIL = -13,      /* generic failure; the message says more */
};

/* What a return code means, in a few words: every MF_E* code above, an errno value as
 * strerror says it, "success" for 0, "unknown error" for any other code. Never NULL; the
 * text is static (two calls never invalidate each other). One vocabulary for the
 * core, the plugins and programs using the client API (mf_client_strerror is the same), so a
 * plugin's refusal (permission, not found) reads the same wherever it surfaces. */
static inline const char *mf_strerror(int rc)
{
    switch (rc) {
    case MF_OK:
        return "success";
    case MF_EINVAL:
        return "invalid argument";
    case MF_ENOMEM:
        return "out of memory";
    case MF_ENOTFOUND:
        return "not found";
    case MF_EIO:
        return "input/output error";
    case MF_ECORRUPT:
        return "corrupt data";
    case MF_EABI:
        return "ABI mismatch";
    case MF_EPERM:
        return "permission refused";
    case MF_EUNAVAIL:
        return "backend unavailable";
    case MF_ETIMEOUT:
        return "timed out";
    case MF_ECANCELED:
        return "canceled";
    case MF_EEXIST:
        return "already exists";
    case MF_ENOTSUP:
        return "not supported";
    case MF_EFAIL:
        return "failed";
    default:
        break;
    }
    if (rc <= 0)
        return "unknown error";
#if defined(_GNU_SOURCE) && defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
    /* glibc's strerror builds the text of a code it does not know in a buffer that its next
     * call frees; strerrordesc_np's texts are static, as promised above. */
    const char *d = strerrordesc_np(rc);
    return d ? d : "unknown error";
#else
    return strerror(rc);
#endif
}

enum mf_plugin_kind {
    MF_PLUGIN_COMPUTE = 1,
    MF_PLUGIN_STORAGE = 2,
    MF_PLUGIN_SCHEDULER = 3,
};

enum mf_log_level {
    MF_LOG_ERROR = 0,
    MF_LOG_WARN = 1,
    MF_LOG_INFO = 2,
    MF_LOG_DEBUG = 3,
};

/* ------------------------------------------------------------------------------------------ */
/* Options: a declarative table that documents a plugin's settings (`mflow plugins` shows it). */

enum mf_option_type {
    MF_OPT_STRING = 1,
    MF_OPT_INT = 2,
    MF_OPT_BOOL = 3,
};

struct mf_option_def {
    uint32_t struct_size;
    uint32_t type;               /* enum mf_option_type */
    const char *name;            /* key in config.json under the plugin's name, e.g. "partition" */
    const char *env;             /* environment variable that sets it, e.g. "MFLOW_SLURM_PARTITION", or NULL */
    const char *default_value;   /* as text, or NULL */
    const char *help;            /* one line */
};

/* ------------------------------------------------------------------------------------------ */
/* Host services: what the core offers a plugin. Valid from entry until fini returns.          */

/* A byte buffer owned by whoever filled it; release with its own `release` (may be NULL when
 * there is nothing to free). Used for storage reads so a backend can hand out a mapping. */
struct mf_buf {
    uint32_t struct_size;
    uint32_t reserved;
    void *data;
    size_t len;
    void (*release)(struct mf_buf *buf);
    void *opaque;                /* the releaser's own */
};

/* Output of a task as it is produced, for the host to show and keep. */
enum mf_stream {
    MF_STREAM_STDOUT = 1,
    MF_STREAM_STDERR = 2,
};

struct mf_host_api {
    uint32_t struct_size;
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t reserved;
    const char *version;                     /* mflow version string */

    /* Log a message on behalf of plugin `name`. */
    void (*log)(int level, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /* A setting of plugin `name`: command line, then its env variable, then
     * $MFLOW_HOME/config.json ("<name>": {"<key>": ...}), then the option's default.
     * Returns NULL when unset. The string lives until fini. */
    const char *(*config_get)(const char *name, const char *key);

    /* $MFLOW_HOME (default ~/.mflow). */
    const char *(*home)(void);

    /* Live task output (compute plugins that see it as it comes): the host prefixes it with
     * the pathspec for the terminal. `data` need not end at a line boundary. */
    void (*task_output)(const char *pathspec, int stream, const char *data, size_t len);

    /* Datastore access for scheduler plugins (code packages, flow descriptors). */
    int (*datastore_put)(const char *key, const void *data, size_t len);
    int (*datastore_get)(const char *key, struct mf_buf *out);
    /* The datastore root URL that tasks launched elsewhere must use: what tasks get as
     * --datastore-root (the storage plugin's root() once the store is open). */
    const char *(*datastore_root)(void);
};

/* ------------------------------------------------------------------------------------------ */
/* Compute: where and with what resources `mflow task ...` runs. Nothing assumes a local pid:
 * submit returns an opaque handle, status is polled (in batches) or waited on, logs can be
 * fetched, a job can be cancelled and must be released.
 *
 * Contract (the loader refuses a plugin that leaves a mandatory operation NULL, naming it):
 *   mandatory  submit, poll, wait, cancel, release, last_error (and init, fini)
 *   optional   submit_batch (NULL: submit n times), logs (NULL: the host reads only
 *              stdout_path/stderr_path), check (NULL: requests are judged against describe,
 *              or all accepted), describe (1.2; NULL: no description)
 * Calls: only the orchestrator (`mflow run`/`resume`) makes a compute instance, and calls it
 * from one thread: submit as tasks become ready, then in a loop wait(timeout) and poll of
 * all running jobs, logs once a job ended without its output files, release once done with
 * a job; cancel on a failed run or ^C (then poll until it ended, then release); check once
 * per step before anything runs. The argv a job must run is the host's (see mf_job_spec):
 * run it as given, with the spec's env added to the job's environment.
 * `mflow-plugin-check --kind=compute PLUGIN.so` (installed with the SDK) runs the
 * operations against `/bin/sh -c` jobs and says what fails.                                 */

typedef struct mf_job mf_job;   /* opaque, owned by the plugin until release */

struct mf_resources {
    uint32_t struct_size;
    uint32_t cpu;                /* cores; 0 = the backend's default (one) */
    uint64_t memory_mb;          /* 0 = no request */
    uint32_t gpu;                /* 0 = none */
    uint32_t reserved;
};

/* What a task receives: argv is
 *   <mflow> --home <MFLOW_HOME> --storage <storage plugin> --datastore-root <root>
 *           task <flow.so or, remote, the flow's name> <step> --run-id N --task-id N
 *           --attempt N [--input-paths P] [--split-index N] [--timeout-s N] [--package URL]
 * where <root> is the run's datastore root as the storage plugin's root() returned it (the
 * --datastore-root/MFLOW_DATASTORE_ROOT the user gave, else the plugin's own default as
 * resolved by its init); the task's storage init receives it as its `root` option. A backend
 * runs argv as it is, on a machine that has mflow and reaches that datastore. */
struct mf_job_spec {
    uint32_t struct_size;
    uint32_t timeout_s;                 /* 0 = none; the backend kills the job past it */
    const char *const *argv;            /* NULL-terminated: the `mflow task ...` command */
    const char *const *env;             /* NULL-terminated "K=V" to add to the job's env */
    const char *pathspec;               /* Flow/run/step/task, for names and output prefix */
    const char *flow_name;
    const char *step_name;
    int64_t run_id;
    int64_t task_id;
    uint32_t attempt;
    uint32_t reserved;
    const struct mf_resources *resources;
    const char *image;                  /* container image, or NULL */
    const char *package_url;            /* code package address, or NULL when local */
    /* Where the job's stdout and stderr must end up: local paths the host reads after the
     * job ends. A backend that cannot write them leaves them absent and serves `logs`. */
    const char *stdout_path;
    const char *stderr_path;
    const char *workdir;                /* working directory, or NULL */
    /* The step's own settings, NULL-terminated "PLUGIN.KEY=VALUE" (mf_step_def.settings), or
     * NULL; a plugin reads the entries of its own name and ignores the rest. Added in 1.3. */
    const char *const *settings;
};

enum mf_job_state {
    MF_JOB_QUEUED = 1,
    MF_JOB_RUNNING = 2,
    MF_JOB_SUCCEEDED = 3,
    MF_JOB_FAILED = 4,
    MF_JOB_CANCELLED = 5,
    MF_JOB_LOST = 6,             /* the backend no longer knows the job */
};

struct mf_job_status {
    uint32_t struct_size;
    uint32_t state;              /* enum mf_job_state */
    int32_t exit_code;           /* when it exited; -1 otherwise */
    int32_t term_signal;         /* signal that ended it; 0 otherwise */
    uint32_t timed_out;          /* 1 when the backend killed it for timeout_s */
    uint32_t reserved;
    double start_time;           /* unix seconds; 0 when unknown */
    double end_time;
    char reason[256];            /* backend's words on why it ended (OOM, NODE_FAIL, ...) */
};

/* What a compute backend is like (mf_compute_ops.caps). */
enum mf_compute_caps {
    /* Tasks run away from this machine: the host stores a code package of the flow and
     * passes its address (mf_job_spec.package_url, and --package in argv), and the datastore
     * must be one the backend's nodes reach (a shared filesystem path or S3). */
    MF_COMPUTE_REMOTE = 1,
};

struct mf_compute_ops {
    uint32_t struct_size;
    uint32_t caps;               /* enum mf_compute_caps, ORed */
    /* Submit one job. On success *out is a handle until release. */
    int (*submit)(void *state, const struct mf_job_spec *spec, mf_job **out);
    /* Submit n jobs at once (a backend may make one array job of them). out[i] per spec.
     * NULL: the host calls submit n times. */
    int (*submit_batch)(void *state, const struct mf_job_spec *const *specs, size_t n,
                        mf_job **out);
    /* Fill st[i] for jobs[i]; one backend query for all of them where possible. */
    int (*poll)(void *state, mf_job *const *jobs, size_t n, struct mf_job_status *st);
    /* Block up to timeout_ms until some job may have changed state (or output came).
     * Returns 1 when something may have changed, 0 on timeout, <0 on error. */
    int (*wait)(void *state, int timeout_ms);
    /* Fetch a job's output after it ended (when the backend did not write the paths). */
    int (*logs)(void *state, mf_job *job, int stream, struct mf_buf *out);
    /* Ask the backend to stop the job; poll then reports it CANCELLED or ended. */
    int (*cancel)(void *state, mf_job *job);
    /* Forget the job; the handle is invalid after. */
    void (*release)(void *state, mf_job *job);
    /* The message of the last failing call; never NULL. */
    const char *(*last_error)(void *state);
    /* Refuse before a run starts what can never fit (e.g. more cpu than the machine has):
     * 0 when fine, else an error with last_error naming the request and capacity. NULL: all
     * requests are accepted. */
    int (*check)(void *state, const char *step_name, const struct mf_resources *res);

    /* What the backend offers, as one JSON document in *out (UTF-8, not NUL-terminated;
     * the plugin fills data, len and release). `mflow resources` prints it, and, for a
     * plugin without `check`, the host refuses before a run a step whose request fits none
     * of its offers, naming the largest (a plugin with `check` judges requests itself, and
     * should against the same figures). Optional: NULL, or
     * a table too short to hold it (a 1.0 or 1.1 plugin), means no description. The
     * document is an object; the host reads these members and shows the rest in --json:
     *   "source"  string: where the figures came from ("hwloc 2.9.0 (this machine)", "sinfo
     *             and scontrol show node")
     *   "offers"  array of the places one task can run, each an object with "kind" (e.g.
     *             "machine", "node", "partition"), "name", "cpus", "memory_mb", "gpus" (0
     *             when none), and optionally "gpu_kinds" ({"a100": 4}), "state",
     *             "partitions" (array of names), "count" (how many alike); a task fits an
     *             offer when its cpu (1 when unset), memory_mb and gpu are each at most the
     *             offer's
     *   "limits"  object: limit name ("cpu", "memory", "gpu", "time") -> how it is enforced,
     *             in words
     *   "text"    optional string: the plugin's own view for people, printed as it is in
     *             place of the host's table of offers
     * Members are only ever added, so a host reads what it knows and ignores the rest.
     * Added in 1.2. */
    int (*describe)(void *state, struct mf_buf *out);
};

/* ------------------------------------------------------------------------------------------ */
/* Storage: a key-value object store under the datastore root. Keys are '/'-separated
 * relative paths. Writes are atomic: a reader sees the old object or the new, never a torn
 * one. The content-addressed blob layer, compression and hashing live in the core.
 *
 * Contract (the loader refuses a plugin that leaves a mandatory operation NULL, naming it):
 *   mandatory  put, put_file, get, exists, list, del, last_error (and init, fini)
 *   optional   get_file, the four batch forms, root, the streaming writer (1.1, all four or
 *              none), schemes (1.3)
 * The root option: the datastore root is the plugin's option named exactly `root`. The host
 * answers config_get(<this plugin>, "root") with --datastore-root, else
 * MFLOW_DATASTORE_ROOT, else "datastore_root" of config.json, when this plugin is the
 * selected storage; otherwise with the plugin's own option env, config and default. init
 * reads it, resolves its default when unset (e.g. $MFLOW_HOME/datastore) and root() returns
 * the result as a URL that, given back as `root`, names the same datastore: the host passes
 * it to every task as --datastore-root (see mf_job_spec) and records it in the run
 * (run.json "storage": {"plugin", "root"}, and the index), so `mflow get`, `inspect`,
 * `logs` and `resume` reopen the same store later without options.
 * Which plugin: --storage/MFLOW_STORAGE/config "storage" names it; else a root with a
 * scheme ("sqlite:///x.db") selects the one plugin whose `schemes` lists it (two claiming it
 * is an error naming both; none, an error naming the scheme and the plugins found); else
 * (no root, or a plain path) `local`.
 * Processes and threads: every task process makes its own instance (see the top of this
 * file), so many processes write one datastore at once, often the same key (two tasks
 * storing the same content-addressed blob): a put must replace atomically and a put of the
 * same bytes racing another must succeed. Within a process one instance is used by several
 * threads at once: the streaming writer writes on one thread while another calls exists and
 * writer_commit. Guard shared state (last_error per thread or under a lock).
 * What the host uses: put for records and blobs (hash first, then exists, then put with
 * MF_PUT_IF_ABSENT); put_file for a task's spilled output; get for every read; exists; list
 * in reindex, resume and blob checks; del to undo a half-made run; get_batch in reindex
 * (256 at a time); root in messages and run records. put_batch, exists_batch and
 * list_batch are not called by this host yet (client programs and later hosts may); give
 * them or leave them NULL. get_file is not called by this host.
 * `mflow-plugin-check --kind=storage PLUGIN.so` (installed with the SDK) checks all of it. */

/* One piece of an object to write (so a header and a large payload need no copy). */
struct mf_iov {
    const void *base;
    size_t len;
};

enum mf_put_flags {
    MF_PUT_IF_ABSENT = 1,        /* succeed without writing when the key exists */
};

struct mf_storage_item {
    uint32_t struct_size;
    uint32_t flags;              /* enum mf_put_flags (puts) */
    const char *key;
    /* put: data/len, or path (a local file to upload) when data is NULL.
     * get: out is filled, or the object is written to path when path is set. */
    const void *data;
    size_t len;
    const char *path;
    struct mf_buf out;
    int result;                  /* per-item result, filled by the batch call */
    int32_t exists;              /* exists_batch: 1 or 0 */
};

/* One entry of a list call; `key` lives only during the callback. */
typedef int (*mf_list_cb)(void *ud, const char *key, uint64_t size);

/* An object being written whose key is known only at the end (writer_open..writer_commit);
 * opaque, owned by the plugin. Added in 1.1. */
typedef struct mf_writer mf_writer;

struct mf_storage_ops {
    uint32_t struct_size;
    uint32_t reserved;
    /* Write the concatenation of iov[0..niov) under key, atomically, replacing an older
     * object. With MF_PUT_IF_ABSENT and key present: 0 without writing. Mandatory. */
    int (*put)(void *state, const char *key, const struct mf_iov *iov, size_t niov,
               uint32_t flags);
    /* put with the content of the local file path. Mandatory. */
    int (*put_file)(void *state, const char *key, const char *path, uint32_t flags);
    /* Fill *out (data, len, release) with the object; MF_ENOTFOUND when absent. The host
     * calls out->release when done (release may be NULL). Mandatory. */
    int (*get)(void *state, const char *key, struct mf_buf *out);
    /* Write the object to the local file path (atomically for a reader of path);
     * MF_ENOTFOUND when absent. Optional. */
    int (*get_file)(void *state, const char *key, const char *path);
    /* Exactly 1 when present, 0 when absent, a negative code on error (never a positive
     * errno: it would read as "present"). Mandatory. */
    int (*exists)(void *state, const char *key);
    /* Every key under prefix (recursively; "" for all), in no particular order, with its
     * size; 0 when none. A key deleted before the call is not listed. A callback returning
     * non-zero stops the listing and list returns that value. Mandatory. */
    int (*list)(void *state, const char *prefix, mf_list_cb cb, void *ud);
    /* Remove the object; MF_ENOTFOUND when absent. Mandatory. */
    int (*del)(void *state, const char *key);
    /* Batch forms, optional: all items are attempted; each gets its result (exists_batch:
     * result 0 and exists 1 or 0, or a negative result); the call returns 0 when all
     * succeeded, else the first failure's code. put_batch takes data/len, or path when data
     * is NULL; get_batch fills out, or writes path when set. list_batch calls cb for the keys
     * of every prefix. */
    int (*put_batch)(void *state, struct mf_storage_item *items, size_t n);
    int (*get_batch)(void *state, struct mf_storage_item *items, size_t n);
    int (*exists_batch)(void *state, struct mf_storage_item *items, size_t n);
    int (*list_batch)(void *state, const char *const *prefixes, size_t n, mf_list_cb cb,
                      void *ud);
    /* The message of the last failing call of this thread; never NULL. Mandatory. */
    const char *(*last_error)(void *state);
    /* The root URL this instance serves (e.g. "file:///home/u/.mflow/datastore"); given back
     * as the `root` option it must name the same datastore. Optional: NULL, and the host
     * uses the root it was given. Lives until fini. */
    const char *(*root)(void *state);

    /* Streaming writer, for an object whose key is known only once it is written (the blob
     * layer's key is the SHA-256 of the content, so it can write while it hashes). Optional:
     * all four are set or all are NULL. When NULL, or when the table's struct_size does not
     * cover them (a 1.0 plugin), the host hashes first and calls put; a host checks
     * MF_HAS_FIELD(ops, writer_abort) (the last of the four) and that each pointer is not NULL
     * before using them. One writer is used by one thread at a time, not necessarily the one
     * that opened it; several may be open at once. */
    /* Start an object. On success *out is a handle until writer_commit or writer_abort.
     * Added in 1.1. */
    int (*writer_open)(void *state, mf_writer **out);
    /* Append the concatenation of iov[0..niov). On failure the writer can only be aborted.
     * Added in 1.1. */
    int (*writer_write)(void *state, mf_writer *w, const struct mf_iov *iov, size_t niov);
    /* Make the bytes written the object `key`, atomically and durably, with the guarantees
     * of put. With MF_PUT_IF_ABSENT and key already present, the written bytes are dropped
     * and the call succeeds. Frees w whatever it returns. Added in 1.1. */
    int (*writer_commit)(void *state, mf_writer *w, const char *key, uint32_t flags);
    /* Drop what was written; nothing becomes visible. Frees w. Added in 1.1. */
    void (*writer_abort)(void *state, mf_writer *w);
    /* When the host uses the writer: a value written in pieces (a runtime's large value) past
     * 1 MiB; and, unless the table's flags have MF_STORAGE_WRITER_COPIES, a value of 64 MiB or
     * more that the blob layer stores raw (it does not compress well), in a task allowed at
     * least 2 CPUs, written while it is hashed; every other value goes through put. */

    /* The URL schemes this plugin serves, without "://" and lower-case ("sqlite", "gs"):
     * a NULL-terminated array in static storage, or NULL for none. A --datastore-root (or
     * MFLOW_DATASTORE_ROOT) of the form "<scheme>://..." selects the plugin that lists the
     * scheme when no --storage is given. A root without a scheme belongs to `local`, which
     * lists "file". Optional. Added in 1.3. */
    const char *const *schemes;

    /* Fill *out (data, len, release) with at most len bytes of the object from byte offset
     * on (fewer at its end, none from its end on), and *size with the whole object's size:
     * a reader that pages through a large object (the logs mflow ui shows) pays for the
     * page, not the object. MF_ENOTFOUND when absent. Optional: when NULL, or when the
     * table's struct_size does not cover it (before 1.4), the host reads the object with
     * get and keeps the range. Added in 1.4. */
    int (*get_range)(void *state, const char *key, uint64_t offset, size_t len,
                     struct mf_buf *out, uint64_t *size);

    /* MF_STORAGE_* flags below, or 0: what the host may assume of the operations above when
     * it moves a large value. A host reads it only inside the table's struct_size (before 1.5
     * there is none: 0). Added in 1.5. */
    uint32_t flags;
    /* Make ready the places under which objects will soon be put: each of prefixes[0..n) is
     * a key prefix ending in '/' (a run's step, "runs/Flow/12/start/"). A store with
     * directories creates them, durably, so that the puts that follow (each task's record,
     * on the run's critical path) find them and have no directory to create and sync.
     * Puts work without it; a prefix that exists already is left as it is. Optional: when
     * NULL, or when the table's struct_size does not cover it (before 1.5), the host does
     * without. Added in 1.5. */
    int (*prepare)(void *state, const char *const *prefixes, size_t n);
};

/* Flags of struct mf_storage_ops (1.5). */
enum {
    /* get hands out a copy of the object in memory (a download), not a mapping of it: a host
     * that reads a large object into its own buffer does better with get_range, a piece at a
     * time, which holds the object once (the blob layer's read into a runtime's memory). */
    MF_STORAGE_GET_COPIES = 1,
    /* The streaming writer keeps what is written (in a local file) until writer_commit sends
     * it: a value the host already holds whole is better stored with put, which sends it from
     * the host's memory at once (the blob layer then does not write it while it hashes). */
    MF_STORAGE_WRITER_COPIES = 2,
    /* An instance's state stays valid in a forked child: init starts no thread, opens no file
     * descriptor (a forked task closes every one from 3) and no connection the child would
     * share with its parent, and the state depends on nothing but the plugin's options (as
     * config_get gives them), the host's home and the environment variables MFLOW_<NAME>_*
     * (NAME the plugin's name upper-cased). The task server then opens the store once and a
     * task whose options, home and those variables are the same takes that instance instead
     * of calling init (and calls fini on its copy). Added in 1.6. */
    MF_STORAGE_FORK_SAFE = 4,
};

/* ------------------------------------------------------------------------------------------ */
/* Scheduler: production deployments of a flow.                                               */

/* What a scheduler needs to know about a flow: its graph as JSON (the same document
 * `mflow show --json` prints, byte for byte: steps, successors, foreach, join, resources,
 * parameters), the code package address (a datastore key, "packages/<sha256>.tar.zst") and
 * the datastore root tasks must use. `mflow deploy` hands these options, in this order
 * (a plugin ignores keys it does not know; more may be added):
 *   name=D                 the deployment's name (letters, digits, '_', '-')
 *   version=N              its new version, from 1
 *   namespace=production:D the namespace its runs belong to
 *   compute=NAME           the compute plugin its runs use
 *   storage=NAME           the storage plugin of the datastore
 *   output=PATH            only when `--output` was given
 *   mflow=PATH             the absolute path of the mflow that deploys
 *   home=DIR               its $MFLOW_HOME
 *   log=PATH               where a firing's output goes ($MFLOW_HOME/deployments/D/log)
 *   source=PATH            the flow's source file, when it has one (a .c)
 *   param.NAME=VALUE       each parameter given, checked against the flow's parameters
 * `mflow deployments fire D [--version N]`, run with the same home, storage and datastore
 * root, is a firing: it takes D's lock, runs the stored package in the namespace with the tag
 * deployment_version:N and records the firing; a scheduler may run that, or run the tasks
 * itself. The host's datastore_put/datastore_get reach the configured datastore. */
struct mf_flow_desc {
    uint32_t struct_size;
    uint32_t reserved;
    const char *flow_name;
    const char *graph_json;
    const char *package_url;
    const char *datastore_root;
    const char *schedule;            /* cron expression, or NULL */
    const char *const *options;      /* NULL-terminated "key=value" deploy options */
};

struct mf_deployment {
    uint32_t struct_size;
    uint32_t reserved;
    char name[256];
    char flow_name[256];
    char schedule[128];
    char location[1024];             /* where it lives: crontab line, DAG file path, ... */
};

typedef int (*mf_deployment_cb)(void *ud, const struct mf_deployment *d);

struct mf_scheduler_ops {
    uint32_t struct_size;
    uint32_t reserved;
    int (*deploy)(void *state, const struct mf_flow_desc *flow, struct mf_deployment *out);
    int (*list)(void *state, mf_deployment_cb cb, void *ud);
    int (*remove)(void *state, const char *name);
    int (*trigger)(void *state, const char *name);
    const char *(*last_error)(void *state);
};

/* ------------------------------------------------------------------------------------------ */
/* The descriptor a plugin's entry returns; static storage in the plugin.                      */

struct mf_plugin_desc {
    uint32_t struct_size;
    uint32_t abi_major;              /* MF_PLUGIN_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor;
    uint32_t kind;                   /* enum mf_plugin_kind */
    const char *name;                /* [a-z0-9_]+, unique among loaded plugins */
    const char *version;             /* the plugin's own version */
    const char *description;         /* one line */
    const struct mf_option_def *options;   /* array of n_options */
    uint32_t n_options;
    uint32_t reserved;
    /* Create an instance; *state is passed to every operation. */
    int (*init)(const struct mf_host_api *host, void **state);
    void (*fini)(void *state);
    /* Points to struct mf_compute_ops, mf_storage_ops or mf_scheduler_ops per kind. */
    const void *ops;
};

/* Sizes of the 1.0 structs: the smallest the host accepts (a 1.1 table may stop there). */
#define MF_PLUGIN_DESC_V1_0_SIZE (offsetof(struct mf_plugin_desc, ops) + sizeof(void *))
#define MF_COMPUTE_OPS_V1_0_SIZE (offsetof(struct mf_compute_ops, check) + sizeof(void *))
#define MF_STORAGE_OPS_V1_0_SIZE (offsetof(struct mf_storage_ops, root) + sizeof(void *))
#define MF_SCHEDULER_OPS_V1_0_SIZE (offsetof(struct mf_scheduler_ops, last_error) + sizeof(void *))

typedef const struct mf_plugin_desc *(*mf_plugin_entry_fn)(const struct mf_host_api *host);

#ifdef __cplusplus
}
#endif
#endif /* MFLOW_PLUGIN_H */
