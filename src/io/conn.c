/* conn.c - one connection's life: its states, reading, HTTP, WebSocket.
 *
 * Reading: bytes land in a pooled read buffer and go through the sans-IO
 * codecs (rt_http_parse_request, then rt_ws_parse), and what they give is
 * dispatched here. Output is queued (conn_queue.c) and written by the server
 * at the end of the loop step; freeing waits for the same moment, so a
 * connection that dies in the middle of a broadcast or a callback is still
 * valid memory until the step is over.
 *
 * The states (enum rt__conn_state, conn_impl.h). "kind" is what
 * rt_conn_kind reports; a closing connection keeps the kind it had.
 *
 *   state       kind  what happens                       leaves for
 *   READING     HTTP  a request is read and dispatched   REPLIED (answered), HELD
 *                     (the first one, or the next after  (rt_conn_hold), SSE
 *                     REPLIED); not answered yet         (rt_conn_sse_start),
 *                                                        WS_OPEN (upgrade), LINGER
 *   REPLIED     HTTP  answered; the reply goes out, the  READING (the next request),
 *                     next request may come (keep-alive) LINGER
 *   HELD        HELD  a long poll waiting for            REPLIED (answered), LINGER
 *                     rt_conn_reply or its deadline
 *   SSE         SSE   an event stream                    LINGER
 *   WS_OPEN     WS    a WebSocket                        WS_CLOSING (rt_conn_close,
 *                                                        the peer's close, an error)
 *   WS_CLOSING  WS    our close frame is queued; waits   LINGER (the peer's close,
 *                     for the peer's (close_timeout)     an error)
 *   LINGER      kept  takes no more output; writes what  SHUT (all written)
 *                     is queued
 *   SHUT        kept  our FIN is sent; waits for the     DEAD (the peer's FIN, or
 *                     peer's                             close_timeout)
 *   PEER_FIN    HTTP  the peer half-closed (READING,     DEAD (all written)
 *                     REPLIED, LINGER with a reply
 *                     queued): what it is owed goes out
 *   DEAD        kept  the socket is closed; the struct is freed at the end of the step
 *
 * Any state but DEAD may go to DEAD at once (a reset, a timeout, the hard
 * queue cap, rt_server_deinit). LINGER is where rt_conn_close leads (a
 * WebSocket through WS_CLOSING), and so do an HTTP error, a refused upgrade
 * and a reply that says "Connection: close" (READING -> REPLIED -> LINGER).
 * rt__conn_next below is this table as bits: rt__conn_set_state asserts
 * every change against it, so the unit tests and fuzz seeds catch a missing
 * or a wrong one.
 *
 * A FIN from an HTTP client still lets the reply it is owed go out; a reply
 * that stops moving is given up after the idle timeout (server.c's tick).
 */
#include "conn_impl.h"
#include "../base/config.h"
#include <stdio.h>

/* ---- The state machine -------------------------------------------------------- */

#define RT__CS_BIT(s) (1u << (s))
#define RT__CS_KEEP 0xff /* a closing state: the connection keeps its kind */

/* A feature switch takes away the way into its state (the state's own row
 * stays: it is never used). */
#ifndef RT_NO_LONGPOLL
#  define RT__CS_TO_HELD RT__CS_BIT(RT__CS_HELD)
#else
#  define RT__CS_TO_HELD 0u
#endif
#ifndef RT_NO_SSE
#  define RT__CS_TO_SSE RT__CS_BIT(RT__CS_SSE)
#else
#  define RT__CS_TO_SSE 0u
#endif

/* The transitions that exist: bit `to` of rt__conn_next[from]. */
static const uint16_t rt__conn_next[RT__CS_COUNT] = {
    /* READING */ RT__CS_BIT(RT__CS_REPLIED) | RT__CS_TO_HELD | RT__CS_TO_SSE |
                  RT__CS_BIT(RT__CS_WS_OPEN) | RT__CS_BIT(RT__CS_LINGER) |
                  RT__CS_BIT(RT__CS_PEER_FIN) | RT__CS_BIT(RT__CS_DEAD),
    /* REPLIED */ RT__CS_BIT(RT__CS_READING) | RT__CS_BIT(RT__CS_LINGER) |
                  RT__CS_BIT(RT__CS_PEER_FIN) | RT__CS_BIT(RT__CS_DEAD),
    /* HELD */    RT__CS_BIT(RT__CS_REPLIED) | RT__CS_BIT(RT__CS_LINGER) | RT__CS_BIT(RT__CS_DEAD),
    /* SSE */     RT__CS_BIT(RT__CS_LINGER) | RT__CS_BIT(RT__CS_DEAD),
    /* WS_OPEN */ RT__CS_BIT(RT__CS_WS_CLOSING) | RT__CS_BIT(RT__CS_DEAD),
    /* WS_CLOSING */ RT__CS_BIT(RT__CS_LINGER) | RT__CS_BIT(RT__CS_DEAD),
    /* LINGER */  RT__CS_BIT(RT__CS_SHUT) | RT__CS_BIT(RT__CS_PEER_FIN) | RT__CS_BIT(RT__CS_DEAD),
    /* SHUT */    RT__CS_BIT(RT__CS_DEAD),
    /* PEER_FIN */ RT__CS_BIT(RT__CS_DEAD),
    /* DEAD */    0
};

