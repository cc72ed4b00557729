/* loop.c - the event loop: registrations, two backends, timers, post.
 *
 * A step is: read the clock, wait in the backend for at most the time to the
 * next timer, read the clock again, run the fd callbacks, then the due timers.
 * The backend is picked at compile time, as in antirez's ae.c: each one
 * supplies the same small set of static functions (open, close, add, mod,
 * del, wait, dispatch) and everything else is written once.
 *
 * Callbacks may add and remove any fd. An event the kernel reported for an
 * fd that a callback has since removed, or removed and registered again,
 * must not be delivered: every registration therefore gets a generation
 * number, each reported event carries the generation it was reported for,
 * and a mismatch drops it.
 */
#include "loop.h"
#include "../base/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
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

/* One per fd number up to the highest registered, so it is kept small:
 * 24 bytes on LP64, 16 on 32-bit targets. A 16-bit generation is enough,
 * since it only has to differ between an event's report and its dispatch
 * in the same step. */
struct rt_loop_fd {
    rt_io_fn fn;       /* NULL for the loop's own wake pipe */
    void *user;
    uint32_t slot;     /* poll: position in the pollfd array */
    uint16_t gen;      /* bumped by every add: tells stale events apart */
    uint8_t events;    /* RT_IO_READ | RT_IO_WRITE watched */
    uint8_t used;
};

/* Arrays start this small so an idle loop costs little RAM, then double. */
#define RT__LOOP_MIN_CAP 8u

/* Posted calls drained per step: a batch per read, a few reads, so a thread
 * that posts without pause cannot starve the sockets. What is left in the
 * pipe keeps it readable and runs next step. */
#define RT__LOOP_POST_BATCH 32
#define RT__LOOP_POST_READS 32

/* One posted call. Two pointers are far below PIPE_BUF (at least 512 bytes,
 * POSIX), so write() puts a record in the pipe whole or not at all, even with
 * many threads writing at once: that is what makes rt_loop_post lock-free. */
typedef struct rt__loop_post_rec {
    rt_post_fn fn;
    void *arg;
} rt__loop_post_rec;

uint64_t rt_time_ms(void)
{
    struct timespec ts;
    ts.tv_sec = 0;
    ts.tv_nsec = 0;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Returns p with room for need elements of elem bytes, growing the capacity
 * *cap by doubling (so n additions cost O(n)). The new part is not zeroed:
 * memory never written is never made resident, and each array writes an
 * element before it reads it. NULL on overflow or when the allocator fails;
 * p is then untouched. */
static void *rt__loop_grow(rt_loop *loop, void *p, size_t *cap, size_t need, size_t elem)
{
    size_t n = *cap ? *cap : RT__LOOP_MIN_CAP;
    void *q;
    if (need <= *cap)
        return p;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return NULL;
        n *= 2;
    }
    if (n > SIZE_MAX / elem)
        return NULL;
    q = p ? rt_realloc(loop->alloc, p, *cap * elem, n * elem) : rt_alloc(loop->alloc, n * elem);
    if (!q)
        return NULL;
    *cap = n;
    return q;
}

/* The kernel's readiness bits, in rt.h terms. A hang-up or error also counts
 * as readable: read() then returns 0 or the error, which is how the caller
 * learns what happened. rt__loop_fire masks out kinds that are not watched. */
static unsigned rt__loop_events(int in, int out, int err)
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

static int rt__loop_drain(rt_loop *loop);

/* Delivers one reported event unless a callback earlier in this step removed
 * or replaced the registration (generation mismatch) or stopped watching
 * that kind. Returns the number of callbacks run. */
static int rt__loop_fire(rt_loop *loop, int fd, uint32_t gen, unsigned events)
{
    rt_loop_fd *f = &loop->_fds[fd];
    if (!f->used || f->gen != (uint16_t)gen)
        return 0;
    events &= f->events | RT_IO_ERROR;
    if (!events)
        return 0;
    if (!f->fn)
        return rt__loop_drain(loop);
    f->fn(loop, fd, events, f->user); /* may realloc _fds: f is dead now */
    return 1;
}

