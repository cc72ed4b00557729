/* holds.c - what timing out held requests (long polls) costs the server
 * among many connections, with deadlines spread over every millisecond.
 *
 *   make build/bench/holds && ./build/bench/holds [--idle N] [--held M]
 *
 * One process, one thread: an rt_server on 127.0.0.1, --idle (8,000)
 * connected clients that send nothing, and --held (1,000) clients that
 * each keep one request held, GET /hold?ms=T with T drawn from 500-1499,
 * sending the next as soon as the 204 of the timeout arrives. So about 1,000
 * holds time out each second, nearly every one in a millisecond of its
 * own. Prints the process's CPU time per second of wall time (server and
 * clients together), the median of RUNS runs of RUN_MS each, as one line
 * "RESULT ..."; built with -DRT_HOLD_SLOT_MS=1 (build/bench/holds-slot1)
 * the server makes a pass over its connections for every millisecond that
 * has a deadline, as rt.h did before its hold slots. The epoll backend, so
 * a step costs what is ready, not what is open. Linux only.
 */
#define RT_BACKEND_EPOLL
#define RT_IMPLEMENTATION
#include "../rt.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define RUNS 5
#define RUN_MS 2000
#define WARMUP_MS 1500 /* every held client past its first deadline */

static int on_http(rt_conn *c, const rt_http_request *req, rt_str body, void *user)
{
    char ms[8];
    (void)body;
    (void)user;
    if (rt_http_query_get(req->query, "ms", ms, sizeof ms) < 0)
        return 404;
    return rt_conn_hold(c, (uint32_t)atoi(ms)) == RT_OK ? 0 : 500;
    /* no on_hold_timeout: the server answers 204 */
}

static int client(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect (ulimit -n?)");
        exit(2);
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void ask(int fd)
{
    char req[64];
    int n = snprintf(req, sizeof req, "GET /hold?ms=%d HTTP/1.1\r\nHost: b\r\n\r\n",
                     500 + rand() % 1000);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        perror("send");
        exit(2);
    }
}

/* A held client's answer arrived: one request in flight, so one answer,
 * and the next request goes out. */
static long timeouts;

static void on_answer(rt_loop *loop, int fd, unsigned events, void *user)
{
    static char buf[4096];
    ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
    (void)loop;
    (void)events;
    (void)user;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (r <= 0) {
        fprintf(stderr, "holds: the server closed a client\n");
        exit(2);
    }
    buf[r] = 0;
    if (strstr(buf, "HTTP/1.1 204")) {
        timeouts++;
        ask(fd);
    }
}

static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int nidle = 8000, nheld = 1000, i, run, *idle, *held;
    double per_s[RUNS];
    rt_loop loop;
    rt_server srv;
    rt_server_config cfg;
    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--idle") == 0) nidle = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--held") == 0) nheld = atoi(argv[i + 1]);
        else break;
    }
    if (i != argc || nidle < 0 || nheld < 1) {
        fprintf(stderr, "usage: holds [--idle N] [--held M]\n");
        return 2;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.host = "127.0.0.1";
    cfg.max_conns = (size_t)(nidle + nheld);
    cfg.request_timeout_ms = 600000; /* the idle clients never send a request */
    cfg.idle_timeout_ms = 600000;
    cfg.cb.on_http = on_http;
    idle = (int *)malloc((size_t)(nidle + 1) * sizeof *idle);
    held = (int *)malloc((size_t)nheld * sizeof *held);
    if (!idle || !held || rt_loop_init(&loop, NULL) != RT_OK ||
        rt_server_init(&srv, &loop, &cfg) != RT_OK) {
        fprintf(stderr, "holds: cannot start the server\n");
        return 2;
    }
    srand(1);
    for (i = 0; i < nidle; i++) {
        idle[i] = client(rt_server_port(&srv));
        if (i % 64 == 63)
            rt_loop_step(&loop, 0); /* accept as they come: the backlog is short */
    }
    for (i = 0; i < nheld; i++) {
        held[i] = client(rt_server_port(&srv));
        if (rt_loop_add(&loop, held[i], RT_IO_READ, on_answer, NULL) != RT_OK) {
            fprintf(stderr, "holds: rt_loop_add\n");
            return 2;
        }
        ask(held[i]);
        rt_loop_step(&loop, 0);
    }
    for (run = -1; run < RUNS; run++) {
        uint64_t end = rt_time_ms() + (run < 0 ? WARMUP_MS : RUN_MS);
        double c0 = cpu_ms();
        while (rt_time_ms() < end)
            rt_loop_step(&loop, 1);
        if (run >= 0)
            per_s[run] = (cpu_ms() - c0) * 1000.0 / RUN_MS;
    }
    if (rt_server_conn_count(&srv) != (size_t)(nidle + nheld)) {
        fprintf(stderr, "holds: %zu connections, not %d\n", rt_server_conn_count(&srv),
                nidle + nheld);
        return 1;
    }
    qsort(per_s, RUNS, sizeof per_s[0], cmp_double);
    printf("RESULT mode=holds slot_ms=%d idle=%d held=%d timeouts_per_s=%.0f "
           "cpu_ms_per_s=%.1f\n",
           RT_HOLD_SLOT_MS, nidle, nheld,
           (double)timeouts * 1000.0 / (WARMUP_MS + RUNS * RUN_MS), per_s[RUNS / 2]);
    return 0;
}