/* The kind each state gives (what rt_conn_kind reports). */
static const uint8_t rt__conn_kind_of[RT__CS_COUNT] = {
    RT_CONN_HTTP, RT_CONN_HTTP, RT_CONN_HELD, RT_CONN_SSE, RT_CONN_WS, RT_CONN_WS,
    RT__CS_KEEP, RT__CS_KEEP, RT__CS_KEEP, RT__CS_KEEP
};

/* The one place a connection changes state; an illegal transition is a bug
 * in this file, and the unit tests and fuzz seeds run with RT_ASSERT on. */
static void rt__conn_set_state(rt_conn *c, enum rt__conn_state to)
{
    RT_ASSERT(rt__conn_next[c->state] & RT__CS_BIT(to));
    c->state = (uint8_t)to;
    if (rt__conn_kind_of[to] != RT__CS_KEEP)
        c->kind = rt__conn_kind_of[to];
}

/* Still takes output: not lingering, shut, peer-finished or dead. */
static int rt__conn_takes_output(const rt_conn *c)
{
    return c->state < RT__CS_LINGER;
}

/* Open: rt_conn_close has not been called (nor any other close begun). */
static int rt__conn_open(const rt_conn *c)
{
    return c->state < RT__CS_WS_CLOSING;
}

/* Writes what is queued and then closes (once it is empty, rt__conn_drained
 * sends FIN); a connection already on its way out stays where it is. */
static void rt__conn_linger(rt_conn *c)
{
    if (c->state < RT__CS_LINGER)
        rt__conn_set_state(c, RT__CS_LINGER);
}

/* ---- Closing ------------------------------------------------------------------ */

/* Read buffers of the standard size go back to the pool; grown ones are freed. */
static void rt__conn_release_rbuf(rt_conn *c)
{
    rt_server *srv = c->srv;
    if (!c->rbuf)
        return;
    if (c->rcap == RT_CONN_READ_BUF)
        rt__srv_pool_put(srv, &srv->read_pool, &srv->read_pool_len, c->rbuf, RT_CONN_READ_BUF);
    else
        rt_free(srv->cfg.alloc, c->rbuf, c->rcap);
    c->rbuf = NULL;
    c->rlen = c->rcap = 0;
}

/* Tells the application a WebSocket, stream or held request ended: on_close,
 * once per connection. */
static void rt__conn_notify(rt_conn *c, unsigned code, rt_str reason)
{
    rt_server *srv = c->srv;
    if (srv->cfg.cb.on_close && !(c->flags & RT__C_NOTIFIED)) {
        c->flags |= RT__C_NOTIFIED;
        srv->cfg.cb.on_close(c, code, reason, srv->cfg.user);
    }
}

/* Closes the socket now. The struct stays on the list, marked dead, until the
 * end-of-step hook frees it: callers up the stack may still hold it. */
static void rt__conn_drop(rt_conn *c, unsigned code)
{
    rt_server *srv = c->srv;
    if (c->state == RT__CS_DEAD)
        return;
    rt__conn_set_state(c, RT__CS_DEAD);
    rt_loop_del(srv->loop, c->fd);
    rt_plat_close(c->fd);
    c->fd = -1;
    rt__srv_conn_gone(srv, c);
    if (c->kind != RT_CONN_HTTP)
        rt__conn_notify(c, c->close_code ? c->close_code : code, rt_str_c(NULL));
    rt_room_leave_all(&c->member);
    rt__conn_release_queue(c);
    rt__conn_release_rbuf(c);
    rt_free(srv->cfg.alloc, c->mbuf, c->mcap);
    c->mbuf = NULL;
    c->mlen = c->mcap = 0;
}

/* ---- WebSocket input ------------------------------------------------------ */

/* RFC 6455 7.1.7: to fail the connection, send a close frame with the code
 * the parser chose and close the socket once it is written. */
static void rt__conn_ws_fail(rt_conn *c, unsigned code)
{
    c->close_code = (uint16_t)code;
    rt_conn_close(c, code, NULL);
    rt__conn_linger(c);
    if (c->qlen == 0)
        rt__conn_drop(c, code);
}

