/* The batch/v1 Job that runs one task attempt, built with jansson.
 *
 * The Job: restartPolicy Never, backoffLimit 0 (mflow retries, not Kubernetes),
 * ttlSecondsAfterFinished, activeDeadlineSeconds = timeout_s; one container named "main" that
 * runs the `mflow task ...` argv with `--package ADDRESS`; labels (label-safe values) and
 * annotations (exact values) for flow, run, step, task, attempt, user and mflow version on the
 * Job and its pod; cpu and memory as requests = limits, gpu as nvidia.com/gpu.
 *
 * Pod overlay (settings.pod_overlay_json): a JSON object merged into the generated pod spec:
 *   - objects are merged key by key, recursively;
 *   - a list whose items are all objects with a string "name" (containers, initContainers,
 *     volumes, volumeMounts, env, ports, imagePullSecrets, ...) is merged by name: an item with
 *     a name already present is merged into it, new names are appended in the overlay's order;
 *   - any other list (tolerations, args, ...) and every scalar is replaced by the overlay's;
 *   - null in the overlay deletes the key.
 * The settings' overlay is merged first, then the step's (k8s_job_input.step_pod_overlay_json),
 * so a step overrides the run-wide overlay by the same rules.
 * After the merge mflow's own fields are set again and win: restartPolicy Never, and in the
 * "main" container: image, command (the whole argv; "args" removed), the MFLOW_* variables and
 * the cpu/memory/gpu requests and limits mflow computed. Everything else in the overlay stays
 * (hostNetwork, volumes, securityContext, sidecars, ...), so the server's Strict field
 * validation is what catches a field the Pod API does not have. */
#ifndef MFLOW_K8S_MANIFEST_H
#define MFLOW_K8S_MANIFEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct k8s_toleration {
    const char *key;             /* NULL or "" = every key (operator must be Exists) */
    const char *op;              /* "Equal" (default when NULL) or "Exists" */
    const char *value;           /* Equal only */
    const char *effect;          /* NULL/"" = all, NoSchedule, PreferNoSchedule, NoExecute */
    int64_t seconds;             /* tolerationSeconds, with has_seconds (NoExecute only) */
    int has_seconds;
};

/* Everything that comes from settings (command line, MFLOW_K8S_*, config.json); borrowed. */
struct k8s_job_settings {
    const char *namespace_;                   /* required */
    const char *default_image;                /* used when the step names none */
    const char *service_account;              /* NULL = the namespace's default */
    const char *pull_policy;                  /* NULL, Always, IfNotPresent, Never */
    const char *const *image_pull_secrets;    /* NULL-terminated Secret names, or NULL */
    const char *const *env_secrets;           /* Secrets exposed as env (envFrom), or NULL */
    const char *const *node_selector;         /* NULL-terminated "key=value", or NULL */
    const struct k8s_toleration *tolerations;
    size_t n_tolerations;
    int32_t ttl_after_finished_s;             /* < 0 = not set; default in the plugin: 3600 */
    const char *pod_overlay_json;             /* JSON object merged into the pod spec, or NULL */
    const char *mflow_version;                /* for the version label and annotation */
};

/* One task attempt; borrowed. */
struct k8s_job_input {
    const char *flow, *run_id, *step, *task_id, *user;   /* user may be NULL */
    uint32_t attempt;
    const char *image;                        /* the step's image, or NULL */
    const char *const *argv;                  /* NULL-terminated: `mflow task ...` */
    const char *package_url;                  /* appended as --package URL unless argv has it */
    const char *const *env;                   /* NULL-terminated "K=V" (the step's env), or NULL */
    uint32_t timeout_s;                       /* 0 = no deadline */
    uint32_t cpu;                             /* cores; 0 = no request */
    uint64_t memory_mb;                       /* 0 = no request */
    uint32_t gpu;                             /* 0 = none */
    const char *step_pod_overlay_json;        /* the step's own overlay, merged after the
                                                 settings' one (so the step's wins), or NULL */
};

#define K8S_NAME_MAX 63
#define K8S_MAIN_CONTAINER "main"

/* The Job's name: "mflow-<flow>-<run>-<step>-<task>-<attempt>" as a DNS-1123 label (lower case,
 * [a-z0-9-], at most 63). When that is not the exact text (lower-casing, characters replaced,
 * shortened), a hash of the exact tuple is appended so two attempts never share a name.
 * buf must hold K8S_NAME_MAX + 1 bytes. */
int k8s_job_name(const struct k8s_job_input *in, char *buf, size_t buflen);

/* A label value: at most 63 of [A-Za-z0-9._-], alphanumeric at both ends (or empty). A value
 * that had to change gets a hash suffix of the exact text. buf: K8S_NAME_MAX + 1 bytes. */
int k8s_label_value(const char *in, char *buf, size_t buflen);

/* The Job manifest. *out is a new reference; msg says what is wrong with the input. */
int k8s_manifest_build(const struct k8s_job_settings *s, const struct k8s_job_input *in,
                       json_t **out, char *msg, size_t msglen);

/* The overlay merge described above (dst modified in place; overlay borrowed). */
int k8s_overlay_merge(json_t *dst, const json_t *overlay);

#endif
