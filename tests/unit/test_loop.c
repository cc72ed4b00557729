/* Unit tests for the event loop: fd readiness, changes made from inside
 * callbacks, timers, the cross-thread post, memory.
 *
 * The same file tests both backends: built alone it tests poll (the
 * default); test_loop_epoll.c defines RT_BACKEND_EPOLL and includes it, so
 * this file must not pick a backend itself. Only pipes and socketpairs, no
 * network. Machines (and qemu) are noisy, so time is only ever checked as
 * "at least", never "at most"; orderings are checked exactly. Tests that
 * block arm alarm(): a lost wake-up kills the binary instead of hanging. */
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../rt_test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WATCHDOG_S 60

static void make_pipe(int p[2])
{
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    CHECK_EQ(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
}

static void close_pipe(int p[2])
{
    close(p[0]);
    close(p[1]);
}

static void put_byte(int fd)
{
    CHECK_EQ(write(fd, "x", 1), 1);
}

static void sleep_ms(long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- fd readiness -------------------------------------------------------- */

typedef struct hit {
    int calls;
    int fd;
    unsigned events;
} hit;

static void on_io(rt_loop *loop, int fd, unsigned events, void *user)
{
    hit *h = (hit *)user;
    (void)loop;
    h->calls++;
    h->fd = fd;
    h->events = events;
}

RT_TEST(init_deinit_twice_and_two_loops)
{
    rt_loop a, b;
    hit ha = {0, 0, 0}, hb = {0, 0, 0};
    int p[2], q[2];
    CHECK_EQ(rt_loop_init(&a, NULL), RT_OK);
    CHECK_EQ(rt_loop_init(&b, NULL), RT_OK);
    make_pipe(p);
    make_pipe(q);
    CHECK_EQ(rt_loop_add(&a, p[0], RT_IO_READ, on_io, &ha), RT_OK);
    CHECK_EQ(rt_loop_add(&b, q[0], RT_IO_READ, on_io, &hb), RT_OK);
    put_byte(q[1]);
    CHECK_EQ(rt_loop_step(&a, 0), 0); /* b's fd is not a's business */
    CHECK_EQ(rt_loop_step(&b, 1000), 1);
    CHECK_EQ(ha.calls, 0);
    CHECK_EQ(hb.calls, 1);
    rt_loop_deinit(&a);
    rt_loop_deinit(&a); /* harmless */
    rt_loop_deinit(&b);
    close_pipe(p);
    close_pipe(q);
}

RT_TEST(read_readiness_reaches_the_callback_with_fd_events_and_user)
{
    rt_loop loop;
    hit h = {0, -1, 0};
    int p[2];
    char c;
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    make_pipe(p);
    CHECK_EQ(rt_loop_add(&loop, p[0], RT_IO_READ, on_io, &h), RT_OK);
    CHECK_EQ(rt_loop_step(&loop, 0), 0);
    CHECK_EQ(h.calls, 0);
    put_byte(p[1]);
    CHECK_EQ(rt_loop_step(&loop, 1000), 1);
    CHECK_EQ(h.calls, 1);
    CHECK_EQ(h.fd, p[0]);
    CHECK_EQ(h.events, RT_IO_READ);
    CHECK_EQ(read(p[0], &c, 1), 1);
    CHECK_EQ(rt_loop_step(&loop, 0), 0); /* level-triggered: drained, quiet */
    rt_loop_deinit(&loop);
    close_pipe(p);
}

RT_TEST(mod_switches_between_read_and_write)
{
    rt_loop loop;
    hit h = {0, -1, 0};
    int s[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    CHECK_EQ(rt_loop_add(&loop, s[0], RT_IO_READ, on_io, &h), RT_OK);
    CHECK_EQ(rt_loop_step(&loop, 0), 0); /* nothing to read */
    CHECK_EQ(rt_loop_mod(&loop, s[0], RT_IO_WRITE), RT_OK);
    CHECK_EQ(rt_loop_step(&loop, 1000), 1);
    CHECK_EQ(h.events, RT_IO_WRITE);
    CHECK_EQ(h.fd, s[0]);
    put_byte(s[1]);
    CHECK_EQ(rt_loop_mod(&loop, s[0], RT_IO_READ | RT_IO_WRITE), RT_OK);
    CHECK_EQ(rt_loop_step(&loop, 1000), 1);
    CHECK_EQ(h.events, RT_IO_READ | RT_IO_WRITE);
    CHECK_EQ(rt_loop_mod(&loop, s[0], 0), RT_OK); /* watching nothing: quiet */
    CHECK_EQ(rt_loop_step(&loop, 0), 0);
    CHECK_EQ(h.calls, 2);
    rt_loop_deinit(&loop);
    close(s[0]);
    close(s[1]);
}

RT_TEST(bad_arguments_are_refused)
{
    rt_loop loop;
    hit h = {0, -1, 0};
    int p[2];
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    make_pipe(p);
    CHECK_EQ(rt_loop_add(&loop, -1, RT_IO_READ, on_io, &h), RT_E_INVAL);
    CHECK_EQ(rt_loop_add(&loop, p[0], RT_IO_READ, NULL, &h), RT_E_INVAL);
    CHECK_EQ(rt_loop_add(&loop, p[0], 64, on_io, &h), RT_E_INVAL);
    CHECK_EQ(rt_loop_mod(&loop, p[0], RT_IO_READ), RT_E_NOTFOUND);
    CHECK_EQ(rt_loop_mod(&loop, -3, RT_IO_READ), RT_E_NOTFOUND);
    CHECK_EQ(rt_loop_mod(&loop, 100000, RT_IO_READ), RT_E_NOTFOUND);
    CHECK_EQ(rt_loop_add(&loop, p[0], RT_IO_READ, on_io, &h), RT_OK);
    CHECK_EQ(rt_loop_add(&loop, p[0], RT_IO_WRITE, on_io, &h), RT_E_INVAL);
    CHECK_EQ(rt_loop_mod(&loop, p[0], 64), RT_E_INVAL);
    rt_loop_del(&loop, p[0]);
    rt_loop_del(&loop, p[0]); /* twice: a no-op */
    rt_loop_del(&loop, -1);
    CHECK_EQ(rt_loop_mod(&loop, p[0], RT_IO_READ), RT_E_NOTFOUND);
    CHECK_EQ(rt_loop_add(&loop, p[0], RT_IO_READ, on_io, &h), RT_OK);
    rt_loop_deinit(&loop);
    close_pipe(p);
}

RT_TEST(hang_up_reports_error_and_read_when_read_is_watched)
{
    rt_loop loop;
    hit h = {0, -1, 0}, g = {0, -1, 0};
    int p[2], q[2];
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    make_pipe(p);
    make_pipe(q);
    CHECK_EQ(rt_loop_add(&loop, p[0], RT_IO_READ, on_io, &h), RT_OK);
    CHECK_EQ(rt_loop_add(&loop, q[0], 0, on_io, &g), RT_OK);
    close(p[1]);
    close(q[1]);
    CHECK_EQ(rt_loop_step(&loop, 1000), 2);
    CHECK_EQ(h.events, RT_IO_READ | RT_IO_ERROR);
    CHECK_EQ(g.events, RT_IO_ERROR); /* never requested, still reported */
    rt_loop_deinit(&loop);
    close(p[0]);
    close(q[0]);
}

/* Two fds ready in the same step, each callback acting on the other one:
 * whichever runs first acts, and the other must then see the effect. */
typedef struct duel {
    rt_loop *loop;
    int fd[2];
    int calls[2];
    int acted;
    int fresh[2];  /* the pipe that replaced the other fd's number */
    hit fresh_hit;
    int mode;      /* DUEL_DEL, DUEL_REPLACE or DUEL_MOD */
} duel;

enum { DUEL_DEL, DUEL_REPLACE, DUEL_MOD };

typedef struct side {
    duel *d;
    int me;
} side;

/* Removes the other fd and puts a new, empty pipe under its number. */
static void duel_replace(duel *d, int other)
{
    int fd = d->fd[other];
    rt_loop_del(d->loop, fd);
    make_pipe(d->fresh);
    CHECK_EQ(dup2(d->fresh[0], fd), fd);
    close(d->fresh[0]);
    d->fresh[0] = fd;
    CHECK_EQ(rt_loop_add(d->loop, fd, RT_IO_READ, on_io, &d->fresh_hit), RT_OK);
}

static void on_duel(rt_loop *loop, int fd, unsigned events, void *user)
{
    side *s = (side *)user;
    duel *d = s->d;
    int other = 1 - s->me;
    (void)loop;
    (void)fd;
    (void)events;
    d->calls[s->me]++;
    if (d->acted++)
        return;
    if (d->mode == DUEL_DEL)
        rt_loop_del(d->loop, d->fd[other]);
    else if (d->mode == DUEL_MOD)
        CHECK_EQ(rt_loop_mod(d->loop, d->fd[other], RT_IO_WRITE), RT_OK);
    else
        duel_replace(d, other);
}

/* Sets up two readable pipes a and b, registered with on_duel. */
static void duel_start(duel *d, rt_loop *loop, side sides[2], int a[2], int b[2], int mode)
{
    memset(d, 0, sizeof *d);
    d->loop = loop;
    d->mode = mode;
    make_pipe(a);
    make_pipe(b);
    d->fd[0] = a[0];
    d->fd[1] = b[0];
    sides[0].d = sides[1].d = d;
    sides[0].me = 0;
    sides[1].me = 1;
    put_byte(a[1]);
    put_byte(b[1]);
    CHECK_EQ(rt_loop_add(loop, a[0], RT_IO_READ, on_duel, &sides[0]), RT_OK);
    CHECK_EQ(rt_loop_add(loop, b[0], RT_IO_READ, on_duel, &sides[1]), RT_OK);
}

RT_TEST(del_in_a_callback_drops_the_other_fds_pending_event)
{
    rt_loop loop;
    duel d;
    side sides[2];
    int a[2], b[2];
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    duel_start(&d, &loop, sides, a, b, DUEL_DEL);
    CHECK_EQ(rt_loop_step(&loop, 1000), 1);
    CHECK_EQ(d.calls[0] + d.calls[1], 1);
    CHECK_EQ(rt_loop_step(&loop, 0), 1); /* the survivor is still readable */
    CHECK(d.calls[0] == 0 || d.calls[1] == 0); /* the deleted one never ran */
    rt_loop_deinit(&loop);
    close_pipe(a);
    close_pipe(b);
}

RT_TEST(an_fd_number_reused_in_the_same_step_gets_no_stale_event)
{
    rt_loop loop;
    duel d;
    side sides[2];
    int a[2], b[2];
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    duel_start(&d, &loop, sides, a, b, DUEL_REPLACE);
    CHECK_EQ(rt_loop_step(&loop, 1000), 1);
    CHECK_EQ(d.calls[0] + d.calls[1], 1);
    CHECK_EQ(d.fresh_hit.calls, 0); /* the old pipe's event is not the new one's */
    put_byte(d.fresh[1]);
    CHECK_EQ(rt_loop_step(&loop, 1000), 2); /* the survivor and the new pipe */
    CHECK_EQ(d.fresh_hit.calls, 1);
    CHECK_EQ(d.fresh_hit.events, RT_IO_READ);
    rt_loop_deinit(&loop);
    close_pipe(a); /* d.fresh[0] is a[0] or b[0] now */
    close_pipe(b);
    close(d.fresh[1]);
}

RT_TEST(mod_in_a_callback_drops_a_pending_event_no_longer_watched)
{
    rt_loop loop;
    duel d;
    side sides[2];
    int a[2], b[2];
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    duel_start(&d, &loop, sides, a, b, DUEL_MOD);
    CHECK_EQ(rt_loop_step(&loop, 1000), 1); /* a pipe's read end is never writable */
    CHECK_EQ(d.calls[0] + d.calls[1], 1);
    rt_loop_deinit(&loop);
    close_pipe(a);
    close_pipe(b);
}

/* The poll backend's dense array and its fd -> slot map must agree. */
static void check_backend(const rt_loop *loop)
{
#ifndef RT_BACKEND_EPOLL
    const struct pollfd *p = (const struct pollfd *)loop->_poll.set;
    size_t i;
    for (i = 0; i < loop->_poll.len; i++) {
        CHECK(loop->_fds[p[i].fd].used);
        CHECK_EQ(loop->_fds[p[i].fd].slot, i);
    }
#else
    (void)loop;
#endif
}

static uint32_t xorshift(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

#define NPIPES 200

/* Registers, removes and wakes pipes at random; after each step exactly the
 * registered readable ones must have run, once each. */
RT_TEST(random_add_del_delivers_exactly_the_ready_registered_fds)
{
    static int p[NPIPES][2], on[NPIPES], full[NPIPES];
    static hit h[NPIPES];
    rt_loop loop;
    uint32_t seed = 12345;
    int i, round, k, expect;
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    for (i = 0; i < NPIPES; i++)
        make_pipe(p[i]);
    for (round = 0; round < 100; round++) {
        for (k = 0; k < 40; k++) {
            i = (int)(xorshift(&seed) % NPIPES);
            if (on[i])
                rt_loop_del(&loop, p[i][0]);
            else
                CHECK_EQ(rt_loop_add(&loop, p[i][0], RT_IO_READ, on_io, &h[i]), RT_OK);
            on[i] = !on[i];
            i = (int)(xorshift(&seed) % NPIPES);
            if (!full[i])
                put_byte(p[i][1]);
            full[i] = 1;
        }
        check_backend(&loop);
        memset(h, 0, sizeof h);
        for (i = 0, expect = 0; i < NPIPES; i++)
            expect += on[i] && full[i];
        CHECK_EQ(rt_loop_step(&loop, 1000), expect);
        for (i = 0; i < NPIPES; i++)
            CHECK_EQ(h[i].calls, on[i] && full[i]);
    }
    rt_loop_deinit(&loop);
    for (i = 0; i < NPIPES; i++)
        close_pipe(p[i]);
}

/* ---- timers -------------------------------------------------------------- */

typedef struct order {
    int seq[16];
    int n;
} order;

typedef struct tagged {
    order *o;
    int tag;
    uint64_t started;
    uint32_t after;
    int late; /* fired before its time */
} tagged;

static void on_tagged(rt_loop *loop, void *user)
{
    tagged *t = (tagged *)user;
    if (loop->now < t->started + t->after)
        t->late = 1;
    if (t->o->n < 16)
        t->o->seq[t->o->n++] = t->tag;
}

static void step_until(rt_loop *loop, const int *count, int target)
{
    int guard;
    for (guard = 0; guard < 10000 && *count < target; guard++)
        CHECK(rt_loop_step(loop, -1) >= 0);
    CHECK_EQ(*count, target);
}

RT_TEST(one_shot_timers_fire_in_deadline_order)
{
    rt_loop loop;
    rt_timer t[4];
    tagged tg[4];
    order o;
    uint32_t after[4] = {30, 10, 20, 0};
    int i, want[4] = {3, 1, 2, 0};
    alarm(WATCHDOG_S);
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    memset(t, 0, sizeof t);
    memset(&o, 0, sizeof o);
    for (i = 0; i < 4; i++) {
        tg[i].o = &o;
        tg[i].tag = i;
        tg[i].started = loop.now;
        tg[i].after = after[i];
        tg[i].late = 0;
        CHECK_EQ(rt_timer_start(&loop, &t[i], after[i], 0, on_tagged, &tg[i]), RT_OK);
        CHECK(rt_timer_active(&t[i]));
    }
    step_until(&loop, &o.n, 4);
    for (i = 0; i < 4; i++) {
        CHECK_EQ(o.seq[i], want[i]);
        CHECK(!rt_timer_active(&t[i]));
        CHECK(!tg[i].late);
    }
    CHECK_EQ(rt_loop_step(&loop, 0), 0);
    rt_loop_deinit(&loop);
    alarm(0);
}

typedef struct rep {
    rt_timer t;
    uint64_t sched; /* when this firing was due */
    int fired;
    int bad;
} rep;

/* The exact re-arm rule: next = scheduled + period, unless that is not in
 * the future, then now + period. Checked on every firing, whatever the
 * machine's delays were. */
static void on_rep(rt_loop *loop, void *user)
{
    rep *r = (rep *)user;
    uint64_t next = r->sched + r->t.repeat_ms;
    if (next <= loop->now)
        next = loop->now + r->t.repeat_ms;
    if (loop->now < r->sched || r->t.when != next)
        r->bad++;
    r->sched = r->t.when;
    if (++r->fired == 5)
        rt_timer_stop(loop, &r->t);
}

RT_TEST(repeating_timer_keeps_its_schedule_and_stops_itself)
{
    rt_loop loop;
    rep r;
    alarm(WATCHDOG_S);
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    memset(&r, 0, sizeof r);
    CHECK_EQ(rt_timer_start(&loop, &r.t, 10, 10, on_rep, &r), RT_OK);
    r.sched = r.t.when;
    CHECK_EQ(r.sched, loop.now + 10);
    step_until(&loop, &r.fired, 5);
    CHECK_EQ(r.bad, 0);
    CHECK(!rt_timer_active(&r.t));
    CHECK_EQ(loop._timers.n, 0);
    rt_loop_deinit(&loop);
    alarm(0);
}

RT_TEST(a_slightly_late_repeating_timer_does_not_drift)
{
    rt_loop loop;
    rep r;
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    memset(&r, 0, sizeof r);
    CHECK_EQ(rt_timer_start(&loop, &r.t, 10, 1000, on_rep, &r), RT_OK);
    r.sched = r.t.when;
    sleep_ms(20); /* late by 10 ms or more, but (surely) by less than a period */
    CHECK_EQ(rt_loop_step(&loop, 0), 1);
    CHECK(loop.now > r.t.when - 1000); /* it really was late */
    CHECK_EQ(r.bad, 0);                /* so `when` must be the old one + 1000 */
    rt_loop_deinit(&loop);
}

RT_TEST(a_late_repeating_timer_fires_once_not_in_a_burst)
{
    rt_loop loop;
    rep r;
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    memset(&r, 0, sizeof r);
    CHECK_EQ(rt_timer_start(&loop, &r.t, 5, 5, on_rep, &r), RT_OK);
    r.sched = r.t.when;
    sleep_ms(60); /* twelve periods missed */
    CHECK_EQ(rt_loop_step(&loop, 0), 1);
    CHECK_EQ(r.fired, 1);
    CHECK_EQ(r.bad, 0);
    CHECK_EQ(r.t.when, loop.now + 5);
    rt_loop_deinit(&loop);
}

typedef struct saboteur {
    rt_timer self, victim, again;
    int self_fired, victim_fired, again_fired;
} saboteur;

static void on_self(rt_loop *loop, void *user)
{
    saboteur *s = (saboteur *)user;
    s->self_fired++;
    rt_timer_stop(loop, &s->victim);
    rt_timer_stop(loop, &s->self); /* a repeating timer stopping itself */
}

static void on_victim(rt_loop *loop, void *user)
{
    (void)loop;
    ((saboteur *)user)->victim_fired++;
}

static void on_again(rt_loop *loop, void *user)
{
    saboteur *s = (saboteur *)user;
    if (++s->again_fired == 1)
        CHECK_EQ(rt_timer_start(loop, &s->again, 5, 0, on_again, s), RT_OK);
}

RT_TEST(a_timer_stops_itself_and_another_and_one_restarts_itself)
{
    rt_loop loop;
    saboteur s;
    alarm(WATCHDOG_S);
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    memset(&s, 0, sizeof s);
    CHECK_EQ(rt_timer_start(&loop, &s.self, 10, 10, on_self, &s), RT_OK);
    CHECK_EQ(rt_timer_start(&loop, &s.victim, 20, 0, on_victim, &s), RT_OK);
    CHECK_EQ(rt_timer_start(&loop, &s.again, 30, 0, on_again, &s), RT_OK);
    step_until(&loop, &s.again_fired, 2);
    CHECK_EQ(s.self_fired, 1);
    CHECK_EQ(s.victim_fired, 0);
    CHECK(!rt_timer_active(&s.self) && !rt_timer_active(&s.victim));
    CHECK(!rt_timer_active(&s.again));
    rt_loop_deinit(&loop);
    alarm(0);
}

typedef struct rival {
    rt_timer t;
    struct rival *other;
    int fired;
} rival;

static void on_rival(rt_loop *loop, void *user)
{
    rival *r = (rival *)user;
    r->fired++;
    rt_timer_stop(loop, &r->other->t);
}

RT_TEST(two_timers_due_together_the_first_stops_the_second)
{
    rt_loop loop;
    rival a, b;
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.other = &b;
    b.other = &a;
    CHECK_EQ(rt_timer_start(&loop, &a.t, 0, 0, on_rival, &a), RT_OK);
    CHECK_EQ(rt_timer_start(&loop, &b.t, 0, 0, on_rival, &b), RT_OK);
    CHECK_EQ(rt_loop_step(&loop, 0), 1);
    CHECK_EQ(a.fired + b.fired, 1);
    CHECK_EQ(loop._timers.n, 0);
    rt_loop_deinit(&loop);
}

static void on_zero_restart(rt_loop *loop, void *user)
{
    rival *r = (rival *)user;
    r->fired++;
    CHECK_EQ(rt_timer_start(loop, &r->t, 0, 0, on_zero_restart, r), RT_OK);
}

RT_TEST(a_timer_restarting_itself_at_zero_ms_runs_once_per_step)
{
    rt_loop loop;
    rival r;
    alarm(WATCHDOG_S);
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    memset(&r, 0, sizeof r);
    CHECK_EQ(rt_timer_start(&loop, &r.t, 0, 0, on_zero_restart, &r), RT_OK);
    CHECK_EQ(rt_loop_step(&loop, 0), 1);
    CHECK_EQ(rt_loop_step(&loop, -1), 1); /* due now: the wait is 0 */
    CHECK_EQ(r.fired, 2);
    rt_timer_stop(&loop, &r.t);
    rt_loop_deinit(&loop);
    alarm(0);
}

RT_TEST(the_wait_is_the_shorter_of_the_callers_and_the_next_timers)
{
    rt_loop loop;
    rt_timer t;
    order o;
    tagged tg;
    uint64_t t0;
    alarm(WATCHDOG_S);
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    memset(&t, 0, sizeof t);
    memset(&o, 0, sizeof o);
    memset(&tg, 0, sizeof tg);
    tg.o = &o;
    t0 = rt_time_ms();
    CHECK_EQ(rt_loop_step(&loop, 20), 0); /* no timer: the caller's 20 ms */
    CHECK(rt_time_ms() - t0 >= 20);
    CHECK_EQ(rt_timer_start(&loop, &t, 100000, 0, on_tagged, &tg), RT_OK);
    t0 = rt_time_ms();
    CHECK_EQ(rt_loop_step(&loop, 20), 0); /* the caller's 20 ms is shorter */
    CHECK(rt_time_ms() - t0 >= 20);
    tg.started = loop.now;
    tg.after = 30;
    CHECK_EQ(rt_timer_start(&loop, &t, 30, 0, on_tagged, &tg), RT_OK); /* restart */
    /* -1: the timer's 30 ms is shorter, and the step that waited runs it */
    CHECK_EQ(rt_loop_step(&loop, -1), 1);
    CHECK_EQ(o.n, 1);
    CHECK(!tg.late);
    CHECK_EQ(loop._timers.n, 0);
    rt_loop_deinit(&loop);
    alarm(0);
}

static void on_stop_third(rt_loop *loop, void *user)
{
    int *n = (int *)user;
    if (++*n == 3)
        rt_loop_stop(loop);
}

RT_TEST(run_returns_after_stop)
{
    rt_loop loop;
    rt_timer t;
    int n = 0;
    alarm(WATCHDOG_S);
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    memset(&t, 0, sizeof t);
    CHECK_EQ(rt_timer_start(&loop, &t, 1, 1, on_stop_third, &n), RT_OK);
    CHECK_EQ(rt_loop_run(&loop), RT_OK);
    CHECK_EQ(n, 3);
    rt_timer_stop(&loop, &t);
    rt_loop_deinit(&loop);
    alarm(0);
}

/* ---- hooks --------------------------------------------------------------- */

typedef struct trace {
    char log[32];
    int n;
    int fd_to_wake; /* a hook writes one byte here the first time it runs */
} trace;

static void trace_put(trace *t, char c)
{
    if (t->n < (int)sizeof t->log - 1)
        t->log[t->n++] = c;
}

static void on_trace_io(rt_loop *loop, int fd, unsigned events, void *user)
{
    char c;
    (void)loop;
    (void)events;
    CHECK_EQ(read(fd, &c, 1), 1);
    trace_put((trace *)user, 'I');
}

static void on_trace_timer(rt_loop *loop, void *user)
{
    (void)loop;
    trace_put((trace *)user, 'T');
}

static void on_trace_hook(rt_loop *loop, void *user)
{
    trace *t = (trace *)user;
    (void)loop;
    trace_put(t, 'H');
    if (t->fd_to_wake >= 0) {
        put_byte(t->fd_to_wake);
        t->fd_to_wake = -1;
    }
}

/* The hook writes before the wait, so the step does not sleep on output the
 * hook has just made; then the fd, the timer, and the hook again. */
RT_TEST(hooks_run_before_the_wait_and_after_the_callbacks)
{
    rt_loop loop;
    rt_loop_hook h;
    rt_timer t;
    trace tr;
    int p[2];
    alarm(WATCHDOG_S);
    memset(&tr, 0, sizeof tr);
    memset(&t, 0, sizeof t);
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    make_pipe(p);
    tr.fd_to_wake = p[1];
    CHECK_EQ(rt_loop_add(&loop, p[0], RT_IO_READ, on_trace_io, &tr), RT_OK);
    CHECK_EQ(rt_timer_start(&loop, &t, 0, 0, on_trace_timer, &tr), RT_OK);
    rt_loop_hook_add(&loop, &h, on_trace_hook, &tr);
    rt_loop_hook_add(&loop, &h, on_trace_hook, &tr); /* again: still once */
    CHECK_EQ(rt_loop_step(&loop, -1), 2);
    CHECK_STR(tr.log, "HITH");
    rt_loop_hook_del(&loop, &h);
    rt_loop_hook_del(&loop, &h); /* twice: a no-op */
    CHECK_EQ(rt_loop_step(&loop, 0), 0);
    CHECK_STR(tr.log, "HITH");
    rt_loop_deinit(&loop);
    close_pipe(p);
    alarm(0);
}

typedef struct hooks3 {
    rt_loop_hook h[3];
    int runs[3];
} hooks3;

static void on_hook_quit(rt_loop *loop, void *user)
{
    hooks3 *k = (hooks3 *)user;
    k->runs[1]++;
    rt_loop_hook_del(loop, &k->h[1]); /* removes itself while hooks run */
}

static void on_hook_count0(rt_loop *loop, void *user)
{
    (void)loop;
    ((hooks3 *)user)->runs[0]++;
}

static void on_hook_count2(rt_loop *loop, void *user)
{
    (void)loop;
    ((hooks3 *)user)->runs[2]++;
}

RT_TEST(a_hook_removing_itself_leaves_the_others_running)
{
    rt_loop loop;
    hooks3 k;
    memset(&k, 0, sizeof k);
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    rt_loop_hook_add(&loop, &k.h[0], on_hook_count0, &k);
    rt_loop_hook_add(&loop, &k.h[1], on_hook_quit, &k);
    rt_loop_hook_add(&loop, &k.h[2], on_hook_count2, &k);
    CHECK_EQ(rt_loop_step(&loop, 0), 0);
    CHECK_EQ(rt_loop_step(&loop, 0), 0);
    CHECK_EQ(k.runs[0], 4); /* before and after the wait, two steps */
    CHECK_EQ(k.runs[1], 1);
    CHECK_EQ(k.runs[2], 4);
    rt_loop_deinit(&loop);
}

/* ---- the heap under 10,000 timers ----------------------------------------- */

#define NTIMERS 10000

typedef struct many {
    rt_timer t[NTIMERS];
    uint64_t last_when;
    int fired, disorder, inactive_fired;
    char on[NTIMERS];
} many;

static void check_heap(const rt_loop *loop, const many *m)
{
    size_t i, active = 0;
    int bad = 0;
    const rt_timer *const *heap = (const rt_timer *const *)loop->_timers._items;
    for (i = 0; i < loop->_timers.n; i++) {
        bad += heap[i]->_heap_index != i + 1;
        bad += i > 0 && heap[(i - 1) / 2]->when > heap[i]->when;
    }
    for (i = 0; i < NTIMERS; i++) {
        active += m->on[i] != 0;
        bad += (m->on[i] != 0) != rt_timer_active(&m->t[i]);
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(active, loop->_timers.n);
}

/* Each timer's user: the shared record and the timer's number. */
typedef struct one {
    many *m;
    int i;
} one;

static void on_one(rt_loop *loop, void *user)
{
    one *o = (one *)user;
    many *m = o->m;
    (void)loop;
    if (m->t[o->i].when < m->last_when)
        m->disorder++;
    m->last_when = m->t[o->i].when;
    if (!m->on[o->i])
        m->inactive_fired++;
    m->on[o->i] = 0;
    m->fired++;
}

RT_TEST(ten_thousand_timers_random_start_stop_keep_the_heap)
{
    static many m;
    static one ones[NTIMERS];
    rt_loop loop;
    uint32_t seed = 2463534242u;
    int k, i, active = 0;
    alarm(WATCHDOG_S);
    memset(&m, 0, sizeof m);
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    for (k = 0; k < 60000; k++) {
        i = (int)(xorshift(&seed) % NTIMERS);
        ones[i].m = &m;
        ones[i].i = i;
        if (m.on[i] && xorshift(&seed) % 3 == 0) {
            rt_timer_stop(&loop, &m.t[i]);
            m.on[i] = 0;
        } else {
            uint32_t after = xorshift(&seed) % 200;
            CHECK_EQ(rt_timer_start(&loop, &m.t[i], after, 0, on_one, &ones[i]), RT_OK);
            m.on[i] = 1;
        }
        if (k % 5000 == 0)
            check_heap(&loop, &m);
    }
    check_heap(&loop, &m);
    for (i = 0; i < NTIMERS; i++)
        active += m.on[i];
    step_until(&loop, &m.fired, active);
    CHECK_EQ(m.disorder, 0);
    CHECK_EQ(m.inactive_fired, 0);
    CHECK_EQ(loop._timers.n, 0);
    rt_loop_deinit(&loop);
    alarm(0);
}

/* ---- rt_loop_post -------------------------------------------------------- */

#define NTHREADS 4
#define NPOSTS 10000

typedef struct posts {
    rt_loop *loop;
    int next[NTHREADS]; /* loop thread only */
    int disorder, total;
    int again[NTHREADS], failed[NTHREADS]; /* each written by its thread */
} posts;

typedef struct poster {
    posts *p;
    int id;
} poster;

static posts *the_posts; /* read by on_post: fn gets only arg */

static void on_post(rt_loop *loop, void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    int id = (int)(v >> 16), seq = (int)(v & 0xffff);
    (void)loop;
    if (seq != the_posts->next[id])
        the_posts->disorder++;
    the_posts->next[id] = seq + 1;
    the_posts->total++;
}

static void *poster_main(void *arg)
{
    poster *me = (poster *)arg;
    int i;
    for (i = 0; i < NPOSTS; i++) {
        void *v = (void *)(((uintptr_t)me->id << 16) | (uintptr_t)i);
        rt_result r;
        while ((r = rt_loop_post(me->p->loop, on_post, v)) == RT_AGAIN) {
            me->p->again[me->id]++;
            sched_yield();
        }
        me->p->failed[me->id] += r != RT_OK;
    }
    return NULL;
}

RT_TEST(four_threads_post_ten_thousand_calls_each_all_run_once_in_order)
{
    static posts p;
    poster who[NTHREADS];
    pthread_t th[NTHREADS];
    rt_loop loop;
    long steps = 0, ran = 0;
    int i;
    alarm(WATCHDOG_S);
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    memset(&p, 0, sizeof p);
    p.loop = &loop;
    the_posts = &p;
    for (i = 0; i < NTHREADS; i++) {
        who[i].p = &p;
        who[i].id = i;
        CHECK_EQ(pthread_create(&th[i], NULL, poster_main, &who[i]), 0);
    }
    while (p.total < NTHREADS * NPOSTS) { /* no timer, no fd: only posts wake it */
        rt_result r = rt_loop_step(&loop, -1);
        CHECK(r >= 0);
        ran += r;
        steps++;
    }
    for (i = 0; i < NTHREADS; i++) {
        CHECK_EQ(pthread_join(th[i], NULL), 0);
        CHECK_EQ(p.next[i], NPOSTS);
        CHECK_EQ(p.failed[i], 0);
    }
    CHECK_EQ(p.disorder, 0);
    CHECK_EQ(ran, NTHREADS * NPOSTS);
    CHECK_EQ(rt_loop_step(&loop, 0), 0); /* nothing left over */
    printf("# %ld steps; posters saw RT_AGAIN %d times\n", steps,
           p.again[0] + p.again[1] + p.again[2] + p.again[3]);
    rt_loop_deinit(&loop);
    alarm(0);
}

static void *late_poster(void *arg)
{
    posts *p = (posts *)arg;
    sleep_ms(30);
    p->failed[0] = rt_loop_post(p->loop, on_post, NULL) != RT_OK;
    return NULL;
}

RT_TEST(a_post_wakes_a_loop_blocked_without_timers)
{
    static posts p;
    rt_loop loop;
    pthread_t th;
    alarm(WATCHDOG_S);
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    memset(&p, 0, sizeof p);
    p.loop = &loop;
    the_posts = &p;
    CHECK_EQ(pthread_create(&th, NULL, late_poster, &p), 0);
    CHECK_EQ(rt_loop_step(&loop, -1), 1);
    CHECK_EQ(p.total, 1);
    CHECK_EQ(pthread_join(th, NULL), 0);
    CHECK_EQ(p.failed[0], 0);
    rt_loop_deinit(&loop);
    alarm(0);
}

RT_TEST(a_full_pipe_gives_again_and_every_accepted_call_runs)
{
    static posts p;
    rt_loop loop;
    int n = 0, guard;
    rt_result r;
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    memset(&p, 0, sizeof p);
    the_posts = &p;
    while ((r = rt_loop_post(&loop, on_post, (void *)(uintptr_t)(n & 0xffff))) == RT_OK)
        n++;
    CHECK_EQ(r, RT_AGAIN);
    CHECK(n > 0);
    for (guard = 0; guard < 100000 && p.total < n; guard++)
        CHECK(rt_loop_step(&loop, 0) > 0);
    CHECK_EQ(p.total, n);
    CHECK_EQ(rt_loop_post(&loop, on_post, (void *)(uintptr_t)(n & 0xffff)), RT_OK);
    CHECK_EQ(rt_loop_step(&loop, 0), 1);
    CHECK_EQ(p.disorder, 0);
    rt_loop_deinit(&loop);
}

/* ---- signals ------------------------------------------------------------- */

static volatile sig_atomic_t signals_seen;
static volatile int stop_signalling;

static void on_signal(int sig)
{
    (void)sig;
    signals_seen++;
}

static void *signaller(void *arg)
{
    pthread_t target = *(pthread_t *)arg;
    while (!stop_signalling) {
        pthread_kill(target, SIGUSR1);
        sleep_ms(2);
    }
    return NULL;
}

RT_TEST(a_signal_during_the_wait_is_not_an_error)
{
    struct sigaction sa;
    pthread_t self = pthread_self(), th;
    rt_loop loop;
    alarm(WATCHDOG_S);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* stays installed: a late signal must not kill us */
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    stop_signalling = 0;
    CHECK_EQ(pthread_create(&th, NULL, signaller, &self), 0);
    CHECK_EQ(rt_loop_step(&loop, 30000), 0);
    stop_signalling = 1;
    CHECK_EQ(pthread_join(th, NULL), 0);
    CHECK(signals_seen > 0);
    CHECK_EQ(rt_loop_step(&loop, 0), 0); /* still usable */
    rt_loop_deinit(&loop);
    alarm(0);
}

/* ---- memory -------------------------------------------------------------- */

typedef struct counting {
    long calls;   /* alloc + realloc */
    long live;    /* bytes: what frees report must add up to what was taken */
    long fail_at; /* the call number that fails; -1 never */
} counting;

static void *count_alloc(void *user, size_t n)
{
    counting *c = (counting *)user;
    if (c->calls++ == c->fail_at)
        return NULL;
    c->live += (long)n;
    return malloc(n);
}

static void *count_realloc(void *user, void *p, size_t old_n, size_t new_n)
{
    counting *c = (counting *)user;
    void *q;
    if (c->calls++ == c->fail_at)
        return NULL;
    q = realloc(p, new_n);
    if (q)
        c->live += (long)new_n - (long)old_n;
    return q;
}

static void count_free(void *user, void *p, size_t n)
{
    ((counting *)user)->live -= (long)n;
    free(p);
}

static void counting_init(rt_allocator *a, counting *c, long fail_at)
{
    c->calls = 0;
    c->live = 0;
    c->fail_at = fail_at;
    a->alloc = count_alloc;
    a->realloc = count_realloc;
    a->free = count_free;
    a->user = c;
}

static void on_read_one(rt_loop *loop, int fd, unsigned events, void *user)
{
    char c;
    (void)loop;
    (void)events;
    CHECK_EQ(read(fd, &c, 1), 1);
    ((hit *)user)->calls++;
}

static void on_nothing(rt_loop *loop, void *user)
{
    (void)loop;
    ++*(int *)user;
}

/* One round of the steady state: fd events, a del and re-add, a timer
 * restart, a post. None of it may allocate once the arrays have grown. */
static void steady_round(rt_loop *loop, int p[3][2], hit *h, rt_timer *t, int *ticks)
{
    int i;
    for (i = 0; i < 3; i++)
        put_byte(p[i][1]);
    rt_loop_del(loop, p[1][0]);
    CHECK_EQ(rt_loop_add(loop, p[1][0], RT_IO_READ, on_read_one, h), RT_OK);
    CHECK_EQ(rt_timer_start(loop, t, 0, 0, on_nothing, ticks), RT_OK);
    CHECK_EQ(rt_loop_post(loop, on_nothing, ticks), RT_OK);
    CHECK_EQ(rt_loop_step(loop, 1000), 5);
}

RT_TEST(steady_state_steps_do_not_allocate_and_deinit_frees_it_all)
{
    rt_allocator a;
    counting c;
    rt_loop loop;
    rt_timer t;
    hit h = {0, 0, 0};
    int p[3][2], i, ticks = 0;
    long warm;
    counting_init(&a, &c, -1);
    memset(&t, 0, sizeof t);
    CHECK_EQ(rt_loop_init(&loop, &a), RT_OK);
    for (i = 0; i < 3; i++) {
        make_pipe(p[i]);
        CHECK_EQ(rt_loop_add(&loop, p[i][0], RT_IO_READ, on_read_one, &h), RT_OK);
    }
    steady_round(&loop, p, &h, &t, &ticks);
    warm = c.calls;
    for (i = 0; i < 100; i++)
        steady_round(&loop, p, &h, &t, &ticks);
    CHECK_EQ(c.calls, warm);
    CHECK_EQ(h.calls, 101 * 3);
    CHECK_EQ(ticks, 101 * 2);
    rt_loop_deinit(&loop);
    CHECK_EQ(c.live, 0);
    for (i = 0; i < 3; i++)
        close_pipe(p[i]);
}

/* With the k-th allocation failing, for every k: each call either works or
 * says RT_E_NOMEM, the loop stays usable, and deinit returns every byte. */
static void oom_round(long fail_at, int high)
{
    rt_allocator a;
    counting c;
    rt_loop loop;
    rt_timer t[20];
    hit h = {0, 0, 0};
    int i, ok = 0, registered;
    rt_result r;
    counting_init(&a, &c, fail_at);
    memset(t, 0, sizeof t);
    r = rt_loop_init(&loop, &a);
    CHECK(r == RT_OK || r == RT_E_NOMEM);
    if (r == RT_OK) {
        r = rt_loop_add(&loop, high, RT_IO_READ, on_io, &h);
        CHECK(r == RT_OK || r == RT_E_NOMEM);
        CHECK_EQ(rt_loop_mod(&loop, high, RT_IO_READ), r == RT_OK ? RT_OK : RT_E_NOTFOUND);
        for (i = 0; i < 20; i++) {
            r = rt_timer_start(&loop, &t[i], 100000, 0, on_nothing, &ok);
            CHECK(r == RT_OK || r == RT_E_NOMEM);
            CHECK_EQ(rt_timer_active(&t[i]), r == RT_OK);
        }
        registered = rt_loop_mod(&loop, high, RT_IO_READ) == RT_OK;
        CHECK_EQ(rt_loop_step(&loop, 0), registered);
        c.fail_at = -1; /* memory is back: everything works again */
        rt_loop_del(&loop, high);
        CHECK_EQ(rt_loop_add(&loop, high, RT_IO_READ, on_io, &h), RT_OK);
        CHECK_EQ(rt_loop_step(&loop, 0), 1);
        rt_loop_deinit(&loop);
    }
    CHECK_EQ(c.live, 0);
}

RT_TEST(allocation_failures_are_reported_and_leave_the_loop_usable)
{
    int p[2], high = 300;
    long k;
    make_pipe(p);
    put_byte(p[1]);
    CHECK_EQ(dup2(p[0], high), high); /* a high fd number makes _fds grow */
    for (k = 0; k < 16; k++)
        oom_round(k, high);
    close(high);
    close_pipe(p);
}

int main(void) { return rt_test_main(); }