/* ---- poll backend ---------------------------------------------------------
 * A dense struct pollfd array holds exactly the registered fds, so poll()
 * scans no holes; rt_loop_fd.slot maps an fd to its entry, which makes add
 * and del O(1) (del moves the last entry into the hole). Callbacks reshuffle
 * the array, so wait copies the reported events into _ready first and
 * dispatch walks that copy. */
#ifdef RT_BACKEND_POLL

typedef struct rt__poll_ev {
    int fd;
    uint32_t gen;
    unsigned events;
} rt__poll_ev;

/* poll keeps no kernel object. */
static rt_result rt__poll_open(rt_loop *loop)
{
    (void)loop;
    return RT_OK;
}

static void rt__poll_close(rt_loop *loop)
{
    rt_free(loop->alloc, loop->_backend, loop->_backend_cap * sizeof(struct pollfd));
    rt_free(loop->alloc, loop->_ready, loop->_ready_cap * sizeof(rt__poll_ev));
}

static short rt__poll_mask(unsigned events)
{
    return (short)(((events & RT_IO_READ) ? POLLIN : 0) | ((events & RT_IO_WRITE) ? POLLOUT : 0));
}

static rt_result rt__poll_add(rt_loop *loop, int fd, unsigned events)
{
    size_t need = loop->_backend_len + 1;
    struct pollfd *p;
    void *q = rt__loop_grow(loop, loop->_ready, &loop->_ready_cap, need, sizeof(rt__poll_ev));
    if (!q)
        return RT_E_NOMEM;
    loop->_ready = q;
    q = rt__loop_grow(loop, loop->_backend, &loop->_backend_cap, need, sizeof(struct pollfd));
    if (!q)
        return RT_E_NOMEM;
    loop->_backend = q;
    p = (struct pollfd *)q + loop->_backend_len;
    p->fd = fd;
    p->events = rt__poll_mask(events);
    p->revents = 0;
    loop->_fds[fd].slot = (uint32_t)loop->_backend_len++; /* fewer than INT_MAX fds */
    return RT_OK;
}

static rt_result rt__poll_mod(rt_loop *loop, int fd, unsigned events)
{
    struct pollfd *p = (struct pollfd *)loop->_backend;
    p[loop->_fds[fd].slot].events = rt__poll_mask(events);
    return RT_OK;
}

static void rt__poll_del(rt_loop *loop, int fd)
{
    struct pollfd *p = (struct pollfd *)loop->_backend;
    size_t hole = loop->_fds[fd].slot, last = --loop->_backend_len;
    p[hole] = p[last];
    loop->_fds[p[hole].fd].slot = (uint32_t)hole;
}

/* Returns the number of events copied into _ready, or -1 with errno set. */
static int rt__poll_wait(rt_loop *loop, int timeout_ms)
{
    struct pollfd *p = (struct pollfd *)loop->_backend;
    rt__poll_ev *ready = (rt__poll_ev *)loop->_ready;
    size_t i, k = 0;
    int n = poll(p, (nfds_t)loop->_backend_len, timeout_ms);
    for (i = 0; i < loop->_backend_len && (int)k < n; i++) {
        int r = p[i].revents;
        if (!r)
            continue;
        ready[k].fd = p[i].fd;
        ready[k].gen = loop->_fds[p[i].fd].gen;
        ready[k].events = rt__loop_events((r & POLLIN) != 0, (r & POLLOUT) != 0,
                                          (r & (POLLERR | POLLHUP | POLLNVAL)) != 0);
        k++;
    }
    return n < 0 ? n : (int)k;
}

static int rt__poll_dispatch(rt_loop *loop, int n)
{
    int i, ran = 0;
    for (i = 0; i < n; i++) {
        /* re-read _ready each time: an add in a callback may move it */
        rt__poll_ev ev = ((rt__poll_ev *)loop->_ready)[i];
        ran += rt__loop_fire(loop, ev.fd, ev.gen, ev.events);
    }
    return ran;
}

