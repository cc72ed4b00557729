/* platform.h - the operating system, as the I/O layer sees it.
 *
 * Everything rt.h asks of the OS goes through the few functions below: the
 * readiness API the loop waits in (poll or epoll), a wake-up channel other
 * threads write to, and TCP sockets. platform.c is the only file that
 * includes a system header for them or calls them, so a port to lwIP, to
 * Windows (WSAPoll, closesocket) or to an RTOS rewrites that one file
 * against this same contract. Errors come back as rt_result codes; errno
 * never leaves platform.c.
 *
 * The clock and the random source are not called through these functions
 * but through two macros the application may define before the
 * implementation, RT_CLOCK_MS() and RT_RANDOM(buf, n) (see PLATFORM in the
 * manual): a device with a tick counter or a hardware RNG plugs them in
 * without editing rt.h, and a target without clock_gettime or /dev/urandom
 * never compiles the defaults.
 *
 * These are internal: the loop, the server and their ports use them. They
 * are declared here, in the public part, only so each has one prototype.
 */
#ifndef RT_PLATFORM_H
#define RT_PLATFORM_H

#include "../base/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a watched fd is ready for. rt_loop_add and its callbacks use these
 * too (loop.h includes this header); they are the backend's bits as well. */
enum rt_io_events {
    RT_IO_READ = 1,  /* readable (or a peer closed: read() will say) */
    RT_IO_WRITE = 2, /* writable */
    RT_IO_ERROR = 4  /* error or hang-up; always reported, never requested;
                        comes with RT_IO_READ if watched, so read() says which */
};

/* ---- The readiness backend -------------------------------------------------
 * The loop's view of poll or epoll (RT_BACKEND_POLL, RT_BACKEND_EPOLL). Each
 * watched fd carries a 16-bit tag, given at add and mod and handed back
 * with every event, which the loop uses to tell a stale event from a live
 * one. poll keeps the fds in a dense array: add gives each fd a slot, and
 * del moves the last entry into the hole, so the loop must pass an fd's slot
 * back and learn which fd moved. Embedded in rt_loop; never touch it. */
typedef struct rt_plat_poller {
    void *set;          /* poll: dense struct pollfd[]; epoll: epoll_wait's buffer */
    size_t len;         /* fds watched */
    size_t cap;         /* entries allocated in set */
    uint16_t *tags;     /* poll: the tag of each set entry */
    size_t tags_cap;
    void *ready;        /* poll: the last wait's events, copied out of set */
    size_t ready_cap;
    int fd;             /* epoll: the kernel's interest list; -1 when none */
} rt_plat_poller;

/* Leaves p empty and closed: rt_plat_poller_close on it does nothing. */
RT_API void rt_plat_poller_init(rt_plat_poller *p);
/* Makes p ready to watch fds (after init). RT_E_IO if the kernel object
 * cannot be made. */
RT_API rt_result rt_plat_poller_open(rt_plat_poller *p);
/* Frees what p holds (with a, the allocator its adds used) and leaves it as
 * init does. The watched fds themselves are not closed. */
RT_API void rt_plat_poller_close(rt_plat_poller *p, const rt_allocator *a);
/* Watches fd for events (RT_IO_READ | RT_IO_WRITE) and sets *slot,
 * to pass back to mod and del. RT_E_NOMEM, RT_E_IO. */
RT_API rt_result rt_plat_poller_add(rt_plat_poller *p, const rt_allocator *a, int fd,
                                    unsigned events, uint16_t tag, uint32_t *slot);
/* Changes the events (and tag) of a watched fd. RT_E_IO. */
RT_API rt_result rt_plat_poller_mod(rt_plat_poller *p, int fd, uint32_t slot, unsigned events,
                                    uint16_t tag);
/* Stops watching fd. Returns the fd that now has fd's old slot (poll moves
 * its last entry there; update that fd's slot), or -1 if none moved. */
RT_API int rt_plat_poller_del(rt_plat_poller *p, int fd, uint32_t slot);
/* Waits at most timeout_ms (-1: no limit) for an event. Returns how many
 * events rt_plat_poller_event can read, RT_AGAIN when a signal cut the wait
 * short, or RT_E_IO. */
RT_API int rt_plat_poller_wait(rt_plat_poller *p, int timeout_ms);
/* The i-th event of the last wait (i below what wait returned): its fd and
 * tag, and the events as RT_IO_* bits; an error or hang-up reads as
 * RT_IO_READ | RT_IO_ERROR. Valid across adds and dels made meanwhile. */
RT_API unsigned rt_plat_poller_event(const rt_plat_poller *p, int i, int *fd, uint16_t *tag);

