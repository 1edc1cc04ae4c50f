/* Listing for the s3 plugin: ListObjectsV2 page by page (continuation tokens), keys
 * XML-unescaped (URL-decoded when the server says EncodingType=url) and stripped of the root
 * prefix. list calls back between pages, outside the engine, so a callback may use the same
 * instance; list_batch lists all its prefixes at once and calls back when all are in. */
#include "s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- list ------------------------------------------------------------------------------------------ */

struct entry {
    char *key;
    uint64_t size;
};

/* One prefix being listed, page by page. */
struct lister {
    struct s3 *s;
    const char *prefix;           /* as the caller gave it */
    char *full;                   /* in the bucket */
    size_t strip;                 /* bytes of the root prefix ("pre/") to strip from keys */
    struct s3_req req;
    char *token;                  /* continuation token, or NULL */
    int done;
    int rc;
    char *msg;
    struct entry *e;              /* the entries of the last page (or all, for batches) */
    size_t n, cap;
    int keep_all;
};

static void lister_free_entries(struct lister *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i].key);
    l->n = 0;
}

static int lister_page(struct s3_exec *ex, struct lister *l);

static int lister_fail(struct lister *l, int rc, const char *msg)
{
    if (!l->rc) {
        l->rc = rc;
        l->msg = strdup(msg ? msg : "s3 storage: list failed");
    }
    l->done = 1;
    return rc;
}

/* Parse one ListObjectsV2 page into l->e; queue the next page when truncated. */
static void lister_done(struct s3_exec *ex, struct s3_req *r)
{
    struct lister *l = r->ud;
    struct s3 *s = l->s;
    if (r->rc) {
        lister_fail(l, r->rc, r->msg);
        return;
    }
    const char *doc = r->buf ? r->buf : "";
    size_t len = r->buf ? r->buf_len : 0;
    const char *v;
    size_t vn;
    if (!s3_xml_get(doc, len, "ListBucketResult", &v, &vn)) {
        char *url = s3_object_url(s, NULL);
        char msg[1024];
        snprintf(msg, sizeof msg,
                 "s3 storage: GET %s?list-type=2 at %s: the answer is not a ListBucketResult; "
                 "the endpoint may not be an S3 server (check MFLOW_S3_ENDPOINT_URL)",
                 url ? url : "?", s->cfg.endpoint);
        free(url);
        lister_fail(l, MF_EIO, msg);
        return;
    }
    int url_encoded = 0;
    const char *et;
    size_t etn;
    if (s3_xml_get(v, vn, "EncodingType", &et, &etn) && etn == 3 && !memcmp(et, "url", 3))
        url_encoded = 1;
    size_t pos = 0;
    const char *c;
    size_t cn;
    while (s3_xml_next(v, vn, &pos, "Contents", &c, &cn)) {
        const char *k, *sz;
        size_t kn, szn;
        if (!s3_xml_get(c, cn, "Key", &k, &kn))
            continue;
        char *raw = s3_xml_unescape(k, kn);
        char *key = raw && url_encoded ? s3_url_decode(raw, strlen(raw)) : raw;
        if (key != raw)
            free(raw);
        if (!key) {
            lister_fail(l, MF_ENOMEM, "s3 storage: out of memory listing");
            return;
        }
        uint64_t size = 0;
        if (s3_xml_get(c, cn, "Size", &sz, &szn))
            for (size_t i = 0; i < szn && sz[i] >= '0' && sz[i] <= '9'; i++)
                size = size * 10 + (uint64_t)(sz[i] - '0');
        if (strlen(key) < l->strip || strncmp(key, l->full, l->strip) != 0) {
            free(key);   /* not under the root (cannot happen with a prefix query) */
            continue;
        }
        memmove(key, key + l->strip, strlen(key + l->strip) + 1);
        if (l->n == l->cap) {
            size_t nc = l->cap ? l->cap * 2 : 256;
            struct entry *ne = realloc(l->e, nc * sizeof *ne);
            if (!ne) {
                free(key);
                lister_fail(l, MF_ENOMEM, "s3 storage: out of memory listing");
                return;
            }
            l->e = ne;
            l->cap = nc;
        }
        l->e[l->n].key = key;
        l->e[l->n].size = size;
        l->n++;
    }
    free(l->token);
    l->token = NULL;
    const char *t;
    size_t tn;
    if (s3_xml_get(v, vn, "IsTruncated", &t, &tn) && tn == 4 && !memcmp(t, "true", 4)) {
        if (!s3_xml_get(v, vn, "NextContinuationToken", &t, &tn) || !tn) {
            lister_fail(l, MF_EIO,
                        "s3 storage: a truncated listing came without a NextContinuationToken; "
                        "the server does not support ListObjectsV2 paging");
            return;
        }
        l->token = s3_xml_unescape(t, tn);
        if (!l->token) {
            lister_fail(l, MF_ENOMEM, "s3 storage: out of memory listing");
            return;
        }
        if (l->keep_all)
            lister_page(ex, l);   /* batches: the next page now, in the same run */
        return;
    }
    l->done = 1;
}