#  define rt__backend_open rt__poll_open
#  define rt__backend_close rt__poll_close
#  define rt__backend_add rt__poll_add
#  define rt__backend_mod rt__poll_mod
#  define rt__backend_del rt__poll_del
#  define rt__backend_wait rt__poll_wait
#  define rt__backend_dispatch rt__poll_dispatch
#endif /* RT_BACKEND_POLL */

/* ---- epoll backend --------------------------------------------------------
 * The kernel keeps the interest list; we keep a buffer with one slot per
 * registration for epoll_wait to fill. Each event's data holds the fd and
 * the generation it was registered with, so it needs no copying before
 * dispatch. Level-triggered, like poll, so both backends behave alike. */
#ifdef RT_BACKEND_EPOLL

static rt_result rt__epoll_open(rt_loop *loop)
{
    loop->_epfd = epoll_create1(EPOLL_CLOEXEC);
    return loop->_epfd < 0 ? RT_E_IO : RT_OK;
}

static void rt__epoll_close(rt_loop *loop)
{
    if (loop->_epfd >= 0)
        close(loop->_epfd);
    rt_free(loop->alloc, loop->_backend, loop->_backend_cap * sizeof(struct epoll_event));
}

static rt_result rt__epoll_ctl(rt_loop *loop, int op, int fd, unsigned events)
{
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.events = ((events & RT_IO_READ) ? (uint32_t)EPOLLIN : 0u)
               | ((events & RT_IO_WRITE) ? (uint32_t)EPOLLOUT : 0u);
    e.data.u64 = ((uint64_t)loop->_fds[fd].gen << 32) | (uint32_t)fd;
    return epoll_ctl(loop->_epfd, op, fd, &e) == 0 ? RT_OK : RT_E_IO;
}

static rt_result rt__epoll_add(rt_loop *loop, int fd, unsigned events)
{
    size_t need = loop->_backend_len + 1;
    void *q = rt__loop_grow(loop, loop->_backend, &loop->_backend_cap, need,
                            sizeof(struct epoll_event));
    if (!q)
        return RT_E_NOMEM;
    loop->_backend = q;
    if (rt__epoll_ctl(loop, EPOLL_CTL_ADD, fd, events) != RT_OK)
        return RT_E_IO;
    loop->_backend_len++;
    return RT_OK;
}

static rt_result rt__epoll_mod(rt_loop *loop, int fd, unsigned events)
{
    return rt__epoll_ctl(loop, EPOLL_CTL_MOD, fd, events);
}

/* A failure is ignored: the caller may have closed fd already, and closing
 * the last descriptor of a file removes it from the interest list. */
static void rt__epoll_del(rt_loop *loop, int fd)
{
    struct epoll_event e; /* Linux < 2.6.9 wants non-NULL even for DEL */
    memset(&e, 0, sizeof e);
    epoll_ctl(loop->_epfd, EPOLL_CTL_DEL, fd, &e);
    loop->_backend_len--;
}

static int rt__epoll_wait(rt_loop *loop, int timeout_ms)
{
    size_t cap = loop->_backend_cap < INT_MAX ? loop->_backend_cap : INT_MAX;
    return epoll_wait(loop->_epfd, (struct epoll_event *)loop->_backend, (int)cap, timeout_ms);
}

static int rt__epoll_dispatch(rt_loop *loop, int n)
{
    int i, ran = 0;
    for (i = 0; i < n; i++) {
        /* re-read _backend each time: an add in a callback may move it */
        struct epoll_event e = ((struct epoll_event *)loop->_backend)[i];
        uint32_t r = e.events;
        unsigned ev = rt__loop_events((r & EPOLLIN) != 0, (r & EPOLLOUT) != 0,
                                      (r & (EPOLLERR | EPOLLHUP)) != 0);
        ran += rt__loop_fire(loop, (int)(uint32_t)e.data.u64, (uint32_t)(e.data.u64 >> 32), ev);
    }
    return ran;
}

