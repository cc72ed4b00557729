/* http.c - HTTP/1.1 request parser and response writer (RFC 9110, RFC 9112).
 *
 * The parser works line by line. Each call searches the new bytes for LF
 * (memchr), checks every line that became complete, and stops at the blank
 * line that ends the head. The checks of one line need nothing but that
 * line, so they can run the moment its LF arrives: garbage is answered at
 * once instead of after 8 KiB. What needs the whole head (Host, framing,
 * keep-alive) runs once, after the blank line. The state kept between calls
 * is three offsets, because the caller's buffer may have moved; when the head
 * completes in a later call than it began, its lines are walked once more to
 * point the views into the current buffer. Either way each byte is searched
 * once and checked at most twice, so feeding byte by byte stays O(n).
 */
#include "http.h"
#include "../base/config.h"
#include <limits.h>
#include <string.h>

/* The head length is returned as an rt_result (an int), and the parser
 * keeps offsets into the head in 32 bits. */
#if RT_HTTP_MAX_HEADER_BYTES > INT_MAX
#error "RT_HTTP_MAX_HEADER_BYTES must fit in an int"
#endif

/* Where one call's line scan stands. */
typedef struct rt__http_scan {
    const char *buf;
    size_t start;      /* first byte of the request line */
    size_t lim;        /* bytes we may look at: min(len, max header bytes) */
    size_t pos;        /* next byte to search for LF */
    size_t line;       /* first byte of the current line */
    size_t fields;     /* header lines checked so far */
    size_t max_fields;
    rt_http_request *req;
} rt__http_scan;

static rt_str rt__http_view(const char *p, size_t n)
{
    rt_str s;
    s.p = p;
    s.n = n;
    return s;
}

/* Records the status to answer with and picks the matching result code. */
static rt_result rt__http_fail(rt_http_request *req, int status)
{
    req->status = status;
    return status == 413 || status == 431 ? RT_E_LIMIT : RT_E_PROTO;
}

/* A run-time limit may only lower the compiled one; 0 keeps it. */
static size_t rt__http_limit(size_t runtime, size_t compiled)
{
    return runtime != 0 && runtime < compiled ? runtime : compiled;
}

/* RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
 * "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA, as a bitmap of ASCII. */
static int rt__http_tchar(unsigned char c)
{
    static const uint32_t map[4] = {0x00000000, 0x03ff6cfa, 0xc7fffffe, 0x57ffffff};
    return c < 128 && ((map[c >> 5] >> (c & 31)) & 1);
}

static size_t rt__http_token_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && rt__http_tchar((unsigned char)s[i]))
        i++;
    return i;
}

static int rt__http_is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Takes the next sep-separated item off the front of *list, without the
 * optional whitespace around it (RFC 9110 5.6.1). 0 when none is left. */
static int rt__http_next_item(rt_str *list, char sep, rt_str *item)
{
    const char *end;
    size_t n, b = 0;
    if (list->n == 0)
        return 0;
    end = (const char *)memchr(list->p, sep, list->n);
    n = end ? (size_t)(end - list->p) : list->n;
    while (b < n && rt__http_is_ows(list->p[b]))
        b++;
    *item = rt__http_view(list->p + b, n - b);
    while (item->n > 0 && rt__http_is_ows(item->p[item->n - 1]))
        item->n--;
    list->p += end ? n + 1 : n;
    list->n -= end ? n + 1 : n;
    return 1;
}

static int rt__http_list_has(rt_str list, rt_str token)
{
    rt_str item;
    while (rt__http_next_item(&list, ',', &item)) {
        if (rt_str_ieq(item, token))
            return 1;
    }
    return 0;
}

/* ---- The request line (RFC 9112 3) -------------------------------------- */

/* RFC 9112 2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive. A
 * well-formed version we do not speak is a 505, anything else a 400. */
static rt_result rt__http_version(rt_http_request *req, const char *v, size_t n)
{
    if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9')
        return rt__http_fail(req, 400);
    if (v[5] != '1' || v[7] > '1')
        return rt__http_fail(req, 505);
    req->version_minor = v[7] - '0';
    return RT_OK;
}

