/*
 * mflow flow API (C SDK).
 *
 * A flow is a static table of steps exported with MF_FLOW. Each step is a function
 * `void fn(mf_task *t)` that reads and writes artifacts on its task. Transitions are declared
 * in the table, so the graph is known and checked before anything runs.
 *
 *     static void start(mf_task *t) { mf_set_i64(t, "x", 1); }
 *     static void end(mf_task *t)   { printf("%lld\n", (long long)mf_get_i64(t, "x")); }
 *     static const mf_step_def steps[] = {
 *         { .name = "start", .fn = start, .next = "end" },
 *         { .name = "end",   .fn = end },
 *     };
 *     MF_FLOW("HelloFlow", steps, NULL);
 *
 * Run it with `mflow run hello.c`.
 *
 * Ownership: strings and buffers returned by getters belong to the task and live until the
 * step function returns. Setters copy their input.
 *
 * Errors: a missing artifact, a wrong type or an out-of-range index fails the task with a
 * message naming the artifact; the getter does not return in that case.
 *
 * Compatibility rules (what mflow promises a compiled flow, and checks when it loads one):
 *  - The flow ABI has a major and a minor version (MF_FLOW_ABI_MAJOR, MF_FLOW_ABI_MINOR);
 *    MF_FLOW records both. mflow refuses a flow of another major, naming the file and both
 *    versions: rebuild the flow (a .c flow is rebuilt by `mflow run` itself).
 *  - Within a major the structs only grow at the end; each field added after 1.0 is marked
 *    with the minor that added it, and starts at an 8-byte-aligned offset (so the padding at
 *    the end of an older entry never covers part of a newer field).
 *  - mf_flow_def records the size of its step and parameter entries as they were when the
 *    flow was compiled (step_size, param_size). mflow walks the tables by those sizes and
 *    copies each entry into a zeroed entry of its own size: fields a flow's entries lack read
 *    as zero (NULL, 0: "none" or the default for every field), and fields mflow does not
 *    know (a flow of a newer minor) are ignored. So a flow compiled against an older minor
 *    keeps loading after entries grow, and a flow of a newer minor loads into any mflow of
 *    1.1 or later (an mflow of 1.0 does not read the sizes: it reads a newer flow right only
 *    while the entries keep their 1.0 sizes).
 *  - A flow of minor 0 recorded no entry sizes: its entries are the 1.0 sizes
 *    (MF_STEP_DEF_V1_0_SIZE, MF_PARAM_DEF_V1_0_SIZE).
 *  - mflow refuses an mf_flow_def smaller than its 1.0 size, and entries too small to hold
 *    what every entry needs (a step's name and fn, a parameter's name and type:
 *    MF_STEP_DEF_MIN_SIZE, MF_PARAM_DEF_MIN_SIZE).
 *  - Fields added to mf_flow_def are fixed-width integers or pointers; retired fields keep
 *    their place, never reused.
 *
 * Minor versions: 1.0 the first; 1.1 adds abi_minor, step_size and param_size at the end of
 * mf_flow_def; 1.2 adds `settings` at the end of mf_step_def (a step's own settings for the
 * compute plugin that runs it); 1.3 adds endpoints, n_endpoints and endpoint_size at the end
 * of mf_flow_def (a table of endpoints that `mflow serve` answers, read by its recorded entry
 * size like the steps; MF_FLOW_WITH_ENDPOINTS exports one, MF_FLOW leaves it empty).
 */
#ifndef MFLOW_FLOW_H
#define MFLOW_FLOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MF_FLOW_ABI_MAJOR 1
#define MF_FLOW_ABI_MINOR 3
/* The major, under the name that mf_flow_def.abi_version and flows of 1.0 use. */
#define MF_FLOW_ABI_VERSION MF_FLOW_ABI_MAJOR

typedef struct mf_task mf_task;
typedef struct mf_endpoint mf_endpoint;

/* Artifact and parameter types. The numbers are part of the stored format (sdk/DATASTORE.md). */
typedef enum mf_type {
    MF_I64 = 1,
    MF_F64 = 2,
    MF_STR = 3,
    MF_BYTES = 4,
    MF_I64V = 5,
    MF_F64V = 6,
    MF_STRV = 7,
    MF_BOOL = 8,      /* parameters only: stored as MF_I64 0/1 */
    /* Written by other languages' SDKs (the Python SDK); a C step reads and writes them as
     * raw payloads with mf_get_value / mf_set_value. */
    MF_OBJ = 9,       /* UTF-8 JSON text: a portable structured value (sdk/DATASTORE.md) */
    MF_PICKLE = 10,   /* a Python pickle: only Python reads it */
    MF_NPY = 11,      /* a numpy array in numpy's .npy format */
} mf_type;

