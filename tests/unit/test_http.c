/* Unit tests for http: the request parser (every case whole, byte by byte
 * and split at every point, each step in an exactly sized heap copy so ASan
 * sees any read past len, and once more against a guard page), header and
 * token lookup, query and cookie values, the response writers. */
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../rt_test.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- Running one request three ways --------------------------------------- */

typedef struct limits {
    size_t bytes, headers, body;
} limits;

/* What one way of feeding produced; buf is the copy the views point into. */
typedef struct outcome {
    rt_result r;
    rt_http_request req;
    char *buf;
} outcome;

static char *copy_of(const char *s, size_t n)
{
    char *p = (char *)malloc(n ? n : 1);
    if (n)
        memcpy(p, s, n);
    return p;
}

static void parser_for(rt_http_parser *p, const limits *lim)
{
    rt_http_parser_init(p);
    if (lim) {
        p->max_header_bytes = lim->bytes;
        p->max_headers = lim->headers;
        p->max_body = lim->body;
    }
}

/* Feeds s[0..cuts[0]), s[0..cuts[1]), ... s[0..n) to one parser, each time
 * from a fresh exact-size copy (so the buffer moves), up to the first result
 * that is not RT_AGAIN. */
static outcome feed(const char *s, size_t n, const size_t *cuts, size_t ncuts, const limits *lim)
{
    rt_http_parser p;
    outcome o;
    size_t i;
    parser_for(&p, lim);
    memset(&o, 0, sizeof o);
    o.r = RT_AGAIN;
    for (i = 0; i <= ncuts && o.r == RT_AGAIN; i++) {
        size_t len = i < ncuts ? cuts[i] : n;
        free(o.buf);
        o.buf = copy_of(s, len);
        o.r = rt_http_parse_request(&p, o.buf, len, &o.req);
    }
    return o;
}

#define CHECK_VIEW(a, abase, b, bbase)                                          \
    do {                                                                        \
        CHECK_EQ((a).n, (b).n);                                                 \
        CHECK_EQ((a).p - (abase), (b).p - (bbase));                             \
        if ((a).n == (b).n)                                                     \
            CHECK_MEM((a).p, (b).p, (a).n);                                     \
    } while (0)

/* Two outcomes agree: same result and status, and on success the same
 * fields, with views equal by content and by offset into their buffers. */
static void check_same(const outcome *a, const outcome *b)
{
    const rt_http_request *x = &a->req, *y = &b->req;
    size_t i;
    CHECK_EQ(a->r, b->r);
    CHECK_EQ(x->status, y->status);
    if (a->r <= 0 || a->r != b->r)
        return;
    CHECK_VIEW(x->method, a->buf, y->method, b->buf);
    CHECK_VIEW(x->target, a->buf, y->target, b->buf);
    CHECK_VIEW(x->path, a->buf, y->path, b->buf);
    CHECK_VIEW(x->query, a->buf, y->query, b->buf);
    CHECK_EQ(x->version_minor, y->version_minor);
    CHECK_EQ(x->keep_alive, y->keep_alive);
    CHECK_EQ(x->content_length, y->content_length);
    CHECK_EQ(x->head_len, y->head_len);
    CHECK_EQ(x->num_headers, y->num_headers);
    for (i = 0; i < x->num_headers && i < y->num_headers; i++) {
        CHECK_VIEW(x->headers[i].name, a->buf, y->headers[i].name, b->buf);
        CHECK_VIEW(x->headers[i].value, a->buf, y->headers[i].value, b->buf);
    }
}

/* Parses s whole, one byte at a time and split at every point; checks all
 * agree and returns the whole one (free its buf). */
static outcome run3(const char *s, size_t n, const limits *lim)
{
    outcome whole = feed(s, n, NULL, 0, lim), other;
    size_t *cuts = (size_t *)malloc((n + 1) * sizeof *cuts);
    size_t i;
    for (i = 0; i <= n; i++)
        cuts[i] = i;
    other = feed(s, n, cuts, n, lim);
    check_same(&whole, &other);
    free(other.buf);
    for (i = 0; i <= n; i++) {
        other = feed(s, n, &cuts[i], 1, lim);
        check_same(&whole, &other);
        free(other.buf);
    }
    free(cuts);
    return whole;
}

/* Runs a case three ways and checks the result and status it must give. */
static void expect(const char *s, size_t n, const limits *lim, rt_result want, int status)
{
    outcome o = run3(s, n, lim);
    if (want > 0)
        CHECK_EQ(o.r, (rt_result)n);
    else
        CHECK_EQ(o.r, want);
    CHECK_EQ(o.req.status, status);
    if (o.r != want && !(want > 0 && o.r > 0))
        printf("#   case: \"%.*s\"\n", (int)(n < 120 ? n : 120), s);
    free(o.buf);
}

#define OK 1 /* any head length: the whole string is the head */
#define EXPECT(s, want, status) expect(s, sizeof(s) - 1, NULL, want, status)

/* ---- Valid requests ----------------------------------------------------------- */

