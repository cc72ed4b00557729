/* platform.c - POSIX: the clock, randomness, poll/epoll, the wake pipe, sockets.
 *
 * The one file of rt.h that includes the system's headers for these and
 * calls them; platform.h states the contract. A port to another system
 * (lwIP's sockets and lwip_poll, Windows' WSAPoll) replaces this file and
 * keeps the contract: same results, same meaning of RT_AGAIN. The
 * readiness backend lives here because it is the OS's API: the loop above
 * keeps its registrations and generations and only hands a tag down.
 *
 * The backend is picked at compile time, as in antirez's ae.c: poll (POSIX,
 * the default) or epoll (Linux) supply the same set of functions. */
#include "platform.h"
#include "../base/config.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#if !defined(RT_BACKEND_EPOLL) && !defined(RT_BACKEND_POLL)
#  define RT_BACKEND_POLL
#endif
#if defined(RT_BACKEND_EPOLL) && defined(RT_BACKEND_POLL)
#  error "rt.h: define at most one of RT_BACKEND_EPOLL and RT_BACKEND_POLL"
#endif
#if defined(RT_BACKEND_EPOLL) && !defined(__linux__)
#  error "rt.h: RT_BACKEND_EPOLL needs Linux; use the default poll backend"
#endif
#ifdef RT_BACKEND_EPOLL
#  include <sys/epoll.h>
#endif

/* ---- The application's hooks: clock and randomness ------------------------
 * RT_CLOCK_MS() gives monotonic milliseconds (any origin; it must never go
 * back). RT_RANDOM(buf, n) fills n bytes; rt.h uses it for seeds only, so it
 * must not fail. Either one defined by the application replaces the
 * default, which is then not compiled at all. */
#ifndef RT_CLOCK_MS
static uint64_t rt__plat_clock_ms(void)
{
    struct timespec ts;
    ts.tv_sec = 0;
    ts.tv_nsec = 0;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
#  define RT_CLOCK_MS() rt__plat_clock_ms()
#endif

#ifndef RT_RANDOM
/* /dev/urandom. Where it cannot be read (a chroot, early boot) the bytes
 * come from the wall clock and the pid instead: weak, but still different on
 * every run, which is what rt.h's seeds need. */
static void rt__plat_random(void *buf, size_t n)
{
    unsigned char *p = (unsigned char *)buf;
    size_t got = 0;
    uint64_t s;
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd >= 0) {
        ssize_t r = read(fd, buf, n);
        got = r > 0 ? (size_t)r : 0;
        close(fd);
    }
    s = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid();
    for (; got < n; got++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull; /* Knuth's MMIX LCG */
        p[got] = (unsigned char)(s >> 56);
    }
}
#  define RT_RANDOM(buf, n) rt__plat_random(buf, n)
#endif

/* ---- Helpers ----------------------------------------------------------------- */

/* The kernel's readiness bits, as RT_IO_* bits. A hang-up or error also
 * counts as readable: read() then returns 0 or the error, which is how the
 * caller learns what happened. */
static unsigned rt__plat_events(int in, int out, int err)
{
    unsigned ev = 0;
    if (in)
        ev |= RT_IO_READ;
    if (out)
        ev |= RT_IO_WRITE;
    if (err)
        ev |= RT_IO_READ | RT_IO_ERROR;
    return ev;
}

rt_result rt_plat_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return RT_E_IO;
    return RT_OK;
}

void rt_plat_poller_init(rt_plat_poller *p)
{
    memset(p, 0, sizeof *p);
    p->fd = -1;
}

/* ---- poll backend ---------------------------------------------------------
 * A dense struct pollfd array holds exactly the watched fds, so poll()
 * scans no holes, and tags[] runs beside it. The loop's callbacks reshuffle
 * both between a wait and the last event read from it, so wait copies the
 * reported events into ready[] first. */
#ifdef RT_BACKEND_POLL

typedef struct rt__plat_poll_ev {
    int fd;
    uint16_t tag;
    uint16_t events;
} rt__plat_poll_ev;

/* poll keeps no kernel object. */
rt_result rt_plat_poller_open(rt_plat_poller *p)
{
    (void)p;
    return RT_OK;
}

