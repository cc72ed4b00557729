/* Unit tests for ws: the opening handshake (RFC 6455 4.2, the 1.3 sample),
 * the frame examples of 5.7 parsed and written, every section 5 rule with
 * the close code it must produce, and masking against a byte-by-byte
 * reference.
 *
 * Every parse runs three ways through a driver that behaves like a real
 * caller (keeps the bytes on RT_AGAIN, drops consumed ones): the input
 * whole, one byte at a time, and in two pieces split at every point. All
 * runs must log the same messages, control frames and outcome. The
 * receive buffer keeps its bytes at the very end of an exact-size
 * allocation, so ASan catches any read past what the parser was given.
 */
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../rt_test.h"
#include <stdlib.h>

/* ---- A growable byte log --------------------------------------------------- */

typedef struct tlog {
    unsigned char *b;
    size_t n, cap;
} tlog;

static void log_put(tlog *t, const void *p, size_t n)
{
    if (t->n + n > t->cap) {
        t->cap = (t->n + n) * 2 + 64;
        t->b = (unsigned char *)realloc(t->b, t->cap);
        if (!t->b)
            abort();
    }
    if (n > 0)
        memcpy(t->b + t->n, p, n);
    t->n += n;
}

static void log_num(tlog *t, long long v)
{
    log_put(t, &v, sizeof v);
}

/* Records, shared by the expectations and the driver. */
static void rec_msg(tlog *t, int opcode, const void *data, size_t n)
{
    log_put(t, "M", 1);
    log_num(t, opcode);
    log_num(t, (long long)n);
    log_put(t, data, n);
}

static void rec_ctl(tlog *t, int opcode, unsigned code, const void *data, size_t n)
{
    log_put(t, "C", 1);
    log_num(t, opcode);
    log_num(t, code);
    log_num(t, (long long)n);
    log_put(t, data, n);
}

/* The outcome: the last result, the close code after an error, and the
 * bytes the caller still holds (only without an error: after one, how many
 * were fed before it was seen depends on the split). */
static void rec_end(tlog *t, rt_result r, unsigned code, size_t left)
{
    log_put(t, "E", 1);
    log_num(t, r);
    log_num(t, code);
    log_num(t, (long long)left);
}

/* ---- The driver: a caller with a receive buffer ---------------------------- */

typedef struct feeder {
    rt_ws_parser p;
    unsigned char *mem; /* cap bytes; the held ones are the last `have` */
    size_t cap, have;
    tlog log;           /* messages, control frames, outcome */
    tlog partial;       /* data of the message in progress */
    int msg_op;         /* its opcode, 0 when none */
} feeder;

static void feeder_event(feeder *f, const rt_ws_event *ev, const unsigned char *base,
                         rt_result used)
{
    const unsigned char *d = (const unsigned char *)ev->data.p;
    CHECK(ev->data.n <= (size_t)used);
    if (ev->data.n > 0)
        CHECK(d >= base && d + ev->data.n <= base + used);
    if (ev->type == RT_WS_EV_DATA) {
        CHECK(ev->opcode == RT_WS_TEXT || ev->opcode == RT_WS_BINARY);
        if (f->msg_op == 0)
            f->msg_op = ev->opcode;
        CHECK_EQ(ev->opcode, f->msg_op);
        log_put(&f->partial, d, ev->data.n);
        if (ev->fin) {
            rec_msg(&f->log, ev->opcode, f->partial.b, f->partial.n);
            f->partial.n = 0;
            f->msg_op = 0;
        }
    } else if (ev->type == RT_WS_EV_CONTROL) {
        CHECK(ev->fin);
        rec_ctl(&f->log, ev->opcode, ev->close_code, d, ev->data.n);
        if (ev->opcode == RT_WS_CLOSE && ev->data.n >= 2)
            CHECK(ev->close_reason.p == ev->data.p + 2 && ev->close_reason.n == ev->data.n - 2);
    } else {
        CHECK_EQ(ev->type, RT_WS_EV_NONE);
        CHECK_EQ(ev->data.n, 0);
    }
}

/* Parses what the buffer holds until the parser needs more or fails. */
static rt_result feeder_drain(feeder *f)
{
    rt_ws_event ev;
    rt_result r;
    unsigned char *base;
    while (f->have > 0) {
        base = f->mem + f->cap - f->have;
        r = rt_ws_parse(&f->p, base, f->have, &ev);
        if (r < 0) {
            CHECK_EQ(ev.type, RT_WS_EV_NONE);
            return r;
        }
        CHECK(r > 0 && (size_t)r <= f->have);
        if (r <= 0 || (size_t)r > f->have)
            return RT_E_INVAL;
        feeder_event(f, &ev, base, r);
        f->have -= (size_t)r;
    }
    return RT_OK;
}

/* Feeds in[0..n) in pieces ending at cuts[0..ncuts) (the last is n). */
static void feed(feeder *f, int role, size_t max, const unsigned char *in, size_t n,
                 const size_t *cuts, size_t ncuts)
{
    size_t fed = 0, c, k;
    rt_result r = RT_OK;
    memset(f, 0, sizeof *f);
    rt_ws_parser_init(&f->p, role, max);
    f->cap = n;
    f->mem = (unsigned char *)malloc(n > 0 ? n : 1);
    for (c = 0; c < ncuts && (r == RT_OK || r == RT_AGAIN); c++) {
        k = cuts[c] - fed;
        /* the held bytes move left, the new ones go after them */
        memmove(f->mem + f->cap - f->have - k, f->mem + f->cap - f->have, f->have);
        memcpy(f->mem + f->cap - k, in + fed, k);
        f->have += k;
        fed = cuts[c];
        r = feeder_drain(f);
        if (r == RT_OK && f->have > 0)
            r = RT_AGAIN;
    }
    if (r == RT_AGAIN || r == RT_OK)
        rec_end(&f->log, f->have > 0 ? RT_AGAIN : RT_OK, 0, f->have);
    else
        rec_end(&f->log, r, f->p.close_code, 0);
    free(f->mem);
}

static void feeder_free(feeder *f)
{
    free(f->log.b);
    free(f->partial.b);
}

/* One run against the expected log; the data of a message an error cut
 * short may differ between runs, but what the whole run delivered of it
 * must be a prefix of what any split run delivered. */
static int compare(const feeder *f, const tlog *expect, const feeder *whole, const char *how,
                   size_t at)
{
    int ok = f->log.n == expect->n && memcmp(f->log.b, expect->b, expect->n) == 0;
    if (whole)
        ok = ok && whole->partial.n <= f->partial.n
             && (whole->partial.n == 0
                 || memcmp(whole->partial.b, f->partial.b, whole->partial.n) == 0);
    if (!ok)
        printf("#   %s run (at %zu) differs from the expectation\n", how, at);
    return ok;
}

/* Split points to try: all of them for small inputs, a sample for big ones
 * (the 64 KiB examples) so the suite stays fast under ASan. */
