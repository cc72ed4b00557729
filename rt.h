/* rt.h - real-time web features for C programs, in one header.  v0.1.0
   MIT license (see the end of this file).  https://github.com/ - see README.md

   Put this in exactly ONE .c file of your program:

       #define RT_IMPLEMENTATION
       #include "rt.h"

   and a plain #include "rt.h" everywhere else. C99 or C++11; nothing is
   needed at run time beyond libc (and POSIX sockets for the I/O layer).

QUICK START: the sans-IO core in your own loop (answer a WebSocket handshake
and read frames from bytes you received however you like)

       rt_http_parser hp = {0};
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
       FEATURES, DOES NOT, OPTIONS, MEMORY, ERRORS, LIMITS, THREADING,
       ON WEBSOCKETS; then the declarations by layer: core, sha1, b64, utf8,
       http, ws; then the implementation.

FEATURES
       - SHA-1 (FIPS 180-4) and strict base64 (RFC 4648), endian-neutral.
       - Incremental UTF-8 validation with an ASCII word-at-a-time fast path.
       - Incremental, zero-copy HTTP/1.1 request parser with hard limits, and
         response writers.
       - WebSocket (RFC 6455): handshake checks and accept key, subprotocol
         choice, a frame parser that enforces every section 5 rule and names
         the close code to send, a frame writer for both roles, word-at-a-time
         masking, close-frame helpers.

rt.h DOES NOT
       - do TLS: put it behind a TLS terminator (stunnel, nginx, a TLS chip).
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
       RT_HTTP_MAX_HEADER_BYTES   8192              all    request head size; 431 beyond
       RT_HTTP_MAX_HEADERS        32                all    header fields; 431 beyond
       RT_HTTP_MAX_BODY           65536             all    Content-Length; 413 beyond
       RT_WS_MAX_MESSAGE          1 MiB             all    message size; close 1009 beyond
       Limits can be lowered at run time in the parser structs (max_*).

MEMORY
       The caller owns every object (parsers, requests) as a plain struct; the
       codecs never allocate. Views (rt_str) point into the caller's buffers
       and live as long as those bytes do. Where rt.h allocates, it goes
       through an rt_allocator given in a config, or RT_MALLOC/RT_FREE.

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
       No global mutable state. Distinct objects may be used from distinct
       threads; one object must not be used from two threads at once.

ON WEBSOCKETS
       rt_ws_parse() delivers data messages in pieces as bytes arrive (the
       caller reassembles if it wants whole messages) and control frames
       whole. Text is validated as UTF-8 across fragments and fails as soon
       as a byte makes it invalid, not at the end of the message.
*/

#ifndef RT_H_INCLUDED
#define RT_H_INCLUDED

/* ==== Begin src/core.h ==== */ // >>core
/* core.h - version, linkage, results, string views, allocator, limits.
 *
 * Everything else in rt.h stands on these few definitions. Only <stddef.h>
 * and <stdint.h> are included by the public part of rt.h; every platform
 * header is included by the implementation alone.
 */

/* The implementation needs POSIX declarations (sockets, poll, clocks) even
 * under -std=c99. This only works when rt.h comes before any system header in
 * the implementation TU; otherwise define _POSIX_C_SOURCE yourself. */
#if defined(RT_IMPLEMENTATION) && !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE) \
    && !defined(_WIN32)
#  define _POSIX_C_SOURCE 200809L
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

#ifdef __cplusplus
}
#endif
/* ==== End src/core.h ==== */

/* ==== Begin src/sha1.h ==== */ // >>sha1
/* sha1.h - SHA-1 (FIPS 180-4), for the WebSocket accept key.
 *
 * SHA-1 is broken for collision resistance; RFC 6455 uses it only to prove
 * that the server read the handshake, and that is all rt.h uses it for.
 */
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
/* ==== End src/sha1.h ==== */

