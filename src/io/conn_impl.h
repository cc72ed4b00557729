/* conn_impl.h - private: the connection struct and the interface between
 * conn.c (the state machine), conn_queue.c (its output) and server.c (the
 * memory, clock and listener they run on).
 *
 * Not part of the public API: only the implementation includes it. The
 * functions are static (rt.h is one translation unit), so their prototypes
 * are seen only where the implementation is compiled: a static declaration
 * with no definition would be a warning in a file that includes this alone.
 */
#ifndef RT_CONN_IMPL_H
#define RT_CONN_IMPL_H

#include "server.h"

#define RT__CONN_READS_PER_EVENT 4 /* reads per readable event (fairness) */
#define RT__CONN_QUEUE_MIN 16      /* first size of a queue ring (a power of two) */

/* Queue entries written with one system call (an iovec array of this many
 * entries, 16 bytes each on x86-64, is on the stack while writing). At least
 * two: a write of one entry never takes the gather path. */
#ifndef RT_CONN_SEND_BATCH
#define RT_CONN_SEND_BATCH 64
#endif
#if RT_CONN_SEND_BATCH < 2 || RT_CONN_SEND_BATCH > 1024
#error "RT_CONN_SEND_BATCH must be 2 to 1024 (IOV_MAX on Linux)"
#endif
/* Bytes of small queued messages copied into one send: one buffer per
 * server, allocated the first time a queue holds two messages. 0 = none. */
#ifndef RT_CONN_GATHER_BYTES
#define RT_CONN_GATHER_BYTES 16384
#endif
#if RT_CONN_GATHER_BYTES < 0 || RT_CONN_GATHER_BYTES > 1073741824
#error "RT_CONN_GATHER_BYTES must be 0 (no gathering) to 1 GiB"
#endif

/* Where a connection is in its life (the machine is drawn at the top of
 * conn.c, with the table of transitions). Only rt__conn_set_state changes it;
 * the order matters: below LINGER a connection takes output, below
 * WS_CLOSING it is open (no close begun). */
enum rt__conn_state {
    RT__CS_READING = 0, /* HTTP: a request is read or handled; not answered yet */
    RT__CS_REPLIED,     /* HTTP: answered (keep-alive); the next request is read when it comes */
    RT__CS_HELD,        /* a request held open for a later reply (long poll);
                           never entered under RT_NO_LONGPOLL */
    RT__CS_SSE,         /* an event stream; never entered under RT_NO_SSE */
    RT__CS_WS_OPEN,     /* a WebSocket */
    RT__CS_WS_CLOSING,  /* our close frame is queued; waiting for the peer's */
    RT__CS_LINGER,      /* takes no more output: what is queued is written, then FIN */
    RT__CS_SHUT,        /* we sent FIN; waiting for the peer's (close_timeout at most) */
    RT__CS_PEER_FIN,    /* the HTTP peer half-closed: what it is owed is written, then close */
    RT__CS_DEAD,        /* socket closed; the struct is freed at the end of the step */
    RT__CS_COUNT
};

/* Facts that hold across states. REJECT and RATED say how the connection
 * was admitted, which holds for its whole life (it reads its request, is
 * answered 503 or 429, lingers and closes, and all along it counts in
 * srv->nreject, not nconns), so they are flags, not states. */
enum {
    RT__C_WANT_WRITE = 1 << 0,  /* registered for RT_IO_WRITE */
    RT__C_REJECT = 1 << 1,      /* admitted over max_conns: its request gets 503 */
    RT__C_RATED = 1 << 2,       /* admitted over accept_rate: its request gets 429 */
    RT__C_DRAIN = 1 << 3,       /* the queue passed half its cap: tell on_drain */
    RT__C_KEEPALIVE = 1 << 4,   /* the current request allows keep-alive */
    RT__C_HEAD = 1 << 5,        /* the current request is HEAD: reply without a body */
    RT__C_NOTIFIED = 1 << 6     /* on_close has been called */
};

struct rt_conn {
    rt_server *srv;
    rt_list link;             /* on srv->conns, every connection of the server */
    rt_conn *flush_next;      /* flush list link; non-NULL while on it (the last points
                                 at itself); in a free slab struct, the free list link */
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

#ifdef RT_IMPLEMENTATION

/* ---- conn.c: the state machine ------------------------------------------------ */

static void rt__conn_set_state(rt_conn *c, enum rt__conn_state to);
static int rt__conn_takes_output(const rt_conn *c);
/* on_close, once per connection. */
static void rt__conn_notify(rt_conn *c, unsigned code, rt_str reason);
/* Closes the socket now; the struct is freed at the end of the step. */
static void rt__conn_drop(rt_conn *c, unsigned code);
static void rt__conn_http_error(rt_conn *c, int status, const char *extra);
static void rt__conn_http_reset(rt_conn *c);
/* The loop's callback for a connection's socket. */
static void rt__conn_on_io(rt_loop *loop, int fd, unsigned events, void *user);
static void rt__conn_input(rt_conn *c);
#ifndef RT_NO_LONGPOLL
static void rt__conn_hold_expired(rt_conn *c);
#endif

/* ---- conn_queue.c: the queue and the writes ------------------------------------- */

static void rt__conn_release_queue(rt_conn *c);
static void rt__conn_want_write(rt_conn *c, int on);
/* The queue is empty: finish a linger, or tell on_drain. */
static void rt__conn_drained(rt_conn *c);
static void rt__conn_write(rt_conn *c);
/* Over the cap for too long, or at the hard cap: 1008. */
static void rt__conn_overflow(rt_conn *c);
static rt_result rt__conn_enqueue(rt_conn *c, rt_msg *m);
static rt_result rt__conn_send_bytes(rt_conn *c, const void *data, size_t n);
static rt_result rt__conn_send_frame(rt_conn *c, int opcode, const void *data, size_t n);

/* ---- server.c: what a connection needs from its server ------------------------- */

/* Milliseconds since the server started, never 0. */
static uint32_t rt__srv_ms(const rt_server *srv);
static rt_msg *rt__srv_msg_new(const rt_allocator *a, size_t n);
#ifndef RT_NO_SSE
static rt_msg *rt__srv_msg_sse(rt_server *srv, const rt_sse_event *ev, rt_result *err);
#endif
/* The pools of read buffers and queue rings. */
static void *rt__srv_pool_get(rt_server *srv, void **pool, size_t *len, size_t size);
static void rt__srv_pool_put(rt_server *srv, void **pool, size_t *len, void *p, size_t size);
/* A connection closed its socket: uncount it, accept again if paused. */
static void rt__srv_conn_gone(rt_server *srv, const rt_conn *c);
#ifndef RT_NO_LONGPOLL
/* Makes sure the hold timer fires by the deadline due. */
static void rt__srv_hold_arm(rt_server *srv, uint32_t due);
#endif

#endif /* RT_IMPLEMENTATION */

#endif /* RT_CONN_IMPL_H */