/* The methods we serve; other tokens are 405 (RFC 9110 15.5.6). Method
 * names are case-sensitive (RFC 9110 9.1). */
static int rt__http_method_served(rt_str m)
{
    static const char *const served[] = {"GET", "HEAD", "POST", "PUT",
                                         "DELETE", "OPTIONS", "PATCH"};
    size_t i;
    for (i = 0; i < sizeof served / sizeof served[0]; i++) {
        if (rt_str_eq(m, rt_str_c(served[i])))
            return 1;
    }
    return 0;
}

/* The target runs to the next SP; it may hold only visible ASCII (an URI
 * percent-encodes everything else, RFC 3986 2.1). */
static size_t rt__http_target_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f)
        i++;
    return i;
}

/* RFC 9112 3.2: origin-form ("/path?query") or, for OPTIONS only,
 * asterisk-form ("*"). The absolute and authority forms are not served. */
static rt_result rt__http_target_form(rt_http_request *req)
{
    rt_str t = req->target;
    const char *q;
    if (t.n == 1 && t.p[0] == '*') {
        if (!rt_str_eq(req->method, rt_str_c("OPTIONS")))
            return rt__http_fail(req, 400);
    } else if (t.p[0] != '/') {
        return rt__http_fail(req, 400);
    }
    q = (const char *)memchr(t.p, '?', t.n);
    req->path = rt__http_view(t.p, q ? (size_t)(q - t.p) : t.n);
    req->query = q ? rt__http_view(q + 1, t.n - req->path.n - 1) : rt__http_view(t.p + t.n, 0);
    return RT_OK;
}

/* request-line = method SP request-target SP HTTP-version (RFC 9112 3), with
 * single spaces. Syntax errors come first (400), then the version (505),
 * the method (405) and the form of the target (400). A line with no version
 * is an HTTP/0.9 request: 505. */
static rt_result rt__http_request_line(rt_http_request *req, const char *s, size_t n)
{
    size_t m = rt__http_token_len(s, n), t;
    rt_result r;
    if (m == 0 || m == n || s[m] != ' ')
        return rt__http_fail(req, 400);
    req->method = rt__http_view(s, m);
    s += m + 1;
    n -= m + 1;
    t = rt__http_target_len(s, n);
    if (t == 0 || (t < n && s[t] != ' '))
        return rt__http_fail(req, 400);
    req->target = rt__http_view(s, t);
    if (t == n)
        return rt__http_fail(req, 505);
    r = rt__http_version(req, s + t + 1, n - t - 1);
    if (r != RT_OK)
        return r;
    if (!rt__http_method_served(req->method))
        return rt__http_fail(req, 405);
    return rt__http_target_form(req);
}

/* ---- Header lines (RFC 9112 5) ------------------------------------------- */

/* RFC 9110 5.5: a field value holds SP, HTAB, VCHAR and obs-text, and no
 * other control character (this also catches a bare CR, since the line's
 * own CR is not part of the value). Eight bytes at a time while none is
 * below SP or equal to DEL; the byte loop settles the rest and HTAB. */
static int rt__http_value_ok(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, del;
        memcpy(&x, s + i, 8);
        del = x ^ (ones * 0x7f);
        if ((((x - ones * 0x20) & ~x) | ((del - ones) & ~del)) & highs)
            break;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}

/* field-line = field-name ":" OWS field-value OWS. A line that starts with
 * SP/HTAB is obsolete line folding, and whitespace before the colon is
 * forbidden (RFC 9112 5.1, 5.2): both fail the token check. */
static rt_result rt__http_field_line(rt_http_request *req, const char *s, size_t n,
                                     rt_http_header *h)
{
    size_t i = rt__http_token_len(s, n), k, end = n;
    if (i == 0 || i == n || s[i] != ':' || !rt__http_value_ok(s + i + 1, n - i - 1))
        return rt__http_fail(req, 400);
    for (k = i + 1; k < end && rt__http_is_ows(s[k]); k++)
        ;
    while (end > k && rt__http_is_ows(s[end - 1]))
        end--;
    h->name = rt__http_view(s, i);
    h->value = rt__http_view(s + k, end - k);
    return RT_OK;
}

/* ---- Finding and checking the lines --------------------------------------- */

