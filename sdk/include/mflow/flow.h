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
 * compute plugin that runs it).
 */
#ifndef MFLOW_FLOW_H
#define MFLOW_FLOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MF_FLOW_ABI_MAJOR 1
#define MF_FLOW_ABI_MINOR 2
/* The major, under the name that mf_flow_def.abi_version and flows of 1.0 use. */
#define MF_FLOW_ABI_VERSION MF_FLOW_ABI_MAJOR

typedef struct mf_task mf_task;

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
} mf_flow_def;

/* Sizes of 1.0, what a flow that records no sizes has; and the least an entry may hold. */
#define MF_FLOW_DEF_V1_0_SIZE (offsetof(mf_flow_def, n_params) + sizeof(size_t))
#define MF_STEP_DEF_V1_0_SIZE (offsetof(mf_step_def, env) + sizeof(void *))
#define MF_STEP_DEF_V1_1_SIZE MF_STEP_DEF_V1_0_SIZE   /* 1.1 grew mf_flow_def only */
#define MF_PARAM_DEF_V1_0_SIZE (offsetof(mf_param_def, help) + sizeof(void *))
#define MF_STEP_DEF_MIN_SIZE (offsetof(mf_step_def, fn) + sizeof(void (*)(mf_task *)))
#define MF_PARAM_DEF_MIN_SIZE (offsetof(mf_param_def, type) + sizeof(mf_type))

#define MF_FLOW_ENTRY_SYMBOL "mf_flow_entry_v1"

/* A parameter table is an array or NULL: sizeof(NULL) / sizeof(mf_param_def) is 0 because a
 * definition is larger than a pointer (checked below). */
#define MF__COUNT(arr, type) (sizeof(arr) / sizeof(type))
typedef char mf__param_def_larger_than_pointer[sizeof(mf_param_def) > sizeof(void *) ? 1 : -1];
typedef char mf__step_def_larger_than_pointer[sizeof(mf_step_def) > sizeof(void *) ? 1 : -1];

/* Export a flow: MF_FLOW("Name", steps, params) with params an array or NULL. */
#define MF_FLOW(flow_name, step_table, param_table)                                       \
    __attribute__((visibility("default"))) const mf_flow_def *mf_flow_entry_v1(void);      \
    const mf_flow_def *mf_flow_entry_v1(void)                                              \
    {                                                                                      \
        static const mf_flow_def def = {                                                   \
            sizeof(mf_flow_def), MF_FLOW_ABI_MAJOR, (flow_name), (step_table),             \
            MF__COUNT(step_table, mf_step_def), (const mf_param_def *)(param_table),       \
            MF__COUNT(param_table, mf_param_def), MF_FLOW_ABI_MINOR,                       \
            sizeof(mf_step_def), sizeof(mf_param_def)};                                    \
        return &def;                                                                       \
    }

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

/* ---- lists (what foreach fans out over; also an MF_OBJ that is a JSON array) -------------------------------------------------- */
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

#ifdef __cplusplus
}
#endif
#endif /* MFLOW_FLOW_H */