static size_t next_split(size_t k, size_t n)
{
    if (n <= 2048 || k < 64 || k + 64 >= n)
        return k + 1;
    return k + 997 < n - 64 ? k + 997 : n - 64;
}

static void check_parse(int role, size_t max, const void *in, size_t n, const tlog *expect)
{
    const unsigned char *b = (const unsigned char *)in;
    size_t *cuts = (size_t *)malloc((n + 1) * sizeof *cuts);
    size_t i;
    int ok;
    feeder whole, other;
    cuts[0] = n;
    feed(&whole, role, max, b, n, cuts, 1);
    CHECK(compare(&whole, expect, NULL, "whole", n));
    for (i = 0; i < n; i++)
        cuts[i] = i + 1;
    feed(&other, role, max, b, n, cuts, n);
    CHECK(compare(&other, expect, &whole, "byte-at-a-time", 1));
    feeder_free(&other);
    for (i = 1; i < n; i = next_split(i, n)) {
        cuts[0] = i;
        cuts[1] = n;
        feed(&other, role, max, b, n, cuts, 2);
        ok = compare(&other, expect, &whole, "split", i);
        feeder_free(&other);
        CHECK(ok);
        if (!ok)
            break; /* one report per input is enough */
    }
    feeder_free(&whole);
    free(cuts);
}

/* ---- Helpers for writing cases --------------------------------------------- */

/* Hex digits, spaces ignored: "81 05 4865" -> bytes. Returns the count. */
static size_t unhex(const char *s, unsigned char *out)
{
    size_t n = 0;
    int hi = -1, v;
    for (; *s; s++) {
        if (*s == ' ')
            continue;
        v = *s <= '9' ? *s - '0' : (*s | 0x20) - 'a' + 10;
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (unsigned char)(hi << 4 | v);
            hi = -1;
        }
    }
    return n;
}

/* Parses the hex input three ways and expects the messages/controls already
 * in *e followed by the outcome (r, code, left). Frees *e. */
static void expect_hex(int role, size_t max, const char *hex, tlog *e, rt_result r, unsigned code,
                       size_t left)
{
    unsigned char in[512];
    size_t n = unhex(hex, in);
    rec_end(e, r, code, left);
    check_parse(role, max, in, n, e);
    free(e->b);
    memset(e, 0, sizeof *e);
}

/* The input must fail with err and code, after delivering what *e holds. */
static void expect_fail(int role, const char *hex, rt_result err, unsigned code)
{
    tlog e = {0};
    expect_hex(role, 0, hex, &e, err, code, 0);
}

/* ---- RFC 6455 5.7 examples, parsed ------------------------------------------ */

RT_TEST(rfc_5_7_single_frame_unmasked_text)
{
    tlog e = {0};
    rec_msg(&e, RT_WS_TEXT, "Hello", 5);
    expect_hex(RT_WS_CLIENT, 0, "81 05 48 65 6c 6c 6f", &e, RT_OK, 0, 0);
}

RT_TEST(rfc_5_7_single_frame_masked_text)
{
    tlog e = {0};
    rec_msg(&e, RT_WS_TEXT, "Hello", 5);
    expect_hex(RT_WS_SERVER, 0, "81 85 37 fa 21 3d 7f 9f 4d 51 58", &e, RT_OK, 0, 0);
}

RT_TEST(rfc_5_7_fragmented_unmasked_text)
{
    tlog e = {0};
    rec_msg(&e, RT_WS_TEXT, "Hello", 5);
    expect_hex(RT_WS_CLIENT, 0, "01 03 48 65 6c  80 02 6c 6f", &e, RT_OK, 0, 0);
}

RT_TEST(rfc_5_7_unmasked_ping_and_masked_pong)
{
    tlog e = {0};
    rec_ctl(&e, RT_WS_PING, 0, "Hello", 5);
    expect_hex(RT_WS_CLIENT, 0, "89 05 48 65 6c 6c 6f", &e, RT_OK, 0, 0);
    rec_ctl(&e, RT_WS_PONG, 0, "Hello", 5);
    expect_hex(RT_WS_SERVER, 0, "8a 85 37 fa 21 3d 7f 9f 4d 51 58", &e, RT_OK, 0, 0);
}

static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
    size_t i;
    for (i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 131 + seed + (i >> 8));
}

/* 82 7E 0100 + 256 bytes, and 82 7F 0000000000010000 + 65536 bytes; both
 * unmasked (client role) and masked (server role). */
static void check_big_binary(size_t n, const unsigned char *head, size_t head_len)
{
    static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    unsigned char *frame = (unsigned char *)malloc(n + 14), *data = (unsigned char *)malloc(n);
    tlog e = {0};
    fill_pattern(data, n, 7);
    rec_msg(&e, RT_WS_BINARY, data, n);
    rec_end(&e, RT_OK, 0, 0);
    memcpy(frame, head, head_len);
    memcpy(frame + head_len, data, n);
    check_parse(RT_WS_CLIENT, 0, frame, head_len + n, &e);
    /* the same frame from a client: mask bit, key, masked payload */
    CHECK_EQ(rt_ws_write_header(frame, RT_WS_BINARY, 1, n, key), head_len + 4);
    CHECK_MEM(frame, head, 1);
    CHECK_EQ(frame[1], head[1] | 0x80);
    CHECK_MEM(frame + 2, head + 2, head_len - 2);
    memcpy(frame + head_len + 4, data, n);
    rt_ws_mask(frame + head_len + 4, n, key, 0);
    check_parse(RT_WS_SERVER, 0, frame, head_len + 4 + n, &e);
    free(e.b);
    free(frame);
    free(data);
}

RT_TEST(rfc_5_7_256_byte_binary_in_one_frame)
{
    static const unsigned char head[] = {0x82, 0x7E, 0x01, 0x00};
    check_big_binary(256, head, sizeof head);
}

RT_TEST(rfc_5_7_64KiB_binary_in_one_frame)
{
    static const unsigned char head[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0};
    check_big_binary(65536, head, sizeof head);
}

/* ---- RFC 6455 5.7 examples, written ----------------------------------------- */

RT_TEST(rfc_5_7_examples_are_written_byte_for_byte)
{
    static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    unsigned char want[64], out[64];
    size_t n;
    n = unhex("81 05 48 65 6c 6c 6f", want);
    CHECK_EQ(rt_ws_format_frame(out, sizeof out, RT_WS_TEXT, "Hello", 5, NULL), n);
    CHECK_MEM(out, want, n);
    n = unhex("81 85 37 fa 21 3d 7f 9f 4d 51 58", want);
    CHECK_EQ(rt_ws_format_frame(out, sizeof out, RT_WS_TEXT, "Hello", 5, key), n);
    CHECK_MEM(out, want, n);
    n = unhex("89 05 48 65 6c 6c 6f", want);
    CHECK_EQ(rt_ws_format_frame(out, sizeof out, RT_WS_PING, "Hello", 5, NULL), n);
    CHECK_MEM(out, want, n);
    n = unhex("8a 85 37 fa 21 3d 7f 9f 4d 51 58", want);
    CHECK_EQ(rt_ws_format_frame(out, sizeof out, RT_WS_PONG, "Hello", 5, key), n);
    CHECK_MEM(out, want, n);
    /* fragmented: header + "Hel", then a final continuation header + "lo" */
    n = unhex("01 03 48 65 6c 80 02 6c 6f", want);
    CHECK_EQ(rt_ws_write_header(out, RT_WS_TEXT, 0, 3, NULL), 2);
    memcpy(out + 2, "Hel", 3);
    CHECK_EQ(rt_ws_write_header(out + 5, RT_WS_CONT, 1, 2, NULL), 2);
    memcpy(out + 7, "lo", 2);
    CHECK_MEM(out, want, n);
}