/* ==== Begin src/b64.h ==== */ // >>b64
/* b64.h - base64 (RFC 4648 section 4), strict decoding. */
#ifdef __cplusplus
extern "C" {
#endif

/* Encoded length of n bytes, padding included, without a NUL. */
#define RT_B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)
/* Upper bound on the decoded length of n base64 characters. */
#define RT_B64_DECODED_MAX(n) (((n) / 4) * 3)

/* Encodes src[0..n) into dst. Like snprintf: returns the encoded length
 * (RT_B64_ENCODED_LEN(n)) and writes it, plus a NUL, only when cap is larger
 * than that; otherwise writes nothing. */
RT_API size_t rt_b64_encode(const void *src, size_t n, char *dst, size_t cap);

/* Decodes src[0..n) into dst[0..cap). Returns the decoded length, or
 * RT_E_PROTO when the input is not canonical base64 (length not a multiple
 * of 4, a character outside the alphabet, misplaced '=', or non-zero padding
 * bits), or RT_E_NOSPACE when cap is too small. */
RT_API rt_result rt_b64_decode(const char *src, size_t n, void *dst, size_t cap);

#ifdef __cplusplus
}
#endif
/* ==== End src/b64.h ==== */

/* ==== Begin src/utf8.h ==== */ // >>utf8
/* utf8.h - incremental UTF-8 validation (RFC 3629, Unicode table 3-7). */
#ifdef __cplusplus
extern "C" {
#endif

/* Validator state; zero-initialise it (or call rt_utf8_init) per message. */
typedef struct rt_utf8 {
    uint32_t need;  /* continuation bytes still expected */
    uint32_t lo;    /* allowed range of the next continuation byte */
    uint32_t hi;
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
/* ==== End src/utf8.h ==== */

/* ==== Begin src/http.h ==== */ // >>http
/* http.h - HTTP/1.1 request parser and response writer (RFC 9110, RFC 9112).
 *
 * Sans-IO and zero-copy: the caller keeps the bytes it has received in one
 * buffer and calls rt_http_parse_request() with the whole buffer each time
 * more arrive. The parser remembers how far it has scanned, so feeding a
 * request one byte at a time costs O(n) overall and gives the same result as
 * feeding it whole. Every rt_str it fills points into that buffer.
 */
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
    size_t head_len;      /* bytes of the head, blank line included */
    int status;           /* after an error: the HTTP status to answer with */
    size_t num_headers;
    rt_http_header headers[RT_HTTP_MAX_HEADERS];
} rt_http_request;

/* Parser state; zero-initialise it (or call rt_http_parser_init) per request.
 * max_header_bytes / max_headers / max_body may be set to lower the compiled
 * limits at run time (0 keeps the compiled ones). */
typedef struct rt_http_parser {
    size_t max_header_bytes;
    size_t max_headers;
    size_t max_body;
    size_t _scanned;      /* bytes already searched for the end of the head */
} rt_http_parser;

RT_API void rt_http_parser_init(rt_http_parser *p);

/* Parses the request head in buf[0..len), where buf holds every byte of the
 * request received so far. Returns:
 *   > 0          the head length; *req is filled (views into buf); the body,
 *                req->content_length bytes, follows it in the stream
 *   RT_AGAIN     the head is not complete yet: call again with more bytes
 *   RT_E_PROTO   malformed (req->status 400), method not served (405),
 *                version not served (505), or Transfer-Encoding (501)
 *   RT_E_LIMIT   head too large or too many headers (431), body too large (413)
 * Rejected: obsolete line folding, bare CR, whitespace before a colon,
 * duplicate or malformed Content-Length, missing Host in HTTP/1.1. */
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
 * (bad percent escape). */
RT_API rt_result rt_http_query_get(rt_str query, const char *key, char *out, size_t cap);
RT_API rt_result rt_http_cookie_get(const rt_http_request *req, const char *key,
                                    char *out, size_t cap);

/* "OK", "Not Found", ...; "Unknown" for codes it does not know. Static text. */
RT_API const char *rt_http_reason(int status);

/* Writes a response head: status line, the caller's extra header lines
 * (each ending in \r\n; may be NULL), Content-Type when not NULL,
 * Content-Length: body_len, and the blank line. Returns the length needed,
 * like snprintf; writes nothing beyond cap. */
RT_API size_t rt_http_format_head(char *buf, size_t cap, int status, const char *extra_headers,
                                  const char *content_type, size_t body_len);

/* Writes a complete short error response ("404 Not Found\n" as text/plain,
 * Connection: close) with the extra header lines (may be NULL). Returns the
 * length needed, like snprintf. */
RT_API size_t rt_http_format_error(char *buf, size_t cap, int status, const char *extra_headers);

#ifdef __cplusplus
}
#endif
/* ==== End src/http.h ==== */