void rt_plat_poller_close(rt_plat_poller *p, const rt_allocator *a)
{
    rt_free(a, p->set, p->cap * sizeof(struct pollfd));
    rt_free(a, p->tags, p->tags_cap * sizeof(uint16_t));
    rt_free(a, p->ready, p->ready_cap * sizeof(rt__plat_poll_ev));
    rt_plat_poller_init(p);
}

static short rt__plat_poll_mask(unsigned events)
{
    return (short)(((events & RT_IO_READ) ? POLLIN : 0) | ((events & RT_IO_WRITE) ? POLLOUT : 0));
}

rt_result rt_plat_poller_add(rt_plat_poller *p, const rt_allocator *a, int fd, unsigned events,
                             uint16_t tag, uint32_t *slot)
{
    size_t need = p->len + 1;
    struct pollfd *pf;
    void *q = rt_grow(a, p->ready, &p->ready_cap, need, sizeof(rt__plat_poll_ev), 8u);
    if (!q)
        return RT_E_NOMEM;
    p->ready = q;
    q = rt_grow(a, p->tags, &p->tags_cap, need, sizeof(uint16_t), 8u);
    if (!q)
        return RT_E_NOMEM;
    p->tags = (uint16_t *)q;
    q = rt_grow(a, p->set, &p->cap, need, sizeof(struct pollfd), 8u);
    if (!q)
        return RT_E_NOMEM;
    p->set = q;
    pf = (struct pollfd *)q + p->len;
    pf->fd = fd;
    pf->events = rt__plat_poll_mask(events);
    pf->revents = 0;
    p->tags[p->len] = tag;
    *slot = (uint32_t)p->len++; /* fewer than INT_MAX fds */
    return RT_OK;
}

rt_result rt_plat_poller_mod(rt_plat_poller *p, int fd, uint32_t slot, unsigned events,
                             uint16_t tag)
{
    (void)fd;
    ((struct pollfd *)p->set)[slot].events = rt__plat_poll_mask(events);
    p->tags[slot] = tag;
    return RT_OK;
}

int rt_plat_poller_del(rt_plat_poller *p, int fd, uint32_t slot)
{
    struct pollfd *pf = (struct pollfd *)p->set;
    size_t last = --p->len;
    (void)fd;
    pf[slot] = pf[last];
    p->tags[slot] = p->tags[last];
    return pf[slot].fd;
}

int rt_plat_poller_wait(rt_plat_poller *p, int timeout_ms)
{
    struct pollfd *pf = (struct pollfd *)p->set;
    rt__plat_poll_ev *ready = (rt__plat_poll_ev *)p->ready;
    size_t i, k = 0;
    int n = poll(pf, (nfds_t)p->len, timeout_ms);
    if (n < 0)
        return errno == EINTR ? RT_AGAIN : RT_E_IO;
    for (i = 0; i < p->len && (int)k < n; i++) {
        int r = pf[i].revents;
        if (!r)
            continue;
        ready[k].fd = pf[i].fd;
        ready[k].tag = p->tags[i];
        ready[k].events = (uint16_t)rt__plat_events((r & POLLIN) != 0, (r & POLLOUT) != 0,
                                                    (r & (POLLERR | POLLHUP | POLLNVAL)) != 0);
        k++;
    }
    return (int)k;
}

unsigned rt_plat_poller_event(const rt_plat_poller *p, int i, int *fd, uint16_t *tag)
{
    const rt__plat_poll_ev *ev = (const rt__plat_poll_ev *)p->ready + i;
    *fd = ev->fd;
    *tag = ev->tag;
    return ev->events;
}

#endif /* RT_BACKEND_POLL */

/* ---- epoll backend --------------------------------------------------------
 * The kernel keeps the interest list; set[] is a buffer with one slot per
 * watched fd for epoll_wait to fill. Each event's data holds the fd and its
 * tag, so events need no copying. Level-triggered, like poll, so both
 * backends behave alike. Slots mean nothing here. */
#ifdef RT_BACKEND_EPOLL

rt_result rt_plat_poller_open(rt_plat_poller *p)
{
    p->fd = epoll_create1(EPOLL_CLOEXEC);
    return p->fd < 0 ? RT_E_IO : RT_OK;
}

void rt_plat_poller_close(rt_plat_poller *p, const rt_allocator *a)
{
    if (p->fd >= 0)
        close(p->fd);
    rt_free(a, p->set, p->cap * sizeof(struct epoll_event));
    rt_plat_poller_init(p);
}

