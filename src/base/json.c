/* json.c - JSON string escaping, the output buffer, and the reader. */
#include "json.h"
#include "config.h"

#include <limits.h>

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

/* ---- JSON in ------------------------------------------------------------------
 *
 * One pass over the bytes, no recursion: a small state machine says what
 * may come next, and the open containers form a chain through the tokens
 * themselves (while a container is open, its `next` holds its parent's
 * index + 1; when it closes, `next` gets its real value). So the only
 * memory is the caller's token array, and the depth limit is a rule, not
 * a guard for the C stack. */

/* What the grammar (RFC 8259 section 2) allows at the next non-blank byte. */
enum {
    RT__JSON_VALUE,         /* a value: the top one, or an array element after ',' */
    RT__JSON_VALUE_OR_END,  /* just after '[' */
    RT__JSON_MEMBER,        /* an object member's value, after ':' */
    RT__JSON_KEY,           /* a member name, after ',' in an object */
    RT__JSON_KEY_OR_END,    /* just after '{' */
    RT__JSON_COLON,         /* after a member name */
    RT__JSON_COMMA_OR_END,  /* after a value inside a container */
    RT__JSON_DONE           /* after the top value: only whitespace may follow */
};

typedef struct rt__json_p {
    rt_json *doc;
    const unsigned char *s;
    size_t n, i; /* input length, current offset (the byte at fault on error) */
    size_t cap;  /* tokens available */
    int parent;  /* innermost open container, -1 at the top level */
    int depth;
    int want;
} rt__json_p;