RT_TEST(parses_a_websocket_upgrade)
{
    static const char s[] = "GET /ws?room=a&x=1 HTTP/1.1\r\n"
                            "Host: example.com\r\n"
                            "Upgrade: websocket\r\n"
                            "Connection: keep-alive, Upgrade\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n"
                            "\r\n";
    outcome o = run3(s, sizeof s - 1, NULL);
    const rt_http_request *q = &o.req;
    CHECK_EQ(o.r, sizeof s - 1);
    CHECK_EQ(q->head_len, sizeof s - 1);
    CHECK_EQ(q->status, 0);
    CHECK(rt_str_eq(q->method, rt_str_c("GET")));
    CHECK(rt_str_eq(q->target, rt_str_c("/ws?room=a&x=1")));
    CHECK(rt_str_eq(q->path, rt_str_c("/ws")));
    CHECK(rt_str_eq(q->query, rt_str_c("room=a&x=1")));
    CHECK_EQ(q->method.p - o.buf, 0);
    CHECK_EQ(q->target.p - o.buf, 4);
    CHECK_EQ(q->version_minor, 1);
    CHECK_EQ(q->keep_alive, 1);
    CHECK_EQ(q->content_length, 0);
    CHECK_EQ(q->num_headers, 5);
    CHECK(rt_str_eq(q->headers[0].name, rt_str_c("Host")));
    CHECK(rt_str_eq(q->headers[0].value, rt_str_c("example.com")));
    CHECK(rt_str_eq(q->headers[3].name, rt_str_c("Sec-WebSocket-Key")));
    CHECK(rt_str_eq(q->headers[3].value, rt_str_c("dGhlIHNhbXBsZSBub25jZQ==")));
    CHECK(rt_str_eq(q->headers[4].value, rt_str_c("13")));
    free(o.buf);
}

RT_TEST(trims_optional_whitespace_and_keeps_inner_space)
{
    static const char s[] = "GET / HTTP/1.1\r\nHost:   h \t\r\nX-Empty:\r\nX-Blank: \t \r\n"
                            "X-Tab:\tv w\r\nX-Utf8: caf\xc3\xa9\r\n\r\n";
    outcome o = run3(s, sizeof s - 1, NULL);
    CHECK_EQ(o.r, sizeof s - 1);
    CHECK_EQ(o.req.num_headers, 5);
    CHECK(rt_str_eq(o.req.headers[0].value, rt_str_c("h")));
    CHECK_EQ(o.req.headers[1].value.n, 0);
    CHECK_EQ(o.req.headers[2].value.n, 0);
    CHECK(rt_str_eq(o.req.headers[3].value, rt_str_c("v w")));
    CHECK(rt_str_eq(o.req.headers[4].value, rt_str_c("caf\xc3\xa9")));
    free(o.buf);
}

RT_TEST(splits_path_and_query_at_the_first_question_mark)
{
    static const char a[] = "GET /a?b?c=d HTTP/1.1\r\nHost: h\r\n\r\n";
    static const char b[] = "GET /a? HTTP/1.1\r\nHost: h\r\n\r\n";
    static const char c[] = "GET /plain HTTP/1.1\r\nHost: h\r\n\r\n";
    outcome o = run3(a, sizeof a - 1, NULL);
    CHECK(rt_str_eq(o.req.path, rt_str_c("/a")));
    CHECK(rt_str_eq(o.req.query, rt_str_c("b?c=d")));
    free(o.buf);
    o = run3(b, sizeof b - 1, NULL);
    CHECK(rt_str_eq(o.req.path, rt_str_c("/a")));
    CHECK_EQ(o.req.query.n, 0);
    free(o.buf);
    o = run3(c, sizeof c - 1, NULL);
    CHECK(rt_str_eq(o.req.path, rt_str_c("/plain")));
    CHECK_EQ(o.req.query.n, 0);
    CHECK(o.req.query.p == o.req.target.p + o.req.target.n);
    free(o.buf);
}

RT_TEST(serves_the_seven_methods_and_asterisk_for_options)
{
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\n\r\n", OK, 0);
    EXPECT("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", OK, 0);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\n\r\n", OK, 0);
    EXPECT("PUT / HTTP/1.1\r\nHost: h\r\n\r\n", OK, 0);
    EXPECT("DELETE / HTTP/1.1\r\nHost: h\r\n\r\n", OK, 0);
    EXPECT("OPTIONS / HTTP/1.1\r\nHost: h\r\n\r\n", OK, 0);
    EXPECT("PATCH / HTTP/1.1\r\nHost: h\r\n\r\n", OK, 0);
    EXPECT("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", OK, 0);
}

RT_TEST(keep_alive_follows_version_and_connection_tokens)
{
    static const struct { const char *s; int minor, keep; } cases[] = {
        {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 1, 1},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 1, 0},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n", 1, 0},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", 1, 0},
        {"GET / HTTP/1.0\r\n\r\n", 0, 0},
        {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, 1},
        {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", 0, 0},
        {"GET / HTTP/1.0\r\nConnection: keep-aliveish\r\n\r\n", 0, 0},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        outcome o = run3(cases[i].s, strlen(cases[i].s), NULL);
        CHECK_EQ(o.r, strlen(cases[i].s));
        CHECK_EQ(o.req.version_minor, cases[i].minor);
        CHECK_EQ(o.req.keep_alive, cases[i].keep);
        free(o.buf);
    }
}

