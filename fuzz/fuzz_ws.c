/* fuzz_ws.c - libFuzzer target for the WebSocket frame parser and writer.
 *
 *   make build/fuzz/fuzz_ws
 *   mkdir -p build/corpus/fuzz_ws
 *   ./build/fuzz/fuzz_ws -max_total_time=300 build/corpus/fuzz_ws fuzz/corpus/fuzz_ws
 *
 * Input: byte 0 picks the message limit, byte 1 seeds the split pattern,
 * the rest is the byte stream. For both roles the stream is parsed whole,
 * one byte at a time and in random pieces, each run by a caller that keeps
 * unconsumed bytes on RT_AGAIN; all runs must agree on every message,
 * control frame and the outcome. The receive buffer is an exact-size heap
 * block with the bytes at its end, so ASan sees any read past them. Then
 * the stream is used as a payload: written as a frame (both roles), as a
 * close frame, and masked, and read back; and, parsed as an HTTP request,
 * it goes through the handshake check and the 101 writer.
 */
#define RT_IMPLEMENTATION
#include "../rt.h"
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(c) ((c) ? (void)0 : abort())

/* ---- A growable log ---------------------------------------------------------- */

typedef struct flog {
    unsigned char *b;
    size_t n, cap;
} flog;

static void flog_put(flog *t, const void *p, size_t n)
{
    if (t->n + n > t->cap) {
        t->cap = (t->n + n) * 2 + 64;
        t->b = (unsigned char *)realloc(t->b, t->cap);
        FUZZ_ASSERT(t->b != NULL);
    }
    if (n > 0)
        memcpy(t->b + t->n, p, n);
    t->n += n;
}

static void flog_num(flog *t, long long v)
{
    flog_put(t, &v, sizeof v);
}

/* ---- One run: a caller feeding the parser in given pieces ------------------- */

typedef struct frun {
    rt_ws_parser p;
    flog log;     /* messages, control frames, outcome */
    flog partial; /* data of the message in progress */
    int msg_op;
} frun;

static void frun_event(frun *f, const rt_ws_event *ev, const unsigned char *base, rt_result used)
{
    const unsigned char *d = (const unsigned char *)ev->data.p;
    FUZZ_ASSERT(ev->data.n <= (size_t)used);
    FUZZ_ASSERT(ev->data.n == 0 || (d >= base && d + ev->data.n <= base + used));
    if (ev->type == RT_WS_EV_DATA) {
        FUZZ_ASSERT(ev->opcode == RT_WS_TEXT || ev->opcode == RT_WS_BINARY);
        FUZZ_ASSERT(f->msg_op == 0 || f->msg_op == ev->opcode);
        f->msg_op = ev->opcode;
        flog_put(&f->partial, d, ev->data.n);
        if (!ev->fin)
            return;
        /* a finished text message is valid UTF-8 */
        FUZZ_ASSERT(ev->opcode != RT_WS_TEXT || rt_utf8_valid(f->partial.b, f->partial.n));
        flog_put(&f->log, "M", 1);
        flog_num(&f->log, ev->opcode);
        flog_num(&f->log, (long long)f->partial.n);
        flog_put(&f->log, f->partial.b, f->partial.n);
        f->partial.n = 0;
        f->msg_op = 0;
    } else if (ev->type == RT_WS_EV_CONTROL) {
        FUZZ_ASSERT(ev->data.n <= RT_WS_MAX_CONTROL);
        FUZZ_ASSERT(ev->opcode != RT_WS_CLOSE || ev->close_code == RT_WS_CLOSE_NO_STATUS
                    || rt_ws_close_code_valid(ev->close_code));
        flog_put(&f->log, "C", 1);
        flog_num(&f->log, ev->opcode);
        flog_num(&f->log, ev->close_code);
        flog_num(&f->log, (long long)ev->data.n);
        flog_put(&f->log, d, ev->data.n);
    } else {
        FUZZ_ASSERT(ev->type == RT_WS_EV_NONE && ev->data.n == 0);
    }
}

