/* Unit tests for the server's connection life: a client that half-closes
 * after its request, requests pipelined behind a held one, a reader that
 * stops reading its reply, and the finds of fuzz/fuzz_server.c (a backlog
 * in the step of the upgrade, a close from both sides at once, a reply that
 * failed, a bad SSE event name, a hold timed out twice, a held request
 * answered at shutdown without a word to the application).
 *
 * A real server on 127.0.0.1 and a raw client socket in the same thread:
 * the test steps the loop itself between the client's reads and writes, so
 * what the server sees in which order is under the test's control. Built alone it tests poll; test_server_epoll.c
 * includes it with RT_BACKEND_EPOLL. Time is only checked as "at least";
 * every wait has a deadline, and alarm() stops a hang. */
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../rt_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WATCHDOG_S 60
/* The /big reply's body: twice the most a Linux TCP send buffer takes by
 * default (net.ipv4.tcp_wmem), so part of it must wait in the server. */
#define BIG (8u << 20)
#define DEADLINE_MS 10000   /* the longest any wait here may take */

typedef struct fixture {
    rt_loop loop;
    rt_server srv;
    rt_conn *held;          /* the request /hold put on hold */
    int closes;             /* on_close calls */
    unsigned close_code;
    rt_result r1, r2;       /* what the API answered inside a callback */
    int hold_expired;       /* on_hold_timeout calls */
    int close_on_timeout;   /* on_hold_timeout closes instead of leaving it to the 204 */
    int probe_saw;          /* hold_expired when the probe timer fired */
} fixture;

static unsigned char big_body[BIG];

static int on_http(rt_conn *c, const rt_http_request *req, rt_str body, void *user)
{
    fixture *fx = (fixture *)user;
    (void)body;
    if (rt_str_eq(req->path, rt_str_c("/big")))
        return rt_conn_reply(c, 200, "application/octet-stream", big_body, BIG, NULL), 0;
    if (rt_str_eq(req->path, rt_str_c("/hold"))) {
        fx->held = c;
        return rt_conn_hold(c, 60000) == RT_OK ? 0 : 500;
    }
    if (rt_str_eq(req->path, rt_str_c("/hold-short")))
        return rt_conn_hold(c, 50) == RT_OK ? 0 : 500;
    if (rt_str_eq(req->path, rt_str_c("/hold-mid")))
        return rt_conn_hold(c, 200) == RT_OK ? 0 : 500;
    if (rt_str_eq(req->path, rt_str_c("/a")) || rt_str_eq(req->path, rt_str_c("/b")))
        return rt_conn_reply(c, 200, "text/plain", req->path.p, req->path.n, NULL), 0;
    if (rt_str_eq(req->path, rt_str_c("/retry"))) {
        char extra[1000]; /* longer than any reply head may be */
        memset(extra, 'x', sizeof extra - 3);
        memcpy(extra + sizeof extra - 3, "\r\n", 3);
        fx->r1 = rt_conn_reply(c, 200, "text/plain", "no", 2, extra);
        fx->r2 = rt_conn_reply(c, 200, "text/plain", "again", 5, NULL);
        return 0;
    }
    if (rt_str_eq(req->path, rt_str_c("/sse"))) {
        rt_conn_sse_start(c, NULL);
        fx->r1 = rt_conn_sse_send(c, "bad\nname", NULL, "x", 1);
        fx->r2 = rt_conn_sse_send(c, "tick", "7", "ok", 2);
        rt_conn_close(c, 0, NULL);
        return 0;
    }
    return 404;
}

/* The WebSocket side: /bye is closed by the server as soon as it opens; a
 * message "flood" is answered with 32 KiB messages until the queue refuses
 * one; anything else is echoed. */
static void on_open(rt_conn *c, const rt_http_request *req, void *user)
{
    (void)user;
    if (rt_str_eq(req->path, rt_str_c("/bye")))
        rt_conn_close(c, 4000, "bye");
}

