/* Unit tests for sse: exact bytes of the event-stream format, and a round
 * trip through a small parser written from the WHATWG HTML "Parsing an
 * event stream" / "Interpreting an event stream" algorithm. */
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../rt_test.h"

static rt_str S(const char *s)
{
    return rt_str_c(s);
}

static rt_str SN(const char *s, size_t n)
{
    rt_str v;
    v.p = s;
    v.n = n;
    return v;
}

static rt_sse_event data_event(rt_str data)
{
    rt_sse_event ev;
    memset(&ev, 0, sizeof ev);
    ev.data = data;
    return ev;
}

/* Formats ev and checks the exact bytes and the returned length. */
static void check_bytes(const rt_sse_event *ev, const char *want, int line)
{
    char buf[512];
    rt_result n = rt_sse_format(buf, sizeof buf, ev);
    if (n != (rt_result)strlen(want) || memcmp(buf, want, strlen(want)) != 0) {
        char d[200];
        snprintf(d, sizeof d, "line %d: got %d bytes \"%.*s\"", line, n,
                 n > 0 && n < 120 ? n : 0, buf);
        rt_test_fail(__FILE__, line, "exact SSE bytes", d);
    }
}

#define CHECK_DATA(data, n, want)                                      \
    do {                                                               \
        rt_sse_event ev_ = data_event(SN(data, n));                    \
        check_bytes(&ev_, want, __LINE__);                             \
    } while (0)

RT_TEST(data_lines_exact_bytes)
{
    CHECK_DATA("hello", 5, "data: hello\n\n");
    CHECK_DATA("", 0, "data:\n\n");
    CHECK_DATA("a\nb", 3, "data: a\ndata: b\n\n");
    CHECK_DATA("a\r\nb", 4, "data: a\ndata: b\n\n");
    CHECK_DATA("a\rb", 3, "data: a\ndata: b\n\n");
    CHECK_DATA("a\r\n\rb\n", 6, "data: a\ndata:\ndata: b\ndata:\n\n");
    CHECK_DATA("\n", 1, "data:\ndata:\n\n");
    CHECK_DATA("\r", 1, "data:\ndata:\n\n");
    CHECK_DATA("\r\n", 2, "data:\ndata:\n\n");
    CHECK_DATA("\n\r", 2, "data:\ndata:\ndata:\n\n");
    CHECK_DATA("\r\r\n", 3, "data:\ndata:\ndata:\n\n");
    CHECK_DATA("\nlead", 5, "data:\ndata: lead\n\n");
    CHECK_DATA("trail\n", 6, "data: trail\ndata:\n\n");
    CHECK_DATA(" x", 2, "data:  x\n\n");
    CHECK_DATA("  ", 2, "data:   \n\n");
    CHECK_DATA("a\n b", 4, "data: a\ndata:  b\n\n");
    CHECK_DATA("k: v", 4, "data: k: v\n\n");
    CHECK_DATA(":x", 2, "data: :x\n\n");
}

RT_TEST(nul_passes_in_data)
{
    char buf[32];
    rt_sse_event ev = data_event(SN("a\0b", 3));
    CHECK_EQ(rt_sse_format(buf, sizeof buf, &ev), 11); /* only ids may not hold NUL */
    CHECK_MEM(buf, "data: a\0b\n\n", 11);
}

RT_TEST(all_fields_exact_bytes)
{
    rt_sse_event ev = data_event(S("x"));
    ev.event = S("update");
    ev.id = S("9f3a-42");
    ev.retry_ms = 2500;
    check_bytes(&ev, "event: update\nid: 9f3a-42\nretry: 2500\ndata: x\n\n", __LINE__);
    ev.event = S(" spaced");
    ev.id = S(" 7");
    ev.retry_ms = 0;
    check_bytes(&ev, "event:  spaced\nid:  7\ndata: x\n\n", __LINE__);
    ev.event = S("");
    ev.id = S("");
    ev.retry_ms = 4294967295u;
    check_bytes(&ev, "retry: 4294967295\ndata: x\n\n", __LINE__);
}

