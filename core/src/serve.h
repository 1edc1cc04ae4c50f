/* `mflow serve`: a flow's endpoints over HTTP, answered from the artifacts of the `end` task
 * of the latest successful run in a namespace. The server needs libmicrohttpd, so it lives in
 * a module of its own (mflow-serve.so, serve.c) loaded on first use (serve_load.c): every task
 * process runs the mflow command, and a library linked into it costs each of them its
 * loading. */
#ifndef MF_SERVE_H
#define MF_SERVE_H

struct mf_flow;

struct mf_serve_opts {
    struct mf_flow *flow;        /* opened, with endpoints */
    const char *flow_path;       /* as given, for messages ("run it with mflow run PATH") */
    const char *ns;              /* the namespace whose runs are served */
    const char *host;            /* address to listen on */
    int port;                    /* 0: one the system picks */
    const char *token;           /* required as "Authorization: Bearer TOKEN", or NULL */
    int workers;                 /* processes answering requests */
    double poll_s;               /* how often a worker looks for a newer successful run */
};

/* Serve until SIGINT or SIGTERM. Prints "mflow serve: ... on http://HOST:PORT/" on stdout
 * once listening. 0 after a signal; else a code with *err (malloc'd) saying why it could not
 * start: MF_EPERM when the address is not a loopback one and no token was given. */
int mf_serve_run(const struct mf_serve_opts *o, char **err);

#endif
