/* proto.c - the JSON wire protocol (docs/PROTOCOL.md).
 *
 * Every byte of the protocol's JSON is written here, room messages included:
 * a protocol connection's pubsub subscription names this file's encoder, so
 * pubsub frames {"type":"message",...} without knowing what it says. The
 * subscription is also where the protocol finds its state for a connection,
 * which leaves the connection's user pointer to the application. */
#include "proto.h"
#include "../base/config.h"

struct rt_proto_conn {
    rt_pubsub_sub sub;           /* first: the connection's subscription leads here */
    rt_proto *p;
    rt_conn *c;
    rt_list link;                /* on p->conns */
    uint16_t errors;             /* malformed requests so far */
    uint8_t started;             /* a request other than connect was handled */
    char user[RT_PROTO_MAX_ID + 1];
    char session[RT_PROTO_MAX_ID + 1];
};

/* One request being handled: the parsed JSON and what every reply needs. */
typedef struct rt__proto_req {
    rt_proto *p;
    rt_proto_conn *pc;
    rt_json doc;
    rt_str id;                          /* raw JSON of "id", empty if none */
    rt_str room;                        /* the "room" field, unescaped */
    char room_buf[RT_ROOM_MAX_NAME + 1];
} rt__proto_req;

/* ---- Room messages, and finding a connection's state ------------------------- */

#ifndef RT_NO_SSE
/* A protocol message (JSON text) as the data of one SSE event. No id:
 * rt.js resumes with join + since. */
static rt_msg *rt__proto_sse_msg(rt_server *srv, const char *json, size_t n)
{
    rt_sse_event ev;
    memset(&ev, 0, sizeof ev);
    ev.data.p = json;
    ev.data.n = n;
    return rt_msg_sse(srv, &ev);
}
#endif

/* A protocol message framed for a connection of kind: a WebSocket text
 * frame, or an SSE event. */
static rt_msg *rt__proto_frame(rt_server *srv, int kind, const char *json, size_t n)
{
#ifndef RT_NO_SSE
    if (kind == RT_CONN_SSE)
        return rt__proto_sse_msg(srv, json, n);
#else
    (void)kind;
#endif
    return rt_msg_ws(srv, RT_WS_TEXT, json, n);
}

/* A room message as the protocol's "message", framed for a WebSocket or
 * for an SSE stream. */
static rt_msg *rt__proto_encode(const rt_pubsub_encoder *enc, rt_server *srv, int kind,
                                const rt_room *room, const rt_room_msg *m)
{
    rt_jbuf b;
    rt_msg *out = NULL;
    char pos[RT_ROOM_POS_MAX];
    size_t n = rt_room_pos_format(m->pos, pos);
    (void)enc;
    rt_jbuf_init(&b, srv->cfg.alloc);
    rt_jbuf_puts(&b, "{\"type\":\"message\",\"room\":");
    rt_jbuf_str(&b, room->name.p, room->name.n);
    rt_jbuf_puts(&b, ",\"pos\":");
    rt_jbuf_str(&b, pos, n);
    rt_jbuf_puts(&b, ",\"data\":");
    rt_jbuf_str(&b, m->data, m->len);
    rt_jbuf_puts(&b, "}");
    if (!b.failed)
        out = rt__proto_frame(srv, kind, b.p, b.len);
    rt_jbuf_free(&b);
    return out;
}

/* One encoder for every protocol connection, so pubsub builds each message
 * once for all of them; its address is also what marks a connection as the
 * protocol's. */
static const rt_pubsub_encoder rt__proto_encoder = {rt__proto_encode, NULL};

/* The protocol's state for c, or NULL when c is not a protocol connection. */
static rt_proto_conn *rt__proto_of(const rt_conn *c)
{
    rt_pubsub_sub *sub = rt_pubsub_sub_of(c);
    /* sub is the first member of an rt_proto_conn when it names our encoder */
    return sub && sub->enc == &rt__proto_encoder ? (rt_proto_conn *)(void *)sub : NULL;
}

/* ---- Sending ----------------------------------------------------------------- */

/* One JSON text to one client, on its transport. */
static void rt__proto_send_text(rt_proto_conn *pc, const char *json, size_t n)
{
#ifndef RT_NO_SSE
    if (rt_conn_kind(pc->c) == RT_CONN_SSE) {
        rt_conn_sse_send(pc->c, NULL, NULL, json, n);
        return;
    }
#endif
    rt_conn_send(pc->c, RT_WS_TEXT, json, n);
}

static void rt__proto_send(rt_proto_conn *pc, const rt_jbuf *b)
{
    if (!b->failed)
        rt__proto_send_text(pc, b->p, b->len);
}

