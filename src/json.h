/* json.h - JSON text out: string escaping and a growable output buffer. */
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

#ifdef __cplusplus
}
#endif
