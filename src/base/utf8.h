/* utf8.h - incremental UTF-8 validation (RFC 3629, Unicode table 3-7). */
#ifndef RT_UTF8_H
#define RT_UTF8_H

#include "core.h"

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
