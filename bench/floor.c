/* floor.c - what the kernel alone costs on this machine: the floor under
 * the WebSocket servers' figures of bench/servers.sh, measured in the same
 * run so the servers can be read as ratios to it.
 *
 *   make build/bench/floor
 *   build/bench/floor fanout [--conns N] [--rounds N]
 *   build/bench/floor echo [--conns N] [--seconds S]
 *
 * Both modes open --conns loopback TCP connections and split in two: this
 * process plays the server on core 0, a child plays the clients on core 1
 * (the cores bench/lib.sh gives the servers and the load generator). The
 * messages are 34 bytes, the size of a 32-byte text frame from a server.
 *
 *   fanout  100 times a second the server sends one message to every
 *           connection, back to back, while the child reads them with epoll.
 *           Prints the median time of one such round: no server on this
 *           machine can hand a broadcast to its last receiver sooner.
 *   echo    the child keeps one message in flight on every connection; the
 *           server reads each one and sends it back, and does nothing else.
 *           Prints the server's CPU time per message (utime + stime from
 *           /proc, as bench/loadgen.c reads a server's): the cost of one
 *           read() and one send(), without any WebSocket work.
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
#define WARMUP_NS 500000000ull

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

/* This process's utime + stime in clock ticks. */
static long long cpu_ticks(void)
{
    char buf[1024], *p;
    long long ut, st;
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut,
                     &st) != 2)
        return -1;
    return ut + st;
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

/* The clients: read whatever comes; in echo mode send each message back
 * as it arrives (one in flight per connection). Runs until killed. */
static void clients(int n, const int *cli, int echo)
{
    static struct epoll_event evs[1024];
    static unsigned char buf[65536];
    int ep, i, k;
    pin(CLIENT_CORE);
    ep = watch(n, cli);
    if (echo) {
        for (i = 0; i < n; i++)
            if (send(cli[i], buf, MSG_SIZE, MSG_NOSIGNAL) != MSG_SIZE)
                die("send");
    }
    for (;;) {
        k = epoll_wait(ep, evs, 1024, -1);
        for (i = 0; i < k; i++) {
            int fd = cli[evs[i].data.u32];
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0)
                continue;
            if (echo && send(fd, buf, (size_t)r, MSG_NOSIGNAL) < 0)
                die("send");
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

/* Read and send back on every connection until the time is up. */
static void echo(int n, double seconds, const int *srv)
{
    static struct epoll_event evs[1024];
    static unsigned char buf[65536];
    uint64_t t_start = now_ns() + WARMUP_NS, t_end = t_start + (uint64_t)(seconds * 1e9), msgs = 0;
    long long cpu0 = -1, cpu1;
    int ep = watch(n, srv), i, k;
    for (;;) {
        uint64_t now = now_ns();
        if (cpu0 < 0 && now >= t_start) {
            cpu0 = cpu_ticks();
            msgs = 0;
        }
        if (now >= t_end)
            break;
        k = epoll_wait(ep, evs, 1024, 10);
        for (i = 0; i < k; i++) {
            int fd = srv[evs[i].data.u32];
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r <= 0)
                continue;
            if (send(fd, buf, (size_t)r, MSG_NOSIGNAL) < 0)
                die("send");
            msgs += (uint64_t)r / MSG_SIZE;
        }
    }
    cpu1 = cpu_ticks();
    printf("RESULT mode=echo conns=%d seconds=%.1f msgs=%llu msgs_per_s=%.0f cpu_us_per_msg=%.3f\n",
           n, seconds, (unsigned long long)msgs, (double)msgs / seconds,
           (double)(cpu1 - cpu0) * 1e6 / (double)sysconf(_SC_CLK_TCK) / (double)msgs);
    close(ep);
}

int main(int argc, char **argv)
{
    int n = 0, rounds = 200, i, *srv, *cli, is_echo;
    double seconds = 2;
    pid_t child;
    if (argc < 2 || (strcmp(argv[1], "fanout") != 0 && strcmp(argv[1], "echo") != 0)) {
        fprintf(stderr, "usage: floor fanout [--conns N] [--rounds N]\n"
                        "       floor echo [--conns N] [--seconds S]\n");
        return 2;
    }
    is_echo = strcmp(argv[1], "echo") == 0;
    for (i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--conns") == 0) n = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--rounds") == 0) rounds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0) seconds = atof(argv[i + 1]);
        else return fprintf(stderr, "floor: unknown option %s\n", argv[i]), 2;
    }
    if (n == 0)
        n = is_echo ? 100 : 1000;
    if (n < 1 || rounds < 1 || rounds > MAX_ROUNDS || seconds <= 0)
        return fprintf(stderr, "floor: bad option value\n"), 2;
    srv = (int *)malloc((size_t)n * sizeof *srv);
    cli = (int *)malloc((size_t)n * sizeof *cli);
    if (!srv || !cli)
        die("malloc");
    open_pairs(n, srv, cli);
    child = fork();
    if (child < 0)
        die("fork");
    if (child == 0)
        clients(n, cli, is_echo); /* never returns */
    pin(SERVER_CORE);
    usleep(200000); /* the child is waiting in epoll_wait */
    if (is_echo)
        echo(n, seconds, srv);
    else
        fanout(n, rounds, srv);
    fflush(stdout);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return 0;
}
