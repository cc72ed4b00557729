/* Unit tests for the platform layer (src/io/platform.c): the socket
 * functions the server uses, over real 127.0.0.1 sockets, with the results
 * the server relies on (RT_AGAIN when a call would block, RT_E_LIMIT when
 * accept is out of descriptors, 0 at the end of a stream, RT_E_IO after a
 * reset, no SIGPIPE); the wake pipe; and the poll backend's slots. The
 * client side is plain POSIX, so a wrong platform function cannot hide
 * behind another one. alarm() stops a hang. */
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../rt_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WATCHDOG_S 60

static void sleep_ms(long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int is_nonblocking(int fd)
{
    return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

static int is_cloexec(int fd)
{
    return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

/* A blocking client connected to 127.0.0.1:port. */
static int dial(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Accepts, retrying while the connection is still on its way. */
static rt_result accept_one(int lfd, int *fd, rt_plat_addr *from)
{
    int i;
    rt_result r = RT_AGAIN;
    for (i = 0; i < 1000 && r == RT_AGAIN; i++) {
        r = rt_plat_accept(lfd, fd, from);
        if (r == RT_AGAIN)
            sleep_ms(1);
    }
    return r;
}

/* A listener, a client and the accepted end, made non-blocking as the
 * server makes it. */
typedef struct pair {
    int lfd, port, client, conn;
} pair;

static void pair_open(pair *p)
{
    CHECK_EQ(rt_plat_listen("127.0.0.1", 0, &p->lfd, &p->port), RT_OK);
    p->client = dial(p->port);
    CHECK_EQ(accept_one(p->lfd, &p->conn, NULL), RT_OK);
    CHECK_EQ(rt_plat_set_nonblock(p->conn), RT_OK);
}

static void pair_close(pair *p)
{
    if (p->client >= 0)
        close(p->client);
    rt_plat_close(p->conn);
    rt_plat_close(p->lfd);
}

/* Reads exactly n bytes from a blocking client. */
static void read_all(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        CHECK(r > 0);
        if (r <= 0)
            return;
        got += (size_t)r;
    }
}

/* Waits until the accepted end has something to read (or end of stream). */
static ptrdiff_t recv_wait(int fd, char *buf, size_t cap)
{
    ptrdiff_t n = RT_AGAIN;
    int i;
    for (i = 0; i < 1000 && n == RT_AGAIN; i++) {
        n = rt_plat_recv(fd, buf, cap);
        if (n == RT_AGAIN)
            sleep_ms(1);
    }
    return n;
}

/* ---- listen and accept ----------------------------------------------------- */

RT_TEST(listen_binds_a_free_port_non_blocking_and_close_on_exec)
{
    int fd = -1, port = 0, cfd = -1;
    CHECK_EQ(rt_plat_listen("127.0.0.1", 0, &fd, &port), RT_OK);
    CHECK(port > 0 && port < 65536);
    CHECK(is_nonblocking(fd));
    CHECK(is_cloexec(fd));
    CHECK_EQ(rt_plat_accept(fd, &cfd, NULL), RT_AGAIN); /* nothing pending */
    rt_plat_close(fd);
}

RT_TEST(listen_refuses_a_host_that_is_not_an_address)
{
    int fd = -1, port = 0;
    CHECK_EQ(rt_plat_listen("localhost", 0, &fd, &port), RT_E_INVAL); /* numeric only */
    CHECK_EQ(rt_plat_listen("300.1.2.3", 0, &fd, &port), RT_E_INVAL);
    CHECK_EQ(fd, -1);
    CHECK_EQ(port, 0);
}

RT_TEST(listen_on_a_port_in_use_is_an_io_error)
{
    int fd = -1, port = 0, fd2 = -1, port2 = 0;
    CHECK_EQ(rt_plat_listen("127.0.0.1", 0, &fd, &port), RT_OK);
    CHECK_EQ(rt_plat_listen("127.0.0.1", port, &fd2, &port2), RT_E_IO);
    rt_plat_close(fd);
}

RT_TEST(listen_on_the_ipv6_any_address_serves_ipv4_too)
{
    int fd = -1, port = 0, cfd = -1, client;
    rt_plat_addr from;
    if (rt_plat_listen("::", 0, &fd, &port) != RT_OK) {
        printf("# no IPv6 here: skipped\n");
        return;
    }
    client = dial(port); /* IPv4, to the IPv6 socket (IPV6_V6ONLY off) */
    CHECK_EQ(accept_one(fd, &cfd, &from), RT_OK);
    CHECK_EQ(from.len, 16); /* ::ffff:127.0.0.1 */
    CHECK_MEM(from.bytes, "\0\0\0\0\0\0\0\0\0\0\xff\xff\x7f\0\0\1", 16);
    close(client);
    rt_plat_close(cfd);
    rt_plat_close(fd);
}

RT_TEST(accept_gives_the_peer_address_and_set_nonblock_and_nodelay_apply)
{
    int lfd = -1, port = 0, cfd = -1, client, v = 0;
    socklen_t vl = sizeof v;
    rt_plat_addr from;
    memset(&from, 0xAA, sizeof from);
    CHECK_EQ(rt_plat_listen("127.0.0.1", 0, &lfd, &port), RT_OK);
    client = dial(port);
    CHECK_EQ(accept_one(lfd, &cfd, &from), RT_OK);
    CHECK_EQ(from.len, 4);
    CHECK_MEM(from.bytes, "\x7f\0\0\1", 4);
    CHECK(!is_nonblocking(cfd)); /* as the kernel gives it, until the server says */
    CHECK_EQ(rt_plat_set_nonblock(cfd), RT_OK);
    CHECK(is_nonblocking(cfd));
    CHECK(is_cloexec(cfd));
    rt_plat_set_nodelay(cfd);
    CHECK_EQ(getsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &v, &vl), 0);
    CHECK(v != 0);
    CHECK_EQ(rt_plat_set_nonblock(-1), RT_E_IO);
    close(client);
    rt_plat_close(cfd);
    rt_plat_close(lfd);
}

/* With no descriptor left, accept must say RT_E_LIMIT (the server then stops
 * watching the listener) and leave the connection pending for later. */
RT_TEST(accept_out_of_descriptors_is_a_limit_and_keeps_the_connection)
{
    int lfd = -1, port = 0, cfd = -1, client, lowest, i;
    struct rlimit old, low;
    rt_result r = RT_AGAIN;
    CHECK_EQ(rt_plat_listen("127.0.0.1", 0, &lfd, &port), RT_OK);
    client = dial(port);
    lowest = dup(0); /* the next descriptor accept would get */
    close(lowest);
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)lowest;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    for (i = 0; i < 1000 && r == RT_AGAIN; i++) { /* until the connection has arrived */
        r = rt_plat_accept(lfd, &cfd, NULL);
        if (r == RT_AGAIN)
            sleep_ms(1);
    }
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    CHECK_EQ(r, RT_E_LIMIT);
    CHECK_EQ(accept_one(lfd, &cfd, NULL), RT_OK); /* still there */
    close(client);
    rt_plat_close(cfd);
    rt_plat_close(lfd);
}

/* ---- recv, send, sendv ------------------------------------------------------ */

RT_TEST(recv_says_again_then_gives_the_bytes_then_end_of_stream)
{
    pair p;
    char buf[64];
    pair_open(&p);
    CHECK_EQ(rt_plat_recv(p.conn, buf, sizeof buf), RT_AGAIN);
    CHECK_EQ(write(p.client, "hello", 5), 5);
    CHECK_EQ(recv_wait(p.conn, buf, sizeof buf), 5);
    CHECK_MEM(buf, "hello", 5);
    CHECK_EQ(shutdown(p.client, SHUT_WR), 0);
    CHECK_EQ(recv_wait(p.conn, buf, sizeof buf), 0);
    pair_close(&p);
}

RT_TEST(send_and_sendv_deliver_the_bytes_in_order)
{
    pair p;
    char buf[64];
    rt_plat_iov iov[3];
    pair_open(&p);
    CHECK_EQ(rt_plat_send(p.conn, "abc", 3), 3);
    iov[0].base = "de";
    iov[0].len = 2;
    iov[1].base = "";
    iov[1].len = 0;
    iov[2].base = "fghij";
    iov[2].len = 5;
    CHECK_EQ(rt_plat_sendv(p.conn, iov, 3), 7);
    read_all(p.client, buf, 10);
    CHECK_MEM(buf, "abcdefghij", 10);
    pair_close(&p);
}

/* A peer that does not read: the socket fills and send says RT_AGAIN, never
 * blocking; sendv too. */
RT_TEST(send_to_a_full_socket_says_again)
{
    static char chunk[65536];
    pair p;
    rt_plat_iov iov[2];
    ptrdiff_t w = 1;
    long total = 0;
    pair_open(&p);
    while (w > 0 && total < (256L << 20)) {
        w = rt_plat_send(p.conn, chunk, sizeof chunk);
        total += w > 0 ? (long)w : 0;
    }
    CHECK_EQ(w, RT_AGAIN);
    CHECK(total > 0);
    iov[0].base = chunk;
    iov[0].len = sizeof chunk;
    iov[1] = iov[0];
    CHECK_EQ(rt_plat_sendv(p.conn, iov, 2), RT_AGAIN);
    pair_close(&p);
}

/* A reset (the peer closed with unread data, or with SO_LINGER 0): recv and
 * send fail with RT_E_IO, and send raises no SIGPIPE (the test would die). */
RT_TEST(after_a_reset_recv_and_send_fail_without_sigpipe)
{
    pair p;
    char buf[64];
    struct linger lg;
    ptrdiff_t w = 0;
    int i;
    pair_open(&p);
    lg.l_onoff = 1;
    lg.l_linger = 0;
    CHECK_EQ(setsockopt(p.client, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(p.client);
    p.client = -1;
    CHECK_EQ(recv_wait(p.conn, buf, sizeof buf), RT_E_IO);
    for (i = 0; i < 10 && w >= 0; i++)
        w = rt_plat_send(p.conn, "x", 1);
    CHECK_EQ(w, RT_E_IO);
    pair_close(&p);
}

RT_TEST(shutdown_write_ends_the_peers_stream_but_not_ours)
{
    pair p;
    char buf[8];
    pair_open(&p);
    CHECK_EQ(rt_plat_send(p.conn, "bye", 3), 3);
    CHECK_EQ(rt_plat_shutdown_write(p.conn), RT_OK);
    read_all(p.client, buf, 3);
    CHECK_MEM(buf, "bye", 3);
    CHECK_EQ(read(p.client, buf, sizeof buf), 0); /* end of stream after the bytes */
    CHECK_EQ(write(p.client, "ok", 2), 2);        /* the other direction still works */
    CHECK_EQ(recv_wait(p.conn, buf, sizeof buf), 2);
    CHECK_EQ(rt_plat_shutdown_write(-1), RT_E_IO);
    pair_close(&p);
}

RT_TEST(peer_writes_the_numeric_address)
{
    pair p;
    char buf[64];
    pair_open(&p);
    CHECK_EQ(rt_plat_peer(p.conn, buf, sizeof buf), 9);
    CHECK_STR(buf, "127.0.0.1");
    CHECK_EQ(rt_plat_peer(p.conn, buf, 10), 9);          /* room for the NUL is enough */
    CHECK_EQ(rt_plat_peer(p.conn, buf, 9), RT_E_NOSPACE); /* but it is needed */
    CHECK_EQ(rt_plat_peer(-1, buf, sizeof buf), RT_E_IO);
    CHECK_EQ(rt_plat_peer(p.lfd, buf, sizeof buf), RT_E_IO); /* a listener has no peer */
    pair_close(&p);
}

/* ---- the wake pipe ------------------------------------------------------------ */

RT_TEST(wake_carries_whole_records_and_says_again_when_full)
{
    int w[2] = {-1, -1};
    unsigned char rec[16], out[64];
    size_t got;
    long n = 0;
    rt_result r = RT_OK;
    CHECK_EQ(rt_plat_wake_open(w), RT_OK);
    CHECK(is_nonblocking(w[0]) && is_nonblocking(w[1]));
    CHECK(is_cloexec(w[0]) && is_cloexec(w[1]));
    CHECK_EQ(rt_plat_wake_drain(w[0], out, sizeof out), 0); /* empty: no blocking */
    memset(rec, 7, sizeof rec);
    CHECK_EQ(rt_plat_wake_signal(w[1], rec, sizeof rec), RT_OK);
    memset(rec, 9, sizeof rec);
    CHECK_EQ(rt_plat_wake_signal(w[1], rec, sizeof rec), RT_OK);
    got = rt_plat_wake_drain(w[0], out, sizeof out);
    CHECK_EQ(got, 32);
    CHECK(out[0] == 7 && out[15] == 7 && out[16] == 9 && out[31] == 9);
    while (r == RT_OK && n < 1000000) {
        r = rt_plat_wake_signal(w[1], rec, sizeof rec);
        n++;
    }
    CHECK_EQ(r, RT_AGAIN);
    got = 0;
    while (rt_plat_wake_drain(w[0], out, sizeof out) == sizeof out)
        got++;
    CHECK(got > 0);
    rt_plat_wake_close(w);
}

RT_TEST(wake_close_skips_what_was_never_opened)
{
    int w[2] = {-1, -1};
    rt_plat_wake_close(w); /* nothing to close, nothing closed */
    CHECK_EQ(rt_plat_wake_open(w), RT_OK);
    rt_plat_wake_close(w);
    CHECK_EQ(fcntl(w[0], F_GETFD), -1); /* both ends really closed */
    CHECK_EQ(fcntl(w[1], F_GETFD), -1);
}

/* ---- the backend ------------------------------------------------------------------ */

/* The poller on its own: tags come back with events, and after a del the
 * moved fd (poll) keeps being reported under its new slot. */
RT_TEST(poller_reports_tags_and_survives_a_del_in_the_middle)
{
    rt_plat_poller p;
    int a[2], b[2], c[2], fd, moved, i, n;
    uint32_t sa, sb, sc;
    uint16_t tag;
    unsigned seen = 0;
    CHECK_EQ(pipe(a), 0);
    CHECK_EQ(pipe(b), 0);
    CHECK_EQ(pipe(c), 0);
    rt_plat_poller_init(&p);
    CHECK_EQ(rt_plat_poller_open(&p), RT_OK);
    CHECK_EQ(rt_plat_poller_add(&p, NULL, a[0], RT_IO_READ, 11, &sa), RT_OK);
    CHECK_EQ(rt_plat_poller_add(&p, NULL, b[0], RT_IO_READ, 22, &sb), RT_OK);
    CHECK_EQ(rt_plat_poller_add(&p, NULL, c[0], RT_IO_READ, 33, &sc), RT_OK);
    moved = rt_plat_poller_del(&p, a[0], sa);
    if (moved >= 0) { /* poll: the last entry fills the hole */
        CHECK_EQ(moved, c[0]);
        sc = sa;
    }
    CHECK_EQ(rt_plat_poller_mod(&p, c[0], sc, RT_IO_READ, 44), RT_OK);
    CHECK_EQ(write(a[1], "x", 1), 1);
    CHECK_EQ(write(b[1], "x", 1), 1);
    CHECK_EQ(write(c[1], "x", 1), 1);
    n = rt_plat_poller_wait(&p, 1000);
    CHECK_EQ(n, 2);
    for (i = 0; i < n; i++) {
        unsigned ev = rt_plat_poller_event(&p, i, &fd, &tag);
        CHECK_EQ(ev, RT_IO_READ);
        if (fd == b[0] && tag == 22)
            seen |= 1;
        else if (fd == c[0] && tag == 44)
            seen |= 2;
        else
            CHECK(0); /* a deleted fd, or a wrong tag */
    }
    CHECK_EQ(seen, 3);
    CHECK_EQ(rt_plat_poller_wait(&p, 0), 2); /* level-triggered: still readable */
    rt_plat_poller_close(&p, NULL);
    rt_plat_poller_close(&p, NULL); /* closed: nothing left to free */
    for (i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
        close(c[i]);
    }
}

RT_TEST(poller_reports_a_hang_up_as_read_and_error)
{
    rt_plat_poller p;
    int a[2], fd;
    uint32_t s;
    uint16_t tag;
    unsigned ev;
    CHECK_EQ(pipe(a), 0);
    rt_plat_poller_init(&p);
    CHECK_EQ(rt_plat_poller_open(&p), RT_OK);
    CHECK_EQ(rt_plat_poller_add(&p, NULL, a[0], RT_IO_READ, 5, &s), RT_OK);
    close(a[1]); /* the writer goes: POLLHUP */
    CHECK_EQ(rt_plat_poller_wait(&p, 1000), 1);
    ev = rt_plat_poller_event(&p, 0, &fd, &tag);
    CHECK_EQ(fd, a[0]);
    CHECK_EQ(tag, 5);
    CHECK(ev & RT_IO_READ);
    CHECK(ev & RT_IO_ERROR);
    rt_plat_poller_close(&p, NULL);
    close(a[0]);
}

int main(void)
{
    signal(SIGPIPE, SIG_DFL); /* a send that raised SIGPIPE would kill the run */
    alarm(WATCHDOG_S);
    return rt_test_main();
}
