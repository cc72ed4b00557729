/* server.c - the listener, the connections' memory, timeouts, the step.
 *
 * The server accepts connections (refusing, with an answer, those over
 * max_conns or accept_rate), keeps their structs in slab blocks and their
 * read buffers and queue rings in pools, runs the housekeeping tick
 * (timeouts, pings, backpressure grace, held-request deadlines) and, once
 * per loop step, writes every queued connection and frees the dead ones.
 * What one connection does with its bytes is conn.c's state machine and
 * conn_queue.c's output; conn_impl.h is the interface between the three.
 */
#include "conn_impl.h"
#include "../base/config.h"

#define RT__SRV_ACCEPT_BATCH 64   /* accepts per readable event on the listener */
#define RT__SRV_POOL_KEEP 64      /* free buffers each pool keeps */
#define RT__SRV_REJECT_EXTRA 64   /* connections beyond max_conns we answer 503 */
#define RT__SRV_SLAB 64           /* most connection structs per allocation (< 256) */

#ifndef RT_NO_LONGPOLL
static void rt__srv_on_hold(rt_loop *loop, void *user);
#endif

/* ---- Small helpers ---------------------------------------------------------- */

/* Milliseconds since the server started, as 32 bits: comparisons below use
 * wrap-safe differences, so a device may run for years. */
static uint32_t rt__srv_ms(const rt_server *srv)
{
    return (uint32_t)(srv->loop->now - srv->t0) | 1u; /* 0 means "unset" */
}

static int rt__srv_elapsed(const rt_server *srv, uint32_t since, uint32_t ms)
{
    return since != 0 && (uint32_t)(rt__srv_ms(srv) - since) >= ms;
}

/* ---- Messages ------------------------------------------------------------ */

static rt_msg *rt__srv_msg_new(const rt_allocator *a, size_t n)
{
    rt_msg *m;
    if (n > UINT32_MAX - sizeof(rt_msg))
        return NULL;
    m = (rt_msg *)rt_alloc(a, sizeof(rt_msg) + n);
    if (!m)
        return NULL;
    m->refs = 1;
    m->len = (uint32_t)n;
    m->alloc = a;
    return m;
}

rt_msg *rt_msg_raw(rt_server *srv, const void *data, size_t n)
{
    rt_msg *m = rt__srv_msg_new(srv->cfg.alloc, n);
    if (m && n)
        memcpy(m->data, data, n);
    return m;
}

rt_msg *rt_msg_ws(rt_server *srv, int opcode, const void *data, size_t n)
{
    unsigned char hdr[RT_WS_MAX_HEADER];
    size_t h;
    rt_msg *m;
    if (n > srv->cfg.max_message)
        return NULL;
    h = rt_ws_write_header(hdr, opcode, 1, n, NULL);
    m = rt__srv_msg_new(srv->cfg.alloc, h + n);
    if (!m)
        return NULL;
    memcpy(m->data, hdr, h);
    if (n)
        memcpy(m->data + h, data, n);
    return m;
}

#ifndef RT_NO_SSE
/* rt_msg_sse, saying why it failed: RT_E_INVAL (a bad name or id),
 * RT_E_LIMIT or RT_E_NOMEM. */
static rt_msg *rt__srv_msg_sse(rt_server *srv, const rt_sse_event *ev, rt_result *err)
{
    rt_result need = rt_sse_format(NULL, 0, ev);
    rt_msg *m;
    *err = need < 0 ? need : RT_E_NOMEM;
    if (need < 0)
        return NULL;
    m = rt__srv_msg_new(srv->cfg.alloc, (size_t)need);
    if (m)
        rt_sse_format((char *)m->data, (size_t)need, ev);
    return m;
}

rt_msg *rt_msg_sse(rt_server *srv, const rt_sse_event *ev)
{
    rt_result err;
    return rt__srv_msg_sse(srv, ev, &err);
}
#endif /* RT_NO_SSE */

void rt_msg_retain(rt_msg *m)
{
    m->refs++;
}

void rt_msg_release(rt_msg *m)
{
    if (m && --m->refs == 0)
        rt_free(m->alloc, m, sizeof(rt_msg) + m->len);
}

