/* lws_echo.c - the echo benchmark server on libwebsockets, for comparison.
 *
 * A benchmark-only peer of examples/01_echo.c: the same behaviour (every
 * message goes back to its sender, or with --broadcast to every connection)
 * and the same banner, so bench/run.sh drives both with the same loads. It
 * lives in bench/lws/ so that `make`, which builds the .c files directly in
 * bench/ without libwebsockets, does not see it; bench/run.sh builds it when
 * the library is installed:
 *
 *   cc -O2 -o build/bench/lws_echo bench/lws/lws_echo.c -lwebsockets
 *   build/bench/lws_echo --port 0 [--broadcast]
 *
 * It is written the way the library's documentation asks: one service
 * thread, messages queued per connection, one lws_write per WRITEABLE
 * callback. Broadcast keeps a ring of the last RING messages, each written
 * once and shared; a connection that falls a whole ring behind skips ahead
 * (the load generator then reports the loss). Other options of 01_echo.c
 * are accepted and ignored.
 */
#include <libwebsockets.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING 8192

/* One message with the LWS_PRE bytes of headroom lws_write needs. */
typedef struct qmsg {
    struct qmsg *next;
    size_t len;
    int binary;
    unsigned char buf[];
} qmsg;

/* Per connection (lws allocates and zeroes it). */
typedef struct sess {
    qmsg *head, *tail;   /* echo: replies to write */
    unsigned char *part; /* a message arriving in fragments */
    size_t part_len;
    unsigned long long next; /* broadcast: the next ring sequence to write */
} sess;

static int broadcast;
static volatile sig_atomic_t stopping;
static struct lws_context *context;
static qmsg *ring[RING];
static unsigned long long ring_head; /* sequence of the next message */

static qmsg *qmsg_new(const void *data, size_t len, int binary)
{
    qmsg *m = (qmsg *)malloc(sizeof *m + LWS_PRE + len);
    if (!m)
        return NULL;
    m->next = NULL;
    m->len = len;
    m->binary = binary;
    memcpy(m->buf + LWS_PRE, data, len);
    return m;
}

static int write_msg(struct lws *wsi, qmsg *m)
{
    enum lws_write_protocol p = m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT;
    return lws_write(wsi, m->buf + LWS_PRE, m->len, p) < (int)m->len ? -1 : 0;
}

/* A whole message arrived: queue it back, or put it in the ring for all. */
static int on_message(struct lws *wsi, sess *s, const void *data, size_t len, int binary)
{
    qmsg *m = qmsg_new(data, len, binary);
    if (!m)
        return -1;
    if (broadcast) {
        free(ring[ring_head % RING]);
        ring[ring_head % RING] = m;
        ring_head++;
        lws_callback_on_writable_all_protocol(context, lws_get_protocol(wsi));
        return 0;
    }
    if (s->tail)
        s->tail->next = m;
    else
        s->head = m;
    s->tail = m;
    lws_callback_on_writable(wsi);
    return 0;
}

/* Fragments are joined before the message is handled. */
static int on_receive(struct lws *wsi, sess *s, const void *in, size_t len)
{
    int binary = lws_frame_is_binary(wsi), r;
    unsigned char *p;
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi) && !s->part)
        return on_message(wsi, s, in, len, binary);
    p = (unsigned char *)realloc(s->part, s->part_len + len);
    if (!p)
        return -1;
    memcpy(p + s->part_len, in, len);
    s->part = p;
    s->part_len += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    r = on_message(wsi, s, s->part, s->part_len, binary);
    free(s->part);
    s->part = NULL;
    s->part_len = 0;
    return r;
}

static int on_writeable(struct lws *wsi, sess *s)
{
    qmsg *m;
    if (broadcast) {
        if (s->next >= ring_head)
            return 0;
        if (ring_head - s->next > RING)
            s->next = ring_head - RING; /* fell a whole ring behind */
        m = ring[s->next++ % RING];
        if (write_msg(wsi, m) < 0)
            return -1;
        if (s->next < ring_head)
            lws_callback_on_writable(wsi);
        return 0;
    }
    m = s->head;
    if (!m)
        return 0;
    s->head = m->next;
    if (!s->head)
        s->tail = NULL;
    if (write_msg(wsi, m) < 0) {
        free(m);
        return -1;
    }
    free(m);
    if (s->head)
        lws_callback_on_writable(wsi);
    return 0;
}

static void on_closed(sess *s)
{
    while (s->head) {
        qmsg *m = s->head;
        s->head = m->next;
        free(m);
    }
    free(s->part);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    sess *s = (sess *)user;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        s->next = ring_head; /* broadcast: from now on */
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return on_receive(wsi, s, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(wsi, s);
    case LWS_CALLBACK_CLOSED:
        on_closed(s);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"echo", callback, sizeof(sess), 0, 0, NULL, 0}, /* 0: the default rx buffer */
    {NULL, NULL, 0, 0, 0, NULL, 0}
};

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
    lws_cancel_service(context); /* wakes lws_service; safe from a handler */
}

static int parse_args(int argc, char **argv)
{
    int i, port = 8080;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--broadcast") == 0)
            broadcast = 1;
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strncmp(argv[i], "--", 2) == 0 && i + 1 < argc)
            i++; /* 01_echo.c's limits: not used here */
    }
    return port;
}

int main(int argc, char **argv)
{
    struct lws_context_creation_info info;
    struct lws_vhost *vh;
    memset(&info, 0, sizeof info);
    info.port = parse_args(argc, argv);
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6;
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    context = lws_create_context(&info);
    vh = context ? lws_create_vhost(context, &info) : NULL;
    if (!vh) {
        fprintf(stderr, "lws_echo: cannot listen on port %d\n", info.port);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("lws_echo: listening on http://127.0.0.1:%d/\n", lws_get_vhost_listen_port(vh));
    fflush(stdout);
    while (!stopping && lws_service(context, 0) >= 0)
        ;
    lws_context_destroy(context);
    return 0;
}
