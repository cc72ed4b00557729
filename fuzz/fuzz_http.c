/* fuzz_http.c - libFuzzer target for the HTTP request parser.
 *
 * Parses the input whole, then again in pieces whose sizes come from a
 * generator seeded by the input (each piece in a fresh, exactly sized copy,
 * so the buffer moves and ASan sees any read past len), and traps unless
 * both give the same answer. The limits are also picked from the seed.
 * After a success it checks the views and runs the lookup helpers; after an
 * error it formats the answer.
 *
 *     make build/fuzz/fuzz_http && mkdir -p build/corpus/fuzz_http &&
 *     ./build/fuzz/fuzz_http -max_total_time=60 build/corpus/fuzz_http fuzz/corpus/fuzz_http
 */
#define RT_IMPLEMENTATION
#include "../rt.h"
#include "fuzz.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef struct outcome {
    rt_result r;
    rt_http_request req;
    char *buf;
} outcome;

static void set_limits(rt_http_parser *p, uint32_t seed)
{
    static const size_t lim[4][3] = {{0, 0, 0}, {64, 4, 10}, {300, 8, 1000}, {0, 2, 1}};
    rt_http_parser_init(p);
    p->max_header_bytes = lim[seed % 4][0];
    p->max_headers = lim[seed % 4][1];
    p->max_body = lim[seed % 4][2];
}

static char *copy_of(const uint8_t *d, size_t n)
{
    char *p = (char *)malloc(n ? n : 1);
    MUST(p != NULL);
    if (n)
        memcpy(p, d, n);
    return p;
}

static outcome parse_whole(const uint8_t *d, size_t n, uint32_t seed)
{
    rt_http_parser p;
    outcome o;
    set_limits(&p, seed);
    o.buf = copy_of(d, n);
    o.r = rt_http_parse_request(&p, o.buf, n, &o.req);
    return o;
}

/* Grows the prefix by 1..16 bytes a step (often exactly 1). */
static outcome parse_pieces(const uint8_t *d, size_t n, uint32_t seed)
{
    rt_http_parser p;
    outcome o;
    uint32_t rng = seed;
    size_t len = 0;
    set_limits(&p, seed);
    o.buf = NULL;
    o.r = RT_AGAIN;
    while (o.r == RT_AGAIN) {
        uint32_t x = next_rand(&rng);
        free(o.buf);
        o.buf = copy_of(d, len);
        o.r = rt_http_parse_request(&p, o.buf, len, &o.req);
        if (len == n)
            break;
        len += (x & 16) ? 1 : 1 + (x % 16);
        if (len > n)
            len = n;
    }
    return o;
}

static void same_view(rt_str a, const char *abase, rt_str b, const char *bbase, size_t head)
{
    MUST(a.n == b.n && a.p - abase == b.p - bbase);
    MUST(a.p >= abase && (size_t)(a.p - abase) + a.n <= head);
    MUST(a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static void same(const outcome *a, const outcome *b)
{
    const rt_http_request *x = &a->req, *y = &b->req;
    size_t i, head = (size_t)a->r;
    MUST(a->r == b->r && x->status == y->status);
    if (a->r <= 0)
        return;
    MUST(x->head_len == head && head >= 4 && memcmp(a->buf + head - 4, "\r\n\r\n", 4) == 0);
    same_view(x->method, a->buf, y->method, b->buf, head);
    same_view(x->target, a->buf, y->target, b->buf, head);
    same_view(x->path, a->buf, y->path, b->buf, head);
    same_view(x->query, a->buf, y->query, b->buf, head);
    MUST(x->version_minor == y->version_minor && x->keep_alive == y->keep_alive);
    MUST(x->content_length == y->content_length && x->num_headers == y->num_headers);
    for (i = 0; i < x->num_headers; i++) {
        same_view(x->headers[i].name, a->buf, y->headers[i].name, b->buf, head);
        same_view(x->headers[i].value, a->buf, y->headers[i].value, b->buf, head);
    }
}

/* A lookup result must be a NUL-terminated value shorter than cap, or an
 * error with "" in out. */
static void check_value(rt_result r, const char *out, size_t cap)
{
    if (r >= 0)
        MUST((size_t)r < cap && out[r] == '\0');
    else
        MUST(r == RT_E_NOTFOUND || r == RT_E_NOSPACE || r == RT_E_PROTO);
    if (r < 0 && cap > 0)
        MUST(out[0] == '\0');
}

static void lookups(const rt_http_request *req)
{
    static const char *const keys[] = {"a", "room", "sid", "", "x y"};
    char name[64], out[16];
    size_t i;
    for (i = 0; i < req->num_headers; i++) {
        const rt_http_header *h;
        rt_str nm = req->headers[i].name;
        if (nm.n >= sizeof name)
            continue;
        memcpy(name, nm.p, nm.n);
        name[nm.n] = '\0';
        h = rt_http_header_get(req, name);
        MUST(h != NULL && h <= &req->headers[i] && rt_str_ieq(h->name, nm));
        (void)rt_http_header_has_token(req, name, "upgrade");
    }
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        size_t cap = i * 3;
        check_value(rt_http_query_get(req->query, keys[i], out, cap), out, cap);
        check_value(rt_http_query_get(req->query, keys[i], out, sizeof out), out, sizeof out);
        check_value(rt_http_cookie_get(req, keys[i], out, cap), out, cap);
        check_value(rt_http_cookie_get(req, keys[i], out, sizeof out), out, sizeof out);
    }
}

static void answer(int status)
{
    char out[256];
    size_t need = rt_http_format_error(NULL, 0, status, NULL);
    MUST(need < sizeof out);
    MUST(rt_http_format_error(out, sizeof out, status, "X: y\r\n") == need + 6);
    MUST(out[need + 6] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t seed = seed_of(data, size);
    outcome whole = parse_whole(data, size, seed);
    outcome pieces = parse_pieces(data, size, seed);
    same(&whole, &pieces);
    if (whole.r > 0)
        lookups(&whole.req);
    else if (whole.r != RT_AGAIN)
        answer(whole.req.status);
    else
        MUST(whole.req.status == 0);
    free(whole.buf);
    free(pieces.buf);
    return 0;
}
