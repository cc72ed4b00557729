/* sse.c - Server-Sent Events formatter.
 *
 * WHATWG HTML, "Parsing an event stream" and "Interpreting an event stream":
 * a stream is lines ending in CRLF, LF or CR; a line "name:value" sets a
 * field, one leading space of the value is dropped, "data" lines are joined
 * with LF, a line starting with ':' is a comment and an empty line
 * dispatches the event. The writer below is the mirror image of that parser.
 */
#include "sse.h"
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
