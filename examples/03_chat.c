/* 03_chat.c - a chat server: rooms over WebSocket, SSE and long polling.
 *
 * What it teaches: one rt_pubsub serves three transports at once; a message
 * posted over any of them reaches subscribers on all three, and a subscriber
 * that reconnects with the last position it saw gets exactly what it missed.
 *
 * Build and run:   make run            (or: make build/chat && ./build/chat --port 8080)
 * Try it:          open http://127.0.0.1:8080/ in two browser tabs
 *   websocat 'ws://127.0.0.1:8080/ws?room=lobby'             type lines, see everyone's
 *   curl -N 'http://127.0.0.1:8080/sse?room=lobby'            the event stream
 *   curl 'http://127.0.0.1:8080/poll?room=lobby&since=POS'    long poll from POS
 *   curl -d 'hello' 'http://127.0.0.1:8080/publish?room=lobby'
 *
 * Positions ("<epoch>-<offset>") are opaque: the SSE id, the "pos" of a poll
 * reply and of a publish reply all go back as Last-Event-ID or since=.
 */
#define RT_IMPLEMENTATION
#include "../rt.h"
#include "chat_html.h" /* examples/web/chat.html, embedded by the Makefile */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rt_loop loop;
static rt_server server;
static rt_pubsub rooms;

/* 1. Small helpers: a query parameter, and a JSON reply. */
static rt_str query(const rt_http_request *req, const char *key, char *buf, size_t cap)
{
    rt_result n = rt_http_query_get(req->query, key, buf, cap);
    rt_str s;
    s.p = buf;
    s.n = n > 0 ? (size_t)n : 0;
    return s;
}

static void reply_json(rt_conn *c, int status, const char *json)
{
    rt_conn_reply(c, status, "application/json", json, strlen(json), NULL);
}

/* 2. WebSocket: /ws?room=R joins R; every text frame is published to R. The
 *    room name lives in the connection's user pointer. */
static int on_upgrade(rt_conn *c, const rt_http_request *req, void *user)
{
    char room[RT_ROOM_MAX_NAME + 1];
    (void)c;
    (void)user;
    if (!rt_str_eq(req->path, rt_str_c("/ws")))
        return 404;
    return rt_room_name_valid(query(req, "room", room, sizeof room)) ? 0 : 400;
}

static void on_open(rt_conn *c, const rt_http_request *req, void *user)
{
    char room[RT_ROOM_MAX_NAME + 1], since[RT_ROOM_POS_MAX];
    rt_room_recovery rec;
    rt_str r = query(req, "room", room, sizeof room);
    char *copy = (char *)malloc(r.n + 1);
    (void)user;
    if (!copy || rt_pubsub_join(&rooms, c, r, query(req, "since", since, sizeof since), &rec)) {
        free(copy);
        rt_conn_close(c, RT_WS_CLOSE_POLICY, "cannot join");
        return;
    }
    memcpy(copy, r.p, r.n + 1);
    rt_conn_set_user(c, copy);
}

static void on_message(rt_conn *c, int opcode, rt_str data, void *user)
{
    const char *room = (const char *)rt_conn_user(c);
    (void)user;
    if (opcode == RT_WS_TEXT && room)
        rt_pubsub_publish(&rooms, rt_str_c(room), data.p, data.n, NULL, NULL);
}

static void on_close(rt_conn *c, unsigned code, rt_str reason, void *user)
{
    (void)code;
    (void)reason;
    (void)user;
    free(rt_conn_user(c)); /* the server leaves the rooms for us */
    rt_conn_set_user(c, NULL);
}

/* 3. HTTP: the page, SSE, long polling and publishing. */
static int publish(rt_conn *c, rt_str room, rt_str body)
{
    char json[64 + RT_ROOM_POS_MAX], pos[RT_ROOM_POS_MAX];
    rt_room_pos p;
    if (rt_pubsub_publish(&rooms, room, body.p, body.n, NULL, &p) != RT_OK)
        return 400;
    pos[rt_room_pos_format(p, pos)] = '\0';
    snprintf(json, sizeof json, "{\"pos\":\"%s\"}\n", pos);
    reply_json(c, 200, json);
    return 0;
}

static int on_http(rt_conn *c, const rt_http_request *req, rt_str body, void *user)
{
    char room_buf[RT_ROOM_MAX_NAME + 1], since_buf[RT_ROOM_POS_MAX], t[16];
    rt_str room = query(req, "room", room_buf, sizeof room_buf);
    rt_str since = query(req, "since", since_buf, sizeof since_buf);
    int post = rt_str_eq(req->method, rt_str_c("POST"));
    (void)user;
    if (rt_str_eq(req->path, rt_str_c("/"))) {
        rt_conn_reply(c, 200, "text/html; charset=utf-8", chat_html, sizeof chat_html - 1, NULL);
        return 0;
    }
    if (!rt_room_name_valid(room))
        return rt_str_eq(req->path, rt_str_c("/sse")) || rt_str_eq(req->path, rt_str_c("/poll")) ||
               rt_str_eq(req->path, rt_str_c("/publish")) ? 400 : 404;
    if (rt_str_eq(req->path, rt_str_c("/publish")))
        return post ? publish(c, room, body) : 405;
    if (rt_str_eq(req->path, rt_str_c("/sse")))
        return rt_pubsub_sse(&rooms, c, req, room, since, NULL) == RT_OK ? 0 : 400;
    if (rt_str_eq(req->path, rt_str_c("/poll"))) {
        uint32_t timeout = (uint32_t)strtoul(query(req, "timeout", t, sizeof t).n ? t : "0", NULL, 10);
        return rt_pubsub_poll(&rooms, c, room, since, timeout) == RT_OK ? 0 : 400;
    }
    return 404;
}

static void on_hold_timeout(rt_conn *c, void *user)
{
    (void)user;
    rt_pubsub_poll_expired(&rooms, c); /* {"recovered":true,"pos":...,"messages":[]} */
}

/* 4. Ctrl-C: shut down gracefully from the loop thread (see 01_echo.c). */
static void begin_shutdown(rt_loop *l, void *arg)
{
    (void)l;
    (void)arg;
    rt_server_shutdown(&server, 2000);
}

static void on_signal(int sig)
{
    (void)sig;
    rt_loop_post(&loop, begin_shutdown, NULL);
}

int main(int argc, char **argv)
{
    rt_server_config cfg;
    int i;
    memset(&cfg, 0, sizeof cfg);
    cfg.host = "0.0.0.0";
    cfg.port = 8080;
    for (i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--port") == 0)
            cfg.port = atoi(argv[i + 1]);
    }
    cfg.cb.on_http = on_http;
    cfg.cb.on_upgrade = on_upgrade;
    cfg.cb.on_open = on_open;
    cfg.cb.on_message = on_message;
    cfg.cb.on_close = on_close;
    cfg.cb.on_hold_timeout = on_hold_timeout;

    /* 5. Loop, server, rooms: in that order up, the reverse order down. */
    if (rt_loop_init(&loop, NULL) != RT_OK || rt_server_init(&server, &loop, &cfg) != RT_OK ||
        rt_pubsub_init(&rooms, &server, NULL) != RT_OK) {
        fprintf(stderr, "chat: cannot start on port %d\n", cfg.port);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("chat: listening on http://127.0.0.1:%d/\n", rt_server_port(&server));
    fflush(stdout);
    while (!rt_server_done(&server)) {
        if (rt_loop_step(&loop, 1000) < 0)
            break;
    }
    rt_server_deinit(&server);
    rt_pubsub_deinit(&rooms);
    rt_loop_deinit(&loop);
    return 0;
}
