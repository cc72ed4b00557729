/* 02_clock.c - a clock that ticks in the browser: Server-Sent Events.
 *
 * What it teaches: a repeating timer on the loop, a room that the timer
 * publishes to, and SSE subscribers that resume where they left off (the
 * browser sends Last-Event-ID when it reconnects, and rt_pubsub_sse replays
 * the ticks it missed).
 *
 * Build and run:   make build/clock && ./build/clock --port 8080
 * Try it:          open http://127.0.0.1:8080/ , or
 *                  curl -N http://127.0.0.1:8080/clock
 */
#define RT_IMPLEMENTATION
#include "../rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char page[] =
    "<!doctype html><meta charset=utf-8><title>rt.h clock</title>\n"
    "<h1 id=t>...</h1>\n"
    "<script>\n"
    "new EventSource('/clock').onmessage = e => { t.textContent = e.data; };\n"
    "</script>\n";

static rt_pubsub rooms;

/* 1. Every second: publish the wall-clock time to the room "clock". */
static void tick(rt_loop *loop, void *user)
{
    char now[32];
    time_t t = time(NULL);
    size_t n = strftime(now, sizeof now, "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
    (void)loop;
    (void)user;
    rt_pubsub_publish(&rooms, rt_str_c("clock"), now, n, NULL, NULL);
}

/* 2. HTTP: the page on /, the event stream on /clock. */
static int on_http(rt_conn *c, const rt_http_request *req, rt_str body, void *user)
{
    (void)body;
    (void)user;
    if (rt_str_eq(req->path, rt_str_c("/"))) {
        rt_conn_reply(c, 200, "text/html; charset=utf-8", page, sizeof page - 1, NULL);
        return 0;
    }
    if (rt_str_eq(req->path, rt_str_c("/clock")))
        return rt_pubsub_sse(&rooms, c, req, rt_str_c("clock"), rt_str_c(NULL), NULL) ? 500 : 0;
    return 404;
}

int main(int argc, char **argv)
{
    rt_loop loop;
    rt_server server;
    rt_server_config cfg;
    rt_timer timer;
    rt_server_config_init(&cfg);
    memset(&timer, 0, sizeof timer);
    cfg.host = "127.0.0.1";
    cfg.port = argc > 2 && strcmp(argv[1], "--port") == 0 ? atoi(argv[2]) : 8080;
    cfg.cb.on_http = on_http;

    /* 3. Loop, server, rooms, and the timer that drives them. */
    if (rt_loop_init(&loop, NULL) != RT_OK || rt_server_init(&server, &loop, &cfg) != RT_OK ||
        rt_pubsub_init(&rooms, &server, NULL) != RT_OK ||
        rt_timer_start(&loop, &timer, 1000, 1000, tick, NULL) != RT_OK) {
        fprintf(stderr, "clock: cannot start on port %d\n", cfg.port);
        return 1;
    }
    printf("clock: listening on http://127.0.0.1:%d/\n", rt_server_port(&server));
    fflush(stdout);
    return rt_loop_run(&loop) == RT_OK ? 0 : 1;
}
