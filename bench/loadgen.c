/* loadgen.c - rt.h's own WebSocket load generator (Linux, epoll).
 *
 *   make build/bench/loadgen
 *   build/bench/loadgen MODE --port N [--server-pid PID] [options]
 *
 * Modes (each one stops by itself; traffic goes only to 127.0.0.1):
 *   echo       every one of --conns connections keeps --window messages of
 *              --size bytes in flight for --seconds: messages/s, round-trip
 *              p50/p99, and the server's CPU time per message
 *   broadcast  --conns receivers and one sender paced at --rate msgs/s, to a
 *              server that sends each message to every connection (echo
 *              --broadcast, or a chat room with --path '/ws?room=R'):
 *              deliveries/s, p50/p99 latency, CPU time per delivery
 *   connect    --conns clients at a time open, upgrade, close and repeat:
 *              handshakes/s
 *   idle       open --conns connections and leave them idle: the server's
 *              VmRSS before and after, in bytes per connection
 *   recover    (a chat server) publish --count + 1 messages with POST
 *              /publish, then time --repeat SSE subscribers that rejoin
 *              --count messages back until each has them all
 *
 * The clients are real: an HTTP upgrade with a random key whose
 * Sec-WebSocket-Accept is checked, client frames masked with a fresh random
 * key each (RFC 6455 5.3), pings answered, the close handshake done. The
 * codecs are rt.h's own. Every payload is text holding a sequence number,
 * the send time, the sender's id, filler derived from the sequence number
 * and a checksum; every message received is checked against them, and lost,
 * duplicated and corrupted messages are counted. A broadcast receiver first
 * compares the message byte for byte with the sender's copy of the one it
 * expects next (the sender keeps its latest 65,536): that is what lets one
 * core check tens of millions of deliveries a second; anything else is
 * decoded and counted. Broadcast and echo send for --warmup seconds before
 * the measured window opens. Any of them, a connection
 * the server closed, or a client error makes the exit status 1.
 *
 * Latency is receive time minus the send time in the payload, both from
 * CLOCK_MONOTONIC in this process; the receive time is read once per read()
 * for every frame that read brought. The server's CPU time comes from
 * utime + stime in /proc/PID/stat over the measured window (clock ticks,
 * usually 10 ms: windows of a few seconds keep that error near 1%).
 *
 * Output: one line "RESULT key=value ..." for bench/run.sh to collect.
 */
#define _GNU_SOURCE
#define RT_IMPLEMENTATION
#include "../rt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MIN_SIZE 32               /* seq 8 + time 12 + id 4 + filler + sum 2 */
#define READ_CHUNK (256u * 1024u) /* one read() at most */
#define READS_PER_EVENT 8         /* reads per readable event, for fairness */
#define MAX_EVENTS 1024
#define OPEN_TIMEOUT_NS 60000000000ull
#define DRAIN_NS 3000000000ull    /* how long answers may trail the last send */
#define SETTLE_NS 500000000ull    /* quiet time before RSS is read */
#define SENDER_ID 0xBEEFu
#define HIST_SUB 32               /* latency buckets per power of two */
#define HIST_BUCKETS (64 + 32 * HIST_SUB)
#define RING_MAX 65536u           /* broadcast: the sender's latest payloads kept */
#define RING_BYTES (64u << 20)    /* at most this much of them */

enum { ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_CLOSING, ST_DEAD };
enum { ROLE_ECHO, ROLE_RECV, ROLE_SEND, ROLE_CYCLE, ROLE_IDLE };

typedef struct opts {
    const char *mode;
    const char *path;   /* request target of the upgrade */
    const char *room;   /* recover: the room to publish to */
    int port;
    int server_pid;     /* 0: no CPU or memory figures */
    long conns;
    long size;
    long window;
    long count;
    long repeat;
    long open_batch;    /* handshakes in progress at once while opening */
    double seconds;
    double warmup;
    double rate;
    double hold;        /* idle: seconds to stay connected after measuring */
} opts;

typedef struct bytes {
    unsigned char *p;
    size_t len, cap;
} bytes;

typedef struct lconn {
    int fd;
    int state;
    int role;
    int want_out;             /* EPOLLOUT registered */
    int got_close;            /* the server's close frame arrived */
    uint32_t id;
    char key[25];             /* Sec-WebSocket-Key sent */
    bytes in;                 /* received, not yet consumed (head, partial header) */
    bytes out;                /* to send; out_off bytes of it already sent */
    size_t out_off;
    bytes msg;                /* a message that arrived in pieces */
    rt_ws_parser ws;
    uint64_t sent, expect, ok; /* data messages sent, next seq expected, good ones */
    uint64_t t_open;          /* connect start, ns */
} lconn;

typedef struct stats {
    uint64_t ok, lost, dup, bad, closed, errors;
    uint64_t deliveries;      /* echo: replies; broadcast: to receivers; connect: handshakes */
    uint64_t hist[HIST_BUCKETS];
    uint64_t nlat;
} stats;

typedef struct gen {
    opts o;
    int ep;
    lconn *c;
    long n;                   /* connections in c */
    long opening;             /* connecting or waiting for the 101 */
    long *dead;               /* connect mode: indices to restart */
    long ndead;
    unsigned char *scratch;
    uint64_t rng;
    uint64_t t0;              /* start of the run: payload times count from it */
    uint64_t t_start, t_end;  /* the measured window */
    uint64_t t_pace;          /* broadcast: when the sender started */
    int sending;              /* new messages may be sent */
    uint64_t inflight;        /* echo: sent and not yet answered */
    lconn *sender;            /* broadcast */
    unsigned char *ring;      /* broadcast: payload of seq at (seq & ring_mask) * size */
    uint64_t *ring_t;         /* and its send time */
    uint64_t ring_mask;
    uint64_t now;             /* ns since t0 when the bytes being parsed were read */
    stats s;
} gen;