/* Adds what the time since the last refill earned, up to one second's worth. */
static void rt__conn_refill(rt_conn *c, const rt_server_config *cfg, uint32_t now)
{
    uint64_t dt = c->t_tok ? (uint32_t)(now - c->t_tok) : UINT32_MAX;
    int64_t cap_m = (int64_t)cfg->rate_msgs * 1000, cap_b = (int64_t)cfg->rate_bytes;
    int64_t m = c->tok_msgs + (int64_t)(dt * cfg->rate_msgs);           /* 1000ths per ms */
    int64_t b = c->tok_bytes + (int64_t)(dt * cfg->rate_bytes / 1000);
    c->tok_msgs = (int32_t)(m > cap_m ? cap_m : m);
    c->tok_bytes = (int32_t)(b > cap_b ? cap_b : b);
    c->t_tok = now;
}

/* The token buckets: 1 when a message of n bytes may pass (and pays for
 * it), else 0 with *retry set to the milliseconds until it could. A message
 * larger than the byte bucket passes when the bucket is full and leaves a
 * debt, so no size is refused forever. */
static int rt__conn_rate_ok(rt_conn *c, size_t n, uint32_t *retry)
{
    const rt_server_config *cfg = &c->srv->cfg;
    if (!cfg->rate_msgs && !cfg->rate_bytes)
        return 1;
    rt__conn_refill(c, cfg, rt__srv_ms(c->srv));
    if (cfg->rate_msgs && c->tok_msgs < 1000) {
        *retry = (uint32_t)(1000 - c->tok_msgs) / cfg->rate_msgs + 1;
        return 0;
    }
    if (cfg->rate_bytes && c->tok_bytes <= 0) {
        *retry = (uint32_t)(((uint64_t)-(int64_t)c->tok_bytes + 1) * 1000 / cfg->rate_bytes + 1);
        return 0;
    }
    if (cfg->rate_msgs)
        c->tok_msgs -= 1000;
    if (cfg->rate_bytes)
        c->tok_bytes = n > INT32_MAX ? INT32_MIN / 2 : c->tok_bytes - (int32_t)n;
    return 1;
}

int rt_conn_rate_check(rt_conn *c, size_t n, uint32_t *retry_after_ms)
{
    uint32_t retry = 0;
    int ok = rt__conn_rate_ok(c, n, &retry);
    if (retry_after_ms)
        *retry_after_ms = retry;
    return ok;
}

static void rt__conn_ws_deliver(rt_conn *c, int opcode, const void *p, size_t n)
{
    rt_server *srv = c->srv;
    uint32_t retry = 0;
    rt_str data;
    if (!srv->cfg.cb.on_message || c->state != RT__CS_WS_OPEN)
        return;
    if (!rt__conn_rate_ok(c, n, &retry)) {
        if (++c->strikes >= RT_RATE_STRIKES)
            rt_conn_close(c, RT_WS_CLOSE_POLICY, "rate limit");
        else if (srv->cfg.cb.on_rate_limited)
            srv->cfg.cb.on_rate_limited(c, retry, srv->cfg.user);
        return;
    }
    c->strikes = 0;
    data.p = (const char *)p;
    data.n = n;
    srv->cfg.cb.on_message(c, opcode, data, srv->cfg.user);
}

/* A piece of a data message. A message that arrives whole in one read is
 * handed over where it lies (zero copy); pieces are gathered in mbuf. */
static rt_result rt__conn_ws_data(rt_conn *c, const rt_ws_event *ev)
{
    size_t need;
    if (ev->fin && c->mlen == 0) {
        rt__conn_ws_deliver(c, ev->opcode, ev->data.p, ev->data.n);
        return RT_OK;
    }
    need = (size_t)c->mlen + ev->data.n; /* the parser bounds it by max_message */
    if (need > c->mcap) {
        size_t cap = c->mcap ? c->mcap : 256;
        unsigned char *b;
        while (cap < need)
            cap *= 2;
        b = (unsigned char *)rt_realloc(c->srv->cfg.alloc, c->mbuf, c->mcap, cap);
        if (!b)
            return RT_E_NOMEM;
        c->mbuf = b;
        c->mcap = (uint32_t)cap;
    }
    if (ev->data.n)
        memcpy(c->mbuf + c->mlen, ev->data.p, ev->data.n);
    c->mlen = (uint32_t)need;
    if (ev->fin) {
        rt__conn_ws_deliver(c, ev->opcode, c->mbuf, c->mlen);
        rt_free(c->srv->cfg.alloc, c->mbuf, c->mcap); /* idle connections hold no buffer */
        c->mbuf = NULL;
        c->mlen = c->mcap = 0;
    }
    return RT_OK;
}

