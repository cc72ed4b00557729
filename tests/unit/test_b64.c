/* Unit tests for b64: the RFC 4648 section 10 vectors both ways, strict
 * rejection of every non-canonical form, and the capacity rules. */
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../rt_test.h"

#include <limits.h>

static const struct { const char *plain, *coded; } rfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};
#define RFC4648_N (sizeof rfc4648 / sizeof rfc4648[0])

RT_TEST(rfc4648_vectors_encode)
{
    char out[16];
    size_t i, n;
    for (i = 0; i < RFC4648_N; i++) {
        n = strlen(rfc4648[i].plain);
        CHECK_EQ(rt_b64_encode(rfc4648[i].plain, n, out, sizeof out), strlen(rfc4648[i].coded));
        CHECK_STR(out, rfc4648[i].coded);
        CHECK_EQ(RT_B64_ENCODED_LEN(n), strlen(rfc4648[i].coded));
    }
}

RT_TEST(rfc4648_vectors_decode)
{
    unsigned char out[16];
    size_t i, n;
    for (i = 0; i < RFC4648_N; i++) {
        n = strlen(rfc4648[i].coded);
        memset(out, '#', sizeof out);
        CHECK_EQ(rt_b64_decode(rfc4648[i].coded, n, out, sizeof out),
                 strlen(rfc4648[i].plain));
        CHECK_MEM(out, rfc4648[i].plain, strlen(rfc4648[i].plain));
        CHECK_EQ(out[strlen(rfc4648[i].plain)], '#'); /* nothing written past the end */
        CHECK(RT_B64_DECODED_MAX(n) >= strlen(rfc4648[i].plain));
    }
}

/* RFC 6455 section 1.3: the sample key is base64 of 16 bytes, and the
 * accept key is base64 of the SHA-1 digest. */
RT_TEST(websocket_sample_keys)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char nonce[16], digest[RT_SHA1_SIZE];
    char cat[64], accept[32];
    CHECK_EQ(rt_b64_decode("dGhlIHNhbXBsZSBub25jZQ==", 24, nonce, sizeof nonce), 16);
    CHECK_MEM(nonce, "the sample nonce", 16);
    CHECK_EQ(snprintf(cat, sizeof cat, "%s%s", "dGhlIHNhbXBsZSBub25jZQ==", guid), 60);
    rt_sha1(cat, 60, digest);
    CHECK_EQ(rt_b64_encode(digest, sizeof digest, accept, sizeof accept), 28);
    CHECK_STR(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

RT_TEST(rejects_bad_length)
{
    static const char *bad[] = {"Z", "Zg", "Zg=", "Zm9", "Zm9vY", "Zm9vYg=", "Zm9vYmF"};
    unsigned char out[16];
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(rt_b64_decode(bad[i], strlen(bad[i]), out, sizeof out), RT_E_PROTO);
}

RT_TEST(rejects_characters_outside_the_alphabet)
{
    /* URL-safe '-' and '_' (RFC 4648 section 5), whitespace, NUL, high bytes */
    static const char *bad[] = {"Zm9-", "Zm9_", "Zm9v\nZg==", "Zm 9", " Zm9", "Zm9\t",
                                "Zm9.", "Zm9\x80", "*Zg="};
    unsigned char out[16];
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(rt_b64_decode(bad[i], strlen(bad[i]), out, sizeof out), RT_E_PROTO);
    CHECK_EQ(rt_b64_decode("Zm\0v", 4, out, sizeof out), RT_E_PROTO);
}

RT_TEST(rejects_misplaced_padding)
{
    static const char *bad[] = {"====", "Z===", "=Zg=", "==Zg", "Z=g=", "Zg=a", "Zm=v",
                                "Zg==Zm9v", "Zm8=Zm9v", "Zm9v=Zg=", "Zm9v===="};
    unsigned char out[16];
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(rt_b64_decode(bad[i], strlen(bad[i]), out, sizeof out), RT_E_PROTO);
}

/* RFC 4648 section 3.5: the bits that padding leaves over must be zero, so
 * of the 64 characters that could end "Z?==" only A, Q, g and w decode, and
 * of those ending "Zm?=" only the 16 whose value is a multiple of 4. */
RT_TEST(rejects_nonzero_pad_bits)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char out[4];
    char q[5];
    int v, ok1 = 0, ok2 = 0;
    CHECK_EQ(rt_b64_decode("Zh==", 4, out, sizeof out), RT_E_PROTO);
    CHECK_EQ(rt_b64_decode("Zg==", 4, out, sizeof out), 1);
    CHECK_EQ(out[0], 'f');
    CHECK_EQ(rt_b64_decode("Zm9=", 4, out, sizeof out), RT_E_PROTO);
    for (v = 0; v < 64; v++) {
        memcpy(q, "Z?==", 5);
        q[1] = alphabet[v];
        ok1 += rt_b64_decode(q, 4, out, sizeof out) == 1;
        CHECK_EQ(rt_b64_decode(q, 4, out, sizeof out) == 1, v % 16 == 0);
        memcpy(q, "Zm?=", 5);
        q[2] = alphabet[v];
        ok2 += rt_b64_decode(q, 4, out, sizeof out) == 2;
        CHECK_EQ(rt_b64_decode(q, 4, out, sizeof out) == 2, v % 4 == 0);
    }
    CHECK_EQ(ok1, 4);
    CHECK_EQ(ok2, 16);
}

