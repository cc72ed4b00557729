/* fuzz_json.c - libFuzzer target for the JSON reader and writer.
 *
 *   make build/fuzz/fuzz_json
 *   mkdir -p build/corpus/fuzz_json
 *   ./build/fuzz/fuzz_json -max_total_time=300 build/corpus/fuzz_json fuzz/corpus/fuzz_json
 *
 * The input is the JSON text (libFuzzer hands it over in an exact-size
 * heap block, so ASan sees any read past it). It is checked three ways:
 *   1. rt_json_parse must agree with a small recursive-descent reference
 *      written here straight from the RFC 8259 grammar: valid texts parse
 *      to the reference's token count unless they are deeper than
 *      RT_JSON_MAX_DEPTH or need more tokens than given (then RT_E_LIMIT,
 *      also when the token array is one short), invalid ones fail.
 *   2. On success every accessor runs on every token and is checked: the
 *      tree shape, strings copied out (valid UTF-8, of the announced size,
 *      equal to themselves, and surviving escape + parse), integers against
 *      strtoll, member lookup against a scan for the last duplicate, array
 *      indexing against a walk.
 *   3. The input as arbitrary bytes is escaped and parsed back as a string,
 *      and must come out as the input with each byte that does not start a
 *      well-formed UTF-8 sequence replaced by U+FFFD.
 */
#define RT_IMPLEMENTATION
#include "../rt.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(c) ((c) ? (void)0 : abort())
#define MAXTOK 512

/* ---- The reference: recursive descent from the grammar ----------------------- */

typedef struct ref {
    const unsigned char *s;
    size_t n, i;
    size_t tokens;
    int depth, max_depth;
} ref;

static void ref_ws(ref *r)
{
    while (r->i < r->n && strchr(" \t\r\n", r->s[r->i]) && r->s[r->i])
        r->i++;
}

static int ref_lit(ref *r, const char *w)
{
    size_t l = strlen(w);
    if (r->n - r->i < l || memcmp(r->s + r->i, w, l) != 0)
        return 0;
    r->i += l;
    return 1;
}

static int ref_digits(ref *r)
{
    size_t st = r->i;
    while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
        r->i++;
    return r->i > st;
}

static int ref_number(ref *r)
{
    ref_lit(r, "-");
    if (!ref_lit(r, "0") && !(r->i < r->n && r->s[r->i] >= '1' && ref_digits(r)))
        return 0;
    if (ref_lit(r, ".") && !ref_digits(r))
        return 0;
    if (ref_lit(r, "e") || ref_lit(r, "E")) {
        if (!ref_lit(r, "+"))
            ref_lit(r, "-");
        return ref_digits(r);
    }
    return 1;
}

/* Length of the well-formed UTF-8 sequence at p[0..n), or 0; from the
 * code point arithmetic, not from a table. */
static size_t ref_utf8(const unsigned char *p, size_t n)
{
    size_t len = p[0] < 0x80 ? 1 : p[0] >= 0xC0 && p[0] < 0xE0 ? 2 : p[0] >= 0xE0 && p[0] < 0xF0
        ? 3 : p[0] >= 0xF0 && p[0] < 0xF8 ? 4 : 0, k;
    uint32_t cp = len == 2 ? p[0] & 0x1Fu : len == 3 ? p[0] & 0x0Fu : p[0] & 0x07u;
    uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (len <= 1 || len > n)
        return len == 1 ? 1 : 0;
    for (k = 1; k < len; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3Fu);
    }
    return cp >= min && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF) ? len : 0;
}