/* ---- Connection structs: slab blocks -------------------------------------------
 * Connections come from blocks of up to RT__SRV_SLAB structs, which saves
 * the allocator's header on each (16 bytes with glibc). A new block holds
 * as many structs as are in use (4 at least), so capacity about doubles and
 * a device with a handful of connections holds a handful of structs; a
 * block is allocated only as long as its cap needs. Each block has its own
 * free list; the blocks with a free struct are on the server's list. A
 * block whose structs are all free again goes back to the allocator unless
 * it is the only one with room, so memory follows the number of
 * connections down as well as up, and a connection that comes and goes
 * does not allocate. */
struct rt__conn_slab {
    rt_list link;               /* on srv->slabs while it has a free struct */
    rt_conn *free;              /* its free structs, linked through ->flush_next */
    uint32_t used;
    uint32_t cap;               /* structs in this block, <= RT__SRV_SLAB */
    rt_conn conns[RT__SRV_SLAB];
};

static size_t rt__srv_slab_bytes(uint32_t cap)
{
    return offsetof(rt__conn_slab, conns) + cap * sizeof(rt_conn);
}

static rt__conn_slab *rt__srv_slab_of(rt_conn *c)
{
    return (rt__conn_slab *)(void *)((char *)(c - c->slab_index) -
                                     offsetof(rt__conn_slab, conns));
}

/* The first block with a free struct, or NULL. */
static rt__conn_slab *rt__srv_slab_first(const rt_server *srv)
{
    rt_list *n = rt_list_first(&srv->slabs);
    return n ? RT_LIST_ENTRY(n, rt__conn_slab, link) : NULL;
}

static rt__conn_slab *rt__srv_slab_new(rt_server *srv)
{
    size_t live = srv->nconns + srv->nreject;
    uint32_t cap = live < 4 ? 4 : live < RT__SRV_SLAB ? (uint32_t)live : RT__SRV_SLAB;
    rt__conn_slab *s = (rt__conn_slab *)rt_alloc(srv->cfg.alloc, rt__srv_slab_bytes(cap));
    uint8_t i;
    if (!s)
        return NULL;
    s->free = NULL;
    s->used = 0;
    s->cap = cap;
    for (i = (uint8_t)cap; i-- > 0;) {
        s->conns[i].slab_index = i;
        s->conns[i].flush_next = s->free;
        s->free = &s->conns[i];
    }
    rt_list_push_front(&srv->slabs, &s->link);
    return s;
}

/* A zeroed connection struct, or NULL when the allocator fails. */
static rt_conn *rt__srv_conn_alloc(rt_server *srv)
{
    rt__conn_slab *s = rt__srv_slab_first(srv);
    rt_conn *c;
    uint8_t i;
    if (!s)
        s = rt__srv_slab_new(srv);
    if (!s)
        return NULL;
    c = s->free;
    s->free = c->flush_next;
    if (++s->used == s->cap)
        rt_list_unlink(&s->link); /* full */
    i = c->slab_index;
    memset(c, 0, sizeof *c);
    c->slab_index = i;
    return c;
}

static void rt__srv_conn_dealloc(rt_server *srv, rt_conn *c)
{
    rt__conn_slab *s = rt__srv_slab_of(c);
    c->flush_next = s->free;
    s->free = c;
    if (s->used-- == s->cap)
        rt_list_push_front(&srv->slabs, &s->link); /* was full: has room again */
    if (s->used == 0 && rt_list_first(&srv->slabs) != rt_list_last(&srv->slabs)) {
        rt_list_unlink(&s->link); /* empty, and not the only block with room */
        rt_free(srv->cfg.alloc, s, rt__srv_slab_bytes(s->cap));
    }
}

/* ---- Pools: read buffers and queue rings come and go with traffic -------- */

static void *rt__srv_pool_get(rt_server *srv, void **pool, size_t *len, size_t size)
{
    void *p = *pool;
    if (p) {
        memcpy(pool, p, sizeof(void *)); /* first word links the free list */
        (*len)--;
        return p;
    }
    return rt_alloc(srv->cfg.alloc, size);
}

static void rt__srv_pool_put(rt_server *srv, void **pool, size_t *len, void *p, size_t size)
{
    if (*len >= RT__SRV_POOL_KEEP) {
        rt_free(srv->cfg.alloc, p, size);
        return;
    }
    memcpy(p, pool, sizeof(void *));
    *pool = p;
    (*len)++;
}