/* Starts a reply: {"type":"<type>" and the request's id if it had one. */
static void rt__proto_begin(rt_jbuf *b, const rt__proto_req *rq, const char *type)
{
    rt_jbuf_init(b, rt_conn_server(rq->pc->c)->cfg.alloc);
    rt_jbuf_puts(b, "{\"type\":\"");
    rt_jbuf_puts(b, type);
    rt_jbuf_puts(b, "\"");
    if (rq->id.n) {
        rt_jbuf_puts(b, ",\"id\":");
        rt_jbuf_put(b, rq->id.p, rq->id.n);
    }
}

static void rt__proto_field_str(rt_jbuf *b, const char *name, const char *s, size_t n)
{
    rt_jbuf_puts(b, ",\"");
    rt_jbuf_puts(b, name);
    rt_jbuf_puts(b, "\":");
    rt_jbuf_str(b, s, n);
}

static void rt__proto_field_pos(rt_jbuf *b, rt_room_pos pos)
{
    char s[RT_ROOM_POS_MAX];
    rt__proto_field_str(b, "pos", s, rt_room_pos_format(pos, s));
}

static void rt__proto_end(rt_jbuf *b, rt_proto_conn *pc)
{
    rt_jbuf_puts(b, "}");
    rt__proto_send(pc, b);
    rt_jbuf_free(b);
}

/* The errors that count towards RT_PROTO_MAX_ERRORS are the client's
 * mistakes in form; refusals (forbidden, rate_limited) do not. */
static void rt__proto_error(rt__proto_req *rq, const char *code, const char *message)
{
    rt_jbuf b;
    int counts = strcmp(code, "bad_json") == 0 || strcmp(code, "bad_request") == 0 ||
                 strcmp(code, "unknown_type") == 0;
    rt__proto_begin(&b, rq, "error");
    rt__proto_field_str(&b, "code", code, strlen(code));
    rt__proto_field_str(&b, "message", message, strlen(message));
    if (rq->room.n)
        rt__proto_field_str(&b, "room", rq->room.p, rq->room.n);
    rt__proto_end(&b, rq->pc);
    if (counts && ++rq->pc->errors >= RT_PROTO_MAX_ERRORS)
        rt_conn_close(rq->pc->c, RT_WS_CLOSE_POLICY, "too many protocol errors");
}

/* Sends one JSON text to every protocol client in room but skip (may be NULL). */
typedef struct rt__proto_cast {
    const rt_jbuf *b;
    rt_conn *skip;
    rt_msg *ws, *sse; /* sse stays NULL under RT_NO_SSE */
} rt__proto_cast;

static void rt__proto_cast_one(void *ctx, rt_room *room, rt_room_member *m)
{
    rt__proto_cast *k = (rt__proto_cast *)ctx;
    rt_conn *c = rt_conn_of_member(m);
    int kind = rt_conn_kind(c);
    rt_msg **msg = kind == RT_CONN_SSE ? &k->sse : &k->ws; /* each built once */
    (void)room;
    if (c == k->skip || !rt__proto_of(c))
        return;
    if (!*msg)
        *msg = rt__proto_frame(rt_conn_server(c), kind, k->b->p, k->b->len);
    if (*msg)
        rt_conn_send_msg(c, *msg);
}

static void rt__proto_cast_room(rt_proto *p, rt_str room, const rt_jbuf *b, rt_conn *skip)
{
    rt_room *r = rt_rooms_find(&p->ps->rooms, room);
    rt__proto_cast k;
    if (!r || b->failed)
        return;
    memset(&k, 0, sizeof k);
    k.b = b;
    k.skip = skip;
    rt_room_each(r, rt__proto_cast_one, &k); /* each encoding built once */
    rt_msg_release(k.ws);
    rt_msg_release(k.sse);
}

/* ---- Presence and typing, announced to the room ----------------------------- */

static void rt__proto_on_presence(void *ctx, const rt_presence_event *ev)
{
    rt_proto *p = (rt_proto *)ctx;
    rt_jbuf b;
    int typing = ev->type == RT_PRESENCE_EV_TYPING_START || ev->type == RT_PRESENCE_EV_TYPING_STOP;
    const char *what = ev->type == RT_PRESENCE_EV_JOIN ? "join"
                       : ev->type == RT_PRESENCE_EV_LEAVE ? "leave" : "update";
    rt_jbuf_init(&b, p->ps->srv->cfg.alloc);
    rt_jbuf_puts(&b, typing ? "{\"type\":\"typing\"" : "{\"type\":\"presence\"");
    rt__proto_field_str(&b, "room", ev->room.p, ev->room.n);
    rt__proto_field_str(&b, "user", ev->user.p, ev->user.n);
    if (typing) {
        int on = ev->type == RT_PRESENCE_EV_TYPING_START;
        rt_jbuf_puts(&b, on ? ",\"on\":true" : ",\"on\":false");
    } else {
        rt__proto_field_str(&b, "event", what, strlen(what));
        rt_jbuf_puts(&b, ",\"info\":");
        if (ev->info.n)
            rt_jbuf_put(&b, ev->info.p, ev->info.n); /* JSON checked when it came in */
        else
            rt_jbuf_puts(&b, "null");
    }
    rt_jbuf_puts(&b, "}");
    rt__proto_cast_room(p, ev->room, &b, NULL);
    rt_jbuf_free(&b);
}