/* ---- Small helpers ---------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "loadgen: %s\n", what);
    exit(2);
}

/* xorshift64*: keys and masks need to be unpredictable only to the server
 * under test, which this is plenty for; seeded from /dev/urandom. */
static uint32_t rnd(gen *g)
{
    g->rng ^= g->rng >> 12;
    g->rng ^= g->rng << 25;
    g->rng ^= g->rng >> 27;
    return (uint32_t)((g->rng * 0x2545F4914F6CDD1Dull) >> 32);
}

static void seed(gen *g)
{
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&g->rng, sizeof g->rng, 1, f) != 1)
        g->rng = now_ns();
    if (f)
        fclose(f);
    g->rng |= 1;
}

static void reserve(bytes *b, size_t need)
{
    size_t cap = b->cap ? b->cap : 256;
    void *p;
    if (need <= b->cap)
        return;
    while (cap < need)
        cap *= 2;
    p = realloc(b->p, cap);
    if (!p)
        die("out of memory");
    b->p = (unsigned char *)p;
    b->cap = cap;
}

static void append(bytes *b, const void *p, size_t n)
{
    reserve(b, b->len + n);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void release(bytes *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- Payloads --------------------------------------------------------------- */

static void put_hex(unsigned char *p, uint64_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    while (digits-- > 0) {
        p[digits] = (unsigned char)hex[v & 15];
        v >>= 4;
    }
}

static int get_hex(const unsigned char *p, int digits, uint64_t *out)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < digits; i++) {
        int c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 0;
}

/* seq (8 hex) | send time, ns since t0 (12 hex) | id (4 hex) | filler | sum (2 hex) */
static void payload_make(unsigned char *p, size_t n, uint64_t seq, uint64_t t, uint32_t id)
{
    unsigned sum = 0;
    size_t i;
    put_hex(p, seq, 8);
    put_hex(p + 8, t, 12);
    put_hex(p + 20, id, 4);
    for (i = 24; i < n - 2; i++)
        p[i] = (unsigned char)('a' + (seq + i) % 26);
    for (i = 0; i < n - 2; i++)
        sum += p[i];
    put_hex(p + n - 2, sum & 0xFF, 2);
}

/* 0 and *seq, *t when p is a well-formed payload of n bytes from id, else -1. */
static int payload_check(const unsigned char *p, size_t n, size_t want, uint32_t id,
                         uint64_t *seq, uint64_t *t)
{
    uint64_t got_id, sum;
    unsigned s = 0;
    size_t i;
    if (n != want || get_hex(p, 8, seq) || get_hex(p + 8, 12, t) || get_hex(p + 20, 4, &got_id))
        return -1;
    if (got_id != id || get_hex(p + n - 2, 2, &sum))
        return -1;
    for (i = 24; i < n - 2; i++) {
        if (p[i] != (unsigned char)('a' + (*seq + i) % 26))
            return -1;
    }
    for (i = 0; i < n - 2; i++)
        s += p[i];
    return (s & 0xFF) == sum ? 0 : -1;
}

/* ---- Latency histogram: exact below 64 us, then 32 buckets a power of two --- */

static void hist_add(stats *s, uint64_t us)
{
    size_t b;
    if (us < 64) {
        b = (size_t)us;
    } else {
        int e = 63 - __builtin_clzll(us); /* 6 and up */
        b = 64 + (size_t)(e - 6) * HIST_SUB + (size_t)((us >> (e - 5)) & (HIST_SUB - 1));
        if (b >= HIST_BUCKETS)
            b = HIST_BUCKETS - 1;
    }
    s->hist[b]++;
    s->nlat++;
}

static double hist_value(size_t b)
{
    size_t e;
    if (b < 64)
        return (double)b;
    e = (b - 64) / HIST_SUB + 6;
    return (double)((HIST_SUB + (b - 64) % HIST_SUB) << (e - 5));
}

static double hist_pct(const stats *s, double pct)
{
    uint64_t want = (uint64_t)((double)s->nlat * pct / 100.0), seen = 0;
    size_t b;
    if (s->nlat == 0)
        return -1;
    for (b = 0; b < HIST_BUCKETS; b++) {
        seen += s->hist[b];
        if (seen > want)
            return hist_value(b);
    }
    return hist_value(HIST_BUCKETS - 1);
}

/* ---- The server's CPU time and memory from /proc ------------------------------ */

static long long proc_cpu_ticks(int pid)
{
    char path[64], buf[1024], *p;
    long long utime, stime;
    FILE *f;
    size_t n;
    int i;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* the command name may hold spaces */
    for (i = 0; p && i < 12; i++) /* to field 14, utime */
        p = strchr(p + 1, ' ');
    if (!p || sscanf(p, " %lld %lld", &utime, &stime) != 2)
        return -1;
    return utime + stime;
}

static long proc_rss_kb(int pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    }
    fclose(f);
    return kb;
}

/* ---- Writing ------------------------------------------------------------------ */

static void want_out(gen *g, lconn *c, int on)
{
    struct epoll_event ev;
    if (c->want_out == on)
        return;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | (on ? (uint32_t)EPOLLOUT : 0u);
    ev.data.u64 = (uint64_t)(c - g->c);
    epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = on;
}