RT_TEST(bad_event_type_or_id_is_rejected_and_nothing_written)
{
    const char *bad[] = {"a\nb", "a\rb", "\n", "ab\r"};
    char buf[64];
    size_t i;
    rt_sse_event ev = data_event(S("x"));
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(buf, '#', sizeof buf);
        ev.event = S(bad[i]);
        ev.id = S("");
        CHECK_EQ(rt_sse_format(buf, sizeof buf, &ev), RT_E_INVAL);
        ev.event = S("");
        ev.id = S(bad[i]);
        CHECK_EQ(rt_sse_format(buf, sizeof buf, &ev), RT_E_INVAL);
        CHECK_EQ(buf[0], '#');
    }
    ev.id = SN("a\0b", 3);
    CHECK_EQ(rt_sse_format(buf, sizeof buf, &ev), RT_E_INVAL);
    ev.id = S("");
    ev.event = SN("\0", 1);
    CHECK_EQ(rt_sse_format(buf, sizeof buf, &ev), RT_E_INVAL);
    /* CR or LF is fine in the data: it only makes more lines */
    ev.event = S("");
    ev.data = S("\r\n\r");
    CHECK(rt_sse_format(buf, sizeof buf, &ev) > 0);
}

RT_TEST(short_buffer_is_like_snprintf)
{
    const char *full = "event: e\nid: 1\ndata: a\ndata: b\n\n";
    size_t len = strlen(full), cap;
    char buf[64];
    rt_sse_event ev = data_event(S("a\nb"));
    ev.event = S("e");
    ev.id = S("1");
    CHECK_EQ(rt_sse_format(NULL, 0, &ev), (rt_result)len);
    for (cap = 0; cap <= len; cap++) {
        memset(buf, '#', sizeof buf);
        CHECK_EQ(rt_sse_format(buf, cap, &ev), (rt_result)len);
        CHECK_MEM(buf, full, cap);
        CHECK_EQ(buf[cap], '#'); /* nothing beyond cap, no NUL */
    }
}

RT_TEST(comment_and_retry_helpers)
{
    char buf[64];
    CHECK_EQ(rt_sse_format_comment(buf, sizeof buf, S("keep-alive")), 14);
    CHECK_MEM(buf, ": keep-alive\n\n", 14);
    CHECK_EQ(rt_sse_format_comment(buf, sizeof buf, S("")), 3);
    CHECK_MEM(buf, ":\n\n", 3);
    CHECK_EQ(rt_sse_format_comment(buf, sizeof buf, S("a\r\nb")), 9);
    CHECK_MEM(buf, ": a\n: b\n\n", 9);
    CHECK_EQ(rt_sse_format_retry(buf, sizeof buf, 3000), 13);
    CHECK_MEM(buf, "retry: 3000\n\n", 13);
    CHECK_EQ(rt_sse_format_retry(buf, sizeof buf, 0), 10);
    CHECK_MEM(buf, "retry: 0\n\n", 10);
    CHECK_EQ(rt_sse_format_retry(buf, sizeof buf, 4294967295u), 19);
    CHECK_EQ(rt_sse_format_retry(NULL, 0, 7), 10);
}

RT_TEST(worst_case_size_macros_are_tight_and_safe)
{
    char data[100], buf[RT_SSE_MAX_SIZE(100, 8, 8)];
    rt_sse_event ev;
    size_t n;
    memset(data, '\n', sizeof data);
    for (n = 0; n <= sizeof data; n++) {
        ev = data_event(SN(data, n));
        CHECK_EQ(rt_sse_format(NULL, 0, &ev), RT_SSE_DATA_MAX(n)); /* reached exactly */
    }
    ev = data_event(SN(data, sizeof data));
    ev.event = S("12345678");
    ev.id = S("12345678");
    ev.retry_ms = 4294967295u;
    CHECK_EQ(rt_sse_format(buf, sizeof buf, &ev), sizeof buf); /* reached exactly */
}

/* ---- A reference parser, straight from the WHATWG algorithm ---------------- */

