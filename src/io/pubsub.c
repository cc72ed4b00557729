/* pubsub.c - rooms over WebSocket, SSE and long polling. */
#include "pubsub.h"
#include "../base/config.h"

/* ---- Set-up --------------------------------------------------------------- */

/* An epoch seed that differs across restarts: the clock mixed with random
 * bytes (RT_RANDOM: /dev/urandom unless the application supplies a source;
 * platform.c). Never 0. */
static uint64_t rt__pubsub_seed(void)
{
    uint64_t seed = rt_time_ms() * 0x9E3779B97F4A7C15ull;
    uint64_t r = 0;
    RT_RANDOM(&r, sizeof r);
    seed ^= r;
    return seed ? seed : 1;
}

static void rt__pubsub_on_expire(rt_loop *loop, void *user)
{
    rt_pubsub *ps = (rt_pubsub *)user;
    rt_rooms_expire(&ps->rooms, loop->now);
}

rt_result rt_pubsub_init(rt_pubsub *ps, rt_server *srv, const rt_rooms_settings *settings)
{
    rt_rooms_settings s;
    rt_result r;
    memset(ps, 0, sizeof *ps);
    ps->srv = srv;
    if (settings)
        s = *settings;
    else
        rt_rooms_settings_init(&s);
    if (!s.alloc)
        s.alloc = srv->cfg.alloc;
    if (s.epoch_seed == 0)
        s.epoch_seed = rt__pubsub_seed();
    if (s.hash_seed == 0)
        s.hash_seed = rt__pubsub_seed();
    r = rt_rooms_init(&ps->rooms, &s);
    if (r != RT_OK)
        return r;
    r = rt_timer_start(srv->loop, &ps->expire, 1000, 1000, rt__pubsub_on_expire, ps);
    if (r != RT_OK)
        rt_rooms_deinit(&ps->rooms);
    return r;
}

void rt_pubsub_deinit(rt_pubsub *ps)
{
    rt_timer_stop(ps->srv->loop, &ps->expire);
    rt_rooms_deinit(&ps->rooms);
}

/* ---- Encodings: each built at most once per message ---------------------------- */

#ifndef RT_NO_SSE
/* The raw encoding over SSE: an event whose id is the message's position
 * (the EventSource's Last-Event-ID) and whose data is the payload. */
static rt_msg *rt__pubsub_raw_sse(rt_server *srv, const rt_room_msg *m)
{
    rt_sse_event ev;
    char pos[RT_ROOM_POS_MAX];
    memset(&ev, 0, sizeof ev);
    ev.id.p = pos;
    ev.id.n = rt_room_pos_format(m->pos, pos);
    ev.data.p = m->data;
    ev.data.n = m->len;
    return rt_msg_sse(srv, &ev);
}
#endif

/* The raw encoding: the payload as one text frame, or over SSE as above. */
static rt_msg *rt__pubsub_raw_encode(const rt_pubsub_encoder *enc, rt_server *srv, int kind,
                                     const rt_room *room, const rt_room_msg *m)
{
    (void)enc;
    (void)room;
#ifndef RT_NO_SSE
    if (kind == RT_CONN_SSE)
        return rt__pubsub_raw_sse(srv, m);
#else
    (void)kind;
#endif
    return rt_msg_ws(srv, RT_WS_TEXT, m->data, m->len);
}

static const rt_pubsub_encoder rt__pubsub_raw = {rt__pubsub_raw_encode, NULL};

void rt_pubsub_set_sub(rt_conn *c, rt_pubsub_sub *sub)
{
    rt_conn_member(c)->sub = sub;
}

rt_pubsub_sub *rt_pubsub_sub_of(const rt_conn *c)
{
    /* only reads: the member accessor is not const because joining writes */
    return (rt_pubsub_sub *)rt_conn_member((rt_conn *)c)->sub;
}

/* One encoding made for the message on its way: the key and the result. */
typedef struct rt__pubsub_enc {
    const rt_pubsub_encoder *enc;
    int kind;
    rt_msg *msg;
} rt__pubsub_enc;

/* Encodings kept in the fan-out itself: raw and protocol, over WebSocket and
 * SSE, are the four a server has today; more go to the heap. */
#define RT__PUBSUB_INLINE 4

/* One message on its way to a room's subscribers, with the encodings made
 * so far. */
typedef struct rt__pubsub_fanout {
    rt_pubsub *ps;
    rt_room *room;
    rt_room_msg *msg;
    rt_conn *exclude;
    rt__pubsub_enc *encs; /* inline, or on the heap once that is full */
    size_t n, cap;
    rt__pubsub_enc inline_encs[RT__PUBSUB_INLINE];
} rt__pubsub_fanout;

