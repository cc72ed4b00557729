/* fuzz_server.c - libFuzzer target for the server state machine (src/io/server.c, src/io/conn.c).
 *
 * The real server on real sockets: four rt_servers share one rt_loop for the
 * whole process, on 127.0.0.1 with ports picked by the kernel, each with
 * small limits, short timeouts and callbacks that use the API (replies small
 * and 200 KB, error statuses, held requests woken later or by timeout, SSE
 * streams, WebSocket echo, broadcast, close, floods past the queue cap).
 * Each input is one client session:
 *
 *   byte 0     bits 0-1 pick the server (see variants[]); bit 2 half-closes
 *              the clients (SHUT_WR) once everything is written; bit 3
 *              closes them with a reset instead of a FIN; bit 4 shrinks
 *              their receive buffers, so the server's writes go in pieces;
 *              bits 5-7 all set wait up to PATIENT_MS for the server's timers
 *              (timeouts, pings, held requests) instead of hanging up as
 *              soon as the server is quiet; bits 5-7 = 110 wait as long but
 *              read nothing meanwhile (deaf), so queues back up and the
 *              backlog's grace period runs out; bits 5-7 = 101 shut the
 *              server down gracefully while the clients are still on
 *              (rt_server_shutdown with a deadline of 0-63 ms), check that
 *              it ends on time and tells every client, then start it
 *              again (rt_server_deinit, rt_server_init); 100 likewise,
 *              with clients that read nothing until the server is done
 *              (what is left at the deadline is cut off)
 *   the rest   bytes to send; what follows the first "~~~" goes to a second
 *              connection, opened together with the first
 *
 * Bytes go out in pieces whose sizes come from a generator seeded by the
 * input, with a loop step after each, while the clients read and discard
 * what comes back. Then the clients close and the loop runs until the
 * server has freed every connection. Traps unless:
 *   - every connection is gone (counted and freed) within DRAIN_MS; after
 *     rt_server_shutdown, within its deadline and DRAIN_MS, and every
 *     client has seen the server close;
 *   - whatever a client receives starts "HTTP/1.1 ", and "HTTP/1.1 101"
 *     when the input starts with a valid upgrade the server accepts;
 *   - every WebSocket, SSE stream and held request gets one on_close
 *     (a held one: or a reply), and no other connection gets one;
 *   - callbacks see what the API promises (sizes within limits, valid
 *     UTF-8 text, the right kind) and misuse gets the documented errors.
 * ASan, UBSan and LeakSanitizer watch the rest.
 *
 *     make build/fuzz/fuzz_server && mkdir -p build/corpus/fuzz_server &&
 *     ./build/fuzz/fuzz_server -max_total_time=60 -timeout=10 \
 *         build/corpus/fuzz_server fuzz/corpus/fuzz_server
 */
#define RT_IMPLEMENTATION
#include "../rt.h"
#include "fuzz.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


#define NSRV 4
#define MAX_LIVE 64       /* connections owed an on_close at once */
#define BIG (200 * 1024)  /* the large reply: several partial writes */
#define PATIENT_MS 40     /* longest wait for the server's timers */
#define DRAIN_MS 2000     /* after the clients close, the server must be empty */
#define MAX_STEPS 20000   /* loop steps while writing or settling */

/* ---- The servers ------------------------------------------------------------- */

typedef struct variant {
    size_t max_conns, max_message, max_header_bytes, max_body, max_pending;
    uint32_t rate_msgs, rate_bytes, accept_rate;
    int callbacks;
} variant;

static const variant variants[NSRV] = {
    /* small: every limit within reach of a short input */
    {0, 1024, 512, 256, 4096, 0, 0, 0, 1},
    /* roomy: the 200 KB reply fits the queue; bodies grow the read buffer;
     * rate limits on WebSocket messages */
    {0, 1024, 2048, 4096, 0, 5, 3000, 0, 1},
    /* strict: one connection (the second gets 503), one accept per second
     * and source address (429) */
    {1, 1024, 512, 256, 4096, 0, 0, 1, 1},
    /* bare: no callbacks, the server's defaults (404, accept every upgrade) */
    {0, 1024, 512, 256, 4096, 0, 0, 0, 0},
};

static const char *const subprotocols[] = {"chat", "superchat", NULL};
static const char *const origins_some[] = {"https://ok.example", NULL};
static const char *const origins_any[] = {"*", NULL};

