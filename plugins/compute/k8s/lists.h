/* What the k8s plugin reads from the API server's list answers (no I/O: fuzzed by
 * tests/fuzz/fuzz_k8s_lists.c, unit-tested by tests/k8s/test_k8s_lists.c):
 *   - a run's JobList and PodList (one of each per poll): each Job by name, and the newest
 *     pod of each Job;
 *   - a flow's JobList (the orphan sweep): the Jobs an earlier run on this host left running;
 *   - the NodeList (`mflow resources`, a step's check): what each node allocates.
 * Every field may be missing or of another type: what cannot be read is skipped. */
#ifndef MFLOW_K8S_LISTS_H
#define MFLOW_K8S_LISTS_H

#include <jansson.h>
#include <stddef.h>

/* *jobs = {Job name: Job} over jobs_list's items, *pods = {Job name: its newest pod} over
 * pods_list's items (by creationTimestamp; a later item wins a tie). Items without a name
 * are skipped; either list may be NULL or no list. Values are borrowed references into the
 * lists (the objects hold a reference each). 0, or MF_ENOMEM with both NULL. */
int k8s_lists_index(const json_t *jobs_list, const json_t *pods_list, json_t **jobs,
                    json_t **pods);

/* The Job a pod belongs to: the batch.kubernetes.io/job-name label, the older job-name, else
 * an ownerReference of kind Job. NULL when none (borrowed from pod). */
const char *k8s_pod_job_name(const json_t *pod);

/* Whether a container of the pod runs or has run (it may have a log). */
int k8s_pod_ran(const json_t *pod);

/* A Job of the orphan sweep's list, read. */
struct k8s_orphan {
    const char *name;            /* borrowed from the Job */
    char host[256];              /* who created it: host, pid, process start (ticks) */
    long pid;
    unsigned long long start;
};

/* Whether job is a candidate for the orphan sweep: it has a name and the creator annotation
 * `annotation` ("HOST PID START"), belongs to another run than run_label, has not ended
 * (no Complete/Failed condition "True") and is not being deleted, and was created on
 * myhost. 1 with *o filled, else 0. Whether its creator still lives is the caller's check. */
int k8s_orphan_candidate(const json_t *job, const char *annotation, const char *run_label,
                         const char *myhost, struct k8s_orphan *o);

/* A resource quantity ("3800m", "4", "16Gi", "16336028Ki", "1e9", "500M") in base units
 * (cores, bytes); -1 when unreadable. Always -1 or a finite number. */
double k8s_quantity(const char *s);

/* What node (an item of a NodeList) allocates: {"kind": "node", "name", "cpus", "memory_mb",
 * "gpus" (whole, >= 0), "state": Ready, NotReady, SchedulingDisabled or Unknown}. NULL when
 * out of memory. */
json_t *k8s_node_offer(const json_t *node);

#endif