typedef struct rt__proto_list {
    rt_jbuf *b;
    size_t n;
} rt__proto_list;

static void rt__proto_list_one(void *ctx, const rt_presence_member *m)
{
    rt__proto_list *l = (rt__proto_list *)ctx;
    rt_jbuf_puts(l->b, l->n++ ? ",{\"user\":" : "{\"user\":");
    rt_jbuf_str(l->b, m->user.p, m->user.n);
    rt_jbuf_puts(l->b, ",\"info\":");
    if (m->info.n)
        rt_jbuf_put(l->b, m->info.p, m->info.n);
    else
        rt_jbuf_puts(l->b, "null");
    rt_jbuf_puts(l->b, m->typing ? ",\"typing\":true}" : ",\"typing\":false}");
}

/* ---- Request helpers ------------------------------------------------------------ */

/* A string field into buf; 0 when missing, too long or not a string. */
static int rt__proto_str(const rt__proto_req *rq, const char *key, char *buf, size_t cap,
                         size_t *n)
{
    int t = rt_json_get(&rq->doc, 0, key);
    return rt_json_type_of(&rq->doc, t) == RT_JSON_STRING &&
           rt_json_str(&rq->doc, t, buf, cap, n) == RT_OK;
}

/* Reads "room" and checks it; answers the error itself. */
static int rt__proto_need_room(rt__proto_req *rq)
{
    size_t n = 0;
    if (!rt__proto_str(rq, "room", rq->room_buf, sizeof rq->room_buf, &n)) {
        rt__proto_error(rq, rt_json_get(&rq->doc, 0, "room") < 0 ? "bad_request" : "bad_room",
                        "a valid \"room\" is required");
        return 0;
    }
    rq->room.p = rq->room_buf;
    rq->room.n = n;
    if (!rt_room_name_valid(rq->room)) {
        rt__proto_error(rq, "bad_room", "room names are 1-64 bytes of [A-Za-z0-9_.:@-]");
        return 0;
    }
    return 1;
}

/* The room, if this connection has joined it; answers not_joined otherwise. */
static rt_room *rt__proto_joined_room(rt__proto_req *rq)
{
    rt_room *r = rt_rooms_find(&rq->p->ps->rooms, rq->room);
    if (!r || !rt_room_is_member(r, rt_conn_member(rq->pc->c))) {
        rt__proto_error(rq, "not_joined", "join the room first");
        return NULL;
    }
    return r;
}

/* "since" as a position: 1 when absent or valid (empty view when absent). */
static int rt__proto_since(rt__proto_req *rq, char *buf, size_t cap, rt_str *since)
{
    size_t n = 0;
    rt_room_pos pos;
    since->p = buf;
    since->n = 0;
    if (rt_json_get(&rq->doc, 0, "since") < 0 ||
        rt_json_type_of(&rq->doc, rt_json_get(&rq->doc, 0, "since")) == RT_JSON_NULL)
        return 1;
    if (!rt__proto_str(rq, "since", buf, cap, &n) ||
        (n && rt_room_pos_parse(rt_str_c(buf), &pos) != RT_OK)) {
        rt__proto_error(rq, "bad_position", "\"since\" must be a position the server gave");
        return 0;
    }
    since->n = n;
    return 1;
}

static uint64_t rt__proto_now(const rt_proto *p)
{
    return p->ps->srv->loop->now;
}

/* ---- Handlers, one per request type ---------------------------------------------- */

static void rt__proto_send_connected(rt_proto_conn *pc, const rt__proto_req *rq)
{
    rt_jbuf b;
    rt__proto_req none;
    if (!rq) {
        memset(&none, 0, sizeof none);
        none.pc = pc;
        rq = &none;
    }
    rt__proto_begin(&b, rq, "connected");
    rt__proto_field_str(&b, "user", pc->user, strlen(pc->user));
    rt__proto_field_str(&b, "session", pc->session, strlen(pc->session));
    rt_jbuf_puts(&b, ",\"heartbeat\":");
    rt_jbuf_uint(&b, pc->p->cfg.heartbeat_ms);
    rt__proto_end(&b, pc);
}

