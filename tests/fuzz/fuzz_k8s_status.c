/* What the Kubernetes API answers, as the k8s compute plugin reads it: a Job and its pod
 * (plugins/compute/k8s/status.c k8s_status_eval, k8s_time) and a failed answer's v1 Status
 * body (api.c k8s_status_message). The input is {"job": ..., "pod": ..., "flags": N}, or any
 * bytes as a Status body. Whatever comes, the verdict is a known state with a terminated
 * reason and a message that ends inside its buffer. */
#include "api.h"
#include "status.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[512];
    memset(msg, 'x', sizeof msg);
    k8s_status_message("create Job mflow-x", 422, (const char *)data, size, msg, sizeof msg);
    if (!memchr(msg, '\0', sizeof msg))
        abort();

    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return 0;
    }
    json_int_t flags = json_integer_value(json_object_get(doc, "flags"));
    struct k8s_obs o = {
        .job_name = "mflow-f-1-s-2-0",
        .job = json_object_get(doc, "job"),
        .pod = json_object_get(doc, "pod"),
        .job_seen_before = (int)(flags & 1),
        .pod_seen_before = (int)(flags >> 1 & 1),
        .now = 1714557600.0 + (double)(flags >> 2 & 0xffff),
        .created = 1714557600.0,
        .pending_limit_s = (flags & 0x40000) ? 0 : 300,
        .appear_grace_s = 60,
    };
    struct mf_job_status st = {.struct_size = sizeof st};
    int v = k8s_status_eval(&o, &st);
    if (v != K8S_V_NONE && v != K8S_V_DELETE)
        abort();
    if (st.state < MF_JOB_QUEUED || st.state > MF_JOB_LOST)
        abort();
    if (!memchr(st.reason, '\0', sizeof st.reason))
        abort();
    (void)k8s_time(json_object_get(o.pod ? o.pod : doc, "startTime"));
    json_decref(doc);
    return 0;
}