static void rt__conn_ws_control(rt_conn *c, const rt_ws_event *ev)
{
    if (ev->opcode == RT_WS_PING) {
        if (c->state == RT__CS_WS_OPEN)
            rt__conn_send_frame(c, RT_WS_PONG, ev->data.p, ev->data.n); /* RFC 6455 5.5.3 */
        return;
    }
    if (ev->opcode != RT_WS_CLOSE)
        return; /* a pong: receiving it already refreshed t_rx */
    if (!c->close_code)
        c->close_code = (uint16_t)ev->close_code;
    if (c->state == RT__CS_WS_CLOSING) {
        /* The handshake is complete. Both sides may have closed at once:
         * what is still queued (our close frame at least) goes out first,
         * then we hang up as on any linger. */
        rt__conn_linger(c);
        if (c->qlen == 0)
            rt__conn_drop(c, ev->close_code);
        return;
    }
    /* RFC 6455 5.5.1: answer with a close frame (echoing the code), then the
     * server closes the TCP connection first (7.1.1). */
    rt__conn_notify(c, ev->close_code, ev->close_reason);
    rt_conn_close(c, ev->close_code == RT_WS_CLOSE_NO_STATUS ? 0 : ev->close_code, NULL);
    rt__conn_linger(c);
}

/* Runs the frame parser over the read buffer from off. Returns the offset
 * of the first byte not consumed. */
static size_t rt__conn_ws_input(rt_conn *c, size_t off)
{
    while (off < c->rlen && (c->state == RT__CS_WS_OPEN || c->state == RT__CS_WS_CLOSING)) {
        rt_ws_event ev;
        rt_result r = rt_ws_parse(&c->p.ws, c->rbuf + off, c->rlen - off, &ev);
        if (r == RT_AGAIN)
            break;
        if (r < 0) {
            rt__conn_ws_fail(c, c->p.ws.close_code);
            break;
        }
        off += (size_t)r;
        if (ev.type == RT_WS_EV_DATA && rt__conn_ws_data(c, &ev) != RT_OK)
            rt__conn_ws_fail(c, RT_WS_CLOSE_INTERNAL);
        else if (ev.type == RT_WS_EV_CONTROL)
            rt__conn_ws_control(c, &ev);
    }
    return off;
}

/* ---- HTTP input ----------------------------------------------------------- */

static void rt__conn_http_error(rt_conn *c, int status, const char *extra)
{
    char buf[512];
    size_t n = rt_http_format_error(buf, sizeof buf, status, extra);
    if (n < sizeof buf)
        rt__conn_send_bytes(c, buf, n);
    rt__conn_linger(c);
    if (c->qlen == 0)
        rt__conn_drop(c, RT_WS_CLOSE_ABNORMAL);
}

/* Index + 1 of the subprotocol we pick from the client's list, 0 for none. */
static uint8_t rt__conn_pick_protocol(const rt_server *srv, rt_str offered)
{
    const char *const *sp = srv->cfg.subprotocols;
    rt_str pick;
    uint8_t i;
    if (!sp || offered.n == 0)
        return 0;
    pick = rt_ws_select_protocol(offered, sp);
    for (i = 0; pick.n && sp[i] && i < 254; i++) {
        if (rt_str_eq(pick, rt_str_c(sp[i])))
            return (uint8_t)(i + 1);
    }
    return 0;
}

static void rt__conn_upgrade(rt_conn *c, const rt_http_request *req)
{
    rt_server *srv = c->srv;
    rt_ws_handshake hs;
    char buf[512];
    size_t n;
    int status;
    if (rt_ws_handshake_check(req, &hs) != RT_OK) {
        n = rt_ws_format_reject(buf, sizeof buf, hs.status);
        if (n < sizeof buf)
            rt__conn_send_bytes(c, buf, n);
        rt__conn_linger(c);
        return;
    }
    status = srv->cfg.cb.on_upgrade ? srv->cfg.cb.on_upgrade(c, req, srv->cfg.user) : 0;
    if (status != 0) {
        rt__conn_http_error(c, status, NULL);
        return;
    }
    if (c->state != RT__CS_READING) {
        rt__conn_drop(c, RT_WS_CLOSE_ABNORMAL); /* on_upgrade closed or answered it */
        return;
    }
    c->proto = rt__conn_pick_protocol(srv, hs.protocols);
    n = rt_ws_format_accept(buf, sizeof buf, hs.key, rt_conn_protocol(c), NULL);
    if (n >= sizeof buf || rt__conn_send_bytes(c, buf, n) != RT_OK) {
        rt__conn_drop(c, RT_WS_CLOSE_ABNORMAL);
        return;
    }
    rt__conn_set_state(c, RT__CS_WS_OPEN);
    c->t_ping = rt__srv_ms(srv);
    rt_ws_parser_init(&c->p.ws, RT_WS_SERVER, srv->cfg.max_message);
    if (srv->cfg.cb.on_open)
        srv->cfg.cb.on_open(c, req, srv->cfg.user);
}

/* A status the handler returned for a well-formed request: the same short
 * text as rt_http_format_error, but a keep-alive connection stays open (a
 * browser's /favicon.ico 404 should not cost the page its connection). */