static void conn_dead(gen *g, lconn *c);

static void flush(gen *g, lconn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t w = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            want_out(g, c, 1);
            return;
        }
        if (w < 0) {
            g->s.errors++;
            conn_dead(g, c);
            return;
        }
        c->out_off += (size_t)w;
    }
    c->out.len = c->out_off = 0;
    want_out(g, c, 0);
}

/* Appends one masked client frame (RFC 6455 5.3: a fresh key per frame). */
static void put_frame(gen *g, lconn *c, int opcode, const void *payload, size_t n)
{
    unsigned char mask[4];
    uint32_t m = rnd(g);
    size_t len;
    memcpy(mask, &m, 4);
    reserve(&c->out, c->out.len + RT_WS_MAX_HEADER + n);
    len = rt_ws_format_frame(c->out.p + c->out.len, RT_WS_MAX_HEADER + n, opcode, payload, n,
                             mask);
    c->out.len += len;
}

/* Appends the next data message of c, built in place after the header room.
 * The broadcast sender also keeps a copy for the receivers to compare with. */
static void put_message(gen *g, lconn *c, uint32_t id)
{
    size_t n = (size_t)g->o.size;
    uint64_t t = now_ns() - g->t0;
    unsigned char *p;
    reserve(&c->out, c->out.len + RT_WS_MAX_HEADER + n);
    p = c->out.p + c->out.len + RT_WS_MAX_HEADER;
    payload_make(p, n, c->sent, t, id);
    if (c == g->sender && g->ring) {
        memcpy(g->ring + (c->sent & g->ring_mask) * n, p, n);
        g->ring_t[c->sent & g->ring_mask] = t;
    }
    c->sent++;
    put_frame(g, c, RT_WS_TEXT, p, n); /* the payload may overlap: it is moved */
}

static void put_close(gen *g, lconn *c)
{
    unsigned char payload[RT_WS_MAX_CONTROL];
    size_t n = rt_ws_close_payload(payload, RT_WS_CLOSE_NORMAL, "bye", 3);
    put_frame(g, c, RT_WS_CLOSE, payload, n);
    c->state = ST_CLOSING;
}

/* ---- Messages received ----------------------------------------------------------- */

/* Counts seq against what c expects next: TCP keeps order, so an older seq
 * is a duplicate and a newer one means the ones between were lost (counted
 * at the end as sent minus ok). */
static void track(gen *g, lconn *c, uint64_t seq)
{
    if (seq < c->expect) {
        g->s.dup++;
        return;
    }
    c->expect = seq + 1;
    c->ok++;
    g->s.ok++;
}

/* True when p is, byte for byte, the sender's message c expects next: the
 * fast check that lets one core keep up with millions of deliveries a
 * second. Anything else takes the slow path, which decodes and counts it. */
static int is_expected(const gen *g, const lconn *c, const unsigned char *p, size_t n)
{
    uint64_t seq = c->expect;
    return c->role == ROLE_RECV && g->ring && g->sender && n == (size_t)g->o.size &&
           seq < g->sender->sent && g->sender->sent - seq <= g->ring_mask &&
           memcmp(p, g->ring + (seq & g->ring_mask) * n, n) == 0;
}

static void on_message(gen *g, lconn *c, const unsigned char *p, size_t n)
{
    uint32_t id = c->role == ROLE_ECHO ? c->id : SENDER_ID;
    uint64_t seq, t, now = g->now;
    if (is_expected(g, c, p, n)) {
        seq = c->expect;
        t = g->ring_t[seq & g->ring_mask];
    } else if ((c->role != ROLE_ECHO && c->role != ROLE_RECV && c->role != ROLE_SEND) ||
               payload_check(p, n, (size_t)g->o.size, id, &seq, &t) != 0) {
        g->s.bad++;
        return;
    }
    track(g, c, seq);
    if (c->role == ROLE_SEND)
        return;
    hist_add(&g->s, now > t ? (now - t) / 1000u : 0);
    g->s.deliveries++;
    if (c->role == ROLE_ECHO) {
        g->inflight--;
        if (g->sending) {
            put_message(g, c, c->id);
            g->inflight++;
            flush(g, c);
        }
    }
}

static void on_control(gen *g, lconn *c, const rt_ws_event *ev)
{
    if (ev->opcode == RT_WS_PING) {
        put_frame(g, c, RT_WS_PONG, ev->data.p, ev->data.n);
        flush(g, c);
    } else if (ev->opcode == RT_WS_CLOSE) {
        c->got_close = 1;
        if (c->state == ST_OPEN) { /* the server hung up on us: answer, count */
            g->s.closed++;
            put_close(g, c);
            flush(g, c);
        }
    }
}

static void on_event(gen *g, lconn *c, const rt_ws_event *ev)
{
    if (ev->type == RT_WS_EV_CONTROL) {
        on_control(g, c, ev);
        return;
    }
    if (ev->type != RT_WS_EV_DATA)
        return;
    if (ev->fin && c->msg.len == 0) {
        on_message(g, c, (const unsigned char *)ev->data.p, ev->data.n);
        return;
    }
    append(&c->msg, ev->data.p, ev->data.n);
    if (ev->fin) {
        on_message(g, c, c->msg.p, c->msg.len);
        c->msg.len = 0;
    }
}

/* ---- Opening: connect, the upgrade request, the 101 ------------------------------- */