static rt_loop loop;
static rt_server srvs[NSRV];
static char big[BIG];

/* ---- Connections owed an on_close ------------------------------------------ */

static rt_conn *live[MAX_LIVE];
static size_t nlive;
/* Held requests whose hold ended with a reply: the reply itself may still
 * drop the connection (queue overflow) and so call on_close. Cleared after
 * each input, once the server has freed everything. */
static rt_conn *done[MAX_LIVE];
static size_t ndone;
static unsigned hold_timeouts;

static int find(rt_conn **set, size_t n, const rt_conn *c)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (set[i] == c)
            return (int)i;
    }
    return -1;
}

static int take(rt_conn **set, size_t *n, const rt_conn *c)
{
    int i = find(set, *n, c);
    if (i < 0)
        return 0;
    set[i] = set[--*n];
    return 1;
}

static void track(rt_conn *c)
{
    MUST(nlive < MAX_LIVE && find(live, nlive, c) < 0);
    live[nlive++] = c;
}

/* A held request was answered: no on_close is owed any more. */
static void held_done(rt_conn *c)
{
    if (take(live, &nlive, c) && ndone < MAX_LIVE)
        done[ndone++] = c;
}

/* The live connections of one kind, copied: sending to one may close
 * another (and change live[]). */
static size_t snapshot(int kind, rt_conn **out)
{
    size_t i, n = 0;
    for (i = 0; i < nlive; i++) {
        if (rt_conn_kind(live[i]) == kind)
            out[n++] = live[i];
    }
    return n;
}

static size_t max_message_of(rt_conn *c)
{
    return variants[rt_conn_server(c) - srvs].max_message;
}

/* path == route. The memcmp comes first and runs whatever the lengths, so
 * libFuzzer's memcmp hook learns the route names. */
static int path_is(rt_str path, const char *route)
{
    size_t n = strlen(route);
    return path.n > 0 && memcmp(path.p, route, path.n < n ? path.n : n) == 0 && path.n == n;
}

/* The results a send may have on a connection that may be closing. */
static int send_ok(rt_result r)
{
    return r == RT_OK || r == RT_E_CLOSED || r == RT_E_LIMIT || r == RT_E_NOMEM;
}

/* ---- Fan-out: held requests and SSE streams -------------------------------- */

static void wake_held(const void *body, size_t n)
{
    rt_conn *held[MAX_LIVE];
    size_t i, k = snapshot(RT_CONN_HELD, held);
    for (i = 0; i < k; i++) {
        if (find(live, nlive, held[i]) < 0)
            continue; /* closed by an earlier reply */
        MUST(send_ok(rt_conn_reply(held[i], 200, "text/plain", body, n, NULL)));
        if (find(live, nlive, held[i]) >= 0)
            held_done(held[i]);
    }
}

static void fan_sse(const void *data, size_t n)
{
    rt_conn *sse[MAX_LIVE];
    size_t i, k = snapshot(RT_CONN_SSE, sse);
    for (i = 0; i < k; i++) {
        if (find(live, nlive, sse[i]) >= 0)
            MUST(send_ok(rt_conn_sse_send(sse[i], "fan", NULL, data, n)));
    }
}

/* ---- HTTP routes --------------------------------------------------------------- */

static long query_num(const rt_http_request *req, const char *key, long dflt, long max)
{
    char buf[16];
    long v;
    if (rt_http_query_get(req->query, key, buf, sizeof buf) < 0)
        return dflt;
    v = strtol(buf, NULL, 10);
    return v < -max ? -max : v > max ? max : v;
}

static int reply_text(rt_conn *c, const char *text)
{
    MUST(send_ok(rt_conn_reply(c, 200, "text/plain", text, strlen(text), NULL)));
    return 0;
}

static int route_hello(rt_conn *c, const rt_http_request *req, rt_str body)
{
    (void)req;
    (void)body;
    return reply_text(c, "hello\n");
}

static int route_echo(rt_conn *c, const rt_http_request *req, rt_str body)
{
    (void)req;
    MUST(send_ok(rt_conn_reply(c, 200, "application/octet-stream", body.p, body.n, NULL)));
    return 0;
}