static void rt__conn_http_status(rt_conn *c, int status)
{
    char body[64];
    int n;
    if (status < 400 || status > 599)
        status = 500;
    n = snprintf(body, sizeof body, "%d %s\n", status, rt_http_reason(status));
    if (n < 0 || (size_t)n >= sizeof body)
        rt__conn_http_error(c, status, NULL);
    else
        rt_conn_reply(c, status, "text/plain; charset=utf-8", body, (size_t)n, NULL);
}

/* The request's own origin: an Origin whose host[:port] is the Host header. */
static int rt__conn_same_origin(rt_str origin, const rt_http_request *req)
{
    const rt_http_header *host = rt_http_header_get(req, "Host");
    const char *sep;
    if (!host || origin.n < 3)
        return 0;
    sep = (const char *)memchr(origin.p, ':', origin.n - 2);
    if (!sep || sep[1] != '/' || sep[2] != '/')
        return 0;
    origin.n -= (size_t)(sep + 3 - origin.p);
    origin.p = sep + 3;
    return rt_str_ieq(origin, host->value);
}

/* No Origin (not a browser), the request's own origin, or an allowed one. */
static int rt__conn_origin_ok(const rt_server_config *cfg, const rt_http_request *req)
{
    const rt_http_header *o = rt_http_header_get(req, "Origin");
    const char *const *a;
    if (!o || rt__conn_same_origin(o->value, req))
        return 1;
    for (a = cfg->origins; a && *a; a++) {
        if (strcmp(*a, "*") == 0 || rt_str_ieq(o->value, rt_str_c(*a)))
            return 1;
    }
    return 0;
}

static void rt__conn_dispatch(rt_conn *c, const rt_http_request *req, rt_str body)
{
    rt_server *srv = c->srv;
    int status;
    if (c->state == RT__CS_REPLIED)
        rt__conn_set_state(c, RT__CS_READING); /* a new request, not answered yet */
    c->flags &= (uint8_t)~(RT__C_KEEPALIVE | RT__C_HEAD);
    if (req->keep_alive)
        c->flags |= RT__C_KEEPALIVE;
    if (rt_str_eq(req->method, rt_str_c("HEAD")))
        c->flags |= RT__C_HEAD;
    if (c->flags & (RT__C_REJECT | RT__C_RATED)) {
        rt__conn_http_error(c, c->flags & RT__C_RATED ? 429 : 503, "Retry-After: 1\r\n");
        return;
    }
    if (!rt__conn_origin_ok(&srv->cfg, req)) {
        rt__conn_http_error(c, 403, NULL);
        return;
    }
    if (rt_ws_is_upgrade(req)) {
        rt__conn_upgrade(c, req);
        return;
    }
    status = srv->cfg.cb.on_http ? srv->cfg.cb.on_http(c, req, body, srv->cfg.user) : 404;
    if (c->state == RT__CS_READING && status != 0)
        rt__conn_http_status(c, status);
    else if (c->state == RT__CS_READING)
        rt__conn_http_error(c, 500, NULL); /* the handler neither answered nor held */
    else if (c->state == RT__CS_SHUT && c->kind == RT_CONN_HTTP && status == 0)
        rt__conn_drop(c, RT_WS_CLOSE_ABNORMAL); /* closed, unanswered, nothing left to write */
}

/* Ready for the next request on a keep-alive connection. */
static void rt__conn_http_reset(rt_conn *c)
{
    if (c->kind != RT_CONN_HTTP)
        return;
    rt_http_parser_init(&c->p.http);
    c->p.http.max_header_bytes = c->srv->cfg.max_header_bytes;
    c->p.http.max_body = c->srv->cfg.max_body;
    c->t_state = rt__srv_ms(c->srv);
}

/* Parses and dispatches every complete request in the read buffer. Returns
 * bytes consumed. */
static size_t rt__conn_http_input(rt_conn *c)
{
    size_t off = 0;
    while (off < c->rlen && (c->state == RT__CS_READING || c->state == RT__CS_REPLIED)) {
        rt_http_request req;
        rt_str body;
        rt_result r;
        r = rt_http_parse_request(&c->p.http, (const char *)c->rbuf + off, c->rlen - off, &req);
        if (r == RT_AGAIN)
            break;
        if (r < 0) {
            rt__conn_http_error(c, req.status ? req.status : 400, NULL);
            break;
        }
        if (c->rlen - off - (size_t)r < req.content_length)
            break; /* the body is still on its way */
        body.p = (const char *)c->rbuf + off + r;
        body.n = req.content_length;
        off += (size_t)r + req.content_length;
        rt__conn_dispatch(c, &req, body);
        rt__conn_http_reset(c);
    }
    return off;
}

/* ---- Reading ---------------------------------------------------------------- */

