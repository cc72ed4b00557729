/* rt.h - real-time web features for C programs, in one header.  v0.1.0
   MIT license (see the end of this file).  https://github.com/ - see README.md

   Put this in exactly ONE .c file of your program:

       #define RT_IMPLEMENTATION
       #include "rt.h"

   and a plain #include "rt.h" everywhere else. C99 or C++11; nothing is
   needed at run time beyond libc (and POSIX sockets for the I/O layer).

   IN THAT ONE FILE, INCLUDE rt.h BEFORE ANY SYSTEM HEADER. The
   implementation asks the C library for POSIX declarations, which it reads
   at its first header only; under a strict -std=c99 a <stdio.h> above rt.h
   stops the build with an #error saying so (or compile with
   -D_POSIX_C_SOURCE=200809L). Other files may include rt.h anywhere.

   Limit and switch macros must be the same in every file of a program (some
   size arrays inside public structs); a file whose RT_HTTP_MAX_HEADERS
   differs from the implementation's does not link ("undefined reference to
   rt_layout_http_headers_N"), so the mismatch cannot corrupt memory; nor
   does one that differs in RT_NO_LONGPOLL (rt_layout_no_longpoll_N), the
   one switch that changes a struct that stays (rt_server).

QUICK START: a WebSocket echo server and an SSE stream (see examples/)

       #define RT_IMPLEMENTATION
       #include "rt.h"

       static void on_message(rt_conn *c, int opcode, rt_str data, void *user)
       {
           rt_conn_send(c, opcode, data.p, data.n);         // echo it back
       }
       static int on_http(rt_conn *c, const rt_http_request *req, rt_str body, void *user)
       {
           if (!rt_str_eq(req->path, rt_str_c("/events"))) return 404;
           rt_conn_sse_start(c, NULL);                      // text/event-stream
           rt_conn_sse_send(c, "hello", NULL, "world", 5);  // event: hello / data: world
           return 0;
       }
       int main(void)
       {
           rt_loop loop; rt_server srv; rt_server_config cfg;
           rt_server_config_init(&cfg);                     // all defaults
           cfg.port = 8080;
           cfg.cb.on_message = on_message;
           cfg.cb.on_http = on_http;
           if (rt_loop_init(&loop, NULL) || rt_server_init(&srv, &loop, &cfg)) return 1;
           return rt_loop_run(&loop);                       // ws://host:8080/, /events
       }

SANS-IO: the codecs in your own loop (bytes in, events and bytes out)

       rt_http_parser hp;
       rt_http_parser_init(&hp);
       rt_http_request req;
       rt_ws_handshake hs;
       char out[512];
       rt_result n = rt_http_parse_request(&hp, inbuf, inlen, &req);
       if (n == RT_AGAIN) return;                       // need more bytes
       if (n < 0) { send_all(out, rt_http_format_error(out, sizeof out, req.status, NULL)); return; }
       if (rt_ws_handshake_check(&req, &hs) != RT_OK) {
           send_all(out, rt_ws_format_reject(out, sizeof out, hs.status)); return;
       }
       send_all(out, rt_ws_format_accept(out, sizeof out, hs.key, rt_str_c(NULL), NULL));

       rt_ws_parser wp;
       rt_ws_event ev;
       rt_ws_parser_init(&wp, RT_WS_SERVER, 0);
       rt_result used = rt_ws_parse(&wp, frames, frames_len, &ev);  // unmasks in place
       if (used < 0 && used != RT_AGAIN) close_with(wp.close_code);
       else if (used >= 0 && ev.type == RT_WS_EV_DATA) got_piece(ev.opcode, ev.data, ev.fin);

TABLE OF CONTENTS
       FEATURES, DOES NOT, OPTIONS, SWITCHES, MEMORY, ERRORS, LIMITS,
       THREADING, PLATFORM, ON WEBSOCKETS, ON THE SERVER'S CALLBACKS, ON SSE AND
       ROOMS, ON THE WIRE PROTOCOL; then
       the declarations by layer: core; sha1, b64, utf8; http, ws, json, sse;
       room, presence; platform, loop, server, pubsub, proto; then the
       implementation.
       grep for "// >>name" to jump to a module.

FEATURES
       - SHA-1 (FIPS 180-4) and strict base64 (RFC 4648), endian-neutral.
       - Incremental UTF-8 validation with an ASCII word-at-a-time fast path.
       - Incremental, zero-copy HTTP/1.1 request parser with hard limits, and
         response writers.
       - WebSocket (RFC 6455): handshake checks and accept key, subprotocol
         choice, a frame parser that enforces every section 5 rule and names
         the close code to send, a frame writer for both roles, word-at-a-time
         masking, close-frame helpers.
       - JSON (RFC 8259): a strict, bounded reader into caller-owned tokens
         (no allocation, no recursion) with lookup and typed accessors, and
         an escaping writer that turns any bytes into valid JSON strings.
       - An event loop (poll, or epoll on Linux) with O(1) fd add/remove,
         heap timers and a lock-free cross-thread post (RT_NO_IO drops it).
       - Server-Sent Events formatter: any payload, multi-line data, ids,
         event types, retry and keep-alive comments, byte-exact per WHATWG.
       - Rooms: membership whose cost does not grow with the room (100k
         members), a bounded history ring per room (count, bytes, age),
         positions (epoch-offset) and gap-free, duplicate-free recovery.
       - Presence: users online per room across several connections each,
         join/leave announced once with a reconnect grace period (no flapping),
         typing indicators that expire, deadlines in a heap (tick is O(due)).
       - A server: IPv4/IPv6, keep-alive HTTP, WebSocket upgrade with an
         origin/auth hook, SSE streams, held requests for long polling;
         broadcast frames built once and shared by reference count; one
         sendmsg() per connection per loop step; backpressure with a stated
         policy; heartbeats; slowloris, idle and close timeouts; a connection
         cap answered 503; Origin allow-list (403); per-connection rate
         limits and per-address connection rate (429); graceful shutdown.
       - Rooms over every transport (rt_pubsub): publish once, encoded once
         per transport, recovery by position over WebSocket, SSE
         (Last-Event-ID) and long polling.
       - The JSON wire protocol of docs/PROTOCOL.md (rt_proto) over WebSocket
         and SSE + POST: rooms, history, presence, typing, auth, errors.

rt.h DOES NOT (yet)
       - do TLS: put it behind a TLS terminator (stunnel, nginx, a TLS chip).
       - scale out over Redis: the RESP client and bridge are not written yet;
         one process serves all rooms.
       - include a WebSocket client for devices, or CRDTs.
       - implement permessage-deflate or any other WebSocket extension.
       - parse HTTP responses, chunked request bodies or HTTP/2.

OPTIONS (define before including rt.h; "impl" = only the RT_IMPLEMENTATION TU)
       macro                      default           TU     meaning
       RT_STATIC                  undefined         all    make every function static
       RT_API                     extern            all    linkage of public functions
       RT_MALLOC(n)               malloc(n)         impl   define all three or none
       RT_REALLOC(p,n)            realloc(p,n)      impl
       RT_FREE(p)                 free(p)           impl
       RT_ASSERT(c)               assert(c)         impl   caller bugs only, never input
       RT_CLOCK_MS()              CLOCK_MONOTONIC   impl   monotonic ms for the loop (PLATFORM)
       RT_RANDOM(buf,n)           /dev/urandom      impl   fills n random bytes: seeds (PLATFORM)
       RT_HTTP_MAX_HEADER_BYTES   8192              all    request head size; 431 beyond
       RT_HTTP_MAX_HEADERS        32                all    header fields; 431 beyond
       RT_HTTP_MAX_BODY           65536             all    Content-Length; 413 beyond
       RT_WS_MAX_MESSAGE          1 MiB             all    message size; close 1009 beyond
       RT_JSON_MAX_DEPTH          16                all    JSON nesting; RT_E_LIMIT beyond
       RT_SERVER_MAX_CONNS        10000             all    open connections; 503 + Retry-After beyond
       RT_CONN_MAX_PENDING        256 KiB           all    queued bytes per connection (backpressure)
       RT_CONN_PENDING_GRACE_MS   5000              all    time over the cap before a 1008 close
       RT_CONN_READ_BUF           4096              all    pooled read buffer size
       RT_CONN_GATHER_BYTES       16384             impl   small queued messages copied into one send (0 = none)
       RT_CONN_SEND_BATCH         64                impl   queue entries written per system call (2-1024)
       RT_PING_INTERVAL_MS        25000             all    server WebSocket pings
       RT_IDLE_TIMEOUT_MS         60000             all    silence (or a stalled reply) before a drop
       RT_REQUEST_TIMEOUT_MS      10000             all    time to send a whole request (slowloris)
       RT_CLOSE_TIMEOUT_MS        3000              all    time for the peer to answer a close
       RT_RATE_STRIKES            20                all    rate-limited messages in a row before 1008
       RT_ACCEPT_SLOTS            256               all    per-address slots behind accept_rate
       RT_HOLD_SLOT_MS            10                all    held requests due in one slot time out together
       RT_SSE_KEEPALIVE_MS        15000             all    SSE keep-alive comment interval
       RT_POLL_TIMEOUT_MS         25000             all    how long a long-poll request is held
       RT_PROTO_HEARTBEAT_MS      15000             all    wire-protocol {"type":"ping"} interval
       RT_PROTO_MAX_ERRORS        20                all    malformed requests before a 1008 close
       RT_PROTO_MAX_TOKENS        160               all    JSON tokens in one request (20 B each, in rt_proto)
       RT_BACKEND_POLL            defined           impl   event loop waits with poll() (POSIX)
       RT_BACKEND_EPOLL           undefined         impl   event loop waits with epoll (Linux)
       RT_ROOM_MAX_NAME           64                all    room name bytes ([A-Za-z0-9_.:@-])
       RT_ROOM_MAX_ROOMS          10000             all    rooms per registry; RT_E_LIMIT beyond
       RT_ROOM_MAX_MEMBERS        100000            all    members per room; RT_E_LIMIT beyond
       RT_ROOM_MAX_JOINS          1024              all    rooms per member; RT_E_LIMIT beyond
       RT_ROOM_HISTORY_MAX_MSGS   256               all    history per room, messages (0 = no limit)
       RT_ROOM_HISTORY_MAX_BYTES  256 KiB           all    history per room, bytes (0 = no limit)
       RT_ROOM_HISTORY_MAX_AGE_MS 600000 (10 min)   all    history per room, age (0 = no limit)
       RT_PRESENCE_MAX_ID         64                all    user id bytes ([A-Za-z0-9_.:@-])
       RT_PRESENCE_MAX_INFO       256               all    user info bytes; RT_E_LIMIT beyond
       RT_PRESENCE_MAX_ROOMS      10000             all    presence rooms; RT_E_LIMIT beyond
       RT_PRESENCE_MAX_USERS      10000             all    users per room; RT_E_LIMIT beyond
       RT_PRESENCE_MAX_JOINS      256               all    rooms per connection; RT_E_LIMIT beyond
       RT_PRESENCE_MAX_CONNS      10000             all    connections in presence; RT_E_LIMIT beyond
       RT_PRESENCE_GRACE_MS       5000              all    reconnect window before LEAVE is announced
       RT_PRESENCE_TYPING_MS      5000              all    how long a typing indicator lasts
       Limits can be lowered at run time: parser structs (max_*),
       rt_rooms_settings, rt_presence_settings, rt_server_config.

SWITCHES (define before including rt.h, the same in every file)
       switch           what it removes
       RT_NO_IO         the loop, server, rooms over the transports and the
                        protocol: only the sans-IO codecs and the data models
                        remain (for a device with its own network stack);
                        implies RT_NO_PROTO
       RT_NO_PRESENCE   presence and typing (rt_presence_*); implies
                        RT_NO_PROTO, which announces presence
       RT_NO_PROTO      the JSON wire protocol (rt_proto_*); the server, rooms
                        and pubsub stay
       RT_NO_SSE        Server-Sent Events: the formatter (rt_sse_*),
                        rt_msg_sse, rt_conn_sse_start/_send, the streams'
                        keep-alive comments and final shutdown event,
                        rt_pubsub_sse, and the protocol's SSE + POST
                        transport (rt_proto_http; the protocol stays, over
                        WebSocket). RT_SSE_KEEPALIVE_MS goes; the config
                        field sse_keepalive_ms stays, unused
       RT_NO_LONGPOLL   held requests: rt_conn_hold, the hold timer and its
                        RT_HOLD_SLOT_MS slots (and rt_server's hold_timer and
                        hold_due fields), rt_pubsub_poll and
                        rt_pubsub_poll_expired, RT_POLL_TIMEOUT_MS; the
                        callback on_hold_timeout stays, never called
       A removed function has no declaration either: calling one is a compile
       error. Config and callback structs keep their shape under every
       switch; the connection kinds RT_CONN_SSE and RT_CONN_HELD stay
       defined and are simply never reported.
       The compile matrix builds each switch alone and all of them together,
       checks that the functions of what a switch removes are gone, and
       runs a small server built with every switch but RT_NO_IO.

       What each saves, in bytes of the implementation's .text (v0.1.0;
       gcc 12 -Os on x86-64, clang 14 -Os for Thumb-2; RT_NO_PRESENCE and
       RT_NO_IO include the protocol they imply):
           switches               x86-64    saved  Thumb-2    saved
           none                    51311            44500
           RT_NO_SSE               48039     3272   42028     2472
           RT_NO_LONGPOLL          49917     1394   43200     1300
           RT_NO_PROTO             43402     7909   37976     6524
           RT_NO_PRESENCE          39238    12073   34080    10420
           RT_NO_IO                25139    26172   22562    21938
           all but RT_NO_IO        35699    15612   31086    13414
           all                     20087    31224   17930    26570
       Made with, for each set of -D switches:
           gcc -Os -c -DRT_IMPLEMENTATION -x c rt.h && size -A rt.o
           clang --target=arm-linux-gnueabihf -mthumb -Os -c \
               -DRT_IMPLEMENTATION -x c rt.h && size -A rt.o
       (the sum of the .text sections; the Thumb-2 build used the host's
       libc headers, which is fine for a size but not a port).

MEMORY
       The caller owns every object (parsers, loop, server, rooms) as a plain
       struct; the codecs never allocate. Views (rt_str) point into the
       caller's buffers and live as long as those bytes do. Where rt.h
       allocates, it goes through an rt_allocator given in a config, or
       RT_MALLOC/RT_FREE. An idle connection holds only its rt_conn: read
       buffers and queue rings come from per-server pools while data flows.
       An outgoing message is one rt_msg, reference counted and shared by
       every queue it is in. Per-connection queues are capped (backpressure:
       over max_pending for pending_grace_ms, or at the hard cap, the
       connection is closed with 1008). Writing costs one server-wide buffer
       of RT_CONN_GATHER_BYTES (allocated the first time a queue holds two
       messages) and RT_CONN_SEND_BATCH * 16 bytes of stack (x86-64 iovecs).
       A device may lower both: with a smaller gather buffer fewer small
       messages go out in one copy, and with none (0) each is its own iovec
       entry, which costs the kernel far more per frame in a busy room; with
       a smaller batch a long queue takes more system calls to write.

ERRORS
       Functions return rt_result: RT_OK (0), a byte count, or a negative
       code (RT_AGAIN, RT_E_PROTO, RT_E_LIMIT, RT_E_NOMEM, RT_E_IO, ...);
       rt_result_str() names it. Parsers also say what to answer: an HTTP
       status (req.status) or a WebSocket close code (parser.close_code).
       rt.h never prints, exits or aborts on bad input.

LIMITS
       Every buffer is bounded by a limit from OPTIONS; a limit is checked
       before anything is allocated or copied.

THREADING
       No global mutable state. A loop and everything on it (server, rooms,
       protocol) belong to one thread. The one exception is rt_loop_post(),
       which any thread, or a signal handler, may call to run a function on
       the loop's thread. Two loops in one process are independent.

PLATFORM
       Everything rt.h asks of the operating system is in src/io/platform.c
       (the "platform" module): the poll or epoll backend, the wake pipe
       behind rt_loop_post(), TCP sockets and address parsing. A port (lwIP,
       Windows) rewrites that one file against platform.h's contract.
       The clock and the random source are the application's to replace:
       define them before the include in the RT_IMPLEMENTATION file.
           #define RT_CLOCK_MS()     my_tick_ms()       // uint64_t, monotonic
           #define RT_RANDOM(buf, n) my_hw_rng(buf, n)  // fill n bytes; no fail
       RT_CLOCK_MS() drives the loop (loop->now, timers, rt_time_ms()) and
       everything timed on it; RT_RANDOM seeds the rooms' epochs and hash
       tables (rt_pubsub_init). A replaced default is not compiled, so a
       target without clock_gettime() or /dev/urandom still builds. They
       are compile-time hooks, the same for every loop in the program.

ON WEBSOCKETS
       rt_ws_parse() delivers data messages in pieces as bytes arrive (the
       caller reassembles if it wants whole messages) and control frames
       whole. Text is validated as UTF-8 across fragments and fails as soon
       as a byte makes it invalid, not at the end of the message. The server
       reassembles messages and hands whole ones to on_message, zero-copy
       when a message arrived in one read.

ON THE SERVER'S CALLBACKS (rt_server_config.cb; each gets cfg.user last)
       on_http(c, req, body)   a whole plain HTTP request (not an upgrade)
                               arrived. Answer now (rt_conn_reply), turn it
                               into a stream (rt_conn_sse_start), hold it
                               (rt_conn_hold) or return a status (404...) for
                               a short error reply; 0 with none of these
                               gets 500. NULL: every request 404.
       on_upgrade(c, req)      a valid WebSocket upgrade, before the 101:
                               return 0 to accept or 401/403/404 to refuse.
                               NULL: accept (the Origin check runs before).
       on_open(c, req)         the 101 is queued; the WebSocket is open.
       on_message(c, op, data) a whole WebSocket message (fragments joined,
                               text checked as UTF-8), after the rate limit.
       on_rate_limited(c, ms)  a message was over cfg.rate_msgs/rate_bytes and
                               dropped; RT_RATE_STRIKES in a row close 1008.
       on_drain(c)             the queue emptied after passing half its cap:
                               a producer that paused may go on.
       on_hold_timeout(c)      a held request's time is up: reply to it now.
                               NULL: the server answers 204.
       on_close(c, code, why)  a WebSocket, SSE stream or held request ended,
                               exactly once each: the close code (1006 when
                               the link dropped without one, 1001 at
                               shutdown). Do not use c after it returns.
       Plain HTTP requests get no on_close. Callbacks run on the loop's thread,
       one at a time; inside one you may send, close, broadcast, publish or
       reply on any connection: a connection closed during a callback stays
       valid memory until the loop step ends.

ON SSE AND ROOMS
       A room message gets a position "<epoch hex>-<offset>": the SSE id,
       the long-poll "since", the protocol's "pos". A subscriber that comes
       back with its last position gets exactly the messages it missed, in
       order, then the live stream; if the history (RT_ROOM_HISTORY_*) no
       longer reaches back, or the epoch changed (a restart), it is told
       recovered = false with the current position.

ON THE WIRE PROTOCOL
       docs/PROTOCOL.md specifies it; examples/web/rt.js is a browser client
       and examples/03_chat.c shows the wiring: forward on_upgrade, on_open,
       on_message, on_close, on_rate_limited and the /rt/ paths of on_http.
*/

#ifndef RT_H_INCLUDED
#define RT_H_INCLUDED

/* ==== Begin src/base/core.h ==== */ // >>core
/* core.h - version, linkage, results, string views, allocator, limits.
 *
 * Everything else in rt.h stands on these few definitions. Only <stddef.h>
 * and <stdint.h> are included by the public part of rt.h; every platform
 * header is included by the implementation alone.
 */
#ifndef RT_CORE_H
#define RT_CORE_H

/* The implementation needs POSIX declarations (sockets, poll, clocks) even
 * under -std=c99, so it asks for them here. That works only when rt.h comes
 * before every system header of the implementation's file: the C library
 * reads the request once, at its first header. A file that includes a system
 * header first under a strict -std= gets a clear error below rather than
 * a page of missing declarations; the fix is to move the include of rt.h up,
 * or to compile with -D_POSIX_C_SOURCE=200809L. Files without
 * RT_IMPLEMENTATION need nothing and may include rt.h anywhere. */
#if defined(RT_IMPLEMENTATION) && !defined(RT_NO_IO) && !defined(_POSIX_C_SOURCE) \
    && !defined(_GNU_SOURCE) && !defined(_WIN32)
#  if defined(_FEATURES_H) || defined(__GLIBC__)
#    error "rt.h: the file with RT_IMPLEMENTATION must include rt.h before any system header (or define _POSIX_C_SOURCE=200809L)"
#  endif
#  define _POSIX_C_SOURCE 200809L
#endif

/* Feature switches that imply others: the protocol runs on the I/O layer and
 * announces presence. */
#if (defined(RT_NO_IO) || defined(RT_NO_PRESENCE)) && !defined(RT_NO_PROTO)
#  define RT_NO_PROTO
#endif

#include <stddef.h>
#include <stdint.h>

#define RT_VERSION_MAJOR 0
#define RT_VERSION_MINOR 1
#define RT_VERSION_PATCH 0
#define RT_VERSION_STRING "0.1.0"

/* RT_API marks every public function. RT_STATIC makes them all static so rt.h
 * can live privately inside one translation unit. */
#ifndef RT_API
#  if defined(RT_STATIC) && (defined(__GNUC__) || defined(__clang__))
#    define RT_API static __attribute__((unused)) /* unused ones are fine */
#  elif defined(RT_STATIC)
#    define RT_API static
#  else
#    define RT_API extern
#  endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Results ---------------------------------------------------------------
 * Every command returns an rt_result: RT_OK (0), a non-negative count where
 * the comment says so, or one of these negative codes. rt_result_str() names
 * them. errno is never part of the API. */
typedef int rt_result;

enum {
    RT_OK = 0,
    RT_AGAIN = -1,      /* need more input (parsers) or would block (I/O) */
    RT_E_PROTO = -2,    /* the peer broke the protocol */
    RT_E_LIMIT = -3,    /* a configured limit was reached */
    RT_E_NOMEM = -4,    /* an allocation failed */
    RT_E_IO = -5,       /* a socket or system call failed */
    RT_E_CLOSED = -6,   /* the connection or object is closed */
    RT_E_INVAL = -7,    /* the caller passed a bad argument */
    RT_E_UTF8 = -8,     /* text that is not valid UTF-8 */
    RT_E_NOSPACE = -9,  /* the caller's output buffer is too small */
    RT_E_NOTFOUND = -10 /* no such item */
};

/* The name of a result code, e.g. "RT_E_PROTO: protocol error". Static text. */
RT_API const char *rt_result_str(rt_result r);

/* ---- String views ----------------------------------------------------------
 * A view into bytes owned by someone else; never NUL-terminated by contract.
 * Each function that returns one says how long it stays valid. */
typedef struct rt_str {
    const char *p;
    size_t n;
} rt_str;

/* A view of a NUL-terminated string (NULL gives the empty view). */
RT_API rt_str rt_str_c(const char *s);
/* 1 when a and b hold the same bytes, 0 otherwise. */
RT_API int rt_str_eq(rt_str a, rt_str b);
/* 1 when a and b are equal ignoring ASCII case, 0 otherwise. */
RT_API int rt_str_ieq(rt_str a, rt_str b);
/* 1 when s is 1..max bytes of [A-Za-z0-9_.:@-], the alphabet of room names,
 * user ids and session ids (safe in URLs, JSON and log lines), else 0. */
RT_API int rt_str_is_name(rt_str s, size_t max);

/* ---- Hashing -----------------------------------------------------------------
 * FNV-1a (32-bit), continued from h: start from RT_FNV1A_BASIS, or from a
 * basis mixed with a seed. Not a keyed hash: a seed only stops collisions
 * computed in advance, so tables using it also bound their chains. */
#define RT_FNV1A_BASIS 2166136261u
RT_API uint32_t rt_fnv1a(uint32_t h, const void *data, size_t n);

/* ---- Allocator ---------------------------------------------------------------
 * rt.h allocates only growable buffers. By default it uses RT_MALLOC/RT_FREE
 * (libc); a config struct may carry an rt_allocator instead, which is passed
 * down to every allocation that object makes. A NULL allocator means libc. */
typedef struct rt_allocator {
    void *(*alloc)(void *user, size_t n);
    void *(*realloc)(void *user, void *p, size_t old_n, size_t new_n);
    void (*free)(void *user, void *p, size_t n);
    void *user;
} rt_allocator;

RT_API void *rt_alloc(const rt_allocator *a, size_t n);
RT_API void *rt_realloc(const rt_allocator *a, void *p, size_t old_n, size_t new_n);
RT_API void rt_free(const rt_allocator *a, void *p, size_t n);
/* Returns array p (of *cap elements of elem bytes) with room for need, its
 * capacity doubled from min (or from *cap) until it fits, and sets *cap: n
 * additions cost O(n). The new part is not zeroed. NULL on overflow or when
 * the allocator fails; p and *cap are then untouched. */
RT_API void *rt_grow(const rt_allocator *a, void *p, size_t *cap, size_t need, size_t elem,
                     size_t min);

#ifdef __cplusplus
}
#endif

#endif /* RT_CORE_H */
/* ==== End src/base/core.h ==== */

/* ==== Begin src/base/sha1.h ==== */ // >>sha1
/* sha1.h - SHA-1 (FIPS 180-4), for the WebSocket accept key.
 *
 * SHA-1 is broken for collision resistance; RFC 6455 uses it only to prove
 * that the server read the handshake, and that is all rt.h uses it for.
 */
#ifndef RT_SHA1_H
#define RT_SHA1_H


#ifdef __cplusplus
extern "C" {
#endif

#define RT_SHA1_SIZE 20

/* Caller-owned state; no allocation. */
typedef struct rt_sha1_ctx {
    uint32_t h[5];
    uint64_t total;          /* bytes hashed so far */
    unsigned char block[64]; /* partial block */
    size_t fill;             /* bytes in block */
} rt_sha1_ctx;

RT_API void rt_sha1_init(rt_sha1_ctx *s);
RT_API void rt_sha1_update(rt_sha1_ctx *s, const void *data, size_t n);
/* Writes the 20-byte digest; s must be re-initialised before reuse. */
RT_API void rt_sha1_final(rt_sha1_ctx *s, unsigned char out[RT_SHA1_SIZE]);
/* One-shot digest of data[0..n). */
RT_API void rt_sha1(const void *data, size_t n, unsigned char out[RT_SHA1_SIZE]);

#ifdef __cplusplus
}
#endif

#endif /* RT_SHA1_H */
/* ==== End src/base/sha1.h ==== */

/* ==== Begin src/base/b64.h ==== */ // >>b64
/* b64.h - base64 (RFC 4648 section 4), strict decoding. */
#ifndef RT_B64_H
#define RT_B64_H


#ifdef __cplusplus
extern "C" {
#endif

/* Encoded length of n bytes, padding included, without a NUL. */
#define RT_B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)
/* Upper bound on the decoded length of n base64 characters. */
#define RT_B64_DECODED_MAX(n) (((n) / 4) * 3)

/* Encodes src[0..n) into dst. Like snprintf: returns the encoded length
 * (RT_B64_ENCODED_LEN(n)) and writes it, plus a NUL, only when cap is larger
 * than that; otherwise writes nothing. For an n so large that the length
 * could overflow a size_t it returns SIZE_MAX (and writes nothing). */
RT_API size_t rt_b64_encode(const void *src, size_t n, char *dst, size_t cap);

/* Decodes src[0..n) into dst[0..cap). Returns the decoded length, or
 * RT_E_PROTO when the input is not canonical base64 (length not a multiple
 * of 4, a character outside the alphabet, misplaced '=', or non-zero padding
 * bits), or RT_E_NOSPACE when cap is too small for valid input, or
 * RT_E_LIMIT when the decoded length could exceed INT_MAX. No whitespace or
 * line breaks are allowed. After an error dst holds unspecified bytes. */
RT_API rt_result rt_b64_decode(const char *src, size_t n, void *dst, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* RT_B64_H */
/* ==== End src/base/b64.h ==== */

/* ==== Begin src/base/utf8.h ==== */ // >>utf8
/* utf8.h - incremental UTF-8 validation (RFC 3629, Unicode table 3-7). */
#ifndef RT_UTF8_H
#define RT_UTF8_H


#ifdef __cplusplus
extern "C" {
#endif

/* Validator state; zero-initialise it (or call rt_utf8_init) per message.
 * Three bytes: one is embedded in every WebSocket parser, hence in every
 * connection. */
typedef struct rt_utf8 {
    uint8_t need;  /* continuation bytes still expected; 0xFF after an error */
    uint8_t lo;    /* allowed range of the next continuation byte, */
    uint8_t hi;    /* meaningful while need is 1..3 */
} rt_utf8;

RT_API void rt_utf8_init(rt_utf8 *v);

/* Feeds the next n bytes of a message. Returns RT_OK when everything seen so
 * far is a prefix of some valid UTF-8 text, or RT_E_UTF8 at the first byte
 * that makes it invalid, with *bad (if not NULL) set to that byte's index in
 * this chunk. The state is sticky after an error. */
RT_API rt_result rt_utf8_feed(rt_utf8 *v, const void *data, size_t n, size_t *bad);

/* End of message: RT_OK, or RT_E_UTF8 when a sequence was cut short. */
RT_API rt_result rt_utf8_finish(const rt_utf8 *v);

/* 1 when data[0..n) is complete, valid UTF-8, else 0. */
RT_API int rt_utf8_valid(const void *data, size_t n);

/* The longest prefix of s[0..n), at most max bytes, that does not cut a
 * sequence in two (s is assumed valid UTF-8). */
RT_API size_t rt_utf8_truncate(const char *s, size_t n, size_t max);

#ifdef __cplusplus
}
#endif

#endif /* RT_UTF8_H */
/* ==== End src/base/utf8.h ==== */

/* ==== Begin src/base/json.h ==== */ // >>json
/* json.h - JSON text out (string escaping, a growable output buffer) and in
 * (a bounded tokenizer with accessors for small messages). */
#ifndef RT_JSON_H
#define RT_JSON_H


#ifdef __cplusplus
extern "C" {
#endif

/* Writes data[0..n) as the inside of a JSON string (no quotes): '"', '\\'
 * and every control character escaped (RFC 8259 section 7), and each byte
 * that is not part of valid UTF-8 replaced by \ufffd, so the output is
 * always valid JSON whatever a client sent. Returns the length needed, like
 * snprintf; writes nothing beyond cap and no NUL. */
RT_API size_t rt_json_escape(char *buf, size_t cap, const void *data, size_t n);

/* A growable byte buffer on an allocator. Zero-initialise, or rt_jbuf_init;
 * rt_jbuf_free when done. After an allocation failure `failed` is set and
 * further appends do nothing, so a builder can check once at the end. */
typedef struct rt_jbuf {
    char *p;
    size_t len, cap;
    const rt_allocator *alloc;
    int failed;
} rt_jbuf;

RT_API void rt_jbuf_init(rt_jbuf *b, const rt_allocator *alloc);
RT_API void rt_jbuf_free(rt_jbuf *b);
RT_API void rt_jbuf_put(rt_jbuf *b, const void *data, size_t n);
RT_API void rt_jbuf_puts(rt_jbuf *b, const char *s);
/* Appends data as a quoted, escaped JSON string. */
RT_API void rt_jbuf_str(rt_jbuf *b, const void *data, size_t n);
/* Appends an unsigned integer in decimal. */
RT_API void rt_jbuf_uint(rt_jbuf *b, uint64_t v);

/* ---- JSON in: a bounded, zero-allocation reader (RFC 8259) ------------------
 *
 * rt_json_parse checks one complete JSON text against the RFC 8259 grammar
 * (strict: no comments, no trailing commas, no leading zeros, no BOM, only
 * valid UTF-8, no raw control characters in strings, no lone surrogates)
 * and describes it in an array of tokens the caller provides, in document
 * order. It never allocates and never recurses, so neither hostile depth nor
 * hostile length can exhaust the stack or the heap.
 *
 * Lifetimes: the tokens hold offsets into the input, and rt_json points at
 * both the input and the token array; all three must stay alive and
 * unchanged while the accessors are used. Nothing is copied until
 * rt_json_str copies a string out.
 *
 * Walking the tokens: toks[0] is the root. A container's children follow it
 * directly; toks[t].next is the index just past t and everything inside it,
 * so the siblings of t are t, toks[t].next, ... An object's children come in
 * pairs, key (a string token) then value. */

/* Deepest nesting of arrays and objects accepted; RT_E_LIMIT beyond. The
 * outermost container is at depth 1, so "[[1]]" has depth 2. */
#ifndef RT_JSON_MAX_DEPTH
#define RT_JSON_MAX_DEPTH 16
#endif

typedef enum rt_json_type {
    RT_JSON_NONE = 0, /* what rt_json_type says for -1 or a bad index */
    RT_JSON_OBJECT,
    RT_JSON_ARRAY,
    RT_JSON_STRING,
    RT_JSON_NUMBER,
    RT_JSON_TRUE,
    RT_JSON_FALSE,
    RT_JSON_NULL
} rt_json_type;

/* One value. src[start..end) is its exact JSON text (a string's includes
 * its quotes and its escapes as written). */
typedef struct rt_json_tok {
    int type;      /* an rt_json_type */
    uint32_t start, end;
    uint32_t size; /* object: members; array: elements; string: bytes once
                      unescaped (so no escapes when size == end - start - 2);
                      numbers and literals: 0 */
    uint32_t next; /* index of the first token after this value */
} rt_json_tok;

/* A parsed document. Filled by rt_json_parse; read it, never write it. */
typedef struct rt_json {
    const char *src;     /* the input, borrowed */
    size_t len;
    rt_json_tok *toks;   /* the caller's array, borrowed */
    int n;               /* tokens used */
    size_t err_pos;      /* after an error: offset of the byte at fault
                            (len when the text ends too early) */
} rt_json;

/* Parses src[0..len), which must hold exactly one JSON value with optional
 * whitespace around it, into toks[0..cap). Returns the number of tokens
 * used (at least 1), or:
 *   RT_E_PROTO  not JSON (bad syntax, truncated, trailing bytes, empty)
 *   RT_E_UTF8   a string holds invalid UTF-8
 *   RT_E_LIMIT  more than cap tokens, nesting deeper than RT_JSON_MAX_DEPTH,
 *               or len of 4 GiB or more
 * with doc->err_pos set. After an error the tokens mean nothing. */
RT_API rt_result rt_json_parse(rt_json *doc, const void *src, size_t len,
                               rt_json_tok *toks, size_t cap);

/* The type of token tok, or RT_JSON_NONE when tok is -1 or out of range, so
 * a failed lookup can be passed straight in. */
RT_API rt_json_type rt_json_type_of(const rt_json *doc, int tok);

/* The value of member key in object obj, or -1 when obj is not an object or
 * has no such member. Keys are compared after unescaping. RFC 8259 section 4
 * leaves duplicate keys to the implementation: like JSON.parse in browsers,
 * this returns the LAST member with that name. */
RT_API int rt_json_get(const rt_json *doc, int obj, const char *key);

/* Element i (from 0) of array arr, or -1 when arr is not an array or is too
 * short. Walks the elements: O(i). */
RT_API int rt_json_at(const rt_json *doc, int arr, size_t i);

/* 1 when tok is a string whose unescaped bytes equal the C string s, else 0.
 * Compares in place, without copying; memcmp when there are no escapes. */
RT_API int rt_json_eq(const rt_json *doc, int tok, const char *s);

/* Copies string tok, unescaped, into buf with a NUL after it, and sets *len
 * (if not NULL) to the byte count without the NUL; the bytes are valid UTF-8
 * but may contain NUL themselves ("\u0000"). Returns RT_OK, RT_E_NOSPACE when
 * cap < size + 1 (*len still says size: retry with a bigger buf),
 * RT_E_NOTFOUND when tok is -1, RT_E_PROTO when tok is not a string. */
RT_API rt_result rt_json_str(const rt_json *doc, int tok, char *buf, size_t cap, size_t *len);

/* Reads number tok as an integer. Returns RT_OK, RT_E_NOTFOUND when tok is
 * -1, RT_E_PROTO when it is not a number or has a fraction or an exponent
 * ("1.0", "1e3"), RT_E_LIMIT when it lies outside int64_t. *out is written
 * only on RT_OK, so it can hold a default for an optional member. */
RT_API rt_result rt_json_int(const rt_json *doc, int tok, int64_t *out);

/* Reads true or false into *out (1 or 0). Returns RT_OK, RT_E_NOTFOUND when
 * tok is -1, RT_E_PROTO for any other type; *out is written only on RT_OK. */
RT_API rt_result rt_json_bool(const rt_json *doc, int tok, int *out);

/* The exact JSON text of tok (strings with quotes and escapes), e.g. to
 * forward a "data" value verbatim; the empty view when tok is -1 or out of
 * range. Points into the input. */
RT_API rt_str rt_json_raw(const rt_json *doc, int tok);

#ifdef __cplusplus
}
#endif

#endif /* RT_JSON_H */
/* ==== End src/base/json.h ==== */

/* ==== Begin src/base/list.h ==== */ // >>list
/* list.h - the intrusive doubly linked list every module shares.
 *
 * A struct that can be on a list embeds an rt_list link; the list itself is
 * an rt_list head. The list is circular through its head, so unlinking needs
 * neither the head nor a test for "first" or "last", which is where the five
 * hand-written unlinks this replaces each had their own branch. An all-zero
 * head is an empty list (it links itself on first use), so the structs that
 * hold one stay zero-initialisable; an all-zero link is "on no list".
 *
 * A head must not move while anything is on its list (the first and last
 * links point at it). Nothing here allocates.
 *
 *     struct job { int id; rt_list link; };
 *     rt_list jobs = {0, 0};
 *     rt_list_push_back(&jobs, &j->link);
 *     for (rt_list *n = rt_list_first(&jobs); n; n = rt_list_next(&jobs, n))
 *         use(RT_LIST_ENTRY(n, struct job, link)->id);
 */
#ifndef RT_LIST_H
#define RT_LIST_H


#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_list {
    struct rt_list *prev, *next;
} rt_list;

/* The struct of type T whose member M is the link n. */
#define RT_LIST_ENTRY(n, T, M) ((T *)(void *)((char *)(n) - offsetof(T, M)))

/* 1 when n is on a list (heads: when the list has an entry). */
RT_API int rt_list_linked(const rt_list *n);
/* Links n after the last entry of head (n must be on no list). */
RT_API void rt_list_push_back(rt_list *head, rt_list *n);
/* Links n before the first entry of head (n must be on no list). */
RT_API void rt_list_push_front(rt_list *head, rt_list *n);
/* Takes n off its list and leaves it all-zero; a link on no list is fine. */
RT_API void rt_list_unlink(rt_list *n);
/* The first entry, or NULL when the list is empty. */
RT_API rt_list *rt_list_first(const rt_list *head);
/* The entry after n, or NULL at the end. Taking n off the list invalidates
 * this: read the next entry first when the loop unlinks. */
RT_API rt_list *rt_list_next(const rt_list *head, const rt_list *n);
/* The last entry, or NULL when the list is empty. */
RT_API rt_list *rt_list_last(const rt_list *head);

#ifdef __cplusplus
}
#endif

#endif /* RT_LIST_H */
/* ==== End src/base/list.h ==== */

/* ==== Begin src/base/hash.h ==== */ // >>hash
/* hash.h - the intrusive chained hash table every module shares.
 *
 * A struct that can be in a table embeds an rt_hash_node; the table is an
 * array of chains, a power of two of them, picked by the low bits of each
 * node's 32-bit hash. The caller computes the hash (with its own seed: the
 * table has none) and compares keys itself: a lookup walks the nodes whose
 * stored hash matches, so a key is compared only on a full 32-bit match and
 * never hashed again, not on growth, not on removal.
 *
 * The table does not count its entries: every user already keeps that count
 * (usually in a public field), so it is passed in where it matters, to
 * rt_hash_reserve and rt_hash_shrink. Reserve before inserting, and the
 * insert cannot fail: a model can then make every allocation before it
 * changes anything. Only the bucket array is allocated; an all-zero table
 * is empty and holds no memory.
 *
 *     struct user { rt_str id; rt_hash_node node; };
 *     if (rt_hash_reserve(&t, a, n_users + 1) != RT_OK) return RT_E_NOMEM;
 *     rt_hash_insert(&t, &u->node, hash(u->id));
 *     for (x = rt_hash_find(&t, h); x; x = rt_hash_find_next(x))
 *         if (rt_str_eq(RT_HASH_ENTRY(x, struct user, node)->id, id)) ...
 */
#ifndef RT_HASH_H
#define RT_HASH_H


#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_hash_node {
    struct rt_hash_node *_next; /* the rest of the chain */
    uint32_t hash;              /* read-only: as given to rt_hash_insert */
} rt_hash_node;

typedef struct rt_hash {
    rt_hash_node **_buckets; /* NULL, or _n_buckets chains */
    size_t _n_buckets;       /* 0 or a power of two, at least 16 */
} rt_hash;

/* The struct of type T whose member M is the node x. */
#define RT_HASH_ENTRY(x, T, M) ((T *)(void *)((char *)(x) - offsetof(T, M)))

/* Makes room for n entries at one per bucket on average, doubling. A table
 * that already has buckets keeps working with longer chains when growing
 * fails, so this is RT_E_NOMEM only for a table with no bucket array yet
 * (or an n too large to represent); else RT_OK. */
RT_API rt_result rt_hash_reserve(rt_hash *t, const rt_allocator *a, size_t n);
/* Gives memory back when n entries (what is left) fill a quarter of the
 * buckets or less: halves, in one step, down to the size that fits n, never
 * below 16 buckets. A failed allocation keeps the bigger array. Not while
 * walking the table with rt_hash_first/next. */
RT_API void rt_hash_shrink(rt_hash *t, const rt_allocator *a, size_t n);
/* Frees the bucket array (not the entries) and leaves t all-zero. */
RT_API void rt_hash_deinit(rt_hash *t, const rt_allocator *a);

/* Adds x with that hash (x must be in no table). Needs a bucket array:
 * rt_hash_reserve first. Never allocates. Equal keys are the caller's to
 * refuse; the table keeps whatever it is given. */
RT_API void rt_hash_insert(rt_hash *t, rt_hash_node *x, uint32_t hash);
/* Takes x out of t, walking x's chain only (x must be in t). */
RT_API void rt_hash_remove(rt_hash *t, rt_hash_node *x);

/* The first node whose hash is `hash`, or NULL. */
RT_API rt_hash_node *rt_hash_find(const rt_hash *t, uint32_t hash);
/* The next node after x with x's hash, or NULL. */
RT_API rt_hash_node *rt_hash_find_next(const rt_hash_node *x);

/* Every node, in no particular order: the first, or NULL when empty. */
RT_API rt_hash_node *rt_hash_first(const rt_hash *t);
/* The node after x, or NULL at the end. A loop that removes or frees x
 * reads the next node first; it must not insert or resize meanwhile. */
RT_API rt_hash_node *rt_hash_next(const rt_hash *t, const rt_hash_node *x);

#ifdef __cplusplus
}
#endif

#endif /* RT_HASH_H */
/* ==== End src/base/hash.h ==== */

/* ==== Begin src/base/heap.h ==== */ // >>heap
/* heap.h - the binary min-heap every module shares (timers, deadlines).
 *
 * The heap holds pointers to the caller's structs, least key first. Each
 * struct keeps its own key (a uint64_t, compared with <) and its own place
 * in the heap (a size_t), at offsets given once to rt_heap_init: any struct
 * with two such fields fits as it is, the loop's public rt_timer included,
 * and a comparison costs the same one load through the element pointer as
 * a heap written for one type. Knowing its place lets an element be
 * removed, or its key changed, in O(log n) without a search.
 *
 * The place field is 0 while the element is in no heap and its position
 * plus one while it is in one, so a zeroed struct is "not in a heap". Only
 * the pointer array is allocated, by rt_heap_reserve; rt_heap_insert then
 * cannot fail, so a caller can reserve early and arm timers in paths that
 * must not fail. Equal keys come out in no set order.
 *
 *     struct job { uint64_t due; size_t at; };
 *     rt_heap_init(&h, offsetof(struct job, due), offsetof(struct job, at));
 *     if (rt_heap_reserve(&h, a, h.n + 1) == RT_OK) rt_heap_insert(&h, &j);
 *     while ((next = (struct job *)rt_heap_min(&h)) && next->due <= now) ...
 */
#ifndef RT_HEAP_H
#define RT_HEAP_H


#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_heap {
    void **_items;     /* the elements; the least key at [0] */
    size_t n;          /* read-only: elements in the heap */
    size_t _cap;       /* entries _items has room for */
    uint32_t _key_at;  /* offset of the uint64_t key in an element */
    uint32_t _slot_at; /* offset of the size_t place in an element */
} rt_heap;

/* An empty heap over elements that keep their key and place at these
 * offsets (offsetof). Allocates nothing. */
RT_API void rt_heap_init(rt_heap *h, size_t key_offset, size_t slot_offset);
/* Frees the pointer array; the elements are the caller's. Leaves h empty. */
RT_API void rt_heap_deinit(rt_heap *h, const rt_allocator *a);

/* Makes room for n elements, doubling from 8. RT_OK or RT_E_NOMEM (h
 * unchanged). */
RT_API rt_result rt_heap_reserve(rt_heap *h, const rt_allocator *a, size_t n);
/* Gives memory back when n elements (what must stay reserved, at least
 * h->n) fill a quarter of the room or less: halves, in one step, down to
 * the room that fits n, never below 16. A failed allocation keeps it. */
RT_API void rt_heap_shrink(rt_heap *h, const rt_allocator *a, size_t n);

/* Adds e (in no heap) by its current key. Needs room (rt_heap_reserve);
 * never allocates. */
RT_API void rt_heap_insert(rt_heap *h, void *e);
/* Takes e out of h; an element in no heap is left alone. */
RT_API void rt_heap_remove(rt_heap *h, void *e);
/* Puts e (in h) back in order after its key changed, up or down. */
RT_API void rt_heap_update(rt_heap *h, void *e);
/* The element with the least key, or NULL when h is empty. Borrowed. */
RT_API void *rt_heap_min(const rt_heap *h);

#ifdef __cplusplus
}
#endif

#endif /* RT_HEAP_H */
/* ==== End src/base/heap.h ==== */

/* ==== Begin src/codec/http.h ==== */ // >>http
/* http.h - HTTP/1.1 request parser and response writer (RFC 9110, RFC 9112).
 *
 * Sans-IO and zero-copy: the caller keeps the bytes it has received in one
 * buffer and calls rt_http_parse_request() with the whole buffer each time
 * more arrive. The parser remembers how far it has scanned, so feeding a
 * request one byte at a time costs O(n) overall and gives the same result as
 * feeding it whole. Every rt_str it fills points into that buffer.
 */
#ifndef RT_HTTP_H
#define RT_HTTP_H


#ifdef __cplusplus
extern "C" {
#endif

/* Largest request head (request line + headers + blank line): 431 beyond. */
#ifndef RT_HTTP_MAX_HEADER_BYTES
#define RT_HTTP_MAX_HEADER_BYTES 8192
#endif
/* Most header fields in one request: 431 beyond. */
#ifndef RT_HTTP_MAX_HEADERS
#define RT_HTTP_MAX_HEADERS 32
#endif
/* Largest request body (Content-Length) accepted: 413 beyond. */
#ifndef RT_HTTP_MAX_BODY
#define RT_HTTP_MAX_BODY 65536
#endif

typedef struct rt_http_header {
    rt_str name;  /* as sent; compare with rt_str_ieq */
    rt_str value; /* optional whitespace around it removed */
} rt_http_header;

typedef struct rt_http_request {
    rt_str method;        /* "GET" */
    rt_str target;        /* request-target as sent: "/ws?room=a" */
    rt_str path;          /* target before '?': "/ws" */
    rt_str query;         /* target after '?', empty when there is none */
    int version_minor;    /* 1 for HTTP/1.1, 0 for HTTP/1.0 */
    int keep_alive;       /* 1 unless "Connection: close" or HTTP/1.0 without keep-alive */
    size_t content_length;/* 0 when there is no body */
    size_t head_len;      /* bytes of the head, blank line (and an ignored leading
                             empty line) included */
    int status;           /* after an error: the HTTP status to answer with; else 0 */
    size_t num_headers;
    rt_http_header headers[RT_HTTP_MAX_HEADERS];
} rt_http_request;

/* Parser state; zero-initialise it (or call rt_http_parser_init) per request.
 * max_header_bytes / max_headers / max_body may be set to lower the compiled
 * limits at run time (0 keeps the compiled ones; a larger value is capped at
 * the compiled one). */
typedef struct rt_http_parser {
    size_t max_header_bytes;
    size_t max_headers;
    size_t max_body;
    /* private; offsets into the head, which is at most INT_MAX bytes (http.c
     * checks), so 32 bits: every connection embeds a parser */
    uint32_t _scanned;    /* bytes already searched for the end of the head */
    uint32_t _line;       /* where the line not yet complete starts */
    uint32_t _fields;     /* header lines already checked */
} rt_http_parser;

RT_API void rt_http_parser_init(rt_http_parser *p);

/* Parses the request head in buf[0..len), where buf holds every byte of the
 * request received so far (buf may move between calls; len must not shrink).
 * Returns:
 *   > 0          the head length; *req is filled (views into buf, valid while
 *                those bytes are); the body, req->content_length bytes,
 *                follows it in the stream
 *   RT_AGAIN     the head is not complete yet: call again with more bytes
 *   RT_E_PROTO   malformed (req->status 400), method not served (405: all but
 *                GET HEAD POST PUT DELETE OPTIONS PATCH), version not served
 *                (505: all but HTTP/1.0 and HTTP/1.1), or Transfer-Encoding
 *                (501; 400 in HTTP/1.0)
 *   RT_E_LIMIT   head too large or too many headers (431), body too large (413)
 *   RT_E_INVAL   len is smaller than on the previous call (a caller bug; 500)
 * Every call writes *req, but its fields mean something only after a result
 * > 0; req->status is 0 unless an error is returned. A line is checked as
 * soon as it is complete, and an oversized head fails as soon as len reaches
 * the limit, so bad input is answered without waiting for the blank line.
 * Lines end in CRLF: a bare LF or a bare CR is rejected (RFC 9112 2.2 lets a
 * server accept a bare LF, but a proxy in front that does not would read a
 * different message). One empty line before the request line is ignored.
 * Also rejected: obsolete line folding, whitespace before a colon, control
 * characters, a request-target not starting with '/' (or '*' for OPTIONS),
 * duplicate or malformed Content-Length, a repeated Host, and a missing Host
 * in HTTP/1.1.
 * Results do not depend on how the bytes were split between calls. */
RT_API rt_result rt_http_parse_request(rt_http_parser *p, const char *buf, size_t len,
                                       rt_http_request *req);

/* The first header named `name` (any case), or NULL. Borrowed from req. */
RT_API const rt_http_header *rt_http_header_get(const rt_http_request *req, const char *name);

/* 1 when any header named `name` holds `token` in its comma-separated list
 * (case-insensitive, optional whitespace around items), else 0. */
RT_API int rt_http_header_has_token(const rt_http_request *req, const char *name,
                                    const char *token);

/* Finds `key` in a query string (a=1&b=x%20y) or a Cookie header
 * (a=1; b=2), percent-decoding query values ('+' is a space) into out with a
 * NUL. Returns the decoded length, RT_E_NOTFOUND, RT_E_NOSPACE or RT_E_PROTO
 * (bad percent escape), or RT_E_LIMIT for a length past INT_MAX. out needs
 * the length + 1 bytes; after any error it holds "" (when cap > 0). Names
 * match case-sensitively, the first match wins, and an item with no '=' has
 * an empty value. Query names are decoded before comparing; RT_E_PROTO comes
 * only from the value of the match. Cookies (RFC 6265 4.2.1) are not
 * decoded, but one pair of double quotes around a value is removed; every
 * Cookie header is searched. */
RT_API rt_result rt_http_query_get(rt_str query, const char *key, char *out, size_t cap);
RT_API rt_result rt_http_cookie_get(const rt_http_request *req, const char *key,
                                    char *out, size_t cap);

/* "OK", "Not Found", ...; "Unknown" for codes it does not know. Static text. */
RT_API const char *rt_http_reason(int status);

/* Writes a response head: status line, the caller's extra header lines
 * (each ending in \r\n; may be NULL), Content-Type when not NULL,
 * Content-Length: body_len (left out for 1xx, 204 and 304, which never have
 * a body: RFC 9110 8.6), and the blank line. A status outside 100..599 is
 * written as 500. Returns the length needed, like snprintf; writes nothing
 * beyond cap. When it fits, a NUL follows if there is room for it (not
 * counted); when it does not fit, buf holds a truncated prefix without a
 * NUL. */
RT_API size_t rt_http_format_head(char *buf, size_t cap, int status, const char *extra_headers,
                                  const char *content_type, size_t body_len);

/* Writes a complete short error response ("404 Not Found\n" as text/plain,
 * Connection: close) with the extra header lines (may be NULL). A status
 * outside 400..599 is written as 500. Returns the length needed, and
 * terminates or truncates, like rt_http_format_head. */
RT_API size_t rt_http_format_error(char *buf, size_t cap, int status, const char *extra_headers);

#ifdef __cplusplus
}
#endif

#endif /* RT_HTTP_H */
/* ==== End src/codec/http.h ==== */

/* ==== Begin src/codec/ws.h ==== */ // >>ws
/* ws.h - WebSocket (RFC 6455): opening handshake, frame parser and writer.
 *
 * Sans-IO. The parser unmasks payloads in place in the caller's buffer and
 * hands out views of them, so a message is never copied by the codec. It
 * enforces every rule of RFC 6455 section 5 and, on a violation, tells the
 * caller which close code to send.
 */
#ifndef RT_WS_H
#define RT_WS_H


#ifdef __cplusplus
extern "C" {
#endif

/* Largest message (all fragments together) accepted: closed with 1009 beyond. */
#ifndef RT_WS_MAX_MESSAGE
#define RT_WS_MAX_MESSAGE (1u << 20)
#endif

#define RT_WS_MAX_HEADER 14      /* 2 + 8 (64-bit length) + 4 (mask key) */
#define RT_WS_MAX_CONTROL 125    /* RFC 6455 5.5 */
#define RT_WS_ACCEPT_LEN 28      /* base64 of a SHA-1 digest */

enum rt_ws_opcode {
    RT_WS_CONT = 0x0,
    RT_WS_TEXT = 0x1,
    RT_WS_BINARY = 0x2,
    RT_WS_CLOSE = 0x8,
    RT_WS_PING = 0x9,
    RT_WS_PONG = 0xA
};

/* Close codes (RFC 6455 7.4.1). 1005 and 1006 are never sent on the wire. */
enum rt_ws_close_code {
    RT_WS_CLOSE_NORMAL = 1000,
    RT_WS_CLOSE_GOING_AWAY = 1001,
    RT_WS_CLOSE_PROTOCOL = 1002,
    RT_WS_CLOSE_UNSUPPORTED = 1003,
    RT_WS_CLOSE_NO_STATUS = 1005,
    RT_WS_CLOSE_ABNORMAL = 1006,
    RT_WS_CLOSE_BAD_DATA = 1007,
    RT_WS_CLOSE_POLICY = 1008,
    RT_WS_CLOSE_TOO_BIG = 1009,
    RT_WS_CLOSE_EXTENSION = 1010,
    RT_WS_CLOSE_INTERNAL = 1011
};

enum rt_ws_role { RT_WS_SERVER = 0, RT_WS_CLIENT = 1 };

/* ---- Opening handshake (RFC 6455 4.2) ------------------------------------ */

typedef struct rt_ws_handshake {
    rt_str key;       /* Sec-WebSocket-Key, as sent */
    rt_str origin;    /* Origin, empty when absent: give it to the app's check */
    rt_str protocols; /* Sec-WebSocket-Protocol list, empty when absent */
    int status;       /* the HTTP status to answer with: 101, or 400/405/426 */
} rt_ws_handshake;

/* 1 when the request asks for a WebSocket (Upgrade: websocket), else 0. */
RT_API int rt_ws_is_upgrade(const struct rt_http_request *req);

/* Checks an upgrade request against RFC 6455 4.2.1: GET, HTTP/1.1 or later,
 * Host, Upgrade: websocket and Connection: Upgrade (tokens in lists, any
 * case), one Sec-WebSocket-Version: 13, one key that is canonical base64 of
 * 16 bytes. Returns RT_OK and fills *hs (views into req; protocols is the
 * first Sec-WebSocket-Protocol field), or RT_E_PROTO with hs->status = 400,
 * 405 (not GET) or 426 (a version other than 13; answer with
 * rt_ws_format_reject, which adds Sec-WebSocket-Version: 13). */
RT_API rt_result rt_ws_handshake_check(const struct rt_http_request *req, rt_ws_handshake *hs);

/* Writes the Sec-WebSocket-Accept value for key (28 chars and a NUL). */
RT_API void rt_ws_accept_key(rt_str key, char out[RT_WS_ACCEPT_LEN + 1]);

/* The first protocol of the client's list that is in `supported` (a
 * NULL-terminated array), as a view into client_list; empty when none. */
RT_API rt_str rt_ws_select_protocol(rt_str client_list, const char *const *supported);

/* Writes the 101 Switching Protocols response for the client's key;
 * protocol may be empty and extra_headers (lines ending in \r\n) may be
 * NULL. Returns the length needed, like snprintf; when that is more than
 * cap, buf holds only a prefix. */
RT_API size_t rt_ws_format_accept(char *buf, size_t cap, rt_str key, rt_str protocol,
                                  const char *extra_headers);

/* Writes a rejection for a failed handshake with the given status (426 adds
 * Sec-WebSocket-Version: 13, 405 adds Allow: GET) through
 * rt_http_format_error. Returns the length needed, like snprintf. */
RT_API size_t rt_ws_format_reject(char *buf, size_t cap, int status);

/* ---- Frame parser (RFC 6455 5) ------------------------------------------- */

enum rt_ws_event_type {
    RT_WS_EV_NONE = 0, /* bytes consumed (a frame header), nothing to deliver */
    RT_WS_EV_DATA,     /* a piece of a text/binary message */
    RT_WS_EV_CONTROL   /* a whole ping, pong or close frame */
};

typedef struct rt_ws_event {
    int type;             /* enum rt_ws_event_type */
    int opcode;           /* DATA: RT_WS_TEXT/BINARY of the message; CONTROL: the frame's */
    int fin;              /* DATA: 1 when this piece ends the message */
    rt_str data;          /* unmasked payload, a view into the caller's buffer */
    unsigned close_code;  /* CLOSE: the code received, 1005 when the payload is empty */
    rt_str close_reason;  /* CLOSE: the reason (valid UTF-8), a view */
} rt_ws_event;

/* Parser state. Set role (and max_message to lower the compiled limit),
 * zero the rest, or call rt_ws_parser_init. Every connection embeds one, so
 * the small fields are bytes, packed into the holes before the size_t ones:
 * 40 bytes on LP64, 28 on 32-bit targets. */
typedef struct rt_ws_parser {
    uint8_t role;           /* RT_WS_SERVER: frames must be masked; CLIENT: must not */
    int8_t _err;            /* private: sticky error (an rt_result), 0 when none */
    uint16_t close_code;    /* after an error: the code to close with */
    uint8_t _in_frame;      /* private: inside a data frame's payload */
    uint8_t _fin;           /* private: FIN of that data frame */
    uint8_t _masked;        /* private: that frame is masked */
    uint8_t _msg_opcode;    /* private: RT_WS_TEXT/BINARY while a message is in progress */
    size_t max_message;     /* 0 = RT_WS_MAX_MESSAGE; larger values are capped to it */
    /* private */
    size_t _left;           /* payload bytes of the current data frame still to come */
    size_t _msg_len;        /* payload bytes of the current message, its frames' headers say */
    unsigned char _mask[4];
    uint8_t _mask_pos;      /* key offset (0-3) of the next payload byte */
    rt_utf8 _utf8;          /* text validation across the message's fragments */
} rt_ws_parser;

RT_API void rt_ws_parser_init(rt_ws_parser *p, int role, size_t max_message);

/* Parses from buf[0..len), unmasking payload in place. Returns the number of
 * bytes consumed (>= 0; 0 with RT_WS_EV_NONE only when len is 0) and fills
 * *ev; the caller drops those bytes and calls again with the rest.
 *   RT_AGAIN     not enough bytes for a frame header or a whole control
 *                frame: keep the bytes (untouched) and call again when more
 *                arrive
 *   RT_E_PROTO   a rule of RFC 6455 was broken; p->close_code = 1002
 *   RT_E_UTF8    text or a close reason that is not UTF-8; close_code = 1007
 *   RT_E_LIMIT   message larger than max_message; p->close_code = 1009,
 *                known from the frame header before its payload arrives
 * Errors are sticky: every later call returns the same one. Control frames
 * arrive whole (they are at most 125 bytes) and may come between the
 * fragments of a message; data arrives in pieces as it comes in, with fin
 * set on the piece that ends the message (an empty message gives one empty
 * piece). Text fails on the call that brings its first invalid byte, and a
 * character cut short by the end of the message fails there too. Data
 * frame lengths not in their shortest form are accepted (RFC 6455 5.2 binds
 * senders only); a control frame must use the 7-bit form. Close codes are
 * those rt_ws_close_code_valid() accepts. */
RT_API rt_result rt_ws_parse(rt_ws_parser *p, void *buf, size_t len, rt_ws_event *ev);

/* ---- Frame writer ---------------------------------------------------------- */

/* Writes a frame header for an n-byte payload into out (at least
 * RT_WS_MAX_HEADER bytes) and returns its length. mask is NULL for server
 * frames, or a 4-byte key for client frames (then mask the payload with
 * rt_ws_mask). */
RT_API size_t rt_ws_write_header(unsigned char *out, int opcode, int fin, uint64_t n,
                                 const unsigned char *mask);

/* XORs p[0..n) with key, starting at key offset `offset` (the number of
 * payload bytes already masked). A machine word at a time. */
RT_API void rt_ws_mask(void *p, size_t n, const unsigned char key[4], size_t offset);

/* Writes a whole single frame (header + payload, masked when mask is not
 * NULL) into buf. Returns the length needed, like snprintf, and writes
 * nothing when that is more than cap (SIZE_MAX when it cannot be counted).
 * The payload may overlap buf (it is moved, e.g. from buf + 14). */
RT_API size_t rt_ws_format_frame(void *buf, size_t cap, int opcode, const void *payload,
                                 size_t n, const unsigned char *mask);

/* Builds a close payload: the 2-byte code and the reason cut at a UTF-8
 * boundary to at most 123 bytes. Returns the payload length (<= 125). A
 * code that may not be sent (1005 "no status" among them) gives the empty
 * payload, which is how "no status" is said; a reason that is not valid
 * UTF-8 is left out. reason may be NULL when reason_len is 0. */
RT_API size_t rt_ws_close_payload(unsigned char out[RT_WS_MAX_CONTROL], unsigned code,
                                  const char *reason, size_t reason_len);

/* 1 when code may appear in a close frame on the wire, else 0: 1000-1003,
 * 1007-1011 (RFC 6455 7.4.1), 1012-1014 (IANA registry, RFC 6455 11.7) and
 * 3000-4999 (registered and private use). */
RT_API int rt_ws_close_code_valid(unsigned code);

#ifdef __cplusplus
}
#endif

#endif /* RT_WS_H */
/* ==== End src/codec/ws.h ==== */

/* ==== Begin src/codec/sse.h ==== */ // >>sse
#ifndef RT_NO_SSE
/* sse.h - Server-Sent Events formatter (WHATWG HTML "server-sent events").
 *
 * Sans-IO: turns one event into the bytes of the text/event-stream format,
 * in the caller's buffer. Nothing is allocated. The data may be any bytes;
 * a browser decodes the stream as UTF-8, so send UTF-8 if it must come back
 * byte for byte.
 *
 * Line breaks: the event-stream format has no escape. A line break in the
 * data (LF, CRLF or a lone CR) becomes a new "data:" line and every
 * conforming parser rejoins the lines with LF, so CR and CRLF arrive as LF.
 * That is inherent to SSE; everything else survives exactly, including
 * leading spaces, empty lines and a trailing line break.
 */
#ifndef RT_SSE_H
#define RT_SSE_H


#ifdef __cplusplus
extern "C" {
#endif

/* One event. Views are borrowed for the duration of the call only. */
typedef struct rt_sse_event {
    rt_str event;      /* type; empty = no "event:" line (the browser's "message") */
    rt_str id;         /* empty = no "id:" line (the browser keeps its last id) */
    rt_str data;       /* payload, any bytes; empty = one empty "data:" line */
    uint32_t retry_ms; /* reconnection delay; 0 = no "retry:" line */
} rt_sse_event;

/* Upper bound on the bytes that n bytes of data take, blank line included:
 * the worst case is all line breaks, each a 6-byte "data:\n" (6n + 7). */
#define RT_SSE_DATA_MAX(n) (6 * (size_t)(n) + 7)
/* Upper bound on a whole event with an event type of event_n bytes and an id
 * of id_n bytes: "event: " + "\n", "id: " + "\n", "retry: " + 10 digits + "\n". */
#define RT_SSE_MAX_SIZE(data_n, event_n, id_n) \
    (RT_SSE_DATA_MAX(data_n) + 8 + (size_t)(event_n) + 5 + (size_t)(id_n) + 18)

/* Writes ev as one complete event: "event: ", "id: ", "retry: " lines when
 * present, one "data: " line per line of data, then the blank line that
 * dispatches it. A field with an empty value is written "name:" (no space);
 * otherwise exactly one space follows the colon, which the parser strips,
 * so values that start with a space keep it.
 * Returns the length needed, like snprintf: the output is complete only when
 * that is <= cap, and nothing is written beyond cap (buf may be NULL when
 * cap is 0, to measure). No NUL is written. Errors, with nothing written:
 *   RT_E_INVAL  the event type or id contains CR, LF or NUL (a browser would
 *               split the line, or ignore an id holding NUL)
 *   RT_E_LIMIT  RT_SSE_MAX_SIZE of the event exceeds INT_MAX */
RT_API rt_result rt_sse_format(char *buf, size_t cap, const rt_sse_event *ev);

/* Writes a comment, ": text\n" (":\n" when text is empty), one comment line
 * per line of text, then a blank line. Browsers ignore it; send one every
 * 15-30 s to keep proxies from closing an idle stream. Returns the length
 * needed like rt_sse_format, or RT_E_LIMIT. */
RT_API rt_result rt_sse_format_comment(char *buf, size_t cap, rt_str text);

/* Writes "retry: <ms>\n\n", which sets the browser's reconnection delay
 * without dispatching an event (any ms, 0 included). Returns the length
 * needed (at most 19), like snprintf. */
RT_API rt_result rt_sse_format_retry(char *buf, size_t cap, uint32_t ms);

#ifdef __cplusplus
}
#endif

#endif /* RT_SSE_H */
#endif /* RT_NO_SSE */
/* ==== End src/codec/sse.h ==== */

/* ==== Begin src/model/room.h ==== */ // >>room
/* room.h - rooms: membership, history ring, positions, recovery.
 *
 * Pure data, no I/O and no clock: every function that needs the time takes
 * now_ms (monotonic milliseconds, from the caller's clock).
 *
 * A registry (rt_rooms, caller-owned) maps names to rooms. A member is an
 * rt_room_member the caller embeds in its own struct (a connection, say); a
 * member may be in many rooms and a room may hold many members. Each room
 * keeps its recent messages in a ring, numbered by a position (epoch,
 * offset) that every transport uses as its resume token: the SSE id, the
 * long-poll "since", the WebSocket recovery request.
 *
 * Lifetimes, in one place:
 *   - A room is created by the first rt_room_join or rt_rooms_open of its
 *     name. It lives while it has members, or while it has history and the
 *     age limit is on (so a client that reconnects within history_max_age_ms
 *     can recover). When neither holds, rt_room_leave/rt_room_leave_all free
 *     it at once and rt_rooms_expire frees it otherwise.
 *   - An rt_room pointer stays valid until the next rt_room_leave,
 *     rt_room_leave_all, rt_rooms_expire or rt_rooms_deinit. Join, publish
 *     and recover never free a room.
 *   - A message (rt_room_msg) lives while it is in some history or someone
 *     holds a reference (rt_room_msg_retain/release); it may outlive its room
 *     and the registry, but not the allocator.
 *
 * The model is single-threaded (one registry, one thread), which is what
 * makes recovery gap-free: rt_room_join_recover adds the member and takes the
 * recovery snapshot in one call, so no publish can fall between the two.
 */
#ifndef RT_ROOM_H
#define RT_ROOM_H


#ifdef __cplusplus
extern "C" {
#endif

/* Longest room name in bytes. Names use [A-Za-z0-9_.:@-] only. */
#ifndef RT_ROOM_MAX_NAME
#define RT_ROOM_MAX_NAME 64
#endif
/* Default limits of rt_rooms_settings (each can be changed at run time). */
#ifndef RT_ROOM_MAX_ROOMS
#define RT_ROOM_MAX_ROOMS 10000
#endif
#ifndef RT_ROOM_MAX_MEMBERS
#define RT_ROOM_MAX_MEMBERS 100000
#endif
#ifndef RT_ROOM_MAX_JOINS
#define RT_ROOM_MAX_JOINS 1024
#endif
#ifndef RT_ROOM_HISTORY_MAX_MSGS
#define RT_ROOM_HISTORY_MAX_MSGS 256
#endif
#ifndef RT_ROOM_HISTORY_MAX_BYTES
#define RT_ROOM_HISTORY_MAX_BYTES (256u * 1024u)
#endif
#ifndef RT_ROOM_HISTORY_MAX_AGE_MS
#define RT_ROOM_HISTORY_MAX_AGE_MS (10u * 60u * 1000u)
#endif

/* ---- Positions ---------------------------------------------------------------
 * Where a message sits in a room's history. offset counts the room's
 * messages from 1; the epoch is a random-looking 64-bit value that changes
 * whenever a room's history starts over (a room recreated after it held
 * messages, or a restart), so an offset is only comparable within one epoch;
 * a room freed before its first message comes back with the same epoch, so
 * an idle room polled over and over does not look like a new one. epoch 0 means "no position":
 * read from now on. As a string: "<epoch in lowercase hex>-<offset in
 * decimal>", no leading zeros, e.g. "9f3a2c1b7d4e5f60-42"; the empty string
 * is the no-position. It is safe in an SSE id, a URL and JSON unescaped. */
typedef struct rt_room_pos {
    uint64_t epoch;
    uint64_t offset;
} rt_room_pos;

#define RT_ROOM_POS_MAX 38 /* 16 hex digits, '-', 20 digits, NUL */

/* Writes pos as a NUL-terminated string into out and returns its length
 * (0, the empty string, when pos.epoch is 0). */
RT_API size_t rt_room_pos_format(rt_room_pos pos, char out[RT_ROOM_POS_MAX]);

/* Parses what rt_room_pos_format writes, and only that: RT_OK with *pos
 * set ({0, 0} for the empty string), or RT_E_INVAL for anything else
 * (leading zeros, uppercase, epoch 0, overflow, stray bytes), with *pos
 * untouched. Never reads beyond s.n. */
RT_API rt_result rt_room_pos_parse(rt_str s, rt_room_pos *pos);

/* ---- Messages ----------------------------------------------------------------
 * One published message: a single allocation holding this header and the
 * payload, shared by the history and by every transport queue that holds a
 * reference. Fields are read-only. The count is not atomic: retain and
 * release on the registry's thread. */
typedef struct rt_room_msg {
    rt_room_pos pos;  /* this message's position */
    uint64_t time_ms; /* now_ms given to rt_room_publish */
    const char *data; /* the payload, inside this allocation, NUL-terminated */
    size_t len;       /* payload bytes (the NUL not counted) */
    /* private */
    size_t _refs;
    const rt_allocator *_alloc;
} rt_room_msg;

/* Takes a reference (to keep a message queued); returns m. */
RT_API rt_room_msg *rt_room_msg_retain(rt_room_msg *m);
/* Drops a reference; the last one frees the message. NULL is ignored. */
RT_API void rt_room_msg_release(rt_room_msg *m);

/* ---- Registry ------------------------------------------------------------------ */

typedef struct rt_rooms_settings {
    /* Borrowed: must outlive the registry and every message retained from
     * it. NULL = RT_MALLOC/RT_FREE. */
    const rt_allocator *alloc;
    /* Fill both from time and randomness at start-up, different on every
     * run. epoch_seed makes each run's epochs new, so a client holding a
     * position from before a restart is told it cannot recover rather than
     * being handed the wrong messages. hash_seed keys the name hash, so a
     * client cannot precompute names that all land in one bucket. */
    uint64_t epoch_seed;
    uint64_t hash_seed;
    size_t max_rooms;   /* rooms at once; RT_E_LIMIT beyond (>= 1) */
    size_t max_members; /* members of one room; RT_E_LIMIT beyond (>= 1) */
    size_t max_joins;   /* rooms one member may be in; RT_E_LIMIT beyond (>= 1) */
    /* History per room, 0 = no limit in that dimension, but at least one
     * must be set. history_max_bytes counts whole messages (rt_room_msg
     * header + payload + 1), so it also bounds the message count. */
    size_t history_max_msgs;
    size_t history_max_bytes;
    uint64_t history_max_age_ms;
} rt_rooms_settings;

struct rt_room_membership; /* private: links one member and one room */
struct rt_rooms;

/* A room. Library-owned: found through rt_rooms_find or returned by join or
 * open, freed as described at the top. Fields are read-only. */
typedef struct rt_room {
    rt_str name;          /* inside the room's allocation, NUL-terminated */
    size_t n_members;
    rt_room_pos pos;      /* the current position: the last message's, offset 0
                             before the first */
    size_t history_count; /* messages retained: offsets pos.offset - count + 1
                             up to pos.offset */
    size_t history_bytes; /* what they occupy, as history_max_bytes counts it */
    /* private */
    struct rt_rooms *_rs;
    rt_hash_node _node;    /* in the registry's table, by name */
    unsigned _walks;       /* rt_room_each calls in progress */
    struct rt_room_membership **_slots; /* dense; NULL holes only during walks */
    size_t _n_slots, _cap_slots, _holes;
    rt_room_msg **_ring;   /* history, oldest at _head */
    size_t _ring_cap, _head;
} rt_room;

/* The registry: caller-owned, must not be moved or copied after init. */
typedef struct rt_rooms {
    rt_rooms_settings settings; /* read-only after init */
    size_t n_rooms;             /* read-only */
    size_t history_bytes;       /* read-only: sum over the rooms */
    /* private */
    rt_hash _rooms;
    uint64_t _epoch_state;
} rt_rooms;

/* Fills s with the compiled defaults and seeds of 0: set the seeds. */
RT_API void rt_rooms_settings_init(rt_rooms_settings *s);

/* Initialises an empty registry with a copy of *s. Allocates nothing.
 * RT_E_INVAL when epoch_seed is 0 (a fixed seed would repeat epochs across
 * restarts), a room limit is 0, or no history limit is set. */
RT_API rt_result rt_rooms_init(rt_rooms *rs, const rt_rooms_settings *s);

/* Frees every room and its history references, and takes every member out
 * of every room (their rt_room_member stays valid, in no room). Messages
 * still retained elsewhere stay alive. Not from inside rt_room_each. */
RT_API void rt_rooms_deinit(rt_rooms *rs);

/* 1 when name is 1..RT_ROOM_MAX_NAME bytes of [A-Za-z0-9_.:@-], else 0. */
RT_API int rt_room_name_valid(rt_str name);

/* The room with that name, or NULL (also for an invalid name). Borrowed. */
RT_API rt_room *rt_rooms_find(const rt_rooms *rs, rt_str name);

/* Finds or creates a room without joining it, e.g. to publish into a room
 * that keeps history for clients yet to come. *out is borrowed. A room
 * nobody joins is freed by rt_rooms_expire once it is not wanted. Returns
 * RT_OK, RT_E_INVAL (bad name), RT_E_LIMIT (max_rooms) or RT_E_NOMEM. */
RT_API rt_result rt_rooms_open(rt_rooms *rs, rt_str name, rt_room **out);

/* Drops history older than history_max_age_ms in every room and frees the
 * rooms no longer wanted (see the top). Call it every second or so. Costs
 * O(rooms + dropped messages). Returns the number of rooms freed. */
RT_API size_t rt_rooms_expire(rt_rooms *rs, uint64_t now_ms);

/* ---- Membership --------------------------------------------------------------
 * Costs: join, leave and is_member walk the member's own list of rooms
 * (at most max_joins), never a room's member list, so they cost the same in
 * a room of ten members or of a hundred thousand; leave_all is O(rooms of
 * the member). */

/* Embed one in your connection struct. Zeroed plus user also works. It must
 * stay in place while it is in any room: call rt_room_leave_all before
 * freeing or moving it. */
typedef struct rt_room_member {
    void *user;     /* yours: handed back by rt_room_each */
    /* Also yours, for the layer that delivers the rooms' messages to this
     * member (rt_pubsub keeps the subscriber's encoder here, so a member
     * costs one pointer for both the encoder and the state of whichever
     * layer chose it). NULL at first; the room functions never touch it. */
    void *sub;
    size_t n_rooms; /* read-only */
    /* private */
    rt_list _rooms; /* its memberships, the latest join first */
} rt_room_member;

RT_API void rt_room_member_init(rt_room_member *m, void *user);

/* The room m joined most recently, or NULL when it is in none. Borrowed. */
RT_API rt_room *rt_room_member_last(const rt_room_member *m);

/* Adds m to the room called name, creating the room if needed. Joining a
 * room m is already in does nothing and returns RT_OK. *out (may be NULL)
 * gets the room, borrowed. Returns RT_OK, RT_E_INVAL (bad name),
 * RT_E_LIMIT (max_rooms, max_members or max_joins) or RT_E_NOMEM; on error
 * nothing changed. */
RT_API rt_result rt_room_join(rt_rooms *rs, rt_str name, rt_room_member *m, rt_room **out);

/* What to replay to a member that says it has seen everything up to since. */
typedef struct rt_room_recovery {
    rt_room *room;       /* the room (borrowed) */
    int recovered;       /* 1: the count messages from offset `from` on are
                            exactly those after since; 0: history cannot
                            close the gap: start over from current */
    rt_room_pos current; /* the room's position: the client's next resume point
                            once it has the replayed messages */
    uint64_t from;       /* first offset to replay (current.offset + 1 when none) */
    size_t count;        /* messages to replay, 0 unless recovered */
} rt_room_recovery;

/* rt_room_join, then rt_room_recover on that room, in one step so that no
 * message can be both replayed and delivered live, or neither: everything up
 * to rec->current is replayed from history, everything after it reaches m
 * through the publish path. Returns what rt_room_join returns; *rec is set
 * only on RT_OK. */
RT_API rt_result rt_room_join_recover(rt_rooms *rs, rt_str name, rt_room_member *m,
                                      const rt_room_pos *since, uint64_t now_ms,
                                      rt_room_recovery *rec);

/* Takes m out of room. RT_OK, or RT_E_NOTFOUND when m was not in it. May
 * free the room (see the top). */
RT_API rt_result rt_room_leave(rt_room *room, rt_room_member *m);

/* Takes m out of every room it is in (on disconnect). May free rooms. */
RT_API void rt_room_leave_all(rt_room_member *m);

/* 1 when m is in room, else 0. */
RT_API int rt_room_is_member(const rt_room *room, const rt_room_member *m);

typedef void (*rt_room_each_fn)(void *ctx, rt_room *room, rt_room_member *m);

/* Calls fn once for every member of room (the way to publish and to list
 * members), in no particular order. fn may join and leave freely, this room
 * included: a member that leaves before its turn is skipped, one that joins
 * during the walk is not visited, none is visited twice, and the room is not
 * freed during the walk (if it ends up unwanted, rt_rooms_expire frees it).
 * fn may publish and call rt_room_each again; not rt_rooms_deinit. */
RT_API void rt_room_each(rt_room *room, rt_room_each_fn fn, void *ctx);

/* ---- History and recovery ------------------------------------------------------ */

/* Publishes data[0..len) (copied once) as the room's next message: assigns
 * it the next offset, drops history beyond the limits and stores it. A
 * message larger than history_max_bytes gets its offset but empties the
 * history instead of being stored (recovery across it then fails cleanly).
 * Deliver it to the members with rt_room_each. When out is not NULL, *out
 * gets the message with one reference the caller owns (release it).
 * Returns RT_OK, or RT_E_NOMEM (or RT_E_LIMIT for a len that cannot be
 * allocated) with nothing changed but expired history. */
RT_API rt_result rt_room_publish(rt_room *room, const void *data, size_t len, uint64_t now_ms,
                                 rt_room_msg **out);

/* Fills *rec for a member that has seen everything up to since (NULL or
 * epoch 0: nothing to recover, recovered = 1, count = 0). Expired history is
 * dropped first. recovered = 0 when since has another epoch, an offset past
 * the current one (it never came from this room), or an offset older than
 * the history holds (pos.offset - since.offset > history_count). since equal
 * to current recovers with count 0. Never fails. */
RT_API void rt_room_recover(rt_room *room, const rt_room_pos *since, uint64_t now_ms,
                            rt_room_recovery *rec);

/* The retained message at offset, or NULL when history does not hold it.
 * Borrowed until the room's next publish, recover, expire or free; retain it
 * to keep it longer. Replay a recovery with
 *     for (i = 0; i < rec.count; i++) send(rt_room_history_get(rec.room, rec.from + i)); */
RT_API rt_room_msg *rt_room_history_get(const rt_room *room, uint64_t offset);

#ifdef __cplusplus
}
#endif

#endif /* RT_ROOM_H */
/* ==== End src/model/room.h ==== */

/* ==== Begin src/model/presence.h ==== */ // >>presence
#ifndef RT_NO_PRESENCE
/* presence.h - who is online in each room, and who is typing.
 *
 * Pure data, no I/O and no clock: every function that needs the time takes
 * now_ms (monotonic milliseconds, from the caller's clock).
 *
 * The model has three kinds of things:
 *   - a user: an id (rt_presence_id_valid) plus a small opaque info blob
 *     (say, a JSON object with a display name), per room;
 *   - a connection: any pointer-sized key the caller picks (its connection
 *     struct, say). One user may be in a room through several connections
 *     (tabs, devices) and is online there while any of them is;
 *   - a room: a name (rt_room_name_valid). Presence keeps its own table of
 *     room names, apart from rt_rooms, because its lifetimes differ: a room
 *     here lives while it has users, including users in their grace period,
 *     and a connection may be in a room's presence without subscribing to
 *     its messages, or the other way round.
 *
 * The registry tells the caller what to announce to a room through one
 * callback (rt_presence_settings.on_event):
 *   JOIN         a user's first connection joined (a user is announced once,
 *                however many connections it has);
 *   LEAVE        a user's last connection left and grace_ms went by without
 *                one of its connections coming back (a page reload or a quick
 *                network change shows no leave and join). A connection that
 *                vanishes without a close is the caller's to detect: its
 *                heartbeat timeout calls rt_presence_leave_all, and the grace
 *                period then runs as for any leave;
 *   UPDATE       a joining connection brought different info;
 *   TYPING_START a user started typing;
 *   TYPING_STOP  typing_ms went by without another typing signal, the user
 *                sent its message (the caller says so: rt_presence_typing
 *                with on = 0), or its last connection left.
 * A user in its grace period still counts as in the room (it was never
 * announced as gone): it is listed with conns = 0.
 *
 * Costs: join, leave and typing are O(1) on average through hash tables
 * keyed with the caller's seed, plus a walk of the connection's own rooms
 * (at most max_joins); leave_all is O(rooms of the connection); deadlines
 * sit in a min-heap, so rt_presence_tick costs O(log n) per expiry and
 * O(1) when nothing is due, however many users are online. Nothing is
 * allocated per event.
 *
 * Single-threaded: one registry, one thread.
 */
#ifndef RT_PRESENCE_H
#define RT_PRESENCE_H


#ifdef __cplusplus
extern "C" {
#endif

/* Longest user id in bytes. Ids use [A-Za-z0-9_.:@-] only, like room
 * names, so they are safe unescaped in JSON, URLs and SSE. */
#ifndef RT_PRESENCE_MAX_ID
#define RT_PRESENCE_MAX_ID 64
#endif
/* Default limits of rt_presence_settings (each can be changed there). */
#ifndef RT_PRESENCE_MAX_INFO
#define RT_PRESENCE_MAX_INFO 256
#endif
#ifndef RT_PRESENCE_MAX_ROOMS
#define RT_PRESENCE_MAX_ROOMS 10000
#endif
#ifndef RT_PRESENCE_MAX_USERS
#define RT_PRESENCE_MAX_USERS 10000
#endif
#ifndef RT_PRESENCE_MAX_JOINS
#define RT_PRESENCE_MAX_JOINS 256
#endif
#ifndef RT_PRESENCE_MAX_CONNS
#define RT_PRESENCE_MAX_CONNS 10000
#endif
#ifndef RT_PRESENCE_GRACE_MS
#define RT_PRESENCE_GRACE_MS 5000
#endif
#ifndef RT_PRESENCE_TYPING_MS
#define RT_PRESENCE_TYPING_MS 5000
#endif

typedef enum rt_presence_ev_type {
    RT_PRESENCE_EV_JOIN = 1,
    RT_PRESENCE_EV_LEAVE,
    RT_PRESENCE_EV_UPDATE,
    RT_PRESENCE_EV_TYPING_START,
    RT_PRESENCE_EV_TYPING_STOP
} rt_presence_ev_type;

/* One announcement for a room. Every view is valid during the callback only. */
typedef struct rt_presence_event {
    rt_presence_ev_type type;
    rt_str room;   /* the room's name */
    rt_str user;   /* the user's id */
    rt_str info;   /* the user's info (for LEAVE, the last it had); never NULL */
    size_t online; /* users in the room once this event is applied */
} rt_presence_event;

/* Called for each event, in the order they happen. It may read the registry
 * (rt_presence_count, rt_presence_list) but must not change it. */
typedef void (*rt_presence_event_fn)(void *ctx, const rt_presence_event *ev);

typedef struct rt_presence_settings {
    /* Borrowed: must outlive the registry. NULL = RT_MALLOC/RT_FREE. */
    const rt_allocator *alloc;
    /* Fill from randomness at start-up: keys the tables, so a client cannot
     * precompute ids or names that all land in one bucket. */
    uint64_t hash_seed;
    rt_presence_event_fn on_event; /* may be NULL: nothing is announced */
    void *ctx;                     /* handed to on_event */
    size_t max_rooms; /* rooms at once (>= 1) */
    size_t max_users; /* users in one room, grace periods included (>= 1) */
    size_t max_joins; /* rooms one connection may be in (>= 1) */
    size_t max_conns; /* connections at once (>= 1) */
    size_t max_info;  /* bytes of info (0: no info allowed) */
    /* grace_ms: how long a user whose last connection left stays before
     * LEAVE (0: at once). typing_ms: how long a typing signal lasts (>= 1).
     * Both may be changed in the registry at any time; a change applies to
     * deadlines set after it. */
    uint64_t grace_ms;
    uint64_t typing_ms;
} rt_presence_settings;

/* The registry: caller-owned, must not be moved or copied after init. */
typedef struct rt_presence {
    rt_presence_settings settings; /* read-only after init, except as noted */
    size_t n_rooms;                /* read-only: rooms with users */
    size_t n_users;                /* read-only: users, summed over rooms */
    size_t n_conns;                /* read-only: connections in some room */
    /* private */
    rt_hash _rooms, _users, _conns;
    rt_heap _deadlines; /* the users' armed timers, by deadline */
    unsigned _busy; /* callbacks in progress: changes are caller bugs then */
} rt_presence;

/* Fills s with the compiled defaults, a seed of 0 and no callback. */
RT_API void rt_presence_settings_init(rt_presence_settings *s);

/* Initialises an empty registry with a copy of *s. Allocates nothing.
 * RT_E_INVAL when a max_ limit other than max_info, or typing_ms, is 0. */
RT_API rt_result rt_presence_init(rt_presence *p, const rt_presence_settings *s);

/* Frees everything, announcing nothing. Not from inside a callback. */
RT_API void rt_presence_deinit(rt_presence *p);

/* 1 when id is 1..RT_PRESENCE_MAX_ID bytes of [A-Za-z0-9_.:@-], else 0. */
RT_API int rt_presence_id_valid(rt_str id);

/* Puts connection conn (any non-NULL key) in room as user (since now_ms,
 * when the user is new there). info is copied;
 * info.p NULL keeps the user's current info (empty for a new user).
 * Announces JOIN when the user was not in the room, UPDATE when it was and
 * info changed, nothing otherwise (a second tab, a reconnect within the
 * grace period, a repeated join). Returns RT_OK; RT_E_INVAL for a bad room
 * name or id, a NULL conn, or a conn already in the room as another user;
 * RT_E_LIMIT for info over max_info or a full max_ limit; RT_E_NOMEM. On
 * error nothing changed and nothing was announced. */
RT_API rt_result rt_presence_join(rt_presence *p, rt_str room, rt_str user, rt_str info,
                                  const void *conn, uint64_t now_ms);

/* Takes conn out of room. When it was the user's last connection there,
 * a typing user gets TYPING_STOP and the grace period starts (LEAVE at once
 * when grace_ms is 0). RT_OK, or RT_E_NOTFOUND when conn was not in room. */
RT_API rt_result rt_presence_leave(rt_presence *p, rt_str room, const void *conn,
                                   uint64_t now_ms);

/* rt_presence_leave for every room conn is in: call it when a connection
 * closes or its heartbeat times out. Unknown connections are ignored. */
RT_API void rt_presence_leave_all(rt_presence *p, const void *conn, uint64_t now_ms);

/* The typing signal of conn's user in room. on = 1: TYPING_START unless
 * already typing, and either way the indicator now lasts until
 * now_ms + typing_ms. on = 0 (the user stopped, or its message arrived):
 * TYPING_STOP if it was typing. RT_OK, or RT_E_NOTFOUND when conn is not in
 * room. */
RT_API rt_result rt_presence_typing(rt_presence *p, rt_str room, const void *conn, int on,
                                    uint64_t now_ms);

/* Ends what is due at now_ms: typing indicators (TYPING_STOP) and grace
 * periods (LEAVE, then the user is gone), in deadline order. Returns the
 * number of events. Call it every second or so, or at the time
 * rt_presence_next_deadline gives. */
RT_API size_t rt_presence_tick(rt_presence *p, uint64_t now_ms);

/* 1 and *at_ms set to the earliest pending deadline, or 0 when none. */
RT_API int rt_presence_next_deadline(const rt_presence *p, uint64_t *at_ms);

/* Users in room, grace periods included (0 for an unknown room). */
RT_API size_t rt_presence_count(const rt_presence *p, rt_str room);

/* One user of a room, as rt_presence_list shows it. */
typedef struct rt_presence_member {
    rt_str user;  /* the user's id */
    rt_str info;  /* never NULL */
    size_t conns;      /* its connections in the room; 0 during the grace period */
    int typing;        /* 1 while its typing indicator is on */
    uint64_t since_ms; /* now_ms of the join that announced it */
} rt_presence_member;

/* Views are valid during the call only. fn must not change the registry. */
typedef void (*rt_presence_each_fn)(void *ctx, const rt_presence_member *m);

/* Calls fn for each user of room, oldest join first; returns how many. */
RT_API size_t rt_presence_list(rt_presence *p, rt_str room, rt_presence_each_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* RT_PRESENCE_H */
#endif /* RT_NO_PRESENCE */
/* ==== End src/model/presence.h ==== */

/* ==== Begin src/io/platform.h ==== */ // >>platform
#ifndef RT_NO_IO
/* platform.h - the operating system, as the I/O layer sees it.
 *
 * Everything rt.h asks of the OS goes through the few functions below: the
 * readiness API the loop waits in (poll or epoll), a wake-up channel other
 * threads write to, and TCP sockets. platform.c is the only file that
 * includes a system header for them or calls them, so a port to lwIP, to
 * Windows (WSAPoll, closesocket) or to an RTOS rewrites that one file
 * against this same contract. Errors come back as rt_result codes; errno
 * never leaves platform.c.
 *
 * The clock and the random source are not called through these functions
 * but through two macros the application may define before the
 * implementation, RT_CLOCK_MS() and RT_RANDOM(buf, n) (see PLATFORM in the
 * manual): a device with a tick counter or a hardware RNG plugs them in
 * without editing rt.h, and a target without clock_gettime or /dev/urandom
 * never compiles the defaults.
 *
 * These are internal: the loop, the server and their ports use them. They
 * are declared here, in the public part, only so each has one prototype.
 */
#ifndef RT_PLATFORM_H
#define RT_PLATFORM_H


#ifdef __cplusplus
extern "C" {
#endif

/* What a watched fd is ready for. rt_loop_add and its callbacks use these
 * too (loop.h includes this header); they are the backend's bits as well. */
enum rt_io_events {
    RT_IO_READ = 1,  /* readable (or a peer closed: read() will say) */
    RT_IO_WRITE = 2, /* writable */
    RT_IO_ERROR = 4  /* error or hang-up; always reported, never requested;
                        comes with RT_IO_READ if watched, so read() says which */
};

/* ---- The readiness backend -------------------------------------------------
 * The loop's view of poll or epoll (RT_BACKEND_POLL, RT_BACKEND_EPOLL). Each
 * watched fd carries a 16-bit tag, given at add and mod and handed back
 * with every event, which the loop uses to tell a stale event from a live
 * one. poll keeps the fds in a dense array: add gives each fd a slot, and
 * del moves the last entry into the hole, so the loop must pass an fd's slot
 * back and learn which fd moved. Embedded in rt_loop; never touch it. */
typedef struct rt_plat_poller {
    void *set;          /* poll: dense struct pollfd[]; epoll: epoll_wait's buffer */
    size_t len;         /* fds watched */
    size_t cap;         /* entries allocated in set */
    uint16_t *tags;     /* poll: the tag of each set entry */
    size_t tags_cap;
    void *ready;        /* poll: the last wait's events, copied out of set */
    size_t ready_cap;
    int fd;             /* epoll: the kernel's interest list; -1 when none */
} rt_plat_poller;

/* Leaves p empty and closed: rt_plat_poller_close on it does nothing. */
RT_API void rt_plat_poller_init(rt_plat_poller *p);
/* Makes p ready to watch fds (after init). RT_E_IO if the kernel object
 * cannot be made. */
RT_API rt_result rt_plat_poller_open(rt_plat_poller *p);
/* Frees what p holds (with a, the allocator its adds used) and leaves it as
 * init does. The watched fds themselves are not closed. */
RT_API void rt_plat_poller_close(rt_plat_poller *p, const rt_allocator *a);
/* Watches fd for events (RT_IO_READ | RT_IO_WRITE) and sets *slot,
 * to pass back to mod and del. RT_E_NOMEM, RT_E_IO. */
RT_API rt_result rt_plat_poller_add(rt_plat_poller *p, const rt_allocator *a, int fd,
                                    unsigned events, uint16_t tag, uint32_t *slot);
/* Changes the events (and tag) of a watched fd. RT_E_IO. */
RT_API rt_result rt_plat_poller_mod(rt_plat_poller *p, int fd, uint32_t slot, unsigned events,
                                    uint16_t tag);
/* Stops watching fd. Returns the fd that now has fd's old slot (poll moves
 * its last entry there; update that fd's slot), or -1 if none moved. */
RT_API int rt_plat_poller_del(rt_plat_poller *p, int fd, uint32_t slot);
/* Waits at most timeout_ms (-1: no limit) for an event. Returns how many
 * events rt_plat_poller_event can read, RT_AGAIN when a signal cut the wait
 * short, or RT_E_IO. */
RT_API int rt_plat_poller_wait(rt_plat_poller *p, int timeout_ms);
/* The i-th event of the last wait (i below what wait returned): its fd and
 * tag, and the events as RT_IO_* bits; an error or hang-up reads as
 * RT_IO_READ | RT_IO_ERROR. Valid across adds and dels made meanwhile. */
RT_API unsigned rt_plat_poller_event(const rt_plat_poller *p, int i, int *fd, uint16_t *tag);

/* ---- The wake-up channel ---------------------------------------------------
 * A pair of descriptors that carries small records from any thread (or a
 * signal handler) to the loop's thread: wake[0] is watched by the loop and
 * drained there, wake[1] is written. Both are non-blocking. */

/* Opens the pair (a pipe on POSIX). RT_E_IO; what was opened is in wake[]
 * even then, for rt_plat_wake_close. */
RT_API rt_result rt_plat_wake_open(int wake[2]);
/* THREAD-SAFE. Writes the n bytes of rec to the write end whole or not at
 * all (n is at most 512: POSIX's smallest PIPE_BUF). RT_AGAIN when the
 * channel is full, RT_E_IO. */
RT_API rt_result rt_plat_wake_signal(int fd, const void *rec, size_t n);
/* Reads up to cap bytes from the read end: the bytes read, 0 when it was
 * empty (or a signal came first). Whole records come out if cap is a
 * multiple of the record size and every write was one record. */
RT_API size_t rt_plat_wake_drain(int fd, void *buf, size_t cap);
/* Closes both ends (an entry of -1 is skipped). */
RT_API void rt_plat_wake_close(int wake[2]);

/* ---- TCP sockets -------------------------------------------------------------
 * Sockets are ints, as the loop watches them. The byte functions retry when
 * a signal interrupts them and return a byte count, RT_AGAIN when the call
 * would block, or RT_E_IO (the connection failed: reset, unreachable). */

/* One piece of a gathered send. Laid out like the system's own (struct
 * iovec on POSIX; platform.c checks it at compile time), so the array goes
 * to the kernel as it is; a Windows port orders the fields like WSABUF. */
typedef struct rt_plat_iov {
    const void *base;
    size_t len;
} rt_plat_iov;

/* The address of a peer, as bytes: 4 (IPv4) or 16 (IPv6) in bytes[]. */
typedef struct rt_plat_addr {
    unsigned char bytes[16];
    size_t len;
} rt_plat_addr;

/* Binds a non-blocking, close-on-exec listening socket to host (a numeric
 * IPv4 or IPv6 address; NULL = "0.0.0.0"; "::" serves IPv4 too) and port (0
 * = any free port), with SO_REUSEADDR and the system's largest backlog.
 * Sets *fd (-1 on failure) and *bound_port (the port actually bound).
 * RT_E_INVAL when host is not an address, RT_E_IO. */
RT_API rt_result rt_plat_listen(const char *host, int port, int *fd, int *bound_port);
/* Takes one pending connection from listener lfd: sets *fd (blocking, as
 * the kernel gives it: see rt_plat_set_nonblock) and, if from is not NULL,
 * the peer's address. RT_AGAIN when none is pending or for a transient
 * failure (the peer gave up, a signal: try at the next readable event);
 * RT_E_LIMIT when the process or the system is out of descriptors, which
 * leaves the connection pending (stop watching lfd until one closes). */
RT_API rt_result rt_plat_accept(int lfd, int *fd, rt_plat_addr *from);
/* Makes fd non-blocking and close-on-exec. RT_E_IO. */
RT_API rt_result rt_plat_set_nonblock(int fd);
/* Sends small writes at once (TCP_NODELAY); a failure only costs latency,
 * so it is not reported. */
RT_API void rt_plat_set_nodelay(int fd);
/* Reads up to cap bytes: the count, 0 when the peer has closed its side
 * (end of stream), RT_AGAIN, RT_E_IO. */
RT_API ptrdiff_t rt_plat_recv(int fd, void *buf, size_t cap);
/* Writes up to n bytes: the count (maybe short), RT_AGAIN, RT_E_IO. Never
 * raises SIGPIPE. */
RT_API ptrdiff_t rt_plat_send(int fd, const void *buf, size_t n);
/* As rt_plat_send, for the n pieces of iov in order (n at most the
 * system's IOV_MAX: 1024 on Linux and the BSDs, the top of RT_CONN_SEND_BATCH). */
RT_API ptrdiff_t rt_plat_sendv(int fd, const rt_plat_iov *iov, size_t n);
/* Half-closes fd: no more writes; the peer reads end of stream once what
 * was sent has arrived. RT_E_IO. */
RT_API rt_result rt_plat_shutdown_write(int fd);
/* Closes the socket fd. */
RT_API void rt_plat_close(int fd);
/* Writes the peer's numeric address ("127.0.0.1", "::1") and a NUL into buf.
 * Returns its length, RT_E_NOSPACE if cap is too small, RT_E_IO (fd < 0, or
 * not connected). */
RT_API rt_result rt_plat_peer(int fd, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* RT_PLATFORM_H */
#endif /* RT_NO_IO */
/* ==== End src/io/platform.h ==== */

/* ==== Begin src/io/loop.h ==== */ // >>loop
#ifndef RT_NO_IO
/* loop.h - the event loop: file descriptors, timers, and a cross-thread post.
 *
 * One loop runs on one thread. It waits with poll() by default (portable
 * POSIX) or epoll on Linux when RT_BACKEND_EPOLL is defined, through the
 * platform layer (platform.h); the API is the same. Timers are caller-owned structs kept in a binary min-heap, so
 * starting and stopping one is O(log n) and never allocates once the heap has
 * grown. rt_loop_post() is the only function another thread may call.
 */
#ifndef RT_LOOP_H
#define RT_LOOP_H


#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_loop rt_loop;

/* Called when fd is ready; events is a mix of RT_IO_*. The callback may add,
 * change or remove any fd (its own included) and start or stop timers. */
typedef void (*rt_io_fn)(rt_loop *loop, int fd, unsigned events, void *user);
typedef void (*rt_timer_fn)(rt_loop *loop, void *user);
typedef void (*rt_post_fn)(rt_loop *loop, void *arg);

/* A timer. The caller owns the struct and keeps it alive (and in place)
 * while it is active; rt_timer_stop before freeing it. Zero-initialise it. */
typedef struct rt_timer {
    uint64_t when;        /* monotonic ms of the next firing */
    uint32_t repeat_ms;   /* 0 for one-shot */
    rt_timer_fn fn;
    void *user;
    size_t _heap_index;   /* 0 when inactive, else position + 1 */
} rt_timer;

typedef struct rt_loop_fd rt_loop_fd; /* private: per-fd registration */

/* A function the loop runs twice a step: before it waits and after the
 * callbacks and timers. A server uses it to write, with one system call per
 * connection, everything the step queued. Caller-owned; keep it alive (and
 * in place) while it is added. */
typedef struct rt_loop_hook {
    void (*fn)(rt_loop *loop, void *user);
    void *user;
    struct rt_loop_hook *_next;
} rt_loop_hook;

struct rt_loop {
    const rt_allocator *alloc;  /* NULL = RT_MALLOC/RT_FREE */
    uint64_t now;               /* monotonic ms, refreshed once per step */
    int stop;                   /* set by rt_loop_stop */
    /* private */
    rt_loop_fd *_fds;           /* registrations, indexed by fd */
    size_t _fds_len;            /* entries initialised: one past the highest fd seen */
    size_t _fds_cap;
    rt_plat_poller _poll;       /* poll or epoll: every registered fd, the wake pipe too */
    rt_heap _timers;            /* active timers, by `when` */
    int _wake[2];               /* self-pipe: [0] read end, [1] write end */
    rt_loop_hook *_hooks;       /* run around every wait */
    rt_loop_hook *_hook_next;   /* the next hook of a run in progress */
};

/* Prepares *loop (caller-owned). alloc may be NULL. RT_E_IO if the wake pipe
 * or epoll instance cannot be made, RT_E_NOMEM. On failure nothing is left to
 * free. */
RT_API rt_result rt_loop_init(rt_loop *loop, const rt_allocator *alloc);
/* Frees what the loop allocated. Registered fds are not closed (the caller
 * owns them); active timers are simply forgotten. */
RT_API void rt_loop_deinit(rt_loop *loop);

/* Watches fd for events (RT_IO_READ | RT_IO_WRITE). One registration per fd:
 * RT_E_INVAL if fd is already registered. RT_E_NOMEM. */
RT_API rt_result rt_loop_add(rt_loop *loop, int fd, unsigned events, rt_io_fn fn, void *user);
/* Changes the events watched for a registered fd; an event of a kind no
 * longer watched is not delivered, even if already pending in this step.
 * RT_E_NOTFOUND if fd is not registered. */
RT_API rt_result rt_loop_mod(rt_loop *loop, int fd, unsigned events);
/* Stops watching fd. Safe inside any callback, even for an fd whose event is
 * still pending in this step: it will not be delivered. */
RT_API void rt_loop_del(rt_loop *loop, int fd);

/* Waits at most timeout_ms (-1: until an event or the next timer), then runs
 * the ready fd callbacks, posted calls and due timers. Returns the number of
 * callbacks run (0 when a signal interrupted the wait), or RT_E_IO. This is
 * how an application or an RTOS task drives the loop from its own main loop. */
RT_API rt_result rt_loop_step(rt_loop *loop, int timeout_ms);
/* Steps until rt_loop_stop is called. Returns RT_OK or RT_E_IO. */
RT_API rt_result rt_loop_run(rt_loop *loop);
/* Makes rt_loop_run return after the current step. Loop thread only. */
RT_API void rt_loop_stop(rt_loop *loop);

/* Starts t: first after after_ms (counted from loop->now, the time of the
 * current step), then every repeat_ms (0 = once). A repeating timer keeps its
 * schedule (no drift) unless it fell a whole period behind, when it fires once
 * and counts again from now. Timers due at the same ms fire in no set order.
 * Restarts t if active. RT_E_NOMEM when the heap cannot grow. */
RT_API rt_result rt_timer_start(rt_loop *loop, rt_timer *t, uint32_t after_ms,
                                uint32_t repeat_ms, rt_timer_fn fn, void *user);
/* Stops t if active; safe from its own callback. */
RT_API void rt_timer_stop(rt_loop *loop, rt_timer *t);
/* 1 when t is active. */
RT_API int rt_timer_active(const rt_timer *t);

/* THREAD-SAFE: asks the loop to call fn(loop, arg) on its own thread, and
 * wakes it at once. The request travels through the self-pipe as one atomic
 * write, so no lock is needed. RT_AGAIN when the pipe is full (retry later);
 * calls posted before rt_loop_deinit that did not run are dropped. */
RT_API rt_result rt_loop_post(rt_loop *loop, rt_post_fn fn, void *arg);

/* Adds h, to call fn(loop, user) before every wait and after every step's
 * callbacks. Hooks may add or remove hooks (themselves included). */
RT_API void rt_loop_hook_add(rt_loop *loop, rt_loop_hook *h,
                             void (*fn)(rt_loop *loop, void *user), void *user);
/* Removes h if it was added. */
RT_API void rt_loop_hook_del(rt_loop *loop, rt_loop_hook *h);

/* The monotonic clock in milliseconds: RT_CLOCK_MS(), CLOCK_MONOTONIC unless
 * the application defined it (see PLATFORM in the manual). */
RT_API uint64_t rt_time_ms(void);

#ifdef __cplusplus
}
#endif

#endif /* RT_LOOP_H */
#endif /* RT_NO_IO */
/* ==== End src/io/loop.h ==== */

/* ==== Begin src/io/conn.h ==== */ // >>conn
#ifndef RT_NO_IO
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
#endif /* RT_NO_IO */
/* ==== End src/io/conn.h ==== */

/* ==== Begin src/io/server.h ==== */ // >>server
#ifndef RT_NO_IO
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
#endif /* RT_NO_IO */
/* ==== End src/io/server.h ==== */

/* ==== Begin src/io/pubsub.h ==== */ // >>pubsub
#ifndef RT_NO_IO
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
#endif /* RT_NO_IO */
/* ==== End src/io/pubsub.h ==== */

/* ==== Begin src/proto/proto.h ==== */ // >>proto
#ifndef RT_NO_PROTO
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
#endif /* RT_NO_PROTO */
/* ==== End src/proto/proto.h ==== */

/* ==== Begin src/layout.h ==== */ // >>layout
/* layout.h - a link-time check that every file sees the same structs.
 *
 * A few limit macros size arrays inside public structs (RT_HTTP_MAX_HEADERS
 * sizes rt_http_request's header table). If one file of a program defined
 * such a macro differently from the file that holds the implementation, the
 * two would disagree about a struct's size and write past each other's
 * memory, silently. Instead, every file that includes rt.h refers to a
 * symbol whose name spells those values, and only the implementation defines
 * it: a mismatch fails at link time with "undefined reference to
 * rt_layout_...", naming the value the odd file used. The macros named here
 * must therefore be plain decimal numbers (no parentheses or suffixes).
 * RT_NO_LONGPOLL takes the hold timer out of rt_server, so it is checked
 * the same way (rt_layout_no_longpoll_0 or _1).
 *
 * It costs two bytes and two pointers per file. RT_STATIC (one file) needs no
 * check; compilers without the GNU "used" attribute go without it.
 */
#ifndef RT_LAYOUT_H
#define RT_LAYOUT_H


#if !defined(RT_STATIC) && (defined(__GNUC__) || defined(__clang__))
#  define RT__LAYOUT_CAT2(a, b) a##b
#  define RT__LAYOUT_CAT(a, b) RT__LAYOUT_CAT2(a, b)
#  define RT__LAYOUT_SYM RT__LAYOUT_CAT(rt_layout_http_headers_, RT_HTTP_MAX_HEADERS)
#  ifdef RT_NO_LONGPOLL
#    define RT__LAYOUT_SYM_LP rt_layout_no_longpoll_1
#  else
#    define RT__LAYOUT_SYM_LP rt_layout_no_longpoll_0
#  endif
#  ifdef __cplusplus
extern "C" {
#  endif
extern const char RT__LAYOUT_SYM;
extern const char RT__LAYOUT_SYM_LP;
static const char *const rt__layout_ref __attribute__((used)) = &RT__LAYOUT_SYM;
static const char *const rt__layout_ref_lp __attribute__((used)) = &RT__LAYOUT_SYM_LP;
#  ifdef __cplusplus
}
#  endif
#endif

#endif /* RT_LAYOUT_H */
/* ==== End src/layout.h ==== */

#endif /* RT_H_INCLUDED */

#ifdef RT_IMPLEMENTATION
#ifndef RT_IMPLEMENTATION_ONCE
#define RT_IMPLEMENTATION_ONCE

#include <stdlib.h>
#include <string.h>
#include <limits.h>

/* ==== Begin src/base/config.h ==== */ // >>config
/* config.h - implementation-side defaults: allocator and assert hooks.
 *
 * Define these before including rt.h with RT_IMPLEMENTATION to override
 * them. The allocator macros come as a set: define all three or none.
 */

#if defined(RT_MALLOC) && defined(RT_REALLOC) && defined(RT_FREE)
/* the user supplied all three */
#elif !defined(RT_MALLOC) && !defined(RT_REALLOC) && !defined(RT_FREE)
#  define RT_MALLOC(n) malloc(n)
#  define RT_REALLOC(p, n) realloc(p, n)
#  define RT_FREE(p) free(p)
#else
#  error "rt.h: define all of RT_MALLOC, RT_REALLOC and RT_FREE, or none of them"
#endif

/* RT_ASSERT catches caller bugs only; bad input from the network is never
 * asserted on, it gets an error value. */
#ifndef RT_ASSERT
#  include <assert.h>
#  define RT_ASSERT(c) assert(c)
#endif
/* ==== End src/base/config.h ==== */

/* ==== Begin src/base/core.c ==== */ // >>core
/* core.c - result names, string views, allocator dispatch. */

const char *rt_result_str(rt_result r)
{
    switch (r) {
    case RT_OK: return "RT_OK: success";
    case RT_AGAIN: return "RT_AGAIN: need more input or would block";
    case RT_E_PROTO: return "RT_E_PROTO: protocol error";
    case RT_E_LIMIT: return "RT_E_LIMIT: limit exceeded";
    case RT_E_NOMEM: return "RT_E_NOMEM: out of memory";
    case RT_E_IO: return "RT_E_IO: I/O error";
    case RT_E_CLOSED: return "RT_E_CLOSED: closed";
    case RT_E_INVAL: return "RT_E_INVAL: invalid argument";
    case RT_E_UTF8: return "RT_E_UTF8: invalid UTF-8";
    case RT_E_NOSPACE: return "RT_E_NOSPACE: output buffer too small";
    case RT_E_NOTFOUND: return "RT_E_NOTFOUND: not found";
    default: return r > 0 ? "success (count)" : "unknown error";
    }
}

rt_str rt_str_c(const char *s)
{
    rt_str v;
    v.p = s ? s : "";
    v.n = s ? strlen(s) : 0;
    return v;
}

int rt_str_eq(rt_str a, rt_str b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static unsigned char rt__lower(unsigned char c)
{
    return (unsigned char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

int rt_str_ieq(rt_str a, rt_str b)
{
    size_t i;
    if (a.n != b.n)
        return 0;
    for (i = 0; i < a.n; i++) {
        if (rt__lower((unsigned char)a.p[i]) != rt__lower((unsigned char)b.p[i]))
            return 0;
    }
    return 1;
}

int rt_str_is_name(rt_str s, size_t max)
{
    size_t i;
    if (s.n == 0 || s.n > max)
        return 0;
    for (i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '@' || c == '-'))
            return 0;
    }
    return 1;
}

uint32_t rt_fnv1a(uint32_t h, const void *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t i;
    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* The allocator hooks: a per-object rt_allocator wins, otherwise the
 * compile-time RT_MALLOC family (libc unless the user overrides it). */
void *rt_alloc(const rt_allocator *a, size_t n)
{
    if (a && a->alloc)
        return a->alloc(a->user, n);
    return RT_MALLOC(n);
}

void *rt_realloc(const rt_allocator *a, void *p, size_t old_n, size_t new_n)
{
    (void)old_n;
    if (a && a->realloc)
        return a->realloc(a->user, p, old_n, new_n);
    return RT_REALLOC(p, new_n);
}

void rt_free(const rt_allocator *a, void *p, size_t n)
{
    (void)n;
    if (!p)
        return;
    if (a && a->free)
        a->free(a->user, p, n);
    else
        RT_FREE(p);
}

void *rt_grow(const rt_allocator *a, void *p, size_t *cap, size_t need, size_t elem, size_t min)
{
    size_t n = *cap ? *cap : min;
    void *q;
    if (need <= *cap)
        return p;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return NULL;
        n *= 2;
    }
    if (n > SIZE_MAX / elem)
        return NULL;
    q = p ? rt_realloc(a, p, *cap * elem, n * elem) : rt_alloc(a, n * elem);
    if (!q)
        return NULL;
    *cap = n;
    return q;
}
/* ==== End src/base/core.c ==== */

/* ==== Begin src/base/sha1.c ==== */ // >>sha1
/* sha1.c - SHA-1 as FIPS 180-4 section 6.1 describes it.
 *
 * Words are built from bytes with shifts, never loaded through a cast, so
 * the same code is right on big- and little-endian CPUs and never makes an
 * unaligned access. The message schedule lives in a 16-word ring instead of
 * the 80 words of the spec, which keeps the stack small on embedded targets.
 */

/* SHA-1 is specified over big-endian words (FIPS 180-4 section 3.1). */
static uint32_t rt__sha1_load32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void rt__sha1_store32(unsigned char *p, uint32_t x)
{
    p[0] = (unsigned char)(x >> 24);
    p[1] = (unsigned char)(x >> 16);
    p[2] = (unsigned char)(x >> 8);
    p[3] = (unsigned char)x;
}

static uint32_t rt__sha1_rol(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

/* f(t) + K(t) for round t: the functions of section 4.1.1 and the constants
 * of section 4.2.1, which change every 20 rounds. */
static uint32_t rt__sha1_fk(unsigned t, uint32_t b, uint32_t c, uint32_t d)
{
    if (t < 20)
        return ((b & c) | (~b & d)) + 0x5A827999u; /* Ch */
    if (t < 40)
        return (b ^ c ^ d) + 0x6ED9EBA1u; /* Parity */
    if (t < 60)
        return ((b & c) | (b & d) | (c & d)) + 0x8F1BBCDCu; /* Maj */
    return (b ^ c ^ d) + 0xCA62C1D6u; /* Parity */
}

/* W(t) of section 6.1.2 step 1. W(t-16) sits in the slot that W(t) takes
 * over, so 16 words hold everything the recurrence still needs. */
static uint32_t rt__sha1_w(uint32_t w[16], unsigned t)
{
    if (t >= 16)
        w[t & 15] = rt__sha1_rol(w[(t - 3) & 15] ^ w[(t - 8) & 15] ^ w[(t - 14) & 15]
                                 ^ w[t & 15], 1);
    return w[t & 15];
}

/* Hashes one 64-byte block into h: section 6.1.2, steps 1 to 4, with the
 * spec's own names (T is tmp). */
static void rt__sha1_block(uint32_t h[5], const unsigned char *block)
{
    uint32_t w[16], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], tmp;
    unsigned t;
    for (t = 0; t < 16; t++)
        w[t] = rt__sha1_load32(block + 4 * t);
    for (t = 0; t < 80; t++) {
        tmp = rt__sha1_rol(a, 5) + rt__sha1_fk(t, b, c, d) + e + rt__sha1_w(w, t);
        e = d;
        d = c;
        c = rt__sha1_rol(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void rt_sha1_init(rt_sha1_ctx *s)
{
    /* Initial hash value, section 5.3.1. */
    s->h[0] = 0x67452301u;
    s->h[1] = 0xEFCDAB89u;
    s->h[2] = 0x98BADCFEu;
    s->h[3] = 0x10325476u;
    s->h[4] = 0xC3D2E1F0u;
    s->total = 0;
    s->fill = 0;
}

void rt_sha1_update(rt_sha1_ctx *s, const void *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t take;
    if (n == 0)
        return;
    s->total += n;
    if (s->fill > 0) {
        take = n < 64 - s->fill ? n : 64 - s->fill;
        memcpy(s->block + s->fill, p, take);
        s->fill += take;
        p += take;
        n -= take;
        if (s->fill < 64)
            return;
        rt__sha1_block(s->h, s->block);
        s->fill = 0;
    }
    /* Whole blocks are hashed straight from the caller's bytes. */
    for (; n >= 64; p += 64, n -= 64)
        rt__sha1_block(s->h, p);
    if (n > 0)
        memcpy(s->block, p, n);
    s->fill = n;
}

void rt_sha1_final(rt_sha1_ctx *s, unsigned char out[RT_SHA1_SIZE])
{
    /* Section 5.1.1: a 1 bit, zeros up to 56 mod 64 bytes, then the length
     * in bits as a 64-bit big-endian number (messages under 2^61 bytes). */
    uint64_t bits = s->total * 8;
    unsigned i;
    s->block[s->fill++] = 0x80;
    if (s->fill > 56) {
        memset(s->block + s->fill, 0, 64 - s->fill);
        rt__sha1_block(s->h, s->block);
        s->fill = 0;
    }
    memset(s->block + s->fill, 0, 56 - s->fill);
    rt__sha1_store32(s->block + 56, (uint32_t)(bits >> 32));
    rt__sha1_store32(s->block + 60, (uint32_t)bits);
    rt__sha1_block(s->h, s->block);
    for (i = 0; i < 5; i++)
        rt__sha1_store32(out + 4 * i, s->h[i]);
}

void rt_sha1(const void *data, size_t n, unsigned char out[RT_SHA1_SIZE])
{
    rt_sha1_ctx s;
    rt_sha1_init(&s);
    rt_sha1_update(&s, data, n);
    rt_sha1_final(&s, out);
}
/* ==== End src/base/sha1.c ==== */

/* ==== Begin src/base/b64.c ==== */ // >>b64
/* b64.c - base64 with the standard alphabet (RFC 4648 section 4).
 *
 * The decoder is strict on purpose: RFC 4648 section 3.5 lets a decoder
 * reject encodings whose pad bits are not zero, and RFC 6455 section 4.2.1
 * wants a Sec-WebSocket-Key that decodes to exactly 16 bytes, so every
 * string has one accepted spelling and a peer cannot smuggle variants past
 * a comparison.
 */

static const char rt__b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Writes the 4 characters for 1 to 3 input bytes, padding with '='. */
static void rt__b64_quantum_out(const unsigned char *p, size_t len, char *out)
{
    uint32_t bits = (uint32_t)p[0] << 16;
    if (len > 1)
        bits |= (uint32_t)p[1] << 8;
    if (len > 2)
        bits |= p[2];
    out[0] = rt__b64_alphabet[bits >> 18];
    out[1] = rt__b64_alphabet[(bits >> 12) & 63];
    out[2] = len > 1 ? rt__b64_alphabet[(bits >> 6) & 63] : '=';
    out[3] = len > 2 ? rt__b64_alphabet[bits & 63] : '=';
}

size_t rt_b64_encode(const void *src, size_t n, char *dst, size_t cap)
{
    const unsigned char *p = (const unsigned char *)src;
    size_t len, i;
    /* The length itself must be representable; SIZE_MAX can never be
     * smaller than cap, so nothing is written then. */
    if (n / 3 >= SIZE_MAX / 4)
        return SIZE_MAX;
    len = RT_B64_ENCODED_LEN(n);
    if (cap <= len)
        return len;
    for (i = 0; i < n; i += 3)
        rt__b64_quantum_out(p + i, n - i < 3 ? n - i : 3, dst + i / 3 * 4);
    dst[len] = '\0';
    return len;
}

/* The 6-bit value of a base64 character, or -1 for anything outside the
 * alphabet (including '=', which the caller handles by position). */
static int rt__b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    return c == '/' ? 63 : -1;
}

/* Decodes one 4-character quantum into out; returns how many bytes it holds
 * (1 to 3) or RT_E_PROTO. Only the last quantum may end in "=" or "==", and
 * the bits that padding leaves over must be zero (RFC 4648 section 3.5). */
static int rt__b64_quantum_in(const char *q, int last, unsigned char out[3])
{
    int bytes = 3, i, v;
    uint32_t bits = 0;
    if (last && q[3] == '=')
        bytes = q[2] == '=' ? 1 : 2;
    for (i = 0; i < 4; i++) {
        v = i <= bytes ? rt__b64_value((unsigned char)q[i]) : 0;
        if (v < 0 || (i > bytes && q[i] != '='))
            return RT_E_PROTO;
        bits = bits << 6 | (uint32_t)v;
    }
    if ((bytes == 1 && (bits & 0xFFFF) != 0) || (bytes == 2 && (bits & 0xFF) != 0))
        return RT_E_PROTO;
    out[0] = (unsigned char)(bits >> 16);
    out[1] = (unsigned char)(bits >> 8);
    out[2] = (unsigned char)bits;
    return bytes;
}

/* Checks all of src and, when dst is not NULL, writes the bytes there. */
static rt_result rt__b64_decode_all(const char *src, size_t n, unsigned char *dst)
{
    unsigned char out[3];
    size_t i, len = 0;
    int bytes;
    for (i = 0; i < n; i += 4) {
        bytes = rt__b64_quantum_in(src + i, i + 4 == n, out);
        if (bytes < 0)
            return bytes;
        if (dst)
            memcpy(dst + len, out, (size_t)bytes);
        len += (size_t)bytes;
    }
    return (rt_result)len;
}

rt_result rt_b64_decode(const char *src, size_t n, void *dst, size_t cap)
{
    size_t need;
    rt_result r;
    if (n % 4 != 0)
        return RT_E_PROTO;
    if (n / 4 > (size_t)INT_MAX / 3)
        return RT_E_LIMIT;
    need = n / 4 * 3;
    if (n > 0 && src[n - 1] == '=')
        need -= src[n - 2] == '=' ? 2 : 1;
    /* Too little room: still check the input, so that RT_E_PROTO wins and
     * RT_E_NOSPACE always means "retry with more room will work". */
    r = rt__b64_decode_all(src, n, need <= cap ? (unsigned char *)dst : NULL);
    if (r >= 0 && need > cap)
        return RT_E_NOSPACE;
    return r;
}
/* ==== End src/base/b64.c ==== */

/* ==== Begin src/base/utf8.c ==== */ // >>utf8
/* utf8.c - incremental UTF-8 validation (RFC 3629 section 4, Unicode
 * Standard table 3-7 "Well-Formed UTF-8 Byte Sequences").
 *
 * Table 3-7 says everything: a lead byte fixes the length of its sequence
 * and the range its second byte must fall in; every later byte is 80..BF.
 * The narrowed second-byte ranges are what exclude overlong forms (E0, F0),
 * UTF-16 surrogates (ED) and code points above U+10FFFF (F4). Checking the
 * second byte against its range fails at the earliest byte possible, so a
 * WebSocket endpoint can fail the connection (RFC 6455 section 8.1) when
 * the bad byte arrives rather than at the end of the message.
 *
 * Speed comes from one scan over the sequences that lie whole inside the
 * chunk: ASCII a machine word at a time, multibyte sequences checked
 * against the table without touching the state struct. Only the bytes
 * around a chunk boundary or an error go through the byte-at-a-time state
 * machine, which also pins down the exact byte at fault.
 */

/* need after an error; no sequence needs that many more bytes. */
#define RT__UTF8_FAILED 0xFFu

/* The rows of table 3-7 that start a multibyte sequence: its length and the
 * range of its second byte. Row 0 stands for "not a lead byte". */
static const unsigned char rt__utf8_rows[9][3] = {
    {0, 0x00, 0x00}, /* 80..C1, F5..FF: continuation, overlong C0/C1, too big */
    {2, 0x80, 0xBF}, /* C2..DF       U+0080..U+07FF */
    {3, 0xA0, 0xBF}, /* E0           U+0800..U+0FFF (80..9F would be overlong) */
    {3, 0x80, 0xBF}, /* E1..EC       U+1000..U+CFFF */
    {3, 0x80, 0x9F}, /* ED           U+D000..U+D7FF (A0..BF are surrogates) */
    {3, 0x80, 0xBF}, /* EE..EF       U+E000..U+FFFF */
    {4, 0x90, 0xBF}, /* F0           U+10000..U+3FFFF (80..8F would be overlong) */
    {4, 0x80, 0xBF}, /* F1..F3       U+40000..U+FFFFF */
    {4, 0x80, 0x8F}, /* F4           U+100000..U+10FFFF (90..BF are too big) */
};

/* The row of each byte 80..FF. */
static const unsigned char rt__utf8_row_of[128] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 80..8F */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 90..9F */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* A0..AF */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* B0..BF */
    0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* C0..CF */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* D0..DF */
    2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 5, 5, /* E0..EF */
    6, 7, 7, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* F0..FF */
};

/* A word with the top bit of every byte set: a word of ASCII ANDed with it
 * is zero whatever the byte order, so the test below is endian-neutral. */
#define RT__UTF8_HIGH ((size_t)-1 / 0xFF * 0x80)

/* Called just past an ASCII byte. Most text either has long ASCII runs or
 * next to none, so one word is probed first: when it holds a non-ASCII
 * byte, i comes straight back and the caller goes on a byte at a time;
 * otherwise the run is skipped four words, then one word, then one byte at
 * a time. Returns the index of the first byte not skipped. */
static size_t rt__utf8_skip_ascii(const unsigned char *p, size_t i, size_t n)
{
    size_t w[4];
    /* memcpy compiles to plain loads where they are allowed and stays
     * correct on CPUs that trap on unaligned access. */
    if (n - i < sizeof w[0])
        return i;
    memcpy(w, p + i, sizeof w[0]);
    if ((w[0] & RT__UTF8_HIGH) != 0)
        return i;
    for (i += sizeof w[0]; n - i >= sizeof w; i += sizeof w) {
        memcpy(w, p + i, sizeof w);
        if (((w[0] | w[1] | w[2] | w[3]) & RT__UTF8_HIGH) != 0)
            break;
    }
    for (; n - i >= sizeof w[0]; i += sizeof w[0]) {
        memcpy(w, p + i, sizeof w[0]);
        if ((w[0] & RT__UTF8_HIGH) != 0)
            break;
    }
    while (i < n && p[i] < 0x80)
        i++;
    return i;
}

/* Skips every complete, valid sequence from i on. Returns n, or the index
 * of a lead byte whose sequence is invalid or runs past the end: the
 * caller walks that one through the state machine. Each length has its
 * own branch that adds a constant: the CPU predicts the branch and starts
 * on the next character at once, where a length loaded from the table
 * would make it wait for the load (about three times slower on CJK). */
static size_t rt__utf8_scan(const unsigned char *p, size_t i, size_t n)
{
    const unsigned char *row;
    while (i < n) {
        if (p[i] < 0x80) {
            i = rt__utf8_skip_ascii(p, i + 1, n);
            continue;
        }
        row = rt__utf8_rows[rt__utf8_row_of[p[i] - 0x80]];
        if (row[0] == 0 || row[0] > n - i || p[i + 1] < row[1] || p[i + 1] > row[2])
            return i;
        if (row[0] == 2) {
            i += 2;
            continue;
        }
        if ((p[i + 2] & 0xC0) != 0x80)
            return i;
        if (row[0] == 3) {
            i += 3;
            continue;
        }
        if ((p[i + 3] & 0xC0) != 0x80)
            return i;
        i += 4;
    }
    return n;
}

/* Moves the state machine over one byte; 0 when the byte cannot be there. */
static int rt__utf8_step(rt_utf8 *v, unsigned char c)
{
    const unsigned char *row;
    if (v->need > 0) {
        if (c < v->lo || c > v->hi)
            return 0;
        v->need--;
        v->lo = 0x80;
        v->hi = 0xBF;
        return 1;
    }
    if (c < 0x80)
        return 1;
    row = rt__utf8_rows[rt__utf8_row_of[c - 0x80]];
    v->need = (uint8_t)(row[0] > 0 ? row[0] - 1u : 0u);
    v->lo = row[1];
    v->hi = row[2];
    return row[0] > 0;
}

void rt_utf8_init(rt_utf8 *v)
{
    v->need = 0;
    v->lo = 0;
    v->hi = 0;
}

rt_result rt_utf8_feed(rt_utf8 *v, const void *data, size_t n, size_t *bad)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t i = 0;
    if (v->need == RT__UTF8_FAILED)
        goto fail;
    while (i < n) {
        /* Between sequences the fast scan runs; it stops only where a
         * sequence is cut by the chunk's end or is about to fail. */
        if (v->need == 0) {
            i = rt__utf8_scan(p, i, n);
            if (i == n)
                break;
        }
        if (!rt__utf8_step(v, p[i]))
            goto fail;
        i++;
    }
    return RT_OK;
fail:
    v->need = RT__UTF8_FAILED;
    if (bad)
        *bad = i;
    return RT_E_UTF8;
}

rt_result rt_utf8_finish(const rt_utf8 *v)
{
    return v->need == 0 ? RT_OK : RT_E_UTF8;
}

int rt_utf8_valid(const void *data, size_t n)
{
    rt_utf8 v;
    rt_utf8_init(&v);
    return rt_utf8_feed(&v, data, n, NULL) == RT_OK && rt_utf8_finish(&v) == RT_OK;
}

size_t rt_utf8_truncate(const char *s, size_t n, size_t max)
{
    size_t cut = max;
    int back;
    if (n <= max)
        return n;
    /* s[cut] is the first byte left out. While it continues a sequence,
     * move the cut back to that sequence's lead byte: at most 3 steps in
     * valid text, and never more, so bad input cannot make this slow. */
    for (back = 0; back < 3 && cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80; back++)
        cut--;
    return cut;
}
/* ==== End src/base/utf8.c ==== */

/* ==== Begin src/base/json.c ==== */ // >>json
/* json.c - JSON string escaping, the output buffer, and the reader. */


/* Length of the valid UTF-8 sequence at p[0..n), or 0 if it is not one. */
static size_t rt__json_utf8_len(const unsigned char *p, size_t n)
{
    rt_utf8 v;
    size_t len = p[0] < 0xC0 ? 1 : p[0] < 0xE0 ? 2 : p[0] < 0xF0 ? 3 : 4;
    if (p[0] >= 0x80 && p[0] < 0xC0)
        return 0; /* a continuation byte cannot start a sequence */
    if (len > n)
        return 0;
    rt_utf8_init(&v);
    if (rt_utf8_feed(&v, p, len, NULL) != RT_OK || rt_utf8_finish(&v) != RT_OK)
        return 0;
    return len;
}

static void rt__json_put(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
    if (n && *len + n <= cap)
        memcpy(buf + *len, s, n);
    *len += n;
}

/* The escape for one ASCII byte, or NULL when it stands as it is. */
static const char *rt__json_escape_ascii(unsigned char c, char tmp[7])
{
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    case '\b': return "\\b";
    case '\f': return "\\f";
    default: break;
    }
    if (c >= 0x20 && c != 0x7F)
        return NULL;
    memcpy(tmp, "\\u00", 4);
    tmp[4] = hex[c >> 4];
    tmp[5] = hex[c & 15];
    tmp[6] = '\0';
    return tmp;
}

size_t rt_json_escape(char *buf, size_t cap, const void *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t i = 0, len = 0;
    char tmp[7];
    while (i < n) {
        size_t run = i;
        while (run < n && p[run] >= 0x20 && p[run] < 0x7F && p[run] != '"' && p[run] != '\\')
            run++;
        rt__json_put(buf, cap, &len, (const char *)p + i, run - i); /* the plain stretch */
        i = run;
        if (i == n)
            break;
        if (p[i] < 0x80) {
            const char *e = rt__json_escape_ascii(p[i], tmp);
            rt__json_put(buf, cap, &len, e ? e : (const char *)p + i, e ? strlen(e) : 1);
            i++;
        } else {
            size_t u = rt__json_utf8_len(p + i, n - i);
            rt__json_put(buf, cap, &len, u ? (const char *)p + i : "\\ufffd", u ? u : 6);
            i += u ? u : 1;
        }
    }
    return len;
}

void rt_jbuf_init(rt_jbuf *b, const rt_allocator *alloc)
{
    memset(b, 0, sizeof *b);
    b->alloc = alloc;
}

void rt_jbuf_free(rt_jbuf *b)
{
    rt_free(b->alloc, b->p, b->cap);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Makes room for n more bytes; sets failed instead of returning an error. */
static int rt__jbuf_reserve(rt_jbuf *b, size_t n)
{
    size_t cap = b->cap ? b->cap : 256;
    char *p;
    if (b->failed || n > SIZE_MAX / 2 - b->len) {
        b->failed = 1;
        return 0;
    }
    if (b->len + n <= b->cap)
        return 1;
    while (cap < b->len + n)
        cap *= 2;
    p = (char *)rt_realloc(b->alloc, b->p, b->cap, cap);
    if (!p) {
        b->failed = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

void rt_jbuf_put(rt_jbuf *b, const void *data, size_t n)
{
    if (n && rt__jbuf_reserve(b, n)) {
        memcpy(b->p + b->len, data, n);
        b->len += n;
    }
}

void rt_jbuf_puts(rt_jbuf *b, const char *s)
{
    rt_jbuf_put(b, s, strlen(s));
}

void rt_jbuf_str(rt_jbuf *b, const void *data, size_t n)
{
    size_t need = rt_json_escape(NULL, 0, data, n);
    if (!rt__jbuf_reserve(b, need + 2))
        return;
    b->p[b->len++] = '"';
    rt_json_escape(b->p + b->len, need, data, n);
    b->len += need;
    b->p[b->len++] = '"';
}

void rt_jbuf_uint(rt_jbuf *b, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    rt_jbuf_put(b, tmp + i, sizeof tmp - i);
}

/* ---- JSON in ------------------------------------------------------------------
 *
 * One pass over the bytes, no recursion: a small state machine says what
 * may come next, and the open containers form a chain through the tokens
 * themselves (while a container is open, its `next` holds its parent's
 * index + 1; when it closes, `next` gets its real value). So the only
 * memory is the caller's token array, and the depth limit is a rule, not
 * a guard for the C stack. */

/* What the grammar (RFC 8259 section 2) allows at the next non-blank byte. */
enum {
    RT__JSON_VALUE,         /* a value: the top one, or an array element after ',' */
    RT__JSON_VALUE_OR_END,  /* just after '[' */
    RT__JSON_MEMBER,        /* an object member's value, after ':' */
    RT__JSON_KEY,           /* a member name, after ',' in an object */
    RT__JSON_KEY_OR_END,    /* just after '{' */
    RT__JSON_COLON,         /* after a member name */
    RT__JSON_COMMA_OR_END,  /* after a value inside a container */
    RT__JSON_DONE           /* after the top value: only whitespace may follow */
};

typedef struct rt__json_p {
    rt_json *doc;
    const unsigned char *s;
    size_t n, i; /* input length, current offset (the byte at fault on error) */
    size_t cap;  /* tokens available */
    int parent;  /* innermost open container, -1 at the top level */
    int depth;
    int want;
} rt__json_p;

/* The value of one hex digit, or -1. */
static int rt__json_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (unsigned char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The four hex digits at s[i..i+4) as a number, or -1. */
static long rt__json_hex4(const unsigned char *s, size_t n, size_t i)
{
    long v = 0;
    size_t k;
    if (i > n || n - i < 4)
        return -1;
    for (k = i; k < i + 4; k++) {
        int d = rt__json_hexval(s[k]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Decodes \uXXXX at s[i] == 'u', moving *pos past it. RFC 8259 section 7:
 * a character beyond the BMP is written as a UTF-16 surrogate pair, high
 * then low. A half on its own encodes no character (and has no UTF-8 form,
 * RFC 3629 section 3), so it is rejected rather than passed on. */
static rt_result rt__json_escape_u(const unsigned char *s, size_t n, size_t i, size_t *pos,
                                   uint32_t *cp)
{
    long hi = rt__json_hex4(s, n, i + 1), lo;
    if (hi < 0 || (hi >= 0xDC00 && hi <= 0xDFFF))
        return RT_E_PROTO;
    if (hi < 0xD800 || hi > 0xDBFF) {
        *cp = (uint32_t)hi;
        *pos = i + 5;
        return RT_OK;
    }
    i += 5;
    if (n - i < 2 || s[i] != '\\' || s[i + 1] != 'u')
        return RT_E_PROTO;
    lo = rt__json_hex4(s, n, i + 2);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return RT_E_PROTO;
    *cp = 0x10000u + ((uint32_t)(hi - 0xD800) << 10) + (uint32_t)(lo - 0xDC00);
    *pos = i + 6;
    return RT_OK;
}

/* Decodes the escape at s[*pos] == '\\' into the code point it stands for
 * and moves *pos past it; on an error *pos stays on the backslash. */
static rt_result rt__json_escape_cp(const unsigned char *s, size_t n, size_t *pos, uint32_t *cp)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    size_t i = *pos + 1;
    const char *e;
    if (i >= n)
        return RT_E_PROTO;
    if (s[i] == 'u')
        return rt__json_escape_u(s, n, i, pos, cp);
    e = (const char *)memchr(from, s[i], sizeof from - 1);
    if (!e)
        return RT_E_PROTO;
    *cp = (unsigned char)to[e - from];
    *pos = i + 1;
    return RT_OK;
}

/* Writes code point cp (a scalar value, never a surrogate) as UTF-8;
 * returns the byte count. */
static size_t rt__json_utf8_put(uint32_t cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Checks that the unescaped run s[i..end) is valid UTF-8 (RFC 8259 section
 * 8.1). A run stops only at ASCII bytes, which never sit inside a multibyte
 * sequence, so runs can be checked one by one. On error *bad is the
 * offset of the byte at fault. */
static rt_result rt__json_check_run(const unsigned char *s, size_t i, size_t end, size_t *bad)
{
    rt_utf8 v;
    size_t at = 0;
    rt_utf8_init(&v);
    if (rt_utf8_feed(&v, s + i, end - i, &at) != RT_OK) {
        *bad = i + at;
        return RT_E_UTF8;
    }
    if (rt_utf8_finish(&v) != RT_OK) {
        *bad = end; /* the sequence was cut short by this byte */
        return RT_E_UTF8;
    }
    return RT_OK;
}

/* Scans the string whose opening quote is at s[*pos] (RFC 8259 section 7):
 * raw bytes U+0020 and up except '"' and '\\', or escapes. Moves *pos past
 * the closing quote and sets *size to the unescaped byte count; on an
 * error *pos is the byte at fault. */
static rt_result rt__json_scan_string(const unsigned char *s, size_t n, size_t *pos,
                                      size_t *size)
{
    size_t i = *pos + 1, run, len = 0;
    uint32_t cp;
    unsigned char tmp[4];
    for (;;) {
        for (run = i; run < n && s[run] >= 0x20 && s[run] != '"' && s[run] != '\\'; run++)
            ;
        if (rt__json_check_run(s, i, run, pos) != RT_OK)
            return RT_E_UTF8;
        len += run - i;
        i = run;
        if (i == n || s[i] < 0x20) /* unterminated, or a raw control character */
            break;
        if (s[i] == '"') {
            *pos = i + 1;
            *size = len;
            return RT_OK;
        }
        if (rt__json_escape_cp(s, n, &i, &cp) != RT_OK)
            break;
        len += rt__json_utf8_put(cp, tmp);
    }
    *pos = i;
    return RT_E_PROTO;
}

/* Moves *i over one or more digits; 0 when there is none. */
static int rt__json_digits(const unsigned char *s, size_t n, size_t *i)
{
    size_t start = *i;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9')
        (*i)++;
    return *i > start;
}

/* RFC 8259 section 6: number = [ "-" ] int [ frac ] [ exp ], where int is
 * "0" or a digit 1-9 and more digits, frac is "." and digits, exp is "e" or
 * "E", an optional sign and digits. No "+" in front, no ".5", no "1.", no
 * leading zero (after "0" the number ends, and the state machine rejects
 * a digit that follows). Moves *pos to the end, or to the byte at fault. */
static rt_result rt__json_scan_number(const unsigned char *s, size_t n, size_t *pos)
{
    size_t i = *pos;
    int ok = 1;
    if (s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else
        ok = rt__json_digits(s, n, &i);
    if (ok && i < n && s[i] == '.') {
        i++;
        ok = rt__json_digits(s, n, &i);
    }
    if (ok && i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        ok = rt__json_digits(s, n, &i);
    }
    *pos = i;
    return ok ? RT_OK : RT_E_PROTO;
}

/* Appends a token for the value that starts at the current byte; returns
 * its index, or RT_E_LIMIT when the caller's array is full. Each array
 * element and each object member (counted at its name) adds to the
 * parent's size. */
static int rt__json_add(rt__json_p *p, rt_json_type type)
{
    rt_json *d = p->doc;
    rt_json_tok *t;
    if ((size_t)d->n >= p->cap)
        return RT_E_LIMIT;
    t = &d->toks[d->n];
    t->type = (int)type;
    t->start = t->end = (uint32_t)p->i;
    t->size = 0;
    t->next = (uint32_t)d->n + 1;
    if (p->parent >= 0 && p->want != RT__JSON_MEMBER)
        d->toks[p->parent].size++;
    return d->n++;
}

/* A value has ended: what may follow depends on where it was. */
static void rt__json_after_value(rt__json_p *p)
{
    p->want = p->parent < 0 ? RT__JSON_DONE : RT__JSON_COMMA_OR_END;
}

static rt_result rt__json_open(rt__json_p *p, unsigned char c)
{
    int t;
    if (p->depth >= RT_JSON_MAX_DEPTH)
        return RT_E_LIMIT;
    t = rt__json_add(p, c == '{' ? RT_JSON_OBJECT : RT_JSON_ARRAY);
    if (t < 0)
        return t;
    p->doc->toks[t].next = (uint32_t)(p->parent + 1); /* the chain of open containers */
    p->parent = t;
    p->depth++;
    p->i++;
    p->want = c == '{' ? RT__JSON_KEY_OR_END : RT__JSON_VALUE_OR_END;
    return RT_OK;
}

static rt_result rt__json_close(rt__json_p *p, unsigned char c)
{
    rt_json_tok *t = &p->doc->toks[p->parent];
    if (c != (t->type == RT_JSON_OBJECT ? '}' : ']'))
        return RT_E_PROTO;
    p->i++;
    t->end = (uint32_t)p->i;
    p->parent = (int)t->next - 1;
    t->next = (uint32_t)p->doc->n;
    p->depth--;
    rt__json_after_value(p);
    return RT_OK;
}

/* A string, as a value or as a member name. */
static rt_result rt__json_string(rt__json_p *p)
{
    size_t size = 0;
    int t = rt__json_add(p, RT_JSON_STRING);
    rt_result r;
    if (t < 0)
        return t;
    r = rt__json_scan_string(p->s, p->n, &p->i, &size);
    if (r != RT_OK)
        return r;
    p->doc->toks[t].end = (uint32_t)p->i;
    p->doc->toks[t].size = (uint32_t)size; /* size <= n, which fits */
    if (p->want == RT__JSON_KEY || p->want == RT__JSON_KEY_OR_END)
        p->want = RT__JSON_COLON;
    else
        rt__json_after_value(p);
    return RT_OK;
}

/* A number (RFC 8259 section 6). */
static rt_result rt__json_number(rt__json_p *p)
{
    int t = rt__json_add(p, RT_JSON_NUMBER);
    if (t < 0)
        return t;
    if (rt__json_scan_number(p->s, p->n, &p->i) != RT_OK)
        return RT_E_PROTO;
    p->doc->toks[t].end = (uint32_t)p->i;
    rt__json_after_value(p);
    return RT_OK;
}

/* true, false or null: RFC 8259 section 3 allows these three, lowercase. */
static rt_result rt__json_literal(rt__json_p *p, unsigned char c)
{
    const char *w = c == 't' ? "true" : c == 'f' ? "false" : c == 'n' ? "null" : NULL;
    size_t len = w ? strlen(w) : 0;
    int t;
    if (!w || p->n - p->i < len || memcmp(p->s + p->i, w, len) != 0)
        return RT_E_PROTO;
    t = rt__json_add(p, c == 't' ? RT_JSON_TRUE : c == 'f' ? RT_JSON_FALSE : RT_JSON_NULL);
    if (t < 0)
        return t;
    p->i += len;
    p->doc->toks[t].end = (uint32_t)p->i;
    rt__json_after_value(p);
    return RT_OK;
}

/* ':' after a member name, or ',' after a value in a container. After a
 * ',' neither next state takes a closing bracket: no trailing commas. */
static rt_result rt__json_separator(rt__json_p *p, unsigned char c)
{
    if (p->want == RT__JSON_COLON) {
        if (c != ':')
            return RT_E_PROTO;
        p->want = RT__JSON_MEMBER;
    } else {
        if (c != ',')
            return RT_E_PROTO;
        p->want = p->doc->toks[p->parent].type == RT_JSON_OBJECT ? RT__JSON_KEY : RT__JSON_VALUE;
    }
    p->i++;
    return RT_OK;
}

/* Takes the next non-blank byte, which the state must allow. */
static rt_result rt__json_step(rt__json_p *p)
{
    unsigned char c = p->s[p->i];
    int w = p->want;
    if ((c == ']' || c == '}') && (w == RT__JSON_COMMA_OR_END || w == RT__JSON_VALUE_OR_END
                                   || w == RT__JSON_KEY_OR_END))
        return rt__json_close(p, c);
    if (w == RT__JSON_COMMA_OR_END || w == RT__JSON_COLON)
        return rt__json_separator(p, c);
    if (w == RT__JSON_DONE || ((w == RT__JSON_KEY || w == RT__JSON_KEY_OR_END) && c != '"'))
        return RT_E_PROTO; /* trailing bytes; a member name that is not a string */
    if (c == '{' || c == '[')
        return rt__json_open(p, c);
    if (c == '"')
        return rt__json_string(p);
    if (c == '-' || (c >= '0' && c <= '9'))
        return rt__json_number(p);
    return rt__json_literal(p, c);
}

/* RFC 8259 section 2: the four whitespace bytes. */
static size_t rt__json_skip_ws(const unsigned char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
        i++;
    return i;
}

rt_result rt_json_parse(rt_json *doc, const void *src, size_t len, rt_json_tok *toks,
                        size_t cap)
{
    rt__json_p p;
    rt_result r = RT_OK;
    doc->src = (const char *)src;
    doc->len = len;
    doc->toks = toks;
    doc->n = 0;
    doc->err_pos = 0;
    if (len >= UINT32_MAX) /* offsets are 32-bit to keep tokens small */
        return RT_E_LIMIT;
    memset(&p, 0, sizeof p);
    p.doc = doc;
    p.s = (const unsigned char *)src;
    p.n = len;
    p.cap = cap < (size_t)INT_MAX ? cap : (size_t)INT_MAX;
    p.parent = -1;
    p.want = RT__JSON_VALUE;
    while (r == RT_OK) {
        p.i = rt__json_skip_ws(p.s, p.i, len);
        if (p.i == len)
            break;
        r = rt__json_step(&p);
    }
    if (r == RT_OK && p.want != RT__JSON_DONE)
        r = RT_E_PROTO; /* empty, or cut off before the value ended */
    if (r != RT_OK) {
        doc->err_pos = p.i;
        return r;
    }
    return doc->n;
}

/* ---- Accessors ------------------------------------------------------------------ */

/* Token tok, or NULL when tok is not an index into the document. */
static const rt_json_tok *rt__json_tok(const rt_json *doc, int tok)
{
    return tok >= 0 && tok < doc->n ? &doc->toks[tok] : NULL;
}

/* RT_OK when tok is a token of this type, else the error the accessors give. */
static rt_result rt__json_want(const rt_json *doc, int tok, rt_json_type type)
{
    const rt_json_tok *t = rt__json_tok(doc, tok);
    if (tok < 0)
        return RT_E_NOTFOUND;
    if (!t)
        return RT_E_INVAL;
    return t->type == (int)type ? RT_OK : RT_E_PROTO;
}

/* The inside of string token t, between its quotes. */
static const unsigned char *rt__json_inner(const rt_json *doc, const rt_json_tok *t, size_t *n)
{
    *n = t->end - t->start - 2;
    return (const unsigned char *)doc->src + t->start + 1;
}

rt_json_type rt_json_type_of(const rt_json *doc, int tok)
{
    const rt_json_tok *t = rt__json_tok(doc, tok);
    return t ? (rt_json_type)t->type : RT_JSON_NONE;
}

/* Decodes the escape at raw[*i], inside a string token, into out and
 * moves *i past it; returns the byte count. The parser accepted the escape,
 * so it decodes; if the caller altered the tokens, the backslash is
 * skipped, so a loop over the string still ends. */
static size_t rt__json_unescape(const unsigned char *raw, size_t n, size_t *i,
                                unsigned char out[4])
{
    uint32_t cp;
    if (rt__json_escape_cp(raw, n, i, &cp) != RT_OK) {
        (*i)++;
        return 0;
    }
    return rt__json_utf8_put(cp, out);
}

/* rt_json_eq with the length of s known. Escapes are decoded one at a
 * time and compared as they come, so nothing is copied. */
static int rt__json_eqn(const rt_json *doc, int tok, const char *s, size_t n)
{
    const rt_json_tok *t = rt__json_tok(doc, tok);
    const unsigned char *raw;
    size_t rawn, i = 0, o = 0, k;
    unsigned char tmp[4];
    if (!t || t->type != RT_JSON_STRING || t->size != n)
        return 0;
    raw = rt__json_inner(doc, t, &rawn);
    if (rawn == n) /* no escapes */
        return memcmp(raw, s, n) == 0;
    while (i < rawn) {
        if (raw[i] != '\\') {
            if (raw[i++] != (unsigned char)s[o++])
                return 0;
            continue;
        }
        k = rt__json_unescape(raw, rawn, &i, tmp);
        if (memcmp(tmp, s + o, k) != 0) /* o + k <= n: size counts these bytes */
            return 0;
        o += k;
    }
    return 1;
}

int rt_json_eq(const rt_json *doc, int tok, const char *s)
{
    return rt__json_eqn(doc, tok, s, strlen(s));
}

int rt_json_get(const rt_json *doc, int obj, const char *key)
{
    const rt_json_tok *o = rt__json_tok(doc, obj);
    size_t keylen = strlen(key);
    uint32_t m;
    int k = obj + 1, found = -1;
    if (!o || o->type != RT_JSON_OBJECT)
        return -1;
    /* Every member is looked at, so a duplicate name gives the last value,
     * as JSON.parse does (see json.h). */
    for (m = 0; m < o->size; m++) {
        if (rt__json_eqn(doc, k, key, keylen))
            found = k + 1;
        k = (int)doc->toks[k + 1].next;
    }
    return found;
}

int rt_json_at(const rt_json *doc, int arr, size_t i)
{
    const rt_json_tok *a = rt__json_tok(doc, arr);
    int k = arr + 1;
    if (!a || a->type != RT_JSON_ARRAY || i >= a->size)
        return -1;
    while (i-- > 0)
        k = (int)doc->toks[k].next;
    return k;
}

rt_result rt_json_str(const rt_json *doc, int tok, char *buf, size_t cap, size_t *len)
{
    rt_result r = rt__json_want(doc, tok, RT_JSON_STRING);
    const unsigned char *raw;
    size_t rawn, i = 0, run;
    if (r != RT_OK)
        return r;
    if (len)
        *len = doc->toks[tok].size;
    if (cap <= doc->toks[tok].size) /* the NUL needs a byte too */
        return RT_E_NOSPACE;
    raw = rt__json_inner(doc, &doc->toks[tok], &rawn);
    while (i < rawn) {
        for (run = i; run < rawn && raw[run] != '\\'; run++)
            ;
        memcpy(buf, raw + i, run - i);
        buf += run - i;
        i = run;
        if (i < rawn)
            buf += rt__json_unescape(raw, rawn, &i, (unsigned char *)buf);
    }
    *buf = '\0';
    return RT_OK;
}

rt_result rt_json_int(const rt_json *doc, int tok, int64_t *out)
{
    rt_result r = rt__json_want(doc, tok, RT_JSON_NUMBER);
    const char *s;
    size_t i, n;
    uint64_t v = 0, lim;
    int neg, big = 0;
    if (r != RT_OK)
        return r;
    s = doc->src + doc->toks[tok].start;
    n = doc->toks[tok].end - doc->toks[tok].start;
    neg = s[0] == '-';
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (i = (size_t)neg; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9)
            return RT_E_PROTO; /* '.', 'e' or 'E': not an integer */
        big = big || v > (lim - d) / 10;
        v = big ? v : v * 10 + d;
    }
    if (big)
        return RT_E_LIMIT;
    if (neg)
        *out = v > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return RT_OK;
}

rt_result rt_json_bool(const rt_json *doc, int tok, int *out)
{
    rt_result r = rt__json_want(doc, tok, RT_JSON_TRUE);
    if (r == RT_E_PROTO)
        r = rt__json_want(doc, tok, RT_JSON_FALSE);
    if (r == RT_OK)
        *out = doc->toks[tok].type == RT_JSON_TRUE;
    return r;
}

rt_str rt_json_raw(const rt_json *doc, int tok)
{
    const rt_json_tok *t = rt__json_tok(doc, tok);
    rt_str v;
    v.p = t ? doc->src + t->start : NULL;
    v.n = t ? t->end - t->start : 0;
    return v;
}
/* ==== End src/base/json.c ==== */

/* ==== Begin src/base/list.c ==== */ // >>list
/* list.c - the shared intrusive list (see list.h). */

/* An all-zero head is an empty list; the first insert links it to itself. */
static void rt__list_ready(rt_list *head)
{
    if (!head->next)
        head->next = head->prev = head;
}

int rt_list_linked(const rt_list *n)
{
    return n->next != NULL && n->next != n;
}

void rt_list_push_back(rt_list *head, rt_list *n)
{
    rt__list_ready(head);
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

void rt_list_push_front(rt_list *head, rt_list *n)
{
    rt__list_ready(head);
    n->next = head->next;
    n->prev = head;
    head->next->prev = n;
    head->next = n;
}

void rt_list_unlink(rt_list *n)
{
    if (!n->next)
        return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

rt_list *rt_list_first(const rt_list *head)
{
    return rt_list_linked(head) ? head->next : NULL;
}

rt_list *rt_list_next(const rt_list *head, const rt_list *n)
{
    return n->next == head ? NULL : n->next;
}

rt_list *rt_list_last(const rt_list *head)
{
    return rt_list_linked(head) ? head->prev : NULL;
}
/* ==== End src/base/list.c ==== */

/* ==== Begin src/base/hash.c ==== */ // >>hash
/* hash.c - the shared intrusive hash table (see hash.h).
 *
 * Chains are singly linked: removal walks one chain, which the load limit
 * (at most one entry per bucket on average) keeps short, and a node costs
 * one pointer plus its hash. Growing and shrinking move every node into a
 * fresh array by its stored hash; a new array is allocated before the old
 * one is let go, so a failure leaves the table as it was.
 */

#define RT__HASH_MIN_BUCKETS 16u

static rt_hash_node **rt__hash_bucket(const rt_hash *t, uint32_t hash)
{
    return &t->_buckets[hash & (t->_n_buckets - 1)];
}

/* Moves every node into a new array of n buckets. RT_E_NOMEM (t unchanged)
 * when it cannot be allocated. */
static rt_result rt__hash_resize(rt_hash *t, const rt_allocator *a, size_t n)
{
    rt_hash old = *t;
    rt_hash_node *x, *next, **b;
    size_t i;
    b = n <= SIZE_MAX / sizeof *b ? (rt_hash_node **)rt_alloc(a, n * sizeof *b) : NULL;
    if (!b)
        return RT_E_NOMEM;
    for (i = 0; i < n; i++)
        b[i] = NULL;
    t->_buckets = b;
    t->_n_buckets = n;
    for (i = 0; i < old._n_buckets; i++) {
        for (x = old._buckets[i]; x; x = next) {
            next = x->_next;
            x->_next = *rt__hash_bucket(t, x->hash);
            *rt__hash_bucket(t, x->hash) = x;
        }
    }
    rt_free(a, old._buckets, old._n_buckets * sizeof *b);
    return RT_OK;
}

rt_result rt_hash_reserve(rt_hash *t, const rt_allocator *a, size_t n)
{
    size_t size = t->_n_buckets > 0 ? t->_n_buckets : RT__HASH_MIN_BUCKETS;
    if (t->_buckets && n <= t->_n_buckets)
        return RT_OK;
    while (size < n && size <= SIZE_MAX / 2)
        size *= 2;
    if (size < n || rt__hash_resize(t, a, size) != RT_OK)
        return t->_buckets ? RT_OK : RT_E_NOMEM;
    return RT_OK;
}

void rt_hash_shrink(rt_hash *t, const rt_allocator *a, size_t n)
{
    size_t size = t->_n_buckets;
    while (size > RT__HASH_MIN_BUCKETS && n <= size / 4)
        size /= 2;
    if (size < t->_n_buckets)
        rt__hash_resize(t, a, size); /* on failure the bigger array stays */
}

void rt_hash_deinit(rt_hash *t, const rt_allocator *a)
{
    rt_free(a, t->_buckets, t->_n_buckets * sizeof *t->_buckets);
    t->_buckets = NULL;
    t->_n_buckets = 0;
}

void rt_hash_insert(rt_hash *t, rt_hash_node *x, uint32_t hash)
{
    rt_hash_node **b;
    RT_ASSERT(t->_buckets != NULL);
    b = rt__hash_bucket(t, hash);
    x->hash = hash;
    x->_next = *b;
    *b = x;
}

void rt_hash_remove(rt_hash *t, rt_hash_node *x)
{
    rt_hash_node **pp = rt__hash_bucket(t, x->hash);
    while (*pp != x) {
        RT_ASSERT(*pp != NULL); /* x was not in t */
        pp = &(*pp)->_next;
    }
    *pp = x->_next;
    x->_next = NULL;
}

/* x itself when it has that hash, else the next node of its chain that has. */
static rt_hash_node *rt__hash_match(rt_hash_node *x, uint32_t hash)
{
    while (x && x->hash != hash)
        x = x->_next;
    return x;
}

rt_hash_node *rt_hash_find(const rt_hash *t, uint32_t hash)
{
    return t->_buckets ? rt__hash_match(*rt__hash_bucket(t, hash), hash) : NULL;
}

rt_hash_node *rt_hash_find_next(const rt_hash_node *x)
{
    return rt__hash_match(x->_next, x->hash);
}

/* The head of the first non-empty chain at bucket i or after it. */
static rt_hash_node *rt__hash_from(const rt_hash *t, size_t i)
{
    for (; i < t->_n_buckets; i++) {
        if (t->_buckets[i])
            return t->_buckets[i];
    }
    return NULL;
}

rt_hash_node *rt_hash_first(const rt_hash *t)
{
    return rt__hash_from(t, 0);
}

rt_hash_node *rt_hash_next(const rt_hash *t, const rt_hash_node *x)
{
    return x->_next ? x->_next : rt__hash_from(t, (x->hash & (t->_n_buckets - 1)) + 1);
}
/* ==== End src/base/hash.c ==== */

/* ==== Begin src/base/heap.c ==== */ // >>heap
/* heap.c - the shared binary min-heap (see heap.h).
 *
 * Array layout: the children of [i] are [2i+1] and [2i+2]. An element that
 * moves is written once, at its final place, with its place field: the
 * sifts carry it in a local and shift the others over it.
 */

#define RT__HEAP_MIN_CAP 8u

static uint64_t rt__heap_key(const rt_heap *h, const void *e)
{
    return *(const uint64_t *)(const void *)((const char *)e + h->_key_at);
}

static size_t *rt__heap_slot(const rt_heap *h, void *e)
{
    return (size_t *)(void *)((char *)e + h->_slot_at);
}

static void rt__heap_put(rt_heap *h, size_t i, void *e)
{
    h->_items[i] = e;
    *rt__heap_slot(h, e) = i + 1;
}

/* Moves the element at i towards the root while its parent's key is greater. */
static void rt__heap_up(rt_heap *h, size_t i)
{
    void *e = h->_items[i];
    uint64_t k = rt__heap_key(h, e);
    while (i > 0 && rt__heap_key(h, h->_items[(i - 1) / 2]) > k) {
        rt__heap_put(h, i, h->_items[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    rt__heap_put(h, i, e);
}

/* Moves the element at i towards the leaves while a child's key is less. */
static void rt__heap_down(rt_heap *h, size_t i)
{
    void *e = h->_items[i];
    uint64_t k = rt__heap_key(h, e);
    size_t c;
    while ((c = 2 * i + 1) < h->n) {
        if (c + 1 < h->n && rt__heap_key(h, h->_items[c + 1]) < rt__heap_key(h, h->_items[c]))
            c++;
        if (k <= rt__heap_key(h, h->_items[c]))
            break;
        rt__heap_put(h, i, h->_items[c]);
        i = c;
    }
    rt__heap_put(h, i, e);
}

/* Restores order around i, whose key changed in either direction. */
static void rt__heap_fix(rt_heap *h, size_t i)
{
    if (i > 0 && rt__heap_key(h, h->_items[i]) < rt__heap_key(h, h->_items[(i - 1) / 2]))
        rt__heap_up(h, i);
    else
        rt__heap_down(h, i);
}

void rt_heap_init(rt_heap *h, size_t key_offset, size_t slot_offset)
{
    RT_ASSERT(key_offset <= UINT32_MAX && slot_offset <= UINT32_MAX);
    h->_items = NULL;
    h->n = h->_cap = 0;
    h->_key_at = (uint32_t)key_offset;
    h->_slot_at = (uint32_t)slot_offset;
}

void rt_heap_deinit(rt_heap *h, const rt_allocator *a)
{
    rt_free(a, h->_items, h->_cap * sizeof *h->_items);
    h->_items = NULL;
    h->n = h->_cap = 0;
}

/* Reallocates the array to cap entries (cap >= h->n). */
static rt_result rt__heap_resize(rt_heap *h, const rt_allocator *a, size_t cap)
{
    size_t sz = sizeof *h->_items;
    void *p;
    if (cap > SIZE_MAX / sz)
        return RT_E_NOMEM;
    p = h->_items ? rt_realloc(a, h->_items, h->_cap * sz, cap * sz) : rt_alloc(a, cap * sz);
    if (!p)
        return RT_E_NOMEM;
    h->_items = (void **)p;
    h->_cap = cap;
    return RT_OK;
}

rt_result rt_heap_reserve(rt_heap *h, const rt_allocator *a, size_t n)
{
    size_t cap = h->_cap > 0 ? h->_cap : RT__HEAP_MIN_CAP;
    if (n <= h->_cap)
        return RT_OK;
    while (cap < n) {
        if (cap > SIZE_MAX / 2)
            return RT_E_NOMEM;
        cap *= 2;
    }
    return rt__heap_resize(h, a, cap);
}

void rt_heap_shrink(rt_heap *h, const rt_allocator *a, size_t n)
{
    size_t cap = h->_cap;
    if (n < h->n)
        n = h->n;
    while (cap > 2 * RT__HEAP_MIN_CAP && n <= cap / 4)
        cap /= 2;
    if (cap < h->_cap)
        rt__heap_resize(h, a, cap); /* on failure the bigger array stays */
}

void rt_heap_insert(rt_heap *h, void *e)
{
    RT_ASSERT(h->n < h->_cap && *rt__heap_slot(h, e) == 0);
    h->_items[h->n] = e;
    rt__heap_up(h, h->n++);
}

void rt_heap_remove(rt_heap *h, void *e)
{
    size_t *slot = rt__heap_slot(h, e), i = *slot;
    void *last;
    if (i == 0)
        return;
    *slot = 0;
    last = h->_items[--h->n];
    if (last != e) {
        h->_items[i - 1] = last;
        rt__heap_fix(h, i - 1);
    }
}

void rt_heap_update(rt_heap *h, void *e)
{
    RT_ASSERT(*rt__heap_slot(h, e) != 0);
    rt__heap_fix(h, *rt__heap_slot(h, e) - 1);
}

void *rt_heap_min(const rt_heap *h)
{
    return h->n > 0 ? h->_items[0] : NULL;
}
/* ==== End src/base/heap.c ==== */

/* ==== Begin src/codec/http.c ==== */ // >>http
/* http.c - HTTP/1.1 request parser and response writer (RFC 9110, RFC 9112).
 *
 * The parser works line by line. Each call searches the new bytes for LF
 * (memchr), checks every line that became complete, and stops at the blank
 * line that ends the head. The checks of one line need nothing but that
 * line, so they can run the moment its LF arrives: garbage is answered at
 * once instead of after 8 KiB. What needs the whole head (Host, framing,
 * keep-alive) runs once, after the blank line. The state kept between calls
 * is three offsets, because the caller's buffer may have moved; when the head
 * completes in a later call than it began, its lines are walked once more to
 * point the views into the current buffer. Either way each byte is searched
 * once and checked at most twice, so feeding byte by byte stays O(n).
 */

/* The head length is returned as an rt_result (an int), and the parser
 * keeps offsets into the head in 32 bits. */
#if RT_HTTP_MAX_HEADER_BYTES > INT_MAX
#error "RT_HTTP_MAX_HEADER_BYTES must fit in an int"
#endif

/* Where one call's line scan stands. */
typedef struct rt__http_scan {
    const char *buf;
    size_t start;      /* first byte of the request line */
    size_t lim;        /* bytes we may look at: min(len, max header bytes) */
    size_t pos;        /* next byte to search for LF */
    size_t line;       /* first byte of the current line */
    size_t fields;     /* header lines checked so far */
    size_t max_fields;
    rt_http_request *req;
} rt__http_scan;

static rt_str rt__http_view(const char *p, size_t n)
{
    rt_str s;
    s.p = p;
    s.n = n;
    return s;
}

/* Records the status to answer with and picks the matching result code. */
static rt_result rt__http_fail(rt_http_request *req, int status)
{
    req->status = status;
    return status == 413 || status == 431 ? RT_E_LIMIT : RT_E_PROTO;
}

/* A run-time limit may only lower the compiled one; 0 keeps it. */
static size_t rt__http_limit(size_t runtime, size_t compiled)
{
    return runtime != 0 && runtime < compiled ? runtime : compiled;
}

/* RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
 * "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA, as a bitmap of ASCII. */
static int rt__http_tchar(unsigned char c)
{
    static const uint32_t map[4] = {0x00000000, 0x03ff6cfa, 0xc7fffffe, 0x57ffffff};
    return c < 128 && ((map[c >> 5] >> (c & 31)) & 1);
}

static size_t rt__http_token_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && rt__http_tchar((unsigned char)s[i]))
        i++;
    return i;
}

static int rt__http_is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Takes the next sep-separated item off the front of *list, without the
 * optional whitespace around it (RFC 9110 5.6.1). 0 when none is left. */
static int rt__http_next_item(rt_str *list, char sep, rt_str *item)
{
    const char *end;
    size_t n, b = 0;
    if (list->n == 0)
        return 0;
    end = (const char *)memchr(list->p, sep, list->n);
    n = end ? (size_t)(end - list->p) : list->n;
    while (b < n && rt__http_is_ows(list->p[b]))
        b++;
    *item = rt__http_view(list->p + b, n - b);
    while (item->n > 0 && rt__http_is_ows(item->p[item->n - 1]))
        item->n--;
    list->p += end ? n + 1 : n;
    list->n -= end ? n + 1 : n;
    return 1;
}

static int rt__http_list_has(rt_str list, rt_str token)
{
    rt_str item;
    while (rt__http_next_item(&list, ',', &item)) {
        if (rt_str_ieq(item, token))
            return 1;
    }
    return 0;
}

/* ---- The request line (RFC 9112 3) -------------------------------------- */

/* RFC 9112 2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive. A
 * well-formed version we do not speak is a 505, anything else a 400. */
static rt_result rt__http_version(rt_http_request *req, const char *v, size_t n)
{
    if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9')
        return rt__http_fail(req, 400);
    if (v[5] != '1' || v[7] > '1')
        return rt__http_fail(req, 505);
    req->version_minor = v[7] - '0';
    return RT_OK;
}

/* The methods we serve; other tokens are 405 (RFC 9110 15.5.6). Method
 * names are case-sensitive (RFC 9110 9.1). */
static int rt__http_method_served(rt_str m)
{
    static const char *const served[] = {"GET", "HEAD", "POST", "PUT",
                                         "DELETE", "OPTIONS", "PATCH"};
    size_t i;
    for (i = 0; i < sizeof served / sizeof served[0]; i++) {
        if (rt_str_eq(m, rt_str_c(served[i])))
            return 1;
    }
    return 0;
}

/* The target runs to the next SP; it may hold only visible ASCII (an URI
 * percent-encodes everything else, RFC 3986 2.1). */
static size_t rt__http_target_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f)
        i++;
    return i;
}

/* RFC 9112 3.2: origin-form ("/path?query") or, for OPTIONS only,
 * asterisk-form ("*"). The absolute and authority forms are not served. */
static rt_result rt__http_target_form(rt_http_request *req)
{
    rt_str t = req->target;
    const char *q;
    if (t.n == 1 && t.p[0] == '*') {
        if (!rt_str_eq(req->method, rt_str_c("OPTIONS")))
            return rt__http_fail(req, 400);
    } else if (t.p[0] != '/') {
        return rt__http_fail(req, 400);
    }
    q = (const char *)memchr(t.p, '?', t.n);
    req->path = rt__http_view(t.p, q ? (size_t)(q - t.p) : t.n);
    req->query = q ? rt__http_view(q + 1, t.n - req->path.n - 1) : rt__http_view(t.p + t.n, 0);
    return RT_OK;
}

/* request-line = method SP request-target SP HTTP-version (RFC 9112 3), with
 * single spaces. Syntax errors come first (400), then the version (505),
 * the method (405) and the form of the target (400). A line with no version
 * is an HTTP/0.9 request: 505. */
static rt_result rt__http_request_line(rt_http_request *req, const char *s, size_t n)
{
    size_t m = rt__http_token_len(s, n), t;
    rt_result r;
    if (m == 0 || m == n || s[m] != ' ')
        return rt__http_fail(req, 400);
    req->method = rt__http_view(s, m);
    s += m + 1;
    n -= m + 1;
    t = rt__http_target_len(s, n);
    if (t == 0 || (t < n && s[t] != ' '))
        return rt__http_fail(req, 400);
    req->target = rt__http_view(s, t);
    if (t == n)
        return rt__http_fail(req, 505);
    r = rt__http_version(req, s + t + 1, n - t - 1);
    if (r != RT_OK)
        return r;
    if (!rt__http_method_served(req->method))
        return rt__http_fail(req, 405);
    return rt__http_target_form(req);
}

/* ---- Header lines (RFC 9112 5) ------------------------------------------- */

/* RFC 9110 5.5: a field value holds SP, HTAB, VCHAR and obs-text, and no
 * other control character (this also catches a bare CR, since the line's
 * own CR is not part of the value). Eight bytes at a time while none is
 * below SP or equal to DEL; the byte loop settles the rest and HTAB. */
static int rt__http_value_ok(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, del;
        memcpy(&x, s + i, 8);
        del = x ^ (ones * 0x7f);
        if ((((x - ones * 0x20) & ~x) | ((del - ones) & ~del)) & highs)
            break;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}

/* field-line = field-name ":" OWS field-value OWS. A line that starts with
 * SP/HTAB is obsolete line folding, and whitespace before the colon is
 * forbidden (RFC 9112 5.1, 5.2): both fail the token check. */
static rt_result rt__http_field_line(rt_http_request *req, const char *s, size_t n,
                                     rt_http_header *h)
{
    size_t i = rt__http_token_len(s, n), k, end = n;
    if (i == 0 || i == n || s[i] != ':' || !rt__http_value_ok(s + i + 1, n - i - 1))
        return rt__http_fail(req, 400);
    for (k = i + 1; k < end && rt__http_is_ows(s[k]); k++)
        ;
    while (end > k && rt__http_is_ows(s[end - 1]))
        end--;
    h->name = rt__http_view(s, i);
    h->value = rt__http_view(s + k, end - k);
    return RT_OK;
}

/* ---- Finding and checking the lines --------------------------------------- */

/* Checks the line that ends with the LF at buf[lf]. Returns RT_OK to go on,
 * the head length at the blank line, or an error. */
static rt_result rt__http_line(rt__http_scan *st, size_t lf)
{
    size_t b = st->line, n;
    rt_result r;
    /* RFC 9112 2.2: CRLF only (see http.h for why a bare LF is refused) */
    if (lf == b || st->buf[lf - 1] != '\r')
        return rt__http_fail(st->req, 400);
    n = lf - 1 - b;
    if (n == 0)
        return b == st->start ? rt__http_fail(st->req, 400) : (rt_result)(lf + 1);
    if (b == st->start)
        return rt__http_request_line(st->req, st->buf + b, n);
    if (st->fields >= st->max_fields)
        return rt__http_fail(st->req, 431);
    r = rt__http_field_line(st->req, st->buf + b, n, &st->req->headers[st->fields]);
    st->fields++;
    return r;
}

/* Checks every line that completes below st->lim. Returns the head length,
 * an error, or RT_AGAIN with st->pos at the end of what was searched. */
static rt_result rt__http_scan_lines(rt__http_scan *st)
{
    while (st->pos < st->lim) {
        const char *lf = (const char *)memchr(st->buf + st->pos, '\n', st->lim - st->pos);
        size_t at;
        rt_result r;
        if (!lf) {
            st->pos = st->lim;
            break;
        }
        at = (size_t)(lf - st->buf);
        r = rt__http_line(st, at);
        if (r != RT_OK)
            return r;
        st->pos = st->line = at + 1;
    }
    return RT_AGAIN;
}

/* RFC 9112 2.2: a server SHOULD ignore at least one empty line before the
 * request line (some clients send CRLF after a POST body). We ignore one. */
static size_t rt__http_skip(const char *buf, size_t len)
{
    return len >= 2 && buf[0] == '\r' && buf[1] == '\n' ? 2 : 0;
}

static void rt__http_scan_init(rt__http_scan *st, const rt_http_parser *p, const char *buf,
                               size_t len, rt_http_request *req)
{
    size_t max_bytes = rt__http_limit(p->max_header_bytes, RT_HTTP_MAX_HEADER_BYTES);
    st->buf = buf;
    st->start = rt__http_skip(buf, len);
    st->lim = len < max_bytes ? len : max_bytes;
    st->pos = p->_scanned > st->start ? p->_scanned : st->start;
    st->line = p->_line > st->start ? p->_line : st->start;
    st->fields = p->_fields;
    st->max_fields = rt__http_limit(p->max_headers, RT_HTTP_MAX_HEADERS);
    st->req = req;
}

/* ---- The whole head: Host, framing, persistence --------------------------- */

/* 1 when name is want (n bytes, lower case) in any case. */
static int rt__http_name_is(rt_str name, const char *want, size_t n)
{
    return name.n == n && rt_str_ieq(name, rt__http_view(want, n));
}

/* RFC 9110 8.6: Content-Length = 1*DIGIT. Parsed as 64 bits so that the
 * answer (400 for an overflow, else 413 when too big) is the same on 32-bit
 * targets. */
static rt_result rt__http_content_length(rt_str v, uint64_t *out)
{
    uint64_t n = 0;
    size_t i;
    if (v.n == 0)
        return RT_E_PROTO;
    for (i = 0; i < v.n; i++) {
        unsigned d = (unsigned)(unsigned char)v.p[i] - '0';
        if (d > 9 || n > (UINT64_MAX - d) / 10)
            return RT_E_PROTO;
        n = n * 10 + d;
    }
    *out = n;
    return RT_OK;
}

/* What the head says about Host, framing and persistence. */
typedef struct rt__http_seen {
    size_t hosts, lengths;
    rt_str length;
    int chunked, conn_close, conn_keep;
} rt__http_seen;

static void rt__http_note(rt__http_seen *seen, const rt_http_header *h)
{
    if (rt__http_name_is(h->name, "host", 4)) {
        seen->hosts++;
    } else if (rt__http_name_is(h->name, "content-length", 14)) {
        seen->lengths++;
        seen->length = h->value;
    } else if (rt__http_name_is(h->name, "transfer-encoding", 17)) {
        seen->chunked = 1;
    } else if (rt__http_name_is(h->name, "connection", 10)) {
        seen->conn_close |= rt__http_list_has(h->value, rt__http_view("close", 5));
        seen->conn_keep |= rt__http_list_has(h->value, rt__http_view("keep-alive", 10));
    }
}

/* The checks that need the whole head, in order:
 * RFC 9112 3.2: 400 for an HTTP/1.1 request without Host, and for any
 * request with more than one.
 * RFC 9112 6: Content-Length framing only. A repeated Content-Length is
 * refused (6.3 allows merging equal ones, but refusing is safer against
 * smuggling); Transfer-Encoding is 501, and 400 in HTTP/1.0 (6.1). */
static rt_result rt__http_framing(rt_http_request *req, const rt__http_seen *seen,
                                  size_t max_body)
{
    uint64_t n = 0;
    if (seen->hosts > 1 || (seen->hosts == 0 && req->version_minor == 1))
        return rt__http_fail(req, 400);
    if (seen->lengths > 1 ||
        (seen->lengths == 1 && rt__http_content_length(seen->length, &n) != RT_OK))
        return rt__http_fail(req, 400);
    if (seen->chunked)
        return rt__http_fail(req, req->version_minor == 0 ? 400 : 501);
    if (n > max_body)
        return rt__http_fail(req, 413);
    req->content_length = (size_t)n;
    return RT_OK;
}

/* Runs the checks that need the whole head, and fills the rest of req. */
static rt_result rt__http_finish(const rt_http_parser *p, rt__http_scan *st, size_t head_len)
{
    rt_http_request *req = st->req;
    rt__http_seen seen;
    rt_result r;
    size_t i;
    memset(&seen, 0, sizeof seen);
    req->num_headers = st->fields;
    req->head_len = head_len;
    req->content_length = 0;
    for (i = 0; i < req->num_headers; i++)
        rt__http_note(&seen, &req->headers[i]);
    r = rt__http_framing(req, &seen, rt__http_limit(p->max_body, RT_HTTP_MAX_BODY));
    if (r != RT_OK)
        return r;
    /* RFC 9112 9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with
     * "keep-alive" */
    req->keep_alive = !seen.conn_close && (req->version_minor == 1 || seen.conn_keep);
    return (rt_result)head_len;
}

void rt_http_parser_init(rt_http_parser *p)
{
    memset(p, 0, sizeof *p);
}

rt_result rt_http_parse_request(rt_http_parser *p, const char *buf, size_t len,
                                rt_http_request *req)
{
    rt__http_scan st;
    rt_result r;
    int fresh;
    RT_ASSERT(p && req && (buf || len == 0));
    req->status = 0;
    if (len < p->_scanned) {
        req->status = 500;
        return RT_E_INVAL;
    }
    rt__http_scan_init(&st, p, buf, len, req);
    fresh = st.line == st.start; /* every line will be seen by this call */
    r = rt__http_scan_lines(&st);
    if (r == RT_AGAIN) {
        if (len >= rt__http_limit(p->max_header_bytes, RT_HTTP_MAX_HEADER_BYTES))
            return rt__http_fail(req, 431);
        p->_scanned = (uint32_t)st.pos; /* all < max header bytes <= INT_MAX */
        p->_line = (uint32_t)st.line;
        p->_fields = (uint32_t)st.fields;
        return RT_AGAIN;
    }
    if (r > 0 && !fresh) {
        /* earlier lines were checked in older calls: point views into buf */
        st.pos = st.line = st.start;
        st.fields = 0;
        r = rt__http_scan_lines(&st);
    }
    return r > 0 ? rt__http_finish(p, &st, (size_t)r) : r;
}

/* ---- Looking things up in a parsed request -------------------------------- */

const rt_http_header *rt_http_header_get(const rt_http_request *req, const char *name)
{
    rt_str want = rt_str_c(name);
    size_t i;
    for (i = 0; i < req->num_headers; i++) {
        if (rt_str_ieq(req->headers[i].name, want))
            return &req->headers[i];
    }
    return NULL;
}

int rt_http_header_has_token(const rt_http_request *req, const char *name, const char *token)
{
    rt_str want = rt_str_c(name), tok = rt_str_c(token);
    size_t i;
    for (i = 0; i < req->num_headers; i++) {
        const rt_http_header *h = &req->headers[i];
        if (rt_str_ieq(h->name, want) && rt__http_list_has(h->value, tok))
            return 1;
    }
    return 0;
}

/* Splits "name=value" at the first '='; no '=' gives an empty value. */
static void rt__http_split_pair(rt_str item, rt_str *name, rt_str *value)
{
    const char *eq = (const char *)memchr(item.p, '=', item.n);
    size_t n = eq ? (size_t)(eq - item.p) : item.n;
    *name = rt__http_view(item.p, n);
    *value = eq ? rt__http_view(eq + 1, item.n - n - 1) : rt__http_view(item.p + n, 0);
}

static int rt__http_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One decoded byte of s at *i (application/x-www-form-urlencoded: %XX and
 * '+' for space), advancing *i; -1 for a bad %-escape. */
static int rt__http_unescape(rt_str s, size_t *i)
{
    char c = s.p[*i];
    int hi, lo;
    if (c != '%') {
        *i += 1;
        return c == '+' ? ' ' : (unsigned char)c;
    }
    if (s.n - *i < 3)
        return -1;
    hi = rt__http_hex(s.p[*i + 1]);
    lo = rt__http_hex(s.p[*i + 2]);
    if (hi < 0 || lo < 0)
        return -1;
    *i += 3;
    return hi << 4 | lo;
}

/* 1 when the decoded name equals key. */
static int rt__http_key_is(rt_str name, const char *key)
{
    size_t i = 0, k = 0;
    while (i < name.n) {
        int c = rt__http_unescape(name, &i);
        if (c < 0 || key[k] == '\0' || (unsigned char)key[k] != c)
            return 0;
        k++;
    }
    return key[k] == '\0';
}

/* Decodes s into out (when not NULL) and sets *n to the decoded length.
 * RT_E_PROTO for a bad escape. Never writes more than the decoded length. */
static rt_result rt__http_unescape_all(rt_str s, char *out, size_t *n)
{
    size_t i = 0;
    *n = 0;
    while (i < s.n) {
        int c = rt__http_unescape(s, &i);
        if (c < 0)
            return RT_E_PROTO;
        if (out)
            out[*n] = (char)c;
        *n += 1;
    }
    return RT_OK;
}

/* Copies an n-byte value and its NUL into out; on failure out holds "". */
static rt_result rt__http_give(char *out, size_t cap, size_t n, rt_result err)
{
    if (err == RT_OK && n > (size_t)INT_MAX)
        err = RT_E_LIMIT; /* the length must fit the int result */
    if (err == RT_OK && n >= cap)
        err = RT_E_NOSPACE;
    if (cap > 0)
        out[err == RT_OK ? n : 0] = '\0';
    return err == RT_OK ? (rt_result)n : err;
}

rt_result rt_http_query_get(rt_str query, const char *key, char *out, size_t cap)
{
    rt_str item, name, value;
    size_t n;
    while (rt__http_next_item(&query, '&', &item)) {
        rt__http_split_pair(item, &name, &value);
        if (!rt__http_key_is(name, key))
            continue;
        /* measure first, so a bad escape is reported whatever cap is */
        if (rt__http_unescape_all(value, NULL, &n) != RT_OK)
            return rt__http_give(out, cap, 0, RT_E_PROTO);
        if (n < cap)
            rt__http_unescape_all(value, out, &n);
        return rt__http_give(out, cap, n, RT_OK);
    }
    return rt__http_give(out, cap, 0, RT_E_NOTFOUND);
}

/* Finds key among the "name=value" pairs of one Cookie header value. */
static int rt__http_cookie_find(rt_str list, rt_str key, rt_str *value)
{
    rt_str item, name;
    while (rt__http_next_item(&list, ';', &item)) {
        rt__http_split_pair(item, &name, value);
        if (rt_str_eq(name, key))
            return 1;
    }
    return 0;
}

rt_result rt_http_cookie_get(const rt_http_request *req, const char *key, char *out, size_t cap)
{
    rt_str want = rt_str_c(key), v;
    size_t i;
    for (i = 0; i < req->num_headers; i++) {
        if (!rt__http_name_is(req->headers[i].name, "cookie", 6) ||
            !rt__http_cookie_find(req->headers[i].value, want, &v))
            continue;
        /* RFC 6265 4.1.1: cookie-value = *cookie-octet / DQUOTE *cookie-octet DQUOTE */
        if (v.n >= 2 && v.p[0] == '"' && v.p[v.n - 1] == '"')
            v = rt__http_view(v.p + 1, v.n - 2);
        if (v.n < cap)
            memcpy(out, v.p, v.n);
        return rt__http_give(out, cap, v.n, RT_OK);
    }
    return rt__http_give(out, cap, 0, RT_E_NOTFOUND);
}

/* ---- Writing responses ------------------------------------------------------ */

const char *rt_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* An snprintf-like sink: counts every byte, stores those that fit. */
typedef struct rt__http_out {
    char *buf;
    size_t cap;
    size_t len;
} rt__http_out;

static void rt__http_put(rt__http_out *o, const char *s, size_t n)
{
    if (o->len < o->cap)
        memcpy(o->buf + o->len, s, n < o->cap - o->len ? n : o->cap - o->len);
    o->len = n > SIZE_MAX - o->len ? SIZE_MAX : o->len + n;
}

static void rt__http_puts(rt__http_out *o, const char *s)
{
    if (s)
        rt__http_put(o, s, strlen(s));
}

static void rt__http_put_num(rt__http_out *o, size_t v)
{
    char digits[3 * sizeof(size_t)];
    size_t i = sizeof digits;
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    rt__http_put(o, digits + i, sizeof digits - i);
}

static size_t rt__http_end(rt__http_out *o)
{
    if (o->len < o->cap)
        o->buf[o->len] = '\0';
    return o->len;
}

/* The status line, the header lines and the blank line. RFC 9112 4:
 * status-code = 3DIGIT. RFC 9110 8.6: no Content-Length in a 1xx or 204
 * response; in a 304 it would have to be the length of the 200 response,
 * which we are not told, so it is left out too (the caller may add it). */
static void rt__http_head(rt__http_out *o, int status, const char *extra, const char *extra2,
                          const char *content_type, size_t body_len)
{
    if (status < 100 || status > 599)
        status = 500;
    rt__http_puts(o, "HTTP/1.1 ");
    rt__http_put_num(o, (size_t)status);
    rt__http_puts(o, " ");
    rt__http_puts(o, rt_http_reason(status));
    rt__http_puts(o, "\r\n");
    rt__http_puts(o, extra);
    rt__http_puts(o, extra2);
    if (content_type) {
        rt__http_puts(o, "Content-Type: ");
        rt__http_puts(o, content_type);
        rt__http_puts(o, "\r\n");
    }
    if (status >= 200 && status != 204 && status != 304) {
        rt__http_puts(o, "Content-Length: ");
        rt__http_put_num(o, body_len);
        rt__http_puts(o, "\r\n");
    }
    rt__http_puts(o, "\r\n");
}

size_t rt_http_format_head(char *buf, size_t cap, int status, const char *extra_headers,
                           const char *content_type, size_t body_len)
{
    rt__http_out o;
    o.buf = buf;
    o.cap = cap;
    o.len = 0;
    rt__http_head(&o, status, extra_headers, NULL, content_type, body_len);
    return rt__http_end(&o);
}

size_t rt_http_format_error(char *buf, size_t cap, int status, const char *extra_headers)
{
    rt__http_out o;
    const char *reason;
    o.buf = buf;
    o.cap = cap;
    o.len = 0;
    if (status < 400 || status > 599)
        status = 500;
    reason = rt_http_reason(status);
    /* the body: "404 Not Found\n" */
    rt__http_head(&o, status, extra_headers, "Connection: close\r\n",
                  "text/plain; charset=utf-8", 3 + 1 + strlen(reason) + 1);
    rt__http_put_num(&o, (size_t)status);
    rt__http_puts(&o, " ");
    rt__http_puts(&o, reason);
    rt__http_puts(&o, "\n");
    return rt__http_end(&o);
}
/* ==== End src/codec/http.c ==== */

/* ==== Begin src/codec/ws.c ==== */ // >>ws
/* ws.c - WebSocket (RFC 6455): opening handshake, frame parser and writer.
 *
 * The chapter has three parts. The handshake turns a parsed HTTP request
 * into either a 101 answer or the status of a refusal. The parser walks
 * frames out of the caller's buffer: a data frame's header is consumed
 * whole and its payload handed out in pieces as it arrives, so a large
 * message never needs a large buffer; a control frame waits until it is
 * whole (at most 14 + 125 bytes). The writer builds frames for both roles.
 *
 * Decisions the RFC leaves open, made here once:
 *   - A length not written in its shortest form (say 5 in the 16-bit form)
 *     is accepted. RFC 6455 5.2 requires the shortest form of senders but
 *     names no reaction for receivers; refusing it buys nothing and breaks
 *     interop with sloppy peers. The writer always uses the shortest form.
 *     Control frames are the exception: their length is at most 125 (5.5),
 *     so a 126 or 127 in their 7-bit field is refused at once, from the
 *     first two bytes, whatever the extended length says.
 *   - Close codes 1012-1014 are accepted: they are not in RFC 6455 but are
 *     in the IANA registry it set up (service restart, try again later, bad
 *     gateway), and servers do send them.
 *   - Text is checked byte by byte across fragments. The call that brings
 *     the first invalid byte fails with RT_E_UTF8 and delivers nothing;
 *     pieces before it were delivered already.
 */

/* RFC 6455 1.3: the GUID appended to the client's key before hashing. */
#define RT__WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* The 16 random bytes of a Sec-WebSocket-Key (RFC 6455 4.1), base64: 24 chars. */
#define RT__WS_KEY_BYTES 16
#define RT__WS_KEY_CHARS 24

/* Frame header bits (RFC 6455 5.2). */
#define RT__WS_FIN 0x80u
#define RT__WS_RSV 0x70u
#define RT__WS_OPCODE 0x0Fu
#define RT__WS_MASKED 0x80u
#define RT__WS_LEN7 0x7Fu
#define RT__WS_LEN16 126u
#define RT__WS_LEN64 127u

static rt_str rt__ws_view(const void *p, size_t n)
{
    rt_str s;
    s.p = (const char *)p;
    s.n = n;
    return s;
}

/* ==== Opening handshake (RFC 6455 4.2) ==================================== */

/* The value of the only header called name, or the empty view; *count says
 * how many there were, for the fields that must appear once. */
static rt_str rt__ws_header(const rt_http_request *req, const char *name, int *count)
{
    rt_str found = rt__ws_view("", 0), want = rt_str_c(name);
    size_t i;
    *count = 0;
    for (i = 0; i < req->num_headers; i++) {
        if (!rt_str_ieq(req->headers[i].name, want))
            continue;
        if ((*count)++ == 0)
            found = req->headers[i].value;
    }
    return found;
}

int rt_ws_is_upgrade(const struct rt_http_request *req)
{
    return rt_http_header_has_token(req, "Upgrade", "websocket");
}

/* RFC 6455 4.2.1 items 1-4: the parts of the request that are plain HTTP. */
static int rt__ws_check_http(const rt_http_request *req)
{
    if (!rt_str_eq(req->method, rt_str_c("GET")))
        return 405;
    if (req->version_minor < 1 || rt_http_header_get(req, "Host") == NULL)
        return 400;
    if (!rt_http_header_has_token(req, "Upgrade", "websocket")
        || !rt_http_header_has_token(req, "Connection", "Upgrade"))
        return 400;
    return 0;
}

/* RFC 6455 4.2.1 item 6 and 4.4: only version 13 exists. A client that
 * speaks another one learns ours from the 426 (rt_ws_format_reject). The
 * field may not appear twice in a request (11.3.5). */
static int rt__ws_check_version(const rt_http_request *req)
{
    int count;
    rt_str v = rt__ws_header(req, "Sec-WebSocket-Version", &count);
    if (count != 1)
        return 400;
    return rt_str_eq(v, rt_str_c("13")) ? 0 : 426;
}

/* RFC 6455 4.2.1 item 5: the key is base64 of exactly 16 bytes, and it
 * appears once (11.3.1). Non-canonical base64 is refused. */
static int rt__ws_check_key(const rt_http_request *req, rt_str *key)
{
    unsigned char raw[RT__WS_KEY_BYTES];
    int count;
    *key = rt__ws_header(req, "Sec-WebSocket-Key", &count);
    if (count != 1 || key->n != RT__WS_KEY_CHARS)
        return 400;
    if (rt_b64_decode(key->p, key->n, raw, sizeof raw) != RT__WS_KEY_BYTES)
        return 400;
    return 0;
}

rt_result rt_ws_handshake_check(const struct rt_http_request *req, rt_ws_handshake *hs)
{
    int count;
    int status = rt__ws_check_http(req);
    hs->key = hs->origin = hs->protocols = rt__ws_view("", 0);
    if (status == 0)
        status = rt__ws_check_version(req);
    if (status == 0)
        status = rt__ws_check_key(req, &hs->key);
    if (status != 0) {
        hs->key = rt__ws_view("", 0);
        hs->status = status;
        return RT_E_PROTO;
    }
    hs->status = 101;
    hs->origin = rt__ws_header(req, "Origin", &count);
    hs->protocols = rt__ws_header(req, "Sec-WebSocket-Protocol", &count);
    return RT_OK;
}

void rt_ws_accept_key(rt_str key, char out[RT_WS_ACCEPT_LEN + 1])
{
    rt_sha1_ctx s;
    unsigned char digest[RT_SHA1_SIZE];
    /* RFC 6455 4.2.2 item 5.4: base64(SHA-1(key + GUID)), the key as sent. */
    rt_sha1_init(&s);
    rt_sha1_update(&s, key.p, key.n);
    rt_sha1_update(&s, RT__WS_GUID, sizeof RT__WS_GUID - 1);
    rt_sha1_final(&s, digest);
    rt_b64_encode(digest, sizeof digest, out, RT_WS_ACCEPT_LEN + 1);
}

static int rt__ws_is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The next item of a comma-separated list from *pos on, without the
 * whitespace around it (RFC 9110 5.6.1); may be empty. */
static rt_str rt__ws_next_item(rt_str list, size_t *pos)
{
    size_t i = *pos, end;
    while (i < list.n && rt__ws_is_ows(list.p[i]))
        i++;
    end = i;
    while (end < list.n && list.p[end] != ',')
        end++;
    *pos = end + 1;
    while (end > i && rt__ws_is_ows(list.p[end - 1]))
        end--;
    return rt__ws_view(list.p + i, end - i);
}

rt_str rt_ws_select_protocol(rt_str client_list, const char *const *supported)
{
    size_t pos = 0, i;
    rt_str item;
    /* RFC 6455 4.2.2 item 5.4: the server picks one of the client's values;
     * the client's order is its preference, so the first match wins.
     * Subprotocol names are compared exactly (they are tokens, 4.1). */
    while (supported && pos < client_list.n) {
        item = rt__ws_next_item(client_list, &pos);
        for (i = 0; item.n > 0 && supported[i]; i++) {
            if (rt_str_eq(item, rt_str_c(supported[i])))
                return item;
        }
    }
    return rt__ws_view("", 0);
}

/* Appends s[0..n) at *pos when it fits and advances *pos either way, so
 * the total is the length needed; once a piece does not fit nothing more
 * is written, which leaves a prefix of the whole text in buf. */
static void rt__ws_put(char *buf, size_t cap, size_t *pos, const char *s, size_t n)
{
    if (n > SIZE_MAX - *pos) {
        *pos = SIZE_MAX;
        return;
    }
    if (*pos + n <= cap && n > 0)
        memcpy(buf + *pos, s, n);
    *pos += n;
}

#define RT__WS_PUT_LIT(buf, cap, pos, lit) rt__ws_put(buf, cap, pos, lit, sizeof lit - 1)

size_t rt_ws_format_accept(char *buf, size_t cap, rt_str key, rt_str protocol,
                           const char *extra_headers)
{
    char accept[RT_WS_ACCEPT_LEN + 1];
    size_t pos = 0;
    rt_ws_accept_key(key, accept);
    /* RFC 6455 4.2.2 item 5 */
    RT__WS_PUT_LIT(buf, cap, &pos, "HTTP/1.1 101 Switching Protocols\r\n"
                                   "Upgrade: websocket\r\n"
                                   "Connection: Upgrade\r\n"
                                   "Sec-WebSocket-Accept: ");
    rt__ws_put(buf, cap, &pos, accept, RT_WS_ACCEPT_LEN);
    RT__WS_PUT_LIT(buf, cap, &pos, "\r\n");
    if (protocol.n > 0) {
        RT__WS_PUT_LIT(buf, cap, &pos, "Sec-WebSocket-Protocol: ");
        rt__ws_put(buf, cap, &pos, protocol.p, protocol.n);
        RT__WS_PUT_LIT(buf, cap, &pos, "\r\n");
    }
    if (extra_headers)
        rt__ws_put(buf, cap, &pos, extra_headers, strlen(extra_headers));
    RT__WS_PUT_LIT(buf, cap, &pos, "\r\n");
    return pos;
}

size_t rt_ws_format_reject(char *buf, size_t cap, int status)
{
    const char *extra = NULL;
    /* RFC 6455 4.4: a version refusal names the versions we speak. */
    if (status == 426)
        extra = "Sec-WebSocket-Version: 13\r\n";
    /* RFC 9110 15.5.6: a 405 lists the methods the resource allows. */
    else if (status == 405)
        extra = "Allow: GET\r\n";
    return rt_http_format_error(buf, cap, status, extra);
}

/* ==== Frame parser (RFC 6455 5) =========================================== */

/* One frame header, decoded. */
typedef struct rt__ws_frame {
    unsigned opcode;
    int fin;
    int masked;
    uint64_t len;
    size_t head_len;
    unsigned char mask[4];
} rt__ws_frame;

void rt_ws_parser_init(rt_ws_parser *p, int role, size_t max_message)
{
    RT_ASSERT(role == RT_WS_SERVER || role == RT_WS_CLIENT);
    memset(p, 0, sizeof *p);
    p->role = (uint8_t)role;
    p->max_message = max_message;
}

/* err is one of the small negative RT_E_* codes and code a close code
 * (1002, 1007, 1009), so both fit the parser's narrow fields. */
static rt_result rt__ws_fail(rt_ws_parser *p, rt_result err, unsigned code)
{
    p->_err = (int8_t)err;
    p->close_code = (uint16_t)code;
    return err;
}

/* The message limit in force: max_message may lower the compiled one. */
static size_t rt__ws_max_message(const rt_ws_parser *p)
{
    size_t compiled = (size_t)RT_WS_MAX_MESSAGE;
    return p->max_message > 0 && p->max_message < compiled ? p->max_message : compiled;
}

/* 1 when the opcode may start a frame here, judged from the first byte
 * and the message in progress. */
static int rt__ws_opcode_ok(const rt_ws_parser *p, unsigned b0, unsigned b1)
{
    unsigned op = b0 & RT__WS_OPCODE;
    if (op >= RT_WS_CLOSE) {
        /* 5.5: known control opcodes only, never fragmented, <= 125 bytes */
        return op <= RT_WS_PONG && (b0 & RT__WS_FIN) && (b1 & RT__WS_LEN7) <= RT_WS_MAX_CONTROL;
    }
    if (op > RT_WS_BINARY)
        return 0; /* 5.2: 3-7 are reserved */
    /* 5.4: a continuation needs a message to continue, and a new message
     * may not start inside another one (control frames may, see above). */
    return (op == RT_WS_CONT) == (p->_msg_opcode != 0);
}

/* Checks what the first two bytes can tell, so a bad frame fails before
 * the rest of its header arrives. */
static rt_result rt__ws_check_start(rt_ws_parser *p, unsigned b0, unsigned b1)
{
    int masked = (b1 & RT__WS_MASKED) != 0;
    /* 5.2: RSV1-3 are for extensions, and none is ever negotiated */
    if (b0 & RT__WS_RSV)
        return rt__ws_fail(p, RT_E_PROTO, RT_WS_CLOSE_PROTOCOL);
    if (!rt__ws_opcode_ok(p, b0, b1))
        return rt__ws_fail(p, RT_E_PROTO, RT_WS_CLOSE_PROTOCOL);
    /* 5.1: clients mask every frame, servers never do */
    if (masked != (p->role != RT_WS_CLIENT))
        return rt__ws_fail(p, RT_E_PROTO, RT_WS_CLOSE_PROTOCOL);
    return RT_OK;
}

/* Decodes a frame header from b[0..len): RT_OK with *fr filled, RT_AGAIN
 * while it is incomplete, or an error. Touches neither b nor the state
 * unless it fails. */
static rt_result rt__ws_read_header(rt_ws_parser *p, const unsigned char *b, size_t len,
                                    rt__ws_frame *fr)
{
    size_t ext, i;
    rt_result r;
    if (len < 2)
        return RT_AGAIN;
    r = rt__ws_check_start(p, b[0], b[1]);
    if (r != RT_OK)
        return r;
    fr->fin = (b[0] & RT__WS_FIN) != 0;
    fr->opcode = b[0] & RT__WS_OPCODE;
    fr->masked = (b[1] & RT__WS_MASKED) != 0;
    fr->len = b[1] & RT__WS_LEN7;
    ext = fr->len == RT__WS_LEN16 ? 2 : fr->len == RT__WS_LEN64 ? 8 : 0;
    fr->head_len = 2 + ext + (fr->masked ? 4u : 0u);
    if (len < fr->head_len)
        return RT_AGAIN;
    /* 5.2: the most significant bit of a 64-bit length must be 0 */
    if (ext == 8 && (b[2] & 0x80))
        return rt__ws_fail(p, RT_E_PROTO, RT_WS_CLOSE_PROTOCOL);
    if (ext > 0)
        fr->len = 0;
    for (i = 0; i < ext; i++)
        fr->len = fr->len << 8 | b[2 + i];
    if (fr->masked)
        memcpy(fr->mask, b + 2 + ext, 4);
    return RT_OK;
}

/* 5.5.1: an empty close body means "no code" (1005); otherwise it is a
 * valid code and a UTF-8 reason. */
static rt_result rt__ws_check_close(rt_ws_parser *p, const unsigned char *b, size_t n,
                                    rt_ws_event *ev)
{
    unsigned code;
    ev->close_code = RT_WS_CLOSE_NO_STATUS;
    if (n == 0)
        return RT_OK;
    if (n == 1)
        return rt__ws_fail(p, RT_E_PROTO, RT_WS_CLOSE_PROTOCOL);
    code = (unsigned)b[0] << 8 | b[1];
    if (!rt_ws_close_code_valid(code))
        return rt__ws_fail(p, RT_E_PROTO, RT_WS_CLOSE_PROTOCOL);
    if (!rt_utf8_valid(b + 2, n - 2))
        return rt__ws_fail(p, RT_E_UTF8, RT_WS_CLOSE_BAD_DATA);
    ev->close_code = code;
    ev->close_reason = rt__ws_view(b + 2, n - 2);
    return RT_OK;
}

/* A control frame is delivered whole, or waits (RT_AGAIN) untouched. */
static rt_result rt__ws_control(rt_ws_parser *p, unsigned char *b, size_t len,
                                const rt__ws_frame *fr, rt_ws_event *ev)
{
    size_t n = (size_t)fr->len; /* <= 125, checked by rt__ws_opcode_ok */
    unsigned char *payload = b + fr->head_len;
    rt_result r;
    if (len - fr->head_len < n)
        return RT_AGAIN;
    if (fr->masked)
        rt_ws_mask(payload, n, fr->mask, 0);
    if (fr->opcode == RT_WS_CLOSE) {
        r = rt__ws_check_close(p, payload, n, ev);
        if (r != RT_OK)
            return r;
    }
    ev->type = RT_WS_EV_CONTROL;
    ev->opcode = (int)fr->opcode;
    ev->fin = 1;
    ev->data = rt__ws_view(payload, n);
    return (rt_result)(fr->head_len + n);
}

/* Enters a data frame's payload. The limit is checked against the header,
 * before any payload arrives (7.4.1: 1009 for a message too big to take). */
static rt_result rt__ws_begin_data(rt_ws_parser *p, const rt__ws_frame *fr)
{
    if (fr->len > (uint64_t)(rt__ws_max_message(p) - p->_msg_len))
        return rt__ws_fail(p, RT_E_LIMIT, RT_WS_CLOSE_TOO_BIG);
    if (fr->opcode != RT_WS_CONT) {
        p->_msg_opcode = (uint8_t)fr->opcode;
        rt_utf8_init(&p->_utf8);
    }
    p->_msg_len += (size_t)fr->len;
    p->_left = (size_t)fr->len;
    p->_fin = (uint8_t)fr->fin;
    p->_masked = (uint8_t)fr->masked;
    memcpy(p->_mask, fr->mask, sizeof p->_mask);
    p->_mask_pos = 0;
    p->_in_frame = 1;
    return RT_OK;
}

/* Hands out the payload bytes of the current data frame found in
 * b[off..len), unmasked and (for text) validated. Returns off plus the
 * bytes taken. */
static rt_result rt__ws_payload(rt_ws_parser *p, unsigned char *b, size_t off, size_t len,
                                rt_ws_event *ev)
{
    size_t n = len - off < p->_left ? len - off : p->_left;
    int ends = n == p->_left && p->_fin;
    if (p->_masked) {
        rt_ws_mask(b + off, n, p->_mask, p->_mask_pos);
        p->_mask_pos = (uint8_t)((p->_mask_pos + n) & 3);
    }
    /* 8.1: text fails at the first bad byte, even mid-message */
    if (p->_msg_opcode == RT_WS_TEXT
        && (rt_utf8_feed(&p->_utf8, b + off, n, NULL) != RT_OK
            || (ends && rt_utf8_finish(&p->_utf8) != RT_OK)))
        return rt__ws_fail(p, RT_E_UTF8, RT_WS_CLOSE_BAD_DATA);
    p->_left -= n;
    if (n > 0 || ends) {
        ev->type = RT_WS_EV_DATA;
        ev->opcode = p->_msg_opcode;
        ev->fin = ends;
        ev->data = rt__ws_view(b + off, n);
    }
    if (p->_left == 0)
        p->_in_frame = 0;
    if (ends) {
        p->_msg_opcode = 0;
        p->_msg_len = 0;
    }
    return (rt_result)(off + n);
}

static void rt__ws_clear_event(rt_ws_event *ev)
{
    ev->type = RT_WS_EV_NONE;
    ev->opcode = 0;
    ev->fin = 0;
    ev->data = ev->close_reason = rt__ws_view("", 0);
    ev->close_code = 0;
}

rt_result rt_ws_parse(rt_ws_parser *p, void *buf, size_t len, rt_ws_event *ev)
{
    unsigned char *b = (unsigned char *)buf;
    rt__ws_frame fr;
    rt_result r;
    RT_ASSERT(p && ev && (buf || len == 0));
    rt__ws_clear_event(ev);
    if (p->_err != 0)
        return p->_err;
    /* The count returned must fit an rt_result; the rest waits a call. */
    if (len > (size_t)INT_MAX)
        len = (size_t)INT_MAX;
    if (p->_in_frame)
        return rt__ws_payload(p, b, 0, len, ev);
    if (len == 0)
        return 0;
    r = rt__ws_read_header(p, b, len, &fr);
    if (r != RT_OK)
        return r;
    if (fr.opcode >= RT_WS_CLOSE)
        return rt__ws_control(p, b, len, &fr, ev);
    r = rt__ws_begin_data(p, &fr);
    if (r != RT_OK)
        return r;
    return rt__ws_payload(p, b, fr.head_len, len, ev);
}

/* ==== Frame writer and masking ============================================= */

/* rt_ws_mask works a word at a time: size_t, or 32 bits on targets where
 * size_t is narrower than the 4-byte key. */
#if SIZE_MAX >= 0xFFFFFFFFu
typedef size_t rt__ws_word;
#else
typedef uint32_t rt__ws_word;
#endif

/* XORs the word at q (aligned) with w. memcpy keeps it free of aliasing
 * trouble and compiles to one load and one store. */
static void rt__ws_xor_word(unsigned char *q, rt__ws_word w)
{
    rt__ws_word v;
    memcpy(&v, q, sizeof v);
    v ^= w;
    memcpy(q, &v, sizeof v);
}

void rt_ws_mask(void *p, size_t n, const unsigned char key[4], size_t offset)
{
    unsigned char *b = (unsigned char *)p;
    unsigned char pattern[sizeof(rt__ws_word)];
    const size_t ws = sizeof(rt__ws_word);
    rt__ws_word w;
    size_t i = 0, k;
    /* 5.3: byte i of the payload is XORed with key[i % 4]. Bytes go one at
     * a time up to a word boundary, so the word loop makes aligned loads. */
    while (i < n && (uintptr_t)(b + i) % ws != 0) {
        b[i] ^= key[(offset + i) & 3];
        i++;
    }
    /* The key laid out in memory order from the phase the words start at:
     * right on either byte order, and the same for every word because a
     * word is a multiple of 4 bytes long. */
    for (k = 0; k < ws; k++)
        pattern[k] = key[(offset + i + k) & 3];
    memcpy(&w, pattern, ws);
    /* Four independent words a turn: compilers pair them into vector
     * loads and stores, which brings this close to memcpy's speed. */
    for (; n - i >= 4 * ws; i += 4 * ws) {
        rt__ws_xor_word(b + i, w);
        rt__ws_xor_word(b + i + ws, w);
        rt__ws_xor_word(b + i + 2 * ws, w);
        rt__ws_xor_word(b + i + 3 * ws, w);
    }
    for (; n - i >= ws; i += ws)
        rt__ws_xor_word(b + i, w);
    for (; i < n; i++)
        b[i] ^= key[(offset + i) & 3];
}

size_t rt_ws_write_header(unsigned char *out, int opcode, int fin, uint64_t n,
                          const unsigned char *mask)
{
    size_t h = 2, i;
    RT_ASSERT((n >> 63) == 0);
    RT_ASSERT(opcode < RT_WS_CLOSE || (fin && n <= RT_WS_MAX_CONTROL));
    out[0] = (unsigned char)((fin ? RT__WS_FIN : 0u) | ((unsigned)opcode & RT__WS_OPCODE));
    /* 5.2: the shortest of the three length forms */
    if (n < RT__WS_LEN16) {
        out[1] = (unsigned char)n;
    } else if (n <= 0xFFFFu) {
        out[1] = RT__WS_LEN16;
        out[2] = (unsigned char)(n >> 8);
        out[3] = (unsigned char)n;
        h = 4;
    } else {
        out[1] = RT__WS_LEN64;
        for (i = 0; i < 8; i++)
            out[2 + i] = (unsigned char)(n >> (56 - 8 * i));
        h = 10;
    }
    if (mask) {
        out[1] |= RT__WS_MASKED;
        memcpy(out + h, mask, 4);
        h += 4;
    }
    return h;
}

size_t rt_ws_format_frame(void *buf, size_t cap, int opcode, const void *payload, size_t n,
                          const unsigned char *mask)
{
    unsigned char head[RT_WS_MAX_HEADER];
    unsigned char *b = (unsigned char *)buf;
    size_t h;
    if (n > SIZE_MAX - RT_WS_MAX_HEADER || ((uint64_t)n >> 63) != 0)
        return SIZE_MAX;
    h = rt_ws_write_header(head, opcode, 1, n, mask);
    if (h + n > cap)
        return h + n;
    /* memmove: the payload may already sit in buf, e.g. at buf + 14 */
    if (n > 0)
        memmove(b + h, payload, n);
    memcpy(b, head, h);
    if (mask)
        rt_ws_mask(b + h, n, mask, 0);
    return h + n;
}

int rt_ws_close_code_valid(unsigned code)
{
    /* 7.4.1 and the IANA registry (11.7): 1004-1006 and 1015 are never on
     * the wire, the rest of 1000-2999 is unassigned; 3000-4999 belong to
     * libraries and applications. */
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
        || (code >= 3000 && code <= 4999);
}

size_t rt_ws_close_payload(unsigned char out[RT_WS_MAX_CONTROL], unsigned code,
                           const char *reason, size_t reason_len)
{
    size_t r = 0;
    /* 7.1.5: "no status" (1005) is said with an empty body; so is any code
     * that may not be sent, rather than a frame the peer must refuse. */
    if (!rt_ws_close_code_valid(code))
        return 0;
    out[0] = (unsigned char)(code >> 8);
    out[1] = (unsigned char)code;
    if (reason)
        r = rt_utf8_truncate(reason, reason_len, RT_WS_MAX_CONTROL - 2);
    /* 5.5.1: the peer fails the connection on a reason that is not UTF-8 */
    if (r > 0 && !rt_utf8_valid(reason, r))
        r = 0;
    if (r > 0)
        memcpy(out + 2, reason, r);
    return 2 + r;
}
/* ==== End src/codec/ws.c ==== */

/* ==== Begin src/codec/sse.c ==== */ // >>sse
#ifndef RT_NO_SSE
/* sse.c - Server-Sent Events formatter.
 *
 * WHATWG HTML, "Parsing an event stream" and "Interpreting an event stream":
 * a stream is lines ending in CRLF, LF or CR; a line "name:value" sets a
 * field, one leading space of the value is dropped, "data" lines are joined
 * with LF, a line starting with ':' is a comment and an empty line
 * dispatches the event. The writer below is the mirror image of that parser.
 */
#include <limits.h>
#include <string.h>

/* An snprintf-style sink: counts every byte, stores those that fit. */
typedef struct rt__sse_out {
    char *buf;
    size_t cap;
    size_t len;
} rt__sse_out;

static void rt__sse_put(rt__sse_out *o, const char *p, size_t n)
{
    if (n > 0 && o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->buf + o->len, p, n < room ? n : room);
    }
    o->len += n;
}

/* "name: value\n", or "name:\n" for an empty value. The parser removes one
 * space after the colon ("If value starts with a U+0020 SPACE character,
 * remove it"), so the space written here is the one it removes and a value
 * that starts with a space keeps it. A comment is a line with no name. */
static void rt__sse_line(rt__sse_out *o, const char *name, const char *v, size_t n)
{
    rt__sse_put(o, name, strlen(name));
    if (n > 0) {
        rt__sse_put(o, ": ", 2);
        rt__sse_put(o, v, n);
    } else {
        rt__sse_put(o, ":", 1);
    }
    rt__sse_put(o, "\n", 1);
}

/* One `name` line per line of text. CRLF, LF and a lone CR all end a line
 * in the stream, so each starts a new line here; the parser joins data
 * lines with LF. A trailing break leaves a last empty line, which is how the
 * parser gets that break back; empty text is one empty line. */
static void rt__sse_lines(rt__sse_out *o, const char *name, rt_str text)
{
    size_t start = 0, i = 0;
    if (text.n == 0) {
        rt__sse_line(o, name, "", 0);
        return;
    }
    for (;;) {
        while (i < text.n && text.p[i] != '\r' && text.p[i] != '\n')
            i++;
        rt__sse_line(o, name, text.p + start, i - start);
        if (i == text.n)
            return;
        if (text.p[i] == '\r' && i + 1 < text.n && text.p[i + 1] == '\n')
            i++;
        start = ++i;
    }
}

/* "retry: <ms>\n". The parser accepts a value of ASCII digits only. */
static void rt__sse_retry_line(rt__sse_out *o, uint32_t ms)
{
    char digits[10];
    size_t n = sizeof digits;
    do {
        digits[--n] = (char)('0' + ms % 10);
        ms /= 10;
    } while (ms > 0);
    rt__sse_line(o, "retry", digits + n, sizeof digits - n);
}

/* An event type or id must stay on its line: CR or LF would end it early,
 * and an id holding NUL is ignored by the parser. */
static int rt__sse_value_ok(rt_str v)
{
    size_t i;
    for (i = 0; i < v.n; i++) {
        if (v.p[i] == '\r' || v.p[i] == '\n' || v.p[i] == '\0')
            return 0;
    }
    return 1;
}

/* RT_OK when the event is valid and RT_SSE_MAX_SIZE of it fits an int. */
static rt_result rt__sse_check(const rt_sse_event *ev)
{
    size_t lim = (size_t)INT_MAX - 38; /* 38: the fixed part of RT_SSE_MAX_SIZE */
    if (!rt__sse_value_ok(ev->event) || !rt__sse_value_ok(ev->id))
        return RT_E_INVAL;
    if (ev->event.n > lim || ev->id.n > lim - ev->event.n)
        return RT_E_LIMIT;
    lim -= ev->event.n + ev->id.n;
    return ev->data.n > lim / 6 ? RT_E_LIMIT : RT_OK;
}

rt_result rt_sse_format(char *buf, size_t cap, const rt_sse_event *ev)
{
    rt__sse_out o;
    rt_result r = rt__sse_check(ev);
    if (r != RT_OK)
        return r;
    o.buf = buf;
    o.cap = cap;
    o.len = 0;
    if (ev->event.n > 0)
        rt__sse_line(&o, "event", ev->event.p, ev->event.n);
    if (ev->id.n > 0)
        rt__sse_line(&o, "id", ev->id.p, ev->id.n);
    if (ev->retry_ms > 0)
        rt__sse_retry_line(&o, ev->retry_ms);
    rt__sse_lines(&o, "data", ev->data);
    rt__sse_put(&o, "\n", 1); /* the empty line dispatches the event */
    return (rt_result)o.len;
}

rt_result rt_sse_format_comment(char *buf, size_t cap, rt_str text)
{
    rt__sse_out o;
    /* worst case: every byte a line break, ":\n" each, plus ":\n\n" */
    if (text.n > ((size_t)INT_MAX - 4) / 2)
        return RT_E_LIMIT;
    o.buf = buf;
    o.cap = cap;
    o.len = 0;
    rt__sse_lines(&o, "", text);
    rt__sse_put(&o, "\n", 1);
    return (rt_result)o.len;
}

rt_result rt_sse_format_retry(char *buf, size_t cap, uint32_t ms)
{
    rt__sse_out o;
    o.buf = buf;
    o.cap = cap;
    o.len = 0;
    rt__sse_retry_line(&o, ms);
    rt__sse_put(&o, "\n", 1);
    return (rt_result)o.len;
}
#endif /* RT_NO_SSE */
/* ==== End src/codec/sse.c ==== */

/* ==== Begin src/model/room.c ==== */ // >>room
/* room.c - rooms: membership, history ring, positions, recovery.
 *
 * Three structures carry it all:
 *   - the shared hash table (base/hash) of rooms by name (FNV-1a, seeded
 *     per registry);
 *   - one membership record per (member, room) pair, held twice: by the room
 *     in a dense array (fast to walk, swap-remove by stored index) and by the
 *     member in a shared list (base/list, so a member can leave everything
 *     in O(its rooms) and a lookup never scans a big room);
 *   - per room, a ring of message pointers, oldest first, whose offsets are
 *     contiguous: the ring holds offsets pos.offset - count + 1 .. pos.offset.
 */

typedef struct rt_room_membership {
    rt_room *room;
    rt_room_member *member;
    size_t slot;  /* index in room->_slots */
    rt_list link; /* in the member's list */
} rt_room_membership;

/* ---- Positions -------------------------------------------------------------- */

/* Writes v in base 10 or 16, most significant digit first; returns the count. */
static size_t rt__room_put_u64(char *out, uint64_t v, unsigned base)
{
    char tmp[20];
    size_t n = 0, i;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v > 0);
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

size_t rt_room_pos_format(rt_room_pos pos, char out[RT_ROOM_POS_MAX])
{
    size_t n = 0;
    if (pos.epoch != 0) {
        n = rt__room_put_u64(out, pos.epoch, 16);
        out[n++] = '-';
        n += rt__room_put_u64(out + n, pos.offset, 10);
    }
    out[n] = '\0';
    return n;
}

static int rt__room_digit(char c, unsigned base)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (base == 16 && c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Reads a canonical number at s[*i..): at least one digit, no leading zero,
 * no overflow. Stops at the first non-digit. 1 on success, else 0. */
static int rt__room_get_u64(rt_str s, size_t *i, unsigned base, uint64_t *v)
{
    size_t start = *i;
    uint64_t x = 0;
    int d;
    while (*i < s.n && (d = rt__room_digit(s.p[*i], base)) >= 0) {
        if (x > (UINT64_MAX - (unsigned)d) / base)
            return 0;
        x = x * base + (unsigned)d;
        (*i)++;
    }
    if (*i == start || (s.p[start] == '0' && *i - start > 1))
        return 0;
    *v = x;
    return 1;
}

rt_result rt_room_pos_parse(rt_str s, rt_room_pos *pos)
{
    rt_room_pos p;
    size_t i = 0;
    if (s.n == 0) {
        pos->epoch = 0;
        pos->offset = 0;
        return RT_OK;
    }
    if (!rt__room_get_u64(s, &i, 16, &p.epoch) || p.epoch == 0 || i == s.n || s.p[i] != '-')
        return RT_E_INVAL;
    i++;
    if (!rt__room_get_u64(s, &i, 10, &p.offset) || i != s.n)
        return RT_E_INVAL;
    *pos = p;
    return RT_OK;
}

/* ---- Messages ----------------------------------------------------------------- */

/* One allocation: header, payload, NUL. The caller checked len for overflow. */
static size_t rt__room_msg_size(size_t len)
{
    return sizeof(rt_room_msg) + len + 1;
}

rt_room_msg *rt_room_msg_retain(rt_room_msg *m)
{
    m->_refs++;
    return m;
}

void rt_room_msg_release(rt_room_msg *m)
{
    if (m && --m->_refs == 0)
        rt_free(m->_alloc, m, rt__room_msg_size(m->len));
}

/* A new message at the room's next offset, with one reference (the caller's). */
static rt_room_msg *rt__room_msg_new(const rt_room *r, const void *data, size_t len,
                                     uint64_t now_ms)
{
    const rt_allocator *a = r->_rs->settings.alloc;
    rt_room_msg *m = (rt_room_msg *)rt_alloc(a, rt__room_msg_size(len));
    char *p;
    if (!m)
        return NULL;
    p = (char *)(m + 1);
    if (len > 0)
        memcpy(p, data, len);
    p[len] = '\0';
    m->pos.epoch = r->pos.epoch;
    m->pos.offset = r->pos.offset + 1;
    m->time_ms = now_ms;
    m->data = p;
    m->len = len;
    m->_refs = 1;
    m->_alloc = a;
    return m;
}

/* ---- History ring ---------------------------------------------------------------- */

static void rt__room_pop(rt_room *r)
{
    rt_room_msg *m = r->_ring[r->_head];
    size_t size = rt__room_msg_size(m->len);
    r->_head = (r->_head + 1) % r->_ring_cap;
    r->history_count--;
    r->history_bytes -= size;
    r->_rs->history_bytes -= size;
    rt_room_msg_release(m);
}

static void rt__room_push(rt_room *r, rt_room_msg *m)
{
    size_t size = rt__room_msg_size(m->len);
    r->_ring[(r->_head + r->history_count) % r->_ring_cap] = rt_room_msg_retain(m);
    r->history_count++;
    r->history_bytes += size;
    r->_rs->history_bytes += size;
}

/* Drops messages that are history_max_age_ms old or older. A time before
 * the message's own (a caller's clock gone backwards) counts as age 0. */
static void rt__room_evict_age(rt_room *r, uint64_t now_ms)
{
    uint64_t max_age = r->_rs->settings.history_max_age_ms, t;
    while (max_age > 0 && r->history_count > 0) {
        t = r->_ring[r->_head]->time_ms;
        if (now_ms < t || now_ms - t < max_age)
            return;
        rt__room_pop(r);
    }
}

/* Drops the oldest messages until one of `size` bytes fits under the count
 * and byte limits; a size above history_max_bytes empties the history. */
static void rt__room_make_space(rt_room *r, size_t size)
{
    const rt_rooms_settings *s = &r->_rs->settings;
    while (r->history_count > 0 &&
           ((s->history_max_msgs > 0 && r->history_count >= s->history_max_msgs) ||
            (s->history_max_bytes > 0 && size > s->history_max_bytes - r->history_bytes)))
        rt__room_pop(r);
}

/* Makes sure the ring has a free slot for the next message, unless the count
 * limit will free one. Grows by doubling up to history_max_msgs. */
static rt_result rt__room_reserve_msg(rt_room *r)
{
    size_t max = r->_rs->settings.history_max_msgs, cap, i;
    rt_room_msg **ring;
    if (r->history_count < r->_ring_cap || (max > 0 && r->history_count >= max))
        return RT_OK;
    cap = r->_ring_cap > 0 ? r->_ring_cap * 2 : 8;
    if (max > 0 && cap > max)
        cap = max;
    if (cap > SIZE_MAX / sizeof *ring)
        return RT_E_NOMEM;
    ring = (rt_room_msg **)rt_alloc(r->_rs->settings.alloc, cap * sizeof *ring);
    if (!ring)
        return RT_E_NOMEM;
    for (i = 0; i < r->history_count; i++)
        ring[i] = r->_ring[(r->_head + i) % r->_ring_cap];
    rt_free(r->_rs->settings.alloc, r->_ring, r->_ring_cap * sizeof *ring);
    r->_ring = ring;
    r->_ring_cap = cap;
    r->_head = 0;
    return RT_OK;
}

rt_result rt_room_publish(rt_room *r, const void *data, size_t len, uint64_t now_ms,
                          rt_room_msg **out)
{
    size_t max_bytes = r->_rs->settings.history_max_bytes, size;
    rt_room_msg *m;
    int keep;
    if (out)
        *out = NULL;
    if (len > SIZE_MAX - sizeof(rt_room_msg) - 1)
        return RT_E_LIMIT;
    size = rt__room_msg_size(len);
    keep = max_bytes == 0 || size <= max_bytes;
    rt__room_evict_age(r, now_ms);
    /* everything that can fail comes before the first change */
    if (keep && rt__room_reserve_msg(r) != RT_OK)
        return RT_E_NOMEM;
    m = rt__room_msg_new(r, data, len, now_ms);
    if (!m)
        return RT_E_NOMEM;
    rt__room_make_space(r, size);
    if (keep)
        rt__room_push(r, m);
    r->pos.offset++;
    if (out)
        *out = m;
    else
        rt_room_msg_release(m);
    return RT_OK;
}

void rt_room_recover(rt_room *r, const rt_room_pos *since, uint64_t now_ms,
                     rt_room_recovery *rec)
{
    rt__room_evict_age(r, now_ms);
    rec->room = r;
    rec->recovered = 1;
    rec->current = r->pos;
    rec->from = r->pos.offset + 1;
    rec->count = 0;
    if (!since || since->epoch == 0)
        return; /* from now: nothing was missed */
    /* Another epoch: offsets are not comparable. A future offset: not ours.
     * Too old: the ring no longer holds since.offset + 1. */
    if (since->epoch != r->pos.epoch || since->offset > r->pos.offset ||
        r->pos.offset - since->offset > r->history_count) {
        rec->recovered = 0;
        return;
    }
    rec->from = since->offset + 1;
    rec->count = (size_t)(r->pos.offset - since->offset);
}

rt_room_msg *rt_room_history_get(const rt_room *r, uint64_t offset)
{
    uint64_t back; /* 0 = the newest */
    if (offset > r->pos.offset)
        return NULL;
    back = r->pos.offset - offset;
    if (back >= r->history_count)
        return NULL;
    return r->_ring[(r->_head + r->history_count - 1 - (size_t)back) % r->_ring_cap];
}

/* ---- Registry --------------------------------------------------------------------- */

void rt_rooms_settings_init(rt_rooms_settings *s)
{
    memset(s, 0, sizeof *s);
    s->max_rooms = RT_ROOM_MAX_ROOMS;
    s->max_members = RT_ROOM_MAX_MEMBERS;
    s->max_joins = RT_ROOM_MAX_JOINS;
    s->history_max_msgs = RT_ROOM_HISTORY_MAX_MSGS;
    s->history_max_bytes = RT_ROOM_HISTORY_MAX_BYTES;
    s->history_max_age_ms = RT_ROOM_HISTORY_MAX_AGE_MS;
}

rt_result rt_rooms_init(rt_rooms *rs, const rt_rooms_settings *s)
{
    if (s->epoch_seed == 0 || s->max_rooms == 0 || s->max_members == 0 || s->max_joins == 0)
        return RT_E_INVAL;
    if (s->history_max_msgs == 0 && s->history_max_bytes == 0 && s->history_max_age_ms == 0)
        return RT_E_INVAL;
    memset(rs, 0, sizeof *rs);
    rs->settings = *s;
    rs->_epoch_state = s->epoch_seed;
    return RT_OK;
}

/* A new room's epoch: the splitmix64 output mix (Steele, Lea, Flood 2014),
 * a bijection, of the registry's state and the name's hash, so the seed
 * makes epochs new on every run and, for one name, each state gives another
 * epoch. The state steps only when a room that has had messages is freed
 * (rt__room_free), since its offsets must never be reused under its epoch.
 * A room freed before its first message comes back with the same epoch:
 * "<epoch>-0" held by a long poller or an EventSource between two requests
 * to an idle room stays a position it recovers from, rather than reading as
 * lost history on every request. 0 is skipped: it means "no position". */
static uint64_t rt__rooms_new_epoch(const rt_rooms *rs, uint32_t hash)
{
    uint64_t z = rs->_epoch_state ^ ((uint64_t)hash << 32 | hash);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return z ? z : 1;
}

/* FNV-1a (32-bit) from a basis mixed with the registry's seed. FNV is not a
 * keyed hash, so the seed only stops collisions computed in advance; chains
 * stay bounded anyway by max_rooms and RT_ROOM_MAX_NAME. */
static uint32_t rt__rooms_hash(const rt_rooms *rs, rt_str name)
{
    uint64_t seed = rs->settings.hash_seed;
    return rt_fnv1a(RT_FNV1A_BASIS ^ (uint32_t)(seed ^ (seed >> 32)), name.p, name.n);
}

int rt_room_name_valid(rt_str name)
{
    return rt_str_is_name(name, RT_ROOM_MAX_NAME);
}

rt_room *rt_rooms_find(const rt_rooms *rs, rt_str name)
{
    rt_hash_node *x;
    rt_room *r;
    if (!rt_room_name_valid(name))
        return NULL;
    for (x = rt_hash_find(&rs->_rooms, rt__rooms_hash(rs, name)); x; x = rt_hash_find_next(x)) {
        r = RT_HASH_ENTRY(x, rt_room, _node);
        if (rt_str_eq(r->name, name))
            return r;
    }
    return NULL;
}

/* A new, empty room (the caller checked the name and that it is absent). */
static rt_result rt__rooms_create(rt_rooms *rs, rt_str name, rt_room **out)
{
    rt_room *r;
    char *p;
    if (rs->n_rooms >= rs->settings.max_rooms)
        return RT_E_LIMIT;
    /* buckets >= rooms; only the first array is required: a failed growth
     * just leaves longer chains */
    if (rt_hash_reserve(&rs->_rooms, rs->settings.alloc, rs->n_rooms + 1) != RT_OK)
        return RT_E_NOMEM;
    r = (rt_room *)rt_alloc(rs->settings.alloc, sizeof *r + name.n + 1);
    if (!r)
        return RT_E_NOMEM;
    memset(r, 0, sizeof *r);
    p = (char *)(r + 1);
    memcpy(p, name.p, name.n);
    p[name.n] = '\0';
    r->name.p = p;
    r->name.n = name.n;
    r->_rs = rs;
    rt_hash_insert(&rs->_rooms, &r->_node, rt__rooms_hash(rs, name));
    r->pos.epoch = rt__rooms_new_epoch(rs, r->_node.hash);
    rs->n_rooms++;
    *out = r;
    return RT_OK;
}

rt_result rt_rooms_open(rt_rooms *rs, rt_str name, rt_room **out)
{
    *out = NULL;
    if (!rt_room_name_valid(name))
        return RT_E_INVAL;
    *out = rt_rooms_find(rs, name);
    return *out ? RT_OK : rt__rooms_create(rs, name, out);
}

/* Frees a room that has no members left. */
static void rt__room_free(rt_room *r)
{
    rt_rooms *rs = r->_rs;
    const rt_allocator *a = rs->settings.alloc;
    rt_hash_remove(&rs->_rooms, &r->_node);
    while (r->history_count > 0)
        rt__room_pop(r);
    rt_free(a, r->_ring, r->_ring_cap * sizeof *r->_ring);
    rt_free(a, r->_slots, r->_cap_slots * sizeof *r->_slots);
    if (r->pos.offset > 0)
        rs->_epoch_state += 0x9e3779b97f4a7c15u; /* the next room of this name: a new epoch */
    rs->n_rooms--;
    rt_free(a, r, sizeof *r + r->name.n + 1);
}

/* A room is wanted while it has members, is being walked, or holds history
 * that the age limit will end (without an age limit, memberless history
 * would never go, so it goes with the last member). */
static int rt__room_wanted(const rt_room *r)
{
    return r->n_members > 0 || r->_walks > 0 ||
           (r->_rs->settings.history_max_age_ms > 0 && r->history_count > 0);
}

size_t rt_rooms_expire(rt_rooms *rs, uint64_t now_ms)
{
    size_t freed = 0;
    rt_hash_node *x, *next;
    rt_room *r;
    for (x = rt_hash_first(&rs->_rooms); x; x = next) {
        next = rt_hash_next(&rs->_rooms, x);
        r = RT_HASH_ENTRY(x, rt_room, _node);
        rt__room_evict_age(r, now_ms);
        if (!rt__room_wanted(r)) {
            rt__room_free(r);
            freed++;
        }
    }
    rt_hash_shrink(&rs->_rooms, rs->settings.alloc, rs->n_rooms); /* not during the walk */
    return freed;
}

/* ---- Membership ------------------------------------------------------------------ */

void rt_room_member_init(rt_room_member *m, void *user)
{
    m->user = user;
    m->sub = NULL;
    m->n_rooms = 0;
    m->_rooms.prev = m->_rooms.next = NULL;
}

/* The membership record of a link in a member's list (NULL for NULL). */
static rt_room_membership *rt__room_rec(const rt_list *l)
{
    return l ? RT_LIST_ENTRY(l, rt_room_membership, link) : NULL;
}

rt_room *rt_room_member_last(const rt_room_member *m)
{
    rt_room_membership *rec = rt__room_rec(rt_list_first(&m->_rooms));
    return rec ? rec->room : NULL; /* joins push at the front */
}

/* The record linking m to room, found through m's own list. */
static rt_room_membership *rt__room_find_rec(const rt_room *room, const rt_room_member *m)
{
    const rt_list *l;
    for (l = rt_list_first(&m->_rooms); l; l = rt_list_next(&m->_rooms, l)) {
        if (rt__room_rec(l)->room == room)
            return rt__room_rec(l);
    }
    return NULL;
}

int rt_room_is_member(const rt_room *room, const rt_room_member *m)
{
    return rt__room_find_rec(room, m) != NULL;
}

/* Gives memory back after a crowd has left: halve when a quarter full. A
 * failed shrink keeps the bigger array, which is fine. */
static void rt__room_shrink_slots(rt_room *r)
{
    size_t cap = r->_cap_slots / 2, sz = sizeof *r->_slots;
    void *p;
    if (r->_cap_slots <= 16 || r->_n_slots > r->_cap_slots / 4)
        return;
    p = rt_realloc(r->_rs->settings.alloc, r->_slots, r->_cap_slots * sz, cap * sz);
    if (p) {
        r->_slots = (rt_room_membership **)p;
        r->_cap_slots = cap;
    }
}

/* Adds m to r (the caller checked the limits and that m is not in r). */
static rt_result rt__room_add(rt_room *r, rt_room_member *m)
{
    const rt_allocator *a = r->_rs->settings.alloc;
    size_t cap = r->_cap_slots > 0 ? r->_cap_slots * 2 : 4, sz = sizeof *r->_slots;
    rt_room_membership *rec;
    void *p;
    if (r->_n_slots == r->_cap_slots) {
        p = cap <= SIZE_MAX / sz ? rt_realloc(a, r->_slots, r->_cap_slots * sz, cap * sz) : NULL;
        if (!p)
            return RT_E_NOMEM;
        r->_slots = (rt_room_membership **)p;
        r->_cap_slots = cap;
    }
    rec = (rt_room_membership *)rt_alloc(a, sizeof *rec);
    if (!rec)
        return RT_E_NOMEM;
    rec->room = r;
    rec->member = m;
    rec->slot = r->_n_slots;
    r->_slots[r->_n_slots++] = rec;
    r->n_members++;
    rec->link.prev = rec->link.next = NULL;
    rt_list_push_front(&m->_rooms, &rec->link);
    m->n_rooms++;
    return RT_OK;
}

/* Unlinks rec from both sides and frees it; the room stays. During a walk
 * the slot becomes a hole (the walk indexes the array); otherwise the last
 * record moves into it. */
static void rt__room_remove(rt_room_membership *rec)
{
    rt_room *r = rec->room;
    rt_room_membership *last;
    if (r->_walks > 0) {
        r->_slots[rec->slot] = NULL;
        r->_holes++;
    } else {
        last = r->_slots[--r->_n_slots];
        r->_slots[rec->slot] = last;
        last->slot = rec->slot;
        rt__room_shrink_slots(r);
    }
    r->n_members--;
    rt_list_unlink(&rec->link);
    rec->member->n_rooms--;
    rt_free(r->_rs->settings.alloc, rec, sizeof *rec);
}

/* Joins m to a room it is not in, or to a new room called name (r NULL). */
static rt_result rt__room_join_new(rt_rooms *rs, rt_str name, rt_room_member *m, rt_room **r)
{
    rt_result res;
    if (m->n_rooms >= rs->settings.max_joins ||
        (*r && (*r)->n_members >= rs->settings.max_members))
        return RT_E_LIMIT;
    if (*r)
        return rt__room_add(*r, m);
    res = rt__rooms_create(rs, name, r);
    if (res == RT_OK && (res = rt__room_add(*r, m)) != RT_OK) {
        rt__room_free(*r); /* created just now: on error nothing may change */
        *r = NULL;
    }
    return res;
}

rt_result rt_room_join(rt_rooms *rs, rt_str name, rt_room_member *m, rt_room **out)
{
    rt_room *r;
    rt_result res = RT_OK;
    if (out)
        *out = NULL;
    if (!rt_room_name_valid(name))
        return RT_E_INVAL;
    r = rt_rooms_find(rs, name);
    if (!r || !rt__room_find_rec(r, m))
        res = rt__room_join_new(rs, name, m, &r);
    if (res == RT_OK && out)
        *out = r;
    return res;
}

rt_result rt_room_join_recover(rt_rooms *rs, rt_str name, rt_room_member *m,
                               const rt_room_pos *since, uint64_t now_ms, rt_room_recovery *rec)
{
    rt_room *r;
    rt_result res = rt_room_join(rs, name, m, &r);
    if (res == RT_OK)
        rt_room_recover(r, since, now_ms, rec);
    return res;
}

/* Frees r if nobody wants it any more (see rt__room_wanted), and gives
 * back table memory after a crowd of rooms has gone. */
static void rt__room_drop_if_unwanted(rt_room *r)
{
    rt_rooms *rs = r->_rs;
    if (rt__room_wanted(r))
        return;
    rt__room_free(r);
    rt_hash_shrink(&rs->_rooms, rs->settings.alloc, rs->n_rooms);
}

rt_result rt_room_leave(rt_room *room, rt_room_member *m)
{
    rt_room_membership *rec = rt__room_find_rec(room, m);
    if (!rec)
        return RT_E_NOTFOUND;
    rt__room_remove(rec);
    rt__room_drop_if_unwanted(room);
    return RT_OK;
}

void rt_room_leave_all(rt_room_member *m)
{
    rt_room_membership *rec;
    rt_room *r;
    while ((rec = rt__room_rec(rt_list_first(&m->_rooms))) != NULL) {
        r = rec->room;
        rt__room_remove(rec);
        rt__room_drop_if_unwanted(r);
    }
}

/* After the outermost walk: close the holes, keeping the order. */
static void rt__room_compact(rt_room *r)
{
    size_t i, n = 0;
    for (i = 0; i < r->_n_slots; i++) {
        if (r->_slots[i]) {
            r->_slots[i]->slot = n;
            r->_slots[n++] = r->_slots[i];
        }
    }
    r->_n_slots = n;
    r->_holes = 0;
    rt__room_shrink_slots(r);
}

/* Walks the slots that exist when it starts. Leaving makes holes instead of
 * moving records, and joining appends past `end`, so no record is visited
 * twice and none that left is visited at all. */
void rt_room_each(rt_room *room, rt_room_each_fn fn, void *ctx)
{
    size_t i, end = room->_n_slots;
    rt_room_membership *rec;
    room->_walks++;
    for (i = 0; i < end; i++) {
        rec = room->_slots[i];
        if (rec)
            fn(ctx, room, rec->member);
    }
    if (--room->_walks == 0 && room->_holes > 0)
        rt__room_compact(room);
}

void rt_rooms_deinit(rt_rooms *rs)
{
    rt_hash_node *x, *next;
    rt_room *r;
    for (x = rt_hash_first(&rs->_rooms); x; x = next) {
        next = rt_hash_next(&rs->_rooms, x);
        r = RT_HASH_ENTRY(x, rt_room, _node);
        RT_ASSERT(r->_walks == 0);
        while (r->_n_slots > 0)
            rt__room_remove(r->_slots[r->_n_slots - 1]);
        rt__room_free(r);
    }
    rt_hash_deinit(&rs->_rooms, rs->settings.alloc);
}
/* ==== End src/model/room.c ==== */

/* ==== Begin src/model/presence.c ==== */ // >>presence
#ifndef RT_NO_PRESENCE
/* presence.c - who is online in each room, and who is typing.
 *
 * The structures:
 *   - three tables of the shared hash table (base/hash): rooms by name,
 *     users by (room, id), connections by key;
 *   - per room, its users in a shared list (base/list) in join order
 *     (listing and O(1) removal);
 *   - per connection, its sessions (one per room it is in) in a list, so a
 *     connection finds its user in a room, or leaves everything, without
 *     looking at anybody else;
 *   - the shared min-heap (base/heap) of deadlines. Each user owns two
 *     timers (typing, grace);
 *     the heap's capacity is reserved for both when the user is created, so
 *     arming a timer never allocates and leave/tick cannot fail.
 * A join makes every allocation it may need before it changes anything, so
 * on RT_E_NOMEM the registry is as it was.
 */
#include <string.h>

/* A deadline; `slot` is its place in the heap, 0 while not armed. */
typedef struct rt_presence_timer {
    uint64_t at;
    size_t slot;
    struct rt__presence_user *user;
} rt_presence_timer;

typedef struct rt__presence_room {
    rt_hash_node node;
    rt_str name; /* inside this allocation, NUL-terminated */
    size_t n_users;
    rt_list users; /* join order */
} rt__presence_room;

typedef struct rt__presence_user {
    rt_hash_node node;
    rt__presence_room *room;
    rt_list link; /* in the room, join order */
    rt_str id;    /* inside this allocation */
    char *info;   /* own allocation; NULL when empty */
    size_t info_n;
    size_t n_conns;
    int typing;
    uint64_t since_ms;
    rt_presence_timer grace, typing_t;
} rt__presence_user;

typedef struct rt__presence_conn {
    rt_hash_node node;
    const void *key;
    size_t n_rooms;
    rt_list sessions;
} rt__presence_conn;

/* One connection in one room, as one user. */
typedef struct rt__presence_sess {
    rt__presence_conn *conn;
    rt__presence_user *user;
    rt_list link; /* in the connection's list */
} rt__presence_sess;

static const rt_allocator *rt__presence_alloc(const rt_presence *p)
{
    return p->settings.alloc;
}

/* now + ms, saturating: a deadline never wraps around to the past. */
static uint64_t rt__presence_after(uint64_t now, uint64_t ms)
{
    return now > UINT64_MAX - ms ? UINT64_MAX : now + ms;
}

/* ---- Names and hashes ------------------------------------------------------ */

int rt_presence_id_valid(rt_str id)
{
    return rt_str_is_name(id, RT_PRESENCE_MAX_ID);
}

/* FNV-1a (32-bit) continued from h. Not a keyed hash: the seeded basis only
 * stops collisions computed in advance; chains stay bounded by the limits
 * and the short names. */
static uint32_t rt__presence_hash_room(const rt_presence *p, rt_str name)
{
    uint64_t seed = p->settings.hash_seed;
    return rt_fnv1a(RT_FNV1A_BASIS ^ (uint32_t)(seed ^ (seed >> 32)), name.p, name.n);
}

/* A user's key is (room, id): its hash continues from the room's. */
static uint32_t rt__presence_hash_user(const rt__presence_room *r, rt_str id)
{
    return rt_fnv1a(r->node.hash * 16777619u, id.p, id.n);
}

/* The splitmix64 finaliser (Steele, Lea, Flood 2014) of the key's bits and
 * the seed: pointers differ in few low bits, and this spreads them all. */
static uint32_t rt__presence_hash_conn(const rt_presence *p, const void *key)
{
    uint64_t z = (uint64_t)(uintptr_t)key ^ p->settings.hash_seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return (uint32_t)(z ^ (z >> 32));
}

/* ---- Lookups ------------------------------------------------------------------ */

static rt__presence_room *rt__presence_find_room(const rt_presence *p, rt_str name)
{
    rt_hash_node *x;
    rt__presence_room *r;
    if (!rt_room_name_valid(name))
        return NULL;
    x = rt_hash_find(&p->_rooms, rt__presence_hash_room(p, name));
    for (; x; x = rt_hash_find_next(x)) {
        r = RT_HASH_ENTRY(x, rt__presence_room, node);
        if (rt_str_eq(r->name, name))
            return r;
    }
    return NULL;
}

static rt__presence_user *rt__presence_find_user(const rt_presence *p, const rt__presence_room *r,
                                                 rt_str id)
{
    rt_hash_node *x = rt_hash_find(&p->_users, rt__presence_hash_user(r, id));
    rt__presence_user *u;
    for (; x; x = rt_hash_find_next(x)) {
        u = RT_HASH_ENTRY(x, rt__presence_user, node);
        if (u->room == r && rt_str_eq(u->id, id))
            return u;
    }
    return NULL;
}

static rt__presence_conn *rt__presence_find_conn(const rt_presence *p, const void *key)
{
    rt_hash_node *x = rt_hash_find(&p->_conns, rt__presence_hash_conn(p, key));
    for (; x; x = rt_hash_find_next(x)) {
        if (RT_HASH_ENTRY(x, rt__presence_conn, node)->key == key)
            return RT_HASH_ENTRY(x, rt__presence_conn, node);
    }
    return NULL;
}

/* c's session in r, found through c's own list (at most max_joins long). */
static rt__presence_sess *rt__presence_find_sess(const rt__presence_conn *c,
                                                 const rt__presence_room *r)
{
    const rt_list *l;
    rt__presence_sess *s;
    for (l = c ? rt_list_first(&c->sessions) : NULL; l; l = rt_list_next(&c->sessions, l)) {
        s = RT_LIST_ENTRY(l, rt__presence_sess, link);
        if (s->user->room == r)
            return s;
    }
    return NULL;
}

static rt__presence_sess *rt__presence_lookup(const rt_presence *p, rt_str room, const void *key)
{
    rt__presence_room *r = rt__presence_find_room(p, room);
    return r ? rt__presence_find_sess(rt__presence_find_conn(p, key), r) : NULL;
}

/* ---- Deadlines ------------------------------------------------------------------ */

/* Arms t for `at`, or moves it there when armed. Never allocates (see the
 * top): the heap has room for two timers per user. */
static void rt__presence_timer_set(rt_presence *p, rt_presence_timer *t, uint64_t at)
{
    t->at = at;
    if (t->slot)
        rt_heap_update(&p->_deadlines, t);
    else
        rt_heap_insert(&p->_deadlines, t);
}

static void rt__presence_timer_stop(rt_presence *p, rt_presence_timer *t)
{
    rt_heap_remove(&p->_deadlines, t);
}

/* Room for the timers of `users` users. */
static rt_result rt__presence_heap_reserve(rt_presence *p, size_t users)
{
    if (users > SIZE_MAX / 2)
        return RT_E_NOMEM;
    return rt_heap_reserve(&p->_deadlines, rt__presence_alloc(p), 2 * users);
}

/* Gives memory back after a crowd has left: the heap keeps room for two
 * timers per user, the tables one bucket per entry. A failed shrink keeps
 * the bigger arrays. */
static void rt__presence_shrink(rt_presence *p)
{
    const rt_allocator *a = rt__presence_alloc(p);
    rt_heap_shrink(&p->_deadlines, a, 2 * p->n_users);
    rt_hash_shrink(&p->_users, a, p->n_users);
    rt_hash_shrink(&p->_rooms, a, p->n_rooms);
}

/* ---- Events and endings ---------------------------------------------------------- */

static rt_str rt__presence_info(const rt__presence_user *u)
{
    rt_str s;
    s.p = u->info ? u->info : "";
    s.n = u->info_n;
    return s;
}

static void rt__presence_emit(rt_presence *p, rt_presence_ev_type type, const rt__presence_user *u)
{
    rt_presence_event ev;
    if (!p->settings.on_event)
        return;
    ev.type = type;
    ev.room = u->room->name;
    ev.user = u->id;
    ev.info = rt__presence_info(u);
    ev.online = u->room->n_users;
    p->_busy++;
    p->settings.on_event(p->settings.ctx, &ev);
    p->_busy--;
}

static void rt__presence_room_free(rt_presence *p, rt__presence_room *r)
{
    rt_free(rt__presence_alloc(p), r, sizeof *r + r->name.n + 1);
}

static void rt__presence_user_free(rt_presence *p, rt__presence_user *u)
{
    rt_free(rt__presence_alloc(p), u->info, u->info_n);
    rt_free(rt__presence_alloc(p), u, sizeof *u + u->id.n + 1);
}

static void rt__presence_typing_stop(rt_presence *p, rt__presence_user *u)
{
    if (!u->typing)
        return;
    u->typing = 0;
    rt__presence_timer_stop(p, &u->typing_t);
    rt__presence_emit(p, RT_PRESENCE_EV_TYPING_STOP, u);
}

/* The end of a user in a room: unlinked and counted out before LEAVE is
 * announced (so the callback sees the room without it), freed after. An
 * empty room goes with its last user. */
static void rt__presence_user_drop(rt_presence *p, rt__presence_user *u)
{
    rt__presence_room *r = u->room;
    rt__presence_timer_stop(p, &u->grace);
    rt__presence_timer_stop(p, &u->typing_t);
    rt_hash_remove(&p->_users, &u->node);
    rt_list_unlink(&u->link);
    r->n_users--;
    p->n_users--;
    rt__presence_emit(p, RT_PRESENCE_EV_LEAVE, u);
    rt__presence_user_free(p, u);
    if (r->n_users == 0) {
        rt_hash_remove(&p->_rooms, &r->node);
        p->n_rooms--;
        rt__presence_room_free(p, r);
    }
    rt__presence_shrink(p);
}

/* Unlinks and frees one session. When it was its user's last connection in
 * the room, the user stops typing and its grace period starts. The
 * connection record stays, even when empty: the caller frees it. */
static void rt__presence_sess_remove(rt_presence *p, rt__presence_sess *s, uint64_t now_ms)
{
    rt__presence_conn *c = s->conn;
    rt__presence_user *u = s->user;
    rt_list_unlink(&s->link);
    c->n_rooms--;
    rt_free(rt__presence_alloc(p), s, sizeof *s);
    if (--u->n_conns > 0)
        return;
    rt__presence_typing_stop(p, u);
    if (p->settings.grace_ms == 0)
        rt__presence_user_drop(p, u);
    else
        rt__presence_timer_set(p, &u->grace, rt__presence_after(now_ms, p->settings.grace_ms));
}

static void rt__presence_conn_free(rt_presence *p, rt__presence_conn *c)
{
    rt_hash_remove(&p->_conns, &c->node);
    p->n_conns--;
    rt_free(rt__presence_alloc(p), c, sizeof *c);
    rt_hash_shrink(&p->_conns, rt__presence_alloc(p), p->n_conns);
}

/* ---- Registry --------------------------------------------------------------------- */

void rt_presence_settings_init(rt_presence_settings *s)
{
    memset(s, 0, sizeof *s);
    s->max_rooms = RT_PRESENCE_MAX_ROOMS;
    s->max_users = RT_PRESENCE_MAX_USERS;
    s->max_joins = RT_PRESENCE_MAX_JOINS;
    s->max_conns = RT_PRESENCE_MAX_CONNS;
    s->max_info = RT_PRESENCE_MAX_INFO;
    s->grace_ms = RT_PRESENCE_GRACE_MS;
    s->typing_ms = RT_PRESENCE_TYPING_MS;
}

rt_result rt_presence_init(rt_presence *p, const rt_presence_settings *s)
{
    if (s->max_rooms == 0 || s->max_users == 0 || s->max_joins == 0 || s->max_conns == 0 ||
        s->typing_ms == 0)
        return RT_E_INVAL;
    memset(p, 0, sizeof *p);
    p->settings = *s;
    rt_heap_init(&p->_deadlines, offsetof(rt_presence_timer, at),
                 offsetof(rt_presence_timer, slot));
    return RT_OK;
}

/* Frees every session and connection record, announcing nothing. Each
 * loop reads its next entry before it frees the current one. */
static void rt__presence_free_conns(rt_presence *p)
{
    const rt_allocator *a = rt__presence_alloc(p);
    rt_hash_node *x, *next_x;
    rt_list *l, *next_l;
    rt__presence_conn *c;
    for (x = rt_hash_first(&p->_conns); x; x = next_x) {
        next_x = rt_hash_next(&p->_conns, x);
        c = RT_HASH_ENTRY(x, rt__presence_conn, node);
        for (l = rt_list_first(&c->sessions); l; l = next_l) {
            next_l = rt_list_next(&c->sessions, l);
            rt_free(a, RT_LIST_ENTRY(l, rt__presence_sess, link), sizeof(rt__presence_sess));
        }
        rt_free(a, c, sizeof *c);
    }
}

/* Frees every user and room, announcing nothing. */
static void rt__presence_free_rooms(rt_presence *p)
{
    rt_hash_node *x, *next_x;
    rt_list *l, *next_l;
    rt__presence_room *r;
    for (x = rt_hash_first(&p->_rooms); x; x = next_x) {
        next_x = rt_hash_next(&p->_rooms, x);
        r = RT_HASH_ENTRY(x, rt__presence_room, node);
        for (l = rt_list_first(&r->users); l; l = next_l) {
            next_l = rt_list_next(&r->users, l);
            rt__presence_user_free(p, RT_LIST_ENTRY(l, rt__presence_user, link));
        }
        rt__presence_room_free(p, r);
    }
}

void rt_presence_deinit(rt_presence *p)
{
    const rt_allocator *a = rt__presence_alloc(p);
    RT_ASSERT(p->_busy == 0);
    rt__presence_free_conns(p);
    rt__presence_free_rooms(p);
    rt_hash_deinit(&p->_rooms, a);
    rt_hash_deinit(&p->_users, a);
    rt_hash_deinit(&p->_conns, a);
    rt_heap_deinit(&p->_deadlines, a);
    p->n_rooms = p->n_users = p->n_conns = 0;
}

/* ---- Join ------------------------------------------------------------------------- */

/* What a join found, then what it allocated: records it allocated (those
 * that differ from what the lookups found) are its own until linked in. */
typedef struct rt__presence_join {
    rt_str room, user, info;
    const void *key;
    uint64_t now_ms;
    rt__presence_conn *c;
    rt__presence_room *r;
    rt__presence_user *u;
    rt__presence_sess *s;
    char *info_copy;
    int set_info; /* info is given and differs from the user's */
} rt__presence_join;

static int rt__presence_info_differs(const rt__presence_user *u, rt_str info)
{
    return u->info_n != info.n || (info.n > 0 && memcmp(u->info, info.p, info.n) != 0);
}

/* The copy of info the join will store, when it stores one. */
static rt_result rt__presence_copy_info(rt_presence *p, rt__presence_join *j)
{
    j->set_info = j->info.p != NULL && (!j->u || rt__presence_info_differs(j->u, j->info));
    j->info_copy = NULL;
    if (!j->set_info || j->info.n == 0)
        return RT_OK;
    j->info_copy = (char *)rt_alloc(rt__presence_alloc(p), j->info.n);
    if (!j->info_copy)
        return RT_E_NOMEM;
    memcpy(j->info_copy, j->info.p, j->info.n);
    return RT_OK;
}

/* Replaces u's info with the join's copy. */
static void rt__presence_take_info(rt_presence *p, rt__presence_user *u, rt__presence_join *j)
{
    rt_free(rt__presence_alloc(p), u->info, u->info_n);
    u->info = j->info_copy;
    u->info_n = j->info.n;
    j->info_copy = NULL;
}

/* conn is already in the room: the same user may bring new info. */
static rt_result rt__presence_rejoin(rt_presence *p, rt__presence_join *j)
{
    rt__presence_user *u = j->s->user;
    if (u != j->u)
        return RT_E_INVAL;
    if (rt__presence_copy_info(p, j) != RT_OK)
        return RT_E_NOMEM;
    if (j->set_info) {
        rt__presence_take_info(p, u, j);
        rt__presence_emit(p, RT_PRESENCE_EV_UPDATE, u);
    }
    return RT_OK;
}

static rt_result rt__presence_join_limits(const rt_presence *p, const rt__presence_join *j)
{
    const rt_presence_settings *s = &p->settings;
    if (j->c ? j->c->n_rooms >= s->max_joins : p->n_conns >= s->max_conns)
        return RT_E_LIMIT;
    if (!j->r)
        return p->n_rooms >= s->max_rooms ? RT_E_LIMIT : RT_OK;
    return !j->u && j->r->n_users >= s->max_users ? RT_E_LIMIT : RT_OK;
}

/* The bucket arrays and heap slots a join needs. Growing them changes no
 * visible state, so they may stay grown when a later step fails. */
static rt_result rt__presence_join_reserve(rt_presence *p, const rt__presence_join *j)
{
    const rt_allocator *a = rt__presence_alloc(p);
    if (!j->c && rt_hash_reserve(&p->_conns, a, p->n_conns + 1) != RT_OK)
        return RT_E_NOMEM;
    if (!j->r && rt_hash_reserve(&p->_rooms, a, p->n_rooms + 1) != RT_OK)
        return RT_E_NOMEM;
    if (j->u)
        return RT_OK;
    if (rt_hash_reserve(&p->_users, a, p->n_users + 1) != RT_OK)
        return RT_E_NOMEM;
    return rt__presence_heap_reserve(p, p->n_users + 1);
}

static rt__presence_conn *rt__presence_conn_new(rt_presence *p, const void *key)
{
    rt__presence_conn *c = (rt__presence_conn *)rt_alloc(rt__presence_alloc(p), sizeof *c);
    if (c) {
        c->key = key;
        c->n_rooms = 0;
        c->sessions.prev = c->sessions.next = NULL;
    }
    return c;
}

static rt__presence_room *rt__presence_room_new(rt_presence *p, rt_str name)
{
    rt__presence_room *r;
    char *s;
    r = (rt__presence_room *)rt_alloc(rt__presence_alloc(p), sizeof *r + name.n + 1);
    if (!r)
        return NULL;
    s = (char *)(r + 1);
    memcpy(s, name.p, name.n);
    s[name.n] = '\0';
    r->name.p = s;
    r->name.n = name.n;
    r->n_users = 0;
    r->users.prev = r->users.next = NULL;
    return r;
}

static rt__presence_user *rt__presence_user_new(rt_presence *p, rt__presence_room *r, rt_str id,
                                                uint64_t now_ms)
{
    rt__presence_user *u;
    char *s;
    u = (rt__presence_user *)rt_alloc(rt__presence_alloc(p), sizeof *u + id.n + 1);
    if (!u)
        return NULL;
    memset(u, 0, sizeof *u);
    s = (char *)(u + 1);
    memcpy(s, id.p, id.n);
    s[id.n] = '\0';
    u->id.p = s;
    u->id.n = id.n;
    u->room = r;
    u->since_ms = now_ms;
    u->grace.user = u->typing_t.user = u;
    return u;
}

/* Frees what the join allocated and has not linked in: the pointers that
 * differ from what the lookups found (`found`). */
static void rt__presence_join_undo(rt_presence *p, rt__presence_join *j,
                                   const rt__presence_join *found)
{
    const rt_allocator *a = rt__presence_alloc(p);
    rt_free(a, j->info_copy, j->info.n);
    rt_free(a, j->s, sizeof *j->s);
    if (j->u && j->u != found->u)
        rt__presence_user_free(p, j->u);
    if (j->r && j->r != found->r)
        rt__presence_room_free(p, j->r);
    if (j->c && j->c != found->c)
        rt_free(a, j->c, sizeof *j->c);
}

/* Allocates every record the join lacks, or none (RT_E_NOMEM). */
static rt_result rt__presence_join_alloc(rt_presence *p, rt__presence_join *j,
                                         const rt__presence_join *found)
{
    j->s = (rt__presence_sess *)rt_alloc(rt__presence_alloc(p), sizeof *j->s);
    if (j->s && !j->c)
        j->c = rt__presence_conn_new(p, j->key);
    if (j->s && j->c && !j->r)
        j->r = rt__presence_room_new(p, j->room);
    if (j->s && j->c && j->r && !j->u)
        j->u = rt__presence_user_new(p, j->r, j->user, j->now_ms);
    if (j->s && j->c && j->r && j->u && rt__presence_copy_info(p, j) == RT_OK)
        return RT_OK;
    rt__presence_join_undo(p, j, found);
    return RT_E_NOMEM;
}

/* Links the records in; cannot fail. found says which ones are new. */
static void rt__presence_join_link(rt_presence *p, rt__presence_join *j,
                                   const rt__presence_join *found)
{
    rt__presence_sess *s = j->s;
    rt__presence_user *u = j->u;
    if (!found->c) {
        rt_hash_insert(&p->_conns, &j->c->node, rt__presence_hash_conn(p, j->key));
        p->n_conns++;
    }
    if (!found->r) {
        rt_hash_insert(&p->_rooms, &j->r->node, rt__presence_hash_room(p, j->room));
        p->n_rooms++;
    }
    if (!found->u) { /* after its room: the user's hash continues the room's */
        rt_list_push_back(&j->r->users, &u->link);
        rt_hash_insert(&p->_users, &u->node, rt__presence_hash_user(j->r, j->user));
        j->r->n_users++;
        p->n_users++;
    }
    s->conn = j->c;
    s->user = u;
    rt_list_push_front(&j->c->sessions, &s->link);
    j->c->n_rooms++;
    u->n_conns++;
    rt__presence_timer_stop(p, &u->grace); /* back within the grace period */
}

/* A connection not yet in the room: limits, allocations, links, events. */
static rt_result rt__presence_join_new(rt_presence *p, rt__presence_join *j)
{
    rt__presence_join found = *j;
    rt_result res = rt__presence_join_limits(p, j);
    if (res == RT_OK)
        res = rt__presence_join_reserve(p, j);
    if (res == RT_OK)
        res = rt__presence_join_alloc(p, j, &found);
    if (res != RT_OK)
        return res;
    rt__presence_join_link(p, j, &found);
    if (j->set_info)
        rt__presence_take_info(p, j->u, j);
    if (!found.u)
        rt__presence_emit(p, RT_PRESENCE_EV_JOIN, j->u);
    else if (j->set_info)
        rt__presence_emit(p, RT_PRESENCE_EV_UPDATE, j->u);
    return RT_OK;
}

rt_result rt_presence_join(rt_presence *p, rt_str room, rt_str user, rt_str info,
                           const void *conn, uint64_t now_ms)
{
    rt__presence_join j;
    RT_ASSERT(p->_busy == 0);
    if (!rt_room_name_valid(room) || !rt_presence_id_valid(user) || !conn ||
        (info.n > 0 && !info.p))
        return RT_E_INVAL;
    if (info.n > p->settings.max_info)
        return RT_E_LIMIT;
    memset(&j, 0, sizeof j);
    j.room = room;
    j.user = user;
    j.info = info;
    j.key = conn;
    j.now_ms = now_ms;
    j.c = rt__presence_find_conn(p, conn);
    j.r = rt__presence_find_room(p, room);
    j.u = j.r ? rt__presence_find_user(p, j.r, user) : NULL;
    j.s = j.r ? rt__presence_find_sess(j.c, j.r) : NULL;
    return j.s ? rt__presence_rejoin(p, &j) : rt__presence_join_new(p, &j);
}

/* ---- Leave, typing, time ---------------------------------------------------------- */

rt_result rt_presence_leave(rt_presence *p, rt_str room, const void *conn, uint64_t now_ms)
{
    rt__presence_sess *s;
    rt__presence_conn *c;
    RT_ASSERT(p->_busy == 0);
    s = rt__presence_lookup(p, room, conn);
    if (!s)
        return RT_E_NOTFOUND;
    c = s->conn;
    rt__presence_sess_remove(p, s, now_ms);
    if (c->n_rooms == 0)
        rt__presence_conn_free(p, c);
    return RT_OK;
}

void rt_presence_leave_all(rt_presence *p, const void *conn, uint64_t now_ms)
{
    rt__presence_conn *c;
    RT_ASSERT(p->_busy == 0);
    rt_list *l;
    c = rt__presence_find_conn(p, conn);
    if (!c)
        return;
    while ((l = rt_list_first(&c->sessions)) != NULL)
        rt__presence_sess_remove(p, RT_LIST_ENTRY(l, rt__presence_sess, link), now_ms);
    rt__presence_conn_free(p, c);
}

rt_result rt_presence_typing(rt_presence *p, rt_str room, const void *conn, int on,
                             uint64_t now_ms)
{
    rt__presence_sess *s;
    rt__presence_user *u;
    RT_ASSERT(p->_busy == 0);
    s = rt__presence_lookup(p, room, conn);
    if (!s)
        return RT_E_NOTFOUND;
    u = s->user;
    if (!on) {
        rt__presence_typing_stop(p, u);
        return RT_OK;
    }
    /* a repeated start only moves the deadline: no second TYPING_START */
    rt__presence_timer_set(p, &u->typing_t, rt__presence_after(now_ms, p->settings.typing_ms));
    if (!u->typing) {
        u->typing = 1;
        rt__presence_emit(p, RT_PRESENCE_EV_TYPING_START, u);
    }
    return RT_OK;
}

size_t rt_presence_tick(rt_presence *p, uint64_t now_ms)
{
    size_t n = 0;
    rt_presence_timer *t;
    RT_ASSERT(p->_busy == 0);
    while ((t = (rt_presence_timer *)rt_heap_min(&p->_deadlines)) != NULL && t->at <= now_ms) {
        if (t == &t->user->typing_t)
            rt__presence_typing_stop(p, t->user);
        else
            rt__presence_user_drop(p, t->user);
        n++;
    }
    return n;
}

int rt_presence_next_deadline(const rt_presence *p, uint64_t *at_ms)
{
    const rt_presence_timer *t = (const rt_presence_timer *)rt_heap_min(&p->_deadlines);
    if (!t)
        return 0;
    *at_ms = t->at;
    return 1;
}

/* ---- Queries ---------------------------------------------------------------------- */

size_t rt_presence_count(const rt_presence *p, rt_str room)
{
    const rt__presence_room *r = rt__presence_find_room(p, room);
    return r ? r->n_users : 0;
}

size_t rt_presence_list(rt_presence *p, rt_str room, rt_presence_each_fn fn, void *ctx)
{
    rt__presence_room *r = rt__presence_find_room(p, room);
    const rt__presence_user *u;
    const rt_list *l;
    rt_presence_member m;
    size_t n = 0;
    if (!r)
        return 0;
    p->_busy++;
    for (l = rt_list_first(&r->users); l; l = rt_list_next(&r->users, l)) {
        u = RT_LIST_ENTRY(l, const rt__presence_user, link);
        m.user = u->id;
        m.info = rt__presence_info(u);
        m.conns = u->n_conns;
        m.typing = u->typing;
        m.since_ms = u->since_ms;
        fn(ctx, &m);
        n++;
    }
    p->_busy--;
    return n;
}
#endif /* RT_NO_PRESENCE */
/* ==== End src/model/presence.c ==== */

/* ==== Begin src/io/platform.c ==== */ // >>platform
#ifndef RT_NO_IO
/* platform.c - POSIX: the clock, randomness, poll/epoll, the wake pipe, sockets.
 *
 * The one file of rt.h that includes the system's headers for these and
 * calls them; platform.h states the contract. A port to another system
 * (lwIP's sockets and lwip_poll, Windows' WSAPoll) replaces this file and
 * keeps the contract: same results, same meaning of RT_AGAIN. The
 * readiness backend lives here because it is the OS's API: the loop above
 * keeps its registrations and generations and only hands a tag down.
 *
 * The backend is picked at compile time, as in antirez's ae.c: poll (POSIX,
 * the default) or epoll (Linux) supply the same set of functions. */

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#if !defined(RT_BACKEND_EPOLL) && !defined(RT_BACKEND_POLL)
#  define RT_BACKEND_POLL
#endif
#if defined(RT_BACKEND_EPOLL) && defined(RT_BACKEND_POLL)
#  error "rt.h: define at most one of RT_BACKEND_EPOLL and RT_BACKEND_POLL"
#endif
#if defined(RT_BACKEND_EPOLL) && !defined(__linux__)
#  error "rt.h: RT_BACKEND_EPOLL needs Linux; use the default poll backend"
#endif
#ifdef RT_BACKEND_EPOLL
#  include <sys/epoll.h>
#endif

/* ---- The application's hooks: clock and randomness ------------------------
 * RT_CLOCK_MS() gives monotonic milliseconds (any origin; it must never go
 * back). RT_RANDOM(buf, n) fills n bytes; rt.h uses it for seeds only, so it
 * must not fail. Either one defined by the application replaces the
 * default, which is then not compiled at all. */
#ifndef RT_CLOCK_MS
static uint64_t rt__plat_clock_ms(void)
{
    struct timespec ts;
    ts.tv_sec = 0;
    ts.tv_nsec = 0;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
#  define RT_CLOCK_MS() rt__plat_clock_ms()
#endif

#ifndef RT_RANDOM
/* /dev/urandom. Where it cannot be read (a chroot, early boot) the bytes
 * come from the wall clock and the pid instead: weak, but still different on
 * every run, which is what rt.h's seeds need. */
static void rt__plat_random(void *buf, size_t n)
{
    unsigned char *p = (unsigned char *)buf;
    size_t got = 0;
    uint64_t s;
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd >= 0) {
        ssize_t r = read(fd, buf, n);
        got = r > 0 ? (size_t)r : 0;
        close(fd);
    }
    s = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid();
    for (; got < n; got++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull; /* Knuth's MMIX LCG */
        p[got] = (unsigned char)(s >> 56);
    }
}
#  define RT_RANDOM(buf, n) rt__plat_random(buf, n)
#endif

/* ---- Helpers ----------------------------------------------------------------- */

/* The kernel's readiness bits, as RT_IO_* bits. A hang-up or error also
 * counts as readable: read() then returns 0 or the error, which is how the
 * caller learns what happened. */
static unsigned rt__plat_events(int in, int out, int err)
{
    unsigned ev = 0;
    if (in)
        ev |= RT_IO_READ;
    if (out)
        ev |= RT_IO_WRITE;
    if (err)
        ev |= RT_IO_READ | RT_IO_ERROR;
    return ev;
}

rt_result rt_plat_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return RT_E_IO;
    return RT_OK;
}

void rt_plat_poller_init(rt_plat_poller *p)
{
    memset(p, 0, sizeof *p);
    p->fd = -1;
}

/* ---- poll backend ---------------------------------------------------------
 * A dense struct pollfd array holds exactly the watched fds, so poll()
 * scans no holes, and tags[] runs beside it. The loop's callbacks reshuffle
 * both between a wait and the last event read from it, so wait copies the
 * reported events into ready[] first. */
#ifdef RT_BACKEND_POLL

typedef struct rt__plat_poll_ev {
    int fd;
    uint16_t tag;
    uint16_t events;
} rt__plat_poll_ev;

/* poll keeps no kernel object. */
rt_result rt_plat_poller_open(rt_plat_poller *p)
{
    (void)p;
    return RT_OK;
}

void rt_plat_poller_close(rt_plat_poller *p, const rt_allocator *a)
{
    rt_free(a, p->set, p->cap * sizeof(struct pollfd));
    rt_free(a, p->tags, p->tags_cap * sizeof(uint16_t));
    rt_free(a, p->ready, p->ready_cap * sizeof(rt__plat_poll_ev));
    rt_plat_poller_init(p);
}

static short rt__plat_poll_mask(unsigned events)
{
    return (short)(((events & RT_IO_READ) ? POLLIN : 0) | ((events & RT_IO_WRITE) ? POLLOUT : 0));
}

rt_result rt_plat_poller_add(rt_plat_poller *p, const rt_allocator *a, int fd, unsigned events,
                             uint16_t tag, uint32_t *slot)
{
    size_t need = p->len + 1;
    struct pollfd *pf;
    void *q = rt_grow(a, p->ready, &p->ready_cap, need, sizeof(rt__plat_poll_ev), 8u);
    if (!q)
        return RT_E_NOMEM;
    p->ready = q;
    q = rt_grow(a, p->tags, &p->tags_cap, need, sizeof(uint16_t), 8u);
    if (!q)
        return RT_E_NOMEM;
    p->tags = (uint16_t *)q;
    q = rt_grow(a, p->set, &p->cap, need, sizeof(struct pollfd), 8u);
    if (!q)
        return RT_E_NOMEM;
    p->set = q;
    pf = (struct pollfd *)q + p->len;
    pf->fd = fd;
    pf->events = rt__plat_poll_mask(events);
    pf->revents = 0;
    p->tags[p->len] = tag;
    *slot = (uint32_t)p->len++; /* fewer than INT_MAX fds */
    return RT_OK;
}

rt_result rt_plat_poller_mod(rt_plat_poller *p, int fd, uint32_t slot, unsigned events,
                             uint16_t tag)
{
    (void)fd;
    ((struct pollfd *)p->set)[slot].events = rt__plat_poll_mask(events);
    p->tags[slot] = tag;
    return RT_OK;
}

int rt_plat_poller_del(rt_plat_poller *p, int fd, uint32_t slot)
{
    struct pollfd *pf = (struct pollfd *)p->set;
    size_t last = --p->len;
    (void)fd;
    pf[slot] = pf[last];
    p->tags[slot] = p->tags[last];
    return pf[slot].fd;
}

int rt_plat_poller_wait(rt_plat_poller *p, int timeout_ms)
{
    struct pollfd *pf = (struct pollfd *)p->set;
    rt__plat_poll_ev *ready = (rt__plat_poll_ev *)p->ready;
    size_t i, k = 0;
    int n = poll(pf, (nfds_t)p->len, timeout_ms);
    if (n < 0)
        return errno == EINTR ? RT_AGAIN : RT_E_IO;
    for (i = 0; i < p->len && (int)k < n; i++) {
        int r = pf[i].revents;
        if (!r)
            continue;
        ready[k].fd = pf[i].fd;
        ready[k].tag = p->tags[i];
        ready[k].events = (uint16_t)rt__plat_events((r & POLLIN) != 0, (r & POLLOUT) != 0,
                                                    (r & (POLLERR | POLLHUP | POLLNVAL)) != 0);
        k++;
    }
    return (int)k;
}

unsigned rt_plat_poller_event(const rt_plat_poller *p, int i, int *fd, uint16_t *tag)
{
    const rt__plat_poll_ev *ev = (const rt__plat_poll_ev *)p->ready + i;
    *fd = ev->fd;
    *tag = ev->tag;
    return ev->events;
}

#endif /* RT_BACKEND_POLL */

/* ---- epoll backend --------------------------------------------------------
 * The kernel keeps the interest list; set[] is a buffer with one slot per
 * watched fd for epoll_wait to fill. Each event's data holds the fd and its
 * tag, so events need no copying. Level-triggered, like poll, so both
 * backends behave alike. Slots mean nothing here. */
#ifdef RT_BACKEND_EPOLL

rt_result rt_plat_poller_open(rt_plat_poller *p)
{
    p->fd = epoll_create1(EPOLL_CLOEXEC);
    return p->fd < 0 ? RT_E_IO : RT_OK;
}

void rt_plat_poller_close(rt_plat_poller *p, const rt_allocator *a)
{
    if (p->fd >= 0)
        close(p->fd);
    rt_free(a, p->set, p->cap * sizeof(struct epoll_event));
    rt_plat_poller_init(p);
}

static rt_result rt__plat_epoll_ctl(rt_plat_poller *p, int op, int fd, unsigned events,
                                    uint16_t tag)
{
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.events = ((events & RT_IO_READ) ? (uint32_t)EPOLLIN : 0u)
               | ((events & RT_IO_WRITE) ? (uint32_t)EPOLLOUT : 0u);
    e.data.u64 = ((uint64_t)tag << 32) | (uint32_t)fd;
    return epoll_ctl(p->fd, op, fd, &e) == 0 ? RT_OK : RT_E_IO;
}

rt_result rt_plat_poller_add(rt_plat_poller *p, const rt_allocator *a, int fd, unsigned events,
                             uint16_t tag, uint32_t *slot)
{
    void *q = rt_grow(a, p->set, &p->cap, p->len + 1, sizeof(struct epoll_event), 8u);
    if (!q)
        return RT_E_NOMEM;
    p->set = q;
    if (rt__plat_epoll_ctl(p, EPOLL_CTL_ADD, fd, events, tag) != RT_OK)
        return RT_E_IO;
    *slot = 0;
    p->len++;
    return RT_OK;
}

rt_result rt_plat_poller_mod(rt_plat_poller *p, int fd, uint32_t slot, unsigned events,
                             uint16_t tag)
{
    (void)slot;
    return rt__plat_epoll_ctl(p, EPOLL_CTL_MOD, fd, events, tag);
}

/* A failure is ignored: the caller may have closed fd already, and closing
 * the last descriptor of a file removes it from the interest list. */
int rt_plat_poller_del(rt_plat_poller *p, int fd, uint32_t slot)
{
    struct epoll_event e; /* Linux < 2.6.9 wants non-NULL even for DEL */
    (void)slot;
    memset(&e, 0, sizeof e);
    epoll_ctl(p->fd, EPOLL_CTL_DEL, fd, &e);
    p->len--;
    return -1;
}

int rt_plat_poller_wait(rt_plat_poller *p, int timeout_ms)
{
    int cap = p->cap < INT_MAX ? (int)p->cap : INT_MAX;
    int n = epoll_wait(p->fd, (struct epoll_event *)p->set, cap, timeout_ms);
    if (n < 0)
        return errno == EINTR ? RT_AGAIN : RT_E_IO;
    return n;
}

unsigned rt_plat_poller_event(const rt_plat_poller *p, int i, int *fd, uint16_t *tag)
{
    const struct epoll_event *e = (const struct epoll_event *)p->set + i;
    uint32_t r = e->events;
    *fd = (int)(uint32_t)e->data.u64;
    *tag = (uint16_t)(e->data.u64 >> 32);
    return rt__plat_events((r & EPOLLIN) != 0, (r & EPOLLOUT) != 0,
                           (r & (EPOLLERR | EPOLLHUP)) != 0);
}

#endif /* RT_BACKEND_EPOLL */

/* ---- The wake pipe ----------------------------------------------------------
 * Both ends non-blocking: the loop must never sleep in read(), and a writer
 * must never sleep in write() (it gets RT_AGAIN instead). pipe2() would set
 * the flags atomically but is not in POSIX.1-2008. A write of at most
 * PIPE_BUF bytes (512 or more) goes in whole or not at all, even with many
 * threads writing at once: that is what makes the channel lock-free. */

rt_result rt_plat_wake_open(int wake[2])
{
    int fds[2];
    if (pipe(fds) != 0)
        return RT_E_IO;
    wake[0] = fds[0];
    wake[1] = fds[1];
    if (rt_plat_set_nonblock(wake[0]) != RT_OK || rt_plat_set_nonblock(wake[1]) != RT_OK)
        return RT_E_IO;
    return RT_OK;
}

rt_result rt_plat_wake_signal(int fd, const void *rec, size_t n)
{
    ssize_t w;
    do {
        w = write(fd, rec, n);
    } while (w < 0 && errno == EINTR);
    if (w == (ssize_t)n)
        return RT_OK;
    return w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? RT_AGAIN : RT_E_IO;
}

size_t rt_plat_wake_drain(int fd, void *buf, size_t cap)
{
    ssize_t got = read(fd, buf, cap);
    return got > 0 ? (size_t)got : 0;
}

void rt_plat_wake_close(int wake[2])
{
    if (wake[0] >= 0)
        close(wake[0]);
    if (wake[1] >= 0)
        close(wake[1]);
}

/* ---- Sockets ------------------------------------------------------------------ */

/* C99 has no static_assert: an array of size -1 fails to compile. */
typedef char rt__plat_iov_is_iovec[(sizeof(rt_plat_iov) == sizeof(struct iovec)
                                    && offsetof(rt_plat_iov, base) == offsetof(struct iovec, iov_base)
                                    && offsetof(rt_plat_iov, len) == offsetof(struct iovec, iov_len))
                                   ? 1 : -1];

/* The port of a bound socket, from getsockname: -1 on failure. */
static int rt__plat_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

/* One socket bound to ai and listening, or -1; *bound_port is set on success. */
static int rt__plat_bind(const struct addrinfo *ai, int *bound_port)
{
    int one = 1, zero = 0, port = -1;
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6) /* "::" serves IPv4 too */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0 &&
        rt_plat_set_nonblock(fd) == RT_OK)
        port = rt__plat_local_port(fd);
    if (port < 0) {
        close(fd);
        return -1;
    }
    *bound_port = port;
    return fd;
}

rt_result rt_plat_listen(const char *host, int port, int *fd, int *bound_port)
{
    struct addrinfo hints, *ai = NULL;
    char portstr[16];
    *fd = -1; /* so a caller's cleanup after a failure closes nothing */
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST;
    snprintf(portstr, sizeof portstr, "%d", port);
    if (getaddrinfo(host ? host : "0.0.0.0", portstr, &hints, &ai) != 0 || !ai)
        return RT_E_INVAL;
    *fd = rt__plat_bind(ai, bound_port);
    freeaddrinfo(ai);
    return *fd < 0 ? RT_E_IO : RT_OK;
}

/* The address bytes, not the port: what a per-source count is keyed on. */
static void rt__plat_addr(const struct sockaddr_storage *ss, rt_plat_addr *a)
{
    if (ss->ss_family == AF_INET6) {
        a->len = 16;
        memcpy(a->bytes, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    } else {
        a->len = 4;
        memcpy(a->bytes, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    }
}

rt_result rt_plat_accept(int lfd, int *fd, rt_plat_addr *from)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int cfd = accept(lfd, (struct sockaddr *)&ss, &len);
    if (cfd < 0)
        return errno == EMFILE || errno == ENFILE ? RT_E_LIMIT : RT_AGAIN;
    *fd = cfd;
    if (from)
        rt__plat_addr(&ss, from);
    return RT_OK;
}

void rt_plat_set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A failed byte call's result: would block, or the connection failed. */
static ptrdiff_t rt__plat_io_error(void)
{
    return errno == EAGAIN || errno == EWOULDBLOCK ? RT_AGAIN : RT_E_IO;
}

ptrdiff_t rt_plat_recv(int fd, void *buf, size_t cap)
{
    ssize_t n;
    do {
        n = recv(fd, buf, cap, 0);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? rt__plat_io_error() : (ptrdiff_t)n;
}

ptrdiff_t rt_plat_send(int fd, const void *buf, size_t n)
{
    ssize_t w;
    do {
        w = send(fd, buf, n, MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    return w < 0 ? rt__plat_io_error() : (ptrdiff_t)w;
}

ptrdiff_t rt_plat_sendv(int fd, const rt_plat_iov *iov, size_t n)
{
    struct msghdr mh;
    ssize_t w;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = (struct iovec *)(void *)iov; /* same layout, checked above; not written */
    mh.msg_iovlen = n;
    do {
        w = sendmsg(fd, &mh, MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    return w < 0 ? rt__plat_io_error() : (ptrdiff_t)w;
}

rt_result rt_plat_shutdown_write(int fd)
{
    return shutdown(fd, SHUT_WR) == 0 ? RT_OK : RT_E_IO;
}

void rt_plat_close(int fd)
{
    close(fd);
}

rt_result rt_plat_peer(int fd, char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN];
    size_t n;
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0 ||
        getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0)
        return RT_E_IO;
    n = strlen(host);
    if (n >= cap)
        return RT_E_NOSPACE;
    memcpy(buf, host, n + 1);
    return (rt_result)n;
}
#endif /* RT_NO_IO */
/* ==== End src/io/platform.c ==== */

/* ==== Begin src/io/loop.c ==== */ // >>loop
#ifndef RT_NO_IO
/* loop.c - the event loop: registrations, timers, post, the step.
 *
 * A step is: read the clock, wait in the backend for at most the time to the
 * next timer, read the clock again, run the fd callbacks, then the due timers.
 * The backend (poll or epoll) and the wake pipe are the platform layer's
 * (platform.c); everything here is written once, for any of them.
 *
 * Callbacks may add and remove any fd. An event the kernel reported for an
 * fd that a callback has since removed, or removed and registered again,
 * must not be delivered: every registration therefore gets a generation
 * number, the backend hands each reported event back with the generation
 * it was registered with, and a mismatch drops it.
 */

#include <limits.h>

/* One per fd number up to the highest registered, so it is kept small:
 * 24 bytes on LP64, 16 on 32-bit targets. A 16-bit generation is enough,
 * since it only has to differ between an event's report and its dispatch
 * in the same step. */
struct rt_loop_fd {
    rt_io_fn fn;       /* NULL for the loop's own wake pipe */
    void *user;
    uint32_t slot;     /* the backend's slot for it (poll: its pollfd) */
    uint16_t gen;      /* bumped by every add: tells stale events apart */
    uint8_t events;    /* RT_IO_READ | RT_IO_WRITE watched */
    uint8_t used;
};

/* Arrays start this small so an idle loop costs little RAM, then double. */
#define RT__LOOP_MIN_CAP 8u

/* Posted calls drained per step: a batch per read, a few reads, so a thread
 * that posts without pause cannot starve the sockets. What is left in the
 * pipe keeps it readable and runs next step. */
#define RT__LOOP_POST_BATCH 32
#define RT__LOOP_POST_READS 32

/* One posted call. Two pointers are far below PIPE_BUF (at least 512 bytes,
 * POSIX), so the wake channel takes a record whole or not at all, even with
 * many threads writing at once: that is what makes rt_loop_post lock-free. */
typedef struct rt__loop_post_rec {
    rt_post_fn fn;
    void *arg;
} rt__loop_post_rec;

uint64_t rt_time_ms(void)
{
    return RT_CLOCK_MS();
}

/* The loop's arrays grow with rt_grow. The new part is not zeroed: memory
 * never written is never made resident, and each array writes an element
 * before it reads it. */
static void *rt__loop_grow(rt_loop *loop, void *p, size_t *cap, size_t need, size_t elem)
{
    return rt_grow(loop->alloc, p, cap, need, elem, RT__LOOP_MIN_CAP);
}

static int rt__loop_drain(rt_loop *loop);

/* Delivers one reported event unless a callback earlier in this step removed
 * or replaced the registration (generation mismatch) or stopped watching
 * that kind. Returns the number of callbacks run. */
static int rt__loop_fire(rt_loop *loop, int fd, uint16_t gen, unsigned events)
{
    rt_loop_fd *f = &loop->_fds[fd];
    if (!f->used || f->gen != gen)
        return 0;
    events &= f->events | RT_IO_ERROR;
    if (!events)
        return 0;
    if (!f->fn)
        return rt__loop_drain(loop);
    f->fn(loop, fd, events, f->user); /* may realloc _fds: f is dead now */
    return 1;
}

/* Runs the callbacks of the n events the backend's wait reported. The
 * backend reads each event afresh: an add in a callback may move its arrays. */
static int rt__loop_dispatch(rt_loop *loop, int n)
{
    int i, fd, ran = 0;
    uint16_t gen;
    for (i = 0; i < n; i++) {
        unsigned ev = rt_plat_poller_event(&loop->_poll, i, &fd, &gen);
        ran += rt__loop_fire(loop, fd, gen, ev);
    }
    return ran;
}

/* ---- registrations ------------------------------------------------------- */

static rt_result rt__loop_register(rt_loop *loop, int fd, unsigned events, rt_io_fn fn,
                                   void *user)
{
    rt_loop_fd *f;
    rt_result r;
    void *q = rt__loop_grow(loop, loop->_fds, &loop->_fds_cap, (size_t)fd + 1,
                            sizeof(rt_loop_fd));
    if (!q)
        return RT_E_NOMEM;
    loop->_fds = (rt_loop_fd *)q;
    if ((size_t)fd >= loop->_fds_len) { /* first use of the entries up to fd */
        memset(loop->_fds + loop->_fds_len, 0, ((size_t)fd + 1 - loop->_fds_len) * sizeof *f);
        loop->_fds_len = (size_t)fd + 1;
    }
    f = &loop->_fds[fd];
    if (f->used)
        return RT_E_INVAL;
    f->gen++;
    f->fn = fn;
    f->user = user;
    f->events = (uint8_t)events;
    r = rt_plat_poller_add(&loop->_poll, loop->alloc, fd, events, f->gen, &f->slot);
    f->used = (uint8_t)(r == RT_OK);
    return r;
}

static int rt__loop_registered(const rt_loop *loop, int fd)
{
    return fd >= 0 && (size_t)fd < loop->_fds_len && loop->_fds[fd].used;
}

rt_result rt_loop_add(rt_loop *loop, int fd, unsigned events, rt_io_fn fn, void *user)
{
    if (fd < 0 || !fn || (events & ~(unsigned)(RT_IO_READ | RT_IO_WRITE | RT_IO_ERROR)))
        return RT_E_INVAL;
    return rt__loop_register(loop, fd, events & (RT_IO_READ | RT_IO_WRITE), fn, user);
}

rt_result rt_loop_mod(rt_loop *loop, int fd, unsigned events)
{
    rt_loop_fd *f;
    rt_result r;
    if (events & ~(unsigned)(RT_IO_READ | RT_IO_WRITE | RT_IO_ERROR))
        return RT_E_INVAL;
    if (!rt__loop_registered(loop, fd))
        return RT_E_NOTFOUND;
    events &= RT_IO_READ | RT_IO_WRITE;
    f = &loop->_fds[fd];
    r = rt_plat_poller_mod(&loop->_poll, fd, f->slot, events, f->gen);
    if (r == RT_OK)
        f->events = (uint8_t)events;
    return r;
}

void rt_loop_del(rt_loop *loop, int fd)
{
    uint32_t slot;
    int moved;
    if (!rt__loop_registered(loop, fd))
        return;
    slot = loop->_fds[fd].slot;
    moved = rt_plat_poller_del(&loop->_poll, fd, slot);
    if (moved >= 0)
        loop->_fds[moved].slot = slot; /* poll filled the hole with its last entry */
    loop->_fds[fd].used = 0; /* pending events for fd now fail rt__loop_fire */
}

/* ---- the wake pipe and rt_loop_post -------------------------------------- */

rt_result rt_loop_post(rt_loop *loop, rt_post_fn fn, void *arg)
{
    rt__loop_post_rec rec;
    rec.fn = fn;
    rec.arg = arg;
    return rt_plat_wake_signal(loop->_wake[1], &rec, sizeof rec);
}

/* Runs posted calls in the order they were written. Reads are whole records:
 * every write was one whole record and each read asks for a multiple of it. */
static int rt__loop_drain(rt_loop *loop)
{
    rt__loop_post_rec recs[RT__LOOP_POST_BATCH];
    int reads, ran = 0;
    for (reads = 0; reads < RT__LOOP_POST_READS; reads++) {
        size_t got = rt_plat_wake_drain(loop->_wake[0], recs, sizeof recs);
        size_t i, n = got / sizeof recs[0];
        for (i = 0; i < n; i++)
            recs[i].fn(loop, recs[i].arg);
        ran += (int)n;
        if (n < RT__LOOP_POST_BATCH)
            break; /* the pipe is empty (or EINTR: the rest runs next step) */
    }
    return ran;
}

/* ---- init, deinit -------------------------------------------------------- */

/* An empty loop that owns nothing: no memory, no descriptors. */
static void rt__loop_reset(rt_loop *loop, const rt_allocator *alloc)
{
    memset(loop, 0, sizeof *loop);
    loop->alloc = alloc;
    rt_plat_poller_init(&loop->_poll);
    loop->_wake[0] = loop->_wake[1] = -1;
    rt_heap_init(&loop->_timers, offsetof(rt_timer, when), offsetof(rt_timer, _heap_index));
}

rt_result rt_loop_init(rt_loop *loop, const rt_allocator *alloc)
{
    rt_result r;
    rt__loop_reset(loop, alloc);
    loop->now = rt_time_ms();
    r = rt_plat_wake_open(loop->_wake);
    if (r == RT_OK)
        r = rt_plat_poller_open(&loop->_poll);
    if (r == RT_OK)
        r = rt__loop_register(loop, loop->_wake[0], RT_IO_READ, NULL, NULL);
    if (r != RT_OK)
        rt_loop_deinit(loop);
    return r;
}

/* Leaves *loop as rt_loop_init found it minus the allocator, so a second
 * deinit (or one after a failed init) does nothing. */
void rt_loop_deinit(rt_loop *loop)
{
    const rt_allocator *alloc = loop->alloc;
    rt_plat_poller_close(&loop->_poll, alloc);
    rt_plat_wake_close(loop->_wake);
    rt_free(alloc, loop->_fds, loop->_fds_cap * sizeof(rt_loop_fd));
    rt_heap_deinit(&loop->_timers, alloc);
    rt__loop_reset(loop, alloc);
}

/* ---- timers: the shared min-heap on `when` ---------------------------------
 * Each timer stores its position (+1, so 0 means inactive), which lets stop
 * and restart find it without a search: both are O(log n). */

rt_result rt_timer_start(rt_loop *loop, rt_timer *t, uint32_t after_ms, uint32_t repeat_ms,
                         rt_timer_fn fn, void *user)
{
    RT_ASSERT(fn != NULL);
    if (!t->_heap_index &&
        rt_heap_reserve(&loop->_timers, loop->alloc, loop->_timers.n + 1) != RT_OK)
        return RT_E_NOMEM;
    t->when = loop->now + after_ms;
    t->repeat_ms = repeat_ms;
    t->fn = fn;
    t->user = user;
    if (t->_heap_index)
        rt_heap_update(&loop->_timers, t);
    else
        rt_heap_insert(&loop->_timers, t);
    return RT_OK;
}

void rt_timer_stop(rt_loop *loop, rt_timer *t)
{
    rt_heap_remove(&loop->_timers, t);
}

int rt_timer_active(const rt_timer *t)
{
    return t->_heap_index != 0;
}

/* Moves a repeating timer at the top of the heap to its next period. Counting
 * from the scheduled time (not from now) keeps it from drifting; but if it
 * fell a whole period behind, firing every missed period at once would be a
 * burst nobody wants, so it counts from now instead. */
static void rt__timer_rearm(rt_loop *loop, rt_timer *t)
{
    t->when += t->repeat_ms;
    if (t->when <= loop->now)
        t->when = loop->now + t->repeat_ms;
    rt_heap_update(&loop->_timers, t);
}

/* Runs the timers due at loop->now, earliest first. The budget (the heap
 * size on entry) bounds the phase: a callback that restarts its timer with
 * 0 ms would otherwise keep this loop spinning; it runs again next step. */
static int rt__timer_run(rt_loop *loop)
{
    size_t budget = loop->_timers.n;
    int ran = 0;
    rt_timer *t;
    while (budget > 0 && (t = (rt_timer *)rt_heap_min(&loop->_timers)) != NULL &&
           t->when <= loop->now) {
        if (t->repeat_ms)
            rt__timer_rearm(loop, t);
        else
            rt_timer_stop(loop, t);
        t->fn(loop, t->user); /* may stop, restart or free t: not touched after */
        budget--;
        ran++;
    }
    return ran;
}

/* ---- stepping ------------------------------------------------------------ */

/* The wait for this step: the caller's limit, shortened to the next timer. */
static int rt__loop_timeout(const rt_loop *loop, int timeout_ms)
{
    const rt_timer *next = (const rt_timer *)rt_heap_min(&loop->_timers);
    uint64_t wait;
    if (!next)
        return timeout_ms < 0 ? -1 : timeout_ms;
    wait = next->when > loop->now ? next->when - loop->now : 0;
    if (timeout_ms >= 0 && (uint64_t)timeout_ms < wait)
        wait = (uint64_t)timeout_ms;
    return wait > INT_MAX ? INT_MAX : (int)wait;
}

/* ---- hooks ------------------------------------------------------------------ */

void rt_loop_hook_add(rt_loop *loop, rt_loop_hook *h, void (*fn)(rt_loop *loop, void *user),
                      void *user)
{
    rt_loop_hook_del(loop, h);
    h->fn = fn;
    h->user = user;
    h->_next = loop->_hooks;
    loop->_hooks = h;
}

void rt_loop_hook_del(rt_loop *loop, rt_loop_hook *h)
{
    rt_loop_hook **pp;
    for (pp = &loop->_hooks; *pp; pp = &(*pp)->_next) {
        if (*pp == h) {
            *pp = h->_next;
            if (loop->_hook_next == h) /* a run in progress must skip it */
                loop->_hook_next = h->_next;
            return;
        }
    }
}

/* A hook may remove any hook, itself included: the run's next step lives in
 * the loop, where rt_loop_hook_del can move it past a removed hook. */
static void rt__loop_run_hooks(rt_loop *loop)
{
    rt_loop_hook *h;
    for (h = loop->_hooks; h; h = loop->_hook_next) {
        loop->_hook_next = h->_next;
        h->fn(loop, h->user);
    }
    loop->_hook_next = NULL;
}

/* Hooks run before the wait too: anything queued between two steps (by the
 * application, outside any callback) is written before the loop sleeps. */
rt_result rt_loop_step(rt_loop *loop, int timeout_ms)
{
    int n, ran;
    loop->now = rt_time_ms();
    rt__loop_run_hooks(loop);
    n = rt_plat_poller_wait(&loop->_poll, rt__loop_timeout(loop, timeout_ms));
    if (n < 0)
        return n == RT_AGAIN ? 0 : RT_E_IO; /* a signal is not a failure */
    loop->now = rt_time_ms();
    ran = rt__loop_dispatch(loop, n);
    ran += rt__timer_run(loop);
    rt__loop_run_hooks(loop);
    return ran;
}

rt_result rt_loop_run(rt_loop *loop)
{
    loop->stop = 0;
    while (!loop->stop) {
        rt_result r = rt_loop_step(loop, -1);
        if (r < 0)
            return r;
    }
    return RT_OK;
}

void rt_loop_stop(rt_loop *loop)
{
    loop->stop = 1;
}
#endif /* RT_NO_IO */
/* ==== End src/io/loop.c ==== */

/* ==== Begin src/io/conn.c ==== */ // >>conn
#ifndef RT_NO_IO
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
/* ==== Begin src/io/conn_impl.h ==== */ // >>conn_impl
#ifndef RT_NO_IO
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
#endif /* RT_NO_IO */
/* ==== End src/io/conn_impl.h ==== */

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
#endif /* RT_NO_IO */
/* ==== End src/io/conn.c ==== */

/* ==== Begin src/io/conn_queue.c ==== */ // >>conn_queue
#ifndef RT_NO_IO
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
#endif /* RT_NO_IO */
/* ==== End src/io/conn_queue.c ==== */

/* ==== Begin src/io/server.c ==== */ // >>server
#ifndef RT_NO_IO
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
#endif /* RT_NO_IO */
/* ==== End src/io/server.c ==== */

/* ==== Begin src/io/pubsub.c ==== */ // >>pubsub
#ifndef RT_NO_IO
/* pubsub.c - rooms over WebSocket, SSE and long polling. */

/* ---- Set-up --------------------------------------------------------------- */

/* An epoch seed that differs across restarts: the clock mixed with random
 * bytes (RT_RANDOM: /dev/urandom unless the application supplies a source;
 * platform.c). Never 0. */
static uint64_t rt__pubsub_seed(void)
{
    uint64_t seed = rt_time_ms() * 0x9E3779B97F4A7C15ull;
    uint64_t r = 0;
    RT_RANDOM(&r, sizeof r);
    seed ^= r;
    return seed ? seed : 1;
}

static void rt__pubsub_on_expire(rt_loop *loop, void *user)
{
    rt_pubsub *ps = (rt_pubsub *)user;
    rt_rooms_expire(&ps->rooms, loop->now);
}

rt_result rt_pubsub_init(rt_pubsub *ps, rt_server *srv, const rt_rooms_settings *settings)
{
    rt_rooms_settings s;
    rt_result r;
    memset(ps, 0, sizeof *ps);
    ps->srv = srv;
    if (settings)
        s = *settings;
    else
        rt_rooms_settings_init(&s);
    if (!s.alloc)
        s.alloc = srv->cfg.alloc;
    if (s.epoch_seed == 0)
        s.epoch_seed = rt__pubsub_seed();
    if (s.hash_seed == 0)
        s.hash_seed = rt__pubsub_seed();
    r = rt_rooms_init(&ps->rooms, &s);
    if (r != RT_OK)
        return r;
    r = rt_timer_start(srv->loop, &ps->expire, 1000, 1000, rt__pubsub_on_expire, ps);
    if (r != RT_OK)
        rt_rooms_deinit(&ps->rooms);
    return r;
}

void rt_pubsub_deinit(rt_pubsub *ps)
{
    rt_timer_stop(ps->srv->loop, &ps->expire);
    rt_rooms_deinit(&ps->rooms);
}

/* ---- Encodings: each built at most once per message ---------------------------- */

#ifndef RT_NO_SSE
/* The raw encoding over SSE: an event whose id is the message's position
 * (the EventSource's Last-Event-ID) and whose data is the payload. */
static rt_msg *rt__pubsub_raw_sse(rt_server *srv, const rt_room_msg *m)
{
    rt_sse_event ev;
    char pos[RT_ROOM_POS_MAX];
    memset(&ev, 0, sizeof ev);
    ev.id.p = pos;
    ev.id.n = rt_room_pos_format(m->pos, pos);
    ev.data.p = m->data;
    ev.data.n = m->len;
    return rt_msg_sse(srv, &ev);
}
#endif

/* The raw encoding: the payload as one text frame, or over SSE as above. */
static rt_msg *rt__pubsub_raw_encode(const rt_pubsub_encoder *enc, rt_server *srv, int kind,
                                     const rt_room *room, const rt_room_msg *m)
{
    (void)enc;
    (void)room;
#ifndef RT_NO_SSE
    if (kind == RT_CONN_SSE)
        return rt__pubsub_raw_sse(srv, m);
#else
    (void)kind;
#endif
    return rt_msg_ws(srv, RT_WS_TEXT, m->data, m->len);
}

static const rt_pubsub_encoder rt__pubsub_raw = {rt__pubsub_raw_encode, NULL};

void rt_pubsub_set_sub(rt_conn *c, rt_pubsub_sub *sub)
{
    rt_conn_member(c)->sub = sub;
}

rt_pubsub_sub *rt_pubsub_sub_of(const rt_conn *c)
{
    /* only reads: the member accessor is not const because joining writes */
    return (rt_pubsub_sub *)rt_conn_member((rt_conn *)c)->sub;
}

/* One encoding made for the message on its way: the key and the result. */
typedef struct rt__pubsub_enc {
    const rt_pubsub_encoder *enc;
    int kind;
    rt_msg *msg;
} rt__pubsub_enc;

/* Encodings kept in the fan-out itself: raw and protocol, over WebSocket and
 * SSE, are the four a server has today; more go to the heap. */
#define RT__PUBSUB_INLINE 4

/* One message on its way to a room's subscribers, with the encodings made
 * so far. */
typedef struct rt__pubsub_fanout {
    rt_pubsub *ps;
    rt_room *room;
    rt_room_msg *msg;
    rt_conn *exclude;
    rt__pubsub_enc *encs; /* inline, or on the heap once that is full */
    size_t n, cap;
    rt__pubsub_enc inline_encs[RT__PUBSUB_INLINE];
} rt__pubsub_fanout;

static void rt__pubsub_fanout_init(rt__pubsub_fanout *f, rt_pubsub *ps, rt_room *room)
{
    memset(f, 0, sizeof *f);
    f->ps = ps;
    f->room = room;
    f->encs = f->inline_encs;
    f->cap = RT__PUBSUB_INLINE;
}

/* Drops the encodings made for one message. */
static void rt__pubsub_fanout_done(rt__pubsub_fanout *f)
{
    size_t i;
    for (i = 0; i < f->n; i++)
        rt_msg_release(f->encs[i].msg);
    f->n = 0;
}

static void rt__pubsub_fanout_free(rt__pubsub_fanout *f)
{
    rt__pubsub_fanout_done(f);
    if (f->encs != f->inline_encs)
        rt_free(f->ps->srv->cfg.alloc, f->encs, f->cap * sizeof *f->encs);
}

/* Room for one more encoding: 0 when the heap says no. */
static int rt__pubsub_fanout_grow(rt__pubsub_fanout *f)
{
    const rt_allocator *a = f->ps->srv->cfg.alloc;
    rt__pubsub_enc *e;
    if (f->n < f->cap)
        return 1;
    e = (rt__pubsub_enc *)rt_alloc(a, 2 * f->cap * sizeof *e);
    if (!e)
        return 0;
    memcpy(e, f->encs, f->n * sizeof *e);
    if (f->encs != f->inline_encs)
        rt_free(a, f->encs, f->cap * sizeof *e);
    f->encs = e;
    f->cap *= 2;
    return 1;
}

/* Queues the encoding c's encoder makes for c's transport, made on first
 * use and shared after. When no more can be kept (out of memory), c gets
 * one of its own. */
static void rt__pubsub_send(rt__pubsub_fanout *f, rt_conn *c)
{
    const rt_pubsub_sub *sub = rt_pubsub_sub_of(c);
    const rt_pubsub_encoder *enc = sub && sub->enc ? sub->enc : &rt__pubsub_raw;
    int kind = rt_conn_kind(c);
    rt_msg *m;
    size_t i;
    for (i = 0; i < f->n; i++) {
        if (f->encs[i].enc == enc && f->encs[i].kind == kind) {
            if (f->encs[i].msg)
                rt_conn_send_msg(c, f->encs[i].msg);
            return;
        }
    }
    m = enc->encode(enc, f->ps->srv, kind, f->room, f->msg);
    if (rt__pubsub_fanout_grow(f)) {
        f->encs[f->n].enc = enc;
        f->encs[f->n].kind = kind;
        f->encs[f->n++].msg = m; /* a failure too: it would fail again */
        if (m)
            rt_conn_send_msg(c, m);
    } else if (m) {
        rt_conn_send_msg(c, m);
        rt_msg_release(m);
    }
}

#ifndef RT_NO_LONGPOLL
static void rt__pubsub_msg_json(rt_jbuf *b, const rt_room_msg *m)
{
    char pos[RT_ROOM_POS_MAX];
    size_t n = rt_room_pos_format(m->pos, pos);
    rt_jbuf_puts(b, "{\"pos\":");
    rt_jbuf_str(b, pos, n);
    rt_jbuf_puts(b, ",\"data\":");
    rt_jbuf_str(b, m->data, m->len);
    rt_jbuf_puts(b, "}");
}

/* Appends messages [from, from + count) of room to b, comma-separated, and
 * sets *last to the position of the last one appended. It stops once b
 * holds budget bytes: JSON can be six times the history's size (a control
 * character is a \u escape), and an answer past the queue's hard cap would
 * close the connection, every time the client asked again. */
static void rt__pubsub_poll_messages(rt_jbuf *b, const rt_room *room, uint64_t from, size_t count,
                                     size_t budget, rt_room_pos *last)
{
    size_t i;
    for (i = 0; i < count && (i == 0 || b->len < budget); i++) {
        rt_room_msg *m = rt_room_history_get(room, from + i);
        if (!m)
            continue;
        if (b->len)
            rt_jbuf_puts(b, ",");
        rt__pubsub_msg_json(b, m);
        *last = m->pos;
    }
}

/* Answers a held long-poll request with messages [from, from + count) of
 * room, or with recovered:false, and ends its subscription. When the
 * messages do not all fit the connection's max_pending, the answer's pos is
 * that of the last one sent, so the next poll gets the rest. */
static void rt__pubsub_poll_reply(rt_conn *c, rt_room *room, int recovered, rt_room_pos pos,
                                  uint64_t from, size_t count)
{
    const rt_server *srv = rt_conn_server(c);
    rt_jbuf msgs, b;
    char p[RT_ROOM_POS_MAX];
    rt_jbuf_init(&msgs, srv->cfg.alloc);
    rt__pubsub_poll_messages(&msgs, room, from, count, srv->cfg.max_pending, &pos);
    rt_jbuf_init(&b, srv->cfg.alloc);
    rt_jbuf_puts(&b, recovered ? "{\"recovered\":true,\"pos\":" : "{\"recovered\":false,\"pos\":");
    rt_jbuf_str(&b, p, rt_room_pos_format(pos, p));
    rt_jbuf_puts(&b, ",\"messages\":[");
    rt_jbuf_put(&b, msgs.p, msgs.len);
    rt_jbuf_puts(&b, "]}\n");
    rt_room_leave(room, rt_conn_member(c));
    if (b.failed || msgs.failed)
        rt_conn_reply(c, 503, NULL, NULL, 0, NULL);
    else
        rt_conn_reply(c, 200, "application/json", b.p, b.len, NULL);
    rt_jbuf_free(&msgs);
    rt_jbuf_free(&b);
}
#endif /* RT_NO_LONGPOLL */

static void rt__pubsub_deliver(void *ctx, rt_room *room, rt_room_member *mem)
{
    rt__pubsub_fanout *f = (rt__pubsub_fanout *)ctx;
    rt_conn *c = rt_conn_of_member(mem);
    if (c == f->exclude)
        return;
    if (rt_conn_kind(c) == RT_CONN_HTTP) {
        /* a held request the server answered itself (no on_hold_timeout):
         * its connection is plain HTTP again and must get no frames */
        rt_room_leave(room, mem);
        return;
    }
#ifndef RT_NO_LONGPOLL
    if (rt_conn_kind(c) == RT_CONN_HELD) {
        rt__pubsub_poll_reply(c, room, 1, f->msg->pos, f->msg->pos.offset, 1);
        return;
    }
#endif
    rt__pubsub_send(f, c);
}

rt_result rt_pubsub_publish(rt_pubsub *ps, rt_str room, const void *data, size_t n,
                            rt_conn *exclude, rt_room_pos *pos)
{
    rt__pubsub_fanout f;
    rt_room *dest;
    rt_room_msg *msg;
    rt_result r;
    /* Every transport carries text: a WebSocket text frame that is not
     * UTF-8 makes the client fail the connection (RFC 6455 8.1), and would
     * again on every replay while the message stays in history. */
    if (!rt_utf8_valid(data, n))
        return RT_E_INVAL;
    r = rt_rooms_open(&ps->rooms, room, &dest);
    if (r == RT_OK)
        r = rt_room_publish(dest, data, n, ps->srv->loop->now, &msg);
    if (r != RT_OK)
        return r;
    if (pos)
        *pos = msg->pos;
    rt__pubsub_fanout_init(&f, ps, dest);
    f.msg = msg;
    f.exclude = exclude;
    rt_room_each(dest, rt__pubsub_deliver, &f);
    rt__pubsub_fanout_free(&f);
    rt_room_msg_release(msg);
    return RT_OK;
}

/* ---- Joining, with the replay ------------------------------------------------ */

static rt_result rt__pubsub_since(rt_str since, rt_room_pos *pos)
{
    memset(pos, 0, sizeof *pos);
    return since.n ? rt_room_pos_parse(since, pos) : RT_OK;
}

/* Sends c the messages rec holds for it, in order, while its queue is under
 * budget bytes (one message at least). Returns how many were sent. */
static size_t rt__pubsub_replay(rt_pubsub *ps, rt_conn *c, const rt_room_recovery *rec,
                                size_t budget)
{
    rt__pubsub_fanout f;
    size_t i;
    rt__pubsub_fanout_init(&f, ps, rec->room);
    for (i = 0; i < rec->count && (i == 0 || rt_conn_queued(c) < budget); i++) {
        f.msg = rt_room_history_get(rec->room, rec->from + i);
        if (f.msg)
            rt__pubsub_send(&f, c);
        rt__pubsub_fanout_done(&f); /* one receiver: nothing to share */
    }
    rt__pubsub_fanout_free(&f);
    return i;
}

/* rt_pubsub_join with the replay bounded by budget; *cut tells whether it
 * stopped before the end. */
static rt_result rt__pubsub_join(rt_pubsub *ps, rt_conn *c, rt_str room, rt_str since,
                                 rt_room_recovery *rec, size_t budget, int *cut)
{
    rt_room_pos from;
    rt_result r = rt__pubsub_since(since, &from);
    if (r == RT_OK)
        r = rt_room_join_recover(&ps->rooms, room, rt_conn_member(c), &from, ps->srv->loop->now,
                                 rec);
    if (r == RT_OK)
        *cut = rt__pubsub_replay(ps, c, rec, budget) < rec->count;
    return r;
}

rt_result rt_pubsub_join(rt_pubsub *ps, rt_conn *c, rt_str room, rt_str since,
                         rt_room_recovery *rec)
{
    int cut;
    return rt__pubsub_join(ps, c, room, since, rec, SIZE_MAX, &cut);
}

rt_result rt_pubsub_leave(rt_pubsub *ps, rt_conn *c, rt_str room)
{
    rt_room *r = rt_rooms_find(&ps->rooms, room);
    return r ? rt_room_leave(r, rt_conn_member(c)) : RT_E_NOTFOUND;
}

/* ---- SSE and long polling --------------------------------------------------------- */

#ifndef RT_NO_SSE
static void rt__pubsub_sse_marker(rt_conn *c, rt_str room, const rt_room_recovery *rec)
{
    rt_jbuf b;
    char pos[RT_ROOM_POS_MAX];
    size_t n = rt_room_pos_format(rec->current, pos);
    pos[n] = '\0';
    rt_jbuf_init(&b, rt_conn_server(c)->cfg.alloc);
    rt_jbuf_puts(&b, "{\"room\":");
    rt_jbuf_str(&b, room.p, room.n);
    rt_jbuf_puts(&b, rec->recovered ? ",\"recovered\":true" : ",\"recovered\":false");
    rt_jbuf_puts(&b, ",\"pos\":");
    rt_jbuf_str(&b, pos, n);
    rt_jbuf_puts(&b, "}");
    /* The marker carries the resume position as its id, so a reconnect after
     * recovered:false starts from now rather than from the lost position. */
    if (!b.failed)
        rt_conn_sse_send(c, "rt.join", pos, b.p, b.len);
    rt_jbuf_free(&b);
}

rt_result rt_pubsub_sse(rt_pubsub *ps, rt_conn *c, const rt_http_request *req, rt_str room,
                        rt_str since, const char *extra_headers)
{
    const rt_http_header *last = rt_http_header_get(req, "Last-Event-ID");
    rt_room_recovery rec;
    rt_room_pos pos;
    rt_result r;
    int cut = 0, lost = 0;
    if (last && last->value.n && rt__pubsub_since(last->value, &pos) == RT_OK) {
        since = last->value; /* a reconnecting EventSource says where it was */
    } else if (last && last->value.n) {
        /* An id we cannot read (another server, an older format): a 400
         * would stop the EventSource for good, so start it over from now and
         * say recovered:false. */
        since = rt_str_c(NULL);
        lost = 1;
    }
    if (!rt_room_name_valid(room) || rt__pubsub_since(since, &pos) != RT_OK)
        return RT_E_INVAL;
    r = rt_conn_sse_start(c, extra_headers);
    if (r == RT_OK)
        r = rt__pubsub_join(ps, c, room, since, &rec, ps->srv->cfg.max_pending, &cut);
    if (r == RT_OK && cut) {
        /* The replay stopped at the queue's soft cap: SSE can be six times
         * the history (each line break is a "data:" line), and a queue that
         * stays over the cap gets the stream closed, on every reconnect
         * alike. No live message may follow the gap, so leave and end the
         * stream once it is sent: the EventSource comes back with the
         * Last-Event-ID it reached and gets the next part. */
        rt_room_leave(rec.room, rt_conn_member(c));
        rt_conn_close(c, 0, NULL);
    } else if (r == RT_OK) {
        rec.recovered = rec.recovered && !lost;
        rt__pubsub_sse_marker(c, room, &rec);
    }
    return r;
}
#endif /* RT_NO_SSE */

#ifndef RT_NO_LONGPOLL
rt_result rt_pubsub_poll(rt_pubsub *ps, rt_conn *c, rt_str room, rt_str since,
                         uint32_t timeout_ms)
{
    rt_room_recovery rec;
    rt_room_pos from;
    rt_result r = rt__pubsub_since(since, &from);
    if (r != RT_OK)
        return r;
    r = rt_room_join_recover(&ps->rooms, room, rt_conn_member(c), &from, ps->srv->loop->now, &rec);
    if (r != RT_OK)
        return r;
    if (!rec.recovered || rec.count > 0) { /* something to say now */
        rt__pubsub_poll_reply(c, rec.room, rec.recovered, rec.current, rec.from, rec.count);
        return RT_OK;
    }
    /* Nothing new: stay subscribed, held; the next publish answers. */
    r = rt_conn_hold(c, timeout_ms ? timeout_ms : RT_POLL_TIMEOUT_MS);
    if (r != RT_OK)
        rt_room_leave(rec.room, rt_conn_member(c));
    return r;
}

void rt_pubsub_poll_expired(rt_pubsub *ps, rt_conn *c)
{
    rt_room *room = rt_room_member_last(rt_conn_member(c));
    (void)ps;
    if (room && rt_conn_kind(c) == RT_CONN_HELD)
        rt__pubsub_poll_reply(c, room, 1, room->pos, 0, 0);
}
#endif /* RT_NO_LONGPOLL */
#endif /* RT_NO_IO */
/* ==== End src/io/pubsub.c ==== */

/* ==== Begin src/proto/proto.c ==== */ // >>proto
#ifndef RT_NO_PROTO
/* proto.c - the JSON wire protocol (docs/PROTOCOL.md).
 *
 * Every byte of the protocol's JSON is written here, room messages included:
 * a protocol connection's pubsub subscription names this file's encoder, so
 * pubsub frames {"type":"message",...} without knowing what it says. The
 * subscription is also where the protocol finds its state for a connection,
 * which leaves the connection's user pointer to the application. */

struct rt_proto_conn {
    rt_pubsub_sub sub;           /* first: the connection's subscription leads here */
    rt_proto *p;
    rt_conn *c;
    rt_list link;                /* on p->conns */
    uint16_t errors;             /* malformed requests so far */
    uint8_t started;             /* a request other than connect was handled */
    char user[RT_PROTO_MAX_ID + 1];
    char session[RT_PROTO_MAX_ID + 1];
};

/* One request being handled: the parsed JSON and what every reply needs. */
typedef struct rt__proto_req {
    rt_proto *p;
    rt_proto_conn *pc;
    rt_json doc;
    rt_str id;                          /* raw JSON of "id", empty if none */
    rt_str room;                        /* the "room" field, unescaped */
    char room_buf[RT_ROOM_MAX_NAME + 1];
} rt__proto_req;

/* ---- Room messages, and finding a connection's state ------------------------- */

#ifndef RT_NO_SSE
/* A protocol message (JSON text) as the data of one SSE event. No id:
 * rt.js resumes with join + since. */
static rt_msg *rt__proto_sse_msg(rt_server *srv, const char *json, size_t n)
{
    rt_sse_event ev;
    memset(&ev, 0, sizeof ev);
    ev.data.p = json;
    ev.data.n = n;
    return rt_msg_sse(srv, &ev);
}
#endif

/* A protocol message framed for a connection of kind: a WebSocket text
 * frame, or an SSE event. */
static rt_msg *rt__proto_frame(rt_server *srv, int kind, const char *json, size_t n)
{
#ifndef RT_NO_SSE
    if (kind == RT_CONN_SSE)
        return rt__proto_sse_msg(srv, json, n);
#else
    (void)kind;
#endif
    return rt_msg_ws(srv, RT_WS_TEXT, json, n);
}

/* A room message as the protocol's "message", framed for a WebSocket or
 * for an SSE stream. */
static rt_msg *rt__proto_encode(const rt_pubsub_encoder *enc, rt_server *srv, int kind,
                                const rt_room *room, const rt_room_msg *m)
{
    rt_jbuf b;
    rt_msg *out = NULL;
    char pos[RT_ROOM_POS_MAX];
    size_t n = rt_room_pos_format(m->pos, pos);
    (void)enc;
    rt_jbuf_init(&b, srv->cfg.alloc);
    rt_jbuf_puts(&b, "{\"type\":\"message\",\"room\":");
    rt_jbuf_str(&b, room->name.p, room->name.n);
    rt_jbuf_puts(&b, ",\"pos\":");
    rt_jbuf_str(&b, pos, n);
    rt_jbuf_puts(&b, ",\"data\":");
    rt_jbuf_str(&b, m->data, m->len);
    rt_jbuf_puts(&b, "}");
    if (!b.failed)
        out = rt__proto_frame(srv, kind, b.p, b.len);
    rt_jbuf_free(&b);
    return out;
}

/* One encoder for every protocol connection, so pubsub builds each message
 * once for all of them; its address is also what marks a connection as the
 * protocol's. */
static const rt_pubsub_encoder rt__proto_encoder = {rt__proto_encode, NULL};

/* The protocol's state for c, or NULL when c is not a protocol connection. */
static rt_proto_conn *rt__proto_of(const rt_conn *c)
{
    rt_pubsub_sub *sub = rt_pubsub_sub_of(c);
    /* sub is the first member of an rt_proto_conn when it names our encoder */
    return sub && sub->enc == &rt__proto_encoder ? (rt_proto_conn *)(void *)sub : NULL;
}

/* ---- Sending ----------------------------------------------------------------- */

/* One JSON text to one client, on its transport. */
static void rt__proto_send_text(rt_proto_conn *pc, const char *json, size_t n)
{
#ifndef RT_NO_SSE
    if (rt_conn_kind(pc->c) == RT_CONN_SSE) {
        rt_conn_sse_send(pc->c, NULL, NULL, json, n);
        return;
    }
#endif
    rt_conn_send(pc->c, RT_WS_TEXT, json, n);
}

static void rt__proto_send(rt_proto_conn *pc, const rt_jbuf *b)
{
    if (!b->failed)
        rt__proto_send_text(pc, b->p, b->len);
}

/* Starts a reply: {"type":"<type>" and the request's id if it had one. */
static void rt__proto_begin(rt_jbuf *b, const rt__proto_req *rq, const char *type)
{
    rt_jbuf_init(b, rt_conn_server(rq->pc->c)->cfg.alloc);
    rt_jbuf_puts(b, "{\"type\":\"");
    rt_jbuf_puts(b, type);
    rt_jbuf_puts(b, "\"");
    if (rq->id.n) {
        rt_jbuf_puts(b, ",\"id\":");
        rt_jbuf_put(b, rq->id.p, rq->id.n);
    }
}

static void rt__proto_field_str(rt_jbuf *b, const char *name, const char *s, size_t n)
{
    rt_jbuf_puts(b, ",\"");
    rt_jbuf_puts(b, name);
    rt_jbuf_puts(b, "\":");
    rt_jbuf_str(b, s, n);
}

static void rt__proto_field_pos(rt_jbuf *b, rt_room_pos pos)
{
    char s[RT_ROOM_POS_MAX];
    rt__proto_field_str(b, "pos", s, rt_room_pos_format(pos, s));
}

static void rt__proto_end(rt_jbuf *b, rt_proto_conn *pc)
{
    rt_jbuf_puts(b, "}");
    rt__proto_send(pc, b);
    rt_jbuf_free(b);
}

/* The errors that count towards RT_PROTO_MAX_ERRORS are the client's
 * mistakes in form; refusals (forbidden, rate_limited) do not. */
static void rt__proto_error(rt__proto_req *rq, const char *code, const char *message)
{
    rt_jbuf b;
    int counts = strcmp(code, "bad_json") == 0 || strcmp(code, "bad_request") == 0 ||
                 strcmp(code, "unknown_type") == 0;
    rt__proto_begin(&b, rq, "error");
    rt__proto_field_str(&b, "code", code, strlen(code));
    rt__proto_field_str(&b, "message", message, strlen(message));
    if (rq->room.n)
        rt__proto_field_str(&b, "room", rq->room.p, rq->room.n);
    rt__proto_end(&b, rq->pc);
    if (counts && ++rq->pc->errors >= RT_PROTO_MAX_ERRORS)
        rt_conn_close(rq->pc->c, RT_WS_CLOSE_POLICY, "too many protocol errors");
}

/* Sends one JSON text to every protocol client in room but skip (may be NULL). */
typedef struct rt__proto_cast {
    const rt_jbuf *b;
    rt_conn *skip;
    rt_msg *ws, *sse; /* sse stays NULL under RT_NO_SSE */
} rt__proto_cast;

static void rt__proto_cast_one(void *ctx, rt_room *room, rt_room_member *m)
{
    rt__proto_cast *k = (rt__proto_cast *)ctx;
    rt_conn *c = rt_conn_of_member(m);
    int kind = rt_conn_kind(c);
    rt_msg **msg = kind == RT_CONN_SSE ? &k->sse : &k->ws; /* each built once */
    (void)room;
    if (c == k->skip || !rt__proto_of(c))
        return;
    if (!*msg)
        *msg = rt__proto_frame(rt_conn_server(c), kind, k->b->p, k->b->len);
    if (*msg)
        rt_conn_send_msg(c, *msg);
}

static void rt__proto_cast_room(rt_proto *p, rt_str room, const rt_jbuf *b, rt_conn *skip)
{
    rt_room *r = rt_rooms_find(&p->ps->rooms, room);
    rt__proto_cast k;
    if (!r || b->failed)
        return;
    memset(&k, 0, sizeof k);
    k.b = b;
    k.skip = skip;
    rt_room_each(r, rt__proto_cast_one, &k); /* each encoding built once */
    rt_msg_release(k.ws);
    rt_msg_release(k.sse);
}

/* ---- Presence and typing, announced to the room ----------------------------- */

static void rt__proto_on_presence(void *ctx, const rt_presence_event *ev)
{
    rt_proto *p = (rt_proto *)ctx;
    rt_jbuf b;
    int typing = ev->type == RT_PRESENCE_EV_TYPING_START || ev->type == RT_PRESENCE_EV_TYPING_STOP;
    const char *what = ev->type == RT_PRESENCE_EV_JOIN ? "join"
                       : ev->type == RT_PRESENCE_EV_LEAVE ? "leave" : "update";
    rt_jbuf_init(&b, p->ps->srv->cfg.alloc);
    rt_jbuf_puts(&b, typing ? "{\"type\":\"typing\"" : "{\"type\":\"presence\"");
    rt__proto_field_str(&b, "room", ev->room.p, ev->room.n);
    rt__proto_field_str(&b, "user", ev->user.p, ev->user.n);
    if (typing) {
        int on = ev->type == RT_PRESENCE_EV_TYPING_START;
        rt_jbuf_puts(&b, on ? ",\"on\":true" : ",\"on\":false");
    } else {
        rt__proto_field_str(&b, "event", what, strlen(what));
        rt_jbuf_puts(&b, ",\"info\":");
        if (ev->info.n)
            rt_jbuf_put(&b, ev->info.p, ev->info.n); /* JSON checked when it came in */
        else
            rt_jbuf_puts(&b, "null");
    }
    rt_jbuf_puts(&b, "}");
    rt__proto_cast_room(p, ev->room, &b, NULL);
    rt_jbuf_free(&b);
}

typedef struct rt__proto_list {
    rt_jbuf *b;
    size_t n;
} rt__proto_list;

static void rt__proto_list_one(void *ctx, const rt_presence_member *m)
{
    rt__proto_list *l = (rt__proto_list *)ctx;
    rt_jbuf_puts(l->b, l->n++ ? ",{\"user\":" : "{\"user\":");
    rt_jbuf_str(l->b, m->user.p, m->user.n);
    rt_jbuf_puts(l->b, ",\"info\":");
    if (m->info.n)
        rt_jbuf_put(l->b, m->info.p, m->info.n);
    else
        rt_jbuf_puts(l->b, "null");
    rt_jbuf_puts(l->b, m->typing ? ",\"typing\":true}" : ",\"typing\":false}");
}

/* ---- Request helpers ------------------------------------------------------------ */

/* A string field into buf; 0 when missing, too long or not a string. */
static int rt__proto_str(const rt__proto_req *rq, const char *key, char *buf, size_t cap,
                         size_t *n)
{
    int t = rt_json_get(&rq->doc, 0, key);
    return rt_json_type_of(&rq->doc, t) == RT_JSON_STRING &&
           rt_json_str(&rq->doc, t, buf, cap, n) == RT_OK;
}

/* Reads "room" and checks it; answers the error itself. */
static int rt__proto_need_room(rt__proto_req *rq)
{
    size_t n = 0;
    if (!rt__proto_str(rq, "room", rq->room_buf, sizeof rq->room_buf, &n)) {
        rt__proto_error(rq, rt_json_get(&rq->doc, 0, "room") < 0 ? "bad_request" : "bad_room",
                        "a valid \"room\" is required");
        return 0;
    }
    rq->room.p = rq->room_buf;
    rq->room.n = n;
    if (!rt_room_name_valid(rq->room)) {
        rt__proto_error(rq, "bad_room", "room names are 1-64 bytes of [A-Za-z0-9_.:@-]");
        return 0;
    }
    return 1;
}

/* The room, if this connection has joined it; answers not_joined otherwise. */
static rt_room *rt__proto_joined_room(rt__proto_req *rq)
{
    rt_room *r = rt_rooms_find(&rq->p->ps->rooms, rq->room);
    if (!r || !rt_room_is_member(r, rt_conn_member(rq->pc->c))) {
        rt__proto_error(rq, "not_joined", "join the room first");
        return NULL;
    }
    return r;
}

/* "since" as a position: 1 when absent or valid (empty view when absent). */
static int rt__proto_since(rt__proto_req *rq, char *buf, size_t cap, rt_str *since)
{
    size_t n = 0;
    rt_room_pos pos;
    since->p = buf;
    since->n = 0;
    if (rt_json_get(&rq->doc, 0, "since") < 0 ||
        rt_json_type_of(&rq->doc, rt_json_get(&rq->doc, 0, "since")) == RT_JSON_NULL)
        return 1;
    if (!rt__proto_str(rq, "since", buf, cap, &n) ||
        (n && rt_room_pos_parse(rt_str_c(buf), &pos) != RT_OK)) {
        rt__proto_error(rq, "bad_position", "\"since\" must be a position the server gave");
        return 0;
    }
    since->n = n;
    return 1;
}

static uint64_t rt__proto_now(const rt_proto *p)
{
    return p->ps->srv->loop->now;
}

/* ---- Handlers, one per request type ---------------------------------------------- */

static void rt__proto_send_connected(rt_proto_conn *pc, const rt__proto_req *rq)
{
    rt_jbuf b;
    rt__proto_req none;
    if (!rq) {
        memset(&none, 0, sizeof none);
        none.pc = pc;
        rq = &none;
    }
    rt__proto_begin(&b, rq, "connected");
    rt__proto_field_str(&b, "user", pc->user, strlen(pc->user));
    rt__proto_field_str(&b, "session", pc->session, strlen(pc->session));
    rt_jbuf_puts(&b, ",\"heartbeat\":");
    rt_jbuf_uint(&b, pc->p->cfg.heartbeat_ms);
    rt__proto_end(&b, pc);
}

static void rt__proto_on_connect(rt__proto_req *rq)
{
    rt_proto *p = rq->p;
    char session[RT_PROTO_MAX_ID + 1], token[256], user[RT_PROTO_MAX_ID + 1];
    size_t n = 0, tn = 0;
    int t = rt_json_get(&rq->doc, 0, "token");
    if (!rt__proto_str(rq, "session", session, sizeof session, &n) ||
        !rt_str_is_name(rt_str_c(session), RT_PROTO_MAX_ID) ||
        (t >= 0 && !rt__proto_str(rq, "token", token, sizeof token, &tn))) {
        rt__proto_error(rq, "bad_request", "\"session\" (1-64 of [A-Za-z0-9_.:@-]) is required");
        return;
    }
    if (rq->pc->started || (rt_conn_kind(rq->pc->c) == RT_CONN_SSE &&
                            strcmp(session, rq->pc->session) != 0)) {
        rt__proto_error(rq, "bad_request",
                        "connect comes first, and an SSE stream keeps its session");
        return;
    }
    if (t >= 0 && p->cfg.auth) {
        rt_str tok;
        tok.p = token;
        tok.n = tn;
        user[0] = '\0';
        if (p->cfg.auth(p->cfg.user, tok, user, sizeof user) != 0 || !user[0]) {
            rt_conn_close(rq->pc->c, 4001, "unauthorized"); /* PROTOCOL.md: close codes */
            return;
        }
        memcpy(rq->pc->user, user, sizeof user);
    }
    memcpy(rq->pc->session, session, n + 1);
    rt__proto_send_connected(rq->pc, rq);
}

static void rt__proto_on_join(rt__proto_req *rq)
{
    rt_proto *p = rq->p;
    rt_conn *c = rq->pc->c;
    rt_room_recovery rec;
    char since_buf[RT_ROOM_POS_MAX];
    rt_str since, info = rt_json_raw(&rq->doc, rt_json_get(&rq->doc, 0, "info"));
    rt_jbuf b;
    if (!rt__proto_need_room(rq) || !rt__proto_since(rq, since_buf, sizeof since_buf, &since))
        return;
    if (info.n > p->presence.settings.max_info) {
        rt__proto_error(rq, "too_large", "\"info\" is too large");
        return;
    }
    if (p->cfg.can_join && !p->cfg.can_join(p->cfg.user, rq->pc->user, rq->room)) {
        rt__proto_error(rq, "forbidden", "you may not join this room");
        return;
    }
    /* Presence first: when it fails nothing changed; when the subscription
     * then fails, presence is undone. */
    if (rt_presence_join(&p->presence, rq->room, rt_str_c(rq->pc->user), info, c,
                         rt__proto_now(p)) != RT_OK) {
        rt__proto_error(rq, "internal", "cannot join now");
        return;
    }
    if (rt_pubsub_join(p->ps, c, rq->room, since, &rec) != RT_OK) {
        rt_presence_leave(&p->presence, rq->room, c, rt__proto_now(p));
        rt__proto_error(rq, "internal", "cannot join now");
        return;
    }
    rt__proto_begin(&b, rq, "joined"); /* after the replayed messages */
    rt__proto_field_str(&b, "room", rq->room.p, rq->room.n);
    rt_jbuf_puts(&b, rec.recovered ? ",\"recovered\":true" : ",\"recovered\":false");
    rt__proto_field_pos(&b, rec.current);
    rt__proto_end(&b, rq->pc);
}

static void rt__proto_on_leave(rt__proto_req *rq)
{
    rt_jbuf b;
    if (!rt__proto_need_room(rq))
        return;
    rt_pubsub_leave(rq->p->ps, rq->pc->c, rq->room);
    rt_presence_leave(&rq->p->presence, rq->room, rq->pc->c, rt__proto_now(rq->p));
    rt__proto_begin(&b, rq, "left");
    rt__proto_field_str(&b, "room", rq->room.p, rq->room.n);
    rt__proto_end(&b, rq->pc);
}

static void rt__proto_on_publish(rt__proto_req *rq)
{
    rt_proto *p = rq->p;
    int t = rt_json_get(&rq->doc, 0, "data");
    rt_room_pos pos;
    char small[512], *data = small;
    size_t n = 0;
    rt_jbuf b;
    if (!rt__proto_need_room(rq) || !rt__proto_joined_room(rq))
        return;
    if (rt_json_type_of(&rq->doc, t) != RT_JSON_STRING) {
        rt__proto_error(rq, "bad_request", "\"data\" must be a string");
        return;
    }
    if (p->cfg.can_publish && !p->cfg.can_publish(p->cfg.user, rq->pc->user, rq->room)) {
        rt__proto_error(rq, "forbidden", "you may not publish in this room");
        return;
    }
    if (rq->doc.toks[t].size >= sizeof small)
        data = (char *)rt_alloc(rt_conn_server(rq->pc->c)->cfg.alloc, rq->doc.toks[t].size + 1);
    if (!data || rt_json_str(&rq->doc, t, data, rq->doc.toks[t].size + 1, &n) != RT_OK ||
        rt_pubsub_publish(p->ps, rq->room, data, n, NULL, &pos) != RT_OK) {
        rt__proto_error(rq, "internal", "cannot publish now");
    } else {
        rt_presence_typing(&p->presence, rq->room, rq->pc->c, 0, rt__proto_now(p));
        rt__proto_begin(&b, rq, "published");
        rt__proto_field_str(&b, "room", rq->room.p, rq->room.n);
        rt__proto_field_pos(&b, pos);
        rt__proto_end(&b, rq->pc);
    }
    if (data != small)
        rt_free(rt_conn_server(rq->pc->c)->cfg.alloc, data, rq->doc.toks[t].size + 1);
}

static void rt__proto_on_presence_req(rt__proto_req *rq)
{
    rt__proto_list l;
    rt_jbuf b;
    if (!rt__proto_need_room(rq) || !rt__proto_joined_room(rq))
        return;
    rt__proto_begin(&b, rq, "presence");
    rt__proto_field_str(&b, "room", rq->room.p, rq->room.n);
    rt_jbuf_puts(&b, ",\"count\":");
    rt_jbuf_uint(&b, rt_presence_count(&rq->p->presence, rq->room));
    rt_jbuf_puts(&b, ",\"users\":[");
    l.b = &b;
    l.n = 0;
    rt_presence_list(&rq->p->presence, rq->room, rt__proto_list_one, &l);
    rt_jbuf_puts(&b, "]");
    rt__proto_end(&b, rq->pc);
}

static void rt__proto_on_typing(rt__proto_req *rq)
{
    int on = 0;
    if (!rt__proto_need_room(rq) || !rt__proto_joined_room(rq))
        return;
    if (rt_json_bool(&rq->doc, rt_json_get(&rq->doc, 0, "on"), &on) != RT_OK) {
        rt__proto_error(rq, "bad_request", "\"on\" must be true or false");
        return;
    }
    rt_presence_typing(&rq->p->presence, rq->room, rq->pc->c, on, rt__proto_now(rq->p));
}

/* history: the messages after since, or the latest ones, at most limit. */
static void rt__proto_on_history(rt__proto_req *rq)
{
    rt_room_recovery rec;
    rt_room_pos from;
    rt_room *room;
    char since_buf[RT_ROOM_POS_MAX];
    rt_str since;
    int64_t limit = 100;
    size_t i, k = 0;
    rt_jbuf b;
    if (!rt__proto_need_room(rq) || !rt__proto_since(rq, since_buf, sizeof since_buf, &since) ||
        !(room = rt__proto_joined_room(rq)))
        return;
    rt_json_int(&rq->doc, rt_json_get(&rq->doc, 0, "limit"), &limit);
    limit = limit < 1 || limit > 100 ? 100 : limit;
    memset(&from, 0, sizeof from);
    if (since.n) {
        rt_room_pos_parse(since, &from);
    } else { /* the latest messages the history still holds */
        uint64_t back = room->history_count < (size_t)limit ? room->history_count
                                                            : (uint64_t)limit;
        from = room->pos;
        from.offset -= back;
    }
    rt_room_recover(room, &from, rt__proto_now(rq->p), &rec);
    rt__proto_begin(&b, rq, "history");
    rt__proto_field_str(&b, "room", rq->room.p, rq->room.n);
    rt_jbuf_puts(&b, rec.recovered || !since.n ? ",\"recovered\":true" : ",\"recovered\":false");
    rt_jbuf_puts(&b, ",\"messages\":[");
    for (i = 0; i < rec.count && k < (size_t)limit; i++) {
        rt_room_msg *m = rt_room_history_get(room, rec.from + i);
        char pos[RT_ROOM_POS_MAX];
        if (!m)
            continue; /* aged out: the latest ones are what is left */
        rt_jbuf_puts(&b, k++ ? ",{\"pos\":" : "{\"pos\":");
        rt_jbuf_str(&b, pos, rt_room_pos_format(m->pos, pos));
        rt_jbuf_puts(&b, ",\"data\":");
        rt_jbuf_str(&b, m->data, m->len);
        rt_jbuf_puts(&b, "}");
    }
    rt_jbuf_puts(&b, "]");
    rt__proto_field_pos(&b, rec.current);
    rt__proto_end(&b, rq->pc);
}

static void rt__proto_on_ping(rt__proto_req *rq)
{
    rt_jbuf b;
    rt__proto_begin(&b, rq, "pong");
    rt__proto_end(&b, rq->pc);
}

static void rt__proto_on_pong(rt__proto_req *rq)
{
    (void)rq; /* receiving it already proved the link alive */
}

static const struct {
    const char *type;
    void (*fn)(rt__proto_req *rq);
} rt__proto_handlers[] = {
    {"join", rt__proto_on_join},         {"publish", rt__proto_on_publish},
    {"typing", rt__proto_on_typing},     {"pong", rt__proto_on_pong},
    {"leave", rt__proto_on_leave},       {"presence", rt__proto_on_presence_req},
    {"history", rt__proto_on_history},   {"connect", rt__proto_on_connect},
    {"ping", rt__proto_on_ping},
};

/* Parses one client message into toks and runs its handler. */
static void rt__proto_run(rt_proto *p, rt_proto_conn *pc, rt_str data, rt_json_tok *toks)
{
    rt__proto_req rq;
    size_t i;
    int type;
    memset(&rq, 0, sizeof rq);
    rq.p = p;
    rq.pc = pc;
    if (!toks) {
        rt__proto_error(&rq, "internal", "out of memory");
        return;
    }
    if (rt_json_parse(&rq.doc, data.p, data.n, toks, RT_PROTO_MAX_TOKENS) < 0 ||
        rt_json_type_of(&rq.doc, 0) != RT_JSON_OBJECT) {
        rt__proto_error(&rq, "bad_json", "a message is one JSON object");
        return;
    }
    rq.id = rt_json_raw(&rq.doc, rt_json_get(&rq.doc, 0, "id"));
    if (rq.id.n > RT_PROTO_MAX_ID + 2 || (rq.id.n && rq.id.p[0] != '"' &&
        rt_json_type_of(&rq.doc, rt_json_get(&rq.doc, 0, "id")) != RT_JSON_NUMBER))
        rq.id.n = 0; /* only short strings and numbers are echoed */
    type = rt_json_get(&rq.doc, 0, "type");
    for (i = 0; i < sizeof rt__proto_handlers / sizeof rt__proto_handlers[0]; i++) {
        if (rt_json_eq(&rq.doc, type, rt__proto_handlers[i].type)) {
            rt__proto_handlers[i].fn(&rq);
            if (rt__proto_handlers[i].fn != rt__proto_on_connect)
                pc->started = 1;
            return;
        }
    }
    rt__proto_error(&rq, type < 0 ? "bad_request" : "unknown_type",
                    type < 0 ? "\"type\" is required" : "unknown message type");
}

/* Handles one client message with the protocol's token array, or, when a
 * request is already being handled (a callback re-entered), with one of its
 * own: the outer request's tokens must survive until its handler returns. */
static void rt__proto_handle(rt_proto *p, rt_proto_conn *pc, rt_str data)
{
    const rt_allocator *a = p->ps->srv->cfg.alloc;
    rt_json_tok *toks = p->_toks;
    if (p->_handling)
        toks = (rt_json_tok *)rt_alloc(a, sizeof p->_toks);
    p->_handling++;
    rt__proto_run(p, pc, data, toks);
    p->_handling--;
    if (toks != p->_toks)
        rt_free(a, toks, sizeof p->_toks);
}

void rt_proto_message(rt_proto *p, rt_conn *c, rt_str data)
{
    rt_proto_conn *pc = rt__proto_of(c);
    if (pc)
        rt__proto_handle(p, pc, data);
}

void rt_proto_rate_limited(rt_proto *p, rt_conn *c, uint32_t retry_after_ms)
{
    rt_proto_conn *pc = rt__proto_of(c);
    rt_jbuf b;
    (void)p;
    if (!pc)
        return;
    rt_jbuf_init(&b, rt_conn_server(c)->cfg.alloc);
    rt_jbuf_puts(&b, "{\"type\":\"error\",\"code\":\"rate_limited\","
                     "\"message\":\"slow down\",\"retry_after\":");
    rt_jbuf_uint(&b, retry_after_ms);
    rt__proto_end(&b, pc);
}

/* ---- Connections: WebSocket and SSE + POST ------------------------------------- */

static int rt__proto_bearer(rt_str v)
{
    v.n = 7;
    return rt_str_ieq(v, rt_str_c("Bearer "));
}

/* The token: ?token=, then "Authorization: Bearer", then the rt_token cookie. */
static rt_str rt__proto_token(const rt_http_request *req, char *buf, size_t cap)
{
    const rt_http_header *h = rt_http_header_get(req, "Authorization");
    rt_result n = rt_http_query_get(req->query, "token", buf, cap);
    rt_str t;
    t.p = buf;
    t.n = 0;
    if (n >= 0) {
        t.n = (size_t)n;
    } else if (h && h->value.n > 7 && rt__proto_bearer(h->value)) {
        t.p = h->value.p + 7;
        t.n = h->value.n - 7;
    } else if ((n = rt_http_cookie_get(req, "rt_token", buf, cap)) >= 0) {
        t.n = (size_t)n;
    }
    return t;
}

/* Authenticates req into user (RT_PROTO_MAX_ID + 1 bytes): 0 or a status. */
static int rt__proto_auth(rt_proto *p, const rt_http_request *req, char *user)
{
    char buf[256];
    int status;
    strcpy(user, "anonymous");
    if (!p->cfg.auth)
        return 0;
    user[0] = '\0';
    status = p->cfg.auth(p->cfg.user, rt__proto_token(req, buf, sizeof buf), user,
                         RT_PROTO_MAX_ID + 1);
    if (status == 0 && !rt_presence_id_valid(rt_str_c(user)))
        status = 500; /* the callback broke its contract */
    return status;
}

static rt_proto_conn *rt__proto_conn_new(rt_proto *p, rt_conn *c, const char *user)
{
    rt_proto_conn *pc = (rt_proto_conn *)rt_alloc(p->ps->srv->cfg.alloc, sizeof *pc);
    if (!pc)
        return NULL;
    memset(pc, 0, sizeof *pc);
    pc->p = p;
    pc->c = c;
    memcpy(pc->user, user, strlen(user) + 1);
    /* a counter, not the address: that would tell clients where the heap is */
    snprintf(pc->session, sizeof pc->session, "s%llu", (unsigned long long)++p->_sessions);
    pc->sub.enc = &rt__proto_encoder;
    rt_list_push_back(&p->conns, &pc->link);
    rt_pubsub_set_sub(c, &pc->sub);
    return pc;
}

int rt_proto_upgrade(rt_proto *p, rt_conn *c, const rt_http_request *req)
{
    char user[RT_PROTO_MAX_ID + 1];
    int status = rt__proto_auth(p, req, user);
    if (status != 0)
        return status;
    return rt__proto_conn_new(p, c, user) ? 0 : 503;
}

void rt_proto_open(rt_proto *p, rt_conn *c)
{
    rt_proto_conn *pc = rt__proto_of(c);
    (void)p;
    if (pc)
        rt__proto_send_connected(pc, NULL);
}

void rt_proto_close(rt_proto *p, rt_conn *c)
{
    rt_proto_conn *pc = rt__proto_of(c);
    if (!pc)
        return;
    rt_presence_leave_all(&p->presence, c, rt__proto_now(p)); /* LEAVE after the grace */
    rt_list_unlink(&pc->link);
    rt_pubsub_set_sub(c, NULL);
    rt_free(p->ps->srv->cfg.alloc, pc, sizeof *pc);
}

const char *rt_proto_user(const rt_conn *c)
{
    const rt_proto_conn *pc = rt__proto_of(c);
    return pc ? pc->user : NULL;
}

#ifndef RT_NO_SSE
/* ---- The SSE + POST transport (not under RT_NO_SSE) ---------------------------- */

static rt_proto_conn *rt__proto_find_session(rt_proto *p, rt_str session)
{
    rt_list *n;
    for (n = rt_list_first(&p->conns); n; n = rt_list_next(&p->conns, n)) {
        rt_proto_conn *pc = RT_LIST_ENTRY(n, rt_proto_conn, link);
        if (rt_conn_kind(pc->c) == RT_CONN_SSE && rt_str_eq(rt_str_c(pc->session), session))
            return pc;
    }
    return NULL;
}

/* GET /rt/sse?session=S: the stream a session's server messages travel on. */
static int rt__proto_sse(rt_proto *p, rt_conn *c, const rt_http_request *req, rt_str session)
{
    char user[RT_PROTO_MAX_ID + 1];
    rt_proto_conn *old = rt__proto_find_session(p, session), *pc;
    int status = rt__proto_auth(p, req, user);
    if (status != 0)
        return status;
    if (old && strcmp(old->user, user) != 0)
        return 403; /* a session belongs to the user who opened it */
    if (old)
        rt_conn_close(old->c, RT_WS_CLOSE_NORMAL, NULL); /* replaced by this one */
    if (rt_conn_sse_start(c, NULL) != RT_OK || !(pc = rt__proto_conn_new(p, c, user)))
        return 503;
    memcpy(pc->session, session.p, session.n);
    pc->session[session.n] = '\0';
    rt__proto_send_connected(pc, NULL);
    return 0;
}

/* POST /rt/send?session=S: one client message; replies go on the stream. */
/* Each POST carries the token again (a session id alone proves nothing) and
 * is charged to the stream's rate limits, as a WebSocket message would be. */
static int rt__proto_send_post(rt_proto *p, rt_conn *c, const rt_http_request *req,
                               rt_str session, rt_str body)
{
    static const char no_session[] =
        "{\"type\":\"error\",\"code\":\"no_session\",\"message\":\"open /rt/sse first\"}";
    rt_proto_conn *pc = rt__proto_find_session(p, session);
    char user[RT_PROTO_MAX_ID + 1], retry[48];
    uint32_t ms = 0;
    int status;
    if (!pc) {
        rt_conn_reply(c, 404, "application/json", no_session, sizeof no_session - 1, NULL);
        return 0;
    }
    status = rt__proto_auth(p, req, user);
    if (status != 0)
        return status;
    if (strcmp(user, pc->user) != 0)
        return 403;
    if (!rt_conn_rate_check(pc->c, body.n, &ms)) {
        snprintf(retry, sizeof retry, "Retry-After: %u\r\n", (unsigned)(ms + 999) / 1000);
        rt_conn_reply(c, 429, NULL, NULL, 0, retry);
        rt_proto_rate_limited(p, pc->c, ms); /* and the error on the stream */
        return 0;
    }
    rt_conn_reply(c, 202, "application/json", "{}", 2, NULL);
    rt__proto_handle(p, pc, body);
    return 0;
}

int rt_proto_http(rt_proto *p, rt_conn *c, const rt_http_request *req, rt_str body)
{
    char buf[RT_PROTO_MAX_ID + 1];
    rt_result n = rt_http_query_get(req->query, "session", buf, sizeof buf);
    rt_str session;
    int sse = rt_str_eq(req->path, rt_str_c("/rt/sse"));
    if (!sse && !rt_str_eq(req->path, rt_str_c("/rt/send")))
        return 404;
    session.p = buf;
    session.n = n > 0 ? (size_t)n : 0;
    if (!rt_str_is_name(session, RT_PROTO_MAX_ID))
        return 400;
    if (sse)
        return rt_str_eq(req->method, rt_str_c("GET")) ? rt__proto_sse(p, c, req, session) : 405;
    if (!rt_str_eq(req->method, rt_str_c("POST")))
        return 405;
    return rt__proto_send_post(p, c, req, session, body);
}
#endif /* RT_NO_SSE */

/* ---- Set-up and the tick ----------------------------------------------------------- */

/* Every heartbeat: a ping to each client; every second: presence deadlines. */
static void rt__proto_on_tick(rt_loop *loop, void *user)
{
    static const char ping[] = "{\"type\":\"ping\"}";
    rt_proto *p = (rt_proto *)user;
    rt_list *n, *next;
    int beat = loop->now - p->_last_ping >= p->cfg.heartbeat_ms;
    rt_presence_tick(&p->presence, loop->now);
    if (!beat)
        return;
    p->_last_ping = loop->now;
    for (n = rt_list_first(&p->conns); n; n = next) {
        rt_proto_conn *pc = RT_LIST_ENTRY(n, rt_proto_conn, link);
        next = rt_list_next(&p->conns, n); /* a send may close pc's connection */
        rt__proto_send_text(pc, ping, sizeof ping - 1);
    }
}

/* Presence deadlines and pings are met within a quarter of the shortest
 * period: a ping late by a whole tick would make rt.js, which gives up
 * after 2.5 heartbeats of silence, drop a healthy link. */
static uint32_t rt__proto_tick_ms(const rt_presence_settings *s, uint32_t heartbeat_ms)
{
    uint64_t t = s->grace_ms && s->grace_ms < s->typing_ms ? s->grace_ms : s->typing_ms;
    t = heartbeat_ms < t ? heartbeat_ms : t;
    t /= 4;
    return t < 50 ? 50 : t > 1000 ? 1000 : (uint32_t)t;
}

rt_result rt_proto_init(rt_proto *p, rt_pubsub *ps, const rt_proto_config *cfg)
{
    rt_presence_settings s;
    rt_result r;
    uint32_t tick;
    memset(p, 0, sizeof *p);
    p->ps = ps;
    if (cfg)
        p->cfg = *cfg;
    if (!p->cfg.heartbeat_ms)
        p->cfg.heartbeat_ms = RT_PROTO_HEARTBEAT_MS;
    rt_presence_settings_init(&s);
    s.alloc = ps->srv->cfg.alloc;
    s.hash_seed = ps->rooms.settings.hash_seed;
    s.on_event = rt__proto_on_presence;
    if (p->cfg.presence_grace_ms)
        s.grace_ms = p->cfg.presence_grace_ms;
    if (p->cfg.typing_ms)
        s.typing_ms = p->cfg.typing_ms;
    s.ctx = p;
    r = rt_presence_init(&p->presence, &s);
    if (r != RT_OK)
        return r;
    p->_last_ping = ps->srv->loop->now;
    tick = rt__proto_tick_ms(&s, p->cfg.heartbeat_ms);
    r = rt_timer_start(ps->srv->loop, &p->tick, tick, tick, rt__proto_on_tick, p);
    if (r != RT_OK)
        rt_presence_deinit(&p->presence);
    return r;
}

void rt_proto_deinit(rt_proto *p)
{
    rt_list *n;
    rt_timer_stop(p->ps->srv->loop, &p->tick);
    while ((n = rt_list_first(&p->conns)) != NULL) { /* normally empty by now */
        rt_proto_conn *pc = RT_LIST_ENTRY(n, rt_proto_conn, link);
        rt_list_unlink(n);
        rt_free(p->ps->srv->cfg.alloc, pc, sizeof *pc);
    }
    rt_presence_deinit(&p->presence);
}
#endif /* RT_NO_PROTO */
/* ==== End src/proto/proto.c ==== */

/* ==== Begin src/layout.c ==== */ // >>layout
/* layout.c - the symbol every file's layout check refers to (layout.h). */

#ifdef RT__LAYOUT_SYM
const char RT__LAYOUT_SYM = 1;
const char RT__LAYOUT_SYM_LP = 1;
#endif
/* ==== End src/layout.c ==== */

#endif /* RT_IMPLEMENTATION_ONCE */
#endif /* RT_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
rt.h is available under the MIT License (see LICENSE for the full text).

Copyright (c) 2026 the rt.h authors

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
*/