RT_TEST(write_header_uses_the_shortest_length_form)
{
    unsigned char out[RT_WS_MAX_HEADER];
    static const unsigned char key[4] = {1, 2, 3, 4};
    CHECK_EQ(rt_ws_write_header(out, RT_WS_BINARY, 1, 0, NULL), 2);
    CHECK_MEM(out, "\x82\x00", 2);
    CHECK_EQ(rt_ws_write_header(out, RT_WS_BINARY, 1, 125, NULL), 2);
    CHECK_MEM(out, "\x82\x7d", 2);
    CHECK_EQ(rt_ws_write_header(out, RT_WS_BINARY, 0, 126, NULL), 4);
    CHECK_MEM(out, "\x02\x7e\x00\x7e", 4);
    CHECK_EQ(rt_ws_write_header(out, RT_WS_CONT, 1, 65535, NULL), 4);
    CHECK_MEM(out, "\x80\x7e\xff\xff", 4);
    CHECK_EQ(rt_ws_write_header(out, RT_WS_TEXT, 1, 65536, NULL), 10);
    CHECK_MEM(out, "\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
    CHECK_EQ(rt_ws_write_header(out, RT_WS_TEXT, 1, 0x0123456789abcdefull, key), 14);
    CHECK_MEM(out, "\x81\xff\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x02\x03\x04", 14);
    CHECK_EQ(rt_ws_write_header(out, RT_WS_CLOSE, 1, 125, key), 6);
    CHECK_MEM(out, "\x88\xfd\x01\x02\x03\x04", 6);
}

RT_TEST(format_frame_needs_room_and_accepts_a_payload_already_in_buf)
{
    unsigned char out[32], want[32];
    size_t n;
    memset(out, 0xEE, sizeof out);
    /* too small: says how much it needs and writes nothing */
    CHECK_EQ(rt_ws_format_frame(out, 6, RT_WS_TEXT, "Hello", 5, NULL), 7);
    CHECK_EQ(out[0], 0xEE);
    CHECK_EQ(rt_ws_format_frame(NULL, 0, RT_WS_BINARY, NULL, 0, NULL), 2);
    CHECK_EQ(rt_ws_format_frame(out, 7, RT_WS_TEXT, "Hello", 5, NULL), 7);
    CHECK_EQ(out[7], 0xEE);
    /* the payload placed after a worst-case header moves into place */
    memcpy(out + RT_WS_MAX_HEADER, "Hello", 5);
    n = unhex("81 05 48 65 6c 6c 6f", want);
    CHECK_EQ(rt_ws_format_frame(out, sizeof out, RT_WS_TEXT, out + RT_WS_MAX_HEADER, 5, NULL), n);
    CHECK_MEM(out, want, n);
    CHECK_EQ(rt_ws_format_frame(out, sizeof out, RT_WS_TEXT, NULL, (size_t)-1, NULL),
             (size_t)-1);
}

/* ---- Data frames: fragments, interleaving, empty messages ------------------ */

RT_TEST(control_frames_between_fragments_arrive_in_order)
{
    tlog e = {0};
    rec_ctl(&e, RT_WS_PING, 0, "", 0);
    rec_ctl(&e, RT_WS_PONG, 0, "pp", 2);
    rec_msg(&e, RT_WS_TEXT, "Hello", 5);
    rec_msg(&e, RT_WS_BINARY, "\x00\xff", 2);
    expect_hex(RT_WS_CLIENT, 0,
               "01 03 48 65 6c  89 00  00 01 6c  8a 02 70 70  80 01 6f  82 02 00 ff",
               &e, RT_OK, 0, 0);
}

RT_TEST(empty_messages_and_empty_fragments_are_delivered_once)
{
    tlog e = {0};
    rec_msg(&e, RT_WS_TEXT, "", 0);
    rec_msg(&e, RT_WS_BINARY, "", 0);
    rec_msg(&e, RT_WS_TEXT, "ab", 2);
    expect_hex(RT_WS_CLIENT, 0, "81 00  02 00 00 00 80 00  01 00 00 01 61 00 00 80 01 62",
               &e, RT_OK, 0, 0);
}

RT_TEST(lengths_not_in_shortest_form_are_accepted)
{
    tlog e = {0};
    rec_msg(&e, RT_WS_TEXT, "Hello", 5);
    rec_msg(&e, RT_WS_BINARY, "Hi", 2);
    expect_hex(RT_WS_CLIENT, 0,
               "81 7e 00 05 48 65 6c 6c 6f  82 7f 00 00 00 00 00 00 00 02 48 69", &e, RT_OK, 0,
               0);
}

RT_TEST(text_split_inside_a_character_across_fragments_is_valid)
{
    tlog e = {0};
    /* U+20AC (E2 82 AC) and U+1F600 (F0 9F 98 80) cut between frames */
    rec_ctl(&e, RT_WS_PING, 0, "", 0);
    rec_msg(&e, RT_WS_TEXT, "\xe2\x82\xac\xf0\x9f\x98\x80", 7);
    expect_hex(RT_WS_CLIENT, 0, "01 01 e2  00 02 82 ac  00 02 f0 9f  89 00  80 02 98 80", &e,
               RT_OK, 0, 0);
}

RT_TEST(close_frames_give_code_and_reason)
{
    tlog e = {0};
    rec_ctl(&e, RT_WS_CLOSE, 1005, "", 0);
    expect_hex(RT_WS_CLIENT, 0, "88 00", &e, RT_OK, 0, 0);
    rec_ctl(&e, RT_WS_CLOSE, 1000, "\x03\xe8" "bye", 5);
    expect_hex(RT_WS_CLIENT, 0, "88 05 03 e8 62 79 65", &e, RT_OK, 0, 0);
    rec_ctl(&e, RT_WS_CLOSE, 4999, "\x13\x87\xc3\xa9", 4);
    expect_hex(RT_WS_SERVER, 0, "88 84 00 00 00 00 13 87 c3 a9", &e, RT_OK, 0, 0);
}

/* ---- Truncations and lies in length fields --------------------------------- */

RT_TEST(truncated_input_waits_without_error)
{
    tlog e = {0};
    /* half a 16-bit length */
    expect_hex(RT_WS_CLIENT, 0, "81 7e 00", &e, RT_AGAIN, 0, 3);
    /* a masked header without all of its key */
    expect_hex(RT_WS_SERVER, 0, "81 85 37 fa 21", &e, RT_AGAIN, 0, 5);
    /* a control frame waits whole, untouched */
    expect_hex(RT_WS_CLIENT, 0, "89 05 48 65 6c 6c", &e, RT_AGAIN, 0, 6);
    /* data is handed out as it comes; nothing is held */
    expect_hex(RT_WS_CLIENT, 0, "81 05 48 65", &e, RT_OK, 0, 0);
    expect_hex(RT_WS_CLIENT, 0, "", &e, RT_OK, 0, 0);
}

RT_TEST(length_fields_that_lie_are_read_as_the_header_says)
{
    tlog e = {0};
    /* a ping claiming 5 bytes swallows the next frame's header and waits */
    expect_hex(RT_WS_CLIENT, 0, "89 05 41 81 01 42", &e, RT_AGAIN, 0, 6);
    /* claiming 2: the rest is a new frame, whose opcode 0x4 is reserved */
    rec_ctl(&e, RT_WS_PING, 0, "AB", 2);
    expect_hex(RT_WS_CLIENT, 0, "89 02 41 42 84 00", &e, RT_E_PROTO, 1002, 0);
    /* a data frame claiming 2 of 5 bytes: "lo" becomes a header (6c: RSV) */
    rec_msg(&e, RT_WS_TEXT, "He", 2);
    expect_hex(RT_WS_CLIENT, 0, "81 02 48 65 6c 6c 6f", &e, RT_E_PROTO, 1002, 0);
    /* a 64-bit length of 2^62 is beyond any limit */
    expect_fail(RT_WS_CLIENT, "82 7f 40 00 00 00 00 00 00 00", RT_E_LIMIT, 1009);
}

/* ---- Every section 5 error, with its close code ------------------------------ */

RT_TEST(rsv_bits_without_an_extension_are_1002)
{
    expect_fail(RT_WS_CLIENT, "c1 01 61", RT_E_PROTO, 1002);
    expect_fail(RT_WS_CLIENT, "a1 01 61", RT_E_PROTO, 1002);
    expect_fail(RT_WS_CLIENT, "91 01 61", RT_E_PROTO, 1002);
    expect_fail(RT_WS_SERVER, "c9 80 00 00 00 00", RT_E_PROTO, 1002);
}

RT_TEST(reserved_opcodes_are_1002)
{
    static const char *hex[] = {"83 00", "84 00", "85 00", "86 00", "87 00", "8b 00", "8c 00",
                                "8d 00", "8e 00", "8f 00", "03 00", "0b 00"};
    size_t i;
    for (i = 0; i < sizeof hex / sizeof hex[0]; i++)
        expect_fail(RT_WS_CLIENT, hex[i], RT_E_PROTO, 1002);
}

RT_TEST(masking_in_the_wrong_direction_is_1002)
{
    /* RFC 6455 5.1: a server refuses unmasked frames, a client masked ones */
    expect_fail(RT_WS_SERVER, "81 05 48 65 6c 6c 6f", RT_E_PROTO, 1002);
    expect_fail(RT_WS_SERVER, "89 00", RT_E_PROTO, 1002);
    expect_fail(RT_WS_CLIENT, "81 85 37 fa 21 3d 7f 9f 4d 51 58", RT_E_PROTO, 1002);
    expect_fail(RT_WS_CLIENT, "8a 80 00 00 00 00", RT_E_PROTO, 1002);
}

RT_TEST(control_frames_too_long_or_fragmented_are_1002)
{
    char hex[600];
    size_t i;
    tlog e = {0};
    /* 125 bytes is fine; 126 in either extended form is not */
    strcpy(hex, "89 7d");
    for (i = 0; i < 125; i++)
        strcat(hex, " 61");
    rec_ctl(&e, RT_WS_PING, 0,
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 125);
    expect_hex(RT_WS_CLIENT, 0, hex, &e, RT_OK, 0, 0);
    expect_fail(RT_WS_CLIENT, "89 7e 00 7e", RT_E_PROTO, 1002);
    expect_fail(RT_WS_CLIENT, "8a 7f 00 00 00 00 00 00 00 01", RT_E_PROTO, 1002);
    expect_fail(RT_WS_CLIENT, "88 7e 00 02 03 e8", RT_E_PROTO, 1002);
    /* even when the extended length is small: it must use the 7-bit form */
    expect_fail(RT_WS_CLIENT, "89 7e 00 00", RT_E_PROTO, 1002);
    /* FIN clear on a control frame */
    expect_fail(RT_WS_CLIENT, "09 00", RT_E_PROTO, 1002);
    expect_fail(RT_WS_CLIENT, "08 02 03 e8", RT_E_PROTO, 1002);
}

RT_TEST(fragment_order_errors_are_1002)
{
    tlog e = {0};
    /* continuation with nothing to continue, final or not */
    expect_fail(RT_WS_CLIENT, "80 02 6c 6f", RT_E_PROTO, 1002);
    expect_fail(RT_WS_CLIENT, "00 00", RT_E_PROTO, 1002);
    /* ...also right after a message ended */
    rec_msg(&e, RT_WS_TEXT, "a", 1);
    expect_hex(RT_WS_CLIENT, 0, "81 01 61 00 01 62", &e, RT_E_PROTO, 1002, 0);
    /* a new message inside a fragmented one (a control frame between is fine) */
    expect_fail(RT_WS_CLIENT, "01 03 48 65 6c 81 02 6c 6f", RT_E_PROTO, 1002);
    rec_ctl(&e, RT_WS_PING, 0, "", 0);
    expect_hex(RT_WS_CLIENT, 0, "02 01 00 89 00 02 00", &e, RT_E_PROTO, 1002, 0);
}

RT_TEST(64_bit_length_with_its_top_bit_set_is_1002)
{
    expect_fail(RT_WS_CLIENT, "82 7f 80 00 00 00 00 00 00 05 61 62 63 64 65", RT_E_PROTO, 1002);
    expect_fail(RT_WS_SERVER, "82 ff ff ff ff ff ff ff ff ff 00 00 00 00", RT_E_PROTO, 1002);
}

RT_TEST(close_payload_of_one_byte_is_1002)
{
    expect_fail(RT_WS_CLIENT, "88 01 03", RT_E_PROTO, 1002);
    expect_fail(RT_WS_SERVER, "88 81 00 00 00 00 03", RT_E_PROTO, 1002);
    /* the next byte must not be taken as the code's second half */
    expect_fail(RT_WS_CLIENT, "88 01 03 e8 00", RT_E_PROTO, 1002);
}

static int code_expected_valid(unsigned c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) || (c >= 1012 && c <= 1014)
        || (c >= 3000 && c <= 4999);
}

