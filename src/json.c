/* json.c - JSON string escaping and the output buffer. */
#include "json.h"
#include "config.h"

/* Length of the valid UTF-8 sequence at p[0..n), or 0 if it is not one. */
static size_t rt__json_utf8_len(const unsigned char *p, size_t n)
{
    rt_utf8 v;
    size_t len = p[0] < 0xC0 ? 1 : p[0] < 0xE0 ? 2 : p[0] < 0xF0 ? 3 : 4;
    if (p[0] >= 0x80 && p[0] < 0xC0)
        return 0; /* a continuation byte cannot start a sequence */
    if (len > n)
        return 0;
    rt_utf8_init(&v);
    if (rt_utf8_feed(&v, p, len, NULL) != RT_OK || rt_utf8_finish(&v) != RT_OK)
        return 0;
    return len;
}

static void rt__json_put(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
    if (n && *len + n <= cap)
        memcpy(buf + *len, s, n);
    *len += n;
}

/* The escape for one ASCII byte, or NULL when it stands as it is. */
static const char *rt__json_escape_ascii(unsigned char c, char tmp[7])
{
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    case '\b': return "\\b";
    case '\f': return "\\f";
    default: break;
    }
    if (c >= 0x20 && c != 0x7F)
        return NULL;
    memcpy(tmp, "\\u00", 4);
    tmp[4] = hex[c >> 4];
    tmp[5] = hex[c & 15];
    tmp[6] = '\0';
    return tmp;
}

size_t rt_json_escape(char *buf, size_t cap, const void *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t i = 0, len = 0;
    char tmp[7];
    while (i < n) {
        size_t run = i;
        while (run < n && p[run] >= 0x20 && p[run] < 0x7F && p[run] != '"' && p[run] != '\\')
            run++;
        rt__json_put(buf, cap, &len, (const char *)p + i, run - i); /* the plain stretch */
        i = run;
        if (i == n)
            break;
        if (p[i] < 0x80) {
            const char *e = rt__json_escape_ascii(p[i], tmp);
            rt__json_put(buf, cap, &len, e ? e : (const char *)p + i, e ? strlen(e) : 1);
            i++;
        } else {
            size_t u = rt__json_utf8_len(p + i, n - i);
            rt__json_put(buf, cap, &len, u ? (const char *)p + i : "\\ufffd", u ? u : 6);
            i += u ? u : 1;
        }
    }
    return len;
}

void rt_jbuf_init(rt_jbuf *b, const rt_allocator *alloc)
{
    memset(b, 0, sizeof *b);
    b->alloc = alloc;
}

void rt_jbuf_free(rt_jbuf *b)
{
    rt_free(b->alloc, b->p, b->cap);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Makes room for n more bytes; sets failed instead of returning an error. */
static int rt__jbuf_reserve(rt_jbuf *b, size_t n)
{
    size_t cap = b->cap ? b->cap : 256;
    char *p;
    if (b->failed || n > SIZE_MAX / 2 - b->len) {
        b->failed = 1;
        return 0;
    }
    if (b->len + n <= b->cap)
        return 1;
    while (cap < b->len + n)
        cap *= 2;
    p = (char *)rt_realloc(b->alloc, b->p, b->cap, cap);
    if (!p) {
        b->failed = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

void rt_jbuf_put(rt_jbuf *b, const void *data, size_t n)
{
    if (n && rt__jbuf_reserve(b, n)) {
        memcpy(b->p + b->len, data, n);
        b->len += n;
    }
}

void rt_jbuf_puts(rt_jbuf *b, const char *s)
{
    rt_jbuf_put(b, s, strlen(s));
}

void rt_jbuf_str(rt_jbuf *b, const void *data, size_t n)
{
    size_t need = rt_json_escape(NULL, 0, data, n);
    if (!rt__jbuf_reserve(b, need + 2))
        return;
    b->p[b->len++] = '"';
    rt_json_escape(b->p + b->len, need, data, n);
    b->len += need;
    b->p[b->len++] = '"';
}

void rt_jbuf_uint(rt_jbuf *b, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    rt_jbuf_put(b, tmp + i, sizeof tmp - i);
}
