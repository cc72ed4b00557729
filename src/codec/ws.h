/* ws.h - WebSocket (RFC 6455): opening handshake, frame parser and writer.
 *
 * Sans-IO. The parser unmasks payloads in place in the caller's buffer and
 * hands out views of them, so a message is never copied by the codec. It
 * enforces every rule of RFC 6455 section 5 and, on a violation, tells the
 * caller which close code to send.
 */
#ifndef RT_WS_H
#define RT_WS_H

#include "../base/core.h"
#include "../base/utf8.h"
#include "http.h"

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