/* Checks the line that ends with the LF at buf[lf]. Returns RT_OK to go on,
 * the head length at the blank line, or an error. */
static rt_result rt__http_line(rt__http_scan *st, size_t lf)
{
    size_t b = st->line, n;
    rt_result r;
    /* RFC 9112 2.2: CRLF only (see http.h for why a bare LF is refused) */
    if (lf == b || st->buf[lf - 1] != '\r')
        return rt__http_fail(st->req, 400);
    n = lf - 1 - b;
    if (n == 0)
        return b == st->start ? rt__http_fail(st->req, 400) : (rt_result)(lf + 1);
    if (b == st->start)
        return rt__http_request_line(st->req, st->buf + b, n);
    if (st->fields >= st->max_fields)
        return rt__http_fail(st->req, 431);
    r = rt__http_field_line(st->req, st->buf + b, n, &st->req->headers[st->fields]);
    st->fields++;
    return r;
}

/* Checks every line that completes below st->lim. Returns the head length,
 * an error, or RT_AGAIN with st->pos at the end of what was searched. */
static rt_result rt__http_scan_lines(rt__http_scan *st)
{
    while (st->pos < st->lim) {
        const char *lf = (const char *)memchr(st->buf + st->pos, '\n', st->lim - st->pos);
        size_t at;
        rt_result r;
        if (!lf) {
            st->pos = st->lim;
            break;
        }
        at = (size_t)(lf - st->buf);
        r = rt__http_line(st, at);
        if (r != RT_OK)
            return r;
        st->pos = st->line = at + 1;
    }
    return RT_AGAIN;
}

/* RFC 9112 2.2: a server SHOULD ignore at least one empty line before the
 * request line (some clients send CRLF after a POST body). We ignore one. */
static size_t rt__http_skip(const char *buf, size_t len)
{
    return len >= 2 && buf[0] == '\r' && buf[1] == '\n' ? 2 : 0;
}

static void rt__http_scan_init(rt__http_scan *st, const rt_http_parser *p, const char *buf,
                               size_t len, rt_http_request *req)
{
    size_t max_bytes = rt__http_limit(p->max_header_bytes, RT_HTTP_MAX_HEADER_BYTES);
    st->buf = buf;
    st->start = rt__http_skip(buf, len);
    st->lim = len < max_bytes ? len : max_bytes;
    st->pos = p->_scanned > st->start ? p->_scanned : st->start;
    st->line = p->_line > st->start ? p->_line : st->start;
    st->fields = p->_fields;
    st->max_fields = rt__http_limit(p->max_headers, RT_HTTP_MAX_HEADERS);
    st->req = req;
}

/* ---- The whole head: Host, framing, persistence --------------------------- */

/* 1 when name is want (n bytes, lower case) in any case. */
static int rt__http_name_is(rt_str name, const char *want, size_t n)
{
    return name.n == n && rt_str_ieq(name, rt__http_view(want, n));
}

/* RFC 9110 8.6: Content-Length = 1*DIGIT. Parsed as 64 bits so that the
 * answer (400 for an overflow, else 413 when too big) is the same on 32-bit
 * targets. */
static rt_result rt__http_content_length(rt_str v, uint64_t *out)
{
    uint64_t n = 0;
    size_t i;
    if (v.n == 0)
        return RT_E_PROTO;
    for (i = 0; i < v.n; i++) {
        unsigned d = (unsigned)(unsigned char)v.p[i] - '0';
        if (d > 9 || n > (UINT64_MAX - d) / 10)
            return RT_E_PROTO;
        n = n * 10 + d;
    }
    *out = n;
    return RT_OK;
}

/* What the head says about Host, framing and persistence. */
typedef struct rt__http_seen {
    size_t hosts, lengths;
    rt_str length;
    int chunked, conn_close, conn_keep;
} rt__http_seen;

static void rt__http_note(rt__http_seen *seen, const rt_http_header *h)
{
    if (rt__http_name_is(h->name, "host", 4)) {
        seen->hosts++;
    } else if (rt__http_name_is(h->name, "content-length", 14)) {
        seen->lengths++;
        seen->length = h->value;
    } else if (rt__http_name_is(h->name, "transfer-encoding", 17)) {
        seen->chunked = 1;
    } else if (rt__http_name_is(h->name, "connection", 10)) {
        seen->conn_close |= rt__http_list_has(h->value, rt__http_view("close", 5));
        seen->conn_keep |= rt__http_list_has(h->value, rt__http_view("keep-alive", 10));
    }
}

