/* json.h - JSON text out (string escaping, a growable output buffer) and in
 * (a bounded tokenizer with accessors for small messages). */
#ifndef RT_JSON_H
#define RT_JSON_H

#include "core.h"

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