#define REF_MAX 4096
#define REF_EVENTS 16

typedef struct ref_event {
    char type[64], data[REF_MAX], id[64];
    size_t type_n, data_n, id_n;
} ref_event;

typedef struct ref_parser {
    char data[REF_MAX], type[64], id[64]; /* data, event type and last event ID buffers */
    size_t data_n, type_n, id_n;
    long retry;
    ref_event ev[REF_EVENTS];
    int n_ev;
} ref_parser;

static void ref_set(char *dst, size_t *dn, const char *v, size_t n, size_t cap)
{
    *dn = n < cap ? n : cap;
    memcpy(dst, v, *dn);
}

static int ref_is(const char *name, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(name, want, n) == 0;
}

static void ref_field(ref_parser *p, const char *name, size_t nn, const char *v, size_t vn)
{
    size_t i;
    if (ref_is(name, nn, "event")) {
        ref_set(p->type, &p->type_n, v, vn, sizeof p->type);
    } else if (ref_is(name, nn, "data")) {
        if (p->data_n + vn + 1 <= REF_MAX) {
            memcpy(p->data + p->data_n, v, vn);
            p->data_n += vn;
            p->data[p->data_n++] = '\n';
        }
    } else if (ref_is(name, nn, "id")) {
        if (!memchr(v, '\0', vn))
            ref_set(p->id, &p->id_n, v, vn, sizeof p->id);
    } else if (ref_is(name, nn, "retry")) {
        for (i = 0; i < vn && v[i] >= '0' && v[i] <= '9'; i++)
            ;
        if (vn > 0 && i == vn)
            p->retry = strtol(v, NULL, 10);
    }
}

static void ref_dispatch(ref_parser *p)
{
    ref_event *e;
    if (p->data_n == 0) {
        p->type_n = 0;
        return;
    }
    if (p->data[p->data_n - 1] == '\n')
        p->data_n--;
    if (p->n_ev < REF_EVENTS) {
        e = &p->ev[p->n_ev++];
        if (p->type_n)
            ref_set(e->type, &e->type_n, p->type, p->type_n, sizeof e->type);
        else
            ref_set(e->type, &e->type_n, "message", 7, sizeof e->type);
        ref_set(e->data, &e->data_n, p->data, p->data_n, sizeof e->data);
        ref_set(e->id, &e->id_n, p->id, p->id_n, sizeof e->id);
    }
    p->data_n = 0;
    p->type_n = 0;
}

static void ref_line(ref_parser *p, const char *l, size_t n)
{
    const char *colon;
    const char *v;
    size_t vn;
    if (n == 0) {
        ref_dispatch(p);
        return;
    }
    if (l[0] == ':')
        return;
    colon = (const char *)memchr(l, ':', n);
    if (!colon) {
        ref_field(p, l, n, "", 0);
        return;
    }
    v = colon + 1;
    vn = n - (size_t)(v - l);
    if (vn > 0 && v[0] == ' ') {
        v++;
        vn--;
    }
    ref_field(p, l, (size_t)(colon - l), v, vn);
}

/* Parses a whole stream; an unterminated last line is discarded. */
static void ref_parse(ref_parser *p, const char *s, size_t n)
{
    size_t i = 0, start;
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < n) {
        start = i;
        while (i < n && s[i] != '\r' && s[i] != '\n')
            i++;
        if (i == n)
            return;
        ref_line(p, s + start, i - start);
        if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
            i++;
        i++;
    }
}