/* The checks that need the whole head, in order:
 * RFC 9112 3.2: 400 for an HTTP/1.1 request without Host, and for any
 * request with more than one.
 * RFC 9112 6: Content-Length framing only. A repeated Content-Length is
 * refused (6.3 allows merging equal ones, but refusing is safer against
 * smuggling); Transfer-Encoding is 501, and 400 in HTTP/1.0 (6.1). */
static rt_result rt__http_framing(rt_http_request *req, const rt__http_seen *seen,
                                  size_t max_body)
{
    uint64_t n = 0;
    if (seen->hosts > 1 || (seen->hosts == 0 && req->version_minor == 1))
        return rt__http_fail(req, 400);
    if (seen->lengths > 1 ||
        (seen->lengths == 1 && rt__http_content_length(seen->length, &n) != RT_OK))
        return rt__http_fail(req, 400);
    if (seen->chunked)
        return rt__http_fail(req, req->version_minor == 0 ? 400 : 501);
    if (n > max_body)
        return rt__http_fail(req, 413);
    req->content_length = (size_t)n;
    return RT_OK;
}

/* Runs the checks that need the whole head, and fills the rest of req. */
static rt_result rt__http_finish(const rt_http_parser *p, rt__http_scan *st, size_t head_len)
{
    rt_http_request *req = st->req;
    rt__http_seen seen;
    rt_result r;
    size_t i;
    memset(&seen, 0, sizeof seen);
    req->num_headers = st->fields;
    req->head_len = head_len;
    req->content_length = 0;
    for (i = 0; i < req->num_headers; i++)
        rt__http_note(&seen, &req->headers[i]);
    r = rt__http_framing(req, &seen, rt__http_limit(p->max_body, RT_HTTP_MAX_BODY));
    if (r != RT_OK)
        return r;
    /* RFC 9112 9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with
     * "keep-alive" */
    req->keep_alive = !seen.conn_close && (req->version_minor == 1 || seen.conn_keep);
    return (rt_result)head_len;
}

void rt_http_parser_init(rt_http_parser *p)
{
    memset(p, 0, sizeof *p);
}

rt_result rt_http_parse_request(rt_http_parser *p, const char *buf, size_t len,
                                rt_http_request *req)
{
    rt__http_scan st;
    rt_result r;
    int fresh;
    RT_ASSERT(p && req && (buf || len == 0));
    req->status = 0;
    if (len < p->_scanned) {
        req->status = 500;
        return RT_E_INVAL;
    }
    rt__http_scan_init(&st, p, buf, len, req);
    fresh = st.line == st.start; /* every line will be seen by this call */
    r = rt__http_scan_lines(&st);
    if (r == RT_AGAIN) {
        if (len >= rt__http_limit(p->max_header_bytes, RT_HTTP_MAX_HEADER_BYTES))
            return rt__http_fail(req, 431);
        p->_scanned = (uint32_t)st.pos; /* all < max header bytes <= INT_MAX */
        p->_line = (uint32_t)st.line;
        p->_fields = (uint32_t)st.fields;
        return RT_AGAIN;
    }
    if (r > 0 && !fresh) {
        /* earlier lines were checked in older calls: point views into buf */
        st.pos = st.line = st.start;
        st.fields = 0;
        r = rt__http_scan_lines(&st);
    }
    return r > 0 ? rt__http_finish(p, &st, (size_t)r) : r;
}

/* ---- Looking things up in a parsed request -------------------------------- */

const rt_http_header *rt_http_header_get(const rt_http_request *req, const char *name)
{
    rt_str want = rt_str_c(name);
    size_t i;
    for (i = 0; i < req->num_headers; i++) {
        if (rt_str_ieq(req->headers[i].name, want))
            return &req->headers[i];
    }
    return NULL;
}