RT_TEST(reads_content_length_and_stops_at_the_head)
{
    static const char s[] = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
                            "GET / HTTP/1.1\r\n";
    outcome o = run3(s, sizeof s - 1, NULL);
    CHECK_EQ(o.r, 48);
    CHECK_EQ(o.req.head_len, 48);
    CHECK_EQ(o.req.content_length, 5);
    CHECK_MEM(o.buf + o.r, "hello", 5);
    free(o.buf);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", OK, 0);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65536\r\n\r\n", OK, 0);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0000000000000000000000012\r\n\r\n",
           OK, 0);
}

RT_TEST(ignores_one_empty_line_before_the_request_line)
{
    static const char s[] = "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
    outcome o = run3(s, sizeof s - 1, NULL);
    CHECK_EQ(o.r, sizeof s - 1);
    CHECK_EQ(o.req.method.p - o.buf, 2);
    free(o.buf);
    EXPECT("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("\r\n", RT_AGAIN, 0);
    EXPECT("\r", RT_AGAIN, 0);
}

RT_TEST(http_1_0_needs_no_host)
{
    EXPECT("GET /x HTTP/1.0\r\n\r\n", OK, 0);
    EXPECT("GET /x HTTP/1.0\r\nHost: h\r\n\r\n", OK, 0);
}

/* ---- Rejected requests -------------------------------------------------------- */

RT_TEST(method_must_be_a_token_and_served)
{
    EXPECT("BREW / HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 405);
    EXPECT("get / HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 405); /* case-sensitive */
    EXPECT("TRACE / HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 405);
    EXPECT("CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 405);
    EXPECT("M-SEARCH * HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 405);
    EXPECT("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
}

RT_TEST(request_line_has_single_spaces)
{
    EXPECT("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET /  HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / \r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
}

RT_TEST(version_other_than_1_0_and_1_1_is_505)
{
    EXPECT("GET / HTTP/2.0\r\nHost: h\r\n\r\n", RT_E_PROTO, 505);
    EXPECT("GET / HTTP/1.2\r\nHost: h\r\n\r\n", RT_E_PROTO, 505);
    EXPECT("GET / HTTP/0.9\r\nHost: h\r\n\r\n", RT_E_PROTO, 505);
    EXPECT("GET / HTTP/3.0\r\nHost: h\r\n\r\n", RT_E_PROTO, 505);
    EXPECT("GET /\r\n\r\n", RT_E_PROTO, 505); /* HTTP/0.9 request line */
    EXPECT("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", RT_E_PROTO, 505); /* the h2 preface */
    EXPECT("BREW / HTTP/2.0\r\nHost: h\r\n\r\n", RT_E_PROTO, 505); /* version first */
}

RT_TEST(malformed_version_is_400)
{
    EXPECT("GET / http/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.10\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.x\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/11\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1,1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / XTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
}

RT_TEST(target_must_be_origin_form_or_asterisk_for_options)
{
    EXPECT("GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET * HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
}

RT_TEST(bare_cr_is_rejected_anywhere)
{
    EXPECT("GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\rx\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\nHo\rst: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\n\r\r\n", RT_E_PROTO, 400);
    EXPECT("\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
}

RT_TEST(bare_lf_is_rejected)
{
    EXPECT("GET / HTTP/1.1\nHost: h\n\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\n\n", RT_E_PROTO, 400);
    EXPECT("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
}

RT_TEST(obsolete_line_folding_is_rejected)
{
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\n Host: h\r\n\r\n", RT_E_PROTO, 400);
}

RT_TEST(field_names_are_tokens_right_before_the_colon)
{
    EXPECT("GET / HTTP/1.1\r\nHost : h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\nHost h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\n: h\r\nHost: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\nHo(st: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX-\xc3\xa9: 1\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX!#$%&'*+-.^_`|~9: 1\r\n\r\n", OK, 0);
}

RT_TEST(control_characters_in_values_are_rejected)
{
    static const char nul[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
    static const char nul_name[] = "GET / HTTP/1.1\r\nHost: h\r\nX\0: b\r\n\r\n";
    static const char nul_method[] = "G\0T / HTTP/1.1\r\nHost: h\r\n\r\n";
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01" "b\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX: \x1b[0m\r\n\r\n", RT_E_PROTO, 400);
    expect(nul, sizeof nul - 1, NULL, RT_E_PROTO, 400);
    expect(nul_name, sizeof nul_name - 1, NULL, RT_E_PROTO, 400);
    expect(nul_method, sizeof nul_method - 1, NULL, RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\tb\r\n\r\n", OK, 0);
}

/* Every byte value in a field name, a request-target and a field value is
 * accepted exactly when the RFC grammar allows it there. */
static int rfc_tchar(int c)
{
    return c > 0 && c < 128 && (strchr("!#$%&'*+-.^_`|~", c) || (c >= '0' && c <= '9') ||
                                (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

RT_TEST(each_byte_is_judged_by_the_grammar)
{
    int c;
    for (c = 0; c < 256; c++) {
        char s[64];
        int n = sprintf(s, "GET / HTTP/1.1\r\nHost: h\r\nX%cY: v\r\n\r\n", c);
        /* a colon ends the name early and leaves a valid "Y: v" value */
        expect(s, (size_t)n, NULL, rfc_tchar(c) || c == ':' ? OK : RT_E_PROTO,
               rfc_tchar(c) || c == ':' ? 0 : 400);
        n = sprintf(s, "GET /a%cb HTTP/1.1\r\nHost: h\r\n\r\n", c);
        expect(s, (size_t)n, NULL, c > 0x20 && c < 0x7f ? OK : RT_E_PROTO,
               c > 0x20 && c < 0x7f ? 0 : 400);
        n = sprintf(s, "GET / HTTP/1.1\r\nHost: h\r\nX: a%cb\r\n\r\n", c);
        expect(s, (size_t)n, NULL, (c >= 0x20 && c != 0x7f) || c == '\t' ? OK : RT_E_PROTO,
               (c >= 0x20 && c != 0x7f) || c == '\t' ? 0 : 400);
    }
}

/* The value check goes eight bytes at a time: a control byte at any offset
 * of a long value, after a tab or not, must still be found. */
RT_TEST(control_byte_found_at_every_offset_of_a_long_value)
{
    static const char pre[] = "GET / HTTP/1.1\r\nHost: h\r\nX: ";
    char s[128];
    size_t at, bad, n;
    for (bad = 0; bad < 3; bad++) {
        for (at = 0; at < 40; at++) {
            memcpy(s, pre, sizeof pre - 1);
            n = sizeof pre - 1;
            memset(s + n, bad == 2 ? '\t' : 'v', 40);
            s[n + 40 - 1 - at] = bad == 0 ? '\x1f' : '\x7f';
            if (bad == 2)
                s[n + at] = 0x01;
            memcpy(s + n + 40, "\r\n\r\n", 4);
            n += 44;
            expect(s, n, NULL, RT_E_PROTO, 400);
        }
    }
}

RT_TEST(content_length_must_be_single_and_digits)
{
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
           RT_E_PROTO, 400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n",
           RT_E_PROTO, 400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", RT_E_PROTO, 400);
    /* 2^64 overflows; 2^64 - 1 parses and is merely too large */
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n",
           RT_E_PROTO, 400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
           RT_E_PROTO, 400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n",
           RT_E_LIMIT, 413);
}

RT_TEST(body_over_the_limit_is_413)
{
    static const char s[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n";
    limits lim = {0, 0, 10};
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65537\r\n\r\n", RT_E_LIMIT, 413);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4294967296\r\n\r\n", RT_E_LIMIT, 413);
    expect(s, sizeof s - 1, &lim, RT_E_LIMIT, 413);
    lim.body = 11;
    expect(s, sizeof s - 1, &lim, OK, 0);
    lim.body = 1000000; /* cannot raise the compiled limit */
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65537\r\n\r\n", RT_E_LIMIT, 413);
}

RT_TEST(transfer_encoding_is_501_or_400_in_http_1_0)
{
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", RT_E_PROTO, 501);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
           RT_E_PROTO, 501);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding: identity\r\n\r\n", RT_E_PROTO, 501);
    EXPECT("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", RT_E_PROTO, 400);
}

RT_TEST(host_is_required_once_in_http_1_1)
{
    EXPECT("GET / HTTP/1.1\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\nX-Host: h\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", RT_E_PROTO, 400);
    EXPECT("GET / HTTP/1.1\r\nHost:\r\n\r\n", OK, 0); /* RFC 9110 7.2: may be empty */
    EXPECT("GET / HTTP/1.1\r\nHOST: h\r\n\r\n", OK, 0);
}

RT_TEST(empty_request_line_is_400)
{
    EXPECT("\r\n\r\n\r\n", RT_E_PROTO, 400);
}

/* ---- Limits ------------------------------------------------------------------- */

/* A request whose head is exactly n bytes: a padding header fills it out. */
static char *head_of_size(size_t n)
{
    static const char pre[] = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
    char *s = (char *)malloc(n + 1);
    size_t fixed = sizeof pre - 1 + 4;
    memcpy(s, pre, sizeof pre - 1);
    memset(s + sizeof pre - 1, 'a', n - fixed);
    memcpy(s + n - 4, "\r\n\r\n", 5);
    return s;
}

RT_TEST(head_at_the_compiled_byte_limit_passes_and_one_more_is_431)
{
    char *s = head_of_size(RT_HTTP_MAX_HEADER_BYTES);
    outcome o = feed(s, RT_HTTP_MAX_HEADER_BYTES, NULL, 0, NULL);
    CHECK_EQ(o.r, RT_HTTP_MAX_HEADER_BYTES);
    free(o.buf);
    free(s);
    s = head_of_size(RT_HTTP_MAX_HEADER_BYTES + 1);
    o = feed(s, RT_HTTP_MAX_HEADER_BYTES + 1, NULL, 0, NULL);
    CHECK_EQ(o.r, RT_E_LIMIT);
    CHECK_EQ(o.req.status, 431);
    free(o.buf);
    free(s);
}

RT_TEST(runtime_byte_limit_three_ways)
{
    limits lim = {48, 0, 0};
    char *s = head_of_size(48);
    expect(s, 48, &lim, OK, 0);
    free(s);
    s = head_of_size(49);
    expect(s, 49, &lim, RT_E_LIMIT, 431);
    free(s);
}

RT_TEST(oversize_head_fails_as_soon_as_len_reaches_the_limit)
{
    rt_http_parser p;
    rt_http_request req;
    char *s = head_of_size(4000);
    rt_http_parser_init(&p);
    p.max_header_bytes = 100;
    CHECK_EQ(rt_http_parse_request(&p, s, 99, &req), RT_AGAIN);
    CHECK_EQ(req.status, 0);
    CHECK_EQ(rt_http_parse_request(&p, s, 100, &req), RT_E_LIMIT);
    CHECK_EQ(req.status, 431);
    /* the compiled limit: no blank line in sight after 8 KiB of one line */
    memset(s, 'a', 4000);
    rt_http_parser_init(&p);
    CHECK_EQ(rt_http_parse_request(&p, s, 4000, &req), RT_AGAIN);
    free(s);
    s = (char *)malloc(RT_HTTP_MAX_HEADER_BYTES);
    memcpy(s, "GET /", 5);
    memset(s + 5, 'a', RT_HTTP_MAX_HEADER_BYTES - 5);
    CHECK_EQ(rt_http_parse_request(&p, s, RT_HTTP_MAX_HEADER_BYTES - 1, &req), RT_AGAIN);
    CHECK_EQ(rt_http_parse_request(&p, s, RT_HTTP_MAX_HEADER_BYTES, &req), RT_E_LIMIT);
    CHECK_EQ(req.status, 431);
    free(s);
}

/* "GET / HTTP/1.1\r\nHost: h\r\n" and n-1 more headers, then the blank line. */
static char *with_headers(size_t n, size_t *len)
{
    char *s = (char *)malloc(32 + 12 * n);
    size_t i, at;
    memcpy(s, "GET / HTTP/1.1\r\nHost: h\r\n", 25);
    at = 25;
    for (i = 1; i < n; i++) {
        memcpy(s + at, "X-H: 0000\r\n", 11);
        at += 11;
    }
    memcpy(s + at, "\r\n", 2);
    *len = at + 2;
    return s;
}

RT_TEST(header_count_limit_is_431)
{
    size_t n;
    char *s = with_headers(RT_HTTP_MAX_HEADERS, &n);
    limits lim = {0, 3, 0};
    expect(s, n, NULL, OK, 0);
    free(s);
    s = with_headers(RT_HTTP_MAX_HEADERS + 1, &n);
    expect(s, n, NULL, RT_E_LIMIT, 431);
    free(s);
    s = with_headers(3, &n);
    expect(s, n, &lim, OK, 0);
    free(s);
    s = with_headers(4, &n);
    expect(s, n, &lim, RT_E_LIMIT, 431);
    free(s);
}

RT_TEST(bad_lines_fail_before_the_head_is_complete)
{
    rt_http_parser p;
    rt_http_request req;
    static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n";
    static const char bad[] = "GET / HTTP/1.1\r\nHost: h\r\nBad Header\r\n";
    static const char many[] = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n";
    rt_http_parser_init(&p);
    CHECK_EQ(rt_http_parse_request(&p, "BREW / HTTP/1.1\r\n", 17, &req), RT_E_PROTO);
    CHECK_EQ(req.status, 405);
    rt_http_parser_init(&p);
    CHECK_EQ(rt_http_parse_request(&p, tls, sizeof tls - 1, &req), RT_E_PROTO);
    CHECK_EQ(req.status, 400);
    rt_http_parser_init(&p);
    CHECK_EQ(rt_http_parse_request(&p, bad, sizeof bad - 1, &req), RT_E_PROTO);
    CHECK_EQ(req.status, 400);
    rt_http_parser_init(&p);
    p.max_headers = 1;
    CHECK_EQ(rt_http_parse_request(&p, many, sizeof many - 1, &req), RT_E_LIMIT);
    CHECK_EQ(req.status, 431);
    /* calling again after an error gives the same answer */
    CHECK_EQ(rt_http_parse_request(&p, many, sizeof many - 1, &req), RT_E_LIMIT);
    CHECK_EQ(req.status, 431);
}

RT_TEST(a_shrinking_buffer_is_a_caller_bug)
{
    rt_http_parser p;
    rt_http_request req;
    static const char s[] = "GET / HTTP/1.1\r\nHo";
    rt_http_parser_init(&p);
    CHECK_EQ(rt_http_parse_request(&p, s, sizeof s - 1, &req), RT_AGAIN);
    CHECK_EQ(rt_http_parse_request(&p, s, 3, &req), RT_E_INVAL);
    CHECK_EQ(req.status, 500);
    rt_http_parser_init(&p);
    CHECK_EQ(rt_http_parse_request(&p, NULL, 0, &req), RT_AGAIN);
}

/* ---- Truncation and over-read ------------------------------------------------- */

static const char *const valid[] = {
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /ws?room=a HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
    "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n",
    "\r\nPOST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n",
    "OPTIONS * HTTP/1.0\r\nX:\r\nY: \t \r\n\r\n",
};

RT_TEST(every_truncation_of_a_valid_request_is_again)
{
    size_t i, k;
    for (i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        size_t n = strlen(valid[i]);
        for (k = 0; k < n; k++) {
            rt_http_parser p;
            rt_http_request req;
            char *b = copy_of(valid[i], k);
            rt_http_parser_init(&p);
            CHECK_EQ(rt_http_parse_request(&p, b, k, &req), RT_AGAIN);
            CHECK_EQ(req.status, 0);
            free(b);
        }
    }
}

/* Two pages from /dev/zero (POSIX, unlike MAP_ANONYMOUS), the second made
 * inaccessible: a read past the end of what we place before it faults. */
static char *guard_page(size_t *page)
{
    long sz = sysconf(_SC_PAGESIZE);
    int fd = open("/dev/zero", O_RDWR);
    void *m;
    if (sz <= 0 || fd < 0)
        return NULL;
    *page = (size_t)sz;
    m = mmap(NULL, 2 * *page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return NULL;
    if (mprotect((char *)m + *page, *page, PROT_NONE) != 0) {
        munmap(m, 2 * *page);
        return NULL;
    }
    return (char *)m;
}

/* Feeds s one byte more each call, each prefix placed to end right at the
 * guard page, and checks the final answer matches the heap-copy run. */
static void guard_run(char *edge, const char *s, size_t n, const limits *lim)
{
    rt_http_parser p;
    rt_http_request req;
    outcome want = feed(s, n, NULL, 0, lim);
    rt_result r = RT_AGAIN;
    size_t k;
    parser_for(&p, lim);
    for (k = 0; k <= n && r == RT_AGAIN; k++) {
        memcpy(edge - k, s, k);
        r = rt_http_parse_request(&p, edge - k, k, &req);
    }
    CHECK_EQ(r, want.r);
    CHECK_EQ(req.status, want.req.status);
    free(want.buf);
}

RT_TEST(no_read_past_len_at_a_guard_page)
{
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\r", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
        "GET /\r\n", "G", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 12345678901234567890",
        "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
        "%", "\r", "\r\n", "\n", "GET / HTTP/1.1\r\nHost: h\r\n\r",
    };
    limits small = {40, 2, 1};
    size_t page = 0, i;
    char *m = guard_page(&page), *edge;
    if (!m) {
        printf("# SKIP guard page: no mmap/mprotect of /dev/zero here\n");
        return;
    }
    edge = m + page;
    for (i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        guard_run(edge, valid[i], strlen(valid[i]), NULL);
        guard_run(edge, valid[i], strlen(valid[i]), &small);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        guard_run(edge, bad[i], strlen(bad[i]), NULL);
        guard_run(edge, bad[i], strlen(bad[i]), &small);
    }
    munmap(m, 2 * page);
}

/* ---- Lookups ------------------------------------------------------------------ */

static const char lookups[] = "GET /q?a=1 HTTP/1.1\r\n"
                              "Host: h\r\n"
                              "Connection: keep-alive, Upgrade\r\n"
                              "X-List: , ,gzip ,\tdeflate\t,\r\n"
                              "Upgrade: websocket\r\n"
                              "X-List: br\r\n"
                              "Cookie: sid=abc123; theme=\"dark mode\"; e=%20; flag; =anon\r\n"
                              "Cookie: second=2\r\n"
                              "X-Dup: one\r\n"
                              "x-dup: two\r\n"
                              "\r\n";

static rt_http_request parsed_lookups(void)
{
    rt_http_parser p;
    rt_http_request req;
    rt_http_parser_init(&p);
    CHECK_EQ(rt_http_parse_request(&p, lookups, sizeof lookups - 1, &req), sizeof lookups - 1);
    return req;
}

RT_TEST(header_get_ignores_case_and_returns_the_first)
{
    rt_http_request req = parsed_lookups();
    const rt_http_header *h = rt_http_header_get(&req, "x-DUP");
    CHECK(h != NULL);
    CHECK(h && rt_str_eq(h->value, rt_str_c("one")));
    h = rt_http_header_get(&req, "upgrade");
    CHECK(h && rt_str_eq(h->value, rt_str_c("websocket")));
    CHECK(rt_http_header_get(&req, "Missing") == NULL);
    CHECK(rt_http_header_get(&req, "X-Du") == NULL);
    CHECK(rt_http_header_get(&req, "") == NULL);
}

RT_TEST(has_token_walks_comma_lists_across_headers)
{
    rt_http_request req = parsed_lookups();
    CHECK_EQ(rt_http_header_has_token(&req, "connection", "upgrade"), 1);
    CHECK_EQ(rt_http_header_has_token(&req, "Connection", "KEEP-ALIVE"), 1);
    CHECK_EQ(rt_http_header_has_token(&req, "connection", "keep"), 0);
    CHECK_EQ(rt_http_header_has_token(&req, "connection", "close"), 0);
    CHECK_EQ(rt_http_header_has_token(&req, "x-list", "gzip"), 1);
    CHECK_EQ(rt_http_header_has_token(&req, "x-list", "deflate"), 1);
    CHECK_EQ(rt_http_header_has_token(&req, "x-list", "br"), 1); /* second X-List */
    CHECK_EQ(rt_http_header_has_token(&req, "x-list", "gzip ,"), 0);
    CHECK_EQ(rt_http_header_has_token(&req, "upgrade", "websocket"), 1);
    CHECK_EQ(rt_http_header_has_token(&req, "upgrade", "web"), 0);
    CHECK_EQ(rt_http_header_has_token(&req, "missing", "x"), 0);
    CHECK_EQ(rt_http_header_has_token(&req, "host", "h"), 1);
}

static void check_query(const char *q, const char *key, rt_result want, const char *value)
{
    char out[32];
    memset(out, 'Z', sizeof out);
    CHECK_EQ(rt_http_query_get(rt_str_c(q), key, out, sizeof out), want);
    CHECK_STR(out, value);
}

RT_TEST(query_values_are_found_and_decoded)
{
    check_query("room=a&x=1", "room", 1, "a");
    check_query("room=a&x=1", "x", 1, "1");
    check_query("name=J%C3%B6rg+Smith", "name", 11, "J\xc3\xb6rg Smith");
    check_query("a=%2b%2B+", "a", 3, "++ ");
    check_query("flag&b=2", "flag", 0, "");
    check_query("flag=&b=2", "flag", 0, "");
    check_query("a=1&a=2", "a", 1, "1");
    check_query("&&a=1&", "a", 1, "1");
    check_query("my%20key=v&my+key=w", "my key", 1, "v");
    check_query("%41=1", "A", 1, "1");
    check_query("a=b=c", "a", 3, "b=c");
    check_query("b=%zz&a=1", "a", 1, "1");   /* a bad escape elsewhere is not ours */
    check_query("%zz=1&a=2", "a", 1, "2");
    check_query("room=a", "roo", RT_E_NOTFOUND, "");
    check_query("room=a", "rooms", RT_E_NOTFOUND, "");
    check_query("Room=a", "room", RT_E_NOTFOUND, "");
    check_query("", "a", RT_E_NOTFOUND, "");
    check_query("a=%zz", "a", RT_E_PROTO, "");
    check_query("a=%4", "a", RT_E_PROTO, "");
    check_query("a=x%", "a", RT_E_PROTO, "");
    check_query("a=%%41", "a", RT_E_PROTO, "");
}

RT_TEST(query_value_with_a_nul_keeps_its_length)
{
    char out[8];
    CHECK_EQ(rt_http_query_get(rt_str_c("a=x%00y"), "a", out, sizeof out), 3);
    CHECK_MEM(out, "x\0y", 4);
}

RT_TEST(query_needs_room_for_the_value_and_its_nul)
{
    char out[8];
    rt_str q = rt_str_c("k=hello&bad=%zz");
    memset(out, 'Z', sizeof out);
    CHECK_EQ(rt_http_query_get(q, "k", out, 5), RT_E_NOSPACE);
    CHECK_EQ(out[0], '\0');
    CHECK_EQ(out[5], 'Z');
    CHECK_EQ(rt_http_query_get(q, "k", out, 6), 5);
    CHECK_STR(out, "hello");
    CHECK_EQ(rt_http_query_get(q, "k", NULL, 0), RT_E_NOSPACE);
    CHECK_EQ(rt_http_query_get(q, "bad", NULL, 0), RT_E_PROTO); /* whatever cap is */
    CHECK_EQ(rt_http_query_get(q, "nope", NULL, 0), RT_E_NOTFOUND);
    CHECK_EQ(rt_http_query_get(rt_str_c("k="), "k", out, 1), 0);
    CHECK_STR(out, "");
}

RT_TEST(query_of_a_parsed_request)
{
    rt_http_request req = parsed_lookups();
    char out[8];
    CHECK_EQ(rt_http_query_get(req.query, "a", out, sizeof out), 1);
    CHECK_STR(out, "1");
}

static void check_cookie(const rt_http_request *req, const char *key, rt_result want,
                         const char *value)
{
    char out[32];
    memset(out, 'Z', sizeof out);
    CHECK_EQ(rt_http_cookie_get(req, key, out, sizeof out), want);
    CHECK_STR(out, value);
}

RT_TEST(cookies_are_found_undecoded)
{
    rt_http_request req = parsed_lookups();
    char out[8];
    check_cookie(&req, "sid", 6, "abc123");
    check_cookie(&req, "theme", 9, "dark mode");
    check_cookie(&req, "e", 3, "%20");
    check_cookie(&req, "flag", 0, "");
    check_cookie(&req, "", 4, "anon");
    check_cookie(&req, "second", 1, "2");
    check_cookie(&req, "SID", RT_E_NOTFOUND, "");
    check_cookie(&req, "si", RT_E_NOTFOUND, "");
    check_cookie(&req, "a", RT_E_NOTFOUND, "");
    memset(out, 'Z', sizeof out);
    CHECK_EQ(rt_http_cookie_get(&req, "sid", out, 6), RT_E_NOSPACE);
    CHECK_EQ(out[0], '\0');
    CHECK_EQ(out[1], 'Z');
    CHECK_EQ(rt_http_cookie_get(&req, "sid", out, 7), 6);
    CHECK_STR(out, "abc123");
    CHECK_EQ(rt_http_cookie_get(&req, "sid", NULL, 0), RT_E_NOSPACE);
}

/* ---- Response writers --------------------------------------------------------- */

RT_TEST(reason_phrases)
{
    static const struct { int code; const char *text; } r[] = {
        {101, "Switching Protocols"}, {200, "OK"}, {204, "No Content"},
        {301, "Moved Permanently"}, {302, "Found"}, {304, "Not Modified"},
        {400, "Bad Request"}, {401, "Unauthorized"}, {403, "Forbidden"},
        {404, "Not Found"}, {405, "Method Not Allowed"}, {408, "Request Timeout"},
        {409, "Conflict"}, {413, "Content Too Large"}, {414, "URI Too Long"},
        {426, "Upgrade Required"}, {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"}, {500, "Internal Server Error"},
        {501, "Not Implemented"}, {503, "Service Unavailable"},
        {505, "HTTP Version Not Supported"}, {999, "Unknown"}, {0, "Unknown"},
    };
    size_t i;
    for (i = 0; i < sizeof r / sizeof r[0]; i++)
        CHECK_STR(rt_http_reason(r[i].code), r[i].text);
}

static void check_head(int status, const char *extra, const char *ctype, size_t body,
                       const char *want)
{
    char out[256];
    CHECK_EQ(rt_http_format_head(out, sizeof out, status, extra, ctype, body), strlen(want));
    CHECK_STR(out, want);
    CHECK_EQ(rt_http_format_head(NULL, 0, status, extra, ctype, body), strlen(want));
}

RT_TEST(format_head_exact_bytes)
{
    check_head(200, NULL, "text/plain", 5,
               "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n");
    check_head(404, "X-A: 1\r\nX-B: 2\r\n", NULL, 0,
               "HTTP/1.1 404 Not Found\r\nX-A: 1\r\nX-B: 2\r\nContent-Length: 0\r\n\r\n");
    check_head(101, "Upgrade: websocket\r\nConnection: Upgrade\r\n", NULL, 0,
               "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\n\r\n");
    check_head(204, NULL, NULL, 7, "HTTP/1.1 204 No Content\r\n\r\n");
    check_head(304, "ETag: \"x\"\r\n", NULL, 7,
               "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n");
    check_head(100, NULL, NULL, 0, "HTTP/1.1 100 Continue\r\n\r\n");
    check_head(299, NULL, NULL, 1234567890,
               "HTTP/1.1 299 Unknown\r\nContent-Length: 1234567890\r\n\r\n");
    check_head(42, NULL, NULL, 0,
               "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
    check_head(600, NULL, NULL, 0,
               "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
}

RT_TEST(format_head_never_writes_past_cap)
{
    static const char want[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    size_t n = sizeof want - 1, cap;
    char out[64];
    for (cap = 0; cap <= n + 1; cap++) {
        memset(out, 'Z', sizeof out);
        CHECK_EQ(rt_http_format_head(out, cap, 200, NULL, NULL, 0), n);
        CHECK_MEM(out, want, cap < n ? cap : n);
        if (cap <= n)
            CHECK_EQ(out[cap], 'Z'); /* no NUL unless there is room after the bytes */
        else
            CHECK_EQ(out[n], '\0');
        CHECK_EQ(out[n + 1], 'Z');
    }
}

RT_TEST(format_error_exact_bytes)
{
    static const char want404[] = "HTTP/1.1 404 Not Found\r\nConnection: close\r\n"
                                  "Content-Type: text/plain; charset=utf-8\r\n"
                                  "Content-Length: 14\r\n\r\n404 Not Found\n";
    static const char want405[] = "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n"
                                  "Connection: close\r\n"
                                  "Content-Type: text/plain; charset=utf-8\r\n"
                                  "Content-Length: 23\r\n\r\n405 Method Not Allowed\n";
    static const char want500[] = "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n"
                                  "Content-Type: text/plain; charset=utf-8\r\n"
                                  "Content-Length: 26\r\n\r\n500 Internal Server Error\n";
    char out[256], small[10];
    CHECK_EQ(rt_http_format_error(out, sizeof out, 404, NULL), sizeof want404 - 1);
    CHECK_STR(out, want404);
    CHECK_EQ(rt_http_format_error(out, sizeof out, 405, "Allow: GET, HEAD\r\n"),
             sizeof want405 - 1);
    CHECK_STR(out, want405);
    CHECK_EQ(rt_http_format_error(out, sizeof out, 200, NULL), sizeof want500 - 1);
    CHECK_STR(out, want500);
    CHECK_EQ(rt_http_format_error(out, sizeof out, 1000, NULL), sizeof want500 - 1);
    memset(small, 'Z', sizeof small);
    CHECK_EQ(rt_http_format_error(small, 4, 404, NULL), sizeof want404 - 1);
    CHECK_MEM(small, "HTTP", 4);
    CHECK_EQ(small[4], 'Z');
}

RT_TEST(format_error_answers_every_parser_status)
{
    static const int codes[] = {400, 405, 413, 431, 500, 501, 505};
    char out[256];
    size_t i;
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        size_t n = rt_http_format_error(out, sizeof out, codes[i], NULL);
        char line[64];
        CHECK(n < sizeof out);
        snprintf(line, sizeof line, "%d %s\n", codes[i], rt_http_reason(codes[i]));
        CHECK(n > strlen(line) && strcmp(out + n - strlen(line), line) == 0);
    }
}

int main(void) { return rt_test_main(); }
