/* Small helpers of the s3 plugin: percent-encoding, a careful XML scan (S3's answers are
 * small, flat documents; no XML library is needed), digests, sizes and time. */
#include "s3_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int64_t s3_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t s3_random(void)
{
    static __thread uint64_t state;
    if (!state) {
        if (getrandom(&state, sizeof state, GRND_NONBLOCK) != (ssize_t)sizeof state) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid();
        }
        state |= 1;
    }
    /* xorshift64* */
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1Dull;
}

/* ---- percent-encoding -------------------------------------------------------------------- */

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

char *s3_uri_encode(const char *s, int keep_slash)
{
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1);
    if (!out)
        return NULL;
    char *o = out;
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (unreserved(*p) || (keep_slash && *p == '/')) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *s3_url_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* ---- XML --------------------------------------------------------------------------------- */

/* Find "<tag" followed by '>' or whitespace or "/>" at or after from; returns the offset of
 * '<' or len. */
static size_t find_open(const char *doc, size_t len, size_t from, const char *tag, size_t tlen)
{
    for (size_t i = from; i + 1 + tlen < len; i++) {
        if (doc[i] != '<' || memcmp(doc + i + 1, tag, tlen) != 0)
            continue;
        char c = doc[i + 1 + tlen];
        if (c == '>' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '/')
            return i;
    }
    return len;
}

int s3_xml_next(const char *doc, size_t len, size_t *pos, const char *tag, const char **val,
                size_t *vlen)
{
    size_t tlen = strlen(tag);
    size_t i = find_open(doc, len, *pos, tag, tlen);
    if (i >= len)
        return 0;
    /* end of the start tag */
    size_t j = i + 1 + tlen;
    while (j < len && doc[j] != '>')
        j++;
    if (j >= len)
        return 0;
    if (doc[j - 1] == '/') {   /* <tag/>: empty */
        *val = doc + j + 1;
        *vlen = 0;
        *pos = j + 1;
        return 1;
    }
    size_t start = j + 1;
    /* the matching close tag (S3 documents do not nest an element in itself) */
    for (size_t k = start; k + 3 + tlen <= len; k++) {
        if (doc[k] == '<' && doc[k + 1] == '/' && memcmp(doc + k + 2, tag, tlen) == 0 &&
            doc[k + 2 + tlen] == '>') {
            *val = doc + start;
            *vlen = k - start;
            *pos = k + 3 + tlen;
            return 1;
        }
    }
    return 0;
}

int s3_xml_get(const char *doc, size_t len, const char *tag, const char **val, size_t *vlen)
{
    size_t pos = 0;
    return s3_xml_next(doc, len, &pos, tag, val, vlen);
}

static size_t put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

char *s3_xml_unescape(const char *s, size_t len)
{
    char *out = malloc(len + 1);   /* decoding never grows the text */
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] != '&') {
            out[o++] = s[i++];
            continue;
        }
        const char *semi = memchr(s + i, ';', len - i < 12 ? len - i : 12);
        if (!semi) {
            out[o++] = s[i++];
            continue;
        }
        size_t elen = (size_t)(semi - (s + i)) + 1;   /* "&...;" */
        const char *e = s + i + 1;
        size_t nlen = elen - 2;
        char one = 0;
        if (nlen == 3 && !memcmp(e, "amp", 3))
            one = '&';
        else if (nlen == 2 && !memcmp(e, "lt", 2))
            one = '<';
        else if (nlen == 2 && !memcmp(e, "gt", 2))
            one = '>';
        else if (nlen == 4 && !memcmp(e, "quot", 4))
            one = '"';
        else if (nlen == 4 && !memcmp(e, "apos", 4))
            one = '\'';
        if (one) {
            out[o++] = one;
            i += elen;
            continue;
        }
        if (nlen >= 2 && e[0] == '#') {
            unsigned long cp = 0;
            int ok = 1;
            if (e[1] == 'x' || e[1] == 'X') {
                if (nlen < 3)
                    ok = 0;
                for (size_t k = 2; ok && k < nlen; k++) {
                    int h = hexval(e[k]);
                    if (h < 0)
                        ok = 0;
                    else
                        cp = cp * 16 + (unsigned long)h;
                }
            } else {
                for (size_t k = 1; ok && k < nlen; k++) {
                    if (e[k] < '0' || e[k] > '9')
                        ok = 0;
                    else
                        cp = cp * 10 + (unsigned long)(e[k] - '0');
                }
            }
            /* a character reference is at least 4 bytes ("&#9;"), its UTF-8 at most 4 */
            if (ok && cp > 0 && cp <= 0x10FFFF && elen >= 4) {
                o += put_utf8(out + o, cp);
                i += elen;
                continue;
            }
        }
        out[o++] = s[i++];   /* not an entity we know: keep it as text */
    }
    out[o] = '\0';
    return out;
}