int rt_http_header_has_token(const rt_http_request *req, const char *name, const char *token)
{
    rt_str want = rt_str_c(name), tok = rt_str_c(token);
    size_t i;
    for (i = 0; i < req->num_headers; i++) {
        const rt_http_header *h = &req->headers[i];
        if (rt_str_ieq(h->name, want) && rt__http_list_has(h->value, tok))
            return 1;
    }
    return 0;
}

/* Splits "name=value" at the first '='; no '=' gives an empty value. */
static void rt__http_split_pair(rt_str item, rt_str *name, rt_str *value)
{
    const char *eq = (const char *)memchr(item.p, '=', item.n);
    size_t n = eq ? (size_t)(eq - item.p) : item.n;
    *name = rt__http_view(item.p, n);
    *value = eq ? rt__http_view(eq + 1, item.n - n - 1) : rt__http_view(item.p + n, 0);
}

static int rt__http_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One decoded byte of s at *i (application/x-www-form-urlencoded: %XX and
 * '+' for space), advancing *i; -1 for a bad %-escape. */
static int rt__http_unescape(rt_str s, size_t *i)
{
    char c = s.p[*i];
    int hi, lo;
    if (c != '%') {
        *i += 1;
        return c == '+' ? ' ' : (unsigned char)c;
    }
    if (s.n - *i < 3)
        return -1;
    hi = rt__http_hex(s.p[*i + 1]);
    lo = rt__http_hex(s.p[*i + 2]);
    if (hi < 0 || lo < 0)
        return -1;
    *i += 3;
    return hi << 4 | lo;
}

/* 1 when the decoded name equals key. */
static int rt__http_key_is(rt_str name, const char *key)
{
    size_t i = 0, k = 0;
    while (i < name.n) {
        int c = rt__http_unescape(name, &i);
        if (c < 0 || key[k] == '\0' || (unsigned char)key[k] != c)
            return 0;
        k++;
    }
    return key[k] == '\0';
}

/* Decodes s into out (when not NULL) and sets *n to the decoded length.
 * RT_E_PROTO for a bad escape. Never writes more than the decoded length. */
static rt_result rt__http_unescape_all(rt_str s, char *out, size_t *n)
{
    size_t i = 0;
    *n = 0;
    while (i < s.n) {
        int c = rt__http_unescape(s, &i);
        if (c < 0)
            return RT_E_PROTO;
        if (out)
            out[*n] = (char)c;
        *n += 1;
    }
    return RT_OK;
}

/* Copies an n-byte value and its NUL into out; on failure out holds "". */
static rt_result rt__http_give(char *out, size_t cap, size_t n, rt_result err)
{
    if (err == RT_OK && n > (size_t)INT_MAX)
        err = RT_E_LIMIT; /* the length must fit the int result */
    if (err == RT_OK && n >= cap)
        err = RT_E_NOSPACE;
    if (cap > 0)
        out[err == RT_OK ? n : 0] = '\0';
    return err == RT_OK ? (rt_result)n : err;
}

rt_result rt_http_query_get(rt_str query, const char *key, char *out, size_t cap)
{
    rt_str item, name, value;
    size_t n;
    while (rt__http_next_item(&query, '&', &item)) {
        rt__http_split_pair(item, &name, &value);
        if (!rt__http_key_is(name, key))
            continue;
        /* measure first, so a bad escape is reported whatever cap is */
        if (rt__http_unescape_all(value, NULL, &n) != RT_OK)
            return rt__http_give(out, cap, 0, RT_E_PROTO);
        if (n < cap)
            rt__http_unescape_all(value, out, &n);
        return rt__http_give(out, cap, n, RT_OK);
    }
    return rt__http_give(out, cap, 0, RT_E_NOTFOUND);
}

/* Finds key among the "name=value" pairs of one Cookie header value. */
static int rt__http_cookie_find(rt_str list, rt_str key, rt_str *value)
{
    rt_str item, name;
    while (rt__http_next_item(&list, ';', &item)) {
        rt__http_split_pair(item, &name, value);
        if (rt_str_eq(name, key))
            return 1;
    }
    return 0;
}

