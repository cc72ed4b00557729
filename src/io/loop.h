/* loop.h - the event loop: file descriptors, timers, and a cross-thread post.
 *
 * One loop runs on one thread. It waits with poll() by default (portable
 * POSIX) or epoll on Linux when RT_BACKEND_EPOLL is defined, through the
 * platform layer (platform.h); the API is the same. Timers are caller-owned structs kept in a binary min-heap, so
 * starting and stopping one is O(log n) and never allocates once the heap has
 * grown. rt_loop_post() is the only function another thread may call.
 */
#ifndef RT_LOOP_H
#define RT_LOOP_H

#include "../base/core.h"
#include "../base/heap.h"
#include "platform.h" /* RT_IO_READ, RT_IO_WRITE, RT_IO_ERROR; the backend */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_loop rt_loop;

/* Called when fd is ready; events is a mix of RT_IO_*. The callback may add,
 * change or remove any fd (its own included) and start or stop timers. */
typedef void (*rt_io_fn)(rt_loop *loop, int fd, unsigned events, void *user);
typedef void (*rt_timer_fn)(rt_loop *loop, void *user);
typedef void (*rt_post_fn)(rt_loop *loop, void *arg);

/* A timer. The caller owns the struct and keeps it alive (and in place)
 * while it is active; rt_timer_stop before freeing it. Zero-initialise it. */
typedef struct rt_timer {
    uint64_t when;        /* monotonic ms of the next firing */
    uint32_t repeat_ms;   /* 0 for one-shot */
    rt_timer_fn fn;
    void *user;
    size_t _heap_index;   /* 0 when inactive, else position + 1 */
} rt_timer;

typedef struct rt_loop_fd rt_loop_fd; /* private: per-fd registration */

/* A function the loop runs twice a step: before it waits and after the
 * callbacks and timers. A server uses it to write, with one system call per
 * connection, everything the step queued. Caller-owned; keep it alive (and
 * in place) while it is added. */
typedef struct rt_loop_hook {
    void (*fn)(rt_loop *loop, void *user);
    void *user;
    struct rt_loop_hook *_next;
} rt_loop_hook;

struct rt_loop {
    const rt_allocator *alloc;  /* NULL = RT_MALLOC/RT_FREE */
    uint64_t now;               /* monotonic ms, refreshed once per step */
    int stop;                   /* set by rt_loop_stop */
    /* private */
    rt_loop_fd *_fds;           /* registrations, indexed by fd */
    size_t _fds_len;            /* entries initialised: one past the highest fd seen */
    size_t _fds_cap;
    rt_plat_poller _poll;       /* poll or epoll: every registered fd, the wake pipe too */
    rt_heap _timers;            /* active timers, by `when` */
    int _wake[2];               /* self-pipe: [0] read end, [1] write end */
    rt_loop_hook *_hooks;       /* run around every wait */
    rt_loop_hook *_hook_next;   /* the next hook of a run in progress */
};

/* Prepares *loop (caller-owned). alloc may be NULL. RT_E_IO if the wake pipe
 * or epoll instance cannot be made, RT_E_NOMEM. On failure nothing is left to
 * free. */
RT_API rt_result rt_loop_init(rt_loop *loop, const rt_allocator *alloc);
/* Frees what the loop allocated. Registered fds are not closed (the caller
 * owns them); active timers are simply forgotten. */
RT_API void rt_loop_deinit(rt_loop *loop);

/* Watches fd for events (RT_IO_READ | RT_IO_WRITE). One registration per fd:
 * RT_E_INVAL if fd is already registered. RT_E_NOMEM. */
RT_API rt_result rt_loop_add(rt_loop *loop, int fd, unsigned events, rt_io_fn fn, void *user);
/* Changes the events watched for a registered fd; an event of a kind no
 * longer watched is not delivered, even if already pending in this step.
 * RT_E_NOTFOUND if fd is not registered. */
RT_API rt_result rt_loop_mod(rt_loop *loop, int fd, unsigned events);
/* Stops watching fd. Safe inside any callback, even for an fd whose event is
 * still pending in this step: it will not be delivered. */
RT_API void rt_loop_del(rt_loop *loop, int fd);

/* Waits at most timeout_ms (-1: until an event or the next timer), then runs
 * the ready fd callbacks, posted calls and due timers. Returns the number of
 * callbacks run (0 when a signal interrupted the wait), or RT_E_IO. This is
 * how an application or an RTOS task drives the loop from its own main loop. */
RT_API rt_result rt_loop_step(rt_loop *loop, int timeout_ms);
/* Steps until rt_loop_stop is called. Returns RT_OK or RT_E_IO. */
RT_API rt_result rt_loop_run(rt_loop *loop);
/* Makes rt_loop_run return after the current step. Loop thread only. */
RT_API void rt_loop_stop(rt_loop *loop);

/* Starts t: first after after_ms (counted from loop->now, the time of the
 * current step), then every repeat_ms (0 = once). A repeating timer keeps its
 * schedule (no drift) unless it fell a whole period behind, when it fires once
 * and counts again from now. Timers due at the same ms fire in no set order.
 * Restarts t if active. RT_E_NOMEM when the heap cannot grow. */
RT_API rt_result rt_timer_start(rt_loop *loop, rt_timer *t, uint32_t after_ms,
                                uint32_t repeat_ms, rt_timer_fn fn, void *user);
/* Stops t if active; safe from its own callback. */
RT_API void rt_timer_stop(rt_loop *loop, rt_timer *t);
/* 1 when t is active. */
RT_API int rt_timer_active(const rt_timer *t);

/* THREAD-SAFE: asks the loop to call fn(loop, arg) on its own thread, and
 * wakes it at once. The request travels through the self-pipe as one atomic
 * write, so no lock is needed. RT_AGAIN when the pipe is full (retry later);
 * calls posted before rt_loop_deinit that did not run are dropped. */
RT_API rt_result rt_loop_post(rt_loop *loop, rt_post_fn fn, void *arg);

/* Adds h, to call fn(loop, user) before every wait and after every step's
 * callbacks. Hooks may add or remove hooks (themselves included). */
RT_API void rt_loop_hook_add(rt_loop *loop, rt_loop_hook *h,
                             void (*fn)(rt_loop *loop, void *user), void *user);
/* Removes h if it was added. */
RT_API void rt_loop_hook_del(rt_loop *loop, rt_loop_hook *h);

/* The monotonic clock in milliseconds: RT_CLOCK_MS(), CLOCK_MONOTONIC unless
 * the application defined it (see PLATFORM in the manual). */
RT_API uint64_t rt_time_ms(void);

#ifdef __cplusplus
}
#endif

#endif /* RT_LOOP_H */
