/* A server with every feature switch but RT_NO_IO (no SSE, no long poll, no
 * presence, no protocol): what is left must still serve. It answers one
 * HTTP request, then upgrades a second connection to a WebSocket that joins
 * a room, and checks that a message it sends comes back through the room
 * (pubsub's WebSocket path). Exits 0 when all of that worked. */
#define RT_IMPLEMENTATION
#include "../../rt.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static rt_pubsub ps;

static int on_http(rt_conn *c, const rt_http_request *req, rt_str body, void *user)
{
    (void)req;
    (void)body;
    (void)user;
    rt_conn_reply(c, 200, "text/plain", "ok", 2, NULL);
    return 0;
}

static void on_open(rt_conn *c, const rt_http_request *req, void *user)
{
    rt_room_recovery rec;
    (void)req;
    (void)user;
    rt_pubsub_join(&ps, c, rt_str_c("lobby"), rt_str_c(NULL), &rec);
}

static void on_message(rt_conn *c, int opcode, rt_str data, void *user)
{
    (void)c;
    (void)opcode;
    (void)user;
    rt_pubsub_publish(&ps, rt_str_c("lobby"), data.p, data.n, NULL, NULL);
}

/* 1 when want (n bytes) occurs in buf (len bytes). */
static int has(const char *buf, size_t len, const char *want, size_t n)
{
    size_t i;
    for (i = 0; i + n <= len; i++) {
        if (memcmp(buf + i, want, n) == 0)
            return 1;
    }
    return 0;
}

/* Connects to the server, sends req, and steps the loop until the answer
 * holds want (or 2 s pass). */
static int ask(rt_loop *loop, int port, const char *req, size_t n, const char *want,
               size_t want_n)
{
    struct sockaddr_in a;
    char buf[1024];
    size_t got = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0), i, ok = 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        send(fd, req, n, 0) != (ssize_t)n)
        return 0;
    for (i = 0; i < 200 && !ok; i++) {
        ssize_t r;
        rt_loop_step(loop, 10);
        r = recv(fd, buf + got, sizeof buf - got, MSG_DONTWAIT);
        if (r > 0)
            got += (size_t)r;
        ok = has(buf, got, want, want_n);
    }
    close(fd);
    return ok;
}

int main(void)
{
    static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    /* the upgrade, then a masked text frame "hi" (mask 0) in the same write */
    static const char ws[] = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                             "\x81\x82\0\0\0\0hi";
    rt_loop loop;
    rt_server srv;
    rt_server_config cfg;
    int ok;
    memset(&cfg, 0, sizeof cfg);
    cfg.host = "127.0.0.1";
    cfg.cb.on_http = on_http;
    cfg.cb.on_open = on_open;
    cfg.cb.on_message = on_message;
    if (rt_loop_init(&loop, NULL) != RT_OK || rt_server_init(&srv, &loop, &cfg) != RT_OK ||
        rt_pubsub_init(&ps, &srv, NULL) != RT_OK) {
        puts("setup failed");
        return 1;
    }
    ok = ask(&loop, rt_server_port(&srv), get, sizeof get - 1, "\r\n\r\nok", 6);
    if (!ok)
        puts("no HTTP answer");
    /* the room's message: an unmasked text frame of 2 bytes */
    if (ok && !(ok = ask(&loop, rt_server_port(&srv), ws, sizeof ws - 1, "\r\n\r\n\x81\x02hi", 8)))
        puts("no message through the room");
    rt_server_deinit(&srv);
    rt_pubsub_deinit(&ps);
    rt_loop_deinit(&loop);
    return ok ? 0 : 1;
}