/* ==== Begin src/ws.h ==== */ // >>ws
/* ws.h - WebSocket (RFC 6455): opening handshake, frame parser and writer.
 *
 * Sans-IO. The parser unmasks payloads in place in the caller's buffer and
 * hands out views of them, so a message is never copied by the codec. It
 * enforces every rule of RFC 6455 section 5 and, on a violation, tells the
 * caller which close code to send.
 */
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
    int status;       /* after an error: the HTTP status to answer with */
} rt_ws_handshake;

/* 1 when the request asks for a WebSocket (Upgrade: websocket), else 0. */
RT_API int rt_ws_is_upgrade(const struct rt_http_request *req);

/* Checks an upgrade request against RFC 6455 4.2.1: GET, HTTP/1.1 or later,
 * Host, Upgrade: websocket and Connection: Upgrade (tokens in lists, any
 * case), a key that decodes to 16 bytes, version 13. Returns RT_OK and fills
 * *hs, or RT_E_PROTO with hs->status = 400, 405 (not GET) or 426 (version;
 * answer with rt_ws_format_reject, which adds Sec-WebSocket-Version: 13). */
RT_API rt_result rt_ws_handshake_check(const struct rt_http_request *req, rt_ws_handshake *hs);

/* Writes the Sec-WebSocket-Accept value for key (28 chars and a NUL). */
RT_API void rt_ws_accept_key(rt_str key, char out[RT_WS_ACCEPT_LEN + 1]);

/* The first protocol of the client's list that is in `supported` (a
 * NULL-terminated array), as a view into client_list; empty when none. */
RT_API rt_str rt_ws_select_protocol(rt_str client_list, const char *const *supported);

/* Writes the 101 Switching Protocols response; protocol may be empty and
 * extra_headers (lines ending in \r\n) may be NULL. Returns the length
 * needed, like snprintf. */
RT_API size_t rt_ws_format_accept(char *buf, size_t cap, rt_str key, rt_str protocol,
                                  const char *extra_headers);

/* Writes a rejection for a failed handshake with the given status (426 adds
 * Sec-WebSocket-Version: 13). Returns the length needed, like snprintf. */
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
 * zero the rest, or call rt_ws_parser_init. */
typedef struct rt_ws_parser {
    int role;               /* RT_WS_SERVER: frames must be masked; CLIENT: must not */
    size_t max_message;     /* 0 = RT_WS_MAX_MESSAGE */
    unsigned close_code;    /* after an error: the code to close with */
    /* private */
    int _err;               /* sticky error */
    int _in_frame;          /* inside a frame's payload */
    int _opcode;            /* current frame's opcode */
    int _fin;
    int _msg_opcode;        /* opcode of the fragmented message in progress, 0 when none */
    uint64_t _left;         /* payload bytes of the current frame still to come */
    uint64_t _msg_len;      /* bytes of the current message so far */
    unsigned char _mask[4];
    int _masked;
    size_t _mask_pos;       /* mask offset for the next payload byte */
    rt_utf8 _utf8;
} rt_ws_parser;

RT_API void rt_ws_parser_init(rt_ws_parser *p, int role, size_t max_message);

/* Parses from buf[0..len), unmasking payload in place. Returns the number of
 * bytes consumed (>= 0; 0 with RT_WS_EV_NONE only when len is 0) and fills
 * *ev; the caller drops those bytes and calls again with the rest.
 *   RT_AGAIN     not enough bytes for a frame header or a whole control
 *                frame: keep the bytes and call again when more arrive
 *   RT_E_PROTO   a rule of RFC 6455 was broken; p->close_code = 1002
 *   RT_E_UTF8    text that is not UTF-8; p->close_code = 1007
 *   RT_E_LIMIT   message larger than max_message; p->close_code = 1009
 * Errors are sticky. Control frames arrive whole (they are at most 125
 * bytes); data arrives in pieces as it comes in. */
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
 * NULL) into buf. Returns the length needed, like snprintf. */
RT_API size_t rt_ws_format_frame(void *buf, size_t cap, int opcode, const void *payload,
                                 size_t n, const unsigned char *mask);

/* Builds a close payload: the 2-byte code and the reason cut at a UTF-8
 * boundary to at most 123 bytes. Returns the payload length (<= 125). */
RT_API size_t rt_ws_close_payload(unsigned char out[RT_WS_MAX_CONTROL], unsigned code,
                                  const char *reason, size_t reason_len);

/* 1 when code may appear in a close frame on the wire (RFC 6455 7.4), else 0. */
RT_API int rt_ws_close_code_valid(unsigned code);

#ifdef __cplusplus
}
#endif
/* ==== End src/ws.h ==== */