static void rt__srv_pool_drain(rt_server *srv, void **pool, size_t *len, size_t size)
{
    while (*pool) {
        void *p = *pool;
        memcpy(pool, p, sizeof(void *));
        rt_free(srv->cfg.alloc, p, size);
    }
    *len = 0;
}

/* A connection closed its socket (rt__conn_drop): it no longer counts
 * against the limits, and a listener muted for lack of descriptors may take
 * the next one. Its struct is freed at the end of the step (rt__conn_free). */
static void rt__srv_conn_gone(rt_server *srv, const rt_conn *c)
{
    srv->ndead++;
    if (c->flags & (RT__C_REJECT | RT__C_RATED))
        srv->nreject--;
    else
        srv->nconns--;
    if (srv->accept_paused && srv->listen_fd >= 0) {
        srv->accept_paused = 0;
        rt_loop_mod(srv->loop, srv->listen_fd, RT_IO_READ);
    }
}

/* srv->conns in order: the first connection, the one after c (NULL at the
 * end). A loop that may free c reads the next one first. */
static rt_conn *rt__srv_first(const rt_server *srv)
{
    rt_list *n = rt_list_first(&srv->conns);
    return n ? RT_LIST_ENTRY(n, rt_conn, link) : NULL;
}

static rt_conn *rt__srv_next(const rt_server *srv, const rt_conn *c)
{
    rt_list *n = rt_list_next(&srv->conns, &c->link);
    return n ? RT_LIST_ENTRY(n, rt_conn, link) : NULL;
}

static void rt__conn_free(rt_conn *c)
{
    rt_list_unlink(&c->link);
    rt__srv_conn_dealloc(c->srv, c);
}

/* ---- Accepting ------------------------------------------------------------- */

/* reject is 0, or RT__C_REJECT (over max_conns: 503) or RT__C_RATED (over
 * accept_rate: 429); a few such connections are kept to read their request
 * and answer it, beyond that they are closed at once. */
