/* Unit tests for utf8: Markus Kuhn's UTF-8 decoder stress test, class by
 * class, each case fed whole, a byte at a time and split at every point,
 * behind ASCII prefixes of several lengths (so the word-at-a-time path runs
 * into it at every alignment). Then a comparison against a slow reference
 * built from the definition, and rt_utf8_truncate. */
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../rt_test.h"

#include <stdlib.h>

/* Outcomes: the absolute index of the first bad byte, or one of these. */
#define VALID -1 /* complete, valid text */
#define CUT -2   /* valid so far, but the last sequence is cut short */

typedef struct {
    const char *name;
    const char *s;
    size_t n;
    long want;
} u8case;

#define CASE(name, s, want) {name, s, sizeof(s) - 1, want}

/* Feeds p[0..k) then p[k..n); returns the outcome. */
static long run_split(const unsigned char *p, size_t n, size_t k)
{
    rt_utf8 v;
    size_t bad = 12345;
    rt_utf8_init(&v);
    if (rt_utf8_feed(&v, p, k, &bad) != RT_OK)
        return (long)bad;
    if (rt_utf8_feed(&v, p + k, n - k, &bad) != RT_OK)
        return (long)(k + bad);
    return rt_utf8_finish(&v) == RT_OK ? VALID : CUT;
}

/* Feeds one byte at a time; the state must stay stuck after an error. */
static long run_bytes(const unsigned char *p, size_t n)
{
    rt_utf8 v;
    size_t i, bad = 12345;
    memset(&v, 0, sizeof v); /* zero-initialised state works like init */
    for (i = 0; i < n; i++) {
        if (rt_utf8_feed(&v, p + i, 1, &bad) != RT_OK) {
            CHECK_EQ(bad, 0);
            CHECK_EQ(rt_utf8_feed(&v, "a", 1, &bad), RT_E_UTF8);
            CHECK_EQ(bad, 0);
            CHECK_EQ(rt_utf8_feed(&v, "", 0, NULL), RT_E_UTF8);
            CHECK_EQ(rt_utf8_finish(&v), RT_E_UTF8);
            return (long)i;
        }
    }
    return rt_utf8_finish(&v) == RT_OK ? VALID : CUT;
}

/* Runs bytes p[0..n), expected outcome want, every way; name for failures. */
static void check_all_ways(const unsigned char *p, size_t n, long want, const char *name)
{
    size_t k;
    long got;
    for (k = 0; k <= n; k++) {
        got = run_split(p, n, k);
        if (got != want)
            printf("#   %s: split at %zu\n", name, k);
        CHECK_EQ(got, want);
    }
    got = run_bytes(p, n);
    if (got != want)
        printf("#   %s: byte at a time\n", name);
    CHECK_EQ(got, want);
    CHECK_EQ(rt_utf8_valid(p, n), want == VALID);
}

/* The case behind pre ASCII bytes, and then again followed by post ASCII
 * bytes, in exactly-sized heap blocks so ASan catches any over-read. */
static void check_case(const u8case *c, size_t pre, size_t post)
{
    size_t n = pre + c->n + post;
    unsigned char *p = (unsigned char *)malloc(n ? n : 1);
    long want = c->want >= 0 ? c->want + (long)pre : c->want;
    if (!p)
        return;
    memset(p, 'a', n);
    memcpy(p + pre, c->s, c->n);
    /* a cut sequence followed by ASCII fails on the first ASCII byte */
    if (post > 0 && want == CUT)
        want = (long)(pre + c->n);
    check_all_ways(p, n, want, c->name);
    free(p);
}

static void check_cases(const u8case *c, size_t count)
{
    static const size_t pre[] = {0, 1, 7, 8, 9, 31, 32, 33, 40};
    size_t i, j;
    for (i = 0; i < count; i++) {
        for (j = 0; j < sizeof pre / sizeof pre[0]; j++) {
            check_case(&c[i], pre[j], 0);
            check_case(&c[i], pre[j], 37);
        }
    }
}

#define CHECK_CASES(table) check_cases(table, sizeof table / sizeof table[0])

/* Kuhn 1 and 2: correct text and the boundaries of each length. The 5-
 * and 6-byte forms of the original UTF-8 are gone since RFC 3629, so their
 * lead bytes are bad at once. */