RT_TEST(close_code_table_matches_rfc_7_4_and_the_iana_registry)
{
    unsigned c;
    for (c = 0; c < 70000; c++)
        CHECK_EQ(rt_ws_close_code_valid(c), code_expected_valid(c));
    CHECK(!rt_ws_close_code_valid(1005));
    CHECK(!rt_ws_close_code_valid(1006));
    CHECK(!rt_ws_close_code_valid(1015));
    CHECK(rt_ws_close_code_valid(1012));
}

RT_TEST(close_codes_on_the_wire_are_checked)
{
    static const unsigned codes[] = {0,    999,  1000, 1001, 1002, 1003, 1004, 1005, 1006,
                                     1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015,
                                     1016, 2000, 2999, 3000, 3999, 4000, 4999, 5000, 65535};
    unsigned char in[4] = {0x88, 0x02, 0, 0};
    size_t i;
    tlog e = {0};
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        in[2] = (unsigned char)(codes[i] >> 8);
        in[3] = (unsigned char)codes[i];
        if (code_expected_valid(codes[i])) {
            rec_ctl(&e, RT_WS_CLOSE, codes[i], in + 2, 2);
            rec_end(&e, RT_OK, 0, 0);
        } else {
            rec_end(&e, RT_E_PROTO, 1002, 0);
        }
        check_parse(RT_WS_CLIENT, 0, in, sizeof in, &e);
        free(e.b);
        memset(&e, 0, sizeof e);
    }
}