static void rt__proto_on_connect(rt__proto_req *rq)
{
    rt_proto *p = rq->p;
    char session[RT_PROTO_MAX_ID + 1], token[256], user[RT_PROTO_MAX_ID + 1];
    size_t n = 0, tn = 0;
    int t = rt_json_get(&rq->doc, 0, "token");
    if (!rt__proto_str(rq, "session", session, sizeof session, &n) ||
        !rt_str_is_name(rt_str_c(session), RT_PROTO_MAX_ID) ||
        (t >= 0 && !rt__proto_str(rq, "token", token, sizeof token, &tn))) {
        rt__proto_error(rq, "bad_request", "\"session\" (1-64 of [A-Za-z0-9_.:@-]) is required");
        return;
    }
    if (rq->pc->started || (rt_conn_kind(rq->pc->c) == RT_CONN_SSE &&
                            strcmp(session, rq->pc->session) != 0)) {
        rt__proto_error(rq, "bad_request",
                        "connect comes first, and an SSE stream keeps its session");
        return;
    }
    if (t >= 0 && p->cfg.auth) {
        rt_str tok;
        tok.p = token;
        tok.n = tn;
        user[0] = '\0';
        if (p->cfg.auth(p->cfg.user, tok, user, sizeof user) != 0 || !user[0]) {
            rt_conn_close(rq->pc->c, 4001, "unauthorized"); /* PROTOCOL.md: close codes */
            return;
        }
        memcpy(rq->pc->user, user, sizeof user);
    }
    memcpy(rq->pc->session, session, n + 1);
    rt__proto_send_connected(rq->pc, rq);
}

static void rt__proto_on_join(rt__proto_req *rq)
{
    rt_proto *p = rq->p;
    rt_conn *c = rq->pc->c;
    rt_room_recovery rec;
    char since_buf[RT_ROOM_POS_MAX];
    rt_str since, info = rt_json_raw(&rq->doc, rt_json_get(&rq->doc, 0, "info"));
    rt_jbuf b;
    if (!rt__proto_need_room(rq) || !rt__proto_since(rq, since_buf, sizeof since_buf, &since))
        return;
    if (info.n > p->presence.settings.max_info) {
        rt__proto_error(rq, "too_large", "\"info\" is too large");
        return;
    }
    if (p->cfg.can_join && !p->cfg.can_join(p->cfg.user, rq->pc->user, rq->room)) {
        rt__proto_error(rq, "forbidden", "you may not join this room");
        return;
    }
    /* Presence first: when it fails nothing changed; when the subscription
     * then fails, presence is undone. */
    if (rt_presence_join(&p->presence, rq->room, rt_str_c(rq->pc->user), info, c,
                         rt__proto_now(p)) != RT_OK) {
        rt__proto_error(rq, "internal", "cannot join now");
        return;
    }
    if (rt_pubsub_join(p->ps, c, rq->room, since, &rec) != RT_OK) {
        rt_presence_leave(&p->presence, rq->room, c, rt__proto_now(p));
        rt__proto_error(rq, "internal", "cannot join now");
        return;
    }
    rt__proto_begin(&b, rq, "joined"); /* after the replayed messages */
    rt__proto_field_str(&b, "room", rq->room.p, rq->room.n);
    rt_jbuf_puts(&b, rec.recovered ? ",\"recovered\":true" : ",\"recovered\":false");
    rt__proto_field_pos(&b, rec.current);
    rt__proto_end(&b, rq->pc);
}

static void rt__proto_on_leave(rt__proto_req *rq)
{
    rt_jbuf b;
    if (!rt__proto_need_room(rq))
        return;
    rt_pubsub_leave(rq->p->ps, rq->pc->c, rq->room);
    rt_presence_leave(&rq->p->presence, rq->room, rq->pc->c, rt__proto_now(rq->p));
    rt__proto_begin(&b, rq, "left");
    rt__proto_field_str(&b, "room", rq->room.p, rq->room.n);
    rt__proto_end(&b, rq->pc);
}

static void rt__proto_on_publish(rt__proto_req *rq)
{
    rt_proto *p = rq->p;
    int t = rt_json_get(&rq->doc, 0, "data");
    rt_room_pos pos;
    char small[512], *data = small;
    size_t n = 0;
    rt_jbuf b;
    if (!rt__proto_need_room(rq) || !rt__proto_joined_room(rq))
        return;
    if (rt_json_type_of(&rq->doc, t) != RT_JSON_STRING) {
        rt__proto_error(rq, "bad_request", "\"data\" must be a string");
        return;
    }
    if (p->cfg.can_publish && !p->cfg.can_publish(p->cfg.user, rq->pc->user, rq->room)) {
        rt__proto_error(rq, "forbidden", "you may not publish in this room");
        return;
    }
    if (rq->doc.toks[t].size >= sizeof small)
        data = (char *)rt_alloc(rt_conn_server(rq->pc->c)->cfg.alloc, rq->doc.toks[t].size + 1);
    if (!data || rt_json_str(&rq->doc, t, data, rq->doc.toks[t].size + 1, &n) != RT_OK ||
        rt_pubsub_publish(p->ps, rq->room, data, n, NULL, &pos) != RT_OK) {
        rt__proto_error(rq, "internal", "cannot publish now");
    } else {
        rt_presence_typing(&p->presence, rq->room, rq->pc->c, 0, rt__proto_now(p));
        rt__proto_begin(&b, rq, "published");
        rt__proto_field_str(&b, "room", rq->room.p, rq->room.n);
        rt__proto_field_pos(&b, pos);
        rt__proto_end(&b, rq->pc);
    }
    if (data != small)
        rt_free(rt_conn_server(rq->pc->c)->cfg.alloc, data, rq->doc.toks[t].size + 1);
}

