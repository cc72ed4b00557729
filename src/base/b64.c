/* b64.c - base64 with the standard alphabet (RFC 4648 section 4).
 *
 * The decoder is strict on purpose: RFC 4648 section 3.5 lets a decoder
 * reject encodings whose pad bits are not zero, and RFC 6455 section 4.2.1
 * wants a Sec-WebSocket-Key that decodes to exactly 16 bytes, so every
 * string has one accepted spelling and a peer cannot smuggle variants past
 * a comparison.
 */
#include "b64.h"
#include "config.h"
#include <limits.h>

static const char rt__b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Writes the 4 characters for 1 to 3 input bytes, padding with '='. */
static void rt__b64_quantum_out(const unsigned char *p, size_t len, char *out)
{
    uint32_t bits = (uint32_t)p[0] << 16;
    if (len > 1)
        bits |= (uint32_t)p[1] << 8;
    if (len > 2)
        bits |= p[2];
    out[0] = rt__b64_alphabet[bits >> 18];
    out[1] = rt__b64_alphabet[(bits >> 12) & 63];
    out[2] = len > 1 ? rt__b64_alphabet[(bits >> 6) & 63] : '=';
    out[3] = len > 2 ? rt__b64_alphabet[bits & 63] : '=';
}

size_t rt_b64_encode(const void *src, size_t n, char *dst, size_t cap)
{
    const unsigned char *p = (const unsigned char *)src;
    size_t len, i;
    /* The length itself must be representable; SIZE_MAX can never be
     * smaller than cap, so nothing is written then. */
    if (n / 3 >= SIZE_MAX / 4)
        return SIZE_MAX;
    len = RT_B64_ENCODED_LEN(n);
    if (cap <= len)
        return len;
    for (i = 0; i < n; i += 3)
        rt__b64_quantum_out(p + i, n - i < 3 ? n - i : 3, dst + i / 3 * 4);
    dst[len] = '\0';
    return len;
}

/* The 6-bit value of a base64 character, or -1 for anything outside the
 * alphabet (including '=', which the caller handles by position). */
static int rt__b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    return c == '/' ? 63 : -1;
}

/* Decodes one 4-character quantum into out; returns how many bytes it holds
 * (1 to 3) or RT_E_PROTO. Only the last quantum may end in "=" or "==", and
 * the bits that padding leaves over must be zero (RFC 4648 section 3.5). */
static int rt__b64_quantum_in(const char *q, int last, unsigned char out[3])
{
    int bytes = 3, i, v;
    uint32_t bits = 0;
    if (last && q[3] == '=')
        bytes = q[2] == '=' ? 1 : 2;
    for (i = 0; i < 4; i++) {
        v = i <= bytes ? rt__b64_value((unsigned char)q[i]) : 0;
        if (v < 0 || (i > bytes && q[i] != '='))
            return RT_E_PROTO;
        bits = bits << 6 | (uint32_t)v;
    }
    if ((bytes == 1 && (bits & 0xFFFF) != 0) || (bytes == 2 && (bits & 0xFF) != 0))
        return RT_E_PROTO;
    out[0] = (unsigned char)(bits >> 16);
    out[1] = (unsigned char)(bits >> 8);
    out[2] = (unsigned char)bits;
    return bytes;
}

/* Checks all of src and, when dst is not NULL, writes the bytes there. */
static rt_result rt__b64_decode_all(const char *src, size_t n, unsigned char *dst)
{
    unsigned char out[3];
    size_t i, len = 0;
    int bytes;
    for (i = 0; i < n; i += 4) {
        bytes = rt__b64_quantum_in(src + i, i + 4 == n, out);
        if (bytes < 0)
            return bytes;
        if (dst)
            memcpy(dst + len, out, (size_t)bytes);
        len += (size_t)bytes;
    }
    return (rt_result)len;
}

rt_result rt_b64_decode(const char *src, size_t n, void *dst, size_t cap)
{
    size_t need;
    rt_result r;
    if (n % 4 != 0)
        return RT_E_PROTO;
    if (n / 4 > (size_t)INT_MAX / 3)
        return RT_E_LIMIT;
    need = n / 4 * 3;
    if (n > 0 && src[n - 1] == '=')
        need -= src[n - 2] == '=' ? 2 : 1;
    /* Too little room: still check the input, so that RT_E_PROTO wins and
     * RT_E_NOSPACE always means "retry with more room will work". */
    r = rt__b64_decode_all(src, n, need <= cap ? (unsigned char *)dst : NULL);
    if (r >= 0 && need > cap)
        return RT_E_NOSPACE;
    return r;
}
