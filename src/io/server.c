/* server.c - listening socket, connection state machine, queues, timeouts.
 *
 * Reading: bytes land in a pooled read buffer and go through the sans-IO
 * codecs (rt_http_parse_request, then rt_ws_parse). Writing: every outgoing
 * message is an rt_msg; a connection's queue is a ring of pointers to them.
 * Queued connections go on the flush list, and a loop hook writes each one
 * with a single system call at the end of the step, however many messages
 * the step queued for it (rt__conn_send_queue). Freeing is deferred to the
 * same hook, so a connection that dies in the middle of a broadcast or a
 * callback is still valid memory until the step is over.
 *
 * An HTTP connection's life: a request is answered (keep-alive: the next
 * one is parsed), held for long polling (requests pipelined behind it wait
 * in the buffer), turned into an SSE stream, or upgraded. A FIN from the
 * client still lets the reply it is owed go out; a reply that stops moving
 * is given up after the idle timeout.
 */
#include "server.h"
#include "../base/config.h"
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <stdio.h>

#define RT__SRV_ACCEPT_BATCH 64   /* accepts per readable event on the listener */
#define RT__SRV_READS_PER_EVENT 4 /* reads per readable event (fairness) */
#define RT__SRV_IOV 64            /* queue entries per sendmsg */
#define RT__SRV_GATHER 16384      /* bytes of small messages copied into one send */
#define RT__SRV_POOL_KEEP 64      /* free buffers each pool keeps */
#define RT__SRV_QUEUE_MIN 16      /* first size of a queue ring */
#define RT__SRV_REJECT_EXTRA 64   /* connections beyond max_conns we answer 503 */
#define RT__SRV_SLAB 64           /* most connection structs per allocation (< 256) */

/* Where a connection is in its life (the machine is drawn at the top of this
 * file). Only rt__conn_set_state changes it. */
enum rt__conn_state {
    RT__CS_READING = 0, /* HTTP: a request is read or handled; not answered yet */
    RT__CS_REPLIED,     /* HTTP: answered (keep-alive); the next request is read when it comes */
    RT__CS_HELD,        /* a request held open for a later reply (long poll) */
    RT__CS_SSE,         /* an event stream */
    RT__CS_WS_OPEN,     /* a WebSocket */
    RT__CS_WS_CLOSING,  /* our close frame is queued; waiting for the peer's */
    RT__CS_LINGER,      /* takes no more output: what is queued is written, then FIN */
    RT__CS_SHUT,        /* we sent FIN; waiting for the peer's (close_timeout at most) */
    RT__CS_PEER_FIN,    /* the HTTP peer half-closed: what it is owed is written, then close */
    RT__CS_DEAD,        /* socket closed; the struct is freed at the end of the step */
    RT__CS_COUNT
};

/* Facts that hold across states. */
enum {
    RT__C_WANT_WRITE = 1 << 0,  /* registered for RT_IO_WRITE */
    RT__C_REJECT = 1 << 1,      /* admitted over max_conns: its request gets 503 */
    RT__C_RATED = 1 << 2,       /* admitted over accept_rate: its request gets 429 */
    RT__C_DRAIN = 1 << 3,       /* the queue passed half its cap: tell on_drain */
    RT__C_KEEPALIVE = 1 << 4,   /* the current request allows keep-alive */
    RT__C_HEAD = 1 << 5,        /* the current request is HEAD: reply without a body */
    RT__C_NOTIFIED = 1 << 6,    /* on_close has been called */
    RT__C_JSON = 1 << 7         /* room messages go out as wire-protocol JSON */
};