static void rt__proto_on_presence_req(rt__proto_req *rq)
{
    rt__proto_list l;
    rt_jbuf b;
    if (!rt__proto_need_room(rq) || !rt__proto_joined_room(rq))
        return;
    rt__proto_begin(&b, rq, "presence");
    rt__proto_field_str(&b, "room", rq->room.p, rq->room.n);
    rt_jbuf_puts(&b, ",\"count\":");
    rt_jbuf_uint(&b, rt_presence_count(&rq->p->presence, rq->room));
    rt_jbuf_puts(&b, ",\"users\":[");
    l.b = &b;
    l.n = 0;
    rt_presence_list(&rq->p->presence, rq->room, rt__proto_list_one, &l);
    rt_jbuf_puts(&b, "]");
    rt__proto_end(&b, rq->pc);
}

static void rt__proto_on_typing(rt__proto_req *rq)
{
    int on = 0;
    if (!rt__proto_need_room(rq) || !rt__proto_joined_room(rq))
        return;
    if (rt_json_bool(&rq->doc, rt_json_get(&rq->doc, 0, "on"), &on) != RT_OK) {
        rt__proto_error(rq, "bad_request", "\"on\" must be true or false");
        return;
    }
    rt_presence_typing(&rq->p->presence, rq->room, rq->pc->c, on, rt__proto_now(rq->p));
}

/* history: the messages after since, or the latest ones, at most limit. */
static void rt__proto_on_history(rt__proto_req *rq)
{
    rt_room_recovery rec;
    rt_room_pos from;
    rt_room *room;
    char since_buf[RT_ROOM_POS_MAX];
    rt_str since;
    int64_t limit = 100;
    size_t i, k = 0;
    rt_jbuf b;
    if (!rt__proto_need_room(rq) || !rt__proto_since(rq, since_buf, sizeof since_buf, &since) ||
        !(room = rt__proto_joined_room(rq)))
        return;
    rt_json_int(&rq->doc, rt_json_get(&rq->doc, 0, "limit"), &limit);
    limit = limit < 1 || limit > 100 ? 100 : limit;
    memset(&from, 0, sizeof from);
    if (since.n) {
        rt_room_pos_parse(since, &from);
    } else { /* the latest messages the history still holds */
        uint64_t back = room->history_count < (size_t)limit ? room->history_count
                                                            : (uint64_t)limit;
        from = room->pos;
        from.offset -= back;
    }
    rt_room_recover(room, &from, rt__proto_now(rq->p), &rec);
    rt__proto_begin(&b, rq, "history");
    rt__proto_field_str(&b, "room", rq->room.p, rq->room.n);
    rt_jbuf_puts(&b, rec.recovered || !since.n ? ",\"recovered\":true" : ",\"recovered\":false");
    rt_jbuf_puts(&b, ",\"messages\":[");
    for (i = 0; i < rec.count && k < (size_t)limit; i++) {
        rt_room_msg *m = rt_room_history_get(room, rec.from + i);
        char pos[RT_ROOM_POS_MAX];
        if (!m)
            continue; /* aged out: the latest ones are what is left */
        rt_jbuf_puts(&b, k++ ? ",{\"pos\":" : "{\"pos\":");
        rt_jbuf_str(&b, pos, rt_room_pos_format(m->pos, pos));
        rt_jbuf_puts(&b, ",\"data\":");
        rt_jbuf_str(&b, m->data, m->len);
        rt_jbuf_puts(&b, "}");
    }
    rt_jbuf_puts(&b, "]");
    rt__proto_field_pos(&b, rec.current);
    rt__proto_end(&b, rq->pc);
}

static void rt__proto_on_ping(rt__proto_req *rq)
{
    rt_jbuf b;
    rt__proto_begin(&b, rq, "pong");
    rt__proto_end(&b, rq->pc);
}

static void rt__proto_on_pong(rt__proto_req *rq)
{
    (void)rq; /* receiving it already proved the link alive */
}

static const struct {
    const char *type;
    void (*fn)(rt__proto_req *rq);
} rt__proto_handlers[] = {
    {"join", rt__proto_on_join},         {"publish", rt__proto_on_publish},
    {"typing", rt__proto_on_typing},     {"pong", rt__proto_on_pong},
    {"leave", rt__proto_on_leave},       {"presence", rt__proto_on_presence_req},
    {"history", rt__proto_on_history},   {"connect", rt__proto_on_connect},
    {"ping", rt__proto_on_ping},
};