static int route_big(rt_conn *c, const rt_http_request *req, rt_str body)
{
    (void)req;
    (void)body;
    MUST(send_ok(rt_conn_reply(c, 200, "text/plain", big, sizeof big, "X-Big: 1\r\n")));
    return 0;
}

static int route_hold(rt_conn *c, const rt_http_request *req, rt_str body)
{
    (void)body;
    MUST(rt_conn_hold(c, (uint32_t)query_num(req, "ms", 5, 30) & 63u) == RT_OK);
    MUST(rt_conn_kind(c) == RT_CONN_HELD);
    track(c);
    MUST(rt_conn_hold(c, 1) == RT_E_INVAL);
    MUST(rt_conn_sse_start(c, NULL) == RT_E_INVAL);
    return 0;
}

/* Held, then answered before the handler returns. */
static int route_holdreply(rt_conn *c, const rt_http_request *req, rt_str body)
{
    (void)req;
    (void)body;
    MUST(rt_conn_hold(c, 1000) == RT_OK);
    MUST(send_ok(rt_conn_reply(c, 200, NULL, "now", 3, NULL)));
    MUST(rt_conn_kind(c) == RT_CONN_HTTP);
    return 0;
}

static int route_wake(rt_conn *c, const rt_http_request *req, rt_str body)
{
    (void)req;
    wake_held(body.p, body.n);
    return reply_text(c, "woken\n");
}

static int route_sse(rt_conn *c, const rt_http_request *req, rt_str body)
{
    rt_result r;
    size_t n = (size_t)query_num(req, "n", 5, 9000);
    (void)body;
    r = rt_conn_sse_start(c, "Access-Control-Allow-Origin: *\r\n");
    if (rt_conn_kind(c) != RT_CONN_SSE)
        return 0; /* not even queued: the connection is closing */
    track(c);
    MUST(send_ok(r));
    MUST(rt_conn_hold(c, 1) == RT_E_INVAL);
    MUST(rt_conn_reply(c, 200, NULL, NULL, 0, NULL) == RT_E_INVAL);
    MUST(send_ok(rt_conn_sse_send(c, "hello", "1", "a\nb\r\nc\rd", 8)));
    MUST(rt_conn_sse_send(c, "bad\nname", NULL, "x", 1) == RT_E_INVAL);
    if (find(live, nlive, c) >= 0)
        MUST(send_ok(rt_conn_sse_send(c, NULL, NULL, big, n)));
    return 0;
}

static int route_fan(rt_conn *c, const rt_http_request *req, rt_str body)
{
    rt_result r;
    (void)req;
    fan_sse(body.p, body.n);
    r = rt_server_broadcast(rt_conn_server(c), RT_WS_BINARY, body.p, body.n, NULL);
    MUST(r >= 0 || r == RT_E_LIMIT || r == RT_E_NOMEM);
    MUST(send_ok(rt_conn_reply(c, 204, NULL, NULL, 0, NULL)));
    return 0;
}

/* Closed from the handler without a reply. */
static int route_close(rt_conn *c, const rt_http_request *req, rt_str body)
{
    (void)req;
    (void)body;
    rt_conn_close(c, 1000, "bye");
    return 0;
}

/* Every kind of misuse after a reply. */
static int route_twice(rt_conn *c, const rt_http_request *req, rt_str body)
{
    (void)req;
    (void)body;
    reply_text(c, "once\n");
    MUST(rt_conn_reply(c, 200, NULL, "x", 1, NULL) == RT_E_INVAL);
    MUST(rt_conn_hold(c, 1) == RT_E_INVAL);
    MUST(rt_conn_sse_start(c, NULL) == RT_E_INVAL);
    MUST(rt_conn_sse_send(c, NULL, NULL, "x", 1) == RT_E_INVAL);
    MUST(rt_conn_send(c, RT_WS_TEXT, "x", 1) == RT_E_CLOSED);
    return 404; /* ignored: already answered */
}

/* Extra headers too long for the reply's head buffer. */
static int route_hdrs(rt_conn *c, const rt_http_request *req, rt_str body)
{
    char hdrs[900];
    (void)req;
    (void)body;
    memset(hdrs, 'h', sizeof hdrs);
    memcpy(hdrs, "X-Long: ", 8);
    memcpy(hdrs + sizeof hdrs - 3, "\r\n", 3);
    MUST(rt_conn_reply(c, 200, NULL, "x", 1, hdrs) == RT_E_INVAL);
    /* Nothing was queued, so the request is still open for a retry. */
    MUST(send_ok(rt_conn_reply(c, 200, NULL, "x", 1, NULL)));
    return 0;
}