static rt_result rt__plat_epoll_ctl(rt_plat_poller *p, int op, int fd, unsigned events,
                                    uint16_t tag)
{
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.events = ((events & RT_IO_READ) ? (uint32_t)EPOLLIN : 0u)
               | ((events & RT_IO_WRITE) ? (uint32_t)EPOLLOUT : 0u);
    e.data.u64 = ((uint64_t)tag << 32) | (uint32_t)fd;
    return epoll_ctl(p->fd, op, fd, &e) == 0 ? RT_OK : RT_E_IO;
}

rt_result rt_plat_poller_add(rt_plat_poller *p, const rt_allocator *a, int fd, unsigned events,
                             uint16_t tag, uint32_t *slot)
{
    void *q = rt_grow(a, p->set, &p->cap, p->len + 1, sizeof(struct epoll_event), 8u);
    if (!q)
        return RT_E_NOMEM;
    p->set = q;
    if (rt__plat_epoll_ctl(p, EPOLL_CTL_ADD, fd, events, tag) != RT_OK)
        return RT_E_IO;
    *slot = 0;
    p->len++;
    return RT_OK;
}

rt_result rt_plat_poller_mod(rt_plat_poller *p, int fd, uint32_t slot, unsigned events,
                             uint16_t tag)
{
    (void)slot;
    return rt__plat_epoll_ctl(p, EPOLL_CTL_MOD, fd, events, tag);
}

/* A failure is ignored: the caller may have closed fd already, and closing
 * the last descriptor of a file removes it from the interest list. */
int rt_plat_poller_del(rt_plat_poller *p, int fd, uint32_t slot)
{
    struct epoll_event e; /* Linux < 2.6.9 wants non-NULL even for DEL */
    (void)slot;
    memset(&e, 0, sizeof e);
    epoll_ctl(p->fd, EPOLL_CTL_DEL, fd, &e);
    p->len--;
    return -1;
}

int rt_plat_poller_wait(rt_plat_poller *p, int timeout_ms)
{
    int cap = p->cap < INT_MAX ? (int)p->cap : INT_MAX;
    int n = epoll_wait(p->fd, (struct epoll_event *)p->set, cap, timeout_ms);
    if (n < 0)
        return errno == EINTR ? RT_AGAIN : RT_E_IO;
    return n;
}

unsigned rt_plat_poller_event(const rt_plat_poller *p, int i, int *fd, uint16_t *tag)
{
    const struct epoll_event *e = (const struct epoll_event *)p->set + i;
    uint32_t r = e->events;
    *fd = (int)(uint32_t)e->data.u64;
    *tag = (uint16_t)(e->data.u64 >> 32);
    return rt__plat_events((r & EPOLLIN) != 0, (r & EPOLLOUT) != 0,
                           (r & (EPOLLERR | EPOLLHUP)) != 0);
}

#endif /* RT_BACKEND_EPOLL */

/* ---- The wake pipe ----------------------------------------------------------
 * Both ends non-blocking: the loop must never sleep in read(), and a writer
 * must never sleep in write() (it gets RT_AGAIN instead). pipe2() would set
 * the flags atomically but is not in POSIX.1-2008. A write of at most
 * PIPE_BUF bytes (512 or more) goes in whole or not at all, even with many
 * threads writing at once: that is what makes the channel lock-free. */

rt_result rt_plat_wake_open(int wake[2])
{
    int fds[2];
    if (pipe(fds) != 0)
        return RT_E_IO;
    wake[0] = fds[0];
    wake[1] = fds[1];
    if (rt_plat_set_nonblock(wake[0]) != RT_OK || rt_plat_set_nonblock(wake[1]) != RT_OK)
        return RT_E_IO;
    return RT_OK;
}

rt_result rt_plat_wake_signal(int fd, const void *rec, size_t n)
{
    ssize_t w;
    do {
        w = write(fd, rec, n);
    } while (w < 0 && errno == EINTR);
    if (w == (ssize_t)n)
        return RT_OK;
    return w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? RT_AGAIN : RT_E_IO;
}

size_t rt_plat_wake_drain(int fd, void *buf, size_t cap)
{
    ssize_t got = read(fd, buf, cap);
    return got > 0 ? (size_t)got : 0;
}

