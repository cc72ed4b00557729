/* server.h - the server: the listener, the connections' memory, the clock.
 *
 * One rt_server runs on one rt_loop. It accepts connections (conn.h: each
 * one a small state machine that reads HTTP requests and may become a
 * WebSocket, an SSE stream or a held long-poll request), keeps their structs,
 * read buffers and queue rings in pools, times them out, and writes their
 * queues once per loop step. All sockets are non-blocking; nothing ever
 * blocks and nothing is copied per receiver: a message for many connections
 * is framed once into an rt_msg, a reference-counted buffer every receiver's
 * queue points to.
 *
 * Memory: an idle connection holds only its rt_conn (a few hundred bytes).
 * Read buffers and queue arrays come from per-server pools while data flows
 * and go back when it stops.
 */
#ifndef RT_SERVER_H
#define RT_SERVER_H

#include "conn.h"
#include "loop.h"
#include "../codec/http.h"
#include "../codec/ws.h"
#include "../codec/sse.h"
#include "../model/room.h"
#include "../base/list.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most connections open at once; beyond it new ones get 503 + Retry-After. */
#ifndef RT_SERVER_MAX_CONNS
#define RT_SERVER_MAX_CONNS 10000
#endif
/* Server ping interval for WebSockets (0 = no pings). */
#ifndef RT_PING_INTERVAL_MS
#define RT_PING_INTERVAL_MS 25000
#endif
/* A connection that receives nothing (no pong, no data) this long is
 * closed; so is an HTTP connection whose reply makes no progress this long
 * (a peer that stopped reading it). */
#ifndef RT_IDLE_TIMEOUT_MS
#define RT_IDLE_TIMEOUT_MS 60000
#endif
/* Time allowed to send a complete HTTP request (slowloris defence). */
#ifndef RT_REQUEST_TIMEOUT_MS
#define RT_REQUEST_TIMEOUT_MS 10000
#endif
/* Time allowed for the peer to answer our close frame. */
#ifndef RT_CLOSE_TIMEOUT_MS
#define RT_CLOSE_TIMEOUT_MS 3000
#endif
/* Refusals in a row (rate limited messages) before a 1008 close. */
#ifndef RT_RATE_STRIKES
#define RT_RATE_STRIKES 20
#endif
/* Slots of the per-source-address table behind accept_rate. */
#ifndef RT_ACCEPT_SLOTS
#define RT_ACCEPT_SLOTS 256
#endif
#ifndef RT_NO_LONGPOLL
/* Held requests whose deadlines fall in the same slot of this many ms time
 * out together, in one pass over the connections: at most 1000 / slot
 * passes a second however many requests are held, each answered at most
 * this late. */
#ifndef RT_HOLD_SLOT_MS
#define RT_HOLD_SLOT_MS 10
#endif
#if RT_HOLD_SLOT_MS < 1
#error "RT_HOLD_SLOT_MS must be at least 1"
#endif
#endif /* RT_NO_LONGPOLL */
#ifndef RT_NO_SSE
/* SSE keep-alive comment interval (0 = none). */
#ifndef RT_SSE_KEEPALIVE_MS
#define RT_SSE_KEEPALIVE_MS 15000
#endif
#endif /* RT_NO_SSE */

typedef struct rt__conn_slab rt__conn_slab; /* private: connection structs, in blocks */