static void on_open(gen *g, lconn *c);

static void send_upgrade(gen *g, lconn *c)
{
    unsigned char raw[16];
    char req[512];
    int i, n;
    for (i = 0; i < 16; i += 4) {
        uint32_t r = rnd(g);
        memcpy(raw + i, &r, 4);
    }
    rt_b64_encode(raw, 16, c->key, sizeof c->key);
    n = snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 g->o.path, g->o.port, c->key);
    append(&c->out, req, (size_t)n);
    c->state = ST_HANDSHAKE;
    flush(g, c);
}

static void on_connected(gen *g, lconn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
        g->s.errors++;
        conn_dead(g, c);
        return;
    }
    send_upgrade(g, c);
}

/* The head's length when p holds a whole 101 with the right
 * Sec-WebSocket-Accept, 0 when more is needed, -1 when it is wrong. */
static long check_101(const lconn *c, const unsigned char *p, size_t n)
{
    char want[RT_WS_ACCEPT_LEN + 1], *head, *h;
    const unsigned char *end = NULL;
    size_t i;
    long len;
    for (i = 3; i < n && !end; i++) {
        if (memcmp(p + i - 3, "\r\n\r\n", 4) == 0)
            end = p + i + 1;
    }
    if (!end)
        return n > 8192 ? -1 : 0;
    len = (long)(end - p);
    head = (char *)malloc((size_t)len + 1);
    if (!head)
        die("out of memory");
    memcpy(head, p, (size_t)len);
    head[len] = '\0';
    rt_ws_accept_key(rt_str_c(c->key), want);
    h = strcasestr(head, "\r\nSec-WebSocket-Accept:");
    if (strncmp(head, "HTTP/1.1 101 ", 13) != 0 || !h)
        len = -1;
    else if (h += 23, h += strspn(h, " \t"), strncmp(h, want, RT_WS_ACCEPT_LEN) != 0)
        len = -1;
    free(head);
    return len;
}

/* Returns the bytes of p consumed by the handshake (all of it while the head
 * is incomplete), or -1 after failing the connection. */
static long handshake_input(gen *g, lconn *c, const unsigned char *p, size_t n)
{
    long h = check_101(c, p, n);
    if (h < 0) {
        g->s.errors++;
        conn_dead(g, c);
        return -1;
    }
    if (h == 0) {
        append(&c->in, p, n);
        return (long)n;
    }
    c->state = ST_OPEN;
    g->opening--;
    on_open(g, c);
    return h;
}

/* ---- Reading --------------------------------------------------------------------- */

static void consume(gen *g, lconn *c, unsigned char *p, size_t n)
{
    size_t off = 0;
    if (c->state == ST_HANDSHAKE) {
        long h = handshake_input(g, c, p, n);
        if (h < 0 || c->state == ST_HANDSHAKE)
            return;
        off = (size_t)h;
    }
    while (off < n && c->state != ST_DEAD) {
        rt_ws_event ev;
        rt_result r = rt_ws_parse(&c->ws, p + off, n - off, &ev);
        if (r == RT_AGAIN)
            break;
        if (r < 0) {
            g->s.bad++;
            conn_dead(g, c);
            return;
        }
        off += (size_t)r;
        on_event(g, c, &ev);
    }
    if (c->state != ST_DEAD)
        append(&c->in, p + off, n - off);
}

/* EOF: the end of a close handshake, or the server hanging up on us. */
static void on_eof(gen *g, lconn *c)
{
    if (!(c->state == ST_CLOSING && c->got_close))
        g->s.closed++;
    conn_dead(g, c);
}

static void readable(gen *g, lconn *c)
{
    int i;
    for (i = 0; i < READS_PER_EVENT && c->state != ST_DEAD; i++) {
        size_t have = c->in.len;
        ssize_t r;
        memcpy(g->scratch, c->in.p, have);
        r = read(c->fd, g->scratch + have, READ_CHUNK - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            if (r < 0)
                g->s.errors++;
            on_eof(g, c);
            return;
        }
        c->in.len = 0;
        g->now = now_ns() - g->t0; /* every frame in this read arrived by now */
        consume(g, c, g->scratch, have + (size_t)r);
        if ((size_t)r < (READ_CHUNK - have) / 2)
            return; /* the socket is very likely empty now */
    }
}

/* ---- Connections ----------------------------------------------------------------- */

static void conn_dead(gen *g, lconn *c)
{
    if (c->state == ST_DEAD)
        return;
    if (c->state == ST_CONNECTING || c->state == ST_HANDSHAKE)
        g->opening--;
    close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    c->state = ST_DEAD;
    c->in.len = c->out.len = c->out_off = c->msg.len = 0;
    if (g->dead)
        g->dead[g->ndead++] = c - g->c;
}

static void conn_start(gen *g, lconn *c)
{
    struct sockaddr_in a;
    struct epoll_event ev;
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket() failed (ulimit -n?)");
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)g->o.port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = (uint64_t)(c - g->c);
    c->want_out = 1;
    c->state = ST_CONNECTING;
    c->got_close = 0;
    c->t_open = now_ns();
    rt_ws_parser_init(&c->ws, RT_WS_CLIENT, 0);
    g->opening++;
    if ((connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) ||
        epoll_ctl(g->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        g->s.errors++;
        conn_dead(g, c);
    }
}

