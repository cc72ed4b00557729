/* bench_core.c - how fast the sans-IO core runs, next to memcpy.
 *
 *   make build/bench/bench_core && ./build/bench/bench_core
 *
 * Each figure is the median of RUNS runs, each at least MIN_RUN_NS long,
 * over the same 1 MiB buffers; memcpy is measured in the same process so
 * the ratios say something on any machine. Time is this thread's CPU time
 * where the system has that clock, so other load on a shared machine
 * disturbs the figures less. The output is a markdown table for the
 * README, then the project's targets and whether they were met.
 */
#define RT_IMPLEMENTATION
#include "../rt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUF_SIZE (1u << 20)
#define RUNS 7
#define MIN_RUN_NS 50e6

typedef struct bench {
    unsigned char *src, *dst, *ascii, *mixed;
    unsigned sink; /* results land here so no work is optimised away */
} bench;

typedef void (*bench_fn)(bench *b);

#ifdef CLOCK_THREAD_CPUTIME_ID
#define BENCH_CLOCK CLOCK_THREAD_CPUTIME_ID
#else
#define BENCH_CLOCK CLOCK_MONOTONIC
#endif

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(BENCH_CLOCK, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nanoseconds per call of fn: the count per run is doubled until a run
 * lasts MIN_RUN_NS, then RUNS runs give the median. Calls go through a
 * volatile pointer so the compiler cannot inline the work and hoist it
 * out of the loop. */
static double measure(bench_fn f, bench *b)
{
    bench_fn volatile fn = f;
    double t[RUNS], t0;
    long iters = 1, i;
    int r;
    for (;;) {
        t0 = now_ns();
        for (i = 0; i < iters; i++)
            fn(b);
        if (now_ns() - t0 >= MIN_RUN_NS)
            break;
        iters *= 2;
    }
    for (r = 0; r < RUNS; r++) {
        t0 = now_ns();
        for (i = 0; i < iters; i++)
            fn(b);
        t[r] = (now_ns() - t0) / (double)iters;
    }
    qsort(t, RUNS, sizeof t[0], cmp_double);
    return t[RUNS / 2];
}

/* ---- The work ------------------------------------------------------------------ */

static void run_memcpy(bench *b)
{
    memcpy(b->dst, b->src, BUF_SIZE);
    b->sink += b->dst[b->sink % BUF_SIZE];
}

static void run_mask(bench *b)
{
    static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    rt_ws_mask(b->src, BUF_SIZE, key, 0);
    b->sink += b->src[b->sink % BUF_SIZE];
}

static void run_utf8_ascii(bench *b)
{
    b->sink += (unsigned)rt_utf8_valid(b->ascii, BUF_SIZE);
}

static void run_utf8_mixed(bench *b)
{
    b->sink += (unsigned)rt_utf8_valid(b->mixed, BUF_SIZE);
}

static const char browser_request[] =
    "GET /chat HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://example.com:8080\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

static void run_accept_key(bench *b)
{
    char out[RT_WS_ACCEPT_LEN + 1];
    rt_ws_accept_key(rt_str_c("dGhlIHNhbXBsZSBub25jZQ=="), out);
    b->sink += (unsigned char)out[b->sink % RT_WS_ACCEPT_LEN];
}

/* What a server does per upgrade: parse the request, check it, and write
 * the 101 (which computes the accept key: SHA-1 and base64). */
static void run_handshake(bench *b)
{
    rt_http_parser hp;
    rt_http_request req;
    rt_ws_handshake hs;
    char out[256];
    size_t n = 0;
    rt_http_parser_init(&hp);
    if (rt_http_parse_request(&hp, browser_request, sizeof browser_request - 1, &req) > 0
        && rt_ws_handshake_check(&req, &hs) == RT_OK)
        n = rt_ws_format_accept(out, sizeof out, hs.key, rt_str_c(NULL), NULL);
    b->sink += (unsigned)n + (n > 0 ? (unsigned char)out[n - 3] : 0u);
}

/* ---- Inputs -------------------------------------------------------------------- */

/* Chat-like text in several scripts: Latin with accents, Cyrillic, Greek,
 * CJK, emoji, and the ASCII spaces and punctuation between them. */
static const char mixed_sample[] =
    "Grüße aus München, café crème! Привет, как дела? Всё хорошо. "
    "你好，世界。今天天气很好。 こんにちは、元気ですか？ 안녕하세요 "
    "😀🚀🎉 Ελληνικά: καλημέρα. naïve résumé — ok 👍 ";

static void fill_inputs(bench *b)
{
    size_t i, n = sizeof mixed_sample - 1;
    for (i = 0; i < BUF_SIZE; i++) {
        b->src[i] = (unsigned char)(i * 131 + 7);
        b->ascii[i] = (unsigned char)(' ' + i * 7 % 95);
    }
    /* whole samples, then ASCII padding, so the text stays valid */
    for (i = 0; i + n <= BUF_SIZE; i += n)
        memcpy(b->mixed + i, mixed_sample, n);
    memset(b->mixed + i, ' ', BUF_SIZE - i);
}

/* ---- Report -------------------------------------------------------------------- */

static double gbps(double ns)
{
    return (double)BUF_SIZE / ns; /* bytes per ns = GB/s */
}

static void target(const char *what, int met, const char *detail)
{
    printf("- %s: %s (%s)\n", what, met ? "met" : "MISSED", detail);
}

/* ns per call of each benchmark */
typedef struct results {
    double cp, mask, ascii, mixed, key, hs;
} results;

static void report(const results *r)
{
    char d[96];
    printf("| benchmark (1 MiB buffers; median of %d runs) | value | vs memcpy |\n", RUNS);
    printf("|---|---|---|\n");
    printf("| memcpy | %.2f GB/s | 1.00 |\n", gbps(r->cp));
    printf("| rt_ws_mask (unmask in place) | %.2f GB/s | %.2f |\n", gbps(r->mask),
           r->cp / r->mask);
    printf("| rt_utf8 validation, ASCII text | %.2f GB/s | %.2f |\n", gbps(r->ascii),
           r->cp / r->ascii);
    printf("| rt_utf8 validation, mixed scripts + emoji | %.2f GB/s | %.2f |\n",
           gbps(r->mixed), r->cp / r->mixed);
    printf("| rt_ws_accept_key (SHA-1 + base64) | %.2f M/s (%.0f ns) | - |\n", 1e3 / r->key,
           r->key);
    printf("| full handshake (parse + check + 101) | %.0f ns (%.2f M/s) | - |\n", r->hs,
           1e3 / r->hs);
    printf("\nTargets:\n");
    snprintf(d, sizeof d, "%.0f%% of memcpy", 100 * r->cp / r->mask);
    target("unmasking >= 50% of memcpy", r->cp / r->mask >= 0.5, d);
    snprintf(d, sizeof d, "%.0f%% of memcpy", 100 * r->cp / r->ascii);
    target("UTF-8 ASCII-heavy >= 25% of memcpy", r->cp / r->ascii >= 0.25, d);
    snprintf(d, sizeof d, "%.2f GB/s", gbps(r->mixed));
    target("UTF-8 mixed multibyte >= 1 GB/s", gbps(r->mixed) >= 1.0, d);
    snprintf(d, sizeof d, "%.0f ns", r->hs);
    target("full handshake < 2 us", r->hs < 2000, d);
}

int main(void)
{
    bench b;
    results r;
    memset(&b, 0, sizeof b);
    b.src = (unsigned char *)malloc(BUF_SIZE);
    b.dst = (unsigned char *)malloc(BUF_SIZE);
    b.ascii = (unsigned char *)malloc(BUF_SIZE);
    b.mixed = (unsigned char *)malloc(BUF_SIZE);
    if (!b.src || !b.dst || !b.ascii || !b.mixed) {
        fputs("bench_core: out of memory\n", stderr);
        return 1;
    }
    fill_inputs(&b);
    if (!rt_utf8_valid(b.ascii, BUF_SIZE) || !rt_utf8_valid(b.mixed, BUF_SIZE)) {
        fputs("bench_core: the UTF-8 inputs do not validate\n", stderr);
        return 1;
    }
    r.cp = measure(run_memcpy, &b);
    r.mask = measure(run_mask, &b);
    r.ascii = measure(run_utf8_ascii, &b);
    r.mixed = measure(run_utf8_mixed, &b);
    r.key = measure(run_accept_key, &b);
    r.hs = measure(run_handshake, &b);
    report(&r);
    free(b.src);
    free(b.dst);
    free(b.ascii);
    free(b.mixed);
    return 0;
}
