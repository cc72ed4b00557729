/* loop.c - the event loop: registrations, timers, post, the step.
 *
 * A step is: read the clock, wait in the backend for at most the time to the
 * next timer, read the clock again, run the fd callbacks, then the due timers.
 * The backend (poll or epoll) and the wake pipe are the platform layer's
 * (platform.c); everything here is written once, for any of them.
 *
 * Callbacks may add and remove any fd. An event the kernel reported for an
 * fd that a callback has since removed, or removed and registered again,
 * must not be delivered: every registration therefore gets a generation
 * number, the backend hands each reported event back with the generation
 * it was registered with, and a mismatch drops it.
 */
#include "loop.h"
#include "../base/config.h"

#include <limits.h>

/* One per fd number up to the highest registered, so it is kept small:
 * 24 bytes on LP64, 16 on 32-bit targets. A 16-bit generation is enough,
 * since it only has to differ between an event's report and its dispatch
 * in the same step. */
struct rt_loop_fd {
    rt_io_fn fn;       /* NULL for the loop's own wake pipe */
    void *user;
    uint32_t slot;     /* the backend's slot for it (poll: its pollfd) */
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
 * POSIX), so the wake channel takes a record whole or not at all, even with
 * many threads writing at once: that is what makes rt_loop_post lock-free. */
typedef struct rt__loop_post_rec {
    rt_post_fn fn;
    void *arg;
} rt__loop_post_rec;

uint64_t rt_time_ms(void)
{
    return RT_CLOCK_MS();
}

/* The loop's arrays grow with rt_grow. The new part is not zeroed: memory
 * never written is never made resident, and each array writes an element
 * before it reads it. */
static void *rt__loop_grow(rt_loop *loop, void *p, size_t *cap, size_t need, size_t elem)
{
    return rt_grow(loop->alloc, p, cap, need, elem, RT__LOOP_MIN_CAP);
}

static int rt__loop_drain(rt_loop *loop);

/* Delivers one reported event unless a callback earlier in this step removed
 * or replaced the registration (generation mismatch) or stopped watching
 * that kind. Returns the number of callbacks run. */
static int rt__loop_fire(rt_loop *loop, int fd, uint16_t gen, unsigned events)
{
    rt_loop_fd *f = &loop->_fds[fd];
    if (!f->used || f->gen != gen)
        return 0;
    events &= f->events | RT_IO_ERROR;
    if (!events)
        return 0;
    if (!f->fn)
        return rt__loop_drain(loop);
    f->fn(loop, fd, events, f->user); /* may realloc _fds: f is dead now */
    return 1;
}

/* Runs the callbacks of the n events the backend's wait reported. The
 * backend reads each event afresh: an add in a callback may move its arrays. */
static int rt__loop_dispatch(rt_loop *loop, int n)
{
    int i, fd, ran = 0;
    uint16_t gen;
    for (i = 0; i < n; i++) {
        unsigned ev = rt_plat_poller_event(&loop->_poll, i, &fd, &gen);
        ran += rt__loop_fire(loop, fd, gen, ev);
    }
    return ran;
}

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
    r = rt_plat_poller_add(&loop->_poll, loop->alloc, fd, events, f->gen, &f->slot);
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
    rt_loop_fd *f;
    rt_result r;
    if (events & ~(unsigned)(RT_IO_READ | RT_IO_WRITE | RT_IO_ERROR))
        return RT_E_INVAL;
    if (!rt__loop_registered(loop, fd))
        return RT_E_NOTFOUND;
    events &= RT_IO_READ | RT_IO_WRITE;
    f = &loop->_fds[fd];
    r = rt_plat_poller_mod(&loop->_poll, fd, f->slot, events, f->gen);
    if (r == RT_OK)
        f->events = (uint8_t)events;
    return r;
}

void rt_loop_del(rt_loop *loop, int fd)
{
    uint32_t slot;
    int moved;
    if (!rt__loop_registered(loop, fd))
        return;
    slot = loop->_fds[fd].slot;
    moved = rt_plat_poller_del(&loop->_poll, fd, slot);
    if (moved >= 0)
        loop->_fds[moved].slot = slot; /* poll filled the hole with its last entry */
    loop->_fds[fd].used = 0; /* pending events for fd now fail rt__loop_fire */
}

/* ---- the wake pipe and rt_loop_post -------------------------------------- */

rt_result rt_loop_post(rt_loop *loop, rt_post_fn fn, void *arg)
{
    rt__loop_post_rec rec;
    rec.fn = fn;
    rec.arg = arg;
    return rt_plat_wake_signal(loop->_wake[1], &rec, sizeof rec);
}

/* Runs posted calls in the order they were written. Reads are whole records:
 * every write was one whole record and each read asks for a multiple of it. */
static int rt__loop_drain(rt_loop *loop)
{
    rt__loop_post_rec recs[RT__LOOP_POST_BATCH];
    int reads, ran = 0;
    for (reads = 0; reads < RT__LOOP_POST_READS; reads++) {
        size_t got = rt_plat_wake_drain(loop->_wake[0], recs, sizeof recs);
        size_t i, n = got / sizeof recs[0];
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
    rt_plat_poller_init(&loop->_poll);
    loop->_wake[0] = loop->_wake[1] = -1;
    rt_heap_init(&loop->_timers, offsetof(rt_timer, when), offsetof(rt_timer, _heap_index));
}

rt_result rt_loop_init(rt_loop *loop, const rt_allocator *alloc)
{
    rt_result r;
    rt__loop_reset(loop, alloc);
    loop->now = rt_time_ms();
    r = rt_plat_wake_open(loop->_wake);
    if (r == RT_OK)
        r = rt_plat_poller_open(&loop->_poll);
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
    rt_plat_poller_close(&loop->_poll, alloc);
    rt_plat_wake_close(loop->_wake);
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
    n = rt_plat_poller_wait(&loop->_poll, rt__loop_timeout(loop, timeout_ms));
    if (n < 0)
        return n == RT_AGAIN ? 0 : RT_E_IO; /* a signal is not a failure */
    loop->now = rt_time_ms();
    ran = rt__loop_dispatch(loop, n);
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