/* Feeds in[0..n) in pieces: chunk(i) gives the size of piece i. */
static void frun_feed(frun *f, int role, size_t max, const unsigned char *in, size_t n,
                      uint32_t seed)
{
    unsigned char *mem = (unsigned char *)malloc(n > 0 ? n : 1);
    size_t fed = 0, have = 0, k;
    rt_result r = RT_OK;
    rt_ws_event ev;
    memset(f, 0, sizeof *f);
    rt_ws_parser_init(&f->p, role, max);
    while (fed < n && r >= 0) {
        /* seed 0: whole; 1: byte at a time; else random pieces of 1..64 */
        if (seed == 0)
            k = n;
        else if (seed == 1)
            k = 1;
        else
            k = 1 + ((seed = seed * 1103515245u + 12345u) >> 16) % 64;
        k = k < n - fed ? k : n - fed;
        memmove(mem + n - have - k, mem + n - have, have);
        memcpy(mem + n - k, in + fed, k);
        have += k;
        fed += k;
        for (r = RT_OK; have > 0;) {
            unsigned char *base = mem + n - have;
            r = rt_ws_parse(&f->p, base, have, &ev);
            if (r < 0)
                break;
            FUZZ_ASSERT(r > 0 && (size_t)r <= have);
            frun_event(f, &ev, base, r);
            have -= (size_t)r;
        }
        if (r == RT_AGAIN || r > 0)
            r = RT_OK;
    }
    flog_put(&f->log, "E", 1);
    flog_num(&f->log, r);
    flog_num(&f->log, r < 0 ? (long long)f->p.close_code : 0);
    flog_num(&f->log, r < 0 ? 0 : (long long)have);
    if (r < 0)
        FUZZ_ASSERT(f->p.close_code == (r == RT_E_PROTO ? 1002u : r == RT_E_UTF8 ? 1007u : 1009u));
    free(mem);
}

static void frun_free(frun *f)
{
    free(f->log.b);
    free(f->partial.b);
}

/* Every split gives the whole run's log; what the whole run delivered of
 * a message an error cut short is a prefix of what a split run did. */
static void check_splits(int role, size_t max, const unsigned char *in, size_t n, uint32_t seed)
{
    frun whole, other;
    int i;
    frun_feed(&whole, role, max, in, n, 0);
    for (i = 0; i < 3; i++) {
        frun_feed(&other, role, max, in, n, i == 0 ? 1u : seed * 2654435761u + (uint32_t)i + 2);
        FUZZ_ASSERT(other.log.n == whole.log.n);
        FUZZ_ASSERT(memcmp(other.log.b, whole.log.b, whole.log.n) == 0);
        FUZZ_ASSERT(whole.partial.n <= other.partial.n);
        FUZZ_ASSERT(whole.partial.n == 0
                    || memcmp(whole.partial.b, other.partial.b, whole.partial.n) == 0);
        frun_free(&other);
    }
    frun_free(&whole);
}

/* ---- The writer, read back -------------------------------------------------- */

/* Frames data as one message (masked with key, or not), parses it in the
 * matching role, and expects it back or, for bad text, 1007. */
static void check_frame_round_trip(int opcode, const unsigned char *data, size_t n,
                                   const unsigned char *key)
{
    size_t cap = n + RT_WS_MAX_HEADER, len, got = 0;
    unsigned char *frame = (unsigned char *)malloc(cap);
    rt_ws_parser p;
    rt_ws_event ev;
    rt_result r = 0;
    len = rt_ws_format_frame(frame, cap, opcode, data, n, key);
    FUZZ_ASSERT(len <= cap && len >= n + 2);
    rt_ws_parser_init(&p, key ? RT_WS_SERVER : RT_WS_CLIENT, 0);
    while (got < len && (r = rt_ws_parse(&p, frame + got, len - got, &ev)) >= 0) {
        got += (size_t)r;
        if (ev.type != RT_WS_EV_NONE) {
            FUZZ_ASSERT(ev.opcode == opcode && ev.fin && ev.data.n == n && got == len);
            FUZZ_ASSERT(n == 0 || memcmp(ev.data.p, data, n) == 0);
        }
    }
    if (opcode == RT_WS_TEXT && !rt_utf8_valid(data, n))
        FUZZ_ASSERT(r == RT_E_UTF8 && p.close_code == 1007);
    else
        FUZZ_ASSERT(r >= 0 && got == len);
    free(frame);
}