rt_result rt_http_cookie_get(const rt_http_request *req, const char *key, char *out, size_t cap)
{
    rt_str want = rt_str_c(key), v;
    size_t i;
    for (i = 0; i < req->num_headers; i++) {
        if (!rt__http_name_is(req->headers[i].name, "cookie", 6) ||
            !rt__http_cookie_find(req->headers[i].value, want, &v))
            continue;
        /* RFC 6265 4.1.1: cookie-value = *cookie-octet / DQUOTE *cookie-octet DQUOTE */
        if (v.n >= 2 && v.p[0] == '"' && v.p[v.n - 1] == '"')
            v = rt__http_view(v.p + 1, v.n - 2);
        if (v.n < cap)
            memcpy(out, v.p, v.n);
        return rt__http_give(out, cap, v.n, RT_OK);
    }
    return rt__http_give(out, cap, 0, RT_E_NOTFOUND);
}

/* ---- Writing responses ------------------------------------------------------ */

const char *rt_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* An snprintf-like sink: counts every byte, stores those that fit. */
typedef struct rt__http_out {
    char *buf;
    size_t cap;
    size_t len;
} rt__http_out;

static void rt__http_put(rt__http_out *o, const char *s, size_t n)
{
    if (o->len < o->cap)
        memcpy(o->buf + o->len, s, n < o->cap - o->len ? n : o->cap - o->len);
    o->len = n > SIZE_MAX - o->len ? SIZE_MAX : o->len + n;
}

static void rt__http_puts(rt__http_out *o, const char *s)
{
    if (s)
        rt__http_put(o, s, strlen(s));
}

static void rt__http_put_num(rt__http_out *o, size_t v)
{
    char digits[3 * sizeof(size_t)];
    size_t i = sizeof digits;
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    rt__http_put(o, digits + i, sizeof digits - i);
}

static size_t rt__http_end(rt__http_out *o)
{
    if (o->len < o->cap)
        o->buf[o->len] = '\0';
    return o->len;
}

/* The status line, the header lines and the blank line. RFC 9112 4:
 * status-code = 3DIGIT. RFC 9110 8.6: no Content-Length in a 1xx or 204
 * response; in a 304 it would have to be the length of the 200 response,
 * which we are not told, so it is left out too (the caller may add it). */
static void rt__http_head(rt__http_out *o, int status, const char *extra, const char *extra2,
                          const char *content_type, size_t body_len)
{
    if (status < 100 || status > 599)
        status = 500;
    rt__http_puts(o, "HTTP/1.1 ");
    rt__http_put_num(o, (size_t)status);
    rt__http_puts(o, " ");
    rt__http_puts(o, rt_http_reason(status));
    rt__http_puts(o, "\r\n");
    rt__http_puts(o, extra);
    rt__http_puts(o, extra2);
    if (content_type) {
        rt__http_puts(o, "Content-Type: ");
        rt__http_puts(o, content_type);
        rt__http_puts(o, "\r\n");
    }
    if (status >= 200 && status != 204 && status != 304) {
        rt__http_puts(o, "Content-Length: ");
        rt__http_put_num(o, body_len);
        rt__http_puts(o, "\r\n");
    }
    rt__http_puts(o, "\r\n");
}

size_t rt_http_format_head(char *buf, size_t cap, int status, const char *extra_headers,
                           const char *content_type, size_t body_len)
{
    rt__http_out o;
    o.buf = buf;
    o.cap = cap;
    o.len = 0;
    rt__http_head(&o, status, extra_headers, NULL, content_type, body_len);
    return rt__http_end(&o);
}

size_t rt_http_format_error(char *buf, size_t cap, int status, const char *extra_headers)
{
    rt__http_out o;
    const char *reason;
    o.buf = buf;
    o.cap = cap;
    o.len = 0;
    if (status < 400 || status > 599)
        status = 500;
    reason = rt_http_reason(status);
    /* the body: "404 Not Found\n" */
    rt__http_head(&o, status, extra_headers, "Connection: close\r\n",
                  "text/plain; charset=utf-8", 3 + 1 + strlen(reason) + 1);
    rt__http_put_num(&o, (size_t)status);
    rt__http_puts(&o, " ");
    rt__http_puts(&o, reason);
    rt__http_puts(&o, "\n");
    return rt__http_end(&o);
}