RT_TEST(kuhn_correct_text_and_boundaries)
{
    static const u8case c[] = {
        CASE("1 kosme", "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5", VALID),
        CASE("2.1.1 U+0000", "\x00", VALID),
        CASE("2.1.2 U+0080", "\xC2\x80", VALID),
        CASE("2.1.3 U+0800", "\xE0\xA0\x80", VALID),
        CASE("2.1.4 U+10000", "\xF0\x90\x80\x80", VALID),
        CASE("2.1.5 U+200000", "\xF8\x88\x80\x80\x80", 0),
        CASE("2.1.6 U+4000000", "\xFC\x84\x80\x80\x80\x80", 0),
        CASE("2.2.1 U+007F", "\x7F", VALID),
        CASE("2.2.2 U+07FF", "\xDF\xBF", VALID),
        CASE("2.2.3 U+FFFF", "\xEF\xBF\xBF", VALID),
        CASE("2.2.4 U+1FFFFF", "\xF7\xBF\xBF\xBF", 0),
        CASE("2.2.5 U+3FFFFFF", "\xFB\xBF\xBF\xBF\xBF", 0),
        CASE("2.2.6 U+7FFFFFFF", "\xFD\xBF\xBF\xBF\xBF\xBF", 0),
        CASE("2.3.1 U+D7FF", "\xED\x9F\xBF", VALID),
        CASE("2.3.2 U+E000", "\xEE\x80\x80", VALID),
        CASE("2.3.3 U+FFFD", "\xEF\xBF\xBD", VALID),
        CASE("2.3.4 U+10FFFF", "\xF4\x8F\xBF\xBF", VALID),
        CASE("2.3.5 U+110000", "\xF4\x90\x80\x80", 1),
        CASE("U+110000 cut", "\xF4\x90", 1),
    };
    CHECK_CASES(c);
}

/* Kuhn 3.1: continuation bytes where a character should start. */
RT_TEST(kuhn_unexpected_continuation_bytes)
{
    static const u8case c[] = {
        CASE("3.1.1", "\x80", 0),
        CASE("3.1.2", "\xBF", 0),
        CASE("3.1.3", "\x80\xBF", 0),
        CASE("3.1.4", "\x80\xBF\x80", 0),
        CASE("3.1.5", "\x80\xBF\x80\xBF", 0),
        CASE("3.1.6", "\x80\xBF\x80\xBF\x80", 0),
        CASE("3.1.7", "\x80\xBF\x80\xBF\x80\xBF", 0),
        CASE("3.1.8", "\x80\xBF\x80\xBF\x80\xBF\x80", 0),
        CASE("one too many after U+0080", "\xC2\x80\x80", 2),
        CASE("one too many after U+10000", "\xF0\x90\x80\x80\xBF", 4),
    };
    unsigned char b[3];
    int x;
    CHECK_CASES(c);
    /* 3.1.9: each of the 64 continuation bytes, alone and after a character */
    for (x = 0x80; x <= 0xBF; x++) {
        b[0] = (unsigned char)x;
        check_all_ways(b, 1, 0, "3.1.9 alone");
        b[0] = 0xC2;
        b[1] = 0x80;
        b[2] = (unsigned char)x;
        check_all_ways(b, 3, 2, "3.1.9 after U+0080");
    }
}

/* Kuhn 3.2: every start byte followed by a space. C0, C1 and F5..FF can
 * start nothing; every other start byte fails on the space. */
RT_TEST(kuhn_lonely_start_bytes)
{
    unsigned char b[2];
    int x;
    for (x = 0xC0; x <= 0xFF; x++) {
        b[0] = (unsigned char)x;
        b[1] = ' ';
        check_all_ways(b, 2, (x <= 0xC1 || x >= 0xF5) ? 0 : 1, "3.2 lonely start");
        check_all_ways(b, 1, (x <= 0xC1 || x >= 0xF5) ? 0 : CUT, "3.2 start at the end");
    }
}

/* Kuhn 3.3 and 3.4: the last continuation byte missing. Where the bytes so
 * far already rule out every valid character (overlong, too big, no longer
 * a start byte) the error comes at once; otherwise only finish() can tell. */