typedef struct rt_server_callbacks {
    /* A plain HTTP request (not an upgrade). Answer it now with
     * rt_conn_reply, turn it into a stream with rt_conn_sse_start, or hold
     * it with rt_conn_hold and reply later; or return an HTTP status (e.g.
     * 404) and the server answers with a short error. Return 0 otherwise.
     * req and body are valid during the call only. NULL: every request 404. */
    int (*on_http)(rt_conn *c, const rt_http_request *req, rt_str body, void *user);
    /* A valid WebSocket upgrade request, before it is accepted: check the
     * Origin, the path, credentials. Return 0 to accept or an HTTP status
     * (401, 403, 404) to refuse. NULL: accept all. */
    int (*on_upgrade)(rt_conn *c, const rt_http_request *req, void *user);
    /* The WebSocket is open (the 101 is queued). req is valid during the call. */
    void (*on_open)(rt_conn *c, const rt_http_request *req, void *user);
    /* A whole WebSocket message (fragments reassembled). data is valid
     * during the call only. */
    void (*on_message)(rt_conn *c, int opcode, rt_str data, void *user);
    /* A WebSocket, SSE stream or held request ended. code is the close code
     * (1006 when the connection dropped without one); reason may be empty.
     * The connection is freed right after this returns (a held request
     * answered by rt_server_shutdown: once its 503 is out); do not use it
     * after. */
    void (*on_close)(rt_conn *c, unsigned code, rt_str reason, void *user);
    /* The connection's queue emptied after it had passed half its cap. */
    void (*on_drain)(rt_conn *c, void *user);
    /* A WebSocket message was refused by the rate limit (and dropped); the
     * bucket has room again in retry_after_ms. After RT_RATE_STRIKES
     * refusals in a row the connection is closed with 1008. NULL: drop. */
    void (*on_rate_limited)(rt_conn *c, uint32_t retry_after_ms, void *user);
    /* A held request (rt_conn_hold) reached its timeout: reply to it now.
     * NULL: the server answers 204 No Content. Never called under
     * RT_NO_LONGPOLL (nothing is held), but kept, so that the struct has
     * the same shape with every switch. */
    void (*on_hold_timeout)(rt_conn *c, void *user);
} rt_server_callbacks;

typedef struct rt_server_config {
    const char *host;            /* "127.0.0.1", "::" (dual stack), NULL = "0.0.0.0" */
    int port;                    /* 0 picks a free port: read it with rt_server_port */
    const rt_allocator *alloc;   /* NULL = RT_MALLOC/RT_FREE */
    rt_server_callbacks cb;
    void *user;                  /* passed to every callback */
    const char *const *subprotocols; /* NULL-terminated, offered in order; may be NULL */
    /* Origins accepted besides the request's own (an Origin whose host is
     * the Host header), e.g. "https://app.example". NULL-terminated; may be
     * NULL; "*" accepts any. A request carrying another Origin gets 403,
     * which stops cross-site WebSocket hijacking and cross-site posts. */
    const char *const *origins;
    /* Token buckets per connection on incoming WebSocket messages: messages
     * per second and bytes per second, each with one second of burst
     * (0 = no limit, the default). */
    uint32_t rate_msgs;
    uint32_t rate_bytes;
    /* New connections per source address per second (0 = no limit); over
     * it a connection is answered 429 with Retry-After. */
    uint32_t accept_rate;
    /* Limits and timeouts: 0 takes the RT_* default. */
    size_t max_conns;
    size_t max_message;
    size_t max_header_bytes;
    size_t max_body;
    size_t max_pending;
    uint32_t pending_grace_ms;
    uint32_t ping_interval_ms;
    uint32_t idle_timeout_ms;
    uint32_t request_timeout_ms;
    uint32_t close_timeout_ms;
    uint32_t sse_keepalive_ms;   /* unused under RT_NO_SSE (kept for the struct's shape) */
} rt_server_config;

/* Fills cfg with the defaults: every field zero, which means "the RT_*
 * default" for each limit and "none" for each callback. The same as
 * memset(cfg, 0, ...) or "= {0}" in C, without C++'s
 * -Wmissing-field-initializers. */
RT_API void rt_server_config_init(rt_server_config *cfg);

/* Creates the listening socket and registers it on loop. *srv is caller
 * memory; rt_server_deinit frees what the server allocated.
 * RT_E_INVAL for a bad host, RT_E_IO when the address cannot be bound. */