/* A close payload from a code and a reason, framed and parsed back. */
static void check_close_round_trip(const unsigned char *data, size_t n)
{
    unsigned char payload[RT_WS_MAX_CONTROL], frame[RT_WS_MAX_HEADER + RT_WS_MAX_CONTROL];
    unsigned code = n >= 2 ? (unsigned)data[0] << 8 | data[1] : 1000;
    const char *reason = n >= 2 ? (const char *)data + 2 : NULL;
    size_t rn = n >= 2 ? n - 2 : 0, pn, fn;
    rt_ws_parser p;
    rt_ws_event ev;
    pn = rt_ws_close_payload(payload, code, reason, rn);
    FUZZ_ASSERT(pn <= RT_WS_MAX_CONTROL && pn != 1);
    FUZZ_ASSERT(pn == 0 || (rt_ws_close_code_valid(code) && rt_utf8_valid(payload + 2, pn - 2)));
    fn = rt_ws_format_frame(frame, sizeof frame, RT_WS_CLOSE, payload, pn, NULL);
    rt_ws_parser_init(&p, RT_WS_CLIENT, 0);
    FUZZ_ASSERT(rt_ws_parse(&p, frame, fn, &ev) == (rt_result)fn);
    FUZZ_ASSERT(ev.type == RT_WS_EV_CONTROL && ev.opcode == RT_WS_CLOSE);
    FUZZ_ASSERT(ev.close_code == (pn == 0 ? 1005u : code));
    FUZZ_ASSERT(ev.close_reason.n == (pn == 0 ? 0 : pn - 2));
    FUZZ_ASSERT(ev.close_reason.n == 0
                || memcmp(ev.close_reason.p, reason, ev.close_reason.n) == 0);
}

/* rt_ws_mask against the definition, from an offset the input picks. */
static void check_mask(const unsigned char *data, size_t n, const unsigned char key[4])
{
    unsigned char *a = (unsigned char *)malloc(n + 1), *b = (unsigned char *)malloc(n + 1);
    size_t skip = n > 0 ? data[0] % 8 % (n + 1) : 0, off = n > 1 ? data[1] : 0, i;
    memcpy(a, data, n);
    memcpy(b, data, n);
    rt_ws_mask(a + skip, n - skip, key, off);
    for (i = skip; i < n; i++)
        b[i] ^= key[(off + i - skip) % 4];
    FUZZ_ASSERT(n == 0 || memcmp(a, b, n) == 0);
    free(a);
    free(b);
}

/* ---- The handshake, on whatever the HTTP parser makes of the input -------- */

static void check_handshake(const unsigned char *data, size_t n)
{
    static const char *const supported[] = {"chat", "mqtt", "v2.rt", NULL};
    rt_http_parser hp;
    rt_http_request req;
    rt_ws_handshake hs;
    rt_str proto;
    char out[1024];
    size_t len;
    rt_http_parser_init(&hp);
    if (rt_http_parse_request(&hp, (const char *)data, n, &req) <= 0)
        return;
    if (rt_ws_handshake_check(&req, &hs) != RT_OK) {
        FUZZ_ASSERT(hs.status == 400 || hs.status == 405 || hs.status == 426);
        FUZZ_ASSERT(rt_ws_format_reject(out, sizeof out, hs.status) > 0);
        return;
    }
    FUZZ_ASSERT(hs.status == 101 && hs.key.n == 24 && rt_ws_is_upgrade(&req));
    proto = rt_ws_select_protocol(hs.protocols, supported);
    FUZZ_ASSERT(proto.n == 0 || (proto.p >= hs.protocols.p
                                 && proto.p + proto.n <= hs.protocols.p + hs.protocols.n));
    len = rt_ws_format_accept(NULL, 0, hs.key, proto, NULL);
    FUZZ_ASSERT(len == 129 + (proto.n > 0 ? 26 + proto.n : 0));
    FUZZ_ASSERT(len > sizeof out || rt_ws_format_accept(out, len, hs.key, proto, NULL) == len);
    FUZZ_ASSERT(len > sizeof out || memcmp(out + len - 4, "\r\n\r\n", 4) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t limits[4] = {0, 16, 300, 70000};
    static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t max;
    uint32_t seed;
    if (size < 2 || size > (1u << 20))
        return 0;
    max = limits[data[0] & 3];
    seed = data[1];
    data += 2;
    size -= 2;
    check_splits(RT_WS_SERVER, max, data, size, seed);
    check_splits(RT_WS_CLIENT, max, data, size, seed);
    check_frame_round_trip(RT_WS_TEXT, data, size, key);
    check_frame_round_trip(RT_WS_BINARY, data, size, NULL);
    check_frame_round_trip(RT_WS_PING, data, size < RT_WS_MAX_CONTROL ? size : 0, key);
    check_close_round_trip(data, size);
    check_mask(data, size, key);
    check_handshake(data, size);
    return 0;
}
