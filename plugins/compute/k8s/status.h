/* What a Job and its pod say about a task attempt, as an mf_job_status (no I/O: unit-tested on
 * documents shaped like the API reference's). Reasons are named as Kubernetes names them:
 *   ErrImagePull / ImagePullBackOff / InvalidImageName (with the image), OOMKilled (with the
 *   memory limit), DeadlineExceeded (timed_out), Evicted, Unschedulable (with the scheduler's
 *   message, after the pending limit), CreateContainerConfigError / CreateContainerError
 *   (e.g. a missing Secret), a lost node (DisruptionTarget, or the pod or Job gone: LOST). */
#ifndef MFLOW_K8S_STATUS_H
#define MFLOW_K8S_STATUS_H

#include <mflow/plugin.h>

#include <jansson.h>

struct k8s_obs {
    const char *job_name;
    const json_t *job;           /* the Job in the latest list, or NULL */
    const json_t *pod;           /* its pod in the latest list (the newest), or NULL */
    int job_seen_before;         /* an earlier list had the Job */
    int pod_seen_before;         /* an earlier list had a pod of it */
    double now;                  /* unix seconds */
    double created;              /* when the Job was created (unix seconds) */
    double pending_limit_s;      /* Unschedulable longer than this fails; <= 0: never */
    double appear_grace_s;       /* a created Job missing from lists this long is LOST */
    double timeout_s;            /* the task's timeout_s (the Job's activeDeadlineSeconds); 0: none */
    double deadline_grace_s;     /* still running this long past timeout_s: mflow ends it; < 0: never */
};

/* Verdicts beyond st->state. */
enum k8s_verdict {
    K8S_V_NONE = 0,
    K8S_V_DELETE = 1,            /* mflow decided the end while the Job lives: delete it */
};

/* Fill st (state, exit_code, term_signal, timed_out, times, reason). Returns a k8s_verdict.
 * A task still queued or running timeout_s + deadline_grace_s after its Job was created (the
 * job controller late with activeDeadlineSeconds, or a pod that outlives its termination) is
 * FAILED, timed_out, with K8S_V_DELETE. */
int k8s_status_eval(const struct k8s_obs *o, struct mf_job_status *st);

/* RFC 3339 ("2024-05-01T10:00:00Z", fractions and offsets allowed) to unix seconds; 0 when
 * absent or unreadable. */
double k8s_time(const json_t *v);

#endif
