/* 03_chat.c - a chat server: rooms, presence and typing over WebSocket, SSE
 * and long polling.
 *
 * What it teaches: one rt_pubsub serves every transport at once, and a
 * message posted over any of them reaches subscribers on all of them;
 * rt_proto speaks the JSON protocol of docs/PROTOCOL.md to the browser page
 * (examples/web/chat.html with rt.js), with auth, presence and typing.
 *
 * Build and run:   make run            (or: make build/chat && ./build/chat --port 8080)
 * Try it:          open http://127.0.0.1:8080/ in two browser tabs
 *   websocat 'ws://127.0.0.1:8080/ws?room=lobby'             plain mode: lines in, lines out
 *   curl -N 'http://127.0.0.1:8080/sse?room=lobby'            the room as an event stream
 *   curl 'http://127.0.0.1:8080/poll?room=lobby&since=POS'    long poll from POS
 *   curl -d 'hello' 'http://127.0.0.1:8080/publish?room=lobby'
 *   ws://127.0.0.1:8080/ws?token=NAME                         the JSON protocol (rt.js)
 *
 * Positions ("<epoch>-<offset>") are opaque: the SSE id, the "pos" of a poll
 * or publish reply all go back as Last-Event-ID or since=. Options, for tests:
 *   --host ADDR (default 127.0.0.1) --port N --origin URL
 *   --rate-msgs N --rate-bytes N --accept-rate N (0 = no limit)
 *   --ping-ms MS --idle-ms MS --heartbeat-ms MS --presence-grace-ms MS --typing-ms MS
 */
#define RT_IMPLEMENTATION
#include "../rt.h"
#include "chat_html.h" /* examples/web/chat.html, embedded by the Makefile */
#include "rt_js.h"     /* examples/web/rt.js */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rt_loop loop;
static rt_server server;
static rt_pubsub rooms;
static rt_proto proto;

/* 1. Helpers: a query parameter as a view into buf. */
static rt_str query(const rt_http_request *req, const char *key, char *buf, size_t cap)
{
    rt_result n = rt_http_query_get(req->query, key, buf, cap);
    rt_str s;
    s.p = buf;
    s.n = n > 0 ? (size_t)n : 0;
    return s;
}

/* 2. Auth for the JSON protocol: in this demo the token is the user name
 *    (1-32 of [A-Za-z0-9_-]). A real application checks a signed token. */
static int auth(void *user, rt_str token, char *user_id, size_t cap)
{
    size_t i;
    (void)user;
    if (token.n < 1 || token.n > 32 || token.n >= cap)
        return 401;
    for (i = 0; i < token.n; i++) {
        char ch = token.p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return 401;
    }
    memcpy(user_id, token.p, token.n);
    user_id[token.n] = '\0';
    return 0;
}

/* Permissions for the protocol: "private.NAME" is NAME's room alone, and
 * only "admin" may post in "news". Refusals reach the client as errors. */
static int can_join(void *user, const char *user_id, rt_str room)
{
    rt_str owner;
    (void)user;
    if (room.n < 8 || memcmp(room.p, "private.", 8) != 0)
        return 1;
    owner.p = room.p + 8;
    owner.n = room.n - 8;
    return rt_str_eq(owner, rt_str_c(user_id));
}

static int can_publish(void *user, const char *user_id, rt_str room)
{
    (void)user;
    return !rt_str_eq(room, rt_str_c("news")) || strcmp(user_id, "admin") == 0;
}

/* 3. WebSocket: /ws?room=R is the plain mode (every text frame is published
 *    to R; the room name lives in the user pointer), /ws is the protocol.
 *    The user pointer is ours on protocol connections too (this demo needs
 *    none there). rt_proto_user(c) tells the protocol's connections apart. */
static int on_upgrade(rt_conn *c, const rt_http_request *req, void *user)
{
    char room[RT_ROOM_MAX_NAME + 1];
    rt_str r = query(req, "room", room, sizeof room);
    (void)user;
    if (!rt_str_eq(req->path, rt_str_c("/ws")))
        return 404;
    if (r.n == 0)
        return rt_proto_upgrade(&proto, c, req);
    return rt_room_name_valid(r) ? 0 : 400;
}

static void on_open(rt_conn *c, const rt_http_request *req, void *user)
{
    char room[RT_ROOM_MAX_NAME + 1], since[RT_ROOM_POS_MAX];
    rt_room_recovery rec;
    rt_str r = query(req, "room", room, sizeof room);
    char *copy;
    (void)user;
    if (rt_proto_user(c)) {
        rt_proto_open(&proto, c);
        return;
    }
    copy = (char *)malloc(r.n + 1);
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
    (void)user;
    if (rt_proto_user(c))
        rt_proto_message(&proto, c, data);
    else if (opcode == RT_WS_TEXT && rt_conn_user(c))
        rt_pubsub_publish(&rooms, rt_str_c((const char *)rt_conn_user(c)), data.p, data.n, NULL,
                          NULL);
}

static void on_close(rt_conn *c, unsigned code, rt_str reason, void *user)
{
    (void)code;
    (void)reason;
    (void)user;
    if (rt_proto_user(c))
        rt_proto_close(&proto, c); /* presence leaves after its grace period */
    free(rt_conn_user(c)); /* the room name, or NULL; the server leaves the rooms */
    rt_conn_set_user(c, NULL);
}

static void on_rate_limited(rt_conn *c, uint32_t retry_after_ms, void *user)
{
    (void)user;
    rt_proto_rate_limited(&proto, c, retry_after_ms); /* an error with retry_after */
}

/* 4. HTTP: the page and rt.js, SSE, long polling, publishing, and the
 *    protocol's SSE + POST transport under /rt/. */