static int route_status(rt_conn *c, const rt_http_request *req, rt_str body)
{
    (void)c;
    (void)body;
    return (int)query_num(req, "s", 500, 100000);
}

static int route_reply(rt_conn *c, const rt_http_request *req, rt_str body)
{
    (void)body;
    MUST(send_ok(rt_conn_reply(c, (int)query_num(req, "s", 200, 1000), NULL, "r", 1, NULL)));
    return 0;
}

static int route_peer(rt_conn *c, const rt_http_request *req, rt_str body)
{
    char small[4], addr[64];
    rt_result r;
    (void)req;
    (void)body;
    MUST(rt_conn_peer(c, small, sizeof small) == RT_E_NOSPACE);
    r = rt_conn_peer(c, addr, sizeof addr);
    MUST(r > 0 && (size_t)r == strlen(addr));
    return reply_text(c, addr);
}

static int route_nil(rt_conn *c, const rt_http_request *req, rt_str body)
{
    (void)c;
    (void)req;
    (void)body;
    return 0; /* neither answered nor held: the server says 500 */
}

typedef int (*route_fn)(rt_conn *c, const rt_http_request *req, rt_str body);

static const struct route {
    const char *path;
    route_fn fn;
} routes[] = {
    {"/", route_hello},         {"/echo", route_echo},   {"/big", route_big},
    {"/hold", route_hold},      {"/holdreply", route_holdreply},
    {"/wake", route_wake},      {"/sse", route_sse},     {"/fan", route_fan},
    {"/close", route_close},    {"/twice", route_twice}, {"/hdrs", route_hdrs},
    {"/status", route_status},  {"/reply", route_reply}, {"/peer", route_peer},
    {"/nil", route_nil},
};

static int on_http(rt_conn *c, const rt_http_request *req, rt_str body, void *user)
{
    size_t i;
    (void)user;
    MUST(rt_conn_kind(c) == RT_CONN_HTTP);
    MUST(body.n == req->content_length);
    for (i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (path_is(req->path, routes[i].path))
            return routes[i].fn(c, req, body);
    }
    return 404;
}

/* ---- WebSocket callbacks ---------------------------------------------------- */

static int on_upgrade(rt_conn *c, const rt_http_request *req, void *user)
{
    (void)c;
    (void)user;
    if (path_is(req->path, "/deny"))
        return 403;
    if (path_is(req->path, "/teapot"))
        return 200; /* not an error status: the server must cope */
    return 0;
}

static void flood(rt_conn *c, unsigned k)
{
    unsigned i;
    for (i = 0; i < k; i++) {
        rt_result r = rt_conn_send(c, RT_WS_BINARY, big, max_message_of(c));
        MUST(send_ok(r));
        if (r != RT_OK)
            break;
    }
}

static void on_open(rt_conn *c, const rt_http_request *req, void *user)
{
    rt_str proto = rt_conn_protocol(c);
    (void)user;
    MUST(rt_conn_kind(c) == RT_CONN_WS);
    MUST(proto.n == 0 || rt_str_eq(proto, rt_str_c("chat")) ||
         rt_str_eq(proto, rt_str_c("superchat")));
    track(c);
    rt_conn_set_user(c, c);
    MUST(rt_conn_user(c) == c);
    if (path_is(req->path, "/hello"))
        MUST(send_ok(rt_conn_send(c, RT_WS_TEXT, "hello", 5)));
    else if (path_is(req->path, "/bye"))
        rt_conn_close(c, 1001, "bye");
    else if (path_is(req->path, "/flood"))
        flood(c, 6);
}

/* "c" + 2 bytes of code + reason: a close with any code, valid or not. */
static void close_with(rt_conn *c, rt_str data)
{
    char reason[160];
    unsigned code = 1000;
    size_t n = 0;
    if (data.n >= 3) {
        code = (unsigned)(unsigned char)data.p[1] << 8 | (unsigned char)data.p[2];
        n = data.n - 3 < sizeof reason - 1 ? data.n - 3 : sizeof reason - 1;
        memcpy(reason, data.p + 3, n);
    }
    reason[n] = '\0';
    rt_conn_close(c, code, n ? reason : NULL);
}