/* Moves the pending bytes to a bigger buffer of cap bytes. */
static rt_result rt__conn_grow_rbuf(rt_conn *c, size_t cap)
{
    unsigned char *b = (unsigned char *)rt_alloc(c->srv->cfg.alloc, cap);
    uint32_t len = c->rlen;
    if (!b)
        return RT_E_NOMEM;
    memcpy(b, c->rbuf, len);
    rt__conn_release_rbuf(c);
    c->rbuf = b;
    c->rlen = len;
    c->rcap = (uint32_t)cap;
    return RT_OK;
}

/* Room for more bytes: a pooled buffer first, grown only for a big request
 * head or body (a WebSocket never needs more: the parser streams payloads). */
static rt_result rt__conn_read_room(rt_conn *c)
{
    rt_server *srv = c->srv;
    size_t limit = srv->cfg.max_header_bytes + srv->cfg.max_body;
    if (!c->rbuf) {
        c->rbuf = (unsigned char *)rt__srv_pool_get(srv, &srv->read_pool, &srv->read_pool_len,
                                                RT_CONN_READ_BUF);
        if (!c->rbuf)
            return RT_E_NOMEM;
        c->rcap = RT_CONN_READ_BUF;
        return RT_OK;
    }
    if (c->rlen < c->rcap)
        return RT_OK;
    if ((c->kind != RT_CONN_HTTP && c->kind != RT_CONN_HELD) || c->rcap >= limit)
        return RT_E_LIMIT;
    return rt__conn_grow_rbuf(c, c->rcap * 2 < limit ? c->rcap * 2 : limit);
}

/* Hands the buffered bytes to the codec of the connection's current kind and
 * drops what it consumed. Requests pipelined behind a held one wait in the
 * buffer until it is answered (rt__srv_on_step picks them up); SSE streams
 * expect no input. */
static void rt__conn_input(rt_conn *c)
{
    size_t used;
    if (!rt__conn_takes_output(c))
        used = c->rlen; /* closing: input no longer matters */
    else if (c->kind == RT_CONN_HTTP) {
        used = rt__conn_http_input(c);
        /* Frames may follow the upgrade request in the same read, and no
         * more bytes may ever come to wake us for them. */
        if (c->kind == RT_CONN_WS && c->state != RT__CS_DEAD)
            used = rt__conn_ws_input(c, used);
    } else if (c->kind == RT_CONN_WS)
        used = rt__conn_ws_input(c, 0);
    else if (c->kind == RT_CONN_HELD)
        used = 0;
    else
        used = c->rlen;
    if (c->state == RT__CS_DEAD)
        return;
    /* The codec failed the connection: drop the rest too, or it would fill
     * the buffer, stop the reads and end in a reset instead of a close. */
    if (!rt__conn_takes_output(c))
        used = c->rlen;
    if (c->kind == RT_CONN_WS && c->rlen > used && used == 0 && c->rlen == c->rcap) {
        rt__conn_ws_fail(c, RT_WS_CLOSE_PROTOCOL); /* cannot happen with a sane parser */
        return;
    }
    if (used < c->rlen)
        memmove(c->rbuf, c->rbuf + used, c->rlen - used);
    c->rlen -= (uint32_t)used;
    if (c->rlen == 0)
        rt__conn_release_rbuf(c);
}

/* The peer sent FIN. An HTTP client may half-close once its request is
 * out (RFC 9112 9.6): the reply it is owed still goes out in full, then the
 * connection closes. A WebSocket, a stream or a held request has lost its
 * peer (1006), and so has an HTTP connection that is owed nothing. */
static void rt__conn_peer_fin(rt_conn *c)
{
    if (c->kind != RT_CONN_HTTP || c->qlen == 0 || c->state == RT__CS_PEER_FIN ||
        c->state == RT__CS_SHUT) {
        rt__conn_drop(c, RT_WS_CLOSE_ABNORMAL);
        return;
    }
    rt__conn_set_state(c, RT__CS_PEER_FIN);
    c->flags &= (uint8_t)~RT__C_WANT_WRITE;
    rt__conn_want_write(c, 1); /* now RT_IO_WRITE alone */
    rt__conn_release_rbuf(c);  /* a request cut short by the FIN can never finish */
}

/* The connection's one recv() into the free end of its read buffer: the
 * bytes read, 0 at the peer's FIN, RT_AGAIN when there is nothing to read
 * now, RT_E_IO when the connection is broken (a reset). */
static ptrdiff_t rt__conn_recv(rt_conn *c)
{
    return rt_plat_recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
}

