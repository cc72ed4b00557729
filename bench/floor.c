/* floor.c - the kernel's share of a broadcast on this machine, measured
 * in the same run as the servers of bench/servers.sh.
 *
 *   make build/bench/floor
 *   build/bench/floor [--conns N] [--rounds N]
 *
 * Opens --conns (1,000) loopback TCP connections and splits in two: this
 * process plays the server on core 0, a child reads every connection with
 * epoll on core 1 (the cores bench/lib.sh gives the servers and the load
 * generator). 100 times a second the server sends 34 bytes, the size of a
 * 32-byte text frame, to every connection back to back, with nothing else
 * in the loop; each message carries the time its round started.
 *
 * Output, two lines "RESULT key=value ..." like bench/loadgen.c's:
 *   mode=fanout   the median (and p90) time of one round of sends;
 *   mode=deliver  p50 and p99 of the delivery latency over every message,
 *                 from the start of its round to the read that got it, the
 *                 measure bench/loadgen.c reports for a broadcast.
 * No server on this machine can deliver a broadcast sooner, so a server's
 * broadcast latency reads best as a ratio to these. Linux only (epoll,
 * sched_setaffinity); traffic stays on 127.0.0.1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SERVER_CORE 0
#define CLIENT_CORE 1
#define MSG_SIZE 34
#define MAX_ROUNDS 10000
#define WARMUP_ROUNDS 50     /* fanout: rounds sent before measuring */
#define ROUND_GAP_NS 10000000 /* fanout: 100 rounds a second */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void pin(int core)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0)
        die("sched_setaffinity");
}