typedef struct mf_step_resources {
    int cpu;          /* cores; 0 = one */
    int memory_mb;    /* 0 = no limit */
    int gpu;          /* 0 = none */
} mf_step_resources;

typedef struct mf_step_def {
    const char *name;             /* [A-Za-z_][A-Za-z0-9_]*; "start" and "end" are required */
    void (*fn)(mf_task *t);
    const char *next;             /* space-separated successors; NULL for "end" */
    const char *foreach;          /* list artifact to fan out over (exactly one successor) */
    int join;                     /* 1: this step joins a branch or a foreach */
    mf_step_resources resources;
    int retry;                    /* extra attempts after a failure */
    const char *catch_var;        /* after the last failed attempt, store the error here, go on */
    int timeout_s;                /* 0 = none */
    const char *compute;          /* compute plugin for this step, overriding --compute */
    const char *image;            /* container image for container and k8s compute */
    const char *const *env;       /* NULL-terminated "K=V" extra environment */
    /* 1.2: the step's own settings for the compute plugin that runs it, NULL-terminated
     * "PLUGIN.KEY=VALUE" (e.g. "k8s.node_selector=gpu=a100"); a plugin reads its own prefix
     * and ignores the others'. */
    const char *const *settings;
} mf_step_def;

typedef struct mf_param_def {
    const char *name;             /* set on the command line as --name=value */
    mf_type type;                 /* MF_I64, MF_F64, MF_STR or MF_BOOL */
    const char *default_value;    /* as text; NULL makes the parameter required */
    const char *help;
} mf_param_def;

/* 1.3: an endpoint `mflow serve` answers at /<name> (GET or POST) from the artifacts of the
 * `end` task of the latest successful run (see "Endpoints" below). */
typedef struct mf_endpoint_def {
    const char *name;             /* [A-Za-z0-9_-], 1 to 100 characters: the URL path /<name> */
    int (*fn)(mf_endpoint *e);    /* 0 after an answer; non-zero: an error (see mf_reply_error) */
    const char *help;             /* one line, listed at / */
} mf_endpoint_def;

/* What MF_FLOW exports; read by the mflow loader. */
typedef struct mf_flow_def {
    uint32_t struct_size;         /* sizeof(mf_flow_def) */
    uint32_t abi_version;         /* the major: MF_FLOW_ABI_MAJOR */
    const char *name;
    const mf_step_def *steps;     /* n_steps entries of step_size bytes */
    size_t n_steps;
    const mf_param_def *params;   /* n_params entries of param_size bytes, or NULL */
    size_t n_params;
    /* 1.1 */
    uint32_t abi_minor;           /* MF_FLOW_ABI_MINOR */
    uint32_t step_size;           /* sizeof(mf_step_def) */
    uint32_t param_size;          /* sizeof(mf_param_def) */
    /* 1.3 (from a pointer-aligned offset: a 1.2 definition's tail padding covers none of it) */
    const mf_endpoint_def *endpoints;  /* n_endpoints entries of endpoint_size bytes, or NULL */
    size_t n_endpoints;
    uint32_t endpoint_size;       /* sizeof(mf_endpoint_def) */
} mf_flow_def;

/* Sizes of 1.0, what a flow that records no sizes has; and the least an entry may hold. */
#define MF_FLOW_DEF_V1_0_SIZE (offsetof(mf_flow_def, n_params) + sizeof(size_t))
#define MF_STEP_DEF_V1_0_SIZE (offsetof(mf_step_def, env) + sizeof(void *))
#define MF_STEP_DEF_V1_1_SIZE MF_STEP_DEF_V1_0_SIZE   /* 1.1 grew mf_flow_def only */
#define MF_PARAM_DEF_V1_0_SIZE (offsetof(mf_param_def, help) + sizeof(void *))
#define MF_STEP_DEF_MIN_SIZE (offsetof(mf_step_def, fn) + sizeof(void (*)(mf_task *)))
#define MF_PARAM_DEF_MIN_SIZE (offsetof(mf_param_def, type) + sizeof(mf_type))
/* The size of a 1.2 mf_flow_def (what a flow of 1.1 or 1.2 records as struct_size), and the
 * least an endpoint entry may hold (its name and fn). */
#define MF_FLOW_DEF_V1_2_SIZE (offsetof(mf_flow_def, endpoints))
#define MF_ENDPOINT_DEF_MIN_SIZE (offsetof(mf_endpoint_def, fn) + sizeof(int (*)(mf_endpoint *)))