#  define rt__backend_open rt__epoll_open
#  define rt__backend_close rt__epoll_close
#  define rt__backend_add rt__epoll_add
#  define rt__backend_mod rt__epoll_mod
#  define rt__backend_del rt__epoll_del
#  define rt__backend_wait rt__epoll_wait
#  define rt__backend_dispatch rt__epoll_dispatch
#endif /* RT_BACKEND_EPOLL */

/* ---- registrations ------------------------------------------------------- */

static rt_result rt__loop_register(rt_loop *loop, int fd, unsigned events, rt_io_fn fn,
                                   void *user)
{
    rt_loop_fd *f;
    rt_result r;
    void *q = rt__loop_grow(loop, loop->_fds, &loop->_fds_cap, (size_t)fd + 1,
                            sizeof(rt_loop_fd));
    if (!q)
        return RT_E_NOMEM;
    loop->_fds = (rt_loop_fd *)q;
    if ((size_t)fd >= loop->_fds_len) { /* first use of the entries up to fd */
        memset(loop->_fds + loop->_fds_len, 0, ((size_t)fd + 1 - loop->_fds_len) * sizeof *f);
        loop->_fds_len = (size_t)fd + 1;
    }
    f = &loop->_fds[fd];
    if (f->used)
        return RT_E_INVAL;
    f->gen++;
    f->fn = fn;
    f->user = user;
    f->events = (uint8_t)events;
    r = rt__backend_add(loop, fd, events);
    f->used = (uint8_t)(r == RT_OK);
    return r;
}

static int rt__loop_registered(const rt_loop *loop, int fd)
{
    return fd >= 0 && (size_t)fd < loop->_fds_len && loop->_fds[fd].used;
}

rt_result rt_loop_add(rt_loop *loop, int fd, unsigned events, rt_io_fn fn, void *user)
{
    if (fd < 0 || !fn || (events & ~(unsigned)(RT_IO_READ | RT_IO_WRITE | RT_IO_ERROR)))
        return RT_E_INVAL;
    return rt__loop_register(loop, fd, events & (RT_IO_READ | RT_IO_WRITE), fn, user);
}

rt_result rt_loop_mod(rt_loop *loop, int fd, unsigned events)
{
    rt_result r;
    if (events & ~(unsigned)(RT_IO_READ | RT_IO_WRITE | RT_IO_ERROR))
        return RT_E_INVAL;
    if (!rt__loop_registered(loop, fd))
        return RT_E_NOTFOUND;
    events &= RT_IO_READ | RT_IO_WRITE;
    r = rt__backend_mod(loop, fd, events);
    if (r == RT_OK)
        loop->_fds[fd].events = (uint8_t)events;
    return r;
}

void rt_loop_del(rt_loop *loop, int fd)
{
    if (!rt__loop_registered(loop, fd))
        return;
    rt__backend_del(loop, fd);
    loop->_fds[fd].used = 0; /* pending events for fd now fail rt__loop_fire */
}

/* ---- the wake pipe and rt_loop_post -------------------------------------- */

static int rt__loop_pipe_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Both ends non-blocking: the loop must never sleep in read(), and a poster
 * must never sleep in write() (it gets RT_AGAIN instead). pipe2() would set
 * the flags atomically but is not in POSIX.1-2008. */
static rt_result rt__loop_open_wake(rt_loop *loop)
{
    int fds[2];
    if (pipe(fds) != 0)
        return RT_E_IO;
    loop->_wake[0] = fds[0];
    loop->_wake[1] = fds[1];
    if (rt__loop_pipe_flags(loop->_wake[0]) < 0 || rt__loop_pipe_flags(loop->_wake[1]) < 0)
        return RT_E_IO;
    return RT_OK;
}

rt_result rt_loop_post(rt_loop *loop, rt_post_fn fn, void *arg)
{
    rt__loop_post_rec rec;
    ssize_t w;
    rec.fn = fn;
    rec.arg = arg;
    do {
        w = write(loop->_wake[1], &rec, sizeof rec);
    } while (w < 0 && errno == EINTR);
    if (w == (ssize_t)sizeof rec)
        return RT_OK;
    return w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? RT_AGAIN : RT_E_IO;
}