RT_TEST(close_reason_that_is_not_utf8_is_1007)
{
    expect_fail(RT_WS_CLIENT, "88 04 03 e8 c3 28", RT_E_UTF8, 1007);
    expect_fail(RT_WS_CLIENT, "88 03 03 e8 e2", RT_E_UTF8, 1007);
    expect_fail(RT_WS_SERVER, "88 84 00 00 00 00 03 e8 ed a0", RT_E_UTF8, 1007);
}

RT_TEST(text_that_is_not_utf8_is_1007)
{
    tlog e = {0};
    expect_fail(RT_WS_CLIENT, "81 02 c3 28", RT_E_UTF8, 1007);
    /* overlong, surrogate, beyond U+10FFFF */
    expect_fail(RT_WS_CLIENT, "81 02 c0 af", RT_E_UTF8, 1007);
    expect_fail(RT_WS_CLIENT, "81 03 ed a0 80", RT_E_UTF8, 1007);
    expect_fail(RT_WS_CLIENT, "81 04 f4 90 80 80", RT_E_UTF8, 1007);
    /* the bad byte in a later fragment */
    expect_fail(RT_WS_CLIENT, "01 02 61 62 80 01 ff", RT_E_UTF8, 1007);
    /* a character cut short by the end of the message */
    expect_fail(RT_WS_CLIENT, "81 02 e2 82", RT_E_UTF8, 1007);
    expect_fail(RT_WS_CLIENT, "01 01 e2 80 01 82", RT_E_UTF8, 1007);
    /* binary is not checked; a completed text message before is kept */
    rec_msg(&e, RT_WS_BINARY, "\xc3\x28", 2);
    rec_msg(&e, RT_WS_TEXT, "\xc3\xa9", 2);
    expect_hex(RT_WS_CLIENT, 0, "82 02 c3 28  81 02 c3 a9  81 01 ff", &e, RT_E_UTF8, 1007, 0);
}

RT_TEST(text_fails_on_the_call_that_brings_the_bad_byte)
{
    unsigned char in[1004];
    rt_ws_parser p;
    rt_ws_event ev;
    /* a 1000-byte text frame: "aaaaa" then a bad byte at payload index 10 */
    in[0] = 0x81;
    in[1] = 0x7e;
    in[2] = 0x03;
    in[3] = 0xe8;
    memset(in + 4, 'a', 1000);
    in[4 + 10] = 0xff;
    rt_ws_parser_init(&p, RT_WS_CLIENT, 0);
    CHECK_EQ(rt_ws_parse(&p, in, 4 + 5, &ev), 9);
    CHECK_EQ(ev.type, RT_WS_EV_DATA);
    CHECK_EQ(ev.data.n, 5);
    CHECK_EQ(ev.fin, 0);
    /* 6 more bytes, the last of them bad: fails now, not at the 1000th byte */
    CHECK_EQ(rt_ws_parse(&p, in + 9, 6, &ev), RT_E_UTF8);
    CHECK_EQ(p.close_code, 1007);
    CHECK_EQ(ev.type, RT_WS_EV_NONE);
    /* sticky */
    CHECK_EQ(rt_ws_parse(&p, in + 15, 10, &ev), RT_E_UTF8);
}

RT_TEST(message_over_max_is_1009_from_the_header)
{
    rt_ws_parser p;
    rt_ws_event ev;
    tlog e = {0};
    static const unsigned char head[] = {0x82, 0x7e, 0x00, 0x0b};
    /* the header alone is enough: no payload byte has arrived */
    rt_ws_parser_init(&p, RT_WS_CLIENT, 10);
    CHECK_EQ(rt_ws_parse(&p, (void *)head, sizeof head, &ev), RT_E_LIMIT);
    CHECK_EQ(p.close_code, 1009);
    /* exactly the limit is fine; fragments add up; controls do not count */
    rec_msg(&e, RT_WS_BINARY, "0123456789", 10);
    expect_hex(RT_WS_CLIENT, 10, "82 0a 30 31 32 33 34 35 36 37 38 39", &e, RT_OK, 0, 0);
    rec_ctl(&e, RT_WS_PING, 0, "pingpingpi", 10);
    rec_msg(&e, RT_WS_TEXT, "0123456789", 10);
    expect_hex(RT_WS_CLIENT, 10,
               "01 06 30 31 32 33 34 35  89 0a 70 69 6e 67 70 69 6e 67 70 69  80 04 36 37 38 39",
               &e, RT_OK, 0, 0);
    expect_hex(RT_WS_CLIENT, 10, "01 06 30 31 32 33 34 35  80 05 36 37 38 39 41", &e,
               RT_E_LIMIT, 1009, 0);
    expect_fail(RT_WS_CLIENT, "82 7f 00 00 00 00 00 10 00 01", RT_E_LIMIT, 1009);
    /* a larger max_message than compiled is capped to the compiled one */
    rt_ws_parser_init(&p, RT_WS_CLIENT, (size_t)RT_WS_MAX_MESSAGE * 4);
    CHECK_EQ(rt_ws_parse(&p, (void *)"\x82\x7f\x00\x00\x00\x00\x00\x10\x00\x01", 10, &ev),
             RT_E_LIMIT);
}

RT_TEST(errors_are_sticky_and_deliver_nothing)
{
    rt_ws_parser p;
    rt_ws_event ev;
    unsigned char good[] = {0x81, 0x01, 0x61};
    memset(&p, 0, sizeof p); /* zero is a server parser with the compiled limit */
    CHECK_EQ(rt_ws_parse(&p, good, sizeof good, &ev), RT_E_PROTO); /* unmasked */
    CHECK_EQ(p.close_code, 1002);
    p.role = RT_WS_CLIENT;
    CHECK_EQ(rt_ws_parse(&p, good, sizeof good, &ev), RT_E_PROTO);
    CHECK_EQ(ev.type, RT_WS_EV_NONE);
    CHECK_EQ(rt_ws_parse(&p, good, 0, &ev), RT_E_PROTO);
}