#define MF_FLOW_ENTRY_SYMBOL "mf_flow_entry_v1"

/* A parameter table is an array or NULL: sizeof(NULL) / sizeof(mf_param_def) is 0 because a
 * definition is larger than a pointer (checked below). */
#define MF__COUNT(arr, type) (sizeof(arr) / sizeof(type))
typedef char mf__param_def_larger_than_pointer[sizeof(mf_param_def) > sizeof(void *) ? 1 : -1];
typedef char mf__step_def_larger_than_pointer[sizeof(mf_step_def) > sizeof(void *) ? 1 : -1];
/* 1.3's fields start where a 1.2 definition ended, pointer-aligned. */
typedef char mf__flow_def_v1_3_aligned[MF_FLOW_DEF_V1_2_SIZE % sizeof(void *) == 0 &&
                                       MF_FLOW_DEF_V1_2_SIZE >= offsetof(mf_flow_def, param_size) +
                                                                    sizeof(uint32_t) ? 1 : -1];

#define MF__FLOW_DEF(flow_name, step_table, param_table, ep_table, n_ep)                  \
    __attribute__((visibility("default"))) const mf_flow_def *mf_flow_entry_v1(void);      \
    const mf_flow_def *mf_flow_entry_v1(void)                                              \
    {                                                                                      \
        static const mf_flow_def def = {                                                   \
            sizeof(mf_flow_def), MF_FLOW_ABI_MAJOR, (flow_name), (step_table),             \
            MF__COUNT(step_table, mf_step_def), (const mf_param_def *)(param_table),       \
            MF__COUNT(param_table, mf_param_def), MF_FLOW_ABI_MINOR,                       \
            sizeof(mf_step_def), sizeof(mf_param_def), (ep_table), (n_ep),                 \
            sizeof(mf_endpoint_def)};                                                      \
        return &def;                                                                       \
    }

/* Export a flow: MF_FLOW("Name", steps, params) with params an array or NULL. */
#define MF_FLOW(flow_name, step_table, param_table)                                       \
    MF__FLOW_DEF(flow_name, step_table, param_table, NULL, 0)

/* Export a flow with endpoints (1.3): endpoint_table is an array of mf_endpoint_def. */
#define MF_FLOW_WITH_ENDPOINTS(flow_name, step_table, param_table, endpoint_table)          \
    MF__FLOW_DEF(flow_name, step_table, param_table, (endpoint_table),                     \
                 MF__COUNT(endpoint_table, mf_endpoint_def))

/* ---- scalars ---------------------------------------------------------------------------- */
void mf_set_i64(mf_task *t, const char *name, int64_t v);
void mf_set_f64(mf_task *t, const char *name, double v);
void mf_set_str(mf_task *t, const char *name, const char *v);
void mf_set_bytes(mf_task *t, const char *name, const void *data, size_t len);
int64_t mf_get_i64(mf_task *t, const char *name);
double mf_get_f64(mf_task *t, const char *name);
const char *mf_get_str(mf_task *t, const char *name);
const void *mf_get_bytes(mf_task *t, const char *name, size_t *len);
/* 1 when the task has (or inherited) the artifact, 0 otherwise. */
int mf_has(mf_task *t, const char *name);
/* The artifact's type, or 0 when absent. */
mf_type mf_type_of(mf_task *t, const char *name);

/* ---- lists (what foreach fans out over; so does an MF_OBJ that is a JSON array) ----- */
void mf_set_i64v(mf_task *t, const char *name, const int64_t *v, size_t n);
void mf_set_f64v(mf_task *t, const char *name, const double *v, size_t n);
void mf_set_strv(mf_task *t, const char *name, const char *const *v, size_t n);
const int64_t *mf_get_i64v(mf_task *t, const char *name, size_t *n);
const double *mf_get_f64v(mf_task *t, const char *name, size_t *n);
const char *const *mf_get_strv(mf_task *t, const char *name, size_t *n);

/* ---- any type, as its raw payload ---------------------------------------------------------- */
/* Store `len` bytes as an artifact of `type` (any of enum mf_type but MF_BOOL): the payload of
 * sdk/DATASTORE.md section 4, without the 8-byte header. The payload is checked as a reader
 * checks it (an MF_OBJ must be UTF-8 JSON, an MF_NPY must start with numpy's magic, a list's
 * counts must fit); a payload that is not valid fails the task. This is how the Python SDK
 * stores MF_OBJ, MF_PICKLE and MF_NPY values. */