static void rt__conn_read(rt_conn *c)
{
    int i;
    for (i = 0; i < RT__CONN_READS_PER_EVENT && c->state != RT__CS_DEAD; i++) {
        ptrdiff_t n;
        rt_result r = rt__conn_read_room(c);
        if (r != RT_OK) {
            if (c->kind == RT_CONN_HTTP)
                rt__conn_http_error(c, r == RT_E_LIMIT ? 431 : 503, NULL);
            else if (c->kind == RT_CONN_HELD)
                rt__conn_drop(c, RT_WS_CLOSE_TOO_BIG); /* too much pipelined behind it */
            else
                rt__conn_ws_fail(c, RT_WS_CLOSE_INTERNAL);
            return;
        }
        n = rt__conn_recv(c);
        if (n == 0) {
            rt__conn_peer_fin(c);
            break;
        }
        if (n == RT_E_IO) {
            rt__conn_drop(c, RT_WS_CLOSE_ABNORMAL); /* reset: peer gone, 1006 */
            return;
        }
        if (n < 0)
            break;
        c->rlen += (uint32_t)n;
        c->t_rx = rt__srv_ms(c->srv);
        rt__conn_input(c);
        if (c->state == RT__CS_DEAD || (size_t)n < RT_CONN_READ_BUF / 2)
            break;
    }
    if (c->rbuf && c->rlen == 0)
        rt__conn_release_rbuf(c);
}

static void rt__conn_on_io(rt_loop *loop, int fd, unsigned events, void *user)
{
    rt_conn *c = (rt_conn *)user;
    (void)loop;
    (void)fd;
    if (events & (RT_IO_READ | RT_IO_ERROR))
        rt__conn_read(c);
    if ((events & RT_IO_WRITE) && c->state != RT__CS_DEAD && c->qlen)
        rt__conn_write(c);
}

/* ---- Public: connections ------------------------------------------------------ */

void rt_conn_close(rt_conn *c, unsigned code, const char *reason)
{
    unsigned char payload[RT_WS_MAX_CONTROL];
    size_t n = 0;
    if (!rt__conn_open(c))
        return;
    if (!c->close_code)
        c->close_code = (uint16_t)code;
    if (c->kind != RT_CONN_WS) {
        rt__conn_set_state(c, RT__CS_LINGER);
        if (c->qlen == 0)
            rt__conn_drained(c);
        return;
    }
    if (code != 0)
        n = rt_ws_close_payload(payload, code, reason ? reason : "",
                                reason ? strlen(reason) : 0);
    rt__conn_send_frame(c, RT_WS_CLOSE, payload, n);
    rt__conn_set_state(c, RT__CS_WS_CLOSING);
    c->t_state = rt__srv_ms(c->srv);
}

/* Writes the status line and headers of a reply, plus "Connection: close"
 * when this is the last response on the connection. */
/* The extra header lines of a reply: the caller's, plus "Connection: close"
 * on the last reply of the connection. Joined on the heap only when both are
 * there (a 768-byte buffer here was the deepest frame of the reply path);
 * *joined is then set, for the caller to free. RT_E_INVAL past 767 bytes. */
#define RT__CONN_CLOSE_LINE "Connection: close\r\n"
#define RT__CONN_EXTRA_MAX 768
static rt_result rt__conn_reply_headers(rt_conn *c, const char *extra, const char **hdrs,
                                        char **joined)
{
    int last = !(c->flags & RT__C_KEEPALIVE) || c->srv->shutting_down;
    size_t en = extra ? strlen(extra) : 0, cn = last ? sizeof RT__CONN_CLOSE_LINE - 1 : 0;
    *joined = NULL;
    *hdrs = en ? extra : last ? RT__CONN_CLOSE_LINE : "";
    if (en + cn >= RT__CONN_EXTRA_MAX)
        return RT_E_INVAL;
    if (en && cn) {
        *joined = (char *)rt_alloc(c->srv->cfg.alloc, en + cn + 1);
        if (!*joined)
            return RT_E_NOMEM;
        memcpy(*joined, extra, en);
        memcpy(*joined + en, RT__CONN_CLOSE_LINE, cn + 1);
        *hdrs = *joined;
    }
    return RT_OK;
}

static rt_result rt__conn_reply_msg(rt_conn *c, int status, const char *ctype, const void *body,
                                    size_t n, const char *extra)
{
    const char *hdrs;
    char *joined;
    size_t head, send = (c->flags & RT__C_HEAD) ? 0 : n; /* RFC 9110 9.3.2 */
    rt_msg *m = NULL;
    rt_result r = rt__conn_reply_headers(c, extra, &hdrs, &joined);
    if (r != RT_OK)
        return r;
    /* A HEAD answer has the head a GET would get, Content-Length included,
     * and no body: the client would read one as the next response. */
    head = rt_http_format_head(NULL, 0, status, hdrs, ctype, n);
    m = rt__srv_msg_new(c->srv->cfg.alloc, head + 1 + send);
    if (m)
        rt_http_format_head((char *)m->data, head + 1, status, hdrs, ctype, n);
    if (joined)
        rt_free(c->srv->cfg.alloc, joined, strlen(joined) + 1);
    if (!m)
        return RT_E_NOMEM;
    if (send)
        memcpy(m->data + head, body, send);
    m->len = (uint32_t)(head + send); /* the +1 only held snprintf's NUL */
    r = rt__conn_enqueue(c, m);
    rt_msg_release(m);
    return r;
}