RT_TEST(parse_of_nothing_consumes_nothing)
{
    rt_ws_parser p;
    rt_ws_event ev;
    unsigned char in[] = {0x81, 0x05, 'H', 'e'};
    rt_ws_parser_init(&p, RT_WS_CLIENT, 0);
    CHECK_EQ(rt_ws_parse(&p, NULL, 0, &ev), 0);
    CHECK_EQ(ev.type, RT_WS_EV_NONE);
    CHECK_EQ(rt_ws_parse(&p, in, 1, &ev), RT_AGAIN);
    CHECK_EQ(rt_ws_parse(&p, in, 2, &ev), 2);
    CHECK_EQ(ev.type, RT_WS_EV_NONE); /* header only */
    CHECK_EQ(rt_ws_parse(&p, in + 2, 0, &ev), 0);
    CHECK_EQ(rt_ws_parse(&p, in + 2, 2, &ev), 2);
    CHECK_EQ(ev.type, RT_WS_EV_DATA);
    CHECK_EQ(ev.opcode, RT_WS_TEXT);
    CHECK_EQ(ev.fin, 0);
    CHECK(ev.data.p == (const char *)in + 2 && ev.data.n == 2);
}

/* ---- Random streams written by the writer, read back three ways ------------ */

static uint32_t rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Appends one frame (masked with a random key when masked) to out. */
static void put_frame(tlog *out, uint32_t *s, int opcode, int fin, const void *p, size_t n,
                      int masked)
{
    unsigned char head[RT_WS_MAX_HEADER], key[4];
    size_t h, i;
    for (i = 0; i < 4; i++)
        key[i] = (unsigned char)rng_next(s);
    h = rt_ws_write_header(head, opcode, fin, n, masked ? key : NULL);
    log_put(out, head, h);
    log_put(out, p, n);
    if (masked)
        rt_ws_mask(out->b + out->n - n, n, key, 0);
}

/* A message of random valid UTF-8 (or random bytes), cut into random
 * fragments, some of them cut inside a character, with pings between. */
static void put_message(tlog *out, tlog *e, uint32_t *s, int masked)
{
    static const char *chars[] = {"a", "Z", " ", "\xc3\xa9", "\xd0\x96", "\xe2\x82\xac",
                                  "\xe4\xbd\xa0", "\xf0\x9f\x98\x80"};
    unsigned char msg[400];
    size_t n = 0, target = rng_next(s) % 300, at = 0, piece;
    int text = rng_next(s) & 1, op;
    while (n < target) {
        const char *c = chars[rng_next(s) % 8];
        if (!text)
            msg[n++] = (unsigned char)rng_next(s);
        else
            for (; *c; c++)
                msg[n++] = (unsigned char)*c;
    }
    op = text ? RT_WS_TEXT : RT_WS_BINARY;
    do {
        piece = rng_next(s) % 4 == 0 ? n - at : rng_next(s) % (n - at + 1);
        put_frame(out, s, op, at + piece == n, msg + at, piece, masked);
        op = RT_WS_CONT;
        at += piece;
        if (at < n && rng_next(s) % 3 == 0) {
            put_frame(out, s, RT_WS_PING, 1, "p", 1, masked);
            rec_ctl(e, RT_WS_PING, 0, "p", 1);
        }
    } while (at < n);
    rec_msg(e, text ? RT_WS_TEXT : RT_WS_BINARY, msg, n);
}

RT_TEST(random_streams_from_the_writer_read_back_the_same_three_ways)
{
    uint32_t s = 0x2545F491u;
    int round, m;
    for (round = 0; round < 40; round++) {
        tlog in = {0}, e = {0};
        int masked = round & 1;
        for (m = 0; m < 1 + round % 4; m++)
            put_message(&in, &e, &s, masked);
        rec_end(&e, RT_OK, 0, 0);
        check_parse(masked ? RT_WS_SERVER : RT_WS_CLIENT, 0, in.b, in.n, &e);
        free(in.b);
        free(e.b);
    }
}

/* ---- Masking ------------------------------------------------------------------ */

static void mask_reference(unsigned char *p, size_t n, const unsigned char key[4], size_t off)
{
    size_t i;
    for (i = 0; i < n; i++)
        p[i] ^= key[(off + i) % 4];
}

RT_TEST(mask_matches_a_byte_by_byte_reference_at_every_alignment_and_offset)
{
    static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    static const size_t lens[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65,
                                  100, 127, 128, 129, 255, 256, 257, 1000};
    unsigned char a[1100], b[1100];
    size_t align, off, i;
    for (align = 0; align < 16; align++) {
        for (off = 0; off < 9; off++) {
            for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
                fill_pattern(a, sizeof a, (unsigned)(align + off));
                memcpy(b, a, sizeof b);
                rt_ws_mask(a + 8 + align, lens[i], key, off);
                mask_reference(b + 8 + align, lens[i], key, off);
                CHECK_MEM(a, b, sizeof a); /* also: nothing outside was touched */
            }
        }
    }
}

RT_TEST(mask_in_pieces_equals_mask_at_once_and_undoes_itself)
{
    static const unsigned char key[4] = {0xde, 0xad, 0xbe, 0xef};
    unsigned char a[777], b[777], orig[777];
    size_t cut;
    fill_pattern(orig, sizeof orig, 3);
    memcpy(b, orig, sizeof b);
    rt_ws_mask(b, sizeof b, key, 0);
    for (cut = 0; cut <= sizeof a; cut += 37) {
        memcpy(a, orig, sizeof a);
        rt_ws_mask(a, cut, key, 0);
        rt_ws_mask(a + cut, sizeof a - cut, key, cut);
        CHECK_MEM(a, b, sizeof a);
        rt_ws_mask(a, sizeof a, key, 0);
        CHECK_MEM(a, orig, sizeof a);
    }
}

/* ---- Close payloads ------------------------------------------------------------ */