/* Parses one client message into toks and runs its handler. */
static void rt__proto_run(rt_proto *p, rt_proto_conn *pc, rt_str data, rt_json_tok *toks)
{
    rt__proto_req rq;
    size_t i;
    int type;
    memset(&rq, 0, sizeof rq);
    rq.p = p;
    rq.pc = pc;
    if (!toks) {
        rt__proto_error(&rq, "internal", "out of memory");
        return;
    }
    if (rt_json_parse(&rq.doc, data.p, data.n, toks, RT_PROTO_MAX_TOKENS) < 0 ||
        rt_json_type_of(&rq.doc, 0) != RT_JSON_OBJECT) {
        rt__proto_error(&rq, "bad_json", "a message is one JSON object");
        return;
    }
    rq.id = rt_json_raw(&rq.doc, rt_json_get(&rq.doc, 0, "id"));
    if (rq.id.n > RT_PROTO_MAX_ID + 2 || (rq.id.n && rq.id.p[0] != '"' &&
        rt_json_type_of(&rq.doc, rt_json_get(&rq.doc, 0, "id")) != RT_JSON_NUMBER))
        rq.id.n = 0; /* only short strings and numbers are echoed */
    type = rt_json_get(&rq.doc, 0, "type");
    for (i = 0; i < sizeof rt__proto_handlers / sizeof rt__proto_handlers[0]; i++) {
        if (rt_json_eq(&rq.doc, type, rt__proto_handlers[i].type)) {
            rt__proto_handlers[i].fn(&rq);
            if (rt__proto_handlers[i].fn != rt__proto_on_connect)
                pc->started = 1;
            return;
        }
    }
    rt__proto_error(&rq, type < 0 ? "bad_request" : "unknown_type",
                    type < 0 ? "\"type\" is required" : "unknown message type");
}

/* Handles one client message with the protocol's token array, or, when a
 * request is already being handled (a callback re-entered), with one of its
 * own: the outer request's tokens must survive until its handler returns. */
static void rt__proto_handle(rt_proto *p, rt_proto_conn *pc, rt_str data)
{
    const rt_allocator *a = p->ps->srv->cfg.alloc;
    rt_json_tok *toks = p->_toks;
    if (p->_handling)
        toks = (rt_json_tok *)rt_alloc(a, sizeof p->_toks);
    p->_handling++;
    rt__proto_run(p, pc, data, toks);
    p->_handling--;
    if (toks != p->_toks)
        rt_free(a, toks, sizeof p->_toks);
}

void rt_proto_message(rt_proto *p, rt_conn *c, rt_str data)
{
    rt_proto_conn *pc = rt__proto_of(c);
    if (pc)
        rt__proto_handle(p, pc, data);
}

void rt_proto_rate_limited(rt_proto *p, rt_conn *c, uint32_t retry_after_ms)
{
    rt_proto_conn *pc = rt__proto_of(c);
    rt_jbuf b;
    (void)p;
    if (!pc)
        return;
    rt_jbuf_init(&b, rt_conn_server(c)->cfg.alloc);
    rt_jbuf_puts(&b, "{\"type\":\"error\",\"code\":\"rate_limited\","
                     "\"message\":\"slow down\",\"retry_after\":");
    rt_jbuf_uint(&b, retry_after_ms);
    rt__proto_end(&b, pc);
}

/* ---- Connections: WebSocket and SSE + POST ------------------------------------- */

static int rt__proto_bearer(rt_str v)
{
    v.n = 7;
    return rt_str_ieq(v, rt_str_c("Bearer "));
}

/* The token: ?token=, then "Authorization: Bearer", then the rt_token cookie. */
static rt_str rt__proto_token(const rt_http_request *req, char *buf, size_t cap)
{
    const rt_http_header *h = rt_http_header_get(req, "Authorization");
    rt_result n = rt_http_query_get(req->query, "token", buf, cap);
    rt_str t;
    t.p = buf;
    t.n = 0;
    if (n >= 0) {
        t.n = (size_t)n;
    } else if (h && h->value.n > 7 && rt__proto_bearer(h->value)) {
        t.p = h->value.p + 7;
        t.n = h->value.n - 7;
    } else if ((n = rt_http_cookie_get(req, "rt_token", buf, cap)) >= 0) {
        t.n = (size_t)n;
    }
    return t;
}

/* Authenticates req into user (RT_PROTO_MAX_ID + 1 bytes): 0 or a status. */
static int rt__proto_auth(rt_proto *p, const rt_http_request *req, char *user)
{
    char buf[256];
    int status;
    strcpy(user, "anonymous");
    if (!p->cfg.auth)
        return 0;
    user[0] = '\0';
    status = p->cfg.auth(p->cfg.user, rt__proto_token(req, buf, sizeof buf), user,
                         RT_PROTO_MAX_ID + 1);
    if (status == 0 && !rt_presence_id_valid(rt_str_c(user)))
        status = 500; /* the callback broke its contract */
    return status;
}