RT_TEST(kuhn_last_byte_missing)
{
    static const u8case c[] = {
        CASE("3.3.1 C0", "\xC0", 0),
        CASE("3.3.2 E0 80", "\xE0\x80", 1),
        CASE("3.3.3 F0 80 80", "\xF0\x80\x80", 1),
        CASE("3.3.4 F8", "\xF8\x80\x80\x80", 0),
        CASE("3.3.5 FC", "\xFC\x80\x80\x80\x80", 0),
        CASE("3.3.6 DF", "\xDF", CUT),
        CASE("3.3.7 EF BF", "\xEF\xBF", CUT),
        CASE("3.3.8 F7", "\xF7\xBF\xBF", 0),
        CASE("3.3.9 FB", "\xFB\xBF\xBF\xBF", 0),
        CASE("3.3.10 FD", "\xFD\xBF\xBF\xBF\xBF", 0),
        CASE("3.4 all of 3.3", "\xC0\xE0\x80\xF0\x80\x80\xF8\x80\x80\x80\xFC\x80\x80\x80\x80"
                               "\xDF\xEF\xBF\xF7\xBF\xBF\xFB\xBF\xBF\xBF\xFD\xBF\xBF\xBF\xBF", 0),
        CASE("3.4 valid ones", "\xDF\xEF\xBF", 1),
        CASE("C2 cut", "\xC2", CUT),
        CASE("E0 A0 cut", "\xE0\xA0", CUT),
        CASE("ED 9F cut", "\xED\x9F", CUT),
        CASE("F0 90 80 cut", "\xF0\x90\x80", CUT),
        CASE("F4 8F BF cut", "\xF4\x8F\xBF", CUT),
        CASE("E1 80 then ASCII", "\xE1\x80\x41", 2),
        CASE("F1 80 80 then ASCII", "\xF1\x80\x80\x41", 3),
        CASE("F1 then a new start", "\xF1\xC2\x80", 1),
    };
    CHECK_CASES(c);
}

/* Kuhn 3.5: FE and FF never appear in UTF-8. */
RT_TEST(kuhn_impossible_bytes)
{
    static const u8case c[] = {
        CASE("3.5.1 FE", "\xFE", 0),
        CASE("3.5.2 FF", "\xFF", 0),
        CASE("3.5.3 FE FE FF FF", "\xFE\xFE\xFF\xFF", 0),
    };
    CHECK_CASES(c);
}

/* Kuhn 4: overlong forms. C0/C1 and the 5/6-byte leads fail on the lead
 * byte; E0 and F0 fail on the second byte, the first that shows the form is
 * overlong (E0 needs A0..BF, F0 needs 90..BF). */
RT_TEST(kuhn_overlong_sequences)
{
    static const u8case c[] = {
        CASE("4.1.1 '/' in 2", "\xC0\xAF", 0),
        CASE("4.1.2 '/' in 3", "\xE0\x80\xAF", 1),
        CASE("4.1.3 '/' in 4", "\xF0\x80\x80\xAF", 1),
        CASE("4.1.4 '/' in 5", "\xF8\x80\x80\x80\xAF", 0),
        CASE("4.1.5 '/' in 6", "\xFC\x80\x80\x80\x80\xAF", 0),
        CASE("4.2.1 max in 2", "\xC1\xBF", 0),
        CASE("4.2.2 max in 3", "\xE0\x9F\xBF", 1),
        CASE("4.2.3 max in 4", "\xF0\x8F\xBF\xBF", 1),
        CASE("4.2.4 max in 5", "\xF8\x87\xBF\xBF\xBF", 0),
        CASE("4.2.5 max in 6", "\xFC\x83\xBF\xBF\xBF\xBF", 0),
        CASE("4.3.1 NUL in 2", "\xC0\x80", 0),
        CASE("4.3.2 NUL in 3", "\xE0\x80\x80", 1),
        CASE("4.3.3 NUL in 4", "\xF0\x80\x80\x80", 1),
        CASE("4.3.4 NUL in 5", "\xF8\x80\x80\x80\x80", 0),
        CASE("4.3.5 NUL in 6", "\xFC\x80\x80\x80\x80\x80", 0),
        CASE("C0 alone", "\xC0", 0),
    };
    CHECK_CASES(c);
}

/* Kuhn 5.1 and 5.2: UTF-16 surrogates are not characters (RFC 3629
 * section 3); ED A0..BF is where they start, so the second byte fails. */