RT_TEST(close_payload_holds_code_and_a_reason_cut_at_a_character)
{
    unsigned char out[RT_WS_MAX_CONTROL];
    char reason[200];
    CHECK_EQ(rt_ws_close_payload(out, 1000, "bye", 3), 5);
    CHECK_MEM(out, "\x03\xe8" "bye", 5);
    CHECK_EQ(rt_ws_close_payload(out, 4001, NULL, 0), 2);
    CHECK_MEM(out, "\x0f\xa1", 2);
    /* 200 ASCII bytes: cut to 123 */
    memset(reason, 'r', sizeof reason);
    CHECK_EQ(rt_ws_close_payload(out, 1001, reason, sizeof reason), 125);
    CHECK_EQ(out[124], 'r');
    /* a 3-byte character across byte 123 is left out whole */
    memcpy(reason + 121, "\xe2\x82\xac", 3);
    CHECK_EQ(rt_ws_close_payload(out, 1001, reason, 124), 2 + 121);
    CHECK_EQ(rt_ws_close_payload(out, 1001, reason, sizeof reason), 2 + 121);
    memset(reason, 'r', sizeof reason);
    memcpy(reason + 120, "\xe2\x82\xac", 3);
    CHECK_EQ(rt_ws_close_payload(out, 1001, reason, sizeof reason), 2 + 123);
    CHECK_MEM(out + 2 + 120, "\xe2\x82\xac", 3);
    /* no status is an empty body; a bad reason is dropped */
    CHECK_EQ(rt_ws_close_payload(out, 1005, "x", 1), 0);
    CHECK_EQ(rt_ws_close_payload(out, 1006, NULL, 0), 0);
    CHECK_EQ(rt_ws_close_payload(out, 1000, "\xc3\x28", 2), 2);
}

RT_TEST(close_payload_round_trips_through_the_parser)
{
    static const unsigned char key[4] = {9, 8, 7, 6};
    unsigned char payload[RT_WS_MAX_CONTROL], frame[RT_WS_MAX_HEADER + RT_WS_MAX_CONTROL];
    size_t n, f;
    rt_ws_parser p;
    rt_ws_event ev;
    n = rt_ws_close_payload(payload, 1001, "going \xf0\x9f\x98\x80", 10);
    f = rt_ws_format_frame(frame, sizeof frame, RT_WS_CLOSE, payload, n, key);
    rt_ws_parser_init(&p, RT_WS_SERVER, 0);
    CHECK_EQ(rt_ws_parse(&p, frame, f, &ev), (rt_result)f);
    CHECK_EQ(ev.type, RT_WS_EV_CONTROL);
    CHECK_EQ(ev.opcode, RT_WS_CLOSE);
    CHECK_EQ(ev.close_code, 1001);
    CHECK_EQ(ev.close_reason.n, 10);
    CHECK_MEM(ev.close_reason.p, "going \xf0\x9f\x98\x80", 10);
}

/* ---- Opening handshake ---------------------------------------------------------- */

#define RFC_REQUEST_HEAD "GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"
#define RFC_REQUEST_WS "Upgrade: websocket\r\nConnection: Upgrade\r\n" \
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define RFC_REQUEST_TAIL "Origin: http://example.com\r\n" \
                         "Sec-WebSocket-Protocol: chat, superchat\r\n" \
                         "Sec-WebSocket-Version: 13\r\n\r\n"

static rt_http_request req_storage;

/* Parses a request with the real HTTP parser; NULL if it refuses it. */
static const rt_http_request *request(const char *text)
{
    rt_http_parser hp;
    rt_http_parser_init(&hp);
    memset(&req_storage, 0, sizeof req_storage);
    if (rt_http_parse_request(&hp, text, strlen(text), &req_storage) <= 0)
        return NULL;
    return &req_storage;
}

/* The status the handshake check gives the request (101 when accepted). */
static int check_status(const char *text)
{
    rt_ws_handshake hs;
    const rt_http_request *req = request(text);
    rt_result r;
    CHECK(req != NULL);
    if (!req)
        return -1;
    r = rt_ws_handshake_check(req, &hs);
    CHECK_EQ(r, hs.status == 101 ? RT_OK : RT_E_PROTO);
    return hs.status;
}