static rt_proto_conn *rt__proto_conn_new(rt_proto *p, rt_conn *c, const char *user)
{
    rt_proto_conn *pc = (rt_proto_conn *)rt_alloc(p->ps->srv->cfg.alloc, sizeof *pc);
    if (!pc)
        return NULL;
    memset(pc, 0, sizeof *pc);
    pc->p = p;
    pc->c = c;
    memcpy(pc->user, user, strlen(user) + 1);
    /* a counter, not the address: that would tell clients where the heap is */
    snprintf(pc->session, sizeof pc->session, "s%llu", (unsigned long long)++p->_sessions);
    pc->sub.enc = &rt__proto_encoder;
    rt_list_push_back(&p->conns, &pc->link);
    rt_pubsub_set_sub(c, &pc->sub);
    return pc;
}

int rt_proto_upgrade(rt_proto *p, rt_conn *c, const rt_http_request *req)
{
    char user[RT_PROTO_MAX_ID + 1];
    int status = rt__proto_auth(p, req, user);
    if (status != 0)
        return status;
    return rt__proto_conn_new(p, c, user) ? 0 : 503;
}

void rt_proto_open(rt_proto *p, rt_conn *c)
{
    rt_proto_conn *pc = rt__proto_of(c);
    (void)p;
    if (pc)
        rt__proto_send_connected(pc, NULL);
}

void rt_proto_close(rt_proto *p, rt_conn *c)
{
    rt_proto_conn *pc = rt__proto_of(c);
    if (!pc)
        return;
    rt_presence_leave_all(&p->presence, c, rt__proto_now(p)); /* LEAVE after the grace */
    rt_list_unlink(&pc->link);
    rt_pubsub_set_sub(c, NULL);
    rt_free(p->ps->srv->cfg.alloc, pc, sizeof *pc);
}

const char *rt_proto_user(const rt_conn *c)
{
    const rt_proto_conn *pc = rt__proto_of(c);
    return pc ? pc->user : NULL;
}

#ifndef RT_NO_SSE
/* ---- The SSE + POST transport (not under RT_NO_SSE) ---------------------------- */

static rt_proto_conn *rt__proto_find_session(rt_proto *p, rt_str session)
{
    rt_list *n;
    for (n = rt_list_first(&p->conns); n; n = rt_list_next(&p->conns, n)) {
        rt_proto_conn *pc = RT_LIST_ENTRY(n, rt_proto_conn, link);
        if (rt_conn_kind(pc->c) == RT_CONN_SSE && rt_str_eq(rt_str_c(pc->session), session))
            return pc;
    }
    return NULL;
}

/* GET /rt/sse?session=S: the stream a session's server messages travel on. */
static int rt__proto_sse(rt_proto *p, rt_conn *c, const rt_http_request *req, rt_str session)
{
    char user[RT_PROTO_MAX_ID + 1];
    rt_proto_conn *old = rt__proto_find_session(p, session), *pc;
    int status = rt__proto_auth(p, req, user);
    if (status != 0)
        return status;
    if (old && strcmp(old->user, user) != 0)
        return 403; /* a session belongs to the user who opened it */
    if (old)
        rt_conn_close(old->c, RT_WS_CLOSE_NORMAL, NULL); /* replaced by this one */
    if (rt_conn_sse_start(c, NULL) != RT_OK || !(pc = rt__proto_conn_new(p, c, user)))
        return 503;
    memcpy(pc->session, session.p, session.n);
    pc->session[session.n] = '\0';
    rt__proto_send_connected(pc, NULL);
    return 0;
}

/* POST /rt/send?session=S: one client message; replies go on the stream. */
/* Each POST carries the token again (a session id alone proves nothing) and
 * is charged to the stream's rate limits, as a WebSocket message would be. */
static int rt__proto_send_post(rt_proto *p, rt_conn *c, const rt_http_request *req,
                               rt_str session, rt_str body)
{
    static const char no_session[] =
        "{\"type\":\"error\",\"code\":\"no_session\",\"message\":\"open /rt/sse first\"}";
    rt_proto_conn *pc = rt__proto_find_session(p, session);
    char user[RT_PROTO_MAX_ID + 1], retry[48];
    uint32_t ms = 0;
    int status;
    if (!pc) {
        rt_conn_reply(c, 404, "application/json", no_session, sizeof no_session - 1, NULL);
        return 0;
    }
    status = rt__proto_auth(p, req, user);
    if (status != 0)
        return status;
    if (strcmp(user, pc->user) != 0)
        return 403;
    if (!rt_conn_rate_check(pc->c, body.n, &ms)) {
        snprintf(retry, sizeof retry, "Retry-After: %u\r\n", (unsigned)(ms + 999) / 1000);
        rt_conn_reply(c, 429, NULL, NULL, 0, retry);
        rt_proto_rate_limited(p, pc->c, ms); /* and the error on the stream */
        return 0;
    }
    rt_conn_reply(c, 202, "application/json", "{}", 2, NULL);
    rt__proto_handle(p, pc, body);
    return 0;
}