RT_TEST(kuhn_surrogates)
{
    static const u8case c[] = {
        CASE("5.1.1 U+D800", "\xED\xA0\x80", 1),
        CASE("5.1.2 U+DB7F", "\xED\xAD\xBF", 1),
        CASE("5.1.3 U+DB80", "\xED\xAE\x80", 1),
        CASE("5.1.4 U+DBFF", "\xED\xAF\xBF", 1),
        CASE("5.1.5 U+DC00", "\xED\xB0\x80", 1),
        CASE("5.1.6 U+DF80", "\xED\xBE\x80", 1),
        CASE("5.1.7 U+DFFF", "\xED\xBF\xBF", 1),
        CASE("5.2.1 U+D800 U+DC00", "\xED\xA0\x80\xED\xB0\x80", 1),
        CASE("5.2.2 U+D800 U+DFFF", "\xED\xA0\x80\xED\xBF\xBF", 1),
        CASE("5.2.3 U+DB7F U+DC00", "\xED\xAD\xBF\xED\xB0\x80", 1),
        CASE("5.2.4 U+DB7F U+DFFF", "\xED\xAD\xBF\xED\xBF\xBF", 1),
        CASE("5.2.5 U+DB80 U+DC00", "\xED\xAE\x80\xED\xB0\x80", 1),
        CASE("5.2.6 U+DB80 U+DFFF", "\xED\xAE\x80\xED\xBF\xBF", 1),
        CASE("5.2.7 U+DBFF U+DC00", "\xED\xAF\xBF\xED\xB0\x80", 1),
        CASE("5.2.8 U+DBFF U+DFFF", "\xED\xAF\xBF\xED\xBF\xBF", 1),
        CASE("ED A0 cut", "\xED\xA0", 1),
    };
    CHECK_CASES(c);
}

/* Kuhn 5.3: noncharacters are still valid UTF-8. */
RT_TEST(kuhn_noncharacters_are_valid)
{
    static const u8case c[] = {
        CASE("5.3.1 U+FFFE", "\xEF\xBF\xBE", VALID),
        CASE("5.3.2 U+FFFF", "\xEF\xBF\xBF", VALID),
        CASE("5.3.3 U+FDD0", "\xEF\xB7\x90", VALID),
        CASE("5.3.3 U+FDEF", "\xEF\xB7\xAF", VALID),
        CASE("5.3.4 U+1FFFE", "\xF0\x9F\xBF\xBE", VALID),
        CASE("5.3.4 U+10FFFF", "\xF4\x8F\xBF\xBF", VALID),
    };
    CHECK_CASES(c);
}

RT_TEST(empty_input_and_null_bad_pointer)
{
    rt_utf8 v;
    rt_utf8_init(&v);
    CHECK_EQ(rt_utf8_feed(&v, NULL, 0, NULL), RT_OK);
    CHECK_EQ(rt_utf8_finish(&v), RT_OK);
    CHECK(rt_utf8_valid("", 0));
    CHECK_EQ(rt_utf8_feed(&v, "\xC2", 1, NULL), RT_OK);
    CHECK_EQ(rt_utf8_finish(&v), RT_E_UTF8);
    CHECK_EQ(rt_utf8_feed(&v, "x", 1, NULL), RT_E_UTF8);
}

/* ---- Against a reference built from the definition ---------------------- */

/* 1 when some code point that a len-byte sequence whose first k bytes
 * gave the bits cp could still become is a Unicode scalar value that needs
 * exactly len bytes: not overlong, not above U+10FFFF, not a surrogate
 * (RFC 3629 section 3). */
static int still_possible(uint32_t cp, size_t len, size_t k)
{
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    unsigned rest = (unsigned)(6 * (len - k));
    uint32_t lo = cp << rest, hi = lo | ((1u << rest) - 1);
    lo = lo < least[len] ? least[len] : lo;
    hi = hi > 0x10FFFF ? 0x10FFFF : hi;
    return lo <= hi && !(lo >= 0xD800 && hi <= 0xDFFF);
}

/* The outcome for p[0..n), the slow way: decode bit by bit, fail at the
 * first byte after which no valid character is reachable. */
static long reference(const unsigned char *p, size_t n)
{
    size_t i = 0, k, len;
    uint32_t cp;
    while (i < n) {
        len = p[i] < 0x80 ? 1 : p[i] < 0xC0 ? 0 : p[i] < 0xE0 ? 2 : p[i] < 0xF0 ? 3
            : p[i] < 0xF8 ? 4 : 0;
        if (len == 0)
            return (long)i;
        cp = p[i] & (len == 1 ? 0x7Fu : 0xFFu >> (len + 1));
        for (k = 1;; k++) {
            if (!still_possible(cp, len, k))
                return (long)(i + k - 1);
            if (k == len)
                break;
            if (i + k == n)
                return CUT;
            if ((p[i + k] & 0xC0) != 0x80)
                return (long)(i + k);
            cp = cp << 6 | (p[i + k] & 0x3Fu);
        }
        i += len;
    }
    return VALID;
}

static uint32_t rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Appends one piece of text: a run of ASCII or one character. When dirty,
 * one piece in 17 is wrong: a stray byte, an overlong form, a surrogate or
 * a value above U+10FFFF. */
