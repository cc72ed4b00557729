/* utf8.c - incremental UTF-8 validation (RFC 3629 section 4, Unicode
 * Standard table 3-7 "Well-Formed UTF-8 Byte Sequences").
 *
 * Table 3-7 says everything: a lead byte fixes the length of its sequence
 * and the range its second byte must fall in; every later byte is 80..BF.
 * The narrowed second-byte ranges are what exclude overlong forms (E0, F0),
 * UTF-16 surrogates (ED) and code points above U+10FFFF (F4). Checking the
 * second byte against its range fails at the earliest byte possible, so a
 * WebSocket endpoint can fail the connection (RFC 6455 section 8.1) when
 * the bad byte arrives rather than at the end of the message.
 *
 * Speed comes from one scan over the sequences that lie whole inside the
 * chunk: ASCII a machine word at a time, multibyte sequences checked
 * against the table without touching the state struct. Only the bytes
 * around a chunk boundary or an error go through the byte-at-a-time state
 * machine, which also pins down the exact byte at fault.
 */
#include "utf8.h"
#include "config.h"

/* need after an error; no sequence needs that many more bytes. */
#define RT__UTF8_FAILED 0xFFu

/* The rows of table 3-7 that start a multibyte sequence: its length and the
 * range of its second byte. Row 0 stands for "not a lead byte". */
static const unsigned char rt__utf8_rows[9][3] = {
    {0, 0x00, 0x00}, /* 80..C1, F5..FF: continuation, overlong C0/C1, too big */
    {2, 0x80, 0xBF}, /* C2..DF       U+0080..U+07FF */
    {3, 0xA0, 0xBF}, /* E0           U+0800..U+0FFF (80..9F would be overlong) */
    {3, 0x80, 0xBF}, /* E1..EC       U+1000..U+CFFF */
    {3, 0x80, 0x9F}, /* ED           U+D000..U+D7FF (A0..BF are surrogates) */
    {3, 0x80, 0xBF}, /* EE..EF       U+E000..U+FFFF */
    {4, 0x90, 0xBF}, /* F0           U+10000..U+3FFFF (80..8F would be overlong) */
    {4, 0x80, 0xBF}, /* F1..F3       U+40000..U+FFFFF */
    {4, 0x80, 0x8F}, /* F4           U+100000..U+10FFFF (90..BF are too big) */
};

/* The row of each byte 80..FF. */
static const unsigned char rt__utf8_row_of[128] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 80..8F */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 90..9F */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* A0..AF */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* B0..BF */
    0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* C0..CF */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* D0..DF */
    2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 5, 5, /* E0..EF */
    6, 7, 7, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* F0..FF */
};

/* A word with the top bit of every byte set: a word of ASCII ANDed with it
 * is zero whatever the byte order, so the test below is endian-neutral. */
#define RT__UTF8_HIGH ((size_t)-1 / 0xFF * 0x80)

/* Called just past an ASCII byte. Most text either has long ASCII runs or
 * next to none, so one word is probed first: when it holds a non-ASCII
 * byte, i comes straight back and the caller goes on a byte at a time;
 * otherwise the run is skipped four words, then one word, then one byte at
 * a time. Returns the index of the first byte not skipped. */
static size_t rt__utf8_skip_ascii(const unsigned char *p, size_t i, size_t n)
{
    size_t w[4];
    /* memcpy compiles to plain loads where they are allowed and stays
     * correct on CPUs that trap on unaligned access. */
    if (n - i < sizeof w[0])
        return i;
    memcpy(w, p + i, sizeof w[0]);
    if ((w[0] & RT__UTF8_HIGH) != 0)
        return i;
    for (i += sizeof w[0]; n - i >= sizeof w; i += sizeof w) {
        memcpy(w, p + i, sizeof w);
        if (((w[0] | w[1] | w[2] | w[3]) & RT__UTF8_HIGH) != 0)
            break;
    }
    for (; n - i >= sizeof w[0]; i += sizeof w[0]) {
        memcpy(w, p + i, sizeof w[0]);
        if ((w[0] & RT__UTF8_HIGH) != 0)
            break;
    }
    while (i < n && p[i] < 0x80)
        i++;
    return i;
}

/* Skips every complete, valid sequence from i on. Returns n, or the index
 * of a lead byte whose sequence is invalid or runs past the end: the
 * caller walks that one through the state machine. Each length has its
 * own branch that adds a constant: the CPU predicts the branch and starts
 * on the next character at once, where a length loaded from the table
 * would make it wait for the load (about three times slower on CJK). */
static size_t rt__utf8_scan(const unsigned char *p, size_t i, size_t n)
{
    const unsigned char *row;
    while (i < n) {
        if (p[i] < 0x80) {
            i = rt__utf8_skip_ascii(p, i + 1, n);
            continue;
        }
        row = rt__utf8_rows[rt__utf8_row_of[p[i] - 0x80]];
        if (row[0] == 0 || row[0] > n - i || p[i + 1] < row[1] || p[i + 1] > row[2])
            return i;
        if (row[0] == 2) {
            i += 2;
            continue;
        }
        if ((p[i + 2] & 0xC0) != 0x80)
            return i;
        if (row[0] == 3) {
            i += 3;
            continue;
        }
        if ((p[i + 3] & 0xC0) != 0x80)
            return i;
        i += 4;
    }
    return n;
}

/* Moves the state machine over one byte; 0 when the byte cannot be there. */
static int rt__utf8_step(rt_utf8 *v, unsigned char c)
{
    const unsigned char *row;
    if (v->need > 0) {
        if (c < v->lo || c > v->hi)
            return 0;
        v->need--;
        v->lo = 0x80;
        v->hi = 0xBF;
        return 1;
    }
    if (c < 0x80)
        return 1;
    row = rt__utf8_rows[rt__utf8_row_of[c - 0x80]];
    v->need = (uint8_t)(row[0] > 0 ? row[0] - 1u : 0u);
    v->lo = row[1];
    v->hi = row[2];
    return row[0] > 0;
}

void rt_utf8_init(rt_utf8 *v)
{
    v->need = 0;
    v->lo = 0;
    v->hi = 0;
}

rt_result rt_utf8_feed(rt_utf8 *v, const void *data, size_t n, size_t *bad)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t i = 0;
    if (v->need == RT__UTF8_FAILED)
        goto fail;
    while (i < n) {
        /* Between sequences the fast scan runs; it stops only where a
         * sequence is cut by the chunk's end or is about to fail. */
        if (v->need == 0) {
            i = rt__utf8_scan(p, i, n);
            if (i == n)
                break;
        }
        if (!rt__utf8_step(v, p[i]))
            goto fail;
        i++;
    }
    return RT_OK;
fail:
    v->need = RT__UTF8_FAILED;
    if (bad)
        *bad = i;
    return RT_E_UTF8;
}

rt_result rt_utf8_finish(const rt_utf8 *v)
{
    return v->need == 0 ? RT_OK : RT_E_UTF8;
}

int rt_utf8_valid(const void *data, size_t n)
{
    rt_utf8 v;
    rt_utf8_init(&v);
    return rt_utf8_feed(&v, data, n, NULL) == RT_OK && rt_utf8_finish(&v) == RT_OK;
}

size_t rt_utf8_truncate(const char *s, size_t n, size_t max)
{
    size_t cut = max;
    int back;
    if (n <= max)
        return n;
    /* s[cut] is the first byte left out. While it continues a sequence,
     * move the cut back to that sequence's lead byte: at most 3 steps in
     * valid text, and never more, so bad input cannot make this slow. */
    for (back = 0; back < 3 && cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80; back++)
        cut--;
    return cut;
}
