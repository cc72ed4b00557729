/* loop.h - the event loop: file descriptors, timers, and a cross-thread post.
 *
 * One loop runs on one thread. It waits with poll() by default (portable
 * POSIX) or epoll on Linux when RT_BACKEND_EPOLL is defined; the API is the
 * same. Timers are caller-owned structs kept in a binary min-heap, so
 * starting and stopping one is O(log n) and never allocates once the heap has
 * grown. rt_loop_post() is the only function another thread may call.
 */
#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_loop rt_loop;

enum rt_io_events {
    RT_IO_READ = 1,  /* readable (or a peer closed: read() will say) */
    RT_IO_WRITE = 2, /* writable */
    RT_IO_ERROR = 4  /* error or hang-up; always reported, never requested */
};

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

struct rt_loop {
    const rt_allocator *alloc;  /* NULL = RT_MALLOC/RT_FREE */
    uint64_t now;               /* monotonic ms, refreshed once per step */
    int stop;                   /* set by rt_loop_stop */
    /* private */
    rt_loop_fd *_fds;           /* registrations, indexed by fd */
    size_t _fds_cap;
    void *_backend;             /* poll: struct pollfd[]; epoll: event buffer */
    size_t _backend_len, _backend_cap;
    int _epfd;                  /* epoll only, else -1 */
    rt_timer **_heap;
    size_t _heap_len, _heap_cap;
    int _wake[2];               /* self-pipe: [0] read end, [1] write end */
};

/* Prepares *loop (caller-owned). alloc may be NULL. RT_E_IO if the wake pipe
 * or epoll instance cannot be made. */
RT_API rt_result rt_loop_init(rt_loop *loop, const rt_allocator *alloc);
/* Frees what the loop allocated. Registered fds are not closed (the caller
 * owns them); active timers are simply forgotten. */
RT_API void rt_loop_deinit(rt_loop *loop);

/* Watches fd for events (RT_IO_READ | RT_IO_WRITE). One registration per fd:
 * RT_E_INVAL if fd is already registered. RT_E_NOMEM. */
RT_API rt_result rt_loop_add(rt_loop *loop, int fd, unsigned events, rt_io_fn fn, void *user);
/* Changes the events watched for a registered fd. */
RT_API rt_result rt_loop_mod(rt_loop *loop, int fd, unsigned events);
/* Stops watching fd. Safe inside any callback, even for an fd whose event is
 * still pending in this step: it will not be delivered. */
RT_API void rt_loop_del(rt_loop *loop, int fd);

/* Waits at most timeout_ms (-1: until an event or the next timer), then runs
 * the ready fd callbacks, due timers and posted calls. Returns the number of
 * callbacks run, or RT_E_IO. This is how an application or an RTOS task
 * drives the loop from its own main loop. */
RT_API rt_result rt_loop_step(rt_loop *loop, int timeout_ms);
/* Steps until rt_loop_stop is called. Returns RT_OK or RT_E_IO. */
RT_API rt_result rt_loop_run(rt_loop *loop);
/* Makes rt_loop_run return after the current step. Loop thread only. */
RT_API void rt_loop_stop(rt_loop *loop);

/* Starts t: first after after_ms, then every repeat_ms (0 = once). Restarts
 * it if active. RT_E_NOMEM when the heap cannot grow. */
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

/* The monotonic clock in milliseconds (CLOCK_MONOTONIC). */
RT_API uint64_t rt_time_ms(void);

#ifdef __cplusplus
}
#endif
