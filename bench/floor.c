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
 * in the loop. Prints the median time of one such round: no server on
 * this machine can hand a broadcast to its last receiver sooner, so a
 * server's broadcast latency reads best as a ratio to it.
 *
 * Output: one line "RESULT key=value ..." like bench/loadgen.c's. Linux
 * only (epoll, sched_setaffinity); traffic stays on 127.0.0.1.
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

/* The receivers: read whatever comes, until killed. */
static void receivers(int n, const int *cli)
{
    static struct epoll_event evs[1024];
    static unsigned char buf[65536];
    int ep, i, k;
    pin(CLIENT_CORE);
    ep = watch(n, cli);
    for (;;) {
        k = epoll_wait(ep, evs, 1024, -1);
        for (i = 0; i < k; i++) {
            if (read(cli[evs[i].data.u32], buf, sizeof buf) < 0 && errno != EAGAIN)
                die("read");
        }
    }
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
        receivers(n, cli); /* never returns */
    pin(SERVER_CORE);
    usleep(200000); /* the child is waiting in epoll_wait */
    fanout(n, rounds, srv);
    fflush(stdout);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return 0;
}