void mf_set_value(mf_task *t, const char *name, mf_type type, const void *payload, size_t len);
/* The stored payload (no header) of any artifact; *type and *len (either may be NULL) get its
 * type and length. Belongs to the task like every getter's result. */
const void *mf_get_value(mf_task *t, const char *name, mf_type *type, size_t *len);
/* The same for artifact `name` of input i of a join. */
const void *mf_input_value(mf_task *t, size_t i, const char *name, mf_type *type, size_t *len);

/* ---- the foreach item of a split task (the innermost foreach) ----------------------------- */
int64_t mf_item_i64(mf_task *t);
double mf_item_f64(mf_task *t);
const char *mf_item_str(mf_task *t);
size_t mf_item_index(mf_task *t);
size_t mf_item_count(mf_task *t);

/* ---- joins -------------------------------------------------------------------------------- */
size_t mf_input_count(mf_task *t);
int64_t mf_input_i64(mf_task *t, size_t i, const char *name);
double mf_input_f64(mf_task *t, size_t i, const char *name);
const char *mf_input_str(mf_task *t, size_t i, const char *name);
const void *mf_input_bytes(mf_task *t, size_t i, const char *name, size_t *len);
int mf_input_has(mf_task *t, size_t i, const char *name);
/* The step that produced input i. */
const char *mf_input_step(mf_task *t, size_t i);
/* Keep every artifact that all inputs agree on (same value) or that only some inputs have;
 * fail the task naming the first artifact whose values conflict, unless excluded.
 * exclude: space-separated names or NULL. */
void mf_merge_artifacts(mf_task *t, const char *exclude);

/* ---- the current task ---------------------------------------------------------------------- */
const char *mf_flow_name(mf_task *t);
int64_t mf_run_id(mf_task *t);
const char *mf_step_name(mf_task *t);
int64_t mf_task_id(mf_task *t);
int mf_attempt(mf_task *t);

/* Fail the task with a message; does not return. */
void mf_fail(mf_task *t, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/* ---- endpoints (1.3): what `mflow serve` answers ------------------------------------------
 *
 *     static int show_data(mf_endpoint *e)
 *     {
 *         mf_task *t = mf_endpoint_task(e);      // the served run's `end` task, read-only
 *         return mf_reply_jsonf(e, "{\"result\": %lld}", (long long)mf_get_i64(t, "result"));
 *     }
 *     static const mf_endpoint_def endpoints[] = {
 *         { .name = "show_data", .fn = show_data, .help = "the result" },
 *     };
 *     MF_FLOW_WITH_ENDPOINTS("ShowFlow", steps, NULL, endpoints);
 *
 * An endpoint reads the artifacts of the served run's `end` task with the getters a step uses
 * (mf_get_i64, mf_get_str, mf_get_f64v, mf_has, mf_run_id...) on mf_endpoint_task(e); setters
 * fail. A getter that fails (a missing artifact) or mf_fail answers 500 with the message; the
 * server goes on. Strings handed out live until the answer is sent (getters' values for as
 * long as the run is served).
 *
 * The request: a POST's body is JSON (the server answers 400 to a body that is not, before
 * the endpoint runs); a GET's query arguments are a JSON object of strings ({"x": "3"} for
 * ?x=3); no body and no arguments is {}. */
mf_task *mf_endpoint_task(mf_endpoint *e);
const char *mf_endpoint_name(mf_endpoint *e);
const char *mf_req_method(mf_endpoint *e);             /* "GET" or "POST" */
const char *mf_req_json(mf_endpoint *e);               /* the request as JSON text */
/* A member of the request's top-level object: 0 with *v set; MF_ENOTFOUND (-3) when absent
 * (or the request is not an object); MF_EINVAL (-1) when of another type (an i64 that is not
 * a whole number in range included). A number in a
 * string ("3", as query arguments come) is taken as a number. *v of str lives until the
 * answer is sent. */
int mf_req_i64(mf_endpoint *e, const char *name, int64_t *v);
int mf_req_f64(mf_endpoint *e, const char *name, double *v);
int mf_req_str(mf_endpoint *e, const char *name, const char **v);
/* The answer: JSON text, status 200 (text that is not JSON answers 500, naming the endpoint).
 * Return their result from the endpoint: 0, or MF_ENOMEM (-2) when out of memory. */
int mf_reply_json(mf_endpoint *e, const char *json);
int mf_reply_jsonf(mf_endpoint *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An error answer: {"error": message} with status (400-599); returns status, so that
 * `return mf_reply_error(e, 400, "give x");` ends the endpoint with it. */
int mf_reply_error(mf_endpoint *e, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif /* MFLOW_FLOW_H */
