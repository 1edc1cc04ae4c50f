/* mflow ui: the module's own declarations (mflow-ui.so, loaded by `mflow ui`). */
#ifndef MF_UI_H
#define MF_UI_H

#include <mflow/client.h>

#include <stddef.h>

/* What a request is answered with. body is malloc'd (or NULL with len 0). */
struct ui_reply {
    unsigned status;
    const char *type;          /* Content-Type */
    char *body;
    size_t len;
    char *disposition;         /* Content-Disposition, malloc'd, or NULL */
    /* A body sent piece by piece instead (a large download): reader gives stream_len bytes
     * of the value of an artifact of task, which the reply owns (ui_stream_free). */
    mf_client_reader *reader;
    mf_client_task *task;
    uint64_t stream_len;
};

/* Free what a streamed reply owns (reader and task); NULL fields are skipped. */
void ui_stream_free(struct ui_reply *r);

/* The query of a request, decoded: every key=value pair in order (a key may repeat). */
#define UI_QUERY_MAX 32
struct ui_query {
    size_t n;
    const char *key[UI_QUERY_MAX];
    const char *val[UI_QUERY_MAX];
};

/* The first value of key, or NULL. */
const char *ui_query_get(const struct ui_query *q, const char *key);

/* Answer a GET of an /api/ path (url is the decoded path; it starts with "/api/").
 * Always fills out; returns nothing. */
void ui_api(mf_client *c, const char *url, const struct ui_query *q, struct ui_reply *out);

/* out = {"error": msg} with the status (a JSON body). */
void ui_error(struct ui_reply *out, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The page's files, embedded at build time (ui_assets.c, made by embed.py). */
struct ui_asset {
    const char *path;          /* "/index.html" */
    const char *type;
    const unsigned char *data;
    size_t len;
};
extern const struct ui_asset ui_assets[];
extern const size_t ui_asset_count;

/* The module's entry point: `mflow ui ARGS` (argv[0] is "ui"); returns the exit code. */
int mf_ui_main(int argc, char **argv);

#endif