rt_result rt_conn_reply(rt_conn *c, int status, const char *content_type, const void *body,
                        size_t n, const char *extra_headers)
{
    int held = c->state == RT__CS_HELD;
    rt_result r;
    if (c->state == RT__CS_DEAD || (c->kind == RT_CONN_HELD && !held))
        return RT_E_CLOSED;
    if (c->state != RT__CS_READING && !held)
        return RT_E_INVAL; /* answered, or not a request */
    /* Answered only once the reply is queued: after a failure (headers too
     * long, no memory) the handler may try again, or the server answers 500
     * (or, for a held request, 204 at its timeout). */
    r = rt__conn_reply_msg(c, status, content_type, body, n, extra_headers);
    if (r != RT_OK)
        return r;
    rt__conn_set_state(c, RT__CS_REPLIED);
    if (held)
        rt__conn_http_reset(c); /* keep-alive: ready for the next request */
    if (!(c->flags & RT__C_KEEPALIVE) || c->srv->shutting_down)
        rt__conn_set_state(c, RT__CS_LINGER); /* the reply said "Connection: close" */
    return r;
}

#ifndef RT_NO_LONGPOLL
rt_result rt_conn_hold(rt_conn *c, uint32_t timeout_ms)
{
    if (c->state != RT__CS_READING)
        return RT_E_INVAL;
    rt__conn_set_state(c, RT__CS_HELD);
    c->t_state = (rt__srv_ms(c->srv) + timeout_ms) | 1u; /* the deadline */
    rt__srv_hold_arm(c->srv, c->t_state);
    return RT_OK;
}

static void rt__conn_hold_expired(rt_conn *c)
{
    rt_server *srv = c->srv;
    if (srv->cfg.cb.on_hold_timeout)
        srv->cfg.cb.on_hold_timeout(c, srv->cfg.user);
    if (c->state == RT__CS_HELD)
        rt_conn_reply(c, 204, NULL, NULL, 0, NULL);
}
#endif /* RT_NO_LONGPOLL */

#ifndef RT_NO_SSE
rt_result rt_conn_sse_start(rt_conn *c, const char *extra_headers)
{
    /* No Content-Length: the stream ends when the connection does
     * (RFC 9112 6.3). X-Accel-Buffering stops nginx from buffering it. */
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n";
    size_t hn = sizeof head - 1, en = extra_headers ? strlen(extra_headers) : 0;
    rt_msg *m;
    rt_result r;
    if (c->state != RT__CS_READING || hn + en + 2 >= 1024)
        return RT_E_INVAL;
    m = rt__srv_msg_new(c->srv->cfg.alloc, hn + en + 2); /* built in place: no stack copy */
    if (!m)
        return RT_E_NOMEM;
    memcpy(m->data, head, hn);
    if (en)
        memcpy(m->data + hn, extra_headers, en);
    memcpy(m->data + hn + en, "\r\n", 2);
    rt__conn_set_state(c, RT__CS_SSE);
    c->t_ping = rt__srv_ms(c->srv);
    r = rt__conn_enqueue(c, m);
    rt_msg_release(m);
    return r;
}

rt_result rt_conn_sse_send(rt_conn *c, const char *event, const char *id, const void *data,
                           size_t n)
{
    rt_sse_event ev;
    rt_msg *m;
    rt_result r;
    if (c->kind != RT_CONN_SSE)
        return RT_E_INVAL;
    memset(&ev, 0, sizeof ev);
    ev.event = rt_str_c(event);
    ev.id = rt_str_c(id);
    ev.data.p = (const char *)data;
    ev.data.n = n;
    m = rt__srv_msg_sse(c->srv, &ev, &r);
    if (!m)
        return r;
    r = rt__conn_enqueue(c, m);
    rt_msg_release(m);
    return r;
}
#endif /* RT_NO_SSE */

int rt_conn_kind(const rt_conn *c) { return c->kind; }
size_t rt_conn_queued(const rt_conn *c) { return c->queued; }
rt_server *rt_conn_server(const rt_conn *c) { return c->srv; }
void rt_conn_set_user(rt_conn *c, void *user) { c->member.user = user; }
void *rt_conn_user(const rt_conn *c) { return c->member.user; }
rt_room_member *rt_conn_member(rt_conn *c) { return &c->member; }

rt_conn *rt_conn_of_member(rt_room_member *m)
{
    return (rt_conn *)(void *)((char *)m - offsetof(rt_conn, member));
}

rt_str rt_conn_protocol(const rt_conn *c)
{
    if (c->proto == 0 || !c->srv->cfg.subprotocols)
        return rt_str_c(NULL);
    return rt_str_c(c->srv->cfg.subprotocols[c->proto - 1]);
}

rt_result rt_conn_peer(const rt_conn *c, char *buf, size_t cap)
{
    return rt_plat_peer(c->fd, buf, cap);
}
