/* conn.h - one connection of a server: what the application may do with it.
 *
 * A connection reads an HTTP request, then answers it and reads the next
 * (keep-alive), holds it for a later answer (long polling), turns into an
 * SSE stream, or becomes a WebSocket; then it closes. Its state machine is
 * drawn at the top of conn.c. Everything it sends is queued as rt_msg
 * references (one framed message shared by every receiver) and written at
 * the end of the loop step, one system call per connection.
 *
 * The server (server.h) includes this header, not the reverse: the server's
 * callbacks, config and struct are about connections, while a connection
 * knows its server only as an opaque handle (rt_conn_server). Connections
 * are made by the server's listener; rt_msg values by rt_msg_ws, rt_msg_raw
 * and rt_msg_sse in server.h.
 */
#ifndef RT_CONN_H
#define RT_CONN_H

#include "../base/core.h"
#include "../model/room.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Queued outgoing bytes per connection before backpressure starts. */
#ifndef RT_CONN_MAX_PENDING
#define RT_CONN_MAX_PENDING (256u * 1024u)
#endif
/* Over max_pending a connection gets RT_CONN_PENDING_GRACE_MS to catch up;
 * at the hard cap, max_pending + max(max_pending, max_message), it is closed
 * at once (1008), so one message of the largest size always fits. */
/* How long a connection may stay over its queue cap before it is closed. */
#ifndef RT_CONN_PENDING_GRACE_MS
#define RT_CONN_PENDING_GRACE_MS 5000
#endif
/* Size of a pooled read buffer; requests and frames larger than this grow it. */
#ifndef RT_CONN_READ_BUF
#define RT_CONN_READ_BUF 4096
#endif

typedef struct rt_server rt_server;
typedef struct rt_conn rt_conn;

/* A reference-counted, immutable byte buffer: one framed message that any
 * number of connection queues may point to. */
typedef struct rt_msg {
    uint32_t refs;
    uint32_t len;
    const rt_allocator *alloc;
    unsigned char data[1]; /* len bytes follow */
} rt_msg;

/* The kinds stay the same with every switch; under RT_NO_SSE no connection
 * is RT_CONN_SSE, under RT_NO_LONGPOLL none is RT_CONN_HELD. */
enum rt_conn_kind {
    RT_CONN_HTTP = 0, /* reading a request or sending a response */
    RT_CONN_WS,       /* WebSocket */
    RT_CONN_SSE,      /* event stream */
    RT_CONN_HELD      /* a request held open for a later reply (long polling) */
};

/* Sends one WebSocket message (copied once into a new rt_msg). */
RT_API rt_result rt_conn_send(rt_conn *c, int opcode, const void *data, size_t n);
/* Queues a shared message (retains it). The bytes are sent as they are: use
 * rt_msg_ws for WebSockets and rt_msg_raw for SSE. RT_E_CLOSED, RT_E_LIMIT
 * when the queue is over its hard cap (the connection is then closed). */
RT_API rt_result rt_conn_send_msg(rt_conn *c, rt_msg *m);
/* Charges a message of n bytes that reached c's application by another path
 * (e.g. a POST on behalf of this SSE stream) to c's rate-limit buckets.
 * 1 when it may pass, else 0 with *retry_after_ms (may be NULL) set. */
RT_API int rt_conn_rate_check(rt_conn *c, size_t n, uint32_t *retry_after_ms);

/* Starts the WebSocket closing handshake (or closes an SSE/held/HTTP
 * connection) with code and reason. The connection lingers until the peer
 * answers or close_timeout passes; on_close follows. */
RT_API void rt_conn_close(rt_conn *c, unsigned code, const char *reason);

/* Answers the current HTTP request (or a held one). content_type may be NULL,
 * extra_headers are whole lines ending in \r\n (may be NULL). */
RT_API rt_result rt_conn_reply(rt_conn *c, int status, const char *content_type,
                               const void *body, size_t n, const char *extra_headers);
#ifndef RT_NO_LONGPOLL
/* Keeps the current request open for a later rt_conn_reply (long polling);
 * after timeout_ms (and at most RT_HOLD_SLOT_MS more), on_hold_timeout is
 * called. */
RT_API rt_result rt_conn_hold(rt_conn *c, uint32_t timeout_ms);
#endif
#ifndef RT_NO_SSE
/* Turns the current request into an SSE stream: 200, text/event-stream,
 * no-cache, X-Accel-Buffering: no, plus extra_headers (e.g. CORS lines). */
RT_API rt_result rt_conn_sse_start(rt_conn *c, const char *extra_headers);
/* Formats and queues one SSE event on an SSE connection; event and id may
 * be NULL. RT_E_INVAL when they hold CR, LF or NUL. */
RT_API rt_result rt_conn_sse_send(rt_conn *c, const char *event, const char *id,
                                  const void *data, size_t n);
#endif

RT_API int rt_conn_kind(const rt_conn *c);
/* Bytes queued for sending and not yet written to the socket. */
RT_API size_t rt_conn_queued(const rt_conn *c);
/* The chosen subprotocol (empty if none). Valid while the connection is. */
RT_API rt_str rt_conn_protocol(const rt_conn *c);
/* Writes the peer address as text ("127.0.0.1", "::1") into buf. Returns its
 * length, RT_E_NOSPACE or RT_E_IO. (Not stored: it would cost every
 * connection 46 bytes.) */
RT_API rt_result rt_conn_peer(const rt_conn *c, char *buf, size_t cap);
RT_API rt_server *rt_conn_server(const rt_conn *c);
/* The connection's room memberships. The server leaves every room for it
 * when it closes. Its user field is the connection's application pointer
 * (rt_conn_user): one pointer serves both. */
RT_API rt_room_member *rt_conn_member(rt_conn *c);
/* The connection whose memberships m are (m from rt_conn_member): what a
 * room walk (rt_room_each) needs to reach the connection. */
RT_API rt_conn *rt_conn_of_member(rt_room_member *m);
/* An application pointer stored in the connection (NULL at first). The
 * library never uses it, on protocol connections (rt_proto) neither. */
RT_API void rt_conn_set_user(rt_conn *c, void *user);
RT_API void *rt_conn_user(const rt_conn *c);

#ifdef __cplusplus
}
#endif

#endif /* RT_CONN_H */