/* Opens n connected pairs: srv[i] accepted here, cli[i] its client end. */
static void open_pairs(int n, int *srv, int *cli)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1, i;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 128) < 0 ||
        getsockname(ls, (struct sockaddr *)&a, &len) < 0)
        die("listen");
    for (i = 0; i < n; i++) {
        cli[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (cli[i] < 0 || connect(cli[i], (struct sockaddr *)&a, sizeof a) < 0)
            die("connect (ulimit -n?)");
        srv[i] = accept(ls, NULL, NULL);
        if (srv[i] < 0)
            die("accept");
        setsockopt(srv[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(cli[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(srv[i], F_SETFL, O_NONBLOCK);
        fcntl(cli[i], F_SETFL, O_NONBLOCK);
    }
    close(ls);
}

static int watch(int n, const int *fds)
{
    int ep = epoll_create1(0), i;
    if (ep < 0)
        die("epoll_create1");
    for (i = 0; i < n; i++) {
        struct epoll_event ev;
        ev.events = EPOLLIN;
        ev.data.u32 = (uint32_t)i;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
            die("epoll_ctl");
    }
    return ep;
}

/* us rounded down the way bench/loadgen.c's histogram reports it (exact
 * below 64 us, then the leading 6 bits), so the two compare like for like. */
static uint32_t as_bucket(uint32_t us)
{
    int e = 31;
    if (us < 64)
        return us;
    while (!(us >> e))
        e--;
    return (us >> (e - 5)) << (e - 5);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The receivers: read every message and keep its latency, the time from the
 * start of its round (stamped in its first 8 bytes) to the read that got it,
 * as bench/loadgen.c measures a delivery. After warm-up + rounds messages on
 * every connection, prints the percentiles of the measured rounds and exits. */
static void receivers(int n, int rounds, const int *cli)
{
    static struct epoll_event evs[1024];
    static unsigned char buf[MSG_SIZE * 64];
    uint64_t want = (uint64_t)(WARMUP_ROUNDS + rounds) * (uint64_t)n, got = 0;
    uint64_t skip = (uint64_t)WARMUP_ROUNDS * (uint64_t)n, nlat = 0;
    uint32_t *lat = (uint32_t *)malloc((size_t)(want - skip) * sizeof *lat);
    unsigned char *part = (unsigned char *)malloc((size_t)n * MSG_SIZE); /* split messages */
    size_t *have = (size_t *)calloc((size_t)n, sizeof *have);
    int ep, i, k;
    if (!lat || !part || !have)
        die("malloc");
    pin(CLIENT_CORE);
    ep = watch(n, cli);
    while (got < want) {
        k = epoll_wait(ep, evs, 1024, -1);
        for (i = 0; i < k; i++) {
            uint32_t id = evs[i].data.u32;
            size_t len = have[id], off;
            ssize_t r;
            uint64_t now, t0;
            memcpy(buf, part + (size_t)id * MSG_SIZE, len);
            r = read(cli[id], buf + len, sizeof buf - len);
            if (r < 0 && errno == EAGAIN)
                continue;
            if (r <= 0)
                die("read");
            now = now_ns();
            len += (size_t)r;
            for (off = 0; off + MSG_SIZE <= len; off += MSG_SIZE, got++) {
                memcpy(&t0, buf + off, sizeof t0);
                if (got >= skip && nlat < want - skip)
                    lat[nlat++] = (uint32_t)((now - t0) / 1000u);
            }
            have[id] = len - off;
            memcpy(part + (size_t)id * MSG_SIZE, buf + off, have[id]);
        }
    }
    qsort(lat, (size_t)nlat, sizeof lat[0], cmp_u32);
    printf("RESULT mode=deliver conns=%d rounds=%d p50_us=%u p99_us=%u\n", n, rounds,
           as_bucket(lat[nlat / 2]), as_bucket(lat[nlat * 99 / 100]));
    fflush(stdout);
    _exit(0);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* One message to every connection, rounds times at 100 rounds a second. */
static void fanout(int n, int rounds, const int *srv)
{
    static uint64_t took[MAX_ROUNDS];
    unsigned char msg[MSG_SIZE];
    uint64_t next = now_ns();
    int r, i;
    memset(msg, 'x', sizeof msg);
    for (r = -WARMUP_ROUNDS; r < rounds; r++) {
        uint64_t t0;
        while (now_ns() < next)
            usleep(100);
        next += ROUND_GAP_NS;
        t0 = now_ns();
        memcpy(msg, &t0, sizeof t0);
        for (i = 0; i < n; i++) {
            if (send(srv[i], msg, sizeof msg, MSG_NOSIGNAL) != (ssize_t)sizeof msg)
                die("send (a client fell behind)");
        }
        if (r >= 0)
            took[r] = now_ns() - t0;
    }
    qsort(took, (size_t)rounds, sizeof took[0], cmp_u64);
    printf("RESULT mode=fanout conns=%d rounds=%d round_us=%.0f send_us=%.3f p90_round_us=%.0f\n",
           n, rounds, (double)took[rounds / 2] / 1e3, (double)took[rounds / 2] / 1e3 / n,
           (double)took[rounds * 9 / 10] / 1e3);
}

int main(int argc, char **argv)
{
    int n = 1000, rounds = 200, i, *srv, *cli;
    pid_t child;
    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--conns") == 0) n = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--rounds") == 0) rounds = atoi(argv[i + 1]);
        else break;
    }
    if (i != argc || n < 1 || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: floor [--conns N] [--rounds N (at most %d)]\n", MAX_ROUNDS);
        return 2;
    }
    srv = (int *)malloc((size_t)n * sizeof *srv);
    cli = (int *)malloc((size_t)n * sizeof *cli);
    if (!srv || !cli)
        die("malloc");
    open_pairs(n, srv, cli);
    child = fork();
    if (child < 0)
        die("fork");
    if (child == 0)
        receivers(n, rounds, cli); /* never returns */
    pin(SERVER_CORE);
    usleep(200000); /* the child is waiting in epoll_wait */
    fanout(n, rounds, srv);
    fflush(stdout);
    waitpid(child, NULL, 0); /* it prints its line once every message is in */
    return 0;
}
