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

#include "../base/core.h"

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