static void dispatch(gen *g, lconn *c, uint32_t events)
{
    if (c->state == ST_DEAD)
        return;
    if (c->state == ST_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            on_connected(g, c);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        readable(g, c);
    if ((events & EPOLLOUT) && c->state != ST_DEAD)
        flush(g, c);
}

/* ---- The loop ---------------------------------------------------------------------- */

typedef int (*done_fn)(const gen *g);
typedef void (*tick_fn)(gen *g);

/* Runs events until deadline or until done says so, calling tick after every
 * wait. Waits at most 1 ms so a paced sender stays on time. */
static void pump(gen *g, uint64_t deadline, done_fn done, tick_fn tick)
{
    struct epoll_event evs[MAX_EVENTS];
    while (!(done && done(g))) {
        uint64_t now = now_ns();
        int i, n;
        if (now >= deadline)
            break;
        n = epoll_wait(g->ep, evs, MAX_EVENTS, deadline - now > 1000000u ? 1 : 0);
        for (i = 0; i < n; i++)
            dispatch(g, &g->c[evs[i].data.u64], evs[i].events);
        if (tick)
            tick(g);
    }
}

/* Opens connections [first, last) with at most open_batch handshakes in
 * progress, so the listen backlog never overflows. Fails the run when one
 * cannot be opened. */
static void open_range(gen *g, long first, long last, int role)
{
    uint64_t deadline = now_ns() + OPEN_TIMEOUT_NS;
    long i = first;
    while (i < last || g->opening) {
        while (i < last && g->opening < g->o.open_batch) {
            g->c[i].role = role;
            g->c[i].id = (uint32_t)i & 0xFFFFu;
            conn_start(g, &g->c[i++]);
        }
        pump(g, now_ns() + 1000000u, NULL, NULL);
        if (now_ns() >= deadline || g->s.errors || g->s.closed)
            die("could not open the connections");
    }
}

static void on_open(gen *g, lconn *c)
{
    long i;
    if (c->role == ROLE_ECHO && g->sending) {
        for (i = 0; i < g->o.window; i++)
            put_message(g, c, c->id);
        g->inflight += (uint64_t)g->o.window;
        flush(g, c);
    } else if (c->role == ROLE_CYCLE) {
        if (g->t_start && now_ns() >= g->t_start && now_ns() < g->t_end) {
            g->s.deliveries++;
            hist_add(&g->s, (now_ns() - c->t_open) / 1000u);
        }
        put_close(g, c);
        flush(g, c);
    }
}

static void close_all(gen *g)
{
    long i;
    for (i = 0; i < g->n; i++) {
        if (g->c[i].state != ST_DEAD) {
            close(g->c[i].fd);
            g->c[i].state = ST_DEAD;
        }
        release(&g->c[i].in);
        release(&g->c[i].out);
        release(&g->c[i].msg);
    }
}

/* Sent minus received, over every connection: c->sent for an echo client,
 * the sender's count for everyone in a broadcast. */
static uint64_t count_lost(const gen *g)
{
    uint64_t lost = 0;
    long i;
    for (i = 0; i < g->n; i++) {
        const lconn *c = &g->c[i];
        uint64_t want = c->role == ROLE_ECHO ? c->sent : g->sender ? g->sender->sent : 0;
        lost += want > c->ok ? want - c->ok : 0;
    }
    return lost;
}

static int failed(const gen *g)
{
    return g->s.lost || g->s.dup || g->s.bad || g->s.closed || g->s.errors;
}

static void print_checks(const gen *g)
{
    printf(" p50_us=%.0f p99_us=%.0f lost=%llu dup=%llu bad=%llu closed=%llu errors=%llu\n",
           hist_pct(&g->s, 50), hist_pct(&g->s, 99), (unsigned long long)g->s.lost,
           (unsigned long long)g->s.dup, (unsigned long long)g->s.bad,
           (unsigned long long)g->s.closed, (unsigned long long)g->s.errors);
}

/* Microseconds of server CPU per unit of work between two tick readings. */
static double cpu_us_per(long long ticks0, long long ticks1, uint64_t units)
{
    if (ticks0 < 0 || ticks1 < 0 || units == 0)
        return -1;
    return (double)(ticks1 - ticks0) * 1e6 / (double)sysconf(_SC_CLK_TCK) / (double)units;
}

/* Starts the measured window: a fresh histogram and the server's CPU count. */
static long long window_open(gen *g, uint64_t *d0)
{
    memset(g->s.hist, 0, sizeof g->s.hist);
    g->s.nlat = 0;
    g->t_start = now_ns();
    g->t_end = g->t_start + (uint64_t)(g->o.seconds * 1e9);
    *d0 = g->s.deliveries;
    return g->o.server_pid ? proc_cpu_ticks(g->o.server_pid) : -1;
}

/* Ends the measured window: the server's CPU count and the deliveries in
 * it (returned); then stops sending, lets answers drain until done says so
 * or DRAIN_NS passes, and counts what never came. */
static uint64_t window_close(gen *g, uint64_t d0, long long *cpu1, done_fn done)
{
    uint64_t d;
    *cpu1 = g->o.server_pid ? proc_cpu_ticks(g->o.server_pid) : -1;
    d = g->s.deliveries - d0;
    g->sending = 0;
    pump(g, now_ns() + DRAIN_NS, done, NULL);
    g->s.lost = count_lost(g);
    return d;
}

/* ---- echo ------------------------------------------------------------------------ */

static int echo_done(const gen *g)
{
    return g->inflight == 0;
}

static int run_echo(gen *g)
{
    long long cpu0, cpu1;
    uint64_t d0, d;
    g->sending = 1;
    open_range(g, 0, g->n, ROLE_ECHO); /* each starts sending as it opens */
    pump(g, now_ns() + (uint64_t)(g->o.warmup * 1e9), NULL, NULL);
    cpu0 = window_open(g, &d0);
    pump(g, g->t_end, NULL, NULL);
    d = window_close(g, d0, &cpu1, echo_done);
    printf("RESULT mode=echo conns=%ld size=%ld window=%ld seconds=%.1f msgs=%llu "
           "msgs_per_s=%.0f cpu_us_per_msg=%.3f",
           g->n, g->o.size, g->o.window, g->o.seconds, (unsigned long long)d,
           (double)d / g->o.seconds, cpu_us_per(cpu0, cpu1, d));
    print_checks(g);
    return failed(g);
}

/* ---- broadcast --------------------------------------------------------------------- */

/* Sends what the rate says is due by now, in one write. */
static void tick_sender(gen *g)
{
    lconn *c = g->sender;
    uint64_t now = now_ns(), due;
    if (!g->sending || c->state != ST_OPEN)
        return;
    if (now >= g->t_end) {
        g->sending = 0;
        return;
    }
    due = (uint64_t)((double)(now - g->t_pace) * g->o.rate / 1e9) + 1;
    if (c->sent >= due)
        return;
    while (c->sent < due)
        put_message(g, c, SENDER_ID);
    flush(g, c);
}

static int broadcast_done(const gen *g)
{
    return g->s.ok >= (uint64_t)g->n * g->sender->sent;
}

static int run_broadcast(gen *g)
{
    long long cpu0, cpu1;
    uint64_t d0, d;
    uint64_t slots = RING_MAX;
    while (slots > 1 && slots * (uint64_t)g->o.size > RING_BYTES)
        slots /= 2;
    g->ring = (unsigned char *)malloc(slots * (size_t)g->o.size);
    g->ring_t = (uint64_t *)malloc(slots * sizeof *g->ring_t);
    if (!g->ring || !g->ring_t)
        die("out of memory");
    g->ring_mask = slots - 1;
    open_range(g, 0, g->n - 1, ROLE_RECV);
    open_range(g, g->n - 1, g->n, ROLE_SEND);
    g->sender = &g->c[g->n - 1];
    g->sender->id = SENDER_ID;
    pump(g, now_ns() + SETTLE_NS, NULL, NULL);
    g->sending = 1; /* warm-up: paced sending, not measured */
    g->t_pace = now_ns();
    g->t_end = UINT64_MAX;
    pump(g, g->t_pace + (uint64_t)(g->o.warmup * 1e9), NULL, tick_sender);
    cpu0 = window_open(g, &d0);
    pump(g, g->t_end, NULL, tick_sender);
    d = window_close(g, d0, &cpu1, broadcast_done);
    printf("RESULT mode=broadcast receivers=%ld size=%ld rate=%.0f seconds=%.1f sent=%llu "
           "deliveries=%llu deliveries_per_s=%.0f cpu_us_per_delivery=%.4f",
           g->n - 1, g->o.size, g->o.rate, g->o.seconds,
           (unsigned long long)g->sender->sent, (unsigned long long)d,
           (double)d / g->o.seconds, cpu_us_per(cpu0, cpu1, d));
    print_checks(g);
    return failed(g);
}

/* ---- connect ------------------------------------------------------------------------ */

static void tick_restart(gen *g)
{
    while (g->ndead > 0) {
        lconn *c = &g->c[g->dead[--g->ndead]];
        if (g->sending)
            conn_start(g, c);
    }
}

static int connect_done(const gen *g)
{
    long i;
    for (i = 0; i < g->n; i++) {
        if (g->c[i].state != ST_DEAD)
            return 0;
    }
    return 1;
}

static int run_connect(gen *g)
{
    long long cpu0, cpu1;
    uint64_t d0, warm = (uint64_t)(g->o.warmup * 1e9);
    long i;
    g->dead = (long *)calloc((size_t)g->n, sizeof(long));
    if (!g->dead)
        die("out of memory");
    g->sending = 1;
    g->t_start = now_ns() + warm; /* on_open counts only inside the window */
    g->t_end = g->t_start + (uint64_t)(g->o.seconds * 1e9);
    for (i = 0; i < g->n; i++) {
        g->c[i].role = ROLE_CYCLE;
        conn_start(g, &g->c[i]);
    }
    pump(g, g->t_start, NULL, tick_restart);
    cpu0 = window_open(g, &d0);
    pump(g, g->t_end, NULL, tick_restart);
    cpu1 = g->o.server_pid ? proc_cpu_ticks(g->o.server_pid) : -1;
    g->sending = 0;
    pump(g, now_ns() + DRAIN_NS, connect_done, tick_restart);
    printf("RESULT mode=connect conns=%ld seconds=%.1f handshakes=%llu handshakes_per_s=%.0f "
           "cpu_us_per_handshake=%.2f",
           g->n, g->o.seconds, (unsigned long long)(g->s.deliveries - d0),
           (double)(g->s.deliveries - d0) / g->o.seconds,
           cpu_us_per(cpu0, cpu1, g->s.deliveries - d0));
    print_checks(g);
    free(g->dead);
    g->dead = NULL;
    return failed(g);
}

/* ---- idle -------------------------------------------------------------------------- */

static int run_idle(gen *g)
{
    long rss0, rss1;
    if (!g->o.server_pid)
        die("idle needs --server-pid");
    rss0 = proc_rss_kb(g->o.server_pid);
    open_range(g, 0, g->n, ROLE_IDLE);
    pump(g, now_ns() + SETTLE_NS, NULL, NULL);
    rss1 = proc_rss_kb(g->o.server_pid);
    pump(g, now_ns() + (uint64_t)(g->o.hold * 1e9), NULL, NULL);
    printf("RESULT mode=idle conns=%ld rss_before_kb=%ld rss_after_kb=%ld "
           "bytes_per_conn=%.0f",
           g->n, rss0, rss1, (double)(rss1 - rss0) * 1024.0 / (double)g->n);
    print_checks(g);
    return failed(g) || rss0 < 0 || rss1 < 0;
}

/* ---- recover: plain HTTP on blocking sockets with a receive timeout ---------------- */

static int tcp_open(int port)
{
    struct sockaddr_in a;
    struct timeval tv;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        die("socket() failed");
    tv.tv_sec = 5;
    tv.tv_usec = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("cannot connect to the server");
    return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("write failed");
        p = (const char *)p + w;
        n -= (size_t)w;
    }
}