static void rt__pubsub_fanout_init(rt__pubsub_fanout *f, rt_pubsub *ps, rt_room *room)
{
    memset(f, 0, sizeof *f);
    f->ps = ps;
    f->room = room;
    f->encs = f->inline_encs;
    f->cap = RT__PUBSUB_INLINE;
}

/* Drops the encodings made for one message. */
static void rt__pubsub_fanout_done(rt__pubsub_fanout *f)
{
    size_t i;
    for (i = 0; i < f->n; i++)
        rt_msg_release(f->encs[i].msg);
    f->n = 0;
}

static void rt__pubsub_fanout_free(rt__pubsub_fanout *f)
{
    rt__pubsub_fanout_done(f);
    if (f->encs != f->inline_encs)
        rt_free(f->ps->srv->cfg.alloc, f->encs, f->cap * sizeof *f->encs);
}

/* Room for one more encoding: 0 when the heap says no. */
static int rt__pubsub_fanout_grow(rt__pubsub_fanout *f)
{
    const rt_allocator *a = f->ps->srv->cfg.alloc;
    rt__pubsub_enc *e;
    if (f->n < f->cap)
        return 1;
    e = (rt__pubsub_enc *)rt_alloc(a, 2 * f->cap * sizeof *e);
    if (!e)
        return 0;
    memcpy(e, f->encs, f->n * sizeof *e);
    if (f->encs != f->inline_encs)
        rt_free(a, f->encs, f->cap * sizeof *e);
    f->encs = e;
    f->cap *= 2;
    return 1;
}

/* Queues the encoding c's encoder makes for c's transport, made on first
 * use and shared after. When no more can be kept (out of memory), c gets
 * one of its own. */
static void rt__pubsub_send(rt__pubsub_fanout *f, rt_conn *c)
{
    const rt_pubsub_sub *sub = rt_pubsub_sub_of(c);
    const rt_pubsub_encoder *enc = sub && sub->enc ? sub->enc : &rt__pubsub_raw;
    int kind = rt_conn_kind(c);
    rt_msg *m;
    size_t i;
    for (i = 0; i < f->n; i++) {
        if (f->encs[i].enc == enc && f->encs[i].kind == kind) {
            if (f->encs[i].msg)
                rt_conn_send_msg(c, f->encs[i].msg);
            return;
        }
    }
    m = enc->encode(enc, f->ps->srv, kind, f->room, f->msg);
    if (rt__pubsub_fanout_grow(f)) {
        f->encs[f->n].enc = enc;
        f->encs[f->n].kind = kind;
        f->encs[f->n++].msg = m; /* a failure too: it would fail again */
        if (m)
            rt_conn_send_msg(c, m);
    } else if (m) {
        rt_conn_send_msg(c, m);
        rt_msg_release(m);
    }
}

#ifndef RT_NO_LONGPOLL
static void rt__pubsub_msg_json(rt_jbuf *b, const rt_room_msg *m)
{
    char pos[RT_ROOM_POS_MAX];
    size_t n = rt_room_pos_format(m->pos, pos);
    rt_jbuf_puts(b, "{\"pos\":");
    rt_jbuf_str(b, pos, n);
    rt_jbuf_puts(b, ",\"data\":");
    rt_jbuf_str(b, m->data, m->len);
    rt_jbuf_puts(b, "}");
}

/* Appends messages [from, from + count) of room to b, comma-separated, and
 * sets *last to the position of the last one appended. It stops once b
 * holds budget bytes: JSON can be six times the history's size (a control
 * character is a \u escape), and an answer past the queue's hard cap would
 * close the connection, every time the client asked again. */
static void rt__pubsub_poll_messages(rt_jbuf *b, const rt_room *room, uint64_t from, size_t count,
                                     size_t budget, rt_room_pos *last)
{
    size_t i;
    for (i = 0; i < count && (i == 0 || b->len < budget); i++) {
        rt_room_msg *m = rt_room_history_get(room, from + i);
        if (!m)
            continue;
        if (b->len)
            rt_jbuf_puts(b, ",");
        rt__pubsub_msg_json(b, m);
        *last = m->pos;
    }
}

/* Answers a held long-poll request with messages [from, from + count) of
 * room, or with recovered:false, and ends its subscription. When the
 * messages do not all fit the connection's max_pending, the answer's pos is
 * that of the last one sent, so the next poll gets the rest. */