static void on_message(rt_conn *c, int opcode, rt_str data, void *user)
{
    int i;
    (void)user;
    if (!rt_str_eq(data, rt_str_c("flood"))) {
        rt_conn_send(c, opcode, data.p, data.n);
        return;
    }
    for (i = 0; i < 1000 && rt_conn_send(c, RT_WS_BINARY, big_body, 32768) == RT_OK; i++)
        ;
}

static void on_hold_timeout(rt_conn *c, void *user)
{
    fixture *fx = (fixture *)user;
    fx->hold_expired++;
    if (fx->close_on_timeout)
        rt_conn_close(c, 0, NULL); /* else no reply: the server answers 204 */
}

static void on_probe(rt_loop *loop, void *user)
{
    fixture *fx = (fixture *)user;
    (void)loop;
    fx->probe_saw = fx->hold_expired;
}

static void on_close(rt_conn *c, unsigned code, rt_str reason, void *user)
{
    fixture *fx = (fixture *)user;
    (void)reason;
    if (c == fx->held)
        fx->held = NULL;
    fx->closes++;
    fx->close_code = code;
}

/* idle_ms and max_pending: 0 for the defaults. */
static void fx_init(fixture *fx, uint32_t idle_ms, size_t max_pending)
{
    rt_server_config cfg;
    static int filled;
    size_t i;
    for (i = 0; !filled && i < BIG; i++)
        big_body[i] = (unsigned char)(i * 7 + (i >> 12));
    filled = 1;
    memset(fx, 0, sizeof *fx);
    memset(&cfg, 0, sizeof cfg);
    cfg.host = "127.0.0.1";
    cfg.cb.on_http = on_http;
    cfg.cb.on_close = on_close;
    cfg.cb.on_open = on_open;
    cfg.cb.on_hold_timeout = on_hold_timeout;
    cfg.cb.on_message = on_message;
    cfg.user = fx;
    cfg.idle_timeout_ms = idle_ms;
    cfg.max_pending = max_pending;
    cfg.pending_grace_ms = 600000; /* the backlog rule must not be what closes */
    CHECK_EQ(rt_loop_init(&fx->loop, NULL), RT_OK);
    CHECK_EQ(rt_server_init(&fx->srv, &fx->loop, &cfg), RT_OK);
    alarm(WATCHDOG_S);
}

static void fx_deinit(fixture *fx)
{
    rt_server_deinit(&fx->srv);
    rt_loop_deinit(&fx->loop);
    alarm(0);
}

static void pump(fixture *fx, uint64_t ms)
{
    uint64_t end = rt_time_ms() + ms;
    while (rt_time_ms() < end)
        rt_loop_step(&fx->loop, 2);
}

/* Steps the loop until the server has no connection left; returns the
 * milliseconds that took, or -1 past the deadline. */
static long until_no_conns(fixture *fx)
{
    uint64_t start = rt_time_ms();
    while (rt_server_conn_count(&fx->srv) != 0) {
        if (rt_time_ms() - start > DEADLINE_MS)
            return -1;
        rt_loop_step(&fx->loop, 2);
    }
    return (long)(rt_time_ms() - start);
}

/* A non-blocking client socket with a small receive buffer (set before
 * connect, so the window it announces is small from the start). */
static int client(fixture *fx, int rcvbuf)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    if (rcvbuf)
        CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)rt_server_port(&fx->srv));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_EQ(connect(fd, (struct sockaddr *)&a, sizeof a), 0); /* loopback: the backlog takes it */
    CHECK_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    return fd;
}