static int lister_page(struct s3_exec *ex, struct lister *l)
{
    struct s3 *s = l->s;
    char *p = s3_uri_encode(l->full, 0);
    char *t = l->token ? s3_uri_encode(l->token, 0) : NULL;
    size_t n = (p ? strlen(p) : 0) + (t ? strlen(t) : 0) + 128;
    char *q = malloc(n);
    if (!p || (l->token && !t) || !q) {
        free(p);
        free(t);
        free(q);
        return lister_fail(l, MF_ENOMEM, "s3 storage: out of memory listing");
    }
    /* canonical: parameters sorted by name */
    snprintf(q, n, "%s%s%slist-type=2&max-keys=%u&prefix=%s", t ? "continuation-token=" : "",
             t ? t : "", t ? "&" : "", s->cfg.list_page_size, p);
    free(p);
    free(t);
    s3_req_clear(&l->req);
    l->req.method = "GET";
    l->req.query = q;
    l->req.sink = S3_SINK_GROW;
    l->req.ud = l;
    l->req.on_done = lister_done;
    s3_exec_add(ex, &l->req);
    return 0;
}

static int lister_init(struct s3 *s, struct lister *l, const char *prefix)
{
    memset(l, 0, sizeof *l);
    l->s = s;
    l->prefix = prefix;
    size_t rl = strlen(s->cfg.prefix);
    l->strip = rl ? rl + 1 : 0;
    l->full = malloc(rl + 1 + strlen(prefix) + 1);
    if (!l->full)
        return s3_fail(s, MF_ENOMEM, "s3 storage: out of memory listing '%s'", prefix);
    sprintf(l->full, "%s%s%s", s->cfg.prefix, rl ? "/" : "", prefix);
    return 0;
}

static void lister_clear(struct lister *l)
{
    lister_free_entries(l);
    free(l->e);
    free(l->full);
    free(l->token);
    free(l->msg);
    s3_req_clear(&l->req);
}

static int check_prefix(struct s3 *s, const char *prefix)
{
    return s3_check_key(s, "prefix", prefix, 1);
}

int s3_op_list(void *state, const char *prefix, mf_list_cb cb, void *ud)
{
    struct s3 *s = state;
    if (!cb)
        return s3_fail(s, MF_EINVAL, "s3 storage: list was given no callback");
    if (!prefix)
        prefix = "";
    int rc = check_prefix(s, prefix);
    if (rc)
        return rc;
    struct lister l;
    if ((rc = lister_init(s, &l, prefix)))
        return rc;
    /* page by page, calling back between pages (outside the engine, so that the callback
     * may use this instance) */
    while (!rc && !l.done) {
        struct s3_exec ex;
        s3_exec_init(&ex, s);
        if (lister_page(&ex, &l))
            break;
        if ((rc = s3_run(s, &ex)))
            break;
        if (!l.token)
            l.done = 1;
        for (size_t i = 0; i < l.n && !rc; i++)
            rc = cb(ud, l.e[i].key, l.e[i].size);
        lister_free_entries(&l);
        if (l.rc)
            break;
    }
    if (!rc && l.rc) {
        if (l.rc == MF_ENOTFOUND)
            l.rc = MF_EIO;   /* a listing never says "no such object" */
        rc = s3_fail(s, l.rc, "%s", l.msg);
    }
    lister_clear(&l);
    return rc;
}

int s3_op_list_batch(void *state, const char *const *prefixes, size_t n, mf_list_cb cb,
                         void *ud)
{
    struct s3 *s = state;
    if (n && !prefixes)
        return s3_fail(s, MF_EINVAL, "s3 storage: list_batch was given no prefixes");
    if (!cb)
        return s3_fail(s, MF_EINVAL, "s3 storage: list_batch was given no callback");
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int rc = check_prefix(s, prefixes[i] ? prefixes[i] : "");
        if (rc)
            return rc;
    }
    struct lister *ls = calloc(n, sizeof *ls);
    if (!ls)
        return s3_fail(s, MF_ENOMEM, "s3 storage: out of memory listing %zu prefixes", n);
    int rc = 0;
    struct s3_exec ex;
    s3_exec_init(&ex, s);
    size_t inited = 0;
    for (; inited < n && !rc; inited++) {
        rc = lister_init(s, &ls[inited], prefixes[inited] ? prefixes[inited] : "");
        if (!rc) {
            ls[inited].keep_all = 1;
            lister_page(&ex, &ls[inited]);
        }
    }
    if (!rc)
        rc = s3_run(s, &ex);
    for (size_t i = 0; i < inited && !rc; i++) {
        if (ls[i].rc) {
            rc = s3_fail(s, ls[i].rc == MF_ENOTFOUND ? MF_EIO : ls[i].rc, "%s", ls[i].msg);
            break;
        }
    }
    for (size_t i = 0; i < inited && !rc; i++)
        for (size_t k = 0; k < ls[i].n && !rc; k++)
            rc = cb(ud, ls[i].e[k].key, ls[i].e[k].size);
    for (size_t i = 0; i < inited; i++)
        lister_clear(&ls[i]);
    free(ls);
    return rc;
}