/* The value of one hex digit, or -1. */
static int rt__json_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (unsigned char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The four hex digits at s[i..i+4) as a number, or -1. */
static long rt__json_hex4(const unsigned char *s, size_t n, size_t i)
{
    long v = 0;
    size_t k;
    if (i > n || n - i < 4)
        return -1;
    for (k = i; k < i + 4; k++) {
        int d = rt__json_hexval(s[k]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Decodes \uXXXX at s[i] == 'u', moving *pos past it. RFC 8259 section 7:
 * a character beyond the BMP is written as a UTF-16 surrogate pair, high
 * then low. A half on its own encodes no character (and has no UTF-8 form,
 * RFC 3629 section 3), so it is rejected rather than passed on. */
static rt_result rt__json_escape_u(const unsigned char *s, size_t n, size_t i, size_t *pos,
                                   uint32_t *cp)
{
    long hi = rt__json_hex4(s, n, i + 1), lo;
    if (hi < 0 || (hi >= 0xDC00 && hi <= 0xDFFF))
        return RT_E_PROTO;
    if (hi < 0xD800 || hi > 0xDBFF) {
        *cp = (uint32_t)hi;
        *pos = i + 5;
        return RT_OK;
    }
    i += 5;
    if (n - i < 2 || s[i] != '\\' || s[i + 1] != 'u')
        return RT_E_PROTO;
    lo = rt__json_hex4(s, n, i + 2);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return RT_E_PROTO;
    *cp = 0x10000u + ((uint32_t)(hi - 0xD800) << 10) + (uint32_t)(lo - 0xDC00);
    *pos = i + 6;
    return RT_OK;
}

/* Decodes the escape at s[*pos] == '\\' into the code point it stands for
 * and moves *pos past it; on an error *pos stays on the backslash. */
static rt_result rt__json_escape_cp(const unsigned char *s, size_t n, size_t *pos, uint32_t *cp)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    size_t i = *pos + 1;
    const char *e;
    if (i >= n)
        return RT_E_PROTO;
    if (s[i] == 'u')
        return rt__json_escape_u(s, n, i, pos, cp);
    e = (const char *)memchr(from, s[i], sizeof from - 1);
    if (!e)
        return RT_E_PROTO;
    *cp = (unsigned char)to[e - from];
    *pos = i + 1;
    return RT_OK;
}

/* Writes code point cp (a scalar value, never a surrogate) as UTF-8;
 * returns the byte count. */
static size_t rt__json_utf8_put(uint32_t cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Checks that the unescaped run s[i..end) is valid UTF-8 (RFC 8259 section
 * 8.1). A run stops only at ASCII bytes, which never sit inside a multibyte
 * sequence, so runs can be checked one by one. On error *bad is the
 * offset of the byte at fault. */
static rt_result rt__json_check_run(const unsigned char *s, size_t i, size_t end, size_t *bad)
{
    rt_utf8 v;
    size_t at = 0;
    rt_utf8_init(&v);
    if (rt_utf8_feed(&v, s + i, end - i, &at) != RT_OK) {
        *bad = i + at;
        return RT_E_UTF8;
    }
    if (rt_utf8_finish(&v) != RT_OK) {
        *bad = end; /* the sequence was cut short by this byte */
        return RT_E_UTF8;
    }
    return RT_OK;
}

/* Scans the string whose opening quote is at s[*pos] (RFC 8259 section 7):
 * raw bytes U+0020 and up except '"' and '\\', or escapes. Moves *pos past
 * the closing quote and sets *size to the unescaped byte count; on an
 * error *pos is the byte at fault. */
static rt_result rt__json_scan_string(const unsigned char *s, size_t n, size_t *pos,
                                      size_t *size)
{
    size_t i = *pos + 1, run, len = 0;
    uint32_t cp;
    unsigned char tmp[4];
    for (;;) {
        for (run = i; run < n && s[run] >= 0x20 && s[run] != '"' && s[run] != '\\'; run++)
            ;
        if (rt__json_check_run(s, i, run, pos) != RT_OK)
            return RT_E_UTF8;
        len += run - i;
        i = run;
        if (i == n || s[i] < 0x20) /* unterminated, or a raw control character */
            break;
        if (s[i] == '"') {
            *pos = i + 1;
            *size = len;
            return RT_OK;
        }
        if (rt__json_escape_cp(s, n, &i, &cp) != RT_OK)
            break;
        len += rt__json_utf8_put(cp, tmp);
    }
    *pos = i;
    return RT_E_PROTO;
}

/* Moves *i over one or more digits; 0 when there is none. */
static int rt__json_digits(const unsigned char *s, size_t n, size_t *i)
{
    size_t start = *i;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9')
        (*i)++;
    return *i > start;
}

/* RFC 8259 section 6: number = [ "-" ] int [ frac ] [ exp ], where int is
 * "0" or a digit 1-9 and more digits, frac is "." and digits, exp is "e" or
 * "E", an optional sign and digits. No "+" in front, no ".5", no "1.", no
 * leading zero (after "0" the number ends, and the state machine rejects
 * a digit that follows). Moves *pos to the end, or to the byte at fault. */
static rt_result rt__json_scan_number(const unsigned char *s, size_t n, size_t *pos)
{
    size_t i = *pos;
    int ok = 1;
    if (s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else
        ok = rt__json_digits(s, n, &i);
    if (ok && i < n && s[i] == '.') {
        i++;
        ok = rt__json_digits(s, n, &i);
    }
    if (ok && i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        ok = rt__json_digits(s, n, &i);
    }
    *pos = i;
    return ok ? RT_OK : RT_E_PROTO;
}

/* Appends a token for the value that starts at the current byte; returns
 * its index, or RT_E_LIMIT when the caller's array is full. Each array
 * element and each object member (counted at its name) adds to the
 * parent's size. */
static int rt__json_add(rt__json_p *p, rt_json_type type)
{
    rt_json *d = p->doc;
    rt_json_tok *t;
    if ((size_t)d->n >= p->cap)
        return RT_E_LIMIT;
    t = &d->toks[d->n];
    t->type = (int)type;
    t->start = t->end = (uint32_t)p->i;
    t->size = 0;
    t->next = (uint32_t)d->n + 1;
    if (p->parent >= 0 && p->want != RT__JSON_MEMBER)
        d->toks[p->parent].size++;
    return d->n++;
}

/* A value has ended: what may follow depends on where it was. */
static void rt__json_after_value(rt__json_p *p)
{
    p->want = p->parent < 0 ? RT__JSON_DONE : RT__JSON_COMMA_OR_END;
}

static rt_result rt__json_open(rt__json_p *p, unsigned char c)
{
    int t;
    if (p->depth >= RT_JSON_MAX_DEPTH)
        return RT_E_LIMIT;
    t = rt__json_add(p, c == '{' ? RT_JSON_OBJECT : RT_JSON_ARRAY);
    if (t < 0)
        return t;
    p->doc->toks[t].next = (uint32_t)(p->parent + 1); /* the chain of open containers */
    p->parent = t;
    p->depth++;
    p->i++;
    p->want = c == '{' ? RT__JSON_KEY_OR_END : RT__JSON_VALUE_OR_END;
    return RT_OK;
}

static rt_result rt__json_close(rt__json_p *p, unsigned char c)
{
    rt_json_tok *t = &p->doc->toks[p->parent];
    if (c != (t->type == RT_JSON_OBJECT ? '}' : ']'))
        return RT_E_PROTO;
    p->i++;
    t->end = (uint32_t)p->i;
    p->parent = (int)t->next - 1;
    t->next = (uint32_t)p->doc->n;
    p->depth--;
    rt__json_after_value(p);
    return RT_OK;
}

/* A string, as a value or as a member name. */
static rt_result rt__json_string(rt__json_p *p)
{
    size_t size = 0;
    int t = rt__json_add(p, RT_JSON_STRING);
    rt_result r;
    if (t < 0)
        return t;
    r = rt__json_scan_string(p->s, p->n, &p->i, &size);
    if (r != RT_OK)
        return r;
    p->doc->toks[t].end = (uint32_t)p->i;
    p->doc->toks[t].size = (uint32_t)size; /* size <= n, which fits */
    if (p->want == RT__JSON_KEY || p->want == RT__JSON_KEY_OR_END)
        p->want = RT__JSON_COLON;
    else
        rt__json_after_value(p);
    return RT_OK;
}

/* A number (RFC 8259 section 6). */
static rt_result rt__json_number(rt__json_p *p)
{
    int t = rt__json_add(p, RT_JSON_NUMBER);
    if (t < 0)
        return t;
    if (rt__json_scan_number(p->s, p->n, &p->i) != RT_OK)
        return RT_E_PROTO;
    p->doc->toks[t].end = (uint32_t)p->i;
    rt__json_after_value(p);
    return RT_OK;
}

/* true, false or null: RFC 8259 section 3 allows these three, lowercase. */
static rt_result rt__json_literal(rt__json_p *p, unsigned char c)
{
    const char *w = c == 't' ? "true" : c == 'f' ? "false" : c == 'n' ? "null" : NULL;
    size_t len = w ? strlen(w) : 0;
    int t;
    if (!w || p->n - p->i < len || memcmp(p->s + p->i, w, len) != 0)
        return RT_E_PROTO;
    t = rt__json_add(p, c == 't' ? RT_JSON_TRUE : c == 'f' ? RT_JSON_FALSE : RT_JSON_NULL);
    if (t < 0)
        return t;
    p->i += len;
    p->doc->toks[t].end = (uint32_t)p->i;
    rt__json_after_value(p);
    return RT_OK;
}

/* ':' after a member name, or ',' after a value in a container. After a
 * ',' neither next state takes a closing bracket: no trailing commas. */
static rt_result rt__json_separator(rt__json_p *p, unsigned char c)
{
    if (p->want == RT__JSON_COLON) {
        if (c != ':')
            return RT_E_PROTO;
        p->want = RT__JSON_MEMBER;
    } else {
        if (c != ',')
            return RT_E_PROTO;
        p->want = p->doc->toks[p->parent].type == RT_JSON_OBJECT ? RT__JSON_KEY : RT__JSON_VALUE;
    }
    p->i++;
    return RT_OK;
}

/* Takes the next non-blank byte, which the state must allow. */
static rt_result rt__json_step(rt__json_p *p)
{
    unsigned char c = p->s[p->i];
    int w = p->want;
    if ((c == ']' || c == '}') && (w == RT__JSON_COMMA_OR_END || w == RT__JSON_VALUE_OR_END
                                   || w == RT__JSON_KEY_OR_END))
        return rt__json_close(p, c);
    if (w == RT__JSON_COMMA_OR_END || w == RT__JSON_COLON)
        return rt__json_separator(p, c);
    if (w == RT__JSON_DONE || ((w == RT__JSON_KEY || w == RT__JSON_KEY_OR_END) && c != '"'))
        return RT_E_PROTO; /* trailing bytes; a member name that is not a string */
    if (c == '{' || c == '[')
        return rt__json_open(p, c);
    if (c == '"')
        return rt__json_string(p);
    if (c == '-' || (c >= '0' && c <= '9'))
        return rt__json_number(p);
    return rt__json_literal(p, c);
}

/* RFC 8259 section 2: the four whitespace bytes. */
static size_t rt__json_skip_ws(const unsigned char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
        i++;
    return i;
}

rt_result rt_json_parse(rt_json *doc, const void *src, size_t len, rt_json_tok *toks,
                        size_t cap)
{
    rt__json_p p;
    rt_result r = RT_OK;
    doc->src = (const char *)src;
    doc->len = len;
    doc->toks = toks;
    doc->n = 0;
    doc->err_pos = 0;
    if (len >= UINT32_MAX) /* offsets are 32-bit to keep tokens small */
        return RT_E_LIMIT;
    memset(&p, 0, sizeof p);
    p.doc = doc;
    p.s = (const unsigned char *)src;
    p.n = len;
    p.cap = cap < (size_t)INT_MAX ? cap : (size_t)INT_MAX;
    p.parent = -1;
    p.want = RT__JSON_VALUE;
    while (r == RT_OK) {
        p.i = rt__json_skip_ws(p.s, p.i, len);
        if (p.i == len)
            break;
        r = rt__json_step(&p);
    }
    if (r == RT_OK && p.want != RT__JSON_DONE)
        r = RT_E_PROTO; /* empty, or cut off before the value ended */
    if (r != RT_OK) {
        doc->err_pos = p.i;
        return r;
    }
    return doc->n;
}

/* ---- Accessors ------------------------------------------------------------------ */

/* Token tok, or NULL when tok is not an index into the document. */
static const rt_json_tok *rt__json_tok(const rt_json *doc, int tok)
{
    return tok >= 0 && tok < doc->n ? &doc->toks[tok] : NULL;
}

/* RT_OK when tok is a token of this type, else the error the accessors give. */
static rt_result rt__json_want(const rt_json *doc, int tok, rt_json_type type)
{
    const rt_json_tok *t = rt__json_tok(doc, tok);
    if (tok < 0)
        return RT_E_NOTFOUND;
    if (!t)
        return RT_E_INVAL;
    return t->type == (int)type ? RT_OK : RT_E_PROTO;
}

/* The inside of string token t, between its quotes. */
static const unsigned char *rt__json_inner(const rt_json *doc, const rt_json_tok *t, size_t *n)
{
    *n = t->end - t->start - 2;
    return (const unsigned char *)doc->src + t->start + 1;
}

rt_json_type rt_json_type_of(const rt_json *doc, int tok)
{
    const rt_json_tok *t = rt__json_tok(doc, tok);
    return t ? (rt_json_type)t->type : RT_JSON_NONE;
}

/* Decodes the escape at raw[*i], inside a string token, into out and
 * moves *i past it; returns the byte count. The parser accepted the escape,
 * so it decodes; if the caller altered the tokens, the backslash is
 * skipped, so a loop over the string still ends. */
static size_t rt__json_unescape(const unsigned char *raw, size_t n, size_t *i,
                                unsigned char out[4])
{
    uint32_t cp;
    if (rt__json_escape_cp(raw, n, i, &cp) != RT_OK) {
        (*i)++;
        return 0;
    }
    return rt__json_utf8_put(cp, out);
}

/* rt_json_eq with the length of s known. Escapes are decoded one at a
 * time and compared as they come, so nothing is copied. */
static int rt__json_eqn(const rt_json *doc, int tok, const char *s, size_t n)
{
    const rt_json_tok *t = rt__json_tok(doc, tok);
    const unsigned char *raw;
    size_t rawn, i = 0, o = 0, k;
    unsigned char tmp[4];
    if (!t || t->type != RT_JSON_STRING || t->size != n)
        return 0;
    raw = rt__json_inner(doc, t, &rawn);
    if (rawn == n) /* no escapes */
        return memcmp(raw, s, n) == 0;
    while (i < rawn) {
        if (raw[i] != '\\') {
            if (raw[i++] != (unsigned char)s[o++])
                return 0;
            continue;
        }
        k = rt__json_unescape(raw, rawn, &i, tmp);
        if (memcmp(tmp, s + o, k) != 0) /* o + k <= n: size counts these bytes */
            return 0;
        o += k;
    }
    return 1;
}

int rt_json_eq(const rt_json *doc, int tok, const char *s)
{
    return rt__json_eqn(doc, tok, s, strlen(s));
}

int rt_json_get(const rt_json *doc, int obj, const char *key)
{
    const rt_json_tok *o = rt__json_tok(doc, obj);
    size_t keylen = strlen(key);
    uint32_t m;
    int k = obj + 1, found = -1;
    if (!o || o->type != RT_JSON_OBJECT)
        return -1;
    /* Every member is looked at, so a duplicate name gives the last value,
     * as JSON.parse does (see json.h). */
    for (m = 0; m < o->size; m++) {
        if (rt__json_eqn(doc, k, key, keylen))
            found = k + 1;
        k = (int)doc->toks[k + 1].next;
    }
    return found;
}

int rt_json_at(const rt_json *doc, int arr, size_t i)
{
    const rt_json_tok *a = rt__json_tok(doc, arr);
    int k = arr + 1;
    if (!a || a->type != RT_JSON_ARRAY || i >= a->size)
        return -1;
    while (i-- > 0)
        k = (int)doc->toks[k].next;
    return k;
}

rt_result rt_json_str(const rt_json *doc, int tok, char *buf, size_t cap, size_t *len)
{
    rt_result r = rt__json_want(doc, tok, RT_JSON_STRING);
    const unsigned char *raw;
    size_t rawn, i = 0, run;
    if (r != RT_OK)
        return r;
    if (len)
        *len = doc->toks[tok].size;
    if (cap <= doc->toks[tok].size) /* the NUL needs a byte too */
        return RT_E_NOSPACE;
    raw = rt__json_inner(doc, &doc->toks[tok], &rawn);
    while (i < rawn) {
        for (run = i; run < rawn && raw[run] != '\\'; run++)
            ;
        memcpy(buf, raw + i, run - i);
        buf += run - i;
        i = run;
        if (i < rawn)
            buf += rt__json_unescape(raw, rawn, &i, (unsigned char *)buf);
    }
    *buf = '\0';
    return RT_OK;
}

rt_result rt_json_int(const rt_json *doc, int tok, int64_t *out)
{
    rt_result r = rt__json_want(doc, tok, RT_JSON_NUMBER);
    const char *s;
    size_t i, n;
    uint64_t v = 0, lim;
    int neg, big = 0;
    if (r != RT_OK)
        return r;
    s = doc->src + doc->toks[tok].start;
    n = doc->toks[tok].end - doc->toks[tok].start;
    neg = s[0] == '-';
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (i = (size_t)neg; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9)
            return RT_E_PROTO; /* '.', 'e' or 'E': not an integer */
        big = big || v > (lim - d) / 10;
        v = big ? v : v * 10 + d;
    }
    if (big)
        return RT_E_LIMIT;
    if (neg)
        *out = v > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return RT_OK;
}

rt_result rt_json_bool(const rt_json *doc, int tok, int *out)
{
    rt_result r = rt__json_want(doc, tok, RT_JSON_TRUE);
    if (r == RT_E_PROTO)
        r = rt__json_want(doc, tok, RT_JSON_FALSE);
    if (r == RT_OK)
        *out = doc->toks[tok].type == RT_JSON_TRUE;
    return r;
}

rt_str rt_json_raw(const rt_json *doc, int tok)
{
    const rt_json_tok *t = rt__json_tok(doc, tok);
    rt_str v;
    v.p = t ? doc->src + t->start : NULL;
    v.n = t ? t->end - t->start : 0;
    return v;
}
