/* pubsub.h - rooms over the transports: WebSocket, SSE and long polling.
 *
 * A message published to a room is stored once in the room's history and
 * reaches every subscriber in the encoding of its transport, each encoding
 * built once per message and shared by every receiver of that kind. By
 * default (the raw encoding):
 *   WebSocket   one text frame holding the payload
 *   SSE         an event with id: P and the payload as data
 *   long poll   the held request is answered with
 *               {"recovered":true,"pos":P,"messages":[{"pos":P,"data":payload}]}
 * A layer above (the wire protocol of src/proto, or the application) may
 * give a WebSocket or SSE subscriber its own encoder instead (see
 * rt_pubsub_encoder below); pubsub knows nothing of what it writes.
 * P is the message's position (rt_room_pos_format: "<epoch>-<offset>"), the
 * one opaque string every endpoint takes back to resume: the SSE
 * Last-Event-ID, the long-poll `since`, the wire protocol's `since`.
 *
 * Recovery: a subscriber that joins with the last position it saw gets every
 * later message in order, exactly once, then the live stream; join and replay
 * happen in one loop step, so a publish can neither slip between them nor be
 * delivered twice. When history cannot close the gap it is told
 * recovered = false with the current position.
 *
 * RT_NO_SSE takes the SSE transport away (rt_pubsub_sse), RT_NO_LONGPOLL
 * the long poll (rt_pubsub_poll, rt_pubsub_poll_expired); WebSocket stays.
 */
#ifndef RT_PUBSUB_H
#define RT_PUBSUB_H

#include "server.h"
#include "../model/room.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef RT_NO_LONGPOLL
/* How long a long-poll request is held when the caller gives no timeout. */
#ifndef RT_POLL_TIMEOUT_MS
#define RT_POLL_TIMEOUT_MS 25000
#endif
#endif

typedef struct rt_pubsub {
    rt_server *srv;     /* borrowed */
    rt_rooms rooms;     /* the rooms; read them, change them through rt_pubsub_* */
    rt_timer expire;    /* ages history out once a second */
} rt_pubsub;

/* Sets up rooms for srv. settings may be NULL for the defaults; an epoch seed
 * of 0 is replaced with one from the clock and /dev/urandom, so positions
 * from before a restart are recognised as another epoch. Deinit order:
 * rt_server_deinit first (its connections leave their rooms), then this. */
RT_API rt_result rt_pubsub_init(rt_pubsub *ps, rt_server *srv, const rt_rooms_settings *settings);
RT_API void rt_pubsub_deinit(rt_pubsub *ps);

/* ---- Encodings ----------------------------------------------------------------
 * An encoder turns a room message into the framed bytes of one transport.
 * The layer above chooses it per connection: it puts an rt_pubsub_sub,
 * naming the encoder, in the connection with rt_pubsub_set_sub (the pointer
 * lives in the connection's rt_room_member, field sub). Embedding the
 * rt_pubsub_sub in the layer's own per-connection state lets that layer find
 * its state again from the connection (rt_pubsub_sub_of), at no extra
 * memory per connection; connections that need no state of their own may
 * share one rt_pubsub_sub. The encoder's address is what tells encodings
 * apart: a publish calls encode once per encoder and transport among the
 * room's receivers and queues that one rt_msg on all of them. */
typedef struct rt_pubsub_encoder rt_pubsub_encoder;
struct rt_pubsub_encoder {
    /* A new rt_msg (refs 1) holding m, a message of room, framed for a
     * connection of kind RT_CONN_WS (rt_msg_ws) or RT_CONN_SSE (rt_msg_sse);
     * NULL when it cannot be made (those receivers miss it). The result is
     * shared, so it may depend on enc, kind, room and m only. */
    rt_msg *(*encode)(const rt_pubsub_encoder *enc, rt_server *srv, int kind,
                      const rt_room *room, const rt_room_msg *m);
    void *ctx; /* yours */
};

typedef struct rt_pubsub_sub {
    const rt_pubsub_encoder *enc; /* borrowed; NULL: the raw encoding */
} rt_pubsub_sub;

/* Sets how room messages reach c (WebSocket or SSE): sub (borrowed, NULL for
 * the raw encoding) must stay valid until it is replaced or c closes; clear
 * it before freeing it. Held long-poll requests always get the raw reply. */
RT_API void rt_pubsub_set_sub(rt_conn *c, rt_pubsub_sub *sub);
/* What rt_pubsub_set_sub last gave c, or NULL. */
RT_API rt_pubsub_sub *rt_pubsub_sub_of(const rt_conn *c);

/* Publishes data to room (created if needed, so history is kept even with
 * nobody listening) and delivers it to every subscriber except exclude (may
 * be NULL). *pos (may be NULL) gets the message's position. Returns RT_OK,
 * RT_E_INVAL (bad room name, or data that is not UTF-8: room messages go out
 * as WebSocket text and JSON strings), RT_E_LIMIT or RT_E_NOMEM. */
RT_API rt_result rt_pubsub_publish(rt_pubsub *ps, rt_str room, const void *data, size_t n,
                                   rt_conn *exclude, rt_room_pos *pos);

/* Subscribes a WebSocket or SSE connection to room and replays what it missed
 * after `since` (empty: from now on). *rec tells whether the replay closed
 * the gap and the current position. RT_E_INVAL for a bad room name or
 * position, RT_E_LIMIT, RT_E_NOMEM. */
RT_API rt_result rt_pubsub_join(rt_pubsub *ps, rt_conn *c, rt_str room, rt_str since,
                                rt_room_recovery *rec);
/* Unsubscribes c from room; RT_E_NOTFOUND if it was not subscribed. */
RT_API rt_result rt_pubsub_leave(rt_pubsub *ps, rt_conn *c, rt_str room);

/* Answers an HTTP request with an SSE stream of room: the stream headers
 * (plus extra_headers), the messages after `since` (the Last-Event-ID header
 * wins over the since argument), then an "rt.join" event whose id is the
 * position to resume from and whose data is
 * {"room":R,"recovered":true|false,"pos":P}, then live messages. A replay
 * bigger than the connection's queue cap is sent in part and the stream
 * ended without the marker: the EventSource reconnects with the last id it
 * got and receives the next part. A Last-Event-ID that is not a position is
 * treated as "from now" with recovered:false (a 400 would stop the
 * EventSource for good); a bad since argument is RT_E_INVAL. */
#ifndef RT_NO_SSE
RT_API rt_result rt_pubsub_sse(rt_pubsub *ps, rt_conn *c, const rt_http_request *req,
                               rt_str room, rt_str since, const char *extra_headers);
#endif

#ifndef RT_NO_LONGPOLL
/* Long polling: answers at once with the messages after `since` (or with
 * recovered:false and the current position when history cannot close the
 * gap), or holds the request until a message arrives or timeout_ms passes
 * (0: RT_POLL_TIMEOUT_MS), then answers with an empty list. The reply's
 * "pos" is what the client sends as `since` next time; a reply holds at most
 * max_pending bytes of messages, so a long gap comes in several polls. */
RT_API rt_result rt_pubsub_poll(rt_pubsub *ps, rt_conn *c, rt_str room, rt_str since,
                                uint32_t timeout_ms);
/* The empty answer for a held poll whose time is up:
 * {"recovered":true,"pos":P,"messages":[]}. Call it from the server's
 * on_hold_timeout callback. */
RT_API void rt_pubsub_poll_expired(rt_pubsub *ps, rt_conn *c);
#endif

#ifdef __cplusplus
}
#endif

#endif /* RT_PUBSUB_H */
