/* What an S3 server answers in XML (plugins/storage/s3): a ListObjectsV2 page as the lister
 * reads it (s3_list.c), an error body as every failed request reads it (s3_http.c), the
 * CompleteMultipartUpload answer that can hide an error in a 200 and the UploadId of a new
 * upload (s3_job.c). The plugin's files are included so that their static readers are the
 * code under test, not a copy. */
#include "s3_list.c"
#include "s3_http.c"
#include "s3_job.c"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The engine hands bodies over NUL-terminated. */
    char *doc = malloc(size + 1);
    if (!doc)
        return 0;
    memcpy(doc, data, size);
    doc[size] = '\0';

    static struct s3 s;
    s.cfg.endpoint = "http://127.0.0.1:9";
    s.cfg.bucket = "bucket";
    struct lister l = {.s = &s, .prefix = "runs", .full = "pre/runs", .strip = 4};
    l.req.buf = doc;
    l.req.buf_len = size;
    l.req.ud = &l;
    lister_done(NULL, &l.req);
    for (size_t i = 0; i < l.n; i++)
        if (!l.e[i].key)
            abort();
    lister_free_entries(&l);
    free(l.e);
    free(l.token);
    free(l.msg);

    struct s3_req r;
    memset(&r, 0, sizeof r);
    r.err_body = doc;
    r.err_len = size;
    parse_error(&r);
    if (strnlen(r.code, sizeof r.code) == sizeof r.code ||
        strnlen(r.err_message, sizeof r.err_message) == sizeof r.err_message)
        abort();
    (void)retryable_code(r.code);

    memset(&r, 0, sizeof r);
    r.buf = doc;
    r.buf_len = size;
    (void)complete_validate(&r);

    const char *v;
    size_t vn;
    if (s3_xml_get(doc, size, "UploadId", &v, &vn)) {
        char *id = s3_xml_unescape(v, vn);
        if (id) {
            free(s3_uri_encode(id, 0));
            free(s3_url_decode(id, strlen(id)));
        }
        free(id);
    }
    free(doc);
    return 0;
}