/* ==== Begin src/sse.h ==== */ // >>sse
/* sse.h - Server-Sent Events formatter (WHATWG HTML "server-sent events"). */
/* ==== End src/sse.h ==== */

/* ==== Begin src/room.h ==== */ // >>room
/* room.h - rooms: membership, history ring, positions, recovery. */
/* ==== End src/room.h ==== */

/* ==== Begin src/loop.h ==== */ // >>loop
#ifndef RT_NO_IO
/* loop.h - the event loop: file descriptors, timers, and a cross-thread post.
 *
 * One loop runs on one thread. It waits with poll() by default (portable
 * POSIX) or epoll on Linux when RT_BACKEND_EPOLL is defined; the API is the
 * same. Timers are caller-owned structs kept in a binary min-heap, so
 * starting and stopping one is O(log n) and never allocates once the heap has
 * grown. rt_loop_post() is the only function another thread may call.
 */
#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_loop rt_loop;

enum rt_io_events {
    RT_IO_READ = 1,  /* readable (or a peer closed: read() will say) */
    RT_IO_WRITE = 2, /* writable */
    RT_IO_ERROR = 4  /* error or hang-up; always reported, never requested */
};

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

struct rt_loop {
    const rt_allocator *alloc;  /* NULL = RT_MALLOC/RT_FREE */
    uint64_t now;               /* monotonic ms, refreshed once per step */
    int stop;                   /* set by rt_loop_stop */
    /* private */
    rt_loop_fd *_fds;           /* registrations, indexed by fd */
    size_t _fds_cap;
    void *_backend;             /* poll: struct pollfd[]; epoll: event buffer */
    size_t _backend_len, _backend_cap;
    int _epfd;                  /* epoll only, else -1 */
    rt_timer **_heap;
    size_t _heap_len, _heap_cap;
    int _wake[2];               /* self-pipe: [0] read end, [1] write end */
};

/* Prepares *loop (caller-owned). alloc may be NULL. RT_E_IO if the wake pipe
 * or epoll instance cannot be made. */
RT_API rt_result rt_loop_init(rt_loop *loop, const rt_allocator *alloc);
/* Frees what the loop allocated. Registered fds are not closed (the caller
 * owns them); active timers are simply forgotten. */
RT_API void rt_loop_deinit(rt_loop *loop);

/* Watches fd for events (RT_IO_READ | RT_IO_WRITE). One registration per fd:
 * RT_E_INVAL if fd is already registered. RT_E_NOMEM. */
RT_API rt_result rt_loop_add(rt_loop *loop, int fd, unsigned events, rt_io_fn fn, void *user);
/* Changes the events watched for a registered fd. */
RT_API rt_result rt_loop_mod(rt_loop *loop, int fd, unsigned events);
/* Stops watching fd. Safe inside any callback, even for an fd whose event is
 * still pending in this step: it will not be delivered. */
RT_API void rt_loop_del(rt_loop *loop, int fd);

/* Waits at most timeout_ms (-1: until an event or the next timer), then runs
 * the ready fd callbacks, due timers and posted calls. Returns the number of
 * callbacks run, or RT_E_IO. This is how an application or an RTOS task
 * drives the loop from its own main loop. */
RT_API rt_result rt_loop_step(rt_loop *loop, int timeout_ms);
/* Steps until rt_loop_stop is called. Returns RT_OK or RT_E_IO. */
RT_API rt_result rt_loop_run(rt_loop *loop);
/* Makes rt_loop_run return after the current step. Loop thread only. */
RT_API void rt_loop_stop(rt_loop *loop);

/* Starts t: first after after_ms, then every repeat_ms (0 = once). Restarts
 * it if active. RT_E_NOMEM when the heap cannot grow. */
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

/* The monotonic clock in milliseconds (CLOCK_MONOTONIC). */
RT_API uint64_t rt_time_ms(void);

#ifdef __cplusplus
}
#endif
#endif /* RT_NO_IO */
/* ==== End src/loop.h ==== */

#endif /* RT_H_INCLUDED */

#ifdef RT_IMPLEMENTATION
#ifndef RT_IMPLEMENTATION_ONCE
#define RT_IMPLEMENTATION_ONCE

#include <stdlib.h>
#include <string.h>

/* ==== Begin src/config.h ==== */ // >>config
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
/* ==== End src/config.h ==== */

/* ==== Begin src/core.c ==== */ // >>core
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
/* ==== End src/core.c ==== */

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