/* Everything a WebSocket may not do. */
static void ws_misuse(rt_conn *c)
{
    rt_msg *m;
    MUST(rt_conn_reply(c, 200, NULL, "x", 1, NULL) == RT_E_INVAL);
    MUST(rt_conn_hold(c, 1) == RT_E_INVAL);
    MUST(rt_conn_sse_start(c, NULL) == RT_E_INVAL);
    MUST(rt_conn_sse_send(c, NULL, NULL, "x", 1) == RT_E_INVAL);
    MUST(rt_conn_send(c, RT_WS_BINARY, big, max_message_of(c) + 1) == RT_E_LIMIT);
    MUST(rt_msg_ws(rt_conn_server(c), RT_WS_BINARY, big, max_message_of(c) + 1) == NULL);
    m = rt_msg_ws(rt_conn_server(c), RT_WS_TEXT, "shared", 6);
    MUST(m != NULL);
    MUST(send_ok(rt_conn_send_msg(c, m)));
    if (find(live, nlive, c) >= 0)
        MUST(send_ok(rt_conn_send_msg(c, m)));
    rt_msg_release(m);
}

/* The first byte picks what to do with a message; the default echoes it. */
static void on_message(rt_conn *c, int opcode, rt_str data, void *user)
{
    rt_server *srv = rt_conn_server(c);
    uint32_t retry;
    rt_result r;
    (void)user;
    MUST(rt_conn_kind(c) == RT_CONN_WS && find(live, nlive, c) >= 0);
    MUST(opcode == RT_WS_TEXT || opcode == RT_WS_BINARY);
    MUST(data.n <= max_message_of(c));
    MUST(opcode != RT_WS_TEXT || rt_utf8_valid(data.p, data.n));
    switch (data.n ? data.p[0] : 0) {
    case 'b':
    case 'x':
        r = rt_server_broadcast(srv, opcode, data.p, data.n, data.p[0] == 'x' ? c : NULL);
        MUST(r >= 0 || r == RT_E_NOMEM);
        break;
    case 'c': close_with(c, data); break;
    case 'w': wake_held(data.p, data.n); break;
    case 's': fan_sse(data.p, data.n); break;
    case 'B': flood(c, data.n > 1 ? (unsigned)data.p[1] & 15u : 8u); break;
    case 'q': (void)rt_conn_rate_check(c, data.n, &retry); break;
    case 'r': ws_misuse(c); break;
    default: MUST(send_ok(rt_conn_send(c, opcode, data.p, data.n))); break;
    }
}

static void on_close(rt_conn *c, unsigned code, rt_str reason, void *user)
{
    (void)user;
    (void)code;
    MUST(reason.n <= RT_WS_MAX_CONTROL - 2);
    MUST(take(live, &nlive, c) || take(done, &ndone, c));
}

static void on_drain(rt_conn *c, void *user)
{
    (void)user;
    MUST(rt_conn_queued(c) == 0);
}

static void on_rate_limited(rt_conn *c, uint32_t retry_after_ms, void *user)
{
    (void)c;
    (void)user;
    MUST(retry_after_ms >= 1 && retry_after_ms <= 2000);
}

/* Answered here, closed here, or left to the server's 204, in turn. */
static void on_hold_timeout(rt_conn *c, void *user)
{
    (void)user;
    MUST(rt_conn_kind(c) == RT_CONN_HELD && find(live, nlive, c) >= 0);
    switch (hold_timeouts++ % 3) {
    case 0: MUST(send_ok(rt_conn_reply(c, 200, NULL, "late", 4, NULL))); break;
    case 1: rt_conn_close(c, 0, NULL); break;
    default: break;
    }
    if (find(live, nlive, c) >= 0)
        held_done(c);
}

/* ---- Setup, once per process ---------------------------------------------------- */

