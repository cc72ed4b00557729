/* Unit tests for the application's platform hooks: RT_CLOCK_MS() and
 * RT_RANDOM(buf, n), defined here before the implementation as a device
 * with its own tick counter and hardware RNG would define them. The clock
 * is a variable the test advances, so the loop's timers must fire by it
 * (real time hardly moves); the random source is a fixed pattern, so the
 * rooms' seeds must come out as computed here. */
#define _POSIX_C_SOURCE 200809L /* rt.h would define it, but a header comes first */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static uint64_t fake_now = 5000;
static int random_calls;

/* The "hardware RNG": the same bytes every time. */
static void fake_bytes(void *buf, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        ((unsigned char *)buf)[i] = (unsigned char)(0xA5 ^ (i * 29));
}

static void fake_random(void *buf, size_t n)
{
    random_calls++;
    fake_bytes(buf, n);
}

#define RT_CLOCK_MS() fake_now
#define RT_RANDOM(buf, n) fake_random(buf, n)
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../rt_test.h"

#include <signal.h>
#include <unistd.h>

#define WATCHDOG_S 60

static void count(rt_loop *loop, void *user)
{
    (void)loop;
    ++*(int *)user;
}

RT_TEST(the_loop_reads_the_replaced_clock)
{
    rt_loop loop;
    fake_now = 5000;
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    CHECK_EQ(loop.now, 5000);
    CHECK_EQ(rt_time_ms(), 5000);
    fake_now = 123456789;
    CHECK_EQ(rt_loop_step(&loop, 0), 0);
    CHECK_EQ(loop.now, 123456789);
    rt_loop_deinit(&loop);
}

/* The timers fire by the fake clock, to the millisecond, while the real one
 * stands still: with the system clock they could not have fired yet. */
RT_TEST(timers_fire_by_the_replaced_clock)
{
    rt_loop loop;
    rt_timer once, every;
    int fired_once = 0, fired_every = 0;
    fake_now = 1000;
    memset(&once, 0, sizeof once);
    memset(&every, 0, sizeof every);
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    CHECK_EQ(rt_timer_start(&loop, &once, 60000, 0, count, &fired_once), RT_OK);
    CHECK_EQ(rt_timer_start(&loop, &every, 100, 100, count, &fired_every), RT_OK);
    fake_now += 99;
    CHECK_EQ(rt_loop_step(&loop, 0), 0);
    fake_now += 1;
    CHECK_EQ(rt_loop_step(&loop, 0), 1);
    CHECK_EQ(fired_every, 1);
    fake_now += 100;
    CHECK_EQ(rt_loop_step(&loop, 0), 1);
    CHECK_EQ(fired_every, 2);
    fake_now = 1000 + 60000 - 1;
    rt_timer_stop(&loop, &every);
    CHECK_EQ(rt_loop_step(&loop, 0), 0);
    CHECK_EQ(fired_once, 0);
    fake_now += 1;
    /* Due by the fake clock, so the wait is cut to nothing: a loop on the
     * real clock would wait the 5 s out and run nothing. */
    CHECK_EQ(rt_loop_step(&loop, 5000), 1);
    CHECK_EQ(fired_once, 1);
    rt_loop_deinit(&loop);
}

/* rt_pubsub seeds its rooms from the clock and RT_RANDOM: with both fixed,
 * the seeds are known exactly. */
RT_TEST(room_seeds_come_from_the_replaced_random_source)
{
    rt_loop loop;
    rt_server srv;
    rt_server_config cfg;
    rt_pubsub ps;
    uint64_t r, expect;
    fake_now = 777;
    memset(&cfg, 0, sizeof cfg);
    cfg.host = "127.0.0.1";
    CHECK_EQ(rt_loop_init(&loop, NULL), RT_OK);
    CHECK_EQ(rt_server_init(&srv, &loop, &cfg), RT_OK);
    random_calls = 0;
    CHECK_EQ(rt_pubsub_init(&ps, &srv, NULL), RT_OK);
    CHECK_EQ(random_calls, 2); /* the epoch seed and the hash seed */
    fake_bytes(&r, sizeof r);
    expect = (uint64_t)777 * 0x9E3779B97F4A7C15ull ^ r;
    CHECK_EQ(ps.rooms.settings.epoch_seed, expect);
    CHECK_EQ(ps.rooms.settings.hash_seed, expect);
    rt_pubsub_deinit(&ps);
    rt_server_deinit(&srv);
    rt_loop_deinit(&loop);
}

int main(void)
{
    alarm(WATCHDOG_S);
    return rt_test_main();
}