/* Reads more of the stream into b, keeping it NUL-terminated; 0 at EOF,
 * on the timeout or on an error. */
static int read_more(int fd, bytes *b)
{
    ssize_t r;
    reserve(b, b->len + 65536 + 1);
    do {
        r = read(fd, b->p + b->len, 65536);
    } while (r < 0 && errno == EINTR);
    if (r <= 0)
        return 0;
    b->len += (size_t)r;
    b->p[b->len] = '\0';
    return 1;
}

/* Reads one response with a Content-Length body into b (from empty);
 * returns the body, NUL-terminated, or NULL. */
static const char *http_response(int fd, bytes *b)
{
    const char *end, *cl;
    long body;
    b->len = 0;
    for (;;) {
        if (b->len && (end = strstr((const char *)b->p, "\r\n\r\n")) != NULL) {
            cl = strcasestr((const char *)b->p, "\r\nContent-Length:");
            body = cl && cl < end ? strtol(cl + 17, NULL, 10) : 0;
            if ((const char *)b->p + b->len >= end + 4 + body)
                return strncmp((const char *)b->p, "HTTP/1.1 200 ", 13) == 0 ? end + 4 : NULL;
        }
        if (!read_more(fd, b))
            return NULL;
    }
}

/* Publishes messages 0..count over one keep-alive connection; pos gets the
 * position of message 0. */
