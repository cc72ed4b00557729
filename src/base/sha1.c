/* sha1.c - SHA-1 as FIPS 180-4 section 6.1 describes it.
 *
 * Words are built from bytes with shifts, never loaded through a cast, so
 * the same code is right on big- and little-endian CPUs and never makes an
 * unaligned access. The message schedule lives in a 16-word ring instead of
 * the 80 words of the spec, which keeps the stack small on embedded targets.
 */
#include "sha1.h"
#include "config.h"

/* SHA-1 is specified over big-endian words (FIPS 180-4 section 3.1). */
static uint32_t rt__sha1_load32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void rt__sha1_store32(unsigned char *p, uint32_t x)
{
    p[0] = (unsigned char)(x >> 24);
    p[1] = (unsigned char)(x >> 16);
    p[2] = (unsigned char)(x >> 8);
    p[3] = (unsigned char)x;
}

static uint32_t rt__sha1_rol(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

/* f(t) + K(t) for round t: the functions of section 4.1.1 and the constants
 * of section 4.2.1, which change every 20 rounds. */
static uint32_t rt__sha1_fk(unsigned t, uint32_t b, uint32_t c, uint32_t d)
{
    if (t < 20)
        return ((b & c) | (~b & d)) + 0x5A827999u; /* Ch */
    if (t < 40)
        return (b ^ c ^ d) + 0x6ED9EBA1u; /* Parity */
    if (t < 60)
        return ((b & c) | (b & d) | (c & d)) + 0x8F1BBCDCu; /* Maj */
    return (b ^ c ^ d) + 0xCA62C1D6u; /* Parity */
}

/* W(t) of section 6.1.2 step 1. W(t-16) sits in the slot that W(t) takes
 * over, so 16 words hold everything the recurrence still needs. */
static uint32_t rt__sha1_w(uint32_t w[16], unsigned t)
{
    if (t >= 16)
        w[t & 15] = rt__sha1_rol(w[(t - 3) & 15] ^ w[(t - 8) & 15] ^ w[(t - 14) & 15]
                                 ^ w[t & 15], 1);
    return w[t & 15];
}

/* Hashes one 64-byte block into h: section 6.1.2, steps 1 to 4, with the
 * spec's own names (T is tmp). */
static void rt__sha1_block(uint32_t h[5], const unsigned char *block)
{
    uint32_t w[16], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], tmp;
    unsigned t;
    for (t = 0; t < 16; t++)
        w[t] = rt__sha1_load32(block + 4 * t);
    for (t = 0; t < 80; t++) {
        tmp = rt__sha1_rol(a, 5) + rt__sha1_fk(t, b, c, d) + e + rt__sha1_w(w, t);
        e = d;
        d = c;
        c = rt__sha1_rol(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void rt_sha1_init(rt_sha1_ctx *s)
{
    /* Initial hash value, section 5.3.1. */
    s->h[0] = 0x67452301u;
    s->h[1] = 0xEFCDAB89u;
    s->h[2] = 0x98BADCFEu;
    s->h[3] = 0x10325476u;
    s->h[4] = 0xC3D2E1F0u;
    s->total = 0;
    s->fill = 0;
}

void rt_sha1_update(rt_sha1_ctx *s, const void *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t take;
    if (n == 0)
        return;
    s->total += n;
    if (s->fill > 0) {
        take = n < 64 - s->fill ? n : 64 - s->fill;
        memcpy(s->block + s->fill, p, take);
        s->fill += take;
        p += take;
        n -= take;
        if (s->fill < 64)
            return;
        rt__sha1_block(s->h, s->block);
        s->fill = 0;
    }
    /* Whole blocks are hashed straight from the caller's bytes. */
    for (; n >= 64; p += 64, n -= 64)
        rt__sha1_block(s->h, p);
    if (n > 0)
        memcpy(s->block, p, n);
    s->fill = n;
}

void rt_sha1_final(rt_sha1_ctx *s, unsigned char out[RT_SHA1_SIZE])
{
    /* Section 5.1.1: a 1 bit, zeros up to 56 mod 64 bytes, then the length
     * in bits as a 64-bit big-endian number (messages under 2^61 bytes). */
    uint64_t bits = s->total * 8;
    unsigned i;
    s->block[s->fill++] = 0x80;
    if (s->fill > 56) {
        memset(s->block + s->fill, 0, 64 - s->fill);
        rt__sha1_block(s->h, s->block);
        s->fill = 0;
    }
    memset(s->block + s->fill, 0, 56 - s->fill);
    rt__sha1_store32(s->block + 56, (uint32_t)(bits >> 32));
    rt__sha1_store32(s->block + 60, (uint32_t)bits);
    rt__sha1_block(s->h, s->block);
    for (i = 0; i < 5; i++)
        rt__sha1_store32(out + 4 * i, s->h[i]);
}

void rt_sha1(const void *data, size_t n, unsigned char out[RT_SHA1_SIZE])
{
    rt_sha1_ctx s;
    rt_sha1_init(&s);
    rt_sha1_update(&s, data, n);
    rt_sha1_final(&s, out);
}