int rt_proto_http(rt_proto *p, rt_conn *c, const rt_http_request *req, rt_str body)
{
    char buf[RT_PROTO_MAX_ID + 1];
    rt_result n = rt_http_query_get(req->query, "session", buf, sizeof buf);
    rt_str session;
    int sse = rt_str_eq(req->path, rt_str_c("/rt/sse"));
    if (!sse && !rt_str_eq(req->path, rt_str_c("/rt/send")))
        return 404;
    session.p = buf;
    session.n = n > 0 ? (size_t)n : 0;
    if (!rt_str_is_name(session, RT_PROTO_MAX_ID))
        return 400;
    if (sse)
        return rt_str_eq(req->method, rt_str_c("GET")) ? rt__proto_sse(p, c, req, session) : 405;
    if (!rt_str_eq(req->method, rt_str_c("POST")))
        return 405;
    return rt__proto_send_post(p, c, req, session, body);
}
#endif /* RT_NO_SSE */

/* ---- Set-up and the tick ----------------------------------------------------------- */

/* Every heartbeat: a ping to each client; every second: presence deadlines. */
static void rt__proto_on_tick(rt_loop *loop, void *user)
{
    static const char ping[] = "{\"type\":\"ping\"}";
    rt_proto *p = (rt_proto *)user;
    rt_list *n, *next;
    int beat = loop->now - p->_last_ping >= p->cfg.heartbeat_ms;
    rt_presence_tick(&p->presence, loop->now);
    if (!beat)
        return;
    p->_last_ping = loop->now;
    for (n = rt_list_first(&p->conns); n; n = next) {
        rt_proto_conn *pc = RT_LIST_ENTRY(n, rt_proto_conn, link);
        next = rt_list_next(&p->conns, n); /* a send may close pc's connection */
        rt__proto_send_text(pc, ping, sizeof ping - 1);
    }
}

/* Presence deadlines and pings are met within a quarter of the shortest
 * period: a ping late by a whole tick would make rt.js, which gives up
 * after 2.5 heartbeats of silence, drop a healthy link. */
static uint32_t rt__proto_tick_ms(const rt_presence_settings *s, uint32_t heartbeat_ms)
{
    uint64_t t = s->grace_ms && s->grace_ms < s->typing_ms ? s->grace_ms : s->typing_ms;
    t = heartbeat_ms < t ? heartbeat_ms : t;
    t /= 4;
    return t < 50 ? 50 : t > 1000 ? 1000 : (uint32_t)t;
}

rt_result rt_proto_init(rt_proto *p, rt_pubsub *ps, const rt_proto_config *cfg)
{
    rt_presence_settings s;
    rt_result r;
    uint32_t tick;
    memset(p, 0, sizeof *p);
    p->ps = ps;
    if (cfg)
        p->cfg = *cfg;
    if (!p->cfg.heartbeat_ms)
        p->cfg.heartbeat_ms = RT_PROTO_HEARTBEAT_MS;
    rt_presence_settings_init(&s);
    s.alloc = ps->srv->cfg.alloc;
    s.hash_seed = ps->rooms.settings.hash_seed;
    s.on_event = rt__proto_on_presence;
    if (p->cfg.presence_grace_ms)
        s.grace_ms = p->cfg.presence_grace_ms;
    if (p->cfg.typing_ms)
        s.typing_ms = p->cfg.typing_ms;
    s.ctx = p;
    r = rt_presence_init(&p->presence, &s);
    if (r != RT_OK)
        return r;
    p->_last_ping = ps->srv->loop->now;
    tick = rt__proto_tick_ms(&s, p->cfg.heartbeat_ms);
    r = rt_timer_start(ps->srv->loop, &p->tick, tick, tick, rt__proto_on_tick, p);
    if (r != RT_OK)
        rt_presence_deinit(&p->presence);
    return r;
}

void rt_proto_deinit(rt_proto *p)
{
    rt_list *n;
    rt_timer_stop(p->ps->srv->loop, &p->tick);
    while ((n = rt_list_first(&p->conns)) != NULL) { /* normally empty by now */
        rt_proto_conn *pc = RT_LIST_ENTRY(n, rt_proto_conn, link);
        rt_list_unlink(n);
        rt_free(p->ps->srv->cfg.alloc, pc, sizeof *pc);
    }
    rt_presence_deinit(&p->presence);
}
