/* The Airflow DAG file of a flow: Python text for Airflow 2.7 and later, generated from the
 * flow's graph (the JSON `mflow show --json` prints) and the deploy options. */
#ifndef MF_AIRFLOW_DAG_H
#define MF_AIRFLOW_DAG_H

#include <stddef.h>

struct mf_flow_desc;

/* What the plugin's settings add to the deploy options (NULL: unset). */
struct dag_settings {
    const char *image;          /* default container image (compute=k8s) */
    const char *k8s_namespace;  /* Kubernetes namespace of the pods, or NULL */
    const char *k8s_mflow;      /* the mflow command inside the image; NULL: "mflow" */
    const char *retry_delay_s;  /* seconds between Airflow retries; NULL: 30 */
    const char *pool;           /* Airflow pool of the BashOperator tasks, or NULL */
};

/* The option `key` of flow->options ("key=value"), or NULL. */
const char *dag_option(const struct mf_flow_desc *flow, const char *key);

/* Generate the DAG. On success *out is the malloc'd text and *dag_id (malloc'd) the DAG's id;
 * 0. Else a negative MF_E* code with *err (malloc'd) naming what is wrong and what to do. */
int dag_generate(const struct mf_flow_desc *flow, const struct dag_settings *set, char **out,
                 char **dag_id, char **err);

#endif