static void put(int fd, const char *s)
{
    CHECK_EQ(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* fx_init, then a client that has sent request: its socket. */
static int open_with(fixture *fx, uint32_t idle_ms, size_t max_pending, const char *request)
{
    int fd;
    fx_init(fx, idle_ms, max_pending);
    fd = client(fx, 0);
    put(fd, request);
    return fd;
}

/* Reads into buf (keeping at most cap bytes, counting all in *len) while
 * stepping the loop, chunk bytes per pause_ms at most when pause_ms > 0.
 * Returns 0 at EOF, an errno for a reset, ETIMEDOUT past the deadline. */
static int read_to_end(fixture *fx, int fd, unsigned char *buf, size_t cap, size_t *len,
                       size_t chunk, long pause_ms)
{
    uint64_t start = rt_time_ms();
    static unsigned char scratch[65536];
    *len = 0;
    while (rt_time_ms() - start < DEADLINE_MS) {
        size_t want = chunk ? chunk : sizeof scratch;
        ssize_t n = recv(fd, scratch, want < sizeof scratch ? want : sizeof scratch, 0);
        if (n == 0)
            return 0;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return errno;
        if (n > 0) {
            if (*len < cap)
                memcpy(buf + *len, scratch, (size_t)n < cap - *len ? (size_t)n : cap - *len);
            *len += (size_t)n;
            if (pause_ms > 0)
                pump(fx, (uint64_t)pause_ms);
            continue;
        }
        rt_loop_step(&fx->loop, 2);
    }
    return ETIMEDOUT;
}

static int contains(const unsigned char *buf, size_t len, const char *s)
{
    size_t i, k = strlen(s);
    for (i = 0; i + k <= len; i++) {
        if (memcmp(buf + i, s, k) == 0)
            return 1;
    }
    return 0;
}

/* Where the body of a response starts (after its blank line) in buf. */
static size_t body_offset(const unsigned char *buf, size_t len)
{
    size_t i;
    for (i = 0; i + 4 <= len; i++) {
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
            return i + 4;
    }
    return 0;
}

/* got is one response: the /big reply, whole. */
static void check_big(const unsigned char *got, size_t len)
{
    size_t body = body_offset(got, len);
    CHECK(body > 0 && body < 1024);
    CHECK(body < 1024 && contains(got, body, "Content-Length: 8388608\r\n"));
    CHECK_EQ(len - body, (size_t)BIG);
    if (len - body == BIG)
        CHECK_MEM(got + body, big_body, BIG);
}

/* ---- A client that half-closes ---------------------------------------------- */

RT_TEST(a_half_closed_client_gets_the_whole_8_MiB_reply_then_a_clean_close)
{
    static unsigned char got[BIG + 1024];
    fixture fx;
    size_t len;
    int fd;
    fx_init(&fx, 0, 2 * BIG);
    fd = client(&fx, 0);
    /* The request, then FIN: "I have nothing more to say" (RFC 9112 9.6). */
    put(fd, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ(shutdown(fd, SHUT_WR), 0);
    pump(&fx, 200); /* the server reads the FIN long before the reply is out */
    CHECK_EQ(rt_server_conn_count(&fx.srv), 1u);
    CHECK_EQ(read_to_end(&fx, fd, got, sizeof got, &len, 0, 0), 0); /* EOF, not a reset */
    check_big(got, len);
    CHECK(until_no_conns(&fx) >= 0);
    CHECK_EQ(fx.closes, 0); /* plain HTTP: no on_close */
    close(fd);
    fx_deinit(&fx);
}

RT_TEST(a_half_closed_client_owed_nothing_is_closed_at_once)
{
    unsigned char got[64];
    fixture fx;
    size_t len;
    int fd;
    fd = open_with(&fx, 0, 0, "GET /a HTTP/1.1\r\nHo"); /* a request the FIN cuts short */
    CHECK_EQ(shutdown(fd, SHUT_WR), 0);
    CHECK_EQ(read_to_end(&fx, fd, got, sizeof got, &len, 0, 0), 0);
    CHECK_EQ(len, 0u);
    CHECK(until_no_conns(&fx) >= 0);
    close(fd);
    fx_deinit(&fx);
}

RT_TEST(a_held_request_whose_client_half_closes_ends_with_1006)
{
    fixture fx;
    int fd;
    fd = open_with(&fx, 0, 0, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    pump(&fx, 50);
    CHECK(fx.held != NULL);
    CHECK_EQ(shutdown(fd, SHUT_WR), 0); /* a long poll's client gave up */
    CHECK(until_no_conns(&fx) >= 0);
    CHECK(fx.held == NULL);
    CHECK_EQ(fx.closes, 1);
    CHECK_EQ(fx.close_code, 1006u);
    close(fd);
    fx_deinit(&fx);
}

/* ---- Pipelining behind a held request ---------------------------------------- */

/* The responses in got, in order, must carry these bodies and nothing else. */
static void check_bodies(const unsigned char *got, size_t len, const char *const *bodies, int n)
{
    size_t off = 0;
    int i;
    for (i = 0; i < n; i++) {
        size_t b = body_offset(got + off, len - off), k = strlen(bodies[i]);
        char head[512];
        const char *cl;
        CHECK(b > 0 && b < sizeof head && off + b + k <= len);
        if (!(b > 0 && b < sizeof head && off + b + k <= len))
            return; /* a response is missing: nothing further to compare */
        memcpy(head, got + off, b);
        head[b] = 0;
        CHECK(memcmp(head, "HTTP/1.1 ", 9) == 0);
        cl = strstr(head, "Content-Length: "); /* none on a 204 (RFC 9110 8.6) */
        CHECK_EQ(cl ? (size_t)strtoul(cl + 16, NULL, 10) : 0u, k);
        CHECK_MEM(got + off + b, bodies[i], k);
        off += b + k;
    }
    CHECK_EQ(off, len);
}

RT_TEST(requests_pipelined_behind_a_held_one_are_answered_after_it_in_order)
{
    static const char *const bodies[] = {"held", "/a", "/b"};
    unsigned char got[2048];
    fixture fx;
    size_t len;
    int fd;
    fx_init(&fx, 0, 0);
    fd = client(&fx, 0);
    /* One in the same packet as the held request, one in a later packet. */
    put(fd, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    pump(&fx, 50);
    put(fd, "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    pump(&fx, 50);
    CHECK(fx.held != NULL);
    CHECK_EQ(recv(fd, got, sizeof got, 0), -1); /* nothing may overtake the held reply */
    CHECK_EQ(rt_conn_reply(fx.held, 200, "text/plain", "held", 4, NULL), RT_OK);
    CHECK_EQ(read_to_end(&fx, fd, got, sizeof got, &len, 0, 0), 0);
    CHECK(len < sizeof got);
    check_bodies(got, len, bodies, 3);
    CHECK_EQ(shutdown(fd, SHUT_WR), 0); /* the server waits for our FIN, then closes */
    CHECK(until_no_conns(&fx) >= 0);
    close(fd);
    fx_deinit(&fx);
}

RT_TEST(a_held_request_that_times_out_gets_204_and_the_next_one_follows)
{
    static const char *const bodies[] = {"", "/a"};
    unsigned char got[2048];
    rt_timer probe;
    fixture fx;
    size_t len;
    int fd;
    fx_init(&fx, 0, 0);
    memset(&probe, 0, sizeof probe);
    fd = client(&fx, 0);
    put(fd, "GET /hold-short HTTP/1.1\r\nHost: x\r\n\r\n"
            "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    pump(&fx, 5);
    /* The hold (50 ms) has a timer of its own: it ends before a timer due
     * at 600 ms, however late both run (timers fire in deadline order),
     * and before the server's 750 ms housekeeping tick could see it. */
    CHECK_EQ(rt_timer_start(&fx.loop, &probe, 600, 0, on_probe, &fx), RT_OK);
    CHECK_EQ(read_to_end(&fx, fd, got, sizeof got, &len, 0, 0), 0);
    CHECK(len < sizeof got);
    CHECK(memcmp(got, "HTTP/1.1 204 ", 13) == 0);
    check_bodies(got, len, bodies, 2);
    CHECK_EQ(fx.hold_expired, 1);
    while (rt_timer_active(&probe))
        rt_loop_step(&fx.loop, 10);
    CHECK_EQ(fx.probe_saw, 1);
    close(fd);
    fx_deinit(&fx);
}

RT_TEST(a_held_request_closed_at_its_timeout_is_not_timed_out_again)
{
    fixture fx;
    int a, b;
    fx_init(&fx, 0, 0);
    fx.close_on_timeout = 1;
    a = client(&fx, 0);
    b = client(&fx, 0);
    put(a, "GET /hold-short HTTP/1.1\r\nHost: x\r\n\r\n");
    put(b, "GET /hold-mid HTTP/1.1\r\nHost: x\r\n\r\n");
    /* a is closed at 50 ms but lingers: its client never sends FIN. The
     * pass for b's deadline must leave it alone. */
    while (fx.hold_expired < 2) /* the watchdog alarm bounds it */
        rt_loop_step(&fx.loop, 10);
    pump(&fx, 100);
    CHECK_EQ(fx.hold_expired, 2);
    close(a);
    close(b);
    CHECK(until_no_conns(&fx) >= 0);
    CHECK_EQ(fx.closes, 2);
    fx_deinit(&fx);
}

/* ---- A reader that stops reading ---------------------------------------------- */

RT_TEST(a_reply_nobody_reads_is_given_up_after_the_idle_timeout)
{
    fixture fx;
    long ms;
    int fd;
    uint64_t start;
    /* Under the backlog cap: only the idle rule applies. */
    fd = open_with(&fx, 300, 2 * BIG, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    start = rt_time_ms();
    pump(&fx, 100);
    CHECK_EQ(rt_server_conn_count(&fx.srv), 1u);
    ms = until_no_conns(&fx);
    CHECK(ms >= 0);
    CHECK(rt_time_ms() - start >= 300 - 1); /* both clocks count whole milliseconds */
    close(fd);
    fx_deinit(&fx);
}

RT_TEST(a_slow_reader_that_keeps_reading_gets_the_whole_reply)
{
    static unsigned char got[BIG + 1024];
    fixture fx;
    size_t len;
    int fd;
    /* 64 KiB at most every 5 ms: the reply takes over two idle timeouts,
     * but it moves all the time. */
    fd = open_with(&fx, 300, 2 * BIG, "GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK_EQ(read_to_end(&fx, fd, got, sizeof got, &len, 65536, 5), 0);
    check_big(got, len);
    close(fd);
    fx_deinit(&fx);
}

/* ---- What fuzz/fuzz_server.c found --------------------------------------------- */

static size_t put_upgrade(char *buf, size_t cap, const char *path)
{
    int n = snprintf(buf, cap,
                     "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n", path);
    CHECK(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

static size_t put_frame(char *buf, size_t cap, int opcode, const void *p, size_t n)
{
    static const unsigned char mask[4] = {1, 2, 3, 4};
    size_t k = rt_ws_format_frame(buf, cap, opcode, p, n, mask);
    CHECK(k <= cap);
    return k;
}

/* got holds the 101 (RFC 6455's sample key), then exactly one frame: a close
 * with code. */
static void check_101_then_close(const unsigned char *got, size_t len, unsigned code)
{
    static const char accept[] = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
    size_t b = body_offset(got, len);
    CHECK(len > 12 && memcmp(got, "HTTP/1.1 101", 12) == 0);
    CHECK(b > 0 && b + 4 <= len);
    if (!(b > 0 && b + 4 <= len))
        return;
    CHECK(contains(got, b, accept));
    CHECK_EQ(got[b], 0x88);                     /* FIN + close, unmasked */
    CHECK_EQ((size_t)(got[b + 1] & 0x7f) + 2, len - b); /* nothing after it */
    CHECK_EQ((unsigned)(got[b + 2] << 8 | got[b + 3]), code);
}

RT_TEST(a_backlog_in_the_step_of_the_upgrade_keeps_the_101_before_the_1008)
{
    char out[1024];
    unsigned char got[4096];
    fixture fx;
    size_t n, len;
    int fd;
    fx_init(&fx, 0, 1024); /* the hard cap is then 1024 + 1 MiB */
    fd = client(&fx, 0);
    /* The upgrade and, in the same packet, a message whose answer passes
     * the hard cap before the step ends, so before anything is written. */
    n = put_upgrade(out, sizeof out, "/");
    n += put_frame(out + n, sizeof out - n, RT_WS_TEXT, "flood", 5);
    CHECK_EQ(send(fd, out, n, MSG_NOSIGNAL), (ssize_t)n);
    CHECK_EQ(shutdown(fd, SHUT_WR), 0);
    CHECK_EQ(read_to_end(&fx, fd, got, sizeof got, &len, 0, 0), 0);
    check_101_then_close(got, len, 1008);
    CHECK(until_no_conns(&fx) >= 0);
    close(fd);
    fx_deinit(&fx);
}

RT_TEST(closes_crossing_each_other_still_send_the_101_and_our_close)
{
    unsigned char close_payload[2] = {0x03, 0xe8}; /* 1000 */
    char out[1024];
    unsigned char got[4096];
    fixture fx;
    size_t n, len;
    int fd;
    fx_init(&fx, 0, 0);
    fd = client(&fx, 0);
    /* /bye is closed by on_open (4000) while the client's own close (1000)
     * is already in the same packet: both closes cross. */
    n = put_upgrade(out, sizeof out, "/bye");
    n += put_frame(out + n, sizeof out - n, RT_WS_CLOSE, close_payload, 2);
    CHECK_EQ(send(fd, out, n, MSG_NOSIGNAL), (ssize_t)n);
    pump(&fx, 50);
    CHECK_EQ(shutdown(fd, SHUT_WR), 0);
    CHECK_EQ(read_to_end(&fx, fd, got, sizeof got, &len, 0, 0), 0);
    check_101_then_close(got, len, 4000);
    CHECK(until_no_conns(&fx) >= 0);
    CHECK_EQ(fx.closes, 1);
    CHECK_EQ(fx.close_code, 4000u); /* ours came first */
    close(fd);
    fx_deinit(&fx);
}

RT_TEST(a_reply_that_failed_can_be_made_again)
{
    static const char *const bodies[] = {"again"};
    unsigned char got[2048];
    fixture fx;
    size_t len;
    int fd;
    fd = open_with(&fx, 0, 0, "GET /retry HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK_EQ(read_to_end(&fx, fd, got, sizeof got, &len, 0, 0), 0);
    CHECK_EQ(fx.r1, RT_E_INVAL); /* extra headers too long: nothing was queued */
    CHECK_EQ(fx.r2, RT_OK);
    check_bodies(got, len, bodies, 1);
    close(fd);
    fx_deinit(&fx);
}

RT_TEST(an_sse_event_name_with_a_line_break_is_refused_with_inval)
{
    unsigned char got[2048];
    fixture fx;
    size_t len, b;
    int fd;
    fd = open_with(&fx, 0, 0, "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ(read_to_end(&fx, fd, got, sizeof got, &len, 0, 0), 0);
    CHECK_EQ(fx.r1, RT_E_INVAL);
    CHECK_EQ(fx.r2, RT_OK);
    b = body_offset(got, len);
    CHECK(b > 0);
    CHECK_EQ(len - b, strlen("event: tick\nid: 7\ndata: ok\n\n"));
    CHECK_MEM(got + b, "event: tick\nid: 7\ndata: ok\n\n", len - b);
    close(fd);
    fx_deinit(&fx);
}

/* ---- Graceful shutdown ----------------------------------------------------------- */

/* The server, not the application, answers a held request at shutdown: the
 * application must hear that the request is over (it may keep it in a list
 * of waiters), as it does for a WebSocket or an SSE stream. */
RT_TEST(shutdown_answers_a_held_request_503_and_tells_the_application_with_1001)
{
    unsigned char got[512];
    fixture fx;
    size_t len;
    int fd;
    fd = open_with(&fx, 0, 0, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    pump(&fx, 50);
    CHECK(fx.held != NULL);
    rt_server_shutdown(&fx.srv, 1000);
    CHECK(fx.held == NULL);
    CHECK_EQ(fx.closes, 1);
    CHECK_EQ(fx.close_code, 1001u);
    CHECK_EQ(read_to_end(&fx, fd, got, sizeof got - 1, &len, 0, 0), 0); /* then EOF */
    got[len < sizeof got - 1 ? len : sizeof got - 1] = 0;
    CHECK(len > 12 && memcmp(got, "HTTP/1.1 503", 12) == 0);
    CHECK(contains(got, len, "Retry-After: 1\r\n") && contains(got, len, "Connection: close\r\n"));
    CHECK(until_no_conns(&fx) >= 0);
    CHECK(rt_server_done(&fx.srv));
    CHECK_EQ(fx.closes, 1); /* once */
    close(fd);
    fx_deinit(&fx);
}

int main(void) { return rt_test_main(); }