static long ref_hex4(ref *r)
{
    long v = 0;
    int k;
    for (k = 0; k < 4; k++, r->i++) {
        int c = r->i < r->n ? r->s[r->i] : -1;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static int ref_escape(ref *r)
{
    long hi, lo;
    if (r->i >= r->n)
        return 0;
    if (r->s[r->i] != 'u')
        return r->s[r->i] && strchr("\"\\/bfnrt", r->s[r->i++]) != NULL;
    r->i++;
    hi = ref_hex4(r);
    if (hi < 0xD800 || hi > 0xDFFF)
        return hi >= 0;
    if (hi >= 0xDC00 || !ref_lit(r, "\\u"))
        return 0;
    lo = ref_hex4(r);
    return lo >= 0xDC00 && lo <= 0xDFFF;
}

static int ref_string(ref *r)
{
    size_t l;
    r->i++;
    while (r->i < r->n && r->s[r->i] != '"') {
        unsigned char c = r->s[r->i];
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            r->i++;
            if (!ref_escape(r))
                return 0;
            continue;
        }
        l = ref_utf8(r->s + r->i, r->n - r->i);
        if (l == 0)
            return 0;
        r->i += l;
    }
    return ref_lit(r, "\"");
}

static int ref_value(ref *r);

/* Elements or members until the closing byte. */
static int ref_container(ref *r, int object)
{
    int first = 1;
    r->i++;
    if (++r->depth > r->max_depth)
        r->max_depth = r->depth;
    if (r->depth > 1000)
        return 0; /* deep enough to know the real parser says RT_E_LIMIT */
    for (;;) {
        ref_ws(r);
        if (first && ref_lit(r, object ? "}" : "]"))
            break;
        if (object) {
            if (r->i >= r->n || r->s[r->i] != '"' || (r->tokens++, !ref_string(r)))
                return 0;
            ref_ws(r);
            if (!ref_lit(r, ":"))
                return 0;
        }
        if (!ref_value(r))
            return 0;
        ref_ws(r);
        first = 0;
        if (ref_lit(r, object ? "}" : "]"))
            break;
        if (!ref_lit(r, ","))
            return 0;
    }
    r->depth--;
    return 1;
}

static int ref_value(ref *r)
{
    unsigned char c;
    ref_ws(r);
    if (r->i >= r->n)
        return 0;
    c = r->s[r->i];
    r->tokens++;
    if (c == '{' || c == '[')
        return ref_container(r, c == '{');
    if (c == '"')
        return ref_string(r);
    if (c == '-' || (c >= '0' && c <= '9'))
        return ref_number(r);
    return ref_lit(r, "true") || ref_lit(r, "false") || ref_lit(r, "null");
}

/* 1 when s[0..n) is one JSON text; sets the token count and the depth. */
static int ref_parse(const unsigned char *s, size_t n, size_t *tokens, int *depth)
{
    ref r;
    int ok;
    memset(&r, 0, sizeof r);
    r.s = s;
    r.n = n;
    ok = ref_value(&r);
    ref_ws(&r);
    *tokens = r.tokens;
    *depth = r.max_depth;
    return ok && r.i == n;
}

/* ---- Checks on a parsed document ------------------------------------------------ */

/* The input with invalid bytes replaced, as rt_json_escape promises. */
static size_t ref_replace(const unsigned char *p, size_t n, unsigned char *out)
{
    size_t i = 0, o = 0, l;
    while (i < n) {
        l = ref_utf8(p + i, n - i);
        memcpy(out + o, l ? (const char *)p + i : "\xef\xbf\xbd", l ? l : 3);
        o += l ? l : 3;
        i += l ? l : 1;
    }
    return o;
}

/* Escapes p[0..n), parses it back as a string and returns the bytes read,
 * which the caller frees; *outn gets their count. */
static unsigned char *escape_and_back(const unsigned char *p, size_t n, size_t *outn)
{
    size_t need = rt_json_escape(NULL, 0, p, n);
    char *q = (char *)malloc(need + 2);
    unsigned char *back = (unsigned char *)malloc(3 * n + 1);
    rt_json d;
    rt_json_tok t;
    rt_jbuf b;
    FUZZ_ASSERT(q && back);
    q[0] = '"';
    FUZZ_ASSERT(rt_json_escape(q + 1, need, p, n) == need);
    q[need + 1] = '"';
    rt_jbuf_init(&b, NULL);
    rt_jbuf_str(&b, p, n);
    FUZZ_ASSERT(!b.failed && b.len == need + 2 && memcmp(b.p, q, need + 2) == 0);
    rt_jbuf_free(&b);
    FUZZ_ASSERT(rt_json_parse(&d, q, need + 2, &t, 1) == 1);
    FUZZ_ASSERT(rt_json_str(&d, 0, (char *)back, 3 * n + 1, outn) == RT_OK);
    free(q);
    return back;
}

static void check_string(const rt_json *d, int t)
{
    size_t size = d->toks[t].size, len = 0, blen = 0;
    char *buf = (char *)malloc(size + 1);
    unsigned char *back;
    FUZZ_ASSERT(buf != NULL);
    FUZZ_ASSERT(rt_json_str(d, t, buf, size, &len) == RT_E_NOSPACE && len == size);
    FUZZ_ASSERT(rt_json_str(d, t, buf, size + 1, &len) == RT_OK && len == size);
    FUZZ_ASSERT(buf[size] == '\0' && rt_utf8_valid(buf, size));
    FUZZ_ASSERT(rt_json_eq(d, t, buf) == !memchr(buf, 0, size)); /* a NUL ends the C string */
    back = escape_and_back((const unsigned char *)buf, size, &blen);
    FUZZ_ASSERT(blen == size && memcmp(back, buf, size) == 0);
    free(back);
    free(buf);
}

static void check_number(const rt_json *d, int t)
{
    rt_str raw = rt_json_raw(d, t);
    char tmp[64];
    int64_t v = 0;
    long long want;
    rt_result r = rt_json_int(d, t, &v);
    int frac = memchr(raw.p, '.', raw.n) || memchr(raw.p, 'e', raw.n) || memchr(raw.p, 'E', raw.n);
    FUZZ_ASSERT(r == (frac ? RT_E_PROTO : r));
    if (frac || raw.n >= sizeof tmp) {
        FUZZ_ASSERT(frac || r == RT_E_LIMIT);
        return;
    }
    memcpy(tmp, raw.p, raw.n);
    tmp[raw.n] = '\0';
    errno = 0;
    want = strtoll(tmp, NULL, 10);
    FUZZ_ASSERT(r == (errno == ERANGE ? RT_E_LIMIT : RT_OK));
    FUZZ_ASSERT(r != RT_OK || v == want);
}

/* Member lookup finds the last member with each name. */
static void check_object(const rt_json *d, int t)
{
    char key[64];
    size_t len;
    int k, k2, last, m, m2, size = (int)d->toks[t].size;
    for (m = 0, k = t + 1; m < size; m++, k = (int)d->toks[k + 1].next) {
        if (rt_json_str(d, k, key, sizeof key, &len) != RT_OK || memchr(key, 0, len))
            continue;
        last = -1;
        for (m2 = 0, k2 = t + 1; m2 < size; m2++, k2 = (int)d->toks[k2 + 1].next)
            if (rt_json_eq(d, k2, key))
                last = k2 + 1;
        FUZZ_ASSERT(last >= k + 1 && rt_json_get(d, t, key) == last);
    }
    FUZZ_ASSERT(rt_json_get(d, t, "\xff") == -1); /* no valid key holds that byte */
}

static void check_array(const rt_json *d, int t)
{
    size_t i, size = d->toks[t].size;
    int k = t + 1;
    for (i = 0; i < size; i++, k = (int)d->toks[k].next)
        FUZZ_ASSERT(rt_json_at(d, t, i) == k);
    FUZZ_ASSERT(rt_json_at(d, t, size) == -1);
}

/* The subtree at t is well formed; returns the token after it. */
static int check_tree(const rt_json *d, int t)
{
    const rt_json_tok *k = &d->toks[t];
    uint32_t m, per = k->type == RT_JSON_OBJECT ? 2 : 1;
    int c = t + 1;
    int64_t v;
    int b;
    FUZZ_ASSERT(k->start < k->end && k->end <= d->len && k->next <= (uint32_t)d->n);
    FUZZ_ASSERT(rt_json_type_of(d, t) == (rt_json_type)k->type);
    FUZZ_ASSERT(rt_json_bool(d, t, &b) == (k->type == RT_JSON_TRUE || k->type == RT_JSON_FALSE
                                           ? RT_OK : RT_E_PROTO));
    if (k->type == RT_JSON_STRING)
        check_string(d, t);
    else if (k->type == RT_JSON_NUMBER)
        check_number(d, t);
    else
        FUZZ_ASSERT(rt_json_int(d, t, &v) == RT_E_PROTO);
    if (k->type == RT_JSON_OBJECT)
        check_object(d, t);
    if (k->type == RT_JSON_ARRAY)
        check_array(d, t);
    for (m = 0; (k->type == RT_JSON_OBJECT || k->type == RT_JSON_ARRAY) && m < k->size * per; m++) {
        FUZZ_ASSERT(per == 1 || m % 2 == 1 || d->toks[c].type == RT_JSON_STRING);
        FUZZ_ASSERT(d->toks[c].start > k->start && d->toks[c].end < k->end);
        c = check_tree(d, c);
    }
    FUZZ_ASSERT((uint32_t)c == k->next);
    return c;
}

static void check_parse(const uint8_t *data, size_t size)
{
    rt_json_tok toks[MAXTOK];
    rt_json d;
    size_t want_toks = 0;
    int depth = 0;
    int valid = ref_parse(data, size, &want_toks, &depth);
    rt_result r = rt_json_parse(&d, data, size, toks, MAXTOK);
    if (!valid) {
        FUZZ_ASSERT(r < 0 && d.err_pos <= size);
        return;
    }
    if (depth > RT_JSON_MAX_DEPTH || want_toks > MAXTOK) {
        FUZZ_ASSERT(r == RT_E_LIMIT);
        return;
    }
    FUZZ_ASSERT(r > 0 && (size_t)r == want_toks && d.n == r);
    FUZZ_ASSERT(check_tree(&d, 0) == r);
    FUZZ_ASSERT(rt_json_type_of(&d, -1) == RT_JSON_NONE && rt_json_type_of(&d, r) == RT_JSON_NONE);
    FUZZ_ASSERT(rt_json_parse(&d, data, size, toks, (size_t)r - 1) == RT_E_LIMIT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *want, *got;
    size_t wn, gn = 0;
    if (size > (1u << 16))
        return 0;
    check_parse(data, size);
    want = (unsigned char *)malloc(3 * size + 1);
    FUZZ_ASSERT(want != NULL);
    wn = ref_replace(data, size, want);
    got = escape_and_back(data, size, &gn);
    FUZZ_ASSERT(gn == wn && memcmp(got, want, wn) == 0);
    free(want);
    free(got);
    return 0;
}