/* ---- The wake-up channel ---------------------------------------------------
 * A pair of descriptors that carries small records from any thread (or a
 * signal handler) to the loop's thread: wake[0] is watched by the loop and
 * drained there, wake[1] is written. Both are non-blocking. */

/* Opens the pair (a pipe on POSIX). RT_E_IO; what was opened is in wake[]
 * even then, for rt_plat_wake_close. */
RT_API rt_result rt_plat_wake_open(int wake[2]);
/* THREAD-SAFE. Writes the n bytes of rec to the write end whole or not at
 * all (n is at most 512: POSIX's smallest PIPE_BUF). RT_AGAIN when the
 * channel is full, RT_E_IO. */
RT_API rt_result rt_plat_wake_signal(int fd, const void *rec, size_t n);
/* Reads up to cap bytes from the read end: the bytes read, 0 when it was
 * empty (or a signal came first). Whole records come out if cap is a
 * multiple of the record size and every write was one record. */
RT_API size_t rt_plat_wake_drain(int fd, void *buf, size_t cap);
/* Closes both ends (an entry of -1 is skipped). */
RT_API void rt_plat_wake_close(int wake[2]);

/* ---- TCP sockets -------------------------------------------------------------
 * Sockets are ints, as the loop watches them. The byte functions retry when
 * a signal interrupts them and return a byte count, RT_AGAIN when the call
 * would block, or RT_E_IO (the connection failed: reset, unreachable). */

/* One piece of a gathered send. Laid out like the system's own (struct
 * iovec on POSIX; platform.c checks it at compile time), so the array goes
 * to the kernel as it is; a Windows port orders the fields like WSABUF. */
typedef struct rt_plat_iov {
    const void *base;
    size_t len;
} rt_plat_iov;

/* The address of a peer, as bytes: 4 (IPv4) or 16 (IPv6) in bytes[]. */
typedef struct rt_plat_addr {
    unsigned char bytes[16];
    size_t len;
} rt_plat_addr;

/* Binds a non-blocking, close-on-exec listening socket to host (a numeric
 * IPv4 or IPv6 address; NULL = "0.0.0.0"; "::" serves IPv4 too) and port (0
 * = any free port), with SO_REUSEADDR and the system's largest backlog.
 * Sets *fd (-1 on failure) and *bound_port (the port actually bound).
 * RT_E_INVAL when host is not an address, RT_E_IO. */
RT_API rt_result rt_plat_listen(const char *host, int port, int *fd, int *bound_port);
/* Takes one pending connection from listener lfd: sets *fd (blocking, as
 * the kernel gives it: see rt_plat_set_nonblock) and, if from is not NULL,
 * the peer's address. RT_AGAIN when none is pending or for a transient
 * failure (the peer gave up, a signal: try at the next readable event);
 * RT_E_LIMIT when the process or the system is out of descriptors, which
 * leaves the connection pending (stop watching lfd until one closes). */
RT_API rt_result rt_plat_accept(int lfd, int *fd, rt_plat_addr *from);
/* Makes fd non-blocking and close-on-exec. RT_E_IO. */
RT_API rt_result rt_plat_set_nonblock(int fd);
/* Sends small writes at once (TCP_NODELAY); a failure only costs latency,
 * so it is not reported. */
RT_API void rt_plat_set_nodelay(int fd);
/* Reads up to cap bytes: the count, 0 when the peer has closed its side
 * (end of stream), RT_AGAIN, RT_E_IO. */
RT_API ptrdiff_t rt_plat_recv(int fd, void *buf, size_t cap);
/* Writes up to n bytes: the count (maybe short), RT_AGAIN, RT_E_IO. Never
 * raises SIGPIPE. */
RT_API ptrdiff_t rt_plat_send(int fd, const void *buf, size_t n);
/* As rt_plat_send, for the n pieces of iov in order (n at most the
 * system's IOV_MAX: 1024 on Linux and the BSDs, the top of RT_CONN_SEND_BATCH). */
RT_API ptrdiff_t rt_plat_sendv(int fd, const rt_plat_iov *iov, size_t n);
/* Half-closes fd: no more writes; the peer reads end of stream once what
 * was sent has arrived. RT_E_IO. */
RT_API rt_result rt_plat_shutdown_write(int fd);
/* Closes the socket fd. */
RT_API void rt_plat_close(int fd);
/* Writes the peer's numeric address ("127.0.0.1", "::1") and a NUL into buf.
 * Returns its length, RT_E_NOSPACE if cap is too small, RT_E_IO (fd < 0, or
 * not connected). */
RT_API rt_result rt_plat_peer(int fd, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* RT_PLATFORM_H */