/* Runs posted calls in the order they were written. Reads are whole records:
 * every write was one whole record and each read asks for a multiple of it. */
static int rt__loop_drain(rt_loop *loop)
{
    rt__loop_post_rec recs[RT__LOOP_POST_BATCH];
    int reads, ran = 0;
    for (reads = 0; reads < RT__LOOP_POST_READS; reads++) {
        ssize_t got = read(loop->_wake[0], recs, sizeof recs);
        size_t i, n = got > 0 ? (size_t)got / sizeof recs[0] : 0;
        for (i = 0; i < n; i++)
            recs[i].fn(loop, recs[i].arg);
        ran += (int)n;
        if (n < RT__LOOP_POST_BATCH)
            break; /* the pipe is empty (or EINTR: the rest runs next step) */
    }
    return ran;
}

/* ---- init, deinit -------------------------------------------------------- */

/* An empty loop that owns nothing: no memory, no descriptors. */
static void rt__loop_reset(rt_loop *loop, const rt_allocator *alloc)
{
    memset(loop, 0, sizeof *loop);
    loop->alloc = alloc;
    loop->_epfd = -1;
    loop->_wake[0] = loop->_wake[1] = -1;
    rt_heap_init(&loop->_timers, offsetof(rt_timer, when), offsetof(rt_timer, _heap_index));
}

rt_result rt_loop_init(rt_loop *loop, const rt_allocator *alloc)
{
    rt_result r;
    rt__loop_reset(loop, alloc);
    loop->now = rt_time_ms();
    r = rt__loop_open_wake(loop);
    if (r == RT_OK)
        r = rt__backend_open(loop);
    if (r == RT_OK)
        r = rt__loop_register(loop, loop->_wake[0], RT_IO_READ, NULL, NULL);
    if (r != RT_OK)
        rt_loop_deinit(loop);
    return r;
}

/* Leaves *loop as rt_loop_init found it minus the allocator, so a second
 * deinit (or one after a failed init) does nothing. */
void rt_loop_deinit(rt_loop *loop)
{
    const rt_allocator *alloc = loop->alloc;
    rt__backend_close(loop);
    if (loop->_wake[0] >= 0)
        close(loop->_wake[0]);
    if (loop->_wake[1] >= 0)
        close(loop->_wake[1]);
    rt_free(alloc, loop->_fds, loop->_fds_cap * sizeof(rt_loop_fd));
    rt_heap_deinit(&loop->_timers, alloc);
    rt__loop_reset(loop, alloc);
}

/* ---- timers: the shared min-heap on `when` ---------------------------------
 * Each timer stores its position (+1, so 0 means inactive), which lets stop
 * and restart find it without a search: both are O(log n). */

rt_result rt_timer_start(rt_loop *loop, rt_timer *t, uint32_t after_ms, uint32_t repeat_ms,
                         rt_timer_fn fn, void *user)
{
    RT_ASSERT(fn != NULL);
    if (!t->_heap_index &&
        rt_heap_reserve(&loop->_timers, loop->alloc, loop->_timers.n + 1) != RT_OK)
        return RT_E_NOMEM;
    t->when = loop->now + after_ms;
    t->repeat_ms = repeat_ms;
    t->fn = fn;
    t->user = user;
    if (t->_heap_index)
        rt_heap_update(&loop->_timers, t);
    else
        rt_heap_insert(&loop->_timers, t);
    return RT_OK;
}

void rt_timer_stop(rt_loop *loop, rt_timer *t)
{
    rt_heap_remove(&loop->_timers, t);
}

int rt_timer_active(const rt_timer *t)
{
    return t->_heap_index != 0;
}

/* Moves a repeating timer at the top of the heap to its next period. Counting
 * from the scheduled time (not from now) keeps it from drifting; but if it
 * fell a whole period behind, firing every missed period at once would be a
 * burst nobody wants, so it counts from now instead. */