/* CRLF and lone CR become LF: what any SSE parser hands the page. */
static size_t normalise(const char *s, size_t n, char *out)
{
    size_t i, k = 0;
    for (i = 0; i < n; i++) {
        if (s[i] == '\r') {
            out[k++] = '\n';
            if (i + 1 < n && s[i + 1] == '\n')
                i++;
        } else {
            out[k++] = s[i];
        }
    }
    return k;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t random_text(uint64_t *seed, char *out, size_t max, int allow_breaks)
{
    static const char alpha[] = "a :\r\n\0\xC3\xA9x";
    size_t n = (size_t)(rnd(seed) % (max + 1)), i;
    for (i = 0; i < n; i++) {
        out[i] = alpha[rnd(seed) % (sizeof alpha - 1)];
        if (!allow_breaks && (out[i] == '\r' || out[i] == '\n' || out[i] == '\0'))
            out[i] = 'b';
    }
    return n;
}

static char stream[1 << 16];
static ref_parser parser;

RT_TEST(round_trip_through_reference_parser)
{
    const char *fixed[] = {"", "x", "\n", "\r", "\r\n", "\n\n", "\r\r", " lead", "trail ",
                           "a\r\nb\rc\nd", "\n\r\n\r", " \n \r\n ", ": not a comment",
                           "data: nested", "\r\n\r\n"};
    char payload[64], want[64], type[16], id[16];
    size_t nf = sizeof fixed / sizeof fixed[0], i;
    uint64_t seed = 0x2545F4914F6CDD1Dull;
    for (i = 0; i < nf + 5000; i++) {
        rt_sse_event ev;
        size_t n, wn;
        rt_result len;
        if (i < nf) {
            n = strlen(fixed[i]);
            memcpy(payload, fixed[i], n);
        } else {
            n = random_text(&seed, payload, 40, 1);
        }
        ev = data_event(SN(payload, n));
        ev.event = SN(type, random_text(&seed, type, sizeof type, 0));
        ev.id = SN(id, random_text(&seed, id, sizeof id, 0));
        len = rt_sse_format(stream, sizeof stream, &ev);
        CHECK(len > 0 && (size_t)len <= RT_SSE_MAX_SIZE(n, ev.event.n, ev.id.n));
        memset(&parser, 0, sizeof parser);
        ref_parse(&parser, stream, (size_t)len);
        CHECK_EQ(parser.n_ev, 1);
        wn = normalise(payload, n, want);
        CHECK_EQ(parser.ev[0].data_n, wn);
        CHECK_MEM(parser.ev[0].data, want, wn);
        if (ev.event.n > 0) {
            CHECK_EQ(parser.ev[0].type_n, ev.event.n);
            CHECK_MEM(parser.ev[0].type, ev.event.p, ev.event.n);
        } else {
            CHECK_EQ(parser.ev[0].type_n, 7); /* "message" */
        }
        CHECK_EQ(parser.ev[0].id_n, ev.id.n);
        CHECK_MEM(parser.ev[0].id, ev.id.p, ev.id.n);
    }
}

RT_TEST(a_stream_of_events_comments_and_retry_parses_in_order)
{
    size_t n = 0;
    rt_sse_event ev = data_event(S("one\r\ntwo"));
    ev.id = S("1-1");
    n += (size_t)rt_sse_format(stream + n, sizeof stream - n, &ev);
    n += (size_t)rt_sse_format_comment(stream + n, sizeof stream - n, S("keep\nalive"));
    n += (size_t)rt_sse_format_retry(stream + n, sizeof stream - n, 1500);
    ev = data_event(S(""));
    ev.event = S("ping");
    n += (size_t)rt_sse_format(stream + n, sizeof stream - n, &ev);
    ev = data_event(S("\n"));
    n += (size_t)rt_sse_format(stream + n, sizeof stream - n, &ev);
    memset(&parser, 0, sizeof parser);
    ref_parse(&parser, stream, n);
    CHECK_EQ(parser.n_ev, 3);
    CHECK_EQ(parser.retry, 1500);
    CHECK_EQ(parser.ev[0].data_n, 7);
    CHECK_MEM(parser.ev[0].data, "one\ntwo", 7);
    CHECK_EQ(parser.ev[1].data_n, 0); /* an empty payload still dispatches */
    CHECK_MEM(parser.ev[1].type, "ping", 4);
    CHECK_MEM(parser.ev[1].id, "1-1", 3); /* the last event ID carries over */
    CHECK_EQ(parser.ev[2].data_n, 1);
    CHECK_EQ(parser.ev[2].data[0], '\n');
}

int main(void)
{
    return rt_test_main();
}