struct rt_conn {
    rt_server *srv;
    rt_conn *prev, *next;     /* every connection of the server */
    rt_conn *flush_next;      /* flush list link; non-NULL while on it (the last points
                                 at itself); in a free slab struct, the free list link */
    void *user;
    int fd;
    uint8_t flags;            /* RT__C_* */
    uint8_t state;            /* enum rt__conn_state */
    uint8_t kind;             /* enum rt_conn_kind, what rt_conn_kind reports: set with
                                 the state, kept while the connection closes */
    uint8_t proto;            /* chosen subprotocol index + 1, 0 for none */
    uint16_t close_code;      /* reported to on_close */
    uint8_t strikes;          /* refusals in a row (rate limit) */
    uint8_t slab_index;       /* position in its slab block */
    uint32_t t_tok;           /* last rate-limit refill, 0 = never (buckets full) */
    unsigned char *rbuf;      /* pooled while bytes are pending, else NULL */
    uint32_t rlen, rcap;
    unsigned char *mbuf;      /* a fragmented message being reassembled */
    uint32_t mlen, mcap;
    rt_msg **q;               /* ring of queued messages, NULL when empty */
    uint32_t qhead, qlen, qcap;
    uint32_t qoff;            /* bytes of q[qhead] already written */
    size_t queued;            /* bytes queued and not yet written */
    uint32_t t_rx;            /* last byte received (ms since srv->t0) */
    uint32_t t_ping;          /* last ping or keep-alive sent; for HTTP, last write */
    uint32_t t_state;         /* request start, close start or hold deadline */
    uint32_t t_over;          /* when the queue went over its cap, 0 if under */
    int32_t tok_msgs;         /* rate limit buckets: thousandths of a message */
    int32_t tok_bytes;        /* and bytes (may go negative: debt) */
    rt_room_member member;    /* the rooms this connection is in */
    union {                   /* one parser at a time: HTTP, then maybe WebSocket */
        rt_http_parser http;
        rt_ws_parser ws;
    } p;
};

static void rt__conn_hold_expired(rt_conn *c);
static void rt__srv_on_hold(rt_loop *loop, void *user);

/* ---- The state machine -------------------------------------------------------- */

#define RT__CS_BIT(s) (1u << (s))
#define RT__CS_KEEP 0xff /* a closing state: the connection keeps its kind */