static void config_of(int i, rt_server_config *cfg)
{
    const variant *v = &variants[i];
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->max_conns = v->max_conns;
    cfg->max_message = v->max_message;
    cfg->max_header_bytes = v->max_header_bytes;
    cfg->max_body = v->max_body;
    cfg->max_pending = v->max_pending;
    cfg->rate_msgs = v->rate_msgs;
    cfg->rate_bytes = v->rate_bytes;
    cfg->accept_rate = v->accept_rate;
    cfg->pending_grace_ms = 15;
    cfg->ping_interval_ms = 10;
    cfg->idle_timeout_ms = 30;
    cfg->request_timeout_ms = 15;
    cfg->close_timeout_ms = 15;
    cfg->sse_keepalive_ms = 10;
    if (!v->callbacks)
        return;
    cfg->subprotocols = subprotocols;
    cfg->origins = i == 2 ? origins_any : origins_some;
    cfg->cb.on_http = on_http;
    cfg->cb.on_upgrade = on_upgrade;
    cfg->cb.on_open = on_open;
    cfg->cb.on_message = on_message;
    cfg->cb.on_close = on_close;
    cfg->cb.on_drain = on_drain;
    cfg->cb.on_rate_limited = on_rate_limited;
    cfg->cb.on_hold_timeout = on_hold_timeout;
}

/* Starts server i (again, after a shutdown) on a port the kernel picks. */
static void server_start(int i)
{
    rt_server_config cfg;
    int sndbuf = 4096;
    config_of(i, &cfg);
    MUST(rt_server_init(&srvs[i], &loop, &cfg) == RT_OK);
    /* Loopback sockets start with send buffers of megabytes: a small one,
     * inherited by the accepted sockets, makes the server's writes partial
     * (EAGAIN, queues that stay, backpressure). listen_fd is private; this
     * is a test. */
    if (i < 2)
        MUST(setsockopt(srvs[i].listen_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) == 0);
}