int s3_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = *cap ? *cap : 256;
        while (nc < *len + n + 1)
            nc *= 2;
        char *p = realloc(*buf, nc);
        if (!p)
            return MF_ENOMEM;
        *buf = p;
        *cap = nc;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

int s3_appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MF_EINVAL;
    if ((size_t)n < sizeof tmp)
        return s3_append(buf, len, cap, tmp, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return MF_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = s3_append(buf, len, cap, big, (size_t)n);
    free(big);
    return rc;
}

int s3_xml_escape_append(char **buf, size_t *len, size_t *cap, const char *s)
{
    for (const char *p = s; *p; p++) {
        const char *rep = NULL;
        switch (*p) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        default: break;
        }
        int rc = rep ? s3_append(buf, len, cap, rep, strlen(rep)) : s3_append(buf, len, cap, p, 1);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- digests ------------------------------------------------------------------------------- */

void s3_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void s3_base64(const unsigned char *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
}

int s3_body_digest(const struct s3_body *b, unsigned char md5[16], unsigned char sha[32])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_MD_CTX *h = sha ? EVP_MD_CTX_new() : NULL;
    int rc = 0;
    if (!m || (sha && !h)) {
        rc = MF_ENOMEM;
        goto out;
    }
    EVP_DigestInit_ex(m, EVP_md5(), NULL);
    if (h)
        EVP_DigestInit_ex(h, EVP_sha256(), NULL);
    if (b->kind == S3_BODY_IOV) {
        uint64_t skip = b->off, left = b->len;
        for (size_t i = 0; i < b->niov && left; i++) {
            size_t n = b->iov[i].len;
            if (skip >= n) {
                skip -= n;
                continue;
            }
            const unsigned char *p = (const unsigned char *)b->iov[i].base + skip;
            size_t take = n - (size_t)skip;
            if (take > left)
                take = (size_t)left;
            EVP_DigestUpdate(m, p, take);
            if (h)
                EVP_DigestUpdate(h, p, take);
            left -= take;
            skip = 0;
        }
    } else if (b->kind == S3_BODY_FD) {
        unsigned char buf[64 * 1024];
        size_t bufsz = sizeof buf;
        uint64_t pos = 0;
        while (pos < b->len) {
            size_t want = b->len - pos < bufsz ? (size_t)(b->len - pos) : bufsz;
            ssize_t n = pread(b->fd, buf, want, (off_t)(b->off + pos));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                rc = n < 0 ? errno : EIO;   /* EIO: the file shrank while being stored */
                break;
            }
            EVP_DigestUpdate(m, buf, (size_t)n);
            if (h)
                EVP_DigestUpdate(h, buf, (size_t)n);
            pos += (uint64_t)n;
        }
        if (rc)
            goto out;
    }
    EVP_DigestFinal_ex(m, md5, NULL);
    if (h)
        EVP_DigestFinal_ex(h, sha, NULL);
out:
    EVP_MD_CTX_free(m);
    EVP_MD_CTX_free(h);
    return rc;
}

/* ---- parsing settings ----------------------------------------------------------------------- */

int s3_parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return -1;
    while (*end == ' ')
        end++;
    uint64_t mul = 1;
    switch (tolower((unsigned char)*end)) {
    case '\0': break;
    case 'k': mul = 1ull << 10; end++; break;
    case 'm': mul = 1ull << 20; end++; break;
    case 'g': mul = 1ull << 30; end++; break;
    case 'b': break;
    default: return -1;
    }
    if (mul > 1 && (*end == 'i' || *end == 'I'))
        end++;
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end)
        return -1;
    if (v > UINT64_MAX / mul)
        return -1;
    *out = (uint64_t)v * mul;
    return 0;
}

int s3_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int s3_parse_bool(const char *s)
{
    if (!s)
        return -1;
    if (!strcasecmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
        !strcasecmp(s, "on"))
        return 1;
    if (!strcasecmp(s, "0") || !strcasecmp(s, "false") || !strcasecmp(s, "no") ||
        !strcasecmp(s, "off"))
        return 0;
    return -1;
}

void s3_etag_clean(const char *in, size_t n, char *out, size_t outsz)
{
    while (n && (*in == ' ' || *in == '"')) {
        in++;
        n--;
    }
    if (n >= 2 && in[0] == 'W' && in[1] == '/') {   /* weak validator marker */
        in += 2;
        n -= 2;
        while (n && *in == '"') {
            in++;
            n--;
        }
    }
    while (n && (in[n - 1] == ' ' || in[n - 1] == '"' || in[n - 1] == '\r' || in[n - 1] == '\n'))
        n--;
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, in, n);
    out[n] = '\0';
}
