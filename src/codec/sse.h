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

#include "../base/core.h"

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