static void publish_all(gen *g, char *pos, size_t cap)
{
    bytes req = {NULL, 0, 0}, resp = {NULL, 0, 0};
    int fd = tcp_open(g->o.port);
    const char *body, *p;
    long seq;
    for (seq = 0; seq <= g->o.count; seq++) {
        char head[256];
        int n = snprintf(head, sizeof head,
                         "POST /publish?room=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                         "Content-Type: text/plain\r\nContent-Length: %ld\r\n\r\n",
                         g->o.room, g->o.port, g->o.size);
        req.len = 0;
        append(&req, head, (size_t)n);
        reserve(&req, req.len + (size_t)g->o.size);
        payload_make(req.p + req.len, (size_t)g->o.size, (uint64_t)seq, now_ns() - g->t0,
                     SENDER_ID);
        req.len += (size_t)g->o.size;
        write_all(fd, req.p, req.len);
        body = http_response(fd, &resp);
        if (!body)
            die("publish failed");
        if (seq == 0 && (p = strstr(body, "\"pos\":\"")) != NULL)
            snprintf(pos, cap, "%.*s", (int)strcspn(p + 7, "\""), p + 7);
    }
    close(fd);
    release(&req);
    release(&resp);
    if (!pos[0])
        die("no position in the publish reply");
}

/* Checks one rejoin's stream: messages 1..count in order, each a good
 * payload, then an rt.join marker saying recovered:true. */
static void check_replay(gen *g, const char *s)
{
    uint64_t expect = 1, ok = 0, seq, t;
    const char *d;
    while ((d = strstr(s, "data: ")) != NULL) {
        const char *ev = strstr(s, "event: rt.join");
        size_t n = strcspn(d + 6, "\n");
        if (ev && ev < d) {
            if (!strstr(d, "\"recovered\":true"))
                g->s.errors++;
            break;
        }
        if (payload_check((const unsigned char *)d + 6, n, (size_t)g->o.size, SENDER_ID, &seq,
                          &t) != 0) {
            g->s.bad++;
        } else if (seq < expect) {
            g->s.dup++;
        } else {
            expect = seq + 1;
            ok++;
        }
        s = d + 6 + n;
    }
    g->s.ok += ok;
    g->s.lost += (uint64_t)g->o.count > ok ? (uint64_t)g->o.count - ok : 0;
}

/* One subscriber rejoining from pos: ns until the whole replay and the
 * rt.join marker after it have arrived. */