static void setup(void)
{
    static int ready;
    size_t i;
    if (ready)
        return;
    ready = 1;
    for (i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    MUST(rt_loop_init(&loop, NULL) == RT_OK);
    for (i = 0; i < NSRV; i++)
        server_start((int)i);
}

/* ---- The client side ----------------------------------------------------------- */

typedef struct client {
    int fd;           /* -1 once closed */
    const uint8_t *d; /* bytes not yet written */
    size_t n;
    int eof;          /* the server closed or reset the connection */
    size_t got;       /* bytes received */
    char head[12];    /* the first of them */
} client;

/* Waits for a non-blocking connect to finish. libFuzzer's SIGALRM (the
 * -timeout watchdog) interrupts system calls: a blocking connect would fail
 * with EINTR now and then, so the wait is a poll that retries. */
static void client_wait_connected(int fd)
{
    struct pollfd pfd;
    socklen_t len = sizeof(int);
    int err = 0, r;
    pfd.fd = fd;
    pfd.events = POLLOUT;
    do {
        r = poll(&pfd, 1, 1000);
    } while (r < 0 && errno == EINTR);
    MUST(r == 1);
    MUST(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0);
}

/* Connects from 127.0.0.src (many sources keep the ports and the
 * accept-rate slots apart); the socket stays non-blocking. */
static void client_open(client *cl, int port, uint32_t src, int small_rcvbuf)
{
    struct sockaddr_in a;
    int one = 1, small = 2048;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    MUST(fd >= 0);
#ifdef IP_BIND_ADDRESS_NO_PORT
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
    (void)one;
    if (small_rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7f000000u | src);
    MUST(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    MUST(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        MUST(errno == EINPROGRESS || errno == EINTR);
        client_wait_connected(fd);
    }
    cl->fd = fd;
}

/* Reads and discards everything there is. 1 when anything happened. */
static int client_read(client *cl)
{
    static char buf[65536];
    int progress = 0;
    while (cl->fd >= 0 && !cl->eof) {
        ssize_t r = recv(cl->fd, buf, sizeof buf, 0);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (r < 0 && errno == EINTR)
            continue;
        progress = 1;
        if (r <= 0) {
            cl->eof = 1; /* EOF or a reset: the server is done with us */
            break;
        }
        if (cl->got < sizeof cl->head) {
            size_t k = sizeof cl->head - cl->got;
            memcpy(cl->head + cl->got, buf, (size_t)r < k ? (size_t)r : k);
        }
        cl->got += (size_t)r;
    }
    return progress;
}

/* Writes up to piece bytes. 1 when anything happened. */
static int client_write(client *cl, size_t piece)
{
    ssize_t w;
    if (cl->fd < 0 || cl->n == 0)
        return 0;
    w = send(cl->fd, cl->d, piece < cl->n ? piece : cl->n, MSG_NOSIGNAL);
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (w < 0) {
        cl->n = 0; /* the server hung up: the rest cannot go */
        return 1;
    }
    cl->d += w;
    cl->n -= (size_t)w;
    return 1;
}

static void client_close(client *cl, int reset)
{
    struct linger lg;
    if (cl->fd < 0)
        return;
    if (reset) {
        lg.l_onoff = 1;
        lg.l_linger = 0;
        setsockopt(cl->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(cl->fd);
    cl->fd = -1;
}

/* ---- One session ---------------------------------------------------------------- */

enum {
    SEL_SHUT = 1 << 2,
    SEL_RESET = 1 << 3,
    SEL_SMALL_RCVBUF = 1 << 4,
    SEL_PATIENT = 7 << 5,
    SEL_DEAF = 6 << 5,
    SEL_SHUTDOWN = 5 << 5,
    SEL_SHUTDOWN_DEAF = 4 << 5
};

typedef struct session {
    rt_server *srv;
    unsigned sel;
    client cl[2];
    int ncl;
    uint32_t rng;
} session;

/* Often a byte, often a few, sometimes a run, sometimes everything left. */
static size_t piece_size(uint32_t *rng)
{
    uint32_t x = next_rand(rng);
    switch (x & 3) {
    case 0: return 1;
    case 1: return 1 + (x >> 2) % 16;
    case 2: return 1 + (x >> 2) % 512;
    default: return (size_t)-1;
    }
}

static int read_all(session *s)
{
    int i, progress = 0;
    for (i = 0; i < s->ncl; i++)
        progress |= client_read(&s->cl[i]);
    return progress;
}

static int all_eof(const session *s)
{
    int i;
    for (i = 0; i < s->ncl; i++) {
        if (!s->cl[i].eof)
            return 0;
    }
    return 1;
}

static void write_all(session *s)
{
    int i, steps, left = 1;
    for (steps = 0; left && steps < MAX_STEPS; steps++) {
        left = 0;
        for (i = 0; i < s->ncl; i++) {
            client_write(&s->cl[i], piece_size(&s->rng));
            left |= s->cl[i].n > 0;
        }
        MUST(rt_loop_step(&loop, 0) >= 0);
        read_all(s);
    }
    for (i = 0; i < s->ncl && (s->sel & SEL_SHUT); i++)
        shutdown(s->cl[i].fd, SHUT_WR);
}

/* Steps until the server has closed every client, or (impatient) is quiet
 * for a few steps, or (patient, deaf) PATIENT_MS have passed. */
static void settle(session *s)
{
    int deaf = (s->sel & SEL_PATIENT) == SEL_DEAF;
    int patient = deaf || (s->sel & SEL_PATIENT) == SEL_PATIENT;
    uint64_t end = rt_time_ms() + PATIENT_MS;
    int steps, quiet = 0;
    for (steps = 0; steps < MAX_STEPS && !all_eof(s); steps++) {
        rt_result r = rt_loop_step(&loop, patient ? 1 : 0);
        MUST(r >= 0);
        if ((!deaf && read_all(s)) || r > 0)
            quiet = 0;
        else
            quiet++;
        if (patient ? rt_time_ms() >= end : quiet >= 3)
            break;
    }
}

static int server_empty(const rt_server *srv)
{
    /* nreject and conns are private: the 503/429 connections are not in
     * rt_server_conn_count, and the structs must be freed as well */
    return rt_server_conn_count(srv) == 0 && srv->nreject == 0 && !rt_list_linked(&srv->conns);
}

/* The clients are closed: the server must notice and free everything. */
static void drain(session *s)
{
    uint64_t end = rt_time_ms() + DRAIN_MS;
    while (!server_empty(s->srv)) {
        MUST(rt_time_ms() < end);
        MUST(rt_loop_step(&loop, 1) >= 0);
    }
    MUST(nlive == 0);
    ndone = 0;
}

/* A graceful shutdown with the clients still on (reading, or deaf until
 * the server is done): it must end within its deadline (and DRAIN_MS for
 * the last writes), tell every WebSocket, stream and held request
 * (on_close), and close every client. Then the server starts again for the
 * next input. */
static void shut_down(session *s, int deaf)
{
    uint32_t deadline = next_rand(&s->rng) % 64;
    uint64_t end = rt_time_ms() + deadline + DRAIN_MS;
    int v = (int)(s->srv - srvs);
    rt_server_shutdown(s->srv, deadline);
    while (!rt_server_done(s->srv)) {
        MUST(rt_time_ms() < end);
        MUST(rt_loop_step(&loop, 1) >= 0);
        if (!deaf)
            read_all(s);
    }
    MUST(nlive == 0);
    while (!all_eof(s)) { /* the last bytes and the FIN are on their way */
        MUST(rt_time_ms() < end);
        if (!read_all(s))
            poll(NULL, 0, 1);
    }
    rt_server_deinit(s->srv);
    ndone = 0;
    server_start(v);
}

/* When d starts with a complete upgrade request the server will accept
 * (valid for RFC 6455, within the limits, no Origin to judge, a path
 * on_upgrade allows, a server that takes every connection): the offset of
 * the bytes after it. Else 0. */
static size_t expects_101(int v, const uint8_t *d, size_t n)
{
    rt_http_parser p;
    rt_http_request req;
    rt_ws_handshake hs;
    rt_result r;
    if (variants[v].accept_rate || variants[v].max_conns)
        return 0;
    rt_http_parser_init(&p);
    p.max_header_bytes = variants[v].max_header_bytes;
    p.max_body = variants[v].max_body;
    r = rt_http_parse_request(&p, (const char *)d, n, &req);
    if (r <= 0 || n - (size_t)r < req.content_length || !rt_ws_is_upgrade(&req))
        return 0;
    if (rt_ws_handshake_check(&req, &hs) != RT_OK || rt_http_header_get(&req, "Origin"))
        return 0;
    if (path_is(req.path, "/deny") || path_is(req.path, "/teapot"))
        return 0;
    return (size_t)r + req.content_length;
}

/* What the clients got: an HTTP response first; the 101 after a valid
 * upgrade (d + head: the frames behind it). */
static void check_received(const session *s, size_t head)
{
    const client *a = &s->cl[0];
    int i;
    for (i = 0; i < s->ncl; i++) {
        const client *cl = &s->cl[i];
        MUST(cl->got < 9 || memcmp(cl->head, "HTTP/1.1 ", 9) == 0);
    }
    if (head != 0)
        MUST(a->got >= 12 && memcmp(a->head, "HTTP/1.1 101", 12) == 0);
}

/* The first "~~~" (where the second connection's bytes start), or NULL. */
static const uint8_t *find_mark(const uint8_t *d, size_t n)
{
    size_t i;
    for (i = 0; i + 3 <= n; i++) {
        if (memcmp(d + i, "~~~", 3) == 0)
            return d + i;
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    session s;
    const uint8_t *d = size ? data + 1 : data, *mark;
    size_t n = size ? size - 1 : 0;
    uint32_t src;
    size_t head;
    int i, v;
    setup();
    memset(&s, 0, sizeof s);
    s.sel = size ? data[0] : 0;
    v = (int)(s.sel & 3);
    s.srv = &srvs[v];
    s.rng = seed_of(data, size);
    src = 2 + s.rng % 64;
    mark = find_mark(d, n);
    s.ncl = mark ? 2 : 1;
    s.cl[0].d = d;
    s.cl[0].n = mark ? (size_t)(mark - d) : n;
    if (mark) {
        s.cl[1].d = mark + 3;
        s.cl[1].n = n - (size_t)(mark + 3 - d);
    }
    head = (s.sel & SEL_SHUT) ? 0 : expects_101(v, s.cl[0].d, s.cl[0].n);
    for (i = 0; i < s.ncl; i++)
        client_open(&s.cl[i], rt_server_port(s.srv), src + 64u * (uint32_t)i,
                    !!(s.sel & SEL_SMALL_RCVBUF));
    write_all(&s);
    settle(&s);
    if ((s.sel & SEL_PATIENT) == SEL_SHUTDOWN || (s.sel & SEL_PATIENT) == SEL_SHUTDOWN_DEAF)
        shut_down(&s, (s.sel & SEL_PATIENT) == SEL_SHUTDOWN_DEAF);
    for (i = 0; i < s.ncl; i++)
        client_close(&s.cl[i], !!(s.sel & SEL_RESET));
    check_received(&s, head);
    drain(&s);
    return 0;
}