/* Every 1- and 2-byte input, and 65536 3-byte ones, survive a round trip,
 * and each encoding is one 4-character quantum. */
RT_TEST(round_trip_short_inputs)
{
    unsigned char in[3], back[3];
    char enc[8];
    unsigned long x;
    size_t n;
    for (x = 0; x < 0x10000ul; x++) {
        in[0] = (unsigned char)(x >> 8);
        in[1] = (unsigned char)x;
        in[2] = (unsigned char)((x * 131) >> 3);
        for (n = 1; n <= 3; n++) {
            CHECK_EQ(rt_b64_encode(in, n, enc, sizeof enc), 4);
            CHECK_EQ(rt_b64_decode(enc, 4, back, sizeof back), n);
            CHECK_MEM(back, in, n);
        }
    }
}

RT_TEST(encode_capacity_is_like_snprintf)
{
    char out[16];
    memset(out, '#', sizeof out);
    CHECK_EQ(rt_b64_encode("foobar", 6, NULL, 0), 8); /* size query */
    CHECK_EQ(rt_b64_encode("foobar", 6, out, 8), 8);  /* no room for the NUL */
    CHECK_EQ(out[0], '#');
    CHECK_EQ(rt_b64_encode("foobar", 6, out, 9), 8);
    CHECK_STR(out, "Zm9vYmFy");
    CHECK_EQ(out[9], '#');
    CHECK_EQ(rt_b64_encode("", 0, NULL, 0), 0);
    CHECK_EQ(rt_b64_encode("", 0, out, 1), 0);
    CHECK_STR(out, "");
}

/* Lengths near SIZE_MAX: the largest input whose length fits is answered
 * exactly, the next one gets SIZE_MAX; neither reads the input. */
RT_TEST(encode_length_overflow)
{
    size_t big = (SIZE_MAX / 4 - 1) * 3;
    CHECK(rt_b64_encode("", big, NULL, 0) == (SIZE_MAX / 4 - 1) * 4);
    CHECK(rt_b64_encode("", big + 3, NULL, 0) == SIZE_MAX);
    CHECK(rt_b64_encode("", SIZE_MAX, NULL, 0) == SIZE_MAX);
}

RT_TEST(decode_capacity)
{
    unsigned char out[8];
    memset(out, '#', sizeof out);
    CHECK_EQ(rt_b64_decode("Zm9vYmFy", 8, out, 5), RT_E_NOSPACE);
    CHECK_EQ(out[0], '#'); /* nothing written when the room is short */
    CHECK_EQ(rt_b64_decode("Zm9vYmFy", 8, out, 6), 6);
    CHECK_MEM(out, "foobar", 6);
    CHECK_EQ(out[6], '#');
    CHECK_EQ(rt_b64_decode("Zg==", 4, NULL, 0), RT_E_NOSPACE);
    CHECK_EQ(rt_b64_decode("Zm8=", 4, out, 1), RT_E_NOSPACE);
    CHECK_EQ(rt_b64_decode("", 0, NULL, 0), 0);
    /* bad input is RT_E_PROTO whatever the room: more room would not help */
    CHECK_EQ(rt_b64_decode("Zh==", 4, NULL, 0), RT_E_PROTO);
    CHECK_EQ(rt_b64_decode("Zm9v!mFy", 8, out, 2), RT_E_PROTO);
}

/* A decoded length that an rt_result cannot hold is refused before any
 * input is read. */
RT_TEST(decode_length_limit)
{
    size_t n = ((size_t)INT_MAX / 3 + 1) * 4;
    CHECK_EQ(rt_b64_decode("", n, NULL, 0), RT_E_LIMIT);
    CHECK_EQ(rt_b64_decode("", n + 1, NULL, 0), RT_E_PROTO);
}

int main(void) { return rt_test_main(); }
