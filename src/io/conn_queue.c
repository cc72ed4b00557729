/* conn_queue.c - a connection's output: its queue, the writes, backpressure.
 *
 * Every outgoing message is an rt_msg; a connection's queue is a ring of
 * pointers to them, so a broadcast costs each receiver one pointer. Queued
 * connections go on the server's flush list, and at the end of the step
 * each one is written with a single system call however many messages the
 * step queued for it (rt__conn_send_queue, the one place that sends). When
 * the queue empties, a lingering connection sends its FIN (conn.c's machine
 * goes LINGER -> SHUT). A reader too slow for what it is sent gets a grace
 * period over its cap, then a 1008 close; at the hard cap the close is
 * immediate, so a slow peer can never grow the server's memory without
 * bound.
 */
#include "conn_impl.h"
#include "../base/config.h"

/* ---- The ring ----------------------------------------------------------------- */

/* Gives the queue's ring back: to the pool at its first size, else to the
 * allocator. The caller resets or replaces c->q. */
static void rt__conn_free_ring(rt_conn *c)
{
    rt_server *srv = c->srv;
    if (c->q && c->qcap == RT__CONN_QUEUE_MIN)
        rt__srv_pool_put(srv, &srv->queue_pool, &srv->queue_pool_len, c->q,
                     RT__CONN_QUEUE_MIN * sizeof(rt_msg *));
    else if (c->q)
        rt_free(srv->cfg.alloc, c->q, c->qcap * sizeof(rt_msg *));
}

static void rt__conn_release_queue(rt_conn *c)
{
    while (c->qlen) {
        rt_msg_release(c->q[c->qhead]);
        c->qhead = (c->qhead + 1) & (c->qcap - 1);
        c->qlen--;
    }
    rt__conn_free_ring(c);
    c->q = NULL;
    c->qhead = c->qlen = c->qcap = c->qoff = 0;
    c->queued = 0;
}

/* ---- Writing -------------------------------------------------------------- */

static void rt__conn_want_write(rt_conn *c, int on)
{
    /* After the peer's FIN the socket stays readable (at EOF) for good, so
     * only writing is watched. */
    unsigned ev = (c->state == RT__CS_PEER_FIN ? 0u : (unsigned)RT_IO_READ) |
                  (on ? (unsigned)RT_IO_WRITE : 0u);
    if (!!(c->flags & RT__C_WANT_WRITE) == !!on)
        return;
    if (rt_loop_mod(c->srv->loop, c->fd, ev) != RT_OK) {
        rt__conn_drop(c, RT_WS_CLOSE_ABNORMAL);
        return;
    }
    c->flags = (uint8_t)(on ? c->flags | RT__C_WANT_WRITE : c->flags & ~RT__C_WANT_WRITE);
}

static void rt__conn_schedule_flush(rt_conn *c)
{
    if (c->flush_next)
        return; /* already on the list */
    c->flush_next = c->srv->flush ? c->srv->flush : c; /* the last points at itself */
    c->srv->flush = c;
}

/* Advances the queue past n written bytes, releasing finished messages. */
static void rt__conn_consume(rt_conn *c, size_t n)
{
    c->queued -= n;
    while (n > 0) {
        rt_msg *m = c->q[c->qhead];
        size_t left = m->len - c->qoff;
        if (n < left) {
            c->qoff += (uint32_t)n;
            return;
        }
        n -= left;
        rt_msg_release(m);
        c->qoff = 0;
        c->qhead = (c->qhead + 1) & (c->qcap - 1);
        c->qlen--;
    }
}

/* The queue just emptied: give the ring back, and finish a lingering close. */
static void rt__conn_drained(rt_conn *c)
{
    rt_server *srv = c->srv;
    if (c->state == RT__CS_PEER_FIN) {
        rt__conn_drop(c, RT_WS_CLOSE_ABNORMAL); /* all owed is written; both sides are done */
        return;
    }
    rt__conn_release_queue(c);
    rt__conn_want_write(c, 0);
    c->t_over = 0;
    if (c->state == RT__CS_DEAD)
        return; /* the loop refused the change */
    if (c->state == RT__CS_LINGER) {
        /* Half-close and wait for the peer's FIN: closing a socket that still
         * has unread input sends a reset, which can destroy our last reply. */
        rt_plat_shutdown_write(c->fd);
        rt__conn_set_state(c, RT__CS_SHUT);
        c->t_state = rt__srv_ms(srv);
        return;
    }
    if ((c->flags & RT__C_DRAIN) && srv->cfg.cb.on_drain) {
        c->flags &= (uint8_t)~RT__C_DRAIN;
        srv->cfg.cb.on_drain(c, srv->cfg.user);
    }
}

/* Copies the queue's leading messages into buf while they fit; returns the
 * number of messages copied and sets *len. */
