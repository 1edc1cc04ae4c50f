/* A Job and its pod as an mf_job_status (status.h). Field names follow the API reference:
 * Job .status.conditions[] {type Complete/Failed, reason (DeadlineExceeded,
 * BackoffLimitExceeded), message}; Pod .status {phase, reason (Evicted), message, startTime,
 * conditions[] {type PodScheduled/DisruptionTarget, status, reason, message},
 * containerStatuses[] {name, image, state {waiting {reason, message}, running {startedAt},
 * terminated {exitCode, signal, reason, message, startedAt, finishedAt}}}}. */
#include "status.h"

#include "kubeconfig.h"
#include "manifest.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

double k8s_time(const json_t *v)
{
    const char *s = json_string_value(v);
    time_t t;
    if (!s || k8s_parse_rfc3339(s, &t))
        return 0;
    return (double)t;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* The condition of `type` whose status is "True" (or any status when any_status). */
static const json_t *condition(const json_t *obj, const char *type, int any_status)
{
    const json_t *conds = json_object_get(json_object_get(obj, "status"), "conditions");
    size_t i;
    const json_t *c;
    json_array_foreach(conds, i, c) {
        const char *t = str(c, "type"), *s = str(c, "status");
        if (t && !strcmp(t, type) && (any_status || (s && !strcmp(s, "True"))))
            return c;
    }
    return NULL;
}

static const json_t *main_status(const json_t *pod)
{
    const json_t *cs = json_object_get(json_object_get(pod, "status"), "containerStatuses");
    size_t i;
    const json_t *c;
    json_array_foreach(cs, i, c) {
        const char *n = str(c, "name");
        if (n && !strcmp(n, K8S_MAIN_CONTAINER))
            return c;
    }
    return json_array_size(cs) == 1 ? json_array_get(cs, 0) : NULL;
}

/* spec.containers[main].<field> */
static const json_t *main_spec(const json_t *pod)
{
    const json_t *cs = json_object_get(json_object_get(pod, "spec"), "containers");
    size_t i;
    const json_t *c;
    json_array_foreach(cs, i, c) {
        const char *n = str(c, "name");
        if (n && !strcmp(n, K8S_MAIN_CONTAINER))
            return c;
    }
    return json_array_size(cs) == 1 ? json_array_get(cs, 0) : NULL;
}

static void set_reason(struct mf_job_status *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_reason(struct mf_job_status *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->reason, sizeof st->reason, fmt, ap);
    va_end(ap);
}

static void ended(struct mf_job_status *st, int state, const struct k8s_obs *o)
{
    st->state = (uint32_t)state;
    if (!st->end_time)
        st->end_time = o->now;
}

static int eval_observed(const struct k8s_obs *o, struct mf_job_status *st)
{
    const json_t *job = o->job, *pod = o->pod;
    const json_t *ps = json_object_get(pod, "status");
    const json_t *cs = pod ? main_status(pod) : NULL;
    const json_t *state = json_object_get(cs, "state");
    const json_t *term = json_object_get(state, "terminated");
    const json_t *wait = json_object_get(state, "waiting");
    const json_t *run = json_object_get(state, "running");
    const char *name = o->job_name ? o->job_name : "?";
    st->exit_code = -1;
    st->term_signal = 0;
    st->timed_out = 0;
    st->reason[0] = 0;
    st->state = MF_JOB_QUEUED;
    st->start_time = k8s_time(json_object_get(ps, "startTime"));
    if (!st->start_time)
        st->start_time = k8s_time(json_object_get(json_object_get(job, "status"), "startTime"));
    if (run && k8s_time(json_object_get(run, "startedAt")))
        st->start_time = k8s_time(json_object_get(run, "startedAt"));
    st->end_time = 0;

    /* The Job's own end first: the deadline kills the pod, which then says little. */
    const json_t *jf = condition(job, "Failed", 0);
    const char *jfr = jf ? str(jf, "reason") : NULL;
    if (jfr && !strcmp(jfr, "DeadlineExceeded")) {
        st->timed_out = 1;
        st->end_time = k8s_time(json_object_get(jf, "lastTransitionTime"));
        set_reason(st, "DeadlineExceeded: %s (Job %s, activeDeadlineSeconds)",
                   str(jf, "message") ? str(jf, "message") : "Job was active longer than specified deadline",
                   name);
        ended(st, MF_JOB_FAILED, o);
        return K8S_V_NONE;
    }

    if (term && json_integer_value(json_object_get(term, "exitCode")) == 0 &&
        !json_object_get(term, "signal")) {
        st->exit_code = 0;
        st->end_time = k8s_time(json_object_get(term, "finishedAt"));
        if (k8s_time(json_object_get(term, "startedAt")))
            st->start_time = k8s_time(json_object_get(term, "startedAt"));
        ended(st, MF_JOB_SUCCEEDED, o);
        return K8S_V_NONE;
    }
    /* An eviction or a lost node kills the container too: say why, not its exit code. */
    const char *phase = str(ps, "phase");
    const char *preason = str(ps, "reason");
    if (preason && !strcmp(preason, "Evicted")) {
        set_reason(st, "Evicted: %s", str(ps, "message") ? str(ps, "message") : "the kubelet evicted the pod");
        ended(st, MF_JOB_FAILED, o);
        return K8S_V_NONE;
    }
    const json_t *dt = pod ? condition(pod, "DisruptionTarget", 0) : NULL;
    if (dt) {
        set_reason(st, "node lost: %s%s%s (pod %s)",
                   str(dt, "reason") ? str(dt, "reason") : "DisruptionTarget",
                   str(dt, "message") ? ": " : "", str(dt, "message") ? str(dt, "message") : "",
                   str(json_object_get(pod, "metadata"), "name") ? str(json_object_get(pod, "metadata"), "name") : name);
        ended(st, MF_JOB_LOST, o);
        return K8S_V_DELETE;
    }
    /* The Job deleted by someone else (Background): its pod is killed and says only 143 or
     * 137, which reads like the task's own failure. Say what happened instead. */
    if (!job && o->job_seen_before && (term || (phase && !strcmp(phase, "Failed")))) {
        set_reason(st, "node lost: the Job %s is gone (deleted outside mflow?) and its pod %s "
                   "was killed", name,
                   str(json_object_get(pod, "metadata"), "name") ? str(json_object_get(pod, "metadata"), "name") : "?");
        ended(st, MF_JOB_LOST, o);
        return K8S_V_NONE;
    }
    if (term) {
        json_int_t code = json_integer_value(json_object_get(term, "exitCode"));
        const char *r = str(term, "reason");
        st->exit_code = (int32_t)code;
        st->term_signal = (int32_t)json_integer_value(json_object_get(term, "signal"));
        st->end_time = k8s_time(json_object_get(term, "finishedAt"));
        if (k8s_time(json_object_get(term, "startedAt")))
            st->start_time = k8s_time(json_object_get(term, "startedAt"));
        if (r && !strcmp(r, "OOMKilled")) {
            const json_t *lim = json_object_get(
                json_object_get(json_object_get(main_spec(pod), "resources"), "limits"), "memory");
            set_reason(st, "OOMKilled: the container passed its memory limit (%s) in pod %s",
                       json_string_value(lim) ? json_string_value(lim) : "none set",
                       str(json_object_get(pod, "metadata"), "name") ? str(json_object_get(pod, "metadata"), "name") : name);
            ended(st, MF_JOB_FAILED, o);
            return K8S_V_NONE;
        }
        if (code == 0 && !st->term_signal) {
            ended(st, MF_JOB_SUCCEEDED, o);
            return K8S_V_NONE;
        }
        if (r && strcmp(r, "Error") && strcmp(r, "Completed"))
            set_reason(st, "%s%s%s", r, str(term, "message") ? ": " : "",
                       str(term, "message") ? str(term, "message") : "");
        ended(st, MF_JOB_FAILED, o);
        return K8S_V_NONE;
    }

    if (wait) {
        const char *r = str(wait, "reason");
        const char *m = str(wait, "message");
        if (r && (!strcmp(r, "ErrImagePull") || !strcmp(r, "ImagePullBackOff") ||
                  !strcmp(r, "InvalidImageName"))) {
            const char *img = str(cs, "image");
            if (!img)
                img = str(main_spec(pod), "image");
            set_reason(st, "%s: image '%s' cannot be pulled%s%s", r, img ? img : "?",
                       m ? ": " : "", m ? m : "");
            ended(st, MF_JOB_FAILED, o);
            return K8S_V_DELETE;
        }
        if (r && (!strcmp(r, "CreateContainerConfigError") || !strcmp(r, "CreateContainerError"))) {
            set_reason(st, "%s: %s", r, m ? m : "the container could not be created");
            ended(st, MF_JOB_FAILED, o);
            return K8S_V_DELETE;
        }
    }
    if (phase && !strcmp(phase, "Succeeded")) {
        st->exit_code = 0;
        ended(st, MF_JOB_SUCCEEDED, o);
        return K8S_V_NONE;
    }
    if (phase && !strcmp(phase, "Failed")) {
        set_reason(st, "%s%s%s", preason ? preason : "pod failed", str(ps, "message") ? ": " : "",
                   str(ps, "message") ? str(ps, "message") : "");
        ended(st, MF_JOB_FAILED, o);
        return K8S_V_NONE;
    }
    if (phase && !strcmp(phase, "Running")) {
        st->state = MF_JOB_RUNNING;
        return K8S_V_NONE;
    }
    const json_t *sc = pod ? condition(pod, "PodScheduled", 1) : NULL;
    const char *scs = sc ? str(sc, "status") : NULL, *scr = sc ? str(sc, "reason") : NULL;
    if (scs && !strcmp(scs, "False") && scr && !strcmp(scr, "Unschedulable")) {
        double waited = o->now - o->created;
        if (o->pending_limit_s > 0 && o->created > 0 && waited >= o->pending_limit_s) {
            set_reason(st, "Unschedulable: %s (pending %.0f s, past the pending limit of %.0f s: "
                       "k8s pending_limit_s)", str(sc, "message") ? str(sc, "message") : "no node fits",
                       waited, o->pending_limit_s);
            ended(st, MF_JOB_FAILED, o);
            return K8S_V_DELETE;
        }
        set_reason(st, "Unschedulable: %s", str(sc, "message") ? str(sc, "message") : "no node fits");
        return K8S_V_NONE;
    }

    /* No pod to tell: the Job's own conditions, then what is gone. */
    if (condition(job, "Complete", 0)) {
        st->exit_code = 0;
        ended(st, MF_JOB_SUCCEEDED, o);
        return K8S_V_NONE;
    }
    if (jf) {
        set_reason(st, "%s%s%s (Job %s)", jfr ? jfr : "Failed", str(jf, "message") ? ": " : "",
                   str(jf, "message") ? str(jf, "message") : "", name);
        ended(st, MF_JOB_FAILED, o);
        return K8S_V_NONE;
    }
    if (!job) {
        if (o->job_seen_before) {
            set_reason(st, "node lost: the Job %s is gone (deleted outside mflow?)", name);
            ended(st, MF_JOB_LOST, o);
            return K8S_V_NONE;
        }
        if (o->appear_grace_s > 0 && o->created > 0 && o->now - o->created > o->appear_grace_s) {
            set_reason(st, "node lost: the Job %s never appeared in the API server's lists", name);
            ended(st, MF_JOB_LOST, o);
            return K8S_V_DELETE;
        }
        return K8S_V_NONE;
    }
    if (!pod && o->pod_seen_before) {
        set_reason(st, "node lost: the pod of Job %s is gone before it ended", name);
        ended(st, MF_JOB_LOST, o);
        return K8S_V_DELETE;
    }
    return K8S_V_NONE;
}

/* The Job's activeDeadlineSeconds is the authority on timeout_s; mflow's own clock is the
 * backstop. It counts from the Job's creation, a little before the cluster's startTime, so
 * what keeps mflow behind the job controller is the grace (a grace of 0 may end a task just
 * before DeadlineExceeded would have); past it the task has outlived its deadline whatever the
 * cluster's clocks say. eval_observed left a running task's exit code, signal and end unset. */
int k8s_status_eval(const struct k8s_obs *o, struct mf_job_status *st)
{
    int v = eval_observed(o, st);
    if (st->state != MF_JOB_QUEUED && st->state != MF_JOB_RUNNING)
        return v;
    if (o->timeout_s <= 0 || o->deadline_grace_s < 0 || o->created <= 0)
        return v;
    double ran = o->now - o->created;
    if (ran < o->timeout_s + o->deadline_grace_s)
        return v;
    const json_t *ft = condition(o->job, "FailureTarget", 0);
    const char *ftr = ft ? str(ft, "reason") : NULL;
    st->timed_out = 1;
    set_reason(st, "Job %s still %s %.0f s after it was created, past its activeDeadlineSeconds "
               "(%.0f s) and k8s deadline_grace_s (%.0f s)%s: mflow deleted the Job",
               o->job_name ? o->job_name : "?", st->state == MF_JOB_QUEUED ? "pending" : "running",
               ran, o->timeout_s, o->deadline_grace_s,
               ftr && !strcmp(ftr, "DeadlineExceeded")
                   ? " (the job controller marked it DeadlineExceeded; its pod has not ended)"
                   : "");
    ended(st, MF_JOB_FAILED, o);
    return K8S_V_DELETE;
}