RT_API rt_result rt_server_init(rt_server *srv, rt_loop *loop, const rt_server_config *cfg);
/* Closes every connection at once (on_close with 1006 is not called) and
 * frees everything. For a graceful end call rt_server_shutdown first. */
RT_API void rt_server_deinit(rt_server *srv);
/* The port actually bound (useful with port 0). */
RT_API int rt_server_port(const rt_server *srv);
/* Number of open connections (all kinds). */
RT_API size_t rt_server_conn_count(const rt_server *srv);

/* Graceful shutdown: stop accepting, send 1001 Going Away to every
 * WebSocket, a final "event: shutdown" to SSE streams and 503 to held
 * requests (on_close with 1001 tells the application: at once for a held
 * request, when the connection goes for the others), then keep flushing;
 * whatever is still open after timeout_ms is closed. rt_server_done() turns 1 when nothing is left; the loop may then
 * be stopped and rt_server_deinit called. */
RT_API void rt_server_shutdown(rt_server *srv, uint32_t timeout_ms);
RT_API int rt_server_done(const rt_server *srv);

/* ---- Messages ------------------------------------------------------------- */

/* A new rt_msg holding one server WebSocket frame (opcode, payload). refs = 1.
 * NULL when out of memory or when n is over the message limit. */
RT_API rt_msg *rt_msg_ws(rt_server *srv, int opcode, const void *data, size_t n);
/* A new rt_msg holding raw bytes (e.g. an SSE event). refs = 1. */
RT_API rt_msg *rt_msg_raw(rt_server *srv, const void *data, size_t n);
#ifndef RT_NO_SSE
/* A new rt_msg holding one formatted SSE event. NULL when out of memory or
 * when the event name or id holds CR, LF or NUL. refs = 1. */
RT_API rt_msg *rt_msg_sse(rt_server *srv, const rt_sse_event *ev);
#endif
RT_API void rt_msg_retain(rt_msg *m);
/* Drops one reference; frees at zero. NULL is fine. */
RT_API void rt_msg_release(rt_msg *m);

/* Sends every open WebSocket the same message: framed once, shared. Returns
 * the number of receivers or RT_E_NOMEM. exclude may be NULL. */
RT_API rt_result rt_server_broadcast(rt_server *srv, int opcode, const void *data, size_t n,
                                     rt_conn *exclude);

/* ---- The server struct (caller-owned; fields are private) --------------- */
struct rt_server {
    rt_loop *loop;
    rt_server_config cfg;        /* with defaults filled in */
    int listen_fd;
    int port;
    int shutting_down;
    uint32_t shutdown_deadline;  /* rt__srv_ms() time */
    int accept_paused;           /* out of descriptors: listener muted */
    size_t nconns;
    size_t nreject;              /* over-limit connections being told 503 */
    size_t ndead;                /* dropped, to be freed at the end of the step */
    rt_list conns;               /* every connection (rt_conn.link) */
    rt_conn *flush;              /* connections with queued bytes to write this step */
    rt_timer tick;               /* housekeeping: timeouts, heartbeats */
#ifndef RT_NO_LONGPOLL
    rt_timer hold_timer;         /* the next held request's deadline */
    uint32_t hold_due;           /* that deadline (rt__srv_ms() time) */
#endif
    uint64_t t0;                 /* loop time at init: connection times are offsets */
    void *read_pool;             /* free read buffers (singly linked) */
    size_t read_pool_len;
    void *queue_pool;            /* free queue arrays */
    size_t queue_pool_len;
    rt_loop_hook hook;           /* runs the flush list once per loop step */
    struct rt__accept_slot *accept_slots; /* accept_rate bookkeeping, or NULL */
    rt_list slabs;               /* blocks of connection structs with a free one */
    unsigned char *gather;       /* small queued messages copied into one send */
};

#ifdef __cplusplus
}
#endif

#endif /* RT_SERVER_H */
