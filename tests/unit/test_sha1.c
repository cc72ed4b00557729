/* Unit tests for sha1: the FIPS 180-4 example messages, the RFC 3174
 * section 7.3 test driver, the padding boundaries, and chunked input. */
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../rt_test.h"

#include <stdlib.h>

static const char *hex(const unsigned char d[RT_SHA1_SIZE], char out[2 * RT_SHA1_SIZE + 1])
{
    static const char digits[] = "0123456789abcdef";
    int i;
    for (i = 0; i < RT_SHA1_SIZE; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * RT_SHA1_SIZE] = '\0';
    return out;
}

static const char *sha1_hex(const void *data, size_t n, char out[2 * RT_SHA1_SIZE + 1])
{
    unsigned char d[RT_SHA1_SIZE];
    rt_sha1(data, n, d);
    return hex(d, out);
}

RT_TEST(fips_180_examples)
{
    static const char two_blocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    char h[41];
    CHECK_STR(sha1_hex("", 0, h), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    CHECK_STR(sha1_hex("abc", 3, h), "a9993e364706816aba3e25717850c26c9cd0d89d");
    CHECK_STR(sha1_hex(two_blocks, sizeof two_blocks - 1, h),
              "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

/* RFC 3174 section 7.3: each TESTn string fed repeatcount[n] times. */
RT_TEST(rfc3174_test_driver)
{
    static const struct { const char *text; long repeat; const char *digest; } v[] = {
        {"abc", 1, "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
        {"a", 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"},
        {"01234567012345670123456701234567" "01234567012345670123456701234567", 10,
         "dea356a2cddd90c7a7ecedc5ebb563934f460452"},
    };
    size_t i;
    long r;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        rt_sha1_ctx s;
        unsigned char d[RT_SHA1_SIZE];
        char h[41];
        rt_sha1_init(&s);
        for (r = 0; r < v[i].repeat; r++)
            rt_sha1_update(&s, v[i].text, strlen(v[i].text));
        rt_sha1_final(&s, d);
        CHECK_STR(hex(d, h), v[i].digest);
    }
}

RT_TEST(million_a_in_one_piece_and_in_uneven_chunks)
{
    static const size_t chunks[] = {1, 7, 63, 64, 65, 127, 1000, 4096, 3, 55};
    unsigned char *a = (unsigned char *)malloc(1000000);
    unsigned char d[RT_SHA1_SIZE];
    char h[41];
    rt_sha1_ctx s;
    size_t off = 0, k = 0, take;
    CHECK(a != NULL);
    if (!a)
        return;
    memset(a, 'a', 1000000);
    CHECK_STR(sha1_hex(a, 1000000, h), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    rt_sha1_init(&s);
    rt_sha1_update(&s, a, 0); /* empty updates change nothing */
    while (off < 1000000) {
        take = chunks[k++ % (sizeof chunks / sizeof chunks[0])];
        take = take < 1000000 - off ? take : 1000000 - off;
        rt_sha1_update(&s, a + off, take);
        off += take;
    }
    rt_sha1_final(&s, d);
    CHECK_STR(hex(d, h), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    free(a);
}

/* Lengths around 55/56 and 64 bytes move the length field into a second
 * padding block (FIPS 180-4 5.1.1); digests from an independent SHA-1. */
RT_TEST(padding_boundaries)
{
    static const struct { size_t n; const char *digest; } v[] = {
        {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
        {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
        {57, "f08f24908d682555111be7ff6f004e78283d989a"},
        {63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
        {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
        {65, "11655326c708d70319be2610e8a57d9a5b959d3b"},
        {119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"},
        {120, "f34c1488385346a55709ba056ddd08280dd4c6d6"},
        {128, "ad5b3fdbcb526778c2839d2f151ea753995e26a0"},
    };
    unsigned char a[128];
    char h[41];
    size_t i;
    memset(a, 'a', sizeof a);
    for (i = 0; i < sizeof v / sizeof v[0]; i++)
        CHECK_STR(sha1_hex(a, v[i].n, h), v[i].digest);
}

/* Every byte value, and input at every alignment: the words are built
 * from bytes, so an odd start address must give the same digest. */
RT_TEST(all_byte_values_at_every_alignment)
{
    unsigned char buf[1024 + 8];
    char h[41];
    size_t i, shift;
    for (shift = 0; shift < 8; shift++) {
        for (i = 0; i < 1024; i++)
            buf[shift + i] = (unsigned char)i;
        CHECK_STR(sha1_hex(buf + shift, 1024, h), "5b00669c480d5cffbdfa8bdba99561160f2d1b77");
    }
}

/* Splitting a message at any point gives the one-shot digest. */
RT_TEST(split_at_every_point)
{
    unsigned char msg[200], whole[RT_SHA1_SIZE], d[RT_SHA1_SIZE];
    size_t n, k;
    for (n = 0; n < sizeof msg; n++)
        msg[n] = (unsigned char)(n * 7 + 1);
    for (n = 0; n <= sizeof msg; n += 13) {
        rt_sha1(msg, n, whole);
        for (k = 0; k <= n; k++) {
            rt_sha1_ctx s;
            rt_sha1_init(&s);
            rt_sha1_update(&s, msg, k);
            rt_sha1_update(&s, msg + k, n - k);
            rt_sha1_final(&s, d);
            CHECK_MEM(d, whole, RT_SHA1_SIZE);
        }
    }
}

/* RFC 6455 section 1.3: the digest behind the sample accept key. */
RT_TEST(websocket_accept_key_digest)
{
    static const char in[] = "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char h[41];
    CHECK_STR(sha1_hex(in, sizeof in - 1, h), "b37a4f2cc0624f1690f64606cf385945b2bec4ea");
}

int main(void) { return rt_test_main(); }
