/* Unit tests for the seam between the wire protocol and the layers below:
 * the application's user pointer stays its own on a protocol connection, and
 * a publish builds each encoding once, whoever chose it (the raw default,
 * the protocol's encoder, or one of the application's own).
 *
 * A real server on 127.0.0.1 and raw client sockets in the same thread, as
 * in test_server.c: the test steps the loop itself, every wait has a
 * deadline, and alarm() stops a hang. */
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../rt_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WATCHDOG_S 60
#define DEADLINE_MS 10000

typedef struct fixture {
    rt_loop loop;
    rt_server srv;
    rt_pubsub ps;
    rt_proto proto;
    int mark;                /* what the application's user pointer points to */
    void *user_at_message;   /* rt_conn_user(c) seen in on_message */
    void *user_at_close;     /* and in on_close */
    const char *proto_user;  /* rt_proto_user(c) seen in on_message */
    int messages, closes;
    rt_pubsub_sub mine;      /* the application's own encoding, for /mine */
    rt_pubsub_encoder mine_enc;
    int encodes;             /* calls of mine_enc */
} fixture;

/* The application's encoding: "mine:" and the payload, as a text frame. */
static rt_msg *mine_encode(const rt_pubsub_encoder *enc, rt_server *srv, int kind,
                           const rt_room *room, const rt_room_msg *m)
{
    fixture *fx = (fixture *)enc->ctx;
    char buf[64];
    (void)room;
    CHECK_EQ(kind, RT_CONN_WS);
    fx->encodes++;
    if (m->len > sizeof buf - 5)
        return NULL;
    memcpy(buf, "mine:", 5);
    memcpy(buf + 5, m->data, m->len);
    return rt_msg_ws(srv, RT_WS_TEXT, buf, m->len + 5);
}

/* /ws is the protocol; /raw and /mine join room "r" with the raw encoding
 * and with mine_encode. */
static int on_upgrade(rt_conn *c, const rt_http_request *req, void *user)
{
    fixture *fx = (fixture *)user;
    return rt_str_eq(req->path, rt_str_c("/ws")) ? rt_proto_upgrade(&fx->proto, c, req) : 0;
}

static void on_open(rt_conn *c, const rt_http_request *req, void *user)
{
    fixture *fx = (fixture *)user;
    rt_room_recovery rec;
    rt_conn_set_user(c, &fx->mark);
    if (rt_proto_user(c)) {
        rt_proto_open(&fx->proto, c);
        return;
    }
    if (rt_str_eq(req->path, rt_str_c("/mine")))
        rt_pubsub_set_sub(c, &fx->mine);
    CHECK_EQ(rt_pubsub_join(&fx->ps, c, rt_str_c("r"), rt_str_c(NULL), &rec), RT_OK);
}

static void on_message(rt_conn *c, int opcode, rt_str data, void *user)
{
    fixture *fx = (fixture *)user;
    (void)opcode;
    fx->messages++;
    fx->user_at_message = rt_conn_user(c);
    fx->proto_user = rt_proto_user(c);
    rt_proto_message(&fx->proto, c, data); /* nothing for a non-protocol one */
}

static void on_close(rt_conn *c, unsigned code, rt_str reason, void *user)
{
    fixture *fx = (fixture *)user;
    (void)code;
    (void)reason;
    fx->closes++;
    fx->user_at_close = rt_conn_user(c);
    rt_proto_close(&fx->proto, c);
}

static void fx_init(fixture *fx)
{
    rt_server_config cfg;
    memset(fx, 0, sizeof *fx);
    memset(&cfg, 0, sizeof cfg);
    cfg.host = "127.0.0.1";
    cfg.cb.on_upgrade = on_upgrade;
    cfg.cb.on_open = on_open;
    cfg.cb.on_message = on_message;
    cfg.cb.on_close = on_close;
    cfg.user = fx;
    fx->mine_enc.encode = mine_encode;
    fx->mine_enc.ctx = fx;
    fx->mine.enc = &fx->mine_enc;
    CHECK_EQ(rt_loop_init(&fx->loop, NULL), RT_OK);
    CHECK_EQ(rt_server_init(&fx->srv, &fx->loop, &cfg), RT_OK);
    CHECK_EQ(rt_pubsub_init(&fx->ps, &fx->srv, NULL), RT_OK);
    CHECK_EQ(rt_proto_init(&fx->proto, &fx->ps, NULL), RT_OK);
    alarm(WATCHDOG_S);
}

static void fx_deinit(fixture *fx)
{
    rt_server_deinit(&fx->srv);
    rt_proto_deinit(&fx->proto);
    rt_pubsub_deinit(&fx->ps);
    rt_loop_deinit(&fx->loop);
    alarm(0);
}