static uint32_t rt__conn_gather(const rt_conn *c, unsigned char *buf, size_t cap, size_t *len)
{
    uint32_t i;
    *len = 0;
    for (i = 0; i < c->qlen; i++) {
        const rt_msg *m = c->q[(c->qhead + i) & (c->qcap - 1)];
        uint32_t off = i == 0 ? c->qoff : 0;
        if (*len + (m->len - off) > cap)
            break;
        memcpy(buf + *len, m->data + off, m->len - off);
        *len += m->len - off;
    }
    return i;
}

/* One system call for the queue. Several small messages (a busy room's
 * frames) are copied into the server's gather buffer first: the kernel takes
 * one long segment much faster than many 30-byte iovec entries. A single
 * message goes with a plain send() (cheaper than a sendmsg() of one entry);
 * otherwise the messages go as they are, an iovec entry each. */
static ptrdiff_t rt__conn_send_queue(rt_conn *c)
{
    rt_server *srv = c->srv;
    rt_plat_iov iov[RT_CONN_SEND_BATCH];
    uint32_t i, n = c->qlen < RT_CONN_SEND_BATCH ? c->qlen : RT_CONN_SEND_BATCH;
    size_t len = 0;
    if (RT_CONN_GATHER_BYTES > 0 && n > 1 && !srv->gather)
        srv->gather = (unsigned char *)rt_alloc(srv->cfg.alloc, RT_CONN_GATHER_BYTES);
    if (n > 1 && srv->gather && rt__conn_gather(c, srv->gather, RT_CONN_GATHER_BYTES, &len) > 1)
        return rt_plat_send(c->fd, srv->gather, len);
    if (n == 1) {
        rt_msg *m = c->q[c->qhead];
        return rt_plat_send(c->fd, m->data + c->qoff, m->len - c->qoff);
    }
    for (i = 0; i < n; i++) {
        rt_msg *m = c->q[(c->qhead + i) & (c->qcap - 1)];
        uint32_t off = i == 0 ? c->qoff : 0;
        iov[i].base = m->data + off;
        iov[i].len = m->len - off;
    }
    return rt_plat_sendv(c->fd, iov, n);
}

static void rt__conn_write(rt_conn *c)
{
    ptrdiff_t w = rt__conn_send_queue(c); /* a signal is retried inside */
    if (w == RT_AGAIN) {
        rt__conn_want_write(c, 1);
        return;
    }
    if (w < 0) {
        rt__conn_drop(c, RT_WS_CLOSE_ABNORMAL);
        return;
    }
    rt__conn_consume(c, (size_t)w);
    if (c->kind == RT_CONN_HTTP)
        c->t_ping = rt__srv_ms(c->srv); /* a reply is moving: see rt__conn_tick */
    if (c->qlen == 0)
        rt__conn_drained(c);
    else
        rt__conn_want_write(c, 1); /* the rest goes when the socket has room */
}

/* Doubles the ring (the first one comes from the pool). */
static rt_result rt__conn_grow_queue(rt_conn *c)
{
    rt_server *srv = c->srv;
    uint32_t i, cap = c->qcap ? c->qcap * 2 : RT__CONN_QUEUE_MIN;
    rt_msg **q;
    if (cap > UINT32_MAX / 2 / sizeof(rt_msg *))
        return RT_E_LIMIT;
    if (cap == RT__CONN_QUEUE_MIN)
        q = (rt_msg **)rt__srv_pool_get(srv, &srv->queue_pool, &srv->queue_pool_len,
                                    RT__CONN_QUEUE_MIN * sizeof(rt_msg *));
    else
        q = (rt_msg **)rt_alloc(srv->cfg.alloc, cap * sizeof(rt_msg *));
    if (!q)
        return RT_E_NOMEM;
    for (i = 0; i < c->qlen; i++)
        q[i] = c->q[(c->qhead + i) & (c->qcap - 1)];
    rt__conn_free_ring(c);
    c->q = q;
    c->qcap = cap;
    c->qhead = 0;
    return RT_OK;
}

/* Keeps what the peer must still get whole and drops the rest of the queue:
 * a message already partly written (what follows must start on a frame
 * boundary), and HTTP heads at the front (a 101 or an SSE head queued in
 * the same step as the flood behind it: without them the close frame or
 * the end of the stream would make no sense). Frames never start with 'H':
 * that would be RSV1, which this server never sets. */
static void rt__conn_trim_queue(rt_conn *c)
{
    uint32_t keep = 0, mask = c->qcap - 1;
    while (keep < c->qlen) {
        const rt_msg *m = c->q[(c->qhead + keep) & mask];
        if (!(keep == 0 && c->qoff != 0) && !(m->len >= 7 && memcmp(m->data, "HTTP/1.", 7) == 0))
            break;
        keep++;
    }
    if (keep == 0) {
        rt__conn_release_queue(c);
        return;
    }
    while (c->qlen > keep) {
        c->qlen--;
        c->queued -= c->q[(c->qhead + c->qlen) & mask]->len;
        rt_msg_release(c->q[(c->qhead + c->qlen) & mask]);
    }
}