static size_t put_piece(unsigned char *o, uint32_t *s, int dirty)
{
    static const uint32_t top[] = {0x80, 0x800, 0x10000, 0x110000};
    static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    uint32_t r = rng_next(s), cp = rng_next(s) % top[r % 4];
    size_t i, n;
    if (cp < 0x80) {
        for (i = 0, n = 1 + r % 70; i < n; i++)
            o[i] = (unsigned char)(' ' + rng_next(s) % 95);
        return n;
    }
    if (cp >= 0xD800 && cp < 0xE000)
        cp -= 0x800; /* clean text has no surrogates */
    n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (dirty && r % 17 == 0) {
        switch (rng_next(s) % 4) {
        case 0: o[0] = (unsigned char)(0x80 | rng_next(s)); return 1;
        case 1: n = 4; break; /* overlong unless cp needs 4 bytes anyway */
        case 2: cp = 0xD800 | (cp & 0x7FF); n = 3; break;
        default: cp = 0x110000 + (cp & 0xEFFFF); n = 4; break;
        }
    }
    o[0] = (unsigned char)(lead[n] | cp >> (6 * (n - 1)));
    for (i = 1; i < n; i++)
        o[i] = (unsigned char)(0x80 | ((cp >> (6 * (n - 1 - i))) & 0x3F));
    return n;
}

/* Random texts, mostly valid, some with an error: the library must agree
 * with the reference whole, at every alignment, and split three times. */
RT_TEST(agrees_with_reference_on_random_text)
{
    unsigned char text[600], *p;
    uint32_t seed = 2463534242u;
    size_t n, off, a, b;
    int round, valid = 0, invalid = 0, cut = 0;
    long want;
    for (round = 0; round < 3000; round++) {
        for (n = 0; n < 500;)
            n += put_piece(text + n, &seed, round % 2);
        n -= rng_next(&seed) % 4; /* sometimes end inside a sequence */
        want = reference(text, n);
        valid += want == VALID;
        invalid += want >= 0;
        cut += want == CUT;
        for (off = 0; off < 8; off++) {
            p = (unsigned char *)malloc(n);
            if (!p)
                return;
            memcpy(p, text, n);
            CHECK_EQ(run_split(p, n, rng_next(&seed) % (n + 1)), want);
            free(p);
        }
        a = rng_next(&seed) % (n + 1);
        b = a + rng_next(&seed) % (n - a + 1);
        CHECK_EQ(run_split(text, b, a), reference(text, b));
        CHECK_EQ(run_bytes(text, n), want);
    }
    /* the generator must really produce both kinds */
    CHECK(valid > 300);
    CHECK(invalid > 300);
    CHECK(cut > 100);
}

/* ---- rt_utf8_truncate --------------------------------------------------- */

RT_TEST(truncate_never_cuts_a_character)
{
    static const char s[] = "h\xC3\xA9" "\xE2\x82\xAC" "\xF0\x9F\x98\x80" "x";
    /* h=0  e-acute=1..2  euro=3..5  emoji=6..9  x=10 */
    static const size_t want[] = {0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10, 11, 11, 11};
    size_t max;
    for (max = 0; max < sizeof want / sizeof want[0]; max++)
        CHECK_EQ(rt_utf8_truncate(s, sizeof s - 1, max), want[max]);
    CHECK_EQ(rt_utf8_truncate("", 0, 5), 0);
    CHECK_EQ(rt_utf8_truncate("abc", 3, 2), 2);
}

/* The cut is the longest valid prefix that fits, on random valid text. */
RT_TEST(truncate_gives_the_longest_valid_prefix)
{
    unsigned char text[200];
    uint32_t seed = 88172645u;
    size_t n, max, r, longer;
    int round;
    for (round = 0; round < 200; round++) {
        for (n = 0; n < 100;)
            n += put_piece(text + n, &seed, 0);
        if (reference(text, n) != VALID)
            continue;
        for (max = 0; max <= n + 1; max++) {
            r = rt_utf8_truncate((const char *)text, n, max);
            CHECK(r <= max && r <= n);
            CHECK(rt_utf8_valid(text, r));
            for (longer = r + 1; longer <= max && longer <= n; longer++)
                CHECK(!rt_utf8_valid(text, longer));
        }
    }
}

/* On input that is not UTF-8 the result still fits and comes quickly. */
RT_TEST(truncate_bounded_on_garbage)
{
    static const char junk[] = "\x80\x80\x80\x80\x80\x80";
    size_t r = rt_utf8_truncate(junk, 6, 5);
    CHECK(r <= 5 && r >= 2);
}

int main(void) { return rt_test_main(); }