void rt_plat_wake_close(int wake[2])
{
    if (wake[0] >= 0)
        close(wake[0]);
    if (wake[1] >= 0)
        close(wake[1]);
}

/* ---- Sockets ------------------------------------------------------------------ */

/* C99 has no static_assert: an array of size -1 fails to compile. */
typedef char rt__plat_iov_is_iovec[(sizeof(rt_plat_iov) == sizeof(struct iovec)
                                    && offsetof(rt_plat_iov, base) == offsetof(struct iovec, iov_base)
                                    && offsetof(rt_plat_iov, len) == offsetof(struct iovec, iov_len))
                                   ? 1 : -1];

/* The port of a bound socket, from getsockname: -1 on failure. */
static int rt__plat_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

/* One socket bound to ai and listening, or -1; *bound_port is set on success. */
static int rt__plat_bind(const struct addrinfo *ai, int *bound_port)
{
    int one = 1, zero = 0, port = -1;
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6) /* "::" serves IPv4 too */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0 &&
        rt_plat_set_nonblock(fd) == RT_OK)
        port = rt__plat_local_port(fd);
    if (port < 0) {
        close(fd);
        return -1;
    }
    *bound_port = port;
    return fd;
}

rt_result rt_plat_listen(const char *host, int port, int *fd, int *bound_port)
{
    struct addrinfo hints, *ai = NULL;
    char portstr[16];
    *fd = -1; /* so a caller's cleanup after a failure closes nothing */
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST;
    snprintf(portstr, sizeof portstr, "%d", port);
    if (getaddrinfo(host ? host : "0.0.0.0", portstr, &hints, &ai) != 0 || !ai)
        return RT_E_INVAL;
    *fd = rt__plat_bind(ai, bound_port);
    freeaddrinfo(ai);
    return *fd < 0 ? RT_E_IO : RT_OK;
}

/* The address bytes, not the port: what a per-source count is keyed on. */
static void rt__plat_addr(const struct sockaddr_storage *ss, rt_plat_addr *a)
{
    if (ss->ss_family == AF_INET6) {
        a->len = 16;
        memcpy(a->bytes, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    } else {
        a->len = 4;
        memcpy(a->bytes, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    }
}

rt_result rt_plat_accept(int lfd, int *fd, rt_plat_addr *from)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int cfd = accept(lfd, (struct sockaddr *)&ss, &len);
    if (cfd < 0)
        return errno == EMFILE || errno == ENFILE ? RT_E_LIMIT : RT_AGAIN;
    *fd = cfd;
    if (from)
        rt__plat_addr(&ss, from);
    return RT_OK;
}

void rt_plat_set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A failed byte call's result: would block, or the connection failed. */
static ptrdiff_t rt__plat_io_error(void)
{
    return errno == EAGAIN || errno == EWOULDBLOCK ? RT_AGAIN : RT_E_IO;
}

ptrdiff_t rt_plat_recv(int fd, void *buf, size_t cap)
{
    ssize_t n;
    do {
        n = recv(fd, buf, cap, 0);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? rt__plat_io_error() : (ptrdiff_t)n;
}

ptrdiff_t rt_plat_send(int fd, const void *buf, size_t n)
{
    ssize_t w;
    do {
        w = send(fd, buf, n, MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    return w < 0 ? rt__plat_io_error() : (ptrdiff_t)w;
}

ptrdiff_t rt_plat_sendv(int fd, const rt_plat_iov *iov, size_t n)
{
    struct msghdr mh;
    ssize_t w;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = (struct iovec *)(void *)iov; /* same layout, checked above; not written */
    mh.msg_iovlen = n;
    do {
        w = sendmsg(fd, &mh, MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    return w < 0 ? rt__plat_io_error() : (ptrdiff_t)w;
}

rt_result rt_plat_shutdown_write(int fd)
{
    return shutdown(fd, SHUT_WR) == 0 ? RT_OK : RT_E_IO;
}

void rt_plat_close(int fd)
{
    close(fd);
}

rt_result rt_plat_peer(int fd, char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN];
    size_t n;
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0 ||
        getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0)
        return RT_E_IO;
    n = strlen(host);
    if (n >= cap)
        return RT_E_NOSPACE;
    memcpy(buf, host, n + 1);
    return (rt_result)n;
}
