/* Writes every combination of the Job manifest's inputs to OUTDIR/job-NNNN.json, for the
 * offline schema check (test_k8s_validate.sh): resources (cpu, memory, gpu each on or off),
 * secrets / pull secrets / service account / pull policy, tolerations, node selector, pod
 * overlays, timeout and ttl, plain and awkward names. Prints the number of files written.
 * Usage: k8s_manifest_gen OUTDIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

static const char *const overlays[] = {
    NULL,
    /* the pod-template things people set: host network, security, volumes, a sidecar */
    "{\"hostNetwork\": true, \"dnsPolicy\": \"ClusterFirstWithHostNet\","
    " \"securityContext\": {\"runAsUser\": 1000, \"runAsNonRoot\": true, \"fsGroup\": 2000},"
    " \"volumes\": [{\"name\": \"scratch\", \"emptyDir\": {\"sizeLimit\": \"10Gi\"}},"
    "               {\"name\": \"cfg\", \"configMap\": {\"name\": \"mflow-cfg\"}}],"
    " \"containers\": [{\"name\": \"main\", \"volumeMounts\": [{\"name\": \"scratch\", \"mountPath\": \"/scratch\"}],"
    "                   \"securityContext\": {\"allowPrivilegeEscalation\": false}},"
    "                  {\"name\": \"sidecar\", \"image\": \"busybox:1.36\", \"command\": [\"sleep\", \"1\"]}]}",
    /* scheduling and extra resources */
    "{\"priorityClassName\": \"batch-low\", \"schedulerName\": \"default-scheduler\","
    " \"affinity\": {\"nodeAffinity\": {\"requiredDuringSchedulingIgnoredDuringExecution\":"
    "   {\"nodeSelectorTerms\": [{\"matchExpressions\": [{\"key\": \"kubernetes.io/arch\", \"operator\": \"In\","
    "    \"values\": [\"amd64\"]}]}]}}},"
    " \"containers\": [{\"name\": \"main\", \"resources\": {\"limits\": {\"ephemeral-storage\": \"2Gi\"}},"
    "                   \"env\": [{\"name\": \"EXTRA\", \"valueFrom\": {\"secretKeyRef\": {\"name\": \"s\", \"key\": \"k\"}}}]}],"
    " \"tolerations\": [{\"key\": \"dedicated\", \"operator\": \"Equal\", \"value\": \"mflow\", \"effect\": \"NoSchedule\"}]}",
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: k8s_manifest_gen OUTDIR\n");
        return 2;
    }
    static const struct k8s_toleration tols[] = {
        {"nvidia.com/gpu", "Exists", NULL, "NoSchedule", 0, 0},
        {"spot", "Equal", "true", "NoExecute", 120, 1},
        {NULL, "Exists", NULL, NULL, 0, 0},
    };
    const char *const pull_secrets[] = {"regcred", "mirror-cred", NULL};
    const char *const env_secrets[] = {"aws-credentials", "db-password", NULL};
    const char *const selector[] = {"node.kubernetes.io/instance-type=p4d.24xlarge", "pool=gpu", NULL};
    const char *const argv_task[] = {"mflow", "task", "--flow", "Hello", "--run-id", "17", "--step",
                                     "train", "--task-id", "3", NULL};
    const char *const env_step[] = {"PYTHONUNBUFFERED=1", "EMPTY=", "WITH_EQ=a=b", NULL};
    int count = 0;
    for (int res = 0; res < 8; res++)
    for (int access = 0; access < 2; access++)
    for (int tol = 0; tol < 2; tol++)
    for (int sel = 0; sel < 2; sel++)
    for (int ov = 0; ov < 3; ov++)
    for (int tm = 0; tm < 2; tm++)
    for (int nm = 0; nm < 2; nm++) {
        struct k8s_job_settings s = {0};
        s.namespace_ = "mflow-jobs";
        s.default_image = "ghcr.io/example/mflow:0.1.0";
        s.mflow_version = "0.1.0";
        s.ttl_after_finished_s = tm ? 3600 : -1;
        if (access) {
            s.service_account = "mflow-runner";
            s.pull_policy = "IfNotPresent";
            s.image_pull_secrets = pull_secrets;
            s.env_secrets = env_secrets;
        }
        if (tol) { s.tolerations = tols; s.n_tolerations = 3; }
        if (sel) s.node_selector = selector;
        s.pod_overlay_json = overlays[ov];
        struct k8s_job_input in = {0};
        if (nm) {
            in.flow = "Über_Flow.With Spaces and a name far longer than any label allows at all";
            in.run_id = "2026-12-05T22:00:00Z#1";
            in.step = "_private step";
            in.task_id = "foreach/0042";
            in.user = "ann.o'neil@example.com";
            in.attempt = 12;
            in.image = "registry.example:5000/team/step-image@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        } else {
            in.flow = "hello";
            in.run_id = "17";
            in.step = "train";
            in.task_id = "3";
            in.user = "ann";
            in.attempt = 0;
        }
        if (ov == 2)   /* a step overlay over the run-wide one */
            in.step_pod_overlay_json = "{\"priorityClassName\": \"batch-high\","
                " \"volumes\": [{\"name\": \"data\", \"persistentVolumeClaim\": {\"claimName\": \"d\"}}],"
                " \"containers\": [{\"name\": \"main\", \"workingDir\": \"/data\","
                " \"volumeMounts\": [{\"name\": \"data\", \"mountPath\": \"/data\", \"readOnly\": true}]}]}";
        in.argv = argv_task;
        in.package_url = "s3://mflow-bucket/packages/hello/abc123.tar.gz";
        in.env = env_step;
        in.timeout_s = tm ? 600 : 0;
        in.cpu = (res & 1) ? 4 : 0;
        in.memory_mb = (res & 2) ? 2048 : 0;
        in.gpu = (res & 4) ? 2 : 0;

        json_t *job;
        char msg[512];
        int rc = k8s_manifest_build(&s, &in, &job, msg, sizeof msg);
        if (rc) {
            fprintf(stderr, "k8s_manifest_gen: combination %d: %s (%d)\n", count, msg, rc);
            return 1;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/job-%04d.json", argv[1], count);
        if (json_dump_file(job, path, JSON_INDENT(1) | JSON_SORT_KEYS)) {
            fprintf(stderr, "k8s_manifest_gen: cannot write %s\n", path);
            json_decref(job);
            return 1;
        }
        json_decref(job);
        count++;
    }
    printf("%d\n", count);
    return 0;
}