RT_TEST(rfc_1_3_sample_accept_key)
{
    char out[RT_WS_ACCEPT_LEN + 1];
    rt_ws_accept_key(rt_str_c("dGhlIHNhbXBsZSBub25jZQ=="), out);
    CHECK_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* RFC 6455 4.1 example key, answer checked against an independent SHA-1 */
    rt_ws_accept_key(rt_str_c("x3JJHMbDL1EzLkh9GBhXDw=="), out);
    CHECK_STR(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

RT_TEST(rfc_sample_handshake_is_accepted_and_answered)
{
    static const char *const supported[] = {"superchat", "chat", NULL};
    static const char want[] = "HTTP/1.1 101 Switching Protocols\r\n"
                               "Upgrade: websocket\r\n"
                               "Connection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                               "Sec-WebSocket-Protocol: chat\r\n"
                               "\r\n";
    char out[512];
    rt_ws_handshake hs;
    rt_str proto;
    const rt_http_request *req = request(RFC_REQUEST_HEAD RFC_REQUEST_WS RFC_REQUEST_TAIL);
    CHECK(req != NULL);
    if (!req)
        return;
    CHECK(rt_ws_is_upgrade(req));
    CHECK_EQ(rt_ws_handshake_check(req, &hs), RT_OK);
    CHECK_EQ(hs.status, 101);
    CHECK(rt_str_eq(hs.key, rt_str_c("dGhlIHNhbXBsZSBub25jZQ==")));
    CHECK(rt_str_eq(hs.origin, rt_str_c("http://example.com")));
    CHECK(rt_str_eq(hs.protocols, rt_str_c("chat, superchat")));
    /* the client's order decides: chat comes first in its list */
    proto = rt_ws_select_protocol(hs.protocols, supported);
    CHECK(rt_str_eq(proto, rt_str_c("chat")));
    CHECK_EQ(rt_ws_format_accept(out, sizeof out, hs.key, proto, NULL), sizeof want - 1);
    CHECK_MEM(out, want, sizeof want - 1);
}

RT_TEST(accept_without_protocol_and_with_extra_headers)
{
    static const char want[] = "HTTP/1.1 101 Switching Protocols\r\n"
                               "Upgrade: websocket\r\n"
                               "Connection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                               "X-A: 1\r\n"
                               "\r\n";
    char out[256];
    size_t n, cap, i;
    rt_str key = rt_str_c("dGhlIHNhbXBsZSBub25jZQ==");
    n = rt_ws_format_accept(out, sizeof out, key, rt_str_c(NULL), "X-A: 1\r\n");
    CHECK_EQ(n, sizeof want - 1);
    CHECK_MEM(out, want, n);
    /* too small: the length needed, a prefix at most, nothing past cap */
    for (cap = 0; cap < n; cap++) {
        memset(out, '#', sizeof out);
        CHECK_EQ(rt_ws_format_accept(out, cap, key, rt_str_c(NULL), "X-A: 1\r\n"), n);
        CHECK_EQ(out[cap], '#');
        /* what was written is the start of the response, then nothing */
        for (i = 0; i < cap && out[i] == want[i]; i++)
            ;
        for (; i < cap && out[i] == '#'; i++)
            ;
        CHECK_EQ(i, cap);
    }
}

RT_TEST(select_protocol_takes_the_clients_first_supported_item)
{
    static const char *const sup[] = {"b", "mqtt", NULL};
    static const char *const none[] = {NULL};
    rt_str r;
    r = rt_ws_select_protocol(rt_str_c(" a ,\tmqtt , b"), sup);
    CHECK(rt_str_eq(r, rt_str_c("mqtt")));
    r = rt_ws_select_protocol(rt_str_c("a,,b"), sup);
    CHECK(rt_str_eq(r, rt_str_c("b")));
    CHECK_EQ(rt_ws_select_protocol(rt_str_c("MQTT, c"), sup).n, 0); /* exact names */
    CHECK_EQ(rt_ws_select_protocol(rt_str_c("mqtt"), none).n, 0);
    CHECK_EQ(rt_ws_select_protocol(rt_str_c("mqtt"), NULL).n, 0);
    CHECK_EQ(rt_ws_select_protocol(rt_str_c(""), sup).n, 0);
    CHECK_EQ(rt_ws_select_protocol(rt_str_c(" , "), sup).n, 0);
}

RT_TEST(handshake_tokens_are_found_in_lists_in_any_case)
{
    CHECK_EQ(check_status(RFC_REQUEST_HEAD
                          "Upgrade: WebSocket\r\nConnection: keep-alive, UPGRADE\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n"),
             101);
    CHECK_EQ(check_status("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c, websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                          "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n"),
             101);
}

RT_TEST(handshake_rejections_have_the_right_status)
{
    /* wrong method: 405 */
    CHECK_EQ(check_status("POST /chat HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n" RFC_REQUEST_WS
                          "Sec-WebSocket-Version: 13\r\n\r\n"),
             405);
    /* HTTP/1.0 */
    CHECK_EQ(check_status("GET /chat HTTP/1.0\r\nHost: h\r\n" RFC_REQUEST_WS
                          "Sec-WebSocket-Version: 13\r\n\r\n"),
             400);
    /* no Upgrade, wrong Upgrade, no Connection: Upgrade */
    CHECK_EQ(check_status(RFC_REQUEST_HEAD "Connection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n"),
             400);
    CHECK_EQ(check_status(RFC_REQUEST_HEAD "Upgrade: websockets\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n"),
             400);
    CHECK_EQ(check_status(RFC_REQUEST_HEAD "Upgrade: websocket\r\nConnection: keep-alive\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n"),
             400);
    /* version: missing or repeated 400, another one 426 */
    CHECK_EQ(check_status(RFC_REQUEST_HEAD RFC_REQUEST_WS "\r\n"), 400);
    CHECK_EQ(check_status(RFC_REQUEST_HEAD RFC_REQUEST_WS
                          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n\r\n"),
             400);
    CHECK_EQ(check_status(RFC_REQUEST_HEAD RFC_REQUEST_WS "Sec-WebSocket-Version: 8\r\n\r\n"),
             426);
    CHECK_EQ(check_status(RFC_REQUEST_HEAD RFC_REQUEST_WS "Sec-WebSocket-Version: 13, 8\r\n\r\n"),
             426);
}

/* A request with the given Sec-WebSocket-Key line(s). */
static int key_status(const char *key_lines)
{
    char text[512];
    snprintf(text, sizeof text,
             RFC_REQUEST_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\n%s"
                              "Sec-WebSocket-Version: 13\r\n\r\n",
             key_lines);
    return check_status(text);
}

RT_TEST(handshake_key_must_be_canonical_base64_of_16_bytes)
{
    CHECK_EQ(key_status("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), 101);
    CHECK_EQ(key_status(""), 400);
    CHECK_EQ(key_status("Sec-WebSocket-Key: \r\n"), 400);
    CHECK_EQ(key_status("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n"), 400);
    /* non-zero padding bits: decodes leniently, but not canonical */
    CHECK_EQ(key_status("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n"), 400);
    /* 24 characters, but 18 bytes */
    CHECK_EQ(key_status("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA\r\n"), 400);
    /* 15 bytes, 17 bytes */
    CHECK_EQ(key_status("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j\r\n"), 400);
    CHECK_EQ(key_status("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZSE=\r\n"), 400);
    CHECK_EQ(key_status("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j*Q==\r\n"), 400);
    CHECK_EQ(key_status("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
             400);
}

RT_TEST(handshake_without_host_is_400_when_built_by_hand)
{
    /* the HTTP parser refuses HTTP/1.1 without Host itself; check ours too */
    rt_http_request req;
    rt_ws_handshake hs;
    memset(&req, 0, sizeof req);
    req.method = rt_str_c("GET");
    req.version_minor = 1;
    req.num_headers = 4;
    req.headers[0].name = rt_str_c("Upgrade");
    req.headers[0].value = rt_str_c("websocket");
    req.headers[1].name = rt_str_c("Connection");
    req.headers[1].value = rt_str_c("Upgrade");
    req.headers[2].name = rt_str_c("Sec-WebSocket-Key");
    req.headers[2].value = rt_str_c("dGhlIHNhbXBsZSBub25jZQ==");
    req.headers[3].name = rt_str_c("Sec-WebSocket-Version");
    req.headers[3].value = rt_str_c("13");
    CHECK_EQ(rt_ws_handshake_check(&req, &hs), RT_E_PROTO);
    CHECK_EQ(hs.status, 400);
    req.headers[req.num_headers].name = rt_str_c("host");
    req.headers[req.num_headers++].value = rt_str_c("h");
    CHECK_EQ(rt_ws_handshake_check(&req, &hs), RT_OK);
    CHECK_EQ(hs.origin.n, 0);
    CHECK_EQ(hs.protocols.n, 0);
}

RT_TEST(plain_requests_are_not_upgrades)
{
    const rt_http_request *req = request("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\r\n");
    CHECK(req && !rt_ws_is_upgrade(req));
    req = request("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: foo, WEBSOCKET\r\n\r\n");
    CHECK(req && rt_ws_is_upgrade(req));
}

RT_TEST(reject_responses_say_why)
{
    char out[512];
    size_t n;
    n = rt_ws_format_reject(out, sizeof out - 1, 426);
    CHECK(n > 0 && n < sizeof out);
    out[n < sizeof out ? n : sizeof out - 1] = '\0';
    CHECK(strncmp(out, "HTTP/1.1 426 ", 13) == 0);
    CHECK(strstr(out, "\r\nSec-WebSocket-Version: 13\r\n") != NULL);
    n = rt_ws_format_reject(out, sizeof out - 1, 405);
    out[n < sizeof out ? n : sizeof out - 1] = '\0';
    CHECK(strncmp(out, "HTTP/1.1 405 ", 13) == 0);
    CHECK(strstr(out, "\r\nAllow: GET\r\n") != NULL);
    n = rt_ws_format_reject(out, sizeof out - 1, 400);
    out[n < sizeof out ? n : sizeof out - 1] = '\0';
    CHECK(strncmp(out, "HTTP/1.1 400 ", 13) == 0);
    CHECK(strstr(out, "Sec-WebSocket-Version") == NULL);
    CHECK(strstr(out, "\r\n\r\n") != NULL);
}

int main(void) { return rt_test_main(); }