/* The hard cap was hit, or the grace period ran out: drop the backlog
 * (rt__conn_trim_queue) and say 1008. If our close frame is already queued,
 * or will not fit, just hang up. Either way the backlog is dealt with, so
 * t_over is cleared: left set, the next tick would take this path again
 * and the close timeout would never be checked. */
static void rt__conn_overflow(rt_conn *c)
{
    c->close_code = RT_WS_CLOSE_POLICY;
    c->t_over = 0;
    if (c->kind == RT_CONN_WS && c->state != RT__CS_WS_OPEN) { /* our close frame is queued */
        rt__conn_drop(c, RT_WS_CLOSE_POLICY);
        return;
    }
    rt__conn_trim_queue(c);
    if (c->queued > c->srv->cfg.max_pending) {
        rt__conn_drop(c, RT_WS_CLOSE_POLICY); /* what must stay is itself the backlog */
        return;
    }
    rt_conn_close(c, RT_WS_CLOSE_POLICY, "send queue full");
}

/* The queue size that closes a connection at once: max_pending plus room
 * for another max_pending or for one whole message of the largest size,
 * whichever is bigger. Twice max_pending alone would refuse the echo of a
 * message larger than that, however fast the peer reads. */
static size_t rt__conn_hard_cap(const rt_server_config *cfg)
{
    size_t room = cfg->max_message > cfg->max_pending ? cfg->max_message : cfg->max_pending;
    return cfg->max_pending > SIZE_MAX - room ? SIZE_MAX : cfg->max_pending + room;
}

/* Backpressure policy: over max_pending the connection gets
 * pending_grace_ms to catch up, then it is closed with 1008; past the hard
 * cap it is closed at once, so one slow reader can never make the server's
 * memory grow without bound. */
static rt_result rt__conn_enqueue(rt_conn *c, rt_msg *m)
{
    size_t cap = c->srv->cfg.max_pending;
    if (!rt__conn_takes_output(c))
        return RT_E_CLOSED;
    if (m->len > rt__conn_hard_cap(&c->srv->cfg) - c->queued) { /* queued <= hard cap */
        rt__conn_overflow(c);
        return RT_E_LIMIT;
    }
    if (c->qlen == c->qcap && rt__conn_grow_queue(c) != RT_OK)
        return RT_E_NOMEM;
    if (c->qlen == 0 && c->kind == RT_CONN_HTTP)
        c->t_ping = rt__srv_ms(c->srv); /* a reply starts: see rt__conn_tick */
    rt_msg_retain(m);
    c->q[(c->qhead + c->qlen) & (c->qcap - 1)] = m;
    c->qlen++;
    c->queued += m->len;
    if (c->queued > cap / 2)
        c->flags |= RT__C_DRAIN;
    if (c->queued > cap && c->t_over == 0)
        c->t_over = rt__srv_ms(c->srv);
    rt__conn_schedule_flush(c);
    return RT_OK;
}

/* Queues bytes that belong to this connection alone (a reply, a pong). */
static rt_result rt__conn_send_bytes(rt_conn *c, const void *data, size_t n)
{
    rt_msg *m = rt_msg_raw(c->srv, data, n);
    rt_result r;
    if (!m)
        return RT_E_NOMEM;
    r = rt__conn_enqueue(c, m);
    rt_msg_release(m);
    return r;
}

static rt_result rt__conn_send_frame(rt_conn *c, int opcode, const void *data, size_t n)
{
    unsigned char frame[RT_WS_MAX_HEADER + RT_WS_MAX_CONTROL];
    size_t len;
    if (n > RT_WS_MAX_CONTROL)
        return rt_conn_send(c, opcode, data, n);
    len = rt_ws_format_frame(frame, sizeof frame, opcode, data, n, NULL);
    return rt__conn_send_bytes(c, frame, len);
}

rt_result rt_conn_send_msg(rt_conn *c, rt_msg *m)
{
    if (c->state == RT__CS_WS_CLOSING)
        return RT_E_CLOSED;
    return rt__conn_enqueue(c, m); /* RT_E_CLOSED too when closing */
}

rt_result rt_conn_send(rt_conn *c, int opcode, const void *data, size_t n)
{
    rt_msg *m;
    rt_result r;
    if (c->state != RT__CS_WS_OPEN)
        return RT_E_CLOSED;
    if (n > c->srv->cfg.max_message)
        return RT_E_LIMIT;
    m = rt_msg_ws(c->srv, opcode, data, n);
    if (!m)
        return RT_E_NOMEM;
    r = rt__conn_enqueue(c, m);
    rt_msg_release(m);
    return r;
}
