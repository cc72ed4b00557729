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