static int publish(rt_conn *c, rt_str room, rt_str body)
{
    char json[64 + RT_ROOM_POS_MAX], pos[RT_ROOM_POS_MAX];
    rt_room_pos p;
    if (rt_pubsub_publish(&rooms, room, body.p, body.n, NULL, &p) != RT_OK)
        return 400;
    pos[rt_room_pos_format(p, pos)] = '\0';
    snprintf(json, sizeof json, "{\"pos\":\"%s\"}\n", pos);
    rt_conn_reply(c, 200, "application/json", json, strlen(json), NULL);
    return 0;
}

static int serve(rt_conn *c, const char *type, const char *body, size_t n)
{
    rt_conn_reply(c, 200, type, body, n, NULL);
    return 0;
}

static int on_http(rt_conn *c, const rt_http_request *req, rt_str body, void *user)
{
    char room_buf[RT_ROOM_MAX_NAME + 1], since_buf[RT_ROOM_POS_MAX], t[16];
    rt_str room = query(req, "room", room_buf, sizeof room_buf);
    rt_str since = query(req, "since", since_buf, sizeof since_buf);
    rt_str path = req->path;
    (void)user;
    if (rt_str_eq(path, rt_str_c("/")))
        return serve(c, "text/html; charset=utf-8", chat_html, sizeof chat_html - 1);
    if (rt_str_eq(path, rt_str_c("/rt.js")))
        return serve(c, "text/javascript; charset=utf-8", rt_js, sizeof rt_js - 1);
    if (path.n > 4 && memcmp(path.p, "/rt/", 4) == 0)
        return rt_proto_http(&proto, c, req, body);
    if (!rt_str_eq(path, rt_str_c("/sse")) && !rt_str_eq(path, rt_str_c("/poll")) &&
        !rt_str_eq(path, rt_str_c("/publish")))
        return 404;
    if (!rt_room_name_valid(room))
        return 400;
    if (rt_str_eq(path, rt_str_c("/publish")))
        return rt_str_eq(req->method, rt_str_c("POST")) ? publish(c, room, body) : 405;
    if (rt_str_eq(path, rt_str_c("/sse")))
        return rt_pubsub_sse(&rooms, c, req, room, since, NULL) == RT_OK ? 0 : 400;
    return rt_pubsub_poll(&rooms, c, room, since,
                          (uint32_t)strtoul(query(req, "timeout", t, sizeof t).n ? t : "0", NULL,
                                            10)) == RT_OK ? 0 : 400;
}

static void on_hold_timeout(rt_conn *c, void *user)
{
    (void)user;
    rt_pubsub_poll_expired(&rooms, c); /* {"recovered":true,"pos":...,"messages":[]} */
}

/* 5. Ctrl-C: shut down gracefully from the loop thread (see 01_echo.c). */
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

static const char *origins[2];

static void parse_args(int argc, char **argv, rt_server_config *cfg, rt_proto_config *pcfg)
{
    int i;
    for (i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i];
        uint32_t v = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        if (strcmp(a, "--host") == 0) cfg->host = argv[i + 1];
        else if (strcmp(a, "--port") == 0) cfg->port = (int)v;
        else if (strcmp(a, "--rate-msgs") == 0) cfg->rate_msgs = v;
        else if (strcmp(a, "--rate-bytes") == 0) cfg->rate_bytes = v;
        else if (strcmp(a, "--accept-rate") == 0) cfg->accept_rate = v;
        else if (strcmp(a, "--ping-ms") == 0) cfg->ping_interval_ms = v;
        else if (strcmp(a, "--idle-ms") == 0) cfg->idle_timeout_ms = v;
        else if (strcmp(a, "--heartbeat-ms") == 0) pcfg->heartbeat_ms = v;
        else if (strcmp(a, "--presence-grace-ms") == 0) pcfg->presence_grace_ms = v;
        else if (strcmp(a, "--typing-ms") == 0) pcfg->typing_ms = v;
        else if (strcmp(a, "--origin") == 0) origins[0] = argv[i + 1];
        else { fprintf(stderr, "chat: unknown option %s\n", a); exit(2); }
    }
}

int main(int argc, char **argv)
{
    rt_server_config cfg;
    rt_proto_config pcfg;
    rt_server_config_init(&cfg);
    memset(&pcfg, 0, sizeof pcfg);
    cfg.host = "127.0.0.1"; /* --host 0.0.0.0 to serve the network */
    cfg.port = 8080;
    cfg.rate_msgs = 100;          /* per connection: 100 messages/s, */
    cfg.rate_bytes = 1024 * 1024; /* 1 MiB/s, */
    cfg.accept_rate = 200;        /* and 200 new connections/s per address (0 = off) */
    parse_args(argc, argv, &cfg, &pcfg);
    cfg.origins = origins; /* the page's own origin is always accepted */
    cfg.cb.on_http = on_http;
    cfg.cb.on_upgrade = on_upgrade;
    cfg.cb.on_open = on_open;
    cfg.cb.on_message = on_message;
    cfg.cb.on_close = on_close;
    cfg.cb.on_rate_limited = on_rate_limited;
    cfg.cb.on_hold_timeout = on_hold_timeout;
    pcfg.auth = auth;
    pcfg.can_join = can_join;
    pcfg.can_publish = can_publish;

    /* 6. Loop, server, rooms, protocol: in that order up, reverse order down. */
    if (rt_loop_init(&loop, NULL) != RT_OK || rt_server_init(&server, &loop, &cfg) != RT_OK ||
        rt_pubsub_init(&rooms, &server, NULL) != RT_OK ||
        rt_proto_init(&proto, &rooms, &pcfg) != RT_OK) {
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
    rt_proto_deinit(&proto);
    rt_pubsub_deinit(&rooms);
    rt_loop_deinit(&loop);
    return 0;
}
