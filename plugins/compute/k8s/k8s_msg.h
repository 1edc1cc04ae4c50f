/* The message convention of the k8s modules: a failing call writes its message into the
 * caller's buffer (msg, msglen; either may be NULL/0) and returns its code. */
#ifndef MFLOW_K8S_MSG_H
#define MFLOW_K8S_MSG_H

#include <mflow/plugin_util.h>

/* k8s_fail(msg, msglen, rc, fmt, ...): the SDK's mf_plugin_fail */
#define k8s_fail mf_plugin_fail

#endif
