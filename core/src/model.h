/* The datastore's model: the run and task records, their statuses, and every datastore key.
 *
 * The datastore owns these records; the lmdb index (index.h) is a cache of it and stores the
 * same types. Every key mflow writes or reads is made by one function here, and the record
 * keys found by listing the datastore are parsed by one strict parser:
 *
 *   runs/<Flow>/<run>/run.json                        run record           mf_key_run
 *   runs/<Flow>/<run>/graph.json                      the graph as it ran  mf_key_graph
 *   runs/<Flow>/<run>/<step>/<task>.<attempt>.json    task attempt record  mf_key_task
 *   runs/<Flow>/<run>/<step>/<task>.<attempt>.stdout  logs (absent when    mf_key_log
 *   runs/<Flow>/<run>/<step>/<task>.<attempt>.stderr    empty)
 *   runs/<Flow>/<run>/<step>/<task>.0.inputs          a join's input list  mf_key_inputs
 *                                                     when too long for a command line
 *   blobs/<ab>/<sha256>                               artifact values      mf_blob_path
 *   packages/<sha256>.tar.zst                         code packages        mf_key_package
 *   deployments/<name>/<version>.json                 a deployment's       mf_key_deployment
 *                                                     version (deploy.h)
 *   deployments/<name>/current.json                   its current version, mf_key_deployment_current
 *                                                     absent once deleted
 *
 * (one directory per step, not per task: creating inodes is most of a small task's cost)
 */
#ifndef MF_MODEL_H
#define MF_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define MF_NAME_MAX 128

enum mf_status {
    MF_STATUS_PENDING = 1,
    MF_STATUS_RUNNING = 2,
    MF_STATUS_SUCCEEDED = 3,
    MF_STATUS_FAILED = 4,
    MF_STATUS_CANCELLED = 5,
};

/* "pending", "running", "succeeded", "failed", "cancelled"; "unknown" otherwise. */
const char *mf_status_name(int status);
int mf_status_from_name(const char *s);   /* 0 when unknown */

struct mf_run_rec {
    char flow[MF_NAME_MAX];
    int64_t run_id;
    int32_t status;              /* enum mf_status */
    int32_t pid;                 /* of the orchestrator, to tell a dead "running" run */
    char user[64];
    char ns[MF_NAME_MAX];        /* namespace, e.g. "user:alice" */
    char host[64];
    double start_time;           /* unix seconds */
    double end_time;             /* 0 while running */
    int64_t origin_run_id;       /* resume origin, 0 when none */
    uint32_t n_tasks;
    uint32_t n_failed;
    char tags[2048];             /* '\n'-separated, no trailing newline; "" when none */
    char storage[64];            /* storage plugin the run used; "" when not recorded */
    char storage_root[1024];     /* datastore root it used (the plugin's root()); "" when not */
};

struct mf_task_rec {
    char flow[MF_NAME_MAX];
    int64_t run_id;
    char step[MF_NAME_MAX];
    int64_t task_id;
    uint32_t attempt;            /* latest attempt, from 0 */
    int32_t status;              /* enum mf_status */
    double start_time;
    double end_time;
    int32_t exit_code;
    int32_t term_signal;
    uint32_t foreach_index;      /* innermost foreach position; count 0 when not in a foreach */
    uint32_t foreach_count;
    char origin[256];            /* pathspec this task was cloned from by resume, or "" */
    char artifacts[4096];        /* artifact names, '\n'-separated (truncated at a name boundary) */
};

/* ---- datastore keys ---------------------------------------------------------------------- */

/* What every run key starts with (what reindex lists). */
#define MF_KEY_RUNS "runs/"
/* Code package keys: MF_KEY_PACKAGES <sha256> MF_KEY_PACKAGE_EXT. */
#define MF_KEY_PACKAGES "packages/"
#define MF_KEY_PACKAGE_EXT ".tar.zst"
/* Deployment keys (deploy.h). */
#define MF_KEY_DEPLOYMENTS "deployments/"
/* Room for a blob's key, "blobs/ab/" + 64 hex + NUL. */
#define MF_BLOB_PATH_SIZE (9 + 64 + 1)

/* The builders return a malloc'd key, or NULL when out of memory. */
char *mf_key_run(const char *flow, int64_t run);
char *mf_key_graph(const char *flow, int64_t run);
/* The prefix of every key of one run, "runs/<Flow>/<run>/" (what resume lists). */
char *mf_key_run_prefix(const char *flow, int64_t run);
char *mf_key_task(const char *flow, int64_t run, const char *step, int64_t task,
                  uint32_t attempt);
/* is_stderr: 0 for the attempt's stdout, 1 for its stderr. */
char *mf_key_log(const char *flow, int64_t run, const char *step, int64_t task, uint32_t attempt,
                 int is_stderr);
char *mf_key_inputs(const char *flow, int64_t run, const char *step, int64_t task);
/* sha256: 64 lowercase hex characters. */
char *mf_key_package(const char *sha256);
/* A deployment's version record, and the pointer to its current version. */
char *mf_key_deployment(const char *name, int64_t version);
char *mf_key_deployment_current(const char *name);
/* The prefix of every key of one deployment, "deployments/<name>/". */
char *mf_key_deployment_prefix(const char *name);
/* Storage key of a blob into buf (MF_BLOB_PATH_SIZE bytes; shorter truncates). */
void mf_blob_path(const char *key, char *buf, size_t bufsz);

enum mf_key_kind {
    MF_KEY_RUN = 1,              /* runs/<Flow>/<run>/run.json */
    MF_KEY_TASK = 2,             /* runs/<Flow>/<run>/<step>/<task>.<attempt>.json */
};

struct mf_key_parts {
    int kind;                    /* enum mf_key_kind */
    char flow[MF_NAME_MAX];
    int64_t run;
    char step[MF_NAME_MAX];      /* "" for a run record */
    int64_t task;                /* 0 for a run record */
    uint32_t attempt;
};

/* Parse a record's key: the kind (MF_KEY_RUN or MF_KEY_TASK) with *out filled in, or MF_EINVAL
 * for any other key. Strict: a key is taken only when it is exactly what mf_key_run or
 * mf_key_task makes of its parts — names of letters, digits and '_' not starting with a digit
 * (shorter than MF_NAME_MAX), run and task ids from 1 and attempts from 0 in decimal without
 * sign, spaces or leading zeros, attempts that fit uint32_t, nothing before or after. */
int mf_key_parse(const char *key, struct mf_key_parts *out);

/* A deployment's name: 1 to MF_DEPLOY_NAME_MAX letters, digits, '_' and '-', not starting
 * with '-'. */
#define MF_DEPLOY_NAME_MAX 100
int mf_deploy_name_valid(const char *s);

/* A deployment key: name (MF_NAME_MAX bytes) and *version (0 for current.json). 0, or
 * MF_EINVAL for any other key. Strict as mf_key_parse: names as mf_deploy_name_valid
 * takes them, versions from 1 without leading zeros. */
int mf_key_deployment_parse(const char *key, char name[MF_NAME_MAX], int64_t *version);

/* The sha256 (64 lowercase hex and a NUL into sha256) of a package key; 0 or MF_EINVAL. */
int mf_key_package_parse(const char *key, char sha256[65]);

#endif