static uint64_t rejoin(gen *g, const char *pos, bytes *b)
{
    char req[512];
    uint64_t t = now_ns();
    int fd = tcp_open(g->o.port), n;
    const char *m;
    n = snprintf(req, sizeof req,
                 "GET /sse?room=%s&since=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                 "Accept: text/event-stream\r\n\r\n",
                 g->o.room, pos, g->o.port);
    write_all(fd, req, (size_t)n);
    b->len = 0;
    for (;;) {
        if (!read_more(fd, b))
            die("the replay did not arrive");
        m = strstr((const char *)b->p, "event: rt.join\n");
        if (m && strstr(m, "\n\n"))
            break;
    }
    t = now_ns() - t;
    close(fd);
    return t;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int run_recover(gen *g)
{
    char pos[RT_ROOM_POS_MAX] = "";
    bytes b = {NULL, 0, 0};
    uint64_t *t = (uint64_t *)calloc((size_t)g->o.repeat, sizeof *t);
    double med;
    long i;
    if (!t)
        die("out of memory");
    publish_all(g, pos, sizeof pos);
    for (i = 0; i < g->o.repeat; i++) {
        t[i] = rejoin(g, pos, &b);
        check_replay(g, strstr((const char *)b.p, "\r\n\r\n"));
    }
    qsort(t, (size_t)g->o.repeat, sizeof *t, cmp_u64);
    med = (double)t[g->o.repeat / 2] / 1e6;
    printf("RESULT mode=recover count=%ld size=%ld repeat=%ld median_ms=%.3f min_ms=%.3f "
           "msgs_per_s=%.0f lost=%llu dup=%llu bad=%llu closed=%llu errors=%llu\n",
           g->o.count, g->o.size, g->o.repeat, med, (double)t[0] / 1e6,
           (double)g->o.count / (med / 1e3), (unsigned long long)g->s.lost,
           (unsigned long long)g->s.dup, (unsigned long long)g->s.bad,
           (unsigned long long)g->s.closed, (unsigned long long)g->s.errors);
    free(t);
    release(&b);
    return failed(g);
}

/* ---- Command line ------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen echo|broadcast|connect|idle|recover --port N [options]\n"
            "  --server-pid PID  the server, for CPU time and VmRSS (/proc)\n"
            "  --conns N         connections (echo), receivers (broadcast),\n"
            "                    concurrency (connect), idle connections (idle)\n"
            "  --size BYTES      message size, at least %d (default 32)\n"
            "  --window N        echo: messages in flight per connection (1)\n"
            "  --rate N          broadcast: messages per second (100)\n"
            "  --seconds S       measured time (3); --warmup S before it (1)\n"
            "  --path P          upgrade request target (/)\n"
            "  --open-batch N    handshakes in progress at once while opening (200)\n"
            "  --hold S          idle: stay connected S seconds after measuring (0)\n"
            "  --room R --count K --repeat N   recover: room, messages, rejoins\n",
            MIN_SIZE);
    exit(2);
}

static void parse_opts(int argc, char **argv, opts *o)
{
    int i;
    memset(o, 0, sizeof *o);
    o->path = "/";
    o->room = "recover";
    o->conns = 100;
    o->size = 32;
    o->window = 1;
    o->count = 1000;
    o->repeat = 10;
    o->open_batch = 200;
    o->seconds = 3;
    o->warmup = 1;
    o->rate = 100;
    if (argc < 2)
        usage();
    o->mode = argv[1];
    for (i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--port") == 0) o->port = atoi(v);
        else if (strcmp(k, "--server-pid") == 0) o->server_pid = atoi(v);
        else if (strcmp(k, "--conns") == 0) o->conns = atol(v);
        else if (strcmp(k, "--size") == 0) o->size = atol(v);
        else if (strcmp(k, "--window") == 0) o->window = atol(v);
        else if (strcmp(k, "--count") == 0) o->count = atol(v);
        else if (strcmp(k, "--repeat") == 0) o->repeat = atol(v);
        else if (strcmp(k, "--open-batch") == 0) o->open_batch = atol(v);
        else if (strcmp(k, "--seconds") == 0) o->seconds = atof(v);
        else if (strcmp(k, "--warmup") == 0) o->warmup = atof(v);
        else if (strcmp(k, "--rate") == 0) o->rate = atof(v);
        else if (strcmp(k, "--hold") == 0) o->hold = atof(v);
        else if (strcmp(k, "--path") == 0) o->path = v;
        else if (strcmp(k, "--room") == 0) o->room = v;
        else usage();
    }
    if (i != argc || o->port <= 0 || o->conns < 1 || o->size < MIN_SIZE || o->window < 1 ||
        o->count < 1 || o->repeat < 1 || o->open_batch < 1 || o->seconds <= 0 || o->rate <= 0)
        usage();
}

int main(int argc, char **argv)
{
    gen *g = (gen *)calloc(1, sizeof *g);
    int bad;
    if (!g)
        die("out of memory");
    parse_opts(argc, argv, &g->o);
    seed(g);
    g->t0 = now_ns();
    g->n = g->o.conns + (strcmp(g->o.mode, "broadcast") == 0); /* + the sender */
    g->c = (lconn *)calloc((size_t)g->n, sizeof *g->c);
    g->scratch = (unsigned char *)malloc(READ_CHUNK);
    g->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!g->c || !g->scratch || g->ep < 0)
        die("cannot set up");
    if (strcmp(g->o.mode, "echo") == 0) bad = run_echo(g);
    else if (strcmp(g->o.mode, "broadcast") == 0) bad = run_broadcast(g);
    else if (strcmp(g->o.mode, "connect") == 0) bad = run_connect(g);
    else if (strcmp(g->o.mode, "idle") == 0) bad = run_idle(g);
    else if (strcmp(g->o.mode, "recover") == 0) bad = run_recover(g);
    else usage(), bad = 1;
    fflush(stdout);
    close_all(g);
    close(g->ep);
    free(g->c);
    free(g->scratch);
    free(g->ring);
    free(g->ring_t);
    free(g);
    return bad ? 1 : 0;
}