static void rt__pubsub_poll_reply(rt_conn *c, rt_room *room, int recovered, rt_room_pos pos,
                                  uint64_t from, size_t count)
{
    const rt_server *srv = rt_conn_server(c);
    rt_jbuf msgs, b;
    char p[RT_ROOM_POS_MAX];
    rt_jbuf_init(&msgs, srv->cfg.alloc);
    rt__pubsub_poll_messages(&msgs, room, from, count, srv->cfg.max_pending, &pos);
    rt_jbuf_init(&b, srv->cfg.alloc);
    rt_jbuf_puts(&b, recovered ? "{\"recovered\":true,\"pos\":" : "{\"recovered\":false,\"pos\":");
    rt_jbuf_str(&b, p, rt_room_pos_format(pos, p));
    rt_jbuf_puts(&b, ",\"messages\":[");
    rt_jbuf_put(&b, msgs.p, msgs.len);
    rt_jbuf_puts(&b, "]}\n");
    rt_room_leave(room, rt_conn_member(c));
    if (b.failed || msgs.failed)
        rt_conn_reply(c, 503, NULL, NULL, 0, NULL);
    else
        rt_conn_reply(c, 200, "application/json", b.p, b.len, NULL);
    rt_jbuf_free(&msgs);
    rt_jbuf_free(&b);
}
#endif /* RT_NO_LONGPOLL */

static void rt__pubsub_deliver(void *ctx, rt_room *room, rt_room_member *mem)
{
    rt__pubsub_fanout *f = (rt__pubsub_fanout *)ctx;
    rt_conn *c = rt_conn_of_member(mem);
    if (c == f->exclude)
        return;
    if (rt_conn_kind(c) == RT_CONN_HTTP) {
        /* a held request the server answered itself (no on_hold_timeout):
         * its connection is plain HTTP again and must get no frames */
        rt_room_leave(room, mem);
        return;
    }
#ifndef RT_NO_LONGPOLL
    if (rt_conn_kind(c) == RT_CONN_HELD) {
        rt__pubsub_poll_reply(c, room, 1, f->msg->pos, f->msg->pos.offset, 1);
        return;
    }
#endif
    rt__pubsub_send(f, c);
}

rt_result rt_pubsub_publish(rt_pubsub *ps, rt_str room, const void *data, size_t n,
                            rt_conn *exclude, rt_room_pos *pos)
{
    rt__pubsub_fanout f;
    rt_room *dest;
    rt_room_msg *msg;
    rt_result r;
    /* Every transport carries text: a WebSocket text frame that is not
     * UTF-8 makes the client fail the connection (RFC 6455 8.1), and would
     * again on every replay while the message stays in history. */
    if (!rt_utf8_valid(data, n))
        return RT_E_INVAL;
    r = rt_rooms_open(&ps->rooms, room, &dest);
    if (r == RT_OK)
        r = rt_room_publish(dest, data, n, ps->srv->loop->now, &msg);
    if (r != RT_OK)
        return r;
    if (pos)
        *pos = msg->pos;
    rt__pubsub_fanout_init(&f, ps, dest);
    f.msg = msg;
    f.exclude = exclude;
    rt_room_each(dest, rt__pubsub_deliver, &f);
    rt__pubsub_fanout_free(&f);
    rt_room_msg_release(msg);
    return RT_OK;
}

/* ---- Joining, with the replay ------------------------------------------------ */

static rt_result rt__pubsub_since(rt_str since, rt_room_pos *pos)
{
    memset(pos, 0, sizeof *pos);
    return since.n ? rt_room_pos_parse(since, pos) : RT_OK;
}

/* Sends c the messages rec holds for it, in order, while its queue is under
 * budget bytes (one message at least). Returns how many were sent. */
static size_t rt__pubsub_replay(rt_pubsub *ps, rt_conn *c, const rt_room_recovery *rec,
                                size_t budget)
{
    rt__pubsub_fanout f;
    size_t i;
    rt__pubsub_fanout_init(&f, ps, rec->room);
    for (i = 0; i < rec->count && (i == 0 || rt_conn_queued(c) < budget); i++) {
        f.msg = rt_room_history_get(rec->room, rec->from + i);
        if (f.msg)
            rt__pubsub_send(&f, c);
        rt__pubsub_fanout_done(&f); /* one receiver: nothing to share */
    }
    rt__pubsub_fanout_free(&f);
    return i;
}

/* rt_pubsub_join with the replay bounded by budget; *cut tells whether it
 * stopped before the end. */
static rt_result rt__pubsub_join(rt_pubsub *ps, rt_conn *c, rt_str room, rt_str since,
                                 rt_room_recovery *rec, size_t budget, int *cut)
{
    rt_room_pos from;
    rt_result r = rt__pubsub_since(since, &from);
    if (r == RT_OK)
        r = rt_room_join_recover(&ps->rooms, room, rt_conn_member(c), &from, ps->srv->loop->now,
                                 rec);
    if (r == RT_OK)
        *cut = rt__pubsub_replay(ps, c, rec, budget) < rec->count;
    return r;
}

rt_result rt_pubsub_join(rt_pubsub *ps, rt_conn *c, rt_str room, rt_str since,
                         rt_room_recovery *rec)
{
    int cut;
    return rt__pubsub_join(ps, c, room, since, rec, SIZE_MAX, &cut);
}