/* The transitions that exist: bit `to` of rt__conn_next[from]. */
static const uint16_t rt__conn_next[RT__CS_COUNT] = {
    /* READING */ RT__CS_BIT(RT__CS_REPLIED) | RT__CS_BIT(RT__CS_HELD) | RT__CS_BIT(RT__CS_SSE) |
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

static int rt__srv_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
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
    rt__conn_slab *prev, *next; /* on srv->slabs while it has a free struct */
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

static void rt__srv_slab_link(rt_server *srv, rt__conn_slab *s)
{
    s->prev = NULL;
    s->next = srv->slabs;
    if (s->next)
        s->next->prev = s;
    srv->slabs = s;
}

static void rt__srv_slab_unlink(rt_server *srv, rt__conn_slab *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        srv->slabs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
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
    rt__srv_slab_link(srv, s);
    return s;
}

/* A zeroed connection struct, or NULL when the allocator fails. */
static rt_conn *rt__srv_conn_alloc(rt_server *srv)
{
    rt__conn_slab *s = srv->slabs ? srv->slabs : rt__srv_slab_new(srv);
    rt_conn *c;
    uint8_t i;
    if (!s)
        return NULL;
    c = s->free;
    s->free = c->flush_next;
    if (++s->used == s->cap)
        rt__srv_slab_unlink(srv, s); /* full */
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
        rt__srv_slab_link(srv, s); /* was full: has room again */
    if (s->used == 0 && (s->prev || s->next)) {
        rt__srv_slab_unlink(srv, s);
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

/* Gives the queue's ring back: to the pool at its first size, else to the
 * allocator. The caller resets or replaces c->q. */
static void rt__conn_free_ring(rt_conn *c)
{
    rt_server *srv = c->srv;
    if (c->q && c->qcap == RT__SRV_QUEUE_MIN)
        rt__srv_pool_put(srv, &srv->queue_pool, &srv->queue_pool_len, c->q,
                     RT__SRV_QUEUE_MIN * sizeof(rt_msg *));
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

/* ---- Closing ------------------------------------------------------------------ */

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
    srv->ndead++;
    rt_loop_del(srv->loop, c->fd);
    close(c->fd);
    c->fd = -1;
    if (c->flags & (RT__C_REJECT | RT__C_RATED))
        srv->nreject--;
    else
        srv->nconns--;
    if (srv->accept_paused && srv->listen_fd >= 0) {
        srv->accept_paused = 0;
        rt_loop_mod(srv->loop, srv->listen_fd, RT_IO_READ);
    }
    if (c->kind != RT_CONN_HTTP)
        rt__conn_notify(c, c->close_code ? c->close_code : code, rt_str_c(NULL));
    rt_room_leave_all(&c->member);
    rt__conn_release_queue(c);
    rt__conn_release_rbuf(c);
    rt_free(srv->cfg.alloc, c->mbuf, c->mcap);
    c->mbuf = NULL;
    c->mlen = c->mcap = 0;
}

static void rt__conn_free(rt_conn *c)
{
    rt_server *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    rt__srv_conn_dealloc(srv, c);
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
        shutdown(c->fd, SHUT_WR);
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
static ssize_t rt__conn_send_queue(rt_conn *c)
{
    rt_server *srv = c->srv;
    struct iovec iov[RT__SRV_IOV];
    struct msghdr mh;
    uint32_t i, n = c->qlen < RT__SRV_IOV ? c->qlen : RT__SRV_IOV;
    size_t len = 0;
    if (n > 1 && !srv->gather)
        srv->gather = (unsigned char *)rt_alloc(srv->cfg.alloc, RT__SRV_GATHER);
    if (n > 1 && srv->gather && rt__conn_gather(c, srv->gather, RT__SRV_GATHER, &len) > 1)
        return send(c->fd, srv->gather, len, MSG_NOSIGNAL);
    if (n == 1) {
        rt_msg *m = c->q[c->qhead];
        return send(c->fd, m->data + c->qoff, m->len - c->qoff, MSG_NOSIGNAL);
    }
    for (i = 0; i < n; i++) {
        rt_msg *m = c->q[(c->qhead + i) & (c->qcap - 1)];
        uint32_t off = i == 0 ? c->qoff : 0;
        iov[i].iov_base = m->data + off;
        iov[i].iov_len = m->len - off;
    }
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = iov;
    mh.msg_iovlen = n;
    return sendmsg(c->fd, &mh, MSG_NOSIGNAL);
}

static void rt__conn_write(rt_conn *c)
{
    ssize_t w;
    do {
        w = rt__conn_send_queue(c);
    } while (w < 0 && errno == EINTR);
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
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
    uint32_t i, cap = c->qcap ? c->qcap * 2 : RT__SRV_QUEUE_MIN;
    rt_msg **q;
    if (cap > UINT32_MAX / 2 / sizeof(rt_msg *))
        return RT_E_LIMIT;
    if (cap == RT__SRV_QUEUE_MIN)
        q = (rt_msg **)rt__srv_pool_get(srv, &srv->queue_pool, &srv->queue_pool_len,
                                    RT__SRV_QUEUE_MIN * sizeof(rt_msg *));
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

static void rt__conn_read(rt_conn *c)
{
    int i;
    for (i = 0; i < RT__SRV_READS_PER_EVENT && c->state != RT__CS_DEAD; i++) {
        ssize_t n;
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
        do {
            n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        } while (n < 0 && errno == EINTR);
        if (n == 0) {
            rt__conn_peer_fin(c);
            break;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
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

/* ---- Accepting ------------------------------------------------------------- */

/* reject is 0, or RT__C_REJECT (over max_conns: 503) or RT__C_RATED (over
 * accept_rate: 429); a few such connections are kept to read their request
 * and answer it, beyond that they are closed at once. */
static void rt__conn_new(rt_server *srv, int fd, uint8_t reject)
{
    rt_conn *c = NULL;
    int one = 1;
    if (!reject || srv->nreject < RT__SRV_REJECT_EXTRA)
        c = rt__srv_conn_alloc(srv);
    if (!c || rt__srv_set_nonblock(fd) < 0 ||
        rt_loop_add(srv->loop, fd, RT_IO_READ, rt__conn_on_io, c) != RT_OK) {
        if (c)
            rt__srv_conn_dealloc(srv, c);
        close(fd);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    c->state = RT__CS_READING; /* and kind RT_CONN_HTTP: both zero */
    c->flags = reject;
    rt_room_member_init(&c->member, c);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
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
static uint32_t rt__srv_addr_key(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return rt_fnv1a(RT_FNV1A_BASIS, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16) | 1u;
    return rt_fnv1a(RT_FNV1A_BASIS, &((const struct sockaddr_in *)ss)->sin_addr, 4) | 1u;
}

/* 1 when this source has opened more than accept_rate connections in the
 * current second. Sources that share a slot share a count: the table stays
 * small and fixed, and a collision can only make the limit stricter. */
static int rt__srv_over_rate(rt_server *srv, const struct sockaddr_storage *ss)
{
    struct rt__accept_slot *s;
    uint32_t key, second = (uint32_t)(srv->loop->now / 1000);
    if (!srv->accept_slots)
        return 0;
    key = rt__srv_addr_key(ss);
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
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int cfd = accept(fd, (struct sockaddr *)&ss, &len);
        if (cfd < 0 && (errno == EMFILE || errno == ENFILE)) {
            /* Out of descriptors: stop listening until a connection closes,
             * or the pending connection would wake us up forever. */
            rt_loop_mod(srv->loop, fd, 0);
            srv->accept_paused = 1;
            return;
        }
        if (cfd < 0)
            return; /* EAGAIN, or a transient error such as ECONNABORTED */
        if (rt__srv_over_rate(srv, &ss))
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
    case RT_CONN_SSE:
        if (cfg->sse_keepalive_ms && rt__srv_elapsed(srv, c->t_ping, cfg->sse_keepalive_ms)) {
            c->t_ping = rt__srv_ms(srv);
            rt__conn_send_bytes(c, ":\n\n", 3); /* a comment keeps proxies from timing out */
        }
        break;
    case RT_CONN_HELD:
        if (c->state == RT__CS_HELD && (int32_t)(rt__srv_ms(srv) - c->t_state) >= 0)
            rt__conn_hold_expired(c);
        break;
    }
}

static void rt__srv_on_tick(rt_loop *loop, void *user)
{
    rt_server *srv = (rt_server *)user;
    rt_conn *c, *next;
    (void)loop;
    for (c = srv->conns; c; c = next) {
        next = c->next;
        if (c->state != RT__CS_DEAD)
            rt__conn_tick(c);
    }
    if (srv->shutting_down && (int32_t)(rt__srv_ms(srv) - srv->shutdown_deadline) >= 0) {
        for (c = srv->conns; c; c = c->next)
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
    for (c = srv->conns; c && srv->ndead; c = next) {
        next = c->next;
        if (c->state == RT__CS_DEAD) {
            rt__conn_free(c);
            srv->ndead--;
        }
    }
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

rt_result rt_server_broadcast(rt_server *srv, int opcode, const void *data, size_t n,
                              rt_conn *exclude)
{
    rt_msg *m = rt_msg_ws(srv, opcode, data, n);
    rt_conn *c, *next;
    rt_result count = 0;
    if (!m)
        return n > srv->cfg.max_message ? RT_E_LIMIT : RT_E_NOMEM;
    for (c = srv->conns; c; c = next) {
        next = c->next;
        if (c != exclude && c->kind == RT_CONN_WS && rt_conn_send_msg(c, m) == RT_OK)
            count++;
    }
    rt_msg_release(m);
    return count;
}

/* Writes the status line and headers of a reply, plus "Connection: close"
 * when this is the last response on the connection. */
static rt_result rt__conn_reply_msg(rt_conn *c, int status, const char *ctype, const void *body,
                                    size_t n, const char *extra)
{
    char hdrs[768];
    int last = !(c->flags & RT__C_KEEPALIVE) || c->srv->shutting_down;
    int k = snprintf(hdrs, sizeof hdrs, "%s%s", extra ? extra : "",
                     last ? "Connection: close\r\n" : "");
    size_t head, send = (c->flags & RT__C_HEAD) ? 0 : n; /* RFC 9110 9.3.2 */
    rt_msg *m;
    rt_result r;
    if (k < 0 || (size_t)k >= sizeof hdrs)
        return RT_E_INVAL;
    /* A HEAD answer has the head a GET would get, Content-Length included,
     * and no body: the client would read one as the next response. */
    head = rt_http_format_head(NULL, 0, status, hdrs, ctype, n);
    m = rt__srv_msg_new(c->srv->cfg.alloc, head + 1 + send);
    if (!m)
        return RT_E_NOMEM;
    rt_http_format_head((char *)m->data, head + 1, status, hdrs, ctype, n);
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
    for (c = srv->conns; c; c = c->next) {
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

rt_result rt_conn_sse_start(rt_conn *c, const char *extra_headers)
{
    char head[1024];
    int n;
    if (c->state != RT__CS_READING)
        return RT_E_INVAL;
    /* No Content-Length: the stream ends when the connection does
     * (RFC 9112 6.3). X-Accel-Buffering stops nginx from buffering it. */
    n = snprintf(head, sizeof head,
                 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                 "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n%s\r\n",
                 extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof head)
        return RT_E_INVAL;
    rt__conn_set_state(c, RT__CS_SSE);
    c->t_ping = rt__srv_ms(c->srv);
    return rt__conn_send_bytes(c, head, (size_t)n);
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

int rt_conn_kind(const rt_conn *c) { return c->kind; }
size_t rt_conn_queued(const rt_conn *c) { return c->queued; }
rt_server *rt_conn_server(const rt_conn *c) { return c->srv; }
void rt_conn_set_user(rt_conn *c, void *user) { c->user = user; }
void *rt_conn_user(const rt_conn *c) { return c->user; }
rt_room_member *rt_conn_member(rt_conn *c) { return &c->member; }
int rt_conn_json(const rt_conn *c) { return !!(c->flags & RT__C_JSON); }

void rt_conn_set_json(rt_conn *c, int on)
{
    c->flags = (uint8_t)(on ? c->flags | RT__C_JSON : c->flags & ~RT__C_JSON);
}

rt_str rt_conn_protocol(const rt_conn *c)
{
    if (c->proto == 0 || !c->srv->cfg.subprotocols)
        return rt_str_c(NULL);
    return rt_str_c(c->srv->cfg.subprotocols[c->proto - 1]);
}

rt_result rt_conn_peer(const rt_conn *c, char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN];
    size_t n;
    if (c->fd < 0 || getpeername(c->fd, (struct sockaddr *)&ss, &len) != 0 ||
        getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0)
        return RT_E_IO;
    n = strlen(host);
    if (n >= cap)
        return RT_E_NOSPACE;
    memcpy(buf, host, n + 1);
    return (rt_result)n;
}

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
    if (!cfg->sse_keepalive_ms) cfg->sse_keepalive_ms = RT_SSE_KEEPALIVE_MS;
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

static int rt__srv_listen(const char *host, int port, int *bound_port)
{
    struct addrinfo hints, *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char portstr[16];
    int fd = -1, one = 1, zero = 0;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST;
    snprintf(portstr, sizeof portstr, "%d", port);
    if (getaddrinfo(host ? host : "0.0.0.0", portstr, &hints, &ai) != 0 || !ai)
        return -2;
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6) /* "::" serves IPv4 too */
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0 ||
            rt__srv_set_nonblock(fd) != 0 ||
            getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd >= 0)
        *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                     : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

rt_result rt_server_init(rt_server *srv, rt_loop *loop, const rt_server_config *cfg)
{
    uint32_t tick;
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->cfg = *cfg;
    rt__srv_defaults(&srv->cfg);
    srv->t0 = loop->now;
    srv->listen_fd = rt__srv_listen(cfg->host, cfg->port, &srv->port);
    if (srv->listen_fd == -2)
        return RT_E_INVAL;
    if (srv->listen_fd < 0)
        return RT_E_IO;
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
    close(srv->listen_fd);
    srv->listen_fd = -1;
    return RT_E_NOMEM;
}

static void rt__srv_close_listener(rt_server *srv)
{
    if (srv->listen_fd < 0)
        return;
    rt_loop_del(srv->loop, srv->listen_fd);
    close(srv->listen_fd);
    srv->listen_fd = -1;
}

void rt_server_deinit(rt_server *srv)
{
    rt_conn *c, *next;
    srv->cfg.cb.on_close = NULL; /* no callbacks while tearing down */
    srv->cfg.cb.on_drain = NULL;
    for (c = srv->conns; c; c = next) {
        next = c->next;
        rt__conn_drop(c, RT_WS_CLOSE_GOING_AWAY);
        rt__srv_conn_dealloc(srv, c);
    }
    if (srv->slabs) /* the one block kept with room: every struct is free now */
        rt_free(srv->cfg.alloc, srv->slabs, rt__srv_slab_bytes(srv->slabs->cap));
    srv->slabs = NULL;
    srv->conns = srv->flush = NULL;
    rt__srv_close_listener(srv);
    rt_timer_stop(srv->loop, &srv->tick);
    rt_timer_stop(srv->loop, &srv->hold_timer);
    rt_loop_hook_del(srv->loop, &srv->hook);
    rt_free(srv->cfg.alloc, srv->accept_slots, RT_ACCEPT_SLOTS * sizeof(struct rt__accept_slot));
    srv->accept_slots = NULL;
    rt_free(srv->cfg.alloc, srv->gather, RT__SRV_GATHER);
    srv->gather = NULL;
    rt__srv_pool_drain(srv, &srv->read_pool, &srv->read_pool_len, RT_CONN_READ_BUF);
    rt__srv_pool_drain(srv, &srv->queue_pool, &srv->queue_pool_len,
                   RT__SRV_QUEUE_MIN * sizeof(rt_msg *));
}

static void rt__conn_shutdown(rt_conn *c)
{
    static const char bye[] = "event: shutdown\ndata: server is shutting down\n\n";
    switch (c->kind) {
    case RT_CONN_WS:
        rt_conn_close(c, RT_WS_CLOSE_GOING_AWAY, "server shutting down");
        break;
    case RT_CONN_SSE:
        rt__conn_send_bytes(c, bye, sizeof bye - 1);
        rt_conn_close(c, RT_WS_CLOSE_GOING_AWAY, NULL);
        break;
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
    for (c = srv->conns; c; c = next) {
        next = c->next;
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