/* A WebSocket client on path, past its 101: the socket. */
static int ws_client(fixture *fx, const char *path)
{
    struct sockaddr_in a;
    char req[256], got[512];
    size_t len = 0;
    uint64_t start = rt_time_ms();
    int fd = socket(AF_INET, SOCK_STREAM, 0), n;
    CHECK(fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)rt_server_port(&fx->srv));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_EQ(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    n = snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n", path);
    CHECK_EQ(send(fd, req, (size_t)n, MSG_NOSIGNAL), (ssize_t)n);
    /* one byte at a time up to the blank line, so no frame is read with it */
    while (len < 4 || memcmp(got + len - 4, "\r\n\r\n", 4) != 0) {
        ssize_t k = recv(fd, got + len, 1, 0);
        if (k == 1 && ++len < sizeof got)
            continue;
        CHECK(k < 0 && errno == EAGAIN && rt_time_ms() - start < DEADLINE_MS);
        if (!(k < 0 && errno == EAGAIN && rt_time_ms() - start < DEADLINE_MS))
            break;
        rt_loop_step(&fx->loop, 2);
    }
    CHECK(len > 12 && memcmp(got, "HTTP/1.1 101", 12) == 0);
    return fd;
}

/* Reads exactly n bytes, stepping the loop; 0 past the deadline. */
static int read_n(fixture *fx, int fd, unsigned char *buf, size_t n)
{
    uint64_t start = rt_time_ms();
    size_t got = 0;
    while (got < n && rt_time_ms() - start < DEADLINE_MS) {
        ssize_t k = recv(fd, buf + got, n - got, 0);
        if (k > 0)
            got += (size_t)k;
        else if (k == 0 || errno != EAGAIN)
            break;
        else
            rt_loop_step(&fx->loop, 2);
    }
    return got == n;
}

/* The next server frame's payload (text frames under 64 KiB) into buf, NUL
 * terminated; its length, or -1. */
static long read_frame(fixture *fx, int fd, char *buf, size_t cap)
{
    unsigned char h[4];
    size_t n;
    if (!read_n(fx, fd, h, 2))
        return -1;
    n = h[1] & 0x7f;
    if (n == 126 && read_n(fx, fd, h + 2, 2))
        n = (size_t)h[2] << 8 | h[3];
    if (n >= cap || !read_n(fx, fd, (unsigned char *)buf, n))
        return -1;
    buf[n] = '\0';
    return (long)n;
}

static void send_text(int fd, const char *s)
{
    static const unsigned char mask[4] = {1, 2, 3, 4};
    char f[512];
    size_t k = rt_ws_format_frame(f, sizeof f, RT_WS_TEXT, s, strlen(s), mask);
    CHECK(k <= sizeof f);
    CHECK_EQ(send(fd, f, k, MSG_NOSIGNAL), (ssize_t)k);
}

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

RT_TEST(the_application_keeps_its_own_user_pointer_on_a_protocol_connection)
{
    fixture fx;
    char got[1024];
    uint64_t start;
    int fd;
    fx_init(&fx);
    fd = ws_client(&fx, "/ws");
    CHECK(read_frame(&fx, fd, got, sizeof got) > 0);
    CHECK(starts(got, "{\"type\":\"connected\",\"user\":\"anonymous\""));
    send_text(fd, "{\"type\":\"join\",\"room\":\"r\",\"id\":7}");
    CHECK(read_frame(&fx, fd, got, sizeof got) > 0);
    CHECK(starts(got, "{\"type\":\"joined\",\"id\":7,\"room\":\"r\""));
    CHECK_EQ(fx.messages, 1);
    CHECK(fx.user_at_message == &fx.mark);        /* set in on_open, still ours */
    CHECK(fx.proto_user && strcmp(fx.proto_user, "anonymous") == 0);
    close(fd);
    for (start = rt_time_ms(); !fx.closes && rt_time_ms() - start < DEADLINE_MS;)
        rt_loop_step(&fx.loop, 2);
    CHECK_EQ(fx.closes, 1);
    CHECK(fx.user_at_close == &fx.mark);
    fx_deinit(&fx);
}

RT_TEST(a_publish_builds_each_encoding_once_and_each_subscriber_gets_its_own_kind)
{
    fixture fx;
    char got[1024];
    int p, raw, mine1, mine2;
    fx_init(&fx);
    p = ws_client(&fx, "/ws");
    CHECK(read_frame(&fx, p, got, sizeof got) > 0); /* connected */
    send_text(p, "{\"type\":\"join\",\"room\":\"r\"}");
    CHECK(read_frame(&fx, p, got, sizeof got) > 0);
    CHECK(starts(got, "{\"type\":\"joined\""));
    raw = ws_client(&fx, "/raw");
    mine1 = ws_client(&fx, "/mine");
    mine2 = ws_client(&fx, "/mine");
    CHECK_EQ(rt_pubsub_publish(&fx.ps, rt_str_c("r"), "hi", 2, NULL, NULL), RT_OK);
    CHECK_EQ(fx.encodes, 1); /* two receivers, one encoding */
    CHECK(read_frame(&fx, mine1, got, sizeof got) == 7 && strcmp(got, "mine:hi") == 0);
    CHECK(read_frame(&fx, mine2, got, sizeof got) == 7 && strcmp(got, "mine:hi") == 0);
    CHECK(read_frame(&fx, raw, got, sizeof got) == 2 && strcmp(got, "hi") == 0);
    CHECK(read_frame(&fx, p, got, sizeof got) > 0);
    CHECK(starts(got, "{\"type\":\"message\",\"room\":\"r\",\"pos\":\""));
    CHECK(strstr(got, "\",\"data\":\"hi\"}") != NULL);
    close(p);
    close(raw);
    close(mine1);
    close(mine2);
    fx_deinit(&fx);
}

int main(void) { return rt_test_main(); }