rt_result rt_pubsub_leave(rt_pubsub *ps, rt_conn *c, rt_str room)
{
    rt_room *r = rt_rooms_find(&ps->rooms, room);
    return r ? rt_room_leave(r, rt_conn_member(c)) : RT_E_NOTFOUND;
}

/* ---- SSE and long polling --------------------------------------------------------- */

#ifndef RT_NO_SSE
static void rt__pubsub_sse_marker(rt_conn *c, rt_str room, const rt_room_recovery *rec)
{
    rt_jbuf b;
    char pos[RT_ROOM_POS_MAX];
    size_t n = rt_room_pos_format(rec->current, pos);
    pos[n] = '\0';
    rt_jbuf_init(&b, rt_conn_server(c)->cfg.alloc);
    rt_jbuf_puts(&b, "{\"room\":");
    rt_jbuf_str(&b, room.p, room.n);
    rt_jbuf_puts(&b, rec->recovered ? ",\"recovered\":true" : ",\"recovered\":false");
    rt_jbuf_puts(&b, ",\"pos\":");
    rt_jbuf_str(&b, pos, n);
    rt_jbuf_puts(&b, "}");
    /* The marker carries the resume position as its id, so a reconnect after
     * recovered:false starts from now rather than from the lost position. */
    if (!b.failed)
        rt_conn_sse_send(c, "rt.join", pos, b.p, b.len);
    rt_jbuf_free(&b);
}

rt_result rt_pubsub_sse(rt_pubsub *ps, rt_conn *c, const rt_http_request *req, rt_str room,
                        rt_str since, const char *extra_headers)
{
    const rt_http_header *last = rt_http_header_get(req, "Last-Event-ID");
    rt_room_recovery rec;
    rt_room_pos pos;
    rt_result r;
    int cut = 0, lost = 0;
    if (last && last->value.n && rt__pubsub_since(last->value, &pos) == RT_OK) {
        since = last->value; /* a reconnecting EventSource says where it was */
    } else if (last && last->value.n) {
        /* An id we cannot read (another server, an older format): a 400
         * would stop the EventSource for good, so start it over from now and
         * say recovered:false. */
        since = rt_str_c(NULL);
        lost = 1;
    }
    if (!rt_room_name_valid(room) || rt__pubsub_since(since, &pos) != RT_OK)
        return RT_E_INVAL;
    r = rt_conn_sse_start(c, extra_headers);
    if (r == RT_OK)
        r = rt__pubsub_join(ps, c, room, since, &rec, ps->srv->cfg.max_pending, &cut);
    if (r == RT_OK && cut) {
        /* The replay stopped at the queue's soft cap: SSE can be six times
         * the history (each line break is a "data:" line), and a queue that
         * stays over the cap gets the stream closed, on every reconnect
         * alike. No live message may follow the gap, so leave and end the
         * stream once it is sent: the EventSource comes back with the
         * Last-Event-ID it reached and gets the next part. */
        rt_room_leave(rec.room, rt_conn_member(c));
        rt_conn_close(c, 0, NULL);
    } else if (r == RT_OK) {
        rec.recovered = rec.recovered && !lost;
        rt__pubsub_sse_marker(c, room, &rec);
    }
    return r;
}
#endif /* RT_NO_SSE */

#ifndef RT_NO_LONGPOLL
rt_result rt_pubsub_poll(rt_pubsub *ps, rt_conn *c, rt_str room, rt_str since,
                         uint32_t timeout_ms)
{
    rt_room_recovery rec;
    rt_room_pos from;
    rt_result r = rt__pubsub_since(since, &from);
    if (r != RT_OK)
        return r;
    r = rt_room_join_recover(&ps->rooms, room, rt_conn_member(c), &from, ps->srv->loop->now, &rec);
    if (r != RT_OK)
        return r;
    if (!rec.recovered || rec.count > 0) { /* something to say now */
        rt__pubsub_poll_reply(c, rec.room, rec.recovered, rec.current, rec.from, rec.count);
        return RT_OK;
    }
    /* Nothing new: stay subscribed, held; the next publish answers. */
    r = rt_conn_hold(c, timeout_ms ? timeout_ms : RT_POLL_TIMEOUT_MS);
    if (r != RT_OK)
        rt_room_leave(rec.room, rt_conn_member(c));
    return r;
}

void rt_pubsub_poll_expired(rt_pubsub *ps, rt_conn *c)
{
    rt_room *room = rt_room_member_last(rt_conn_member(c));
    (void)ps;
    if (room && rt_conn_kind(c) == RT_CONN_HELD)
        rt__pubsub_poll_reply(c, room, 1, room->pos, 0, 0);
}
#endif /* RT_NO_LONGPOLL */
