/* b64.h - base64 (RFC 4648 section 4), strict decoding. */
#ifndef RT_B64_H
#define RT_B64_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Encoded length of n bytes, padding included, without a NUL. */
#define RT_B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)
/* Upper bound on the decoded length of n base64 characters. */
#define RT_B64_DECODED_MAX(n) (((n) / 4) * 3)

/* Encodes src[0..n) into dst. Like snprintf: returns the encoded length
 * (RT_B64_ENCODED_LEN(n)) and writes it, plus a NUL, only when cap is larger
 * than that; otherwise writes nothing. For an n so large that the length
 * could overflow a size_t it returns SIZE_MAX (and writes nothing). */
RT_API size_t rt_b64_encode(const void *src, size_t n, char *dst, size_t cap);

/* Decodes src[0..n) into dst[0..cap). Returns the decoded length, or
 * RT_E_PROTO when the input is not canonical base64 (length not a multiple
 * of 4, a character outside the alphabet, misplaced '=', or non-zero padding
 * bits), or RT_E_NOSPACE when cap is too small for valid input, or
 * RT_E_LIMIT when the decoded length could exceed INT_MAX. No whitespace or
 * line breaks are allowed. After an error dst holds unspecified bytes. */
RT_API rt_result rt_b64_decode(const char *src, size_t n, void *dst, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* RT_B64_H */
