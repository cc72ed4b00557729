/* sha1.h - SHA-1 (FIPS 180-4), for the WebSocket accept key.
 *
 * SHA-1 is broken for collision resistance; RFC 6455 uses it only to prove
 * that the server read the handshake, and that is all rt.h uses it for.
 */
#ifndef RT_SHA1_H
#define RT_SHA1_H

#include "core.h"

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

#endif /* RT_SHA1_H */
