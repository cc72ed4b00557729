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
#include "ws.h"
#include "../base/config.h"
#include "../base/sha1.h"
#include "../base/b64.h"
#include "../base/utf8.h"
#include "http.h"
#include <limits.h>

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
