/* proto.h - the JSON wire protocol of docs/PROTOCOL.md, over WebSocket and
 * over SSE + POST.
 *
 * rt_proto turns rooms, history and presence into messages a browser can
 * speak (examples/web/rt.js is such a client). The application stays in
 * charge: it forwards the server callbacks it wants handled by the protocol
 * (see examples/03_chat.c), and decides who may connect, join and publish
 * through three callbacks. The connection's user pointer (rt_conn_user)
 * stays the application's on every connection, the protocol's included: the
 * protocol keeps its per-connection state in the connection's pubsub
 * subscription (an rt_pubsub_sub whose encoder writes the "message" JSON
 * below), so it costs the connection no field of its own. rt_proto_user(c)
 * says whether the protocol serves c.
 */
#ifndef RT_PROTO_H
#define RT_PROTO_H

#include "../base/json.h"
#include "../base/list.h"
#include "../model/presence.h"
#include "../io/pubsub.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Interval of the protocol's own {"type":"ping"} (browsers cannot see
 * WebSocket pings, so rt.js detects a dead link by missing these). */
#ifndef RT_PROTO_HEARTBEAT_MS
#define RT_PROTO_HEARTBEAT_MS 15000
#endif
/* Malformed or unknown requests answered before a 1008 close. */
#ifndef RT_PROTO_MAX_ERRORS
#define RT_PROTO_MAX_ERRORS 20
#endif
/* JSON tokens one request may hold (enough for any 256-byte "info"). */
#ifndef RT_PROTO_MAX_TOKENS
#define RT_PROTO_MAX_TOKENS 160
#endif
/* Longest user id, session id and request id. */
#define RT_PROTO_MAX_ID 64

typedef struct rt_proto_config {
    /* Turns a token (from ?token=, "Authorization: Bearer", the rt_token
     * cookie, or a connect message; may be empty) into a user id written to
     * user_id (NUL-terminated, at most cap - 1 bytes). Return 0 to accept or
     * an HTTP status (401, 403) to refuse. NULL: everyone is "anonymous". */
    int (*auth)(void *user, rt_str token, char *user_id, size_t cap);
    /* May user_id join / publish in room? Return 1 to allow. NULL: allow. */
    int (*can_join)(void *user, const char *user_id, rt_str room);
    int (*can_publish)(void *user, const char *user_id, rt_str room);
    void *user;
    uint32_t heartbeat_ms;      /* 0: RT_PROTO_HEARTBEAT_MS */
    uint32_t presence_grace_ms; /* 0: RT_PRESENCE_GRACE_MS */
    uint32_t typing_ms;         /* 0: RT_PRESENCE_TYPING_MS */
} rt_proto_config;

typedef struct rt_proto_conn rt_proto_conn; /* private: one client's state */

typedef struct rt_proto {
    rt_pubsub *ps;            /* borrowed: rooms and history */
    rt_presence presence;     /* who is online and typing, per room */
    rt_proto_config cfg;
    rt_timer tick;            /* pings, presence and typing expiry */
    rt_list conns;            /* every client (rt_proto_conn), WebSocket or SSE */
    uint64_t _last_ping;      /* loop time of the last ping round */
    uint64_t _sessions;       /* server-chosen session ids so far */
    /* The tokens of the request being handled: here rather than on the
     * stack (20 bytes each), which keeps the protocol path within its 2 KiB
     * stack budget (README, "Stack"). A request handled while another is
     * (an application callback that feeds rt_proto_message) gets its own
     * from the allocator. */
    unsigned _handling;
    rt_json_tok _toks[RT_PROTO_MAX_TOKENS];
} rt_proto;

/* Sets up the protocol on the rooms of ps. Deinit after rt_server_deinit. */
RT_API rt_result rt_proto_init(rt_proto *p, rt_pubsub *ps, const rt_proto_config *cfg);
RT_API void rt_proto_deinit(rt_proto *p);

/* ---- Forward these server callbacks -------------------------------------- */

/* From on_upgrade, for the protocol's WebSocket path: authenticates the
 * request. Returns 0 (accept) or the HTTP status to refuse with. */
RT_API int rt_proto_upgrade(rt_proto *p, rt_conn *c, const rt_http_request *req);
/* From on_open: sends "connected". */
RT_API void rt_proto_open(rt_proto *p, rt_conn *c);
/* From on_message; does nothing for a connection the protocol does not
 * serve (rt_proto_user(c) is NULL), so it may be called for every one. */
RT_API void rt_proto_message(rt_proto *p, rt_conn *c, rt_str data);
/* From on_rate_limited: answers with a rate_limited error. */
RT_API void rt_proto_rate_limited(rt_proto *p, rt_conn *c, uint32_t retry_after_ms);
/* From on_close: presence leaves (after the grace period) and the
 * protocol's state for c is freed; nothing for other connections. */
RT_API void rt_proto_close(rt_proto *p, rt_conn *c);
#ifndef RT_NO_SSE
/* From on_http: serves GET /rt/sse and POST /rt/send (SSE + POST
 * transport). Returns 0 when it answered, or a status (404 for other paths).
 * RT_NO_SSE removes this transport, and this function with it: the
 * protocol then runs over WebSocket alone. */
RT_API int rt_proto_http(rt_proto *p, rt_conn *c, const rt_http_request *req, rt_str body);
#endif

/* The user id of a connection the protocol serves (from rt_proto_upgrade
 * or its SSE stream on, until rt_proto_close), or NULL for any other
 * connection. Valid while it is open. */
RT_API const char *rt_proto_user(const rt_conn *c);

#ifdef __cplusplus
}
#endif

#endif /* RT_PROTO_H */