static void rt__conn_new(rt_server *srv, int fd, uint8_t reject)
{
    rt_conn *c = NULL;
    if (!reject || srv->nreject < RT__SRV_REJECT_EXTRA)
        c = rt__srv_conn_alloc(srv);
    if (!c || rt_plat_set_nonblock(fd) != RT_OK ||
        rt_loop_add(srv->loop, fd, RT_IO_READ, rt__conn_on_io, c) != RT_OK) {
        if (c)
            rt__srv_conn_dealloc(srv, c);
        rt_plat_close(fd);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    c->state = RT__CS_READING; /* and kind RT_CONN_HTTP: both zero */
    c->flags = reject;
    rt_room_member_init(&c->member, NULL); /* its user: the application's */
    rt_plat_set_nodelay(fd);
    rt_list_push_front(&srv->conns, &c->link);
    if (!reject)
        srv->nconns++;
    else
        srv->nreject++;
    c->t_rx = rt__srv_ms(srv);
    rt__conn_http_reset(c);
}

struct rt__accept_slot {
    uint32_t key;    /* hash of the source address, 0 = free */
    uint32_t second; /* the one-second window being counted */
    uint32_t count;
};

/* FNV-1a over the address bytes (not the port): one source, one counter. */
static uint32_t rt__srv_addr_key(const rt_plat_addr *a)
{
    return rt_fnv1a(RT_FNV1A_BASIS, a->bytes, a->len) | 1u;
}

/* 1 when this source has opened more than accept_rate connections in the
 * current second. Sources that share a slot share a count: the table stays
 * small and fixed, and a collision can only make the limit stricter. */
static int rt__srv_over_rate(rt_server *srv, const rt_plat_addr *from)
{
    struct rt__accept_slot *s;
    uint32_t key, second = (uint32_t)(srv->loop->now / 1000);
    if (!srv->accept_slots)
        return 0;
    key = rt__srv_addr_key(from);
    s = &srv->accept_slots[key % RT_ACCEPT_SLOTS];
    if (s->key != key || s->second != second) {
        s->key = key;
        s->second = second;
        s->count = 0;
    }
    return ++s->count > srv->cfg.accept_rate;
}

static void rt__srv_on_accept(rt_loop *loop, int fd, unsigned events, void *user)
{
    rt_server *srv = (rt_server *)user;
    int i;
    (void)loop;
    (void)events;
    for (i = 0; i < RT__SRV_ACCEPT_BATCH; i++) {
        rt_plat_addr from;
        int cfd = -1;
        rt_result r = rt_plat_accept(fd, &cfd, &from);
        if (r == RT_E_LIMIT) {
            /* Out of descriptors: stop listening until a connection closes,
             * or the pending connection would wake us up forever. */
            rt_loop_mod(srv->loop, fd, 0);
            srv->accept_paused = 1;
            return;
        }
        if (r != RT_OK)
            return; /* none pending, or a transient error such as ECONNABORTED */
        if (rt__srv_over_rate(srv, &from))
            rt__conn_new(srv, cfd, RT__C_RATED); /* read its request, answer 429 */
        else if (srv->nconns < srv->cfg.max_conns)
            rt__conn_new(srv, cfd, 0);
        else
            rt__conn_new(srv, cfd, RT__C_REJECT); /* read its request, answer 503 */
    }
}

/* ---- Housekeeping: timeouts, heartbeats, backpressure ------------------------ */

static void rt__conn_tick_ws(rt_conn *c)
{
    const rt_server_config *cfg = &c->srv->cfg;
    if (c->state != RT__CS_WS_OPEN) { /* our close frame is queued */
        if (rt__srv_elapsed(c->srv, c->t_state, cfg->close_timeout_ms))
            rt__conn_drop(c, RT_WS_CLOSE_ABNORMAL);
        return;
    }
    if (rt__srv_elapsed(c->srv, c->t_rx, cfg->idle_timeout_ms)) {
        rt__conn_drop(c, RT_WS_CLOSE_ABNORMAL); /* no pong, no data: peer is gone */
        return;
    }
    if (cfg->ping_interval_ms && rt__srv_elapsed(c->srv, c->t_ping, cfg->ping_interval_ms)) {
        c->t_ping = rt__srv_ms(c->srv);
        rt__conn_send_frame(c, RT_WS_PING, NULL, 0);
    }
}

static void rt__conn_tick(rt_conn *c)
{
    rt_server *srv = c->srv;
    const rt_server_config *cfg = &srv->cfg;
    if (rt__srv_elapsed(srv, c->t_over, cfg->pending_grace_ms)) {
        rt__conn_overflow(c); /* stayed over its cap for the whole grace period */
        return;
    }
    if (c->state == RT__CS_SHUT) {
        if (rt__srv_elapsed(srv, c->t_state, cfg->close_timeout_ms))
            rt__conn_drop(c, RT_WS_CLOSE_ABNORMAL);
        return;
    }
    switch (c->kind) {
    case RT_CONN_HTTP:
        if (c->qlen) {
            /* A reply the peer has stopped reading (its window stays shut):
             * given up after the idle timeout without progress. */
            if (rt__srv_elapsed(srv, c->t_ping, cfg->idle_timeout_ms))
                rt__conn_drop(c, RT_WS_CLOSE_ABNORMAL);
            break;
        }
        if (!rt__conn_takes_output(c) ||
            !rt__srv_elapsed(srv, c->t_state, cfg->request_timeout_ms))
            break;
        if (c->rlen)
            rt__conn_http_error(c, 408, NULL); /* a request that never finished: slowloris */
        else
            rt_conn_close(c, 0, NULL); /* an idle keep-alive: close quietly */
        break;
    case RT_CONN_WS:
        rt__conn_tick_ws(c);
        break;
#ifndef RT_NO_SSE
    case RT_CONN_SSE:
        if (cfg->sse_keepalive_ms && rt__srv_elapsed(srv, c->t_ping, cfg->sse_keepalive_ms)) {
            c->t_ping = rt__srv_ms(srv);
            rt__conn_send_bytes(c, ":\n\n", 3); /* a comment keeps proxies from timing out */
        }
        break;
#endif
#ifndef RT_NO_LONGPOLL
    case RT_CONN_HELD:
        if (c->state == RT__CS_HELD && (int32_t)(rt__srv_ms(srv) - c->t_state) >= 0)
            rt__conn_hold_expired(c);
        break;
#endif
    }
}

static void rt__srv_on_tick(rt_loop *loop, void *user)
{
    rt_server *srv = (rt_server *)user;
    rt_conn *c, *next;
    (void)loop;
    for (c = rt__srv_first(srv); c; c = next) {
        next = rt__srv_next(srv, c);
        if (c->state != RT__CS_DEAD)
            rt__conn_tick(c);
    }
    if (srv->shutting_down && (int32_t)(rt__srv_ms(srv) - srv->shutdown_deadline) >= 0) {
        for (c = rt__srv_first(srv); c; c = rt__srv_next(srv, c))
            rt__conn_drop(c, RT_WS_CLOSE_GOING_AWAY);
    }
}

/* End of every loop step: one write per queued connection, then free the
 * dead. A connection whose held request was just answered may have more
 * requests waiting in its buffer: they are parsed here, outside whatever
 * callback answered it. */
static void rt__srv_on_step(rt_loop *loop, void *user)
{
    rt_server *srv = (rt_server *)user;
    rt_conn *c, *next;
    (void)loop;
    while (srv->flush) {
        c = srv->flush;
        srv->flush = c->flush_next == c ? NULL : c->flush_next;
        c->flush_next = NULL;
        if (c->state != RT__CS_DEAD && c->qlen && !(c->flags & RT__C_WANT_WRITE))
            rt__conn_write(c);
        if (c->rlen && (c->state == RT__CS_READING || c->state == RT__CS_REPLIED))
            rt__conn_input(c);
    }
    for (c = rt__srv_first(srv); c && srv->ndead; c = next) {
        next = rt__srv_next(srv, c);
        if (c->state == RT__CS_DEAD) {
            rt__conn_free(c);
            srv->ndead--;
        }
    }
}

/* ---- Broadcast and held requests ---------------------------------------------- */

rt_result rt_server_broadcast(rt_server *srv, int opcode, const void *data, size_t n,
                              rt_conn *exclude)
{
    rt_msg *m = rt_msg_ws(srv, opcode, data, n);
    rt_conn *c, *next;
    rt_result count = 0;
    if (!m)
        return n > srv->cfg.max_message ? RT_E_LIMIT : RT_E_NOMEM;
    for (c = rt__srv_first(srv); c; c = next) {
        next = rt__srv_next(srv, c);
        if (c != exclude && c->kind == RT_CONN_WS && rt_conn_send_msg(c, m) == RT_OK)
            count++;
    }
    rt_msg_release(m);
    return count;
}

#ifndef RT_NO_LONGPOLL
/* Held requests end on time: one timer, armed for the end of the slot of
 * the earliest deadline (a pass over the connections when it fires answers
 * every request due and finds the next deadline; deadlines in one
 * RT_HOLD_SLOT_MS slot share the pass). The housekeeping tick checks them
 * too, so a timer that could not be started only makes an answer late. */
static void rt__srv_hold_arm(rt_server *srv, uint32_t due)
{
    int32_t wait;
    due += (uint32_t)(RT_HOLD_SLOT_MS - 1) - (due + (uint32_t)(RT_HOLD_SLOT_MS - 1)) % RT_HOLD_SLOT_MS;
    wait = (int32_t)(due - rt__srv_ms(srv));
    if (rt_timer_active(&srv->hold_timer) && (int32_t)(due - srv->hold_due) >= 0)
        return;
    srv->hold_due = due;
    rt_timer_start(srv->loop, &srv->hold_timer, wait > 0 ? (uint32_t)wait : 0u, 0,
                   rt__srv_on_hold, srv);
}

static void rt__srv_on_hold(rt_loop *loop, void *user)
{
    rt_server *srv = (rt_server *)user;
    rt_conn *c;
    uint32_t now = rt__srv_ms(srv), due = 0;
    int later = 0;
    (void)loop;
    for (c = rt__srv_first(srv); c; c = rt__srv_next(srv, c)) {
        if (c->state != RT__CS_HELD)
            continue; /* or closed (by on_hold_timeout, say), on its way out */
        if ((int32_t)(now - c->t_state) >= 0)
            rt__conn_hold_expired(c); /* may hold or free others: freeing waits for the step's end */
        else if (!later || (int32_t)(c->t_state - due) < 0) {
            due = c->t_state;
            later = 1;
        }
    }
    if (later)
        rt__srv_hold_arm(srv, due);
}
#endif /* RT_NO_LONGPOLL */

/* ---- Public: the server ----------------------------------------------------------- */

static uint32_t rt__srv_min_nonzero(uint32_t a, uint32_t b)
{
    return a == 0 ? b : (b == 0 || a < b ? a : b);
}

static void rt__srv_defaults(rt_server_config *cfg)
{
    if (!cfg->max_conns) cfg->max_conns = RT_SERVER_MAX_CONNS;
    if (!cfg->max_message) cfg->max_message = RT_WS_MAX_MESSAGE;
    if (!cfg->max_header_bytes) cfg->max_header_bytes = RT_HTTP_MAX_HEADER_BYTES;
    if (!cfg->max_body) cfg->max_body = RT_HTTP_MAX_BODY;
    if (!cfg->max_pending) cfg->max_pending = RT_CONN_MAX_PENDING;
    if (!cfg->pending_grace_ms) cfg->pending_grace_ms = RT_CONN_PENDING_GRACE_MS;
    if (!cfg->ping_interval_ms) cfg->ping_interval_ms = RT_PING_INTERVAL_MS;
    if (!cfg->idle_timeout_ms) cfg->idle_timeout_ms = RT_IDLE_TIMEOUT_MS;
    if (!cfg->request_timeout_ms) cfg->request_timeout_ms = RT_REQUEST_TIMEOUT_MS;
    if (!cfg->close_timeout_ms) cfg->close_timeout_ms = RT_CLOSE_TIMEOUT_MS;
#ifndef RT_NO_SSE
    if (!cfg->sse_keepalive_ms) cfg->sse_keepalive_ms = RT_SSE_KEEPALIVE_MS;
#else
    cfg->sse_keepalive_ms = 0; /* no streams: the tick does not run for them */
#endif
}

/* The housekeeping tick: a quarter of the shortest timeout, 10 ms to 1 s. */
static uint32_t rt__srv_tick_ms(const rt_server_config *cfg)
{
    uint32_t t = rt__srv_min_nonzero(cfg->ping_interval_ms, cfg->idle_timeout_ms);
    t = rt__srv_min_nonzero(t, cfg->request_timeout_ms);
    t = rt__srv_min_nonzero(t, cfg->close_timeout_ms);
    t = rt__srv_min_nonzero(t, cfg->pending_grace_ms);
    t = rt__srv_min_nonzero(t, cfg->sse_keepalive_ms) / 4;
    return t < 10 ? 10 : t > 1000 ? 1000 : t;
}

void rt_server_config_init(rt_server_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
}

rt_result rt_server_init(rt_server *srv, rt_loop *loop, const rt_server_config *cfg)
{
    uint32_t tick;
    rt_result r;
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->cfg = *cfg;
    rt__srv_defaults(&srv->cfg);
    srv->t0 = loop->now;
    r = rt_plat_listen(cfg->host, cfg->port, &srv->listen_fd, &srv->port);
    if (r != RT_OK)
        return r; /* RT_E_INVAL: not an address; RT_E_IO: cannot bind */
    if (srv->cfg.accept_rate) {
        size_t n = RT_ACCEPT_SLOTS * sizeof(struct rt__accept_slot);
        srv->accept_slots = (struct rt__accept_slot *)rt_alloc(srv->cfg.alloc, n);
        if (!srv->accept_slots)
            goto fail;
        memset(srv->accept_slots, 0, n);
    }
    if (rt_loop_add(loop, srv->listen_fd, RT_IO_READ, rt__srv_on_accept, srv) != RT_OK)
        goto fail;
    tick = rt__srv_tick_ms(&srv->cfg);
    if (rt_timer_start(loop, &srv->tick, tick, tick, rt__srv_on_tick, srv) != RT_OK)
        goto fail_del;
    rt_loop_hook_add(loop, &srv->hook, rt__srv_on_step, srv);
    return RT_OK;
fail_del:
    rt_loop_del(loop, srv->listen_fd);
fail:
    rt_free(srv->cfg.alloc, srv->accept_slots, RT_ACCEPT_SLOTS * sizeof(struct rt__accept_slot));
    srv->accept_slots = NULL;
    rt_plat_close(srv->listen_fd);
    srv->listen_fd = -1;
    return RT_E_NOMEM;
}

static void rt__srv_close_listener(rt_server *srv)
{
    if (srv->listen_fd < 0)
        return;
    rt_loop_del(srv->loop, srv->listen_fd);
    rt_plat_close(srv->listen_fd);
    srv->listen_fd = -1;
}

void rt_server_deinit(rt_server *srv)
{
    rt_conn *c, *next;
    rt__conn_slab *s;
    srv->cfg.cb.on_close = NULL; /* no callbacks while tearing down */
    srv->cfg.cb.on_drain = NULL;
    for (c = rt__srv_first(srv); c; c = next) {
        next = rt__srv_next(srv, c);
        rt__conn_drop(c, RT_WS_CLOSE_GOING_AWAY);
        rt__srv_conn_dealloc(srv, c);
    }
    s = rt__srv_slab_first(srv); /* the one block kept with room: all free now */
    if (s)
        rt_free(srv->cfg.alloc, s, rt__srv_slab_bytes(s->cap));
    srv->slabs.prev = srv->slabs.next = NULL;
    srv->conns.prev = srv->conns.next = NULL; /* the structs are gone: empty */
    srv->flush = NULL;
    rt__srv_close_listener(srv);
    rt_timer_stop(srv->loop, &srv->tick);
#ifndef RT_NO_LONGPOLL
    rt_timer_stop(srv->loop, &srv->hold_timer);
#endif
    rt_loop_hook_del(srv->loop, &srv->hook);
    rt_free(srv->cfg.alloc, srv->accept_slots, RT_ACCEPT_SLOTS * sizeof(struct rt__accept_slot));
    srv->accept_slots = NULL;
    rt_free(srv->cfg.alloc, srv->gather, RT_CONN_GATHER_BYTES);
    srv->gather = NULL;
    rt__srv_pool_drain(srv, &srv->read_pool, &srv->read_pool_len, RT_CONN_READ_BUF);
    rt__srv_pool_drain(srv, &srv->queue_pool, &srv->queue_pool_len,
                   RT__CONN_QUEUE_MIN * sizeof(rt_msg *));
}

static void rt__conn_shutdown(rt_conn *c)
{
#ifndef RT_NO_SSE
    static const char bye[] = "event: shutdown\ndata: server is shutting down\n\n";
#endif
    switch (c->kind) {
    case RT_CONN_WS:
        rt_conn_close(c, RT_WS_CLOSE_GOING_AWAY, "server shutting down");
        break;
#ifndef RT_NO_SSE
    case RT_CONN_SSE:
        rt__conn_send_bytes(c, bye, sizeof bye - 1);
        rt_conn_close(c, RT_WS_CLOSE_GOING_AWAY, NULL);
        break;
#endif
#ifndef RT_NO_LONGPOLL
    case RT_CONN_HELD:
        if (rt_conn_reply(c, 503, NULL, NULL, 0, "Retry-After: 1\r\n") != RT_OK) {
            rt_conn_close(c, RT_WS_CLOSE_GOING_AWAY, NULL); /* on_close as it goes */
            break;
        }
        /* The server answered it, not the application, which may keep it in
         * a list of waiters: on_close tells it the request is over, as for a
         * stream. (The 503 now flushes, then the connection closes.) */
        rt__conn_notify(c, RT_WS_CLOSE_GOING_AWAY, rt_str_c(NULL));
        break;
#endif
    default:
        rt_conn_close(c, RT_WS_CLOSE_GOING_AWAY, NULL);
        break;
    }
}

void rt_server_shutdown(rt_server *srv, uint32_t timeout_ms)
{
    rt_conn *c, *next;
    if (srv->shutting_down)
        return;
    srv->shutting_down = 1;
    srv->shutdown_deadline = (rt__srv_ms(srv) + timeout_ms) | 1u;
    rt__srv_close_listener(srv);
    for (c = rt__srv_first(srv); c; c = next) {
        next = rt__srv_next(srv, c);
        if (c->state != RT__CS_DEAD)
            rt__conn_shutdown(c);
    }
}

int rt_server_done(const rt_server *srv)
{
    return srv->shutting_down && srv->nconns + srv->nreject == 0;
}

int rt_server_port(const rt_server *srv) { return srv->port; }
size_t rt_server_conn_count(const rt_server *srv) { return srv->nconns; }
