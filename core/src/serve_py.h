/* A Python flow's endpoints in `mflow serve`: each worker of the server owns one Python process
 * (`python3 -m mflow __endpoint-server FLOW.py NS`, sdk/python/mflow/endpoint_server.py) that
 * imported the flow once, and hands it its requests one at a time over a socket pair.
 * Frames, both ways: a 4-byte big-endian length, then the payload (a request: a JSON object;
 * an answer: the status as three digits, then the body's JSON text). Part of the serve
 * module (mflow-serve.so). */
#ifndef MF_SERVE_PY_H
#define MF_SERVE_PY_H

#include <stddef.h>

struct mf_serve_py;

/* Start the Python process for the flow at flow_path (absolute), serving namespace ns. The
 * environment must already name libmflow and the SDK (mf_python_env) and the settings. 0, an
 * errno, or MF_ENOMEM. The process is started again by mf_serve_py_call when it has died. */
int mf_serve_py_open(const char *flow_path, const char *ns, struct mf_serve_py **out);
/* From another thread, when the worker stops: a call in progress (an endpoint that never
 * returns) ends with MF_EIO, and no other process is started. */
void mf_serve_py_interrupt(struct mf_serve_py *p);
/* Close the socket and reap the process (it ends when its socket closes). NULL: no-op. */
void mf_serve_py_close(struct mf_serve_py *p);

/* Send one request (req_len bytes of JSON) and wait for the answer: 0 with *status and *body
 * (malloc'd, *body_len bytes). A process found dead before the request is replaced and the
 * request sent to the new one. MF_EIO when the process ended while it answered (os._exit, a
 * signal, a crash in an extension): *why (malloc'd) says how, and a new process is started for
 * the next request. MF_ENOMEM, or an errno when no process can be started. */
int mf_serve_py_call(struct mf_serve_py *p, const char *req, size_t req_len, int *status,
                     char **body, size_t *body_len, char **why);

/* The process's id (tests and messages); -1 when none runs. */
int mf_serve_py_pid(const struct mf_serve_py *p);

#endif