static void rt__timer_rearm(rt_loop *loop, rt_timer *t)
{
    t->when += t->repeat_ms;
    if (t->when <= loop->now)
        t->when = loop->now + t->repeat_ms;
    rt_heap_update(&loop->_timers, t);
}

/* Runs the timers due at loop->now, earliest first. The budget (the heap
 * size on entry) bounds the phase: a callback that restarts its timer with
 * 0 ms would otherwise keep this loop spinning; it runs again next step. */
static int rt__timer_run(rt_loop *loop)
{
    size_t budget = loop->_timers.n;
    int ran = 0;
    rt_timer *t;
    while (budget > 0 && (t = (rt_timer *)rt_heap_min(&loop->_timers)) != NULL &&
           t->when <= loop->now) {
        if (t->repeat_ms)
            rt__timer_rearm(loop, t);
        else
            rt_timer_stop(loop, t);
        t->fn(loop, t->user); /* may stop, restart or free t: not touched after */
        budget--;
        ran++;
    }
    return ran;
}

/* ---- stepping ------------------------------------------------------------ */

/* The wait for this step: the caller's limit, shortened to the next timer. */
static int rt__loop_timeout(const rt_loop *loop, int timeout_ms)
{
    const rt_timer *next = (const rt_timer *)rt_heap_min(&loop->_timers);
    uint64_t wait;
    if (!next)
        return timeout_ms < 0 ? -1 : timeout_ms;
    wait = next->when > loop->now ? next->when - loop->now : 0;
    if (timeout_ms >= 0 && (uint64_t)timeout_ms < wait)
        wait = (uint64_t)timeout_ms;
    return wait > INT_MAX ? INT_MAX : (int)wait;
}

/* ---- hooks ------------------------------------------------------------------ */

void rt_loop_hook_add(rt_loop *loop, rt_loop_hook *h, void (*fn)(rt_loop *loop, void *user),
                      void *user)
{
    rt_loop_hook_del(loop, h);
    h->fn = fn;
    h->user = user;
    h->_next = loop->_hooks;
    loop->_hooks = h;
}

void rt_loop_hook_del(rt_loop *loop, rt_loop_hook *h)
{
    rt_loop_hook **pp;
    for (pp = &loop->_hooks; *pp; pp = &(*pp)->_next) {
        if (*pp == h) {
            *pp = h->_next;
            if (loop->_hook_next == h) /* a run in progress must skip it */
                loop->_hook_next = h->_next;
            return;
        }
    }
}

/* A hook may remove any hook, itself included: the run's next step lives in
 * the loop, where rt_loop_hook_del can move it past a removed hook. */
static void rt__loop_run_hooks(rt_loop *loop)
{
    rt_loop_hook *h;
    for (h = loop->_hooks; h; h = loop->_hook_next) {
        loop->_hook_next = h->_next;
        h->fn(loop, h->user);
    }
    loop->_hook_next = NULL;
}

/* Hooks run before the wait too: anything queued between two steps (by the
 * application, outside any callback) is written before the loop sleeps. */
rt_result rt_loop_step(rt_loop *loop, int timeout_ms)
{
    int n, ran;
    loop->now = rt_time_ms();
    rt__loop_run_hooks(loop);
    n = rt__backend_wait(loop, rt__loop_timeout(loop, timeout_ms));
    if (n < 0)
        return errno == EINTR ? 0 : RT_E_IO; /* a signal is not a failure */
    loop->now = rt_time_ms();
    ran = rt__backend_dispatch(loop, n);
    ran += rt__timer_run(loop);
    rt__loop_run_hooks(loop);
    return ran;
}

rt_result rt_loop_run(rt_loop *loop)
{
    loop->stop = 0;
    while (!loop->stop) {
        rt_result r = rt_loop_step(loop, -1);
        if (r < 0)
            return r;
    }
    return RT_OK;
}

void rt_loop_stop(rt_loop *loop)
{
    loop->stop = 1;
}
