/* Unit tests for presence: users across connections, join/leave exactly
 * once, the reconnect grace period, typing indicators, limits, allocation
 * failure injection and ten thousand users. Time is a plain number passed
 * in, so every case is deterministic. */
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../rt_test.h"

static rt_str S(const char *s)
{
    return rt_str_c(s);
}

static const rt_str NOINFO = {NULL, 0};

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* ---- A counting allocator that can fail the Nth allocation ----------------- */

typedef struct counter {
    size_t live, calls;
    size_t fail_at; /* 0 = never; else the call number that fails */
    int failed;
} counter;

static int counter_fails(counter *c)
{
    c->calls++;
    if (c->fail_at != 0 && c->calls == c->fail_at) {
        c->failed = 1;
        return 1;
    }
    return 0;
}

static void *c_alloc(void *user, size_t n)
{
    counter *c = (counter *)user;
    if (counter_fails(c))
        return NULL;
    c->live += n;
    return malloc(n);
}

static void *c_realloc(void *user, void *p, size_t old_n, size_t new_n)
{
    counter *c = (counter *)user;
    void *q;
    if (counter_fails(c))
        return NULL;
    q = realloc(p, new_n);
    if (q)
        c->live = c->live - old_n + new_n;
    return q;
}

static void c_free(void *user, void *p, size_t n)
{
    counter *c = (counter *)user;
    c->live -= n;
    free(p);
}

static rt_allocator counting(counter *c)
{
    rt_allocator a;
    memset(c, 0, sizeof *c);
    a.alloc = c_alloc;
    a.realloc = c_realloc;
    a.free = c_free;
    a.user = c;
    return a;
}

/* ---- An event recorder ---------------------------------------------------------
 * Each event is logged as "<code> <room> <user> <online>;" with J(oin),
 * L(eave), U(pdate), T(yping start), S(top). Inside the callback it also
 * checks that the registry's own count agrees with the event. */

typedef struct rec {
    rt_presence *p;
    char log[4096];
    size_t len;
    size_t n[6];      /* events by type */
    char info[300];   /* info of the last event */
    int overflow;
} rec;

static void on_event(void *ctx, const rt_presence_event *ev)
{
    rec *r = (rec *)ctx;
    const char *code = " JLUTS";
    int w;
    r->n[ev->type]++;
    CHECK(ev->info.p != NULL && ev->info.n < sizeof r->info);
    memcpy(r->info, ev->info.p, ev->info.n);
    r->info[ev->info.n] = '\0';
    CHECK_EQ(rt_presence_count(r->p, ev->room), ev->online);
    w = snprintf(r->log + r->len, sizeof r->log - r->len, "%c %.*s %.*s %u;", code[ev->type],
                 (int)ev->room.n, ev->room.p, (int)ev->user.n, ev->user.p, (unsigned)ev->online);
    if (w < 0 || (size_t)w >= sizeof r->log - r->len)
        r->overflow = 1;
    else
        r->len += (size_t)w;
}

/* The log so far, and empties it. */
static const char *take(rec *r)
{
    static char out[sizeof r->log];
    memcpy(out, r->log, r->len + 1);
    r->len = 0;
    r->log[0] = '\0';
    return out;
}

static rt_presence_settings settings(const rt_allocator *a, rec *r)
{
    rt_presence_settings s;
    rt_presence_settings_init(&s);
    s.alloc = a;
    s.hash_seed = 0x0fedcba987654321ull;
    s.on_event = on_event;
    s.ctx = r;
    return s;
}

static void start(rt_presence *p, rec *r, const rt_presence_settings *s)
{
    memset(r, 0, sizeof *r);
    r->p = p;
    CHECK_EQ(rt_presence_init(p, s), RT_OK);
}

/* Connection keys: any distinct addresses. */
static char K[32];
#define C(i) ((const void *)&K[i])

/* ---- The registry's invariants, checked from the inside -------------------------- */

static size_t check_rooms(const rt_presence *p)
{
    size_t rooms = 0, users = 0, conns = 0, armed = 0;
    const rt_hash_node *x;
    const rt_list *l;
    const rt__presence_room *r;
    const rt__presence_user *u;
    for (x = rt_hash_first(&p->_rooms); x; x = rt_hash_next(&p->_rooms, x)) {
        size_t n = 0;
        r = RT_HASH_ENTRY(x, const rt__presence_room, node);
        rooms++;
        CHECK(r->n_users > 0);
        for (l = rt_list_first(&r->users); l; l = rt_list_next(&r->users, l), n++) {
            u = RT_LIST_ENTRY(l, const rt__presence_user, link);
            CHECK(u->room == r && l->next->prev == l);
            CHECK(rt__presence_find_user(p, r, u->id) == u);
            CHECK_EQ(u->grace.slot != 0, u->n_conns == 0);
            CHECK_EQ(u->typing_t.slot != 0, u->typing);
            CHECK(!u->typing || u->n_conns > 0);
            armed += (u->n_conns == 0) + (size_t)u->typing;
            conns += u->n_conns;
        }
        CHECK_EQ(n, r->n_users);
        users += n;
    }
    CHECK_EQ(rooms, p->n_rooms);
    CHECK_EQ(users, p->n_users);
    CHECK_EQ(armed, p->_deadlines.n);
    return conns;
}

static void check_consistent(const rt_presence *p)
{
    size_t i, conns = 0, sessions = 0, user_conns = check_rooms(p);
    const rt_hash_node *x;
    const rt_list *l;
    const rt__presence_conn *c;
    const rt_presence_timer *const *heap = (const rt_presence_timer *const *)p->_deadlines._items;
    for (x = rt_hash_first(&p->_conns); x; x = rt_hash_next(&p->_conns, x)) {
        size_t n = 0;
        c = RT_HASH_ENTRY(x, const rt__presence_conn, node);
        conns++;
        CHECK(rt__presence_find_conn(p, c->key) == c);
        for (l = rt_list_first(&c->sessions); l; l = rt_list_next(&c->sessions, l), n++)
            CHECK(RT_LIST_ENTRY(l, const rt__presence_sess, link)->conn == c &&
                  l->next->prev == l);
        CHECK(n > 0 && n == c->n_rooms);
        sessions += n;
    }
    CHECK_EQ(conns, p->n_conns);
    CHECK_EQ(sessions, user_conns);
    CHECK(p->_deadlines._cap >= 2 * p->n_users);
    for (i = 0; i < p->_deadlines.n; i++) {
        CHECK_EQ(heap[i]->slot, i + 1);
        CHECK(i == 0 || heap[(i - 1) / 2]->at <= heap[i]->at);
    }
}

/* ---- Listing ----------------------------------------------------------------------- */

typedef struct listing {
    char text[1024];
    size_t len;
} listing;

static void list_one(void *ctx, const rt_presence_member *m)
{
    listing *l = (listing *)ctx;
    int w = snprintf(l->text + l->len, sizeof l->text - l->len, "%.*s(%.*s)x%u%s;",
                     (int)m->user.n, m->user.p, (int)m->info.n, m->info.p, (unsigned)m->conns,
                     m->typing ? "T" : "");
    if (w > 0 && (size_t)w < sizeof l->text - l->len)
        l->len += (size_t)w;
}

static const char *list(rt_presence *p, const char *room)
{
    static listing l;
    size_t n;
    l.len = 0;
    l.text[0] = '\0';
    n = rt_presence_list(p, S(room), list_one, &l);
    CHECK_EQ(n, rt_presence_count(p, S(room)));
    return l.text;
}

static void since_one(void *ctx, const rt_presence_member *m)
{
    *(uint64_t *)ctx = m->since_ms;
}

/* since_ms of the last user listed in room. */
static uint64_t since(rt_presence *p, const char *room)
{
    uint64_t t = UINT64_MAX;
    rt_presence_list(p, S(room), since_one, &t);
    return t;
}

/* ---- Settings and ids ----------------------------------------------------------------- */

RT_TEST(settings_are_validated)
{
    rt_presence p;
    rt_presence_settings s;
    rt_presence_settings_init(&s);
    CHECK_EQ(s.grace_ms, RT_PRESENCE_GRACE_MS);
    CHECK_EQ(s.typing_ms, RT_PRESENCE_TYPING_MS);
    CHECK_EQ(s.max_info, RT_PRESENCE_MAX_INFO);
    CHECK(s.on_event == NULL && s.alloc == NULL);
    CHECK_EQ(rt_presence_init(&p, &s), RT_OK);
    rt_presence_deinit(&p);
    s.grace_ms = 0;
    s.max_info = 0; /* both may be 0 */
    CHECK_EQ(rt_presence_init(&p, &s), RT_OK);
    rt_presence_deinit(&p);
    s.typing_ms = 0;
    CHECK_EQ(rt_presence_init(&p, &s), RT_E_INVAL);
    rt_presence_settings_init(&s);
    s.max_rooms = 0;
    CHECK_EQ(rt_presence_init(&p, &s), RT_E_INVAL);
    rt_presence_settings_init(&s);
    s.max_users = 0;
    CHECK_EQ(rt_presence_init(&p, &s), RT_E_INVAL);
    rt_presence_settings_init(&s);
    s.max_joins = 0;
    CHECK_EQ(rt_presence_init(&p, &s), RT_E_INVAL);
    rt_presence_settings_init(&s);
    s.max_conns = 0;
    CHECK_EQ(rt_presence_init(&p, &s), RT_E_INVAL);
}

RT_TEST(ids_and_names_are_validated)
{
    const char *good[] = {"a", "alice", "user@example.com", "a.b-c_d:9", "0"};
    const char *bad[] = {"", "a b", "a\"b", "a\\b", "caf\xC3\xA9", "a\n", "<x>", "a/b", "{}"};
    char longest[RT_PRESENCE_MAX_ID + 2];
    rt_str nul = {"a\0b", 3};
    rt_presence p;
    rec r;
    rt_presence_settings s = settings(NULL, &r);
    size_t i;
    start(&p, &r, &s);
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECK(rt_presence_id_valid(S(good[i])));
        CHECK_EQ(rt_presence_join(&p, S("lobby"), S(good[i]), NOINFO, C(i), 0), RT_OK);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!rt_presence_id_valid(S(bad[i])));
        CHECK_EQ(rt_presence_join(&p, S("lobby"), S(bad[i]), NOINFO, C(10), 0), RT_E_INVAL);
        /* a room name follows rt_room_name_valid */
        CHECK_EQ(rt_presence_join(&p, S(bad[i]), S("bob"), NOINFO, C(10), 0), RT_E_INVAL);
        CHECK_EQ(rt_presence_count(&p, S(bad[i])), 0);
    }
    CHECK(!rt_presence_id_valid(nul));
    CHECK(!rt_presence_id_valid(rt_str_c(NULL)));
    memset(longest, 'x', sizeof longest);
    longest[RT_PRESENCE_MAX_ID] = '\0';
    CHECK(rt_presence_id_valid(S(longest)));
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S(longest), NOINFO, C(10), 0), RT_OK);
    longest[RT_PRESENCE_MAX_ID] = 'x';
    longest[RT_PRESENCE_MAX_ID + 1] = '\0';
    CHECK(!rt_presence_id_valid(S(longest)));
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S(longest), NOINFO, C(11), 0), RT_E_INVAL);
    /* no connection key, or info bytes with no pointer */
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("bob"), NOINFO, NULL, 0), RT_E_INVAL);
    {
        rt_str broken = {NULL, 3};
        CHECK_EQ(rt_presence_join(&p, S("lobby"), S("bob"), broken, C(11), 0), RT_E_INVAL);
    }
    CHECK_EQ(rt_presence_count(&p, S("lobby")), sizeof good / sizeof good[0] + 1);
    CHECK_EQ(r.n[RT_PRESENCE_EV_JOIN], sizeof good / sizeof good[0] + 1);
    check_consistent(&p);
    rt_presence_deinit(&p);
}

/* ---- Join and leave ----------------------------------------------------------------- */

RT_TEST(join_is_announced_once_and_leave_after_the_grace_period)
{
    rt_presence p;
    rec r;
    rt_presence_settings s = settings(NULL, &r);
    uint64_t at = 0;
    start(&p, &r, &s);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), S("{\"n\":\"Al\"}"), C(0), 0), RT_OK);
    CHECK_STR(take(&r), "J lobby alice 1;");
    CHECK_STR(r.info, "{\"n\":\"Al\"}");
    CHECK_EQ(p.n_rooms, 1);
    CHECK_EQ(p.n_conns, 1);
    CHECK(!rt_presence_next_deadline(&p, &at));
    CHECK_EQ(rt_presence_leave(&p, S("lobby"), C(0), 1000), RT_OK);
    CHECK_STR(take(&r), "");
    CHECK_EQ(p.n_conns, 0);
    CHECK_EQ(rt_presence_count(&p, S("lobby")), 1); /* still there: grace */
    CHECK_STR(list(&p, "lobby"), "alice({\"n\":\"Al\"})x0;");
    CHECK(rt_presence_next_deadline(&p, &at));
    CHECK_EQ(at, 1000 + RT_PRESENCE_GRACE_MS);
    CHECK_EQ(rt_presence_tick(&p, 1000 + RT_PRESENCE_GRACE_MS - 1), 0);
    CHECK_STR(take(&r), "");
    CHECK_EQ(rt_presence_tick(&p, 1000 + RT_PRESENCE_GRACE_MS), 1);
    CHECK_STR(take(&r), "L lobby alice 0;");
    CHECK_STR(r.info, "{\"n\":\"Al\"}"); /* LEAVE carries the last info */
    CHECK_EQ(p.n_rooms, 0);
    CHECK_EQ(p.n_users, 0);
    CHECK(!rt_presence_next_deadline(&p, &at));
    CHECK_EQ(rt_presence_tick(&p, UINT64_MAX), 0);
    CHECK_STR(take(&r), "");
    CHECK_EQ(rt_presence_leave(&p, S("lobby"), C(0), 9000), RT_E_NOTFOUND);
    check_consistent(&p);
    rt_presence_deinit(&p);
}

RT_TEST(a_user_is_online_while_any_connection_is)
{
    rt_presence p;
    rec r;
    rt_presence_settings s = settings(NULL, &r);
    start(&p, &r, &s);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), S("a"), C(0), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), NOINFO, C(1), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), S("a"), C(2), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("bob"), S("b"), C(3), 0), RT_OK);
    CHECK_STR(take(&r), "J lobby alice 1;J lobby bob 2;");
    CHECK_STR(list(&p, "lobby"), "alice(a)x3;bob(b)x1;");
    CHECK_EQ(p.n_conns, 4);
    CHECK_EQ(rt_presence_leave(&p, S("lobby"), C(0), 100), RT_OK);
    CHECK_EQ(rt_presence_leave(&p, S("lobby"), C(2), 200), RT_OK);
    CHECK_EQ(rt_presence_tick(&p, 1000000), 0);
    CHECK_STR(take(&r), "");
    CHECK_STR(list(&p, "lobby"), "alice(a)x1;bob(b)x1;");
    check_consistent(&p);
    CHECK_EQ(rt_presence_leave(&p, S("lobby"), C(1), 2000000), RT_OK);
    CHECK_EQ(rt_presence_tick(&p, 2000000 + RT_PRESENCE_GRACE_MS), 1);
    CHECK_STR(take(&r), "L lobby alice 1;");
    CHECK_STR(list(&p, "lobby"), "bob(b)x1;");
    check_consistent(&p);
    rt_presence_deinit(&p);
}

RT_TEST(a_reconnect_within_the_grace_period_is_not_announced)
{
    rt_presence p;
    rec r;
    rt_presence_settings s = settings(NULL, &r);
    uint64_t at = 0;
    start(&p, &r, &s);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), S("a"), C(0), 500), RT_OK);
    CHECK_STR(take(&r), "J lobby alice 1;");
    rt_presence_leave_all(&p, C(0), 1000); /* the page reloads */
    CHECK_EQ(rt_presence_tick(&p, 1000 + RT_PRESENCE_GRACE_MS - 1), 0);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), S("a"), C(1), 5999), RT_OK);
    CHECK_STR(take(&r), ""); /* neither LEAVE nor JOIN */
    CHECK_EQ(since(&p, "lobby"), 500); /* online since the first join */
    CHECK(!rt_presence_next_deadline(&p, &at)); /* the grace timer is gone */
    CHECK_EQ(rt_presence_tick(&p, 1000000), 0);
    CHECK_STR(list(&p, "lobby"), "alice(a)x1;");
    /* back with other info: the room hears an update, not a join */
    rt_presence_leave_all(&p, C(1), 2000000);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), S("b"), C(2), 0), RT_OK);
    CHECK_STR(take(&r), "U lobby alice 1;");
    CHECK_STR(r.info, "b");
    /* a second grace period, this time over: exactly one LEAVE */
    rt_presence_leave_all(&p, C(2), 3000000);
    CHECK_EQ(rt_presence_tick(&p, 3000000 + RT_PRESENCE_GRACE_MS), 1);
    CHECK_EQ(rt_presence_tick(&p, 4000000 + RT_PRESENCE_GRACE_MS), 0);
    CHECK_STR(take(&r), "L lobby alice 0;");
    /* coming back after it is a new JOIN */
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), NOINFO, C(0), 9000000), RT_OK);
    CHECK_STR(take(&r), "J lobby alice 1;");
    CHECK_STR(r.info, ""); /* the old info went with the user */
    CHECK_EQ(since(&p, "lobby"), 9000000);
    check_consistent(&p);
    rt_presence_deinit(&p);
}

RT_TEST(no_grace_period_announces_leave_at_once)
{
    rt_presence p;
    rec r;
    rt_presence_settings s = settings(NULL, &r);
    uint64_t at = 0;
    s.grace_ms = 0;
    start(&p, &r, &s);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), NOINFO, C(0), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), NOINFO, C(1), 0), RT_OK);
    CHECK_EQ(rt_presence_leave(&p, S("lobby"), C(0), 5), RT_OK);
    CHECK_EQ(rt_presence_leave(&p, S("lobby"), C(1), 5), RT_OK);
    CHECK_STR(take(&r), "J lobby alice 1;L lobby alice 0;");
    CHECK(!rt_presence_next_deadline(&p, &at));
    CHECK_EQ(p.n_rooms, 0);
    /* the grace period may change at run time, for leaves after the change */
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), NOINFO, C(0), 0), RT_OK);
    p.settings.grace_ms = 50;
    rt_presence_leave_all(&p, C(0), 100);
    CHECK(rt_presence_next_deadline(&p, &at));
    CHECK_EQ(at, 150);
    CHECK_EQ(rt_presence_tick(&p, 150), 1);
    CHECK_STR(take(&r), "J lobby alice 1;L lobby alice 0;");
    rt_presence_deinit(&p);
}

RT_TEST(rejoining_the_same_room_updates_info_only_when_it_changes)
{
    rt_presence p;
    rec r;
    rt_presence_settings s = settings(NULL, &r);
    start(&p, &r, &s);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), S("a"), C(0), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), S("a"), C(0), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), NOINFO, C(0), 0), RT_OK);
    CHECK_STR(take(&r), "J lobby alice 1;");
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), S("away"), C(0), 0), RT_OK);
    CHECK_STR(take(&r), "U lobby alice 1;");
    CHECK_STR(r.info, "away");
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), S(""), C(0), 0), RT_OK);
    CHECK_STR(take(&r), "U lobby alice 1;");
    CHECK_STR(list(&p, "lobby"), "alice()x1;");
    /* a second connection with new info updates too */
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), S("x"), C(1), 0), RT_OK);
    CHECK_STR(take(&r), "U lobby alice 1;");
    CHECK_STR(list(&p, "lobby"), "alice(x)x2;");
    /* a connection is one user per room */
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("bob"), S("b"), C(0), 0), RT_E_INVAL);
    CHECK_EQ(rt_presence_join(&p, S("other"), S("bob"), S("b"), C(0), 0), RT_OK);
    CHECK_STR(take(&r), "J other bob 1;");
    CHECK_STR(list(&p, "lobby"), "alice(x)x2;");
    check_consistent(&p);
    rt_presence_deinit(&p);
}

RT_TEST(leave_all_leaves_every_room_of_a_connection)
{
    rt_presence p;
    rec r;
    rt_presence_settings s = settings(NULL, &r);
    start(&p, &r, &s);
    CHECK_EQ(rt_presence_join(&p, S("a"), S("alice"), NOINFO, C(0), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("b"), S("alice"), NOINFO, C(0), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("c"), S("alice"), NOINFO, C(0), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("b"), S("alice"), NOINFO, C(1), 0), RT_OK); /* another tab */
    CHECK_EQ(rt_presence_join(&p, S("c"), S("bob"), NOINFO, C(2), 0), RT_OK);
    CHECK_STR(take(&r), "J a alice 1;J b alice 1;J c alice 1;J c bob 2;");
    CHECK_EQ(rt_presence_typing(&p, S("c"), C(0), 1, 10), RT_OK);
    CHECK_STR(take(&r), "T c alice 2;");
    rt_presence_leave_all(&p, C(0), 100);
    CHECK_STR(take(&r), "S c alice 2;"); /* typing ends with the last connection */
    CHECK_EQ(p.n_conns, 2);
    rt_presence_leave_all(&p, C(0), 100); /* unknown now: ignored */
    CHECK_EQ(rt_presence_typing(&p, S("c"), C(0), 1, 10), RT_E_NOTFOUND);
    check_consistent(&p);
    CHECK_EQ(rt_presence_tick(&p, 100 + RT_PRESENCE_GRACE_MS), 2);
    /* in deadline order; both expire at once, so either order is right */
    {
        const char *log = take(&r);
        CHECK(strcmp(log, "L a alice 0;L c alice 1;") == 0 ||
              strcmp(log, "L c alice 1;L a alice 0;") == 0);
    }
    CHECK_STR(list(&p, "b"), "alice()x1;");
    CHECK_EQ(rt_presence_count(&p, S("a")), 0);
    CHECK_EQ(p.n_rooms, 2);
    check_consistent(&p);
    rt_presence_deinit(&p);
}

/* ---- Typing ------------------------------------------------------------------------- */

RT_TEST(typing_starts_once_extends_and_expires)
{
    rt_presence p;
    rec r;
    rt_presence_settings s = settings(NULL, &r);
    uint64_t at = 0;
    start(&p, &r, &s);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), NOINFO, C(0), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), NOINFO, C(1), 0), RT_OK);
    take(&r);
    CHECK_EQ(rt_presence_typing(&p, S("lobby"), C(0), 1, 1000), RT_OK);
    CHECK_STR(take(&r), "T lobby alice 1;");
    CHECK_STR(list(&p, "lobby"), "alice()x2T;");
    CHECK(rt_presence_next_deadline(&p, &at));
    CHECK_EQ(at, 1000 + RT_PRESENCE_TYPING_MS);
    /* again, from the other tab: only the deadline moves */
    CHECK_EQ(rt_presence_typing(&p, S("lobby"), C(1), 1, 4000), RT_OK);
    CHECK_STR(take(&r), "");
    CHECK(rt_presence_next_deadline(&p, &at));
    CHECK_EQ(at, 4000 + RT_PRESENCE_TYPING_MS);
    CHECK_EQ(rt_presence_tick(&p, 1000 + RT_PRESENCE_TYPING_MS), 0);
    CHECK_STR(take(&r), "");
    CHECK_EQ(rt_presence_tick(&p, 4000 + RT_PRESENCE_TYPING_MS), 1);
    CHECK_STR(take(&r), "S lobby alice 1;");
    CHECK_STR(list(&p, "lobby"), "alice()x2;");
    CHECK(!rt_presence_next_deadline(&p, &at));
    /* the typing time may change at run time */
    p.settings.typing_ms = 300;
    CHECK_EQ(rt_presence_typing(&p, S("lobby"), C(1), 1, 10000), RT_OK);
    CHECK_EQ(rt_presence_tick(&p, 10299), 0);
    CHECK_EQ(rt_presence_tick(&p, 10300), 1);
    CHECK_STR(take(&r), "T lobby alice 1;S lobby alice 1;");
    check_consistent(&p);
    rt_presence_deinit(&p);
}

RT_TEST(typing_stops_when_the_message_arrives)
{
    rt_presence p;
    rec r;
    rt_presence_settings s = settings(NULL, &r);
    uint64_t at = 0;
    start(&p, &r, &s);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), NOINFO, C(0), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("bob"), NOINFO, C(1), 0), RT_OK);
    take(&r);
    CHECK_EQ(rt_presence_typing(&p, S("lobby"), C(0), 1, 0), RT_OK);
    CHECK_EQ(rt_presence_typing(&p, S("lobby"), C(1), 1, 0), RT_OK);
    CHECK_EQ(rt_presence_typing(&p, S("lobby"), C(0), 0, 10), RT_OK); /* alice sent */
    CHECK_EQ(rt_presence_typing(&p, S("lobby"), C(0), 0, 20), RT_OK); /* nothing more */
    CHECK_STR(take(&r), "T lobby alice 2;T lobby bob 2;S lobby alice 2;");
    CHECK_STR(list(&p, "lobby"), "alice()x1;bob()x1T;");
    CHECK(rt_presence_next_deadline(&p, &at));
    CHECK_EQ(at, RT_PRESENCE_TYPING_MS); /* bob's */
    CHECK_EQ(rt_presence_tick(&p, RT_PRESENCE_TYPING_MS), 1);
    CHECK_STR(take(&r), "S lobby bob 2;");
    CHECK_EQ(rt_presence_typing(&p, S("lobby"), C(2), 1, 0), RT_E_NOTFOUND);
    CHECK_EQ(rt_presence_typing(&p, S("nowhere"), C(0), 1, 0), RT_E_NOTFOUND);
    CHECK_EQ(rt_presence_typing(&p, S("bad name"), C(0), 1, 0), RT_E_NOTFOUND);
    check_consistent(&p);
    rt_presence_deinit(&p);
}

RT_TEST(deadlines_saturate_instead_of_wrapping)
{
    rt_presence p;
    rec r;
    rt_presence_settings s = settings(NULL, &r);
    uint64_t at = 0;
    start(&p, &r, &s);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), NOINFO, C(0), 0), RT_OK);
    CHECK_EQ(rt_presence_typing(&p, S("lobby"), C(0), 1, UINT64_MAX - 10), RT_OK);
    CHECK(rt_presence_next_deadline(&p, &at));
    CHECK(at == UINT64_MAX);
    CHECK_EQ(rt_presence_tick(&p, UINT64_MAX - 1), 0);
    CHECK_EQ(rt_presence_tick(&p, UINT64_MAX), 1);
    CHECK_STR(take(&r), "J lobby alice 1;T lobby alice 1;S lobby alice 1;");
    rt_presence_deinit(&p);
}

/* ---- Queries and limits ---------------------------------------------------------------- */

RT_TEST(list_shows_join_order_info_connections_and_typing)
{
    rt_presence p;
    rec r;
    rt_presence_settings s = settings(NULL, &r);
    start(&p, &r, &s);
    CHECK_STR(list(&p, "lobby"), "");
    CHECK_EQ(rt_presence_count(&p, S("lobby")), 0);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("carol"), S("{\"c\":3}"), C(0), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), S("{}"), C(1), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("bob"), NOINFO, C(2), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("lobby"), S("alice"), NOINFO, C(3), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("other"), S("alice"), NOINFO, C(3), 0), RT_OK);
    CHECK_EQ(rt_presence_typing(&p, S("lobby"), C(2), 1, 0), RT_OK);
    CHECK_EQ(rt_presence_leave(&p, S("lobby"), C(0), 0), RT_OK);
    CHECK_STR(list(&p, "lobby"), "carol({\"c\":3})x0;alice({})x2;bob()x1T;");
    CHECK_STR(list(&p, "other"), "alice()x1;");
    CHECK_EQ(rt_presence_count(&p, S("lobby")), 3);
    CHECK_EQ(rt_presence_count(&p, S("other")), 1);
    CHECK_EQ(rt_presence_count(&p, S("nowhere")), 0);
    CHECK_EQ(p.n_users, 4);
    CHECK_EQ(p.n_rooms, 2);
    CHECK_EQ(p.n_conns, 3);
    check_consistent(&p);
    rt_presence_deinit(&p);
}

RT_TEST(limits_are_enforced_and_change_nothing)
{
    rt_presence p;
    rec r;
    rt_presence_settings s = settings(NULL, &r);
    char big[9];
    s.max_rooms = 2;
    s.max_users = 2;
    s.max_joins = 2;
    s.max_conns = 3;
    s.max_info = 8;
    start(&p, &r, &s);
    memset(big, 'i', sizeof big);
    CHECK_EQ(rt_presence_join(&p, S("a"), S("u1"), S("12345678"), C(0), 0), RT_OK);
    {
        rt_str nine = {big, 9};
        CHECK_EQ(rt_presence_join(&p, S("a"), S("u2"), nine, C(1), 0), RT_E_LIMIT);
        CHECK_EQ(rt_presence_join(&p, S("a"), S("u1"), nine, C(0), 0), RT_E_LIMIT);
    }
    CHECK_EQ(rt_presence_join(&p, S("a"), S("u2"), NOINFO, C(1), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("a"), S("u3"), NOINFO, C(2), 0), RT_E_LIMIT); /* users */
    CHECK_EQ(rt_presence_join(&p, S("a"), S("u2"), NOINFO, C(2), 0), RT_OK); /* a known user */
    CHECK_EQ(rt_presence_join(&p, S("b"), S("u1"), NOINFO, C(0), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("c"), S("u1"), NOINFO, C(1), 0), RT_E_LIMIT); /* rooms */
    CHECK_EQ(rt_presence_join(&p, S("b"), S("u3"), NOINFO, C(3), 0), RT_E_LIMIT); /* conns */
    CHECK_EQ(rt_presence_join(&p, S("b"), S("u1"), NOINFO, C(1), 0), RT_OK);
    CHECK_EQ(p.n_conns, 3);
    CHECK_EQ(rt_presence_join(&p, S("b"), S("u2"), NOINFO, C(2), 0), RT_OK);
    CHECK_EQ(p.n_rooms, 2);
    CHECK_EQ(p.n_users, 4);
    CHECK_STR(take(&r), "J a u1 1;J a u2 2;J b u1 1;J b u2 2;");
    check_consistent(&p);
    rt_presence_deinit(&p);
}

RT_TEST(max_joins_bounds_rooms_per_connection)
{
    rt_presence p;
    rec r;
    rt_presence_settings s = settings(NULL, &r);
    s.max_joins = 2;
    start(&p, &r, &s);
    CHECK_EQ(rt_presence_join(&p, S("a"), S("u"), NOINFO, C(0), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("b"), S("u"), NOINFO, C(0), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("c"), S("u"), NOINFO, C(0), 0), RT_E_LIMIT);
    CHECK_EQ(rt_presence_join(&p, S("a"), S("u"), NOINFO, C(0), 0), RT_OK); /* already in */
    CHECK_EQ(rt_presence_join(&p, S("c"), S("u"), NOINFO, C(1), 0), RT_OK);
    CHECK_EQ(rt_presence_leave(&p, S("a"), C(0), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("c"), S("u"), NOINFO, C(0), 0), RT_OK);
    CHECK_EQ(rt_presence_count(&p, S("c")), 1);
    check_consistent(&p);
    rt_presence_deinit(&p);
}

/* ---- Callbacks may read the registry ------------------------------------------------------ */

typedef struct reader {
    rt_presence *p;
    size_t listed;
} reader;

static void count_one(void *ctx, const rt_presence_member *m)
{
    (void)m;
    ((reader *)ctx)->listed++;
}

static void on_event_lists(void *ctx, const rt_presence_event *ev)
{
    reader *rd = (reader *)ctx;
    size_t before = rd->listed;
    CHECK_EQ(rt_presence_list(rd->p, ev->room, count_one, rd), ev->online);
    CHECK_EQ(rd->listed - before, ev->online);
}

RT_TEST(callbacks_see_the_room_as_announced)
{
    rt_presence p;
    rt_presence_settings s;
    reader rd;
    rt_presence_settings_init(&s);
    s.on_event = on_event_lists;
    s.ctx = &rd;
    s.grace_ms = 0;
    rd.p = &p;
    rd.listed = 0;
    CHECK_EQ(rt_presence_init(&p, &s), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("r"), S("a"), NOINFO, C(0), 0), RT_OK); /* lists 1 */
    CHECK_EQ(rt_presence_join(&p, S("r"), S("b"), NOINFO, C(1), 0), RT_OK); /* lists 2 */
    CHECK_EQ(rt_presence_leave(&p, S("r"), C(0), 0), RT_OK);          /* lists 1 */
    CHECK_EQ(rt_presence_leave(&p, S("r"), C(1), 0), RT_OK);          /* lists 0 */
    CHECK_EQ(rd.listed, 4);
    CHECK_EQ(p._busy, 0);
    rt_presence_deinit(&p);
}

/* ---- Allocation failure injection ---------------------------------------------------------- */

enum { OP_JOIN, OP_LEAVE, OP_ALL, OP_TYPE, OP_STOP, OP_TICK };

typedef struct op {
    int kind;
    const char *room, *user, *info;
    int conn;
    uint64_t now;
} op;

static rt_result run_op(rt_presence *p, const op *o)
{
    switch (o->kind) {
    case OP_JOIN:
        return rt_presence_join(p, S(o->room), S(o->user), o->info ? S(o->info) : NOINFO,
                                C(o->conn), 0);
    case OP_LEAVE:
        return rt_presence_leave(p, S(o->room), C(o->conn), o->now);
    case OP_ALL:
        rt_presence_leave_all(p, C(o->conn), o->now);
        return RT_OK;
    case OP_TYPE:
    case OP_STOP:
        return rt_presence_typing(p, S(o->room), C(o->conn), o->kind == OP_TYPE, o->now);
    default:
        return (rt_result)rt_presence_tick(p, o->now);
    }
}

/* Twenty users on twenty connections, each in two of three rooms: enough to
 * grow the tables past their first 16 buckets and the heap twice. */
static size_t script_joins(op *ops)
{
    static const char *users[20] = {"u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8",
                                    "u9", "u10", "u11", "u12", "u13", "u14", "u15", "u16",
                                    "u17", "u18", "u19"};
    size_t n = 0, i;
    op o;
    memset(&o, 0, sizeof o);
    for (i = 0; i < 20; i++) {
        o.kind = OP_JOIN;
        o.room = i % 2 ? "odd" : "even";
        o.user = users[i];
        o.info = i % 3 ? "{\"k\":1}" : NULL;
        o.conn = (int)i;
        ops[n++] = o;
        o.room = "all";
        ops[n++] = o;
    }
    return n;
}

/* A script that makes every kind of allocation (new rooms, users, info
 * copies, connections, sessions, table and heap growth) and then frees it
 * all through leaves, grace periods and a shrinking heap. */
static size_t script(op *ops)
{
    size_t n = script_joins(ops), i;
    op o;
    memset(&o, 0, sizeof o);
    o.kind = OP_JOIN;
    o.room = "even";
    o.user = "u0";
    o.info = "{\"k\":2}"; /* an update */
    o.conn = 0;
    ops[n++] = o;
    o.kind = OP_TYPE;
    o.now = 10;
    ops[n++] = o;
    o.kind = OP_STOP;
    ops[n++] = o;
    o.kind = OP_TYPE;
    o.room = "all";
    o.conn = 3;
    ops[n++] = o;
    o.kind = OP_LEAVE;
    o.room = "odd";
    o.conn = 1;
    o.now = 20;
    ops[n++] = o;
    for (i = 0; i < 20; i += 2) {
        o.kind = OP_ALL;
        o.conn = (int)i;
        o.now = 30 + i;
        ops[n++] = o;
    }
    o.kind = OP_TICK;
    o.now = 100000;
    ops[n++] = o;
    for (i = 1; i < 20; i += 2) {
        o.kind = OP_ALL;
        o.conn = (int)i;
        o.now = 200000;
        ops[n++] = o;
    }
    o.kind = OP_TICK;
    o.now = 300000;
    ops[n++] = o;
    return n;
}

/* Runs the script; an op that fails for memory must leave no trace, and
 * succeeds when retried. Returns 1 when the injected failure happened. */
static int run_script(rt_presence *p, rec *r, counter *c, const op *ops, size_t n)
{
    size_t i, len;
    rt_result res, expect;
    for (i = 0; i < n; i++) {
        len = r->len;
        res = run_op(p, &ops[i]);
        if (res == RT_E_NOMEM) {
            CHECK(c->failed);
            CHECK_EQ(r->len, len); /* nothing announced */
            check_consistent(p);
            c->fail_at = 0;
            res = run_op(p, &ops[i]);
        }
        expect = ops[i].kind == OP_TICK ? res : RT_OK;
        CHECK_EQ(res, expect);
        check_consistent(p);
    }
    return c->failed;
}

RT_TEST(allocation_failures_leave_the_registry_as_it_was)
{
    op ops[128];
    size_t n = script(ops), fail_at;
    counter c;
    rt_allocator a = counting(&c);
    rec r;
    rt_presence p;
    rt_presence_settings s = settings(&a, &r);
    char reference[sizeof r.log];
    start(&p, &r, &s);
    CHECK(!run_script(&p, &r, &c, ops, n));
    CHECK(!r.overflow);
    CHECK_EQ(p.n_users, 0);
    CHECK(c.calls > 60);
    memcpy(reference, r.log, r.len + 1);
    rt_presence_deinit(&p);
    CHECK_EQ(c.live, 0);
    for (fail_at = 1;; fail_at++) {
        int failed;
        a = counting(&c);
        c.fail_at = fail_at;
        start(&p, &r, &s);
        failed = run_script(&p, &r, &c, ops, n);
        CHECK_STR(r.log, reference); /* the same announcements, once each */
        rt_presence_deinit(&p);
        CHECK_EQ(c.live, 0);
        if (!failed)
            break;
    }
    CHECK(fail_at > 60);
}

RT_TEST(deinit_frees_everything_in_any_state)
{
    counter c;
    rt_allocator a = counting(&c);
    rec r;
    rt_presence p;
    rt_presence_settings s = settings(&a, &r);
    start(&p, &r, &s);
    CHECK_EQ(rt_presence_join(&p, S("a"), S("alice"), S("info"), C(0), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("b"), S("alice"), S("info"), C(0), 0), RT_OK);
    CHECK_EQ(rt_presence_join(&p, S("a"), S("bob"), S("info"), C(1), 0), RT_OK);
    CHECK_EQ(rt_presence_typing(&p, S("a"), C(1), 1, 0), RT_OK);
    CHECK_EQ(rt_presence_leave(&p, S("b"), C(0), 0), RT_OK); /* alice in grace in b */
    CHECK(c.live > 0);
    take(&r);
    rt_presence_deinit(&p);
    CHECK_STR(take(&r), ""); /* deinit announces nothing */
    CHECK_EQ(c.live, 0);
    CHECK_EQ(p.n_users, 0);
    rt_presence_deinit(&p); /* twice is harmless */
}

/* ---- Random operations keep every invariant and announce consistently ---------------------- */

typedef struct tracker {
    unsigned char online[3][8]; /* by room, user: from JOIN/LEAVE */
    unsigned char typing[3][8];
    size_t events;
} tracker;

static void on_event_track(void *ctx, const rt_presence_event *ev)
{
    tracker *t = (tracker *)ctx;
    int room = ev->room.p[0] - 'a', user = ev->user.p[1] - '0';
    t->events++;
    switch (ev->type) {
    case RT_PRESENCE_EV_JOIN:
        CHECK(!t->online[room][user]);
        t->online[room][user] = 1;
        break;
    case RT_PRESENCE_EV_LEAVE:
        CHECK(t->online[room][user] && !t->typing[room][user]);
        t->online[room][user] = 0;
        break;
    case RT_PRESENCE_EV_UPDATE:
        CHECK(t->online[room][user]);
        break;
    case RT_PRESENCE_EV_TYPING_START:
        CHECK(t->online[room][user] && !t->typing[room][user]);
        t->typing[room][user] = 1;
        break;
    case RT_PRESENCE_EV_TYPING_STOP:
        CHECK(t->typing[room][user]);
        t->typing[room][user] = 0;
        break;
    }
}

static void random_step(rt_presence *p, uint64_t *seed, uint64_t now)
{
    static const char *rooms[3] = {"a", "b", "c"};
    static const char *users[8] = {"u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"};
    static const char *infos[3] = {"x", "y", ""};
    uint64_t x = rnd(seed);
    const char *room = rooms[x % 3];
    int conn = (int)((x >> 8) % 12), kind = (int)((x >> 16) % 10);
    /* connection k is always user k % 8, as an authenticated session would be */
    if (kind < 4)
        rt_presence_join(p, S(room), S(users[conn % 8]), S(infos[(x >> 24) % 3]), C(conn), 0);
    else if (kind < 6)
        rt_presence_leave(p, S(room), C(conn), now);
    else if (kind == 6)
        rt_presence_leave_all(p, C(conn), now);
    else if (kind < 9)
        rt_presence_typing(p, S(room), C(conn), kind == 7, now);
    else
        rt_presence_tick(p, now);
}

RT_TEST(random_operations_keep_the_invariants)
{
    counter c;
    rt_allocator a = counting(&c);
    tracker t;
    rt_presence p;
    rt_presence_settings s;
    uint64_t seed = 0x9e3779b97f4a7c15ull, now = 0;
    size_t i, j;
    rt_presence_settings_init(&s);
    s.alloc = &a;
    s.on_event = on_event_track;
    s.ctx = &t;
    s.grace_ms = 40;
    s.typing_ms = 30;
    memset(&t, 0, sizeof t);
    CHECK_EQ(rt_presence_init(&p, &s), RT_OK);
    for (i = 0; i < 20000; i++) {
        now += rnd(&seed) % 7;
        random_step(&p, &seed, now);
        if (i % 97 == 0)
            check_consistent(&p);
    }
    for (i = 0; i < 12; i++)
        rt_presence_leave_all(&p, C(i), now);
    rt_presence_tick(&p, now + 40);
    CHECK_EQ(p.n_users, 0);
    CHECK(t.events > 1000);
    for (i = 0; i < 3; i++) {
        for (j = 0; j < 8; j++)
            CHECK(!t.online[i][j] && !t.typing[i][j]);
    }
    rt_presence_deinit(&p);
    CHECK_EQ(c.live, 0);
}

/* ---- Ten thousand users ---------------------------------------------------------------------- */

#define MANY 10000

typedef struct crowd {
    size_t next_leave; /* the user whose LEAVE should come next */
    size_t leaves, typing_stops, other;
    int in_order;
} crowd;

static void on_event_crowd(void *ctx, const rt_presence_event *ev)
{
    crowd *cw = (crowd *)ctx;
    char want[16];
    if (ev->type == RT_PRESENCE_EV_TYPING_STOP) {
        cw->typing_stops++;
    } else if (ev->type == RT_PRESENCE_EV_LEAVE && rt_str_eq(ev->room, S("big"))) {
        snprintf(want, sizeof want, "u%u", (unsigned)cw->next_leave++);
        cw->in_order &= rt_str_eq(ev->user, S(want));
        cw->leaves++;
    } else {
        cw->other++;
    }
}

static void join_crowd(rt_presence *p, const char *keys)
{
    char id[16];
    size_t i;
    for (i = 0; i < MANY; i++) {
        snprintf(id, sizeof id, "u%u", (unsigned)i);
        CHECK_EQ(rt_presence_join(p, S("big"), S(id), S("{}"), keys + i, 0), RT_OK);
        if (i % 2 == 0)
            CHECK_EQ(rt_presence_join(p, S("half"), S(id), NOINFO, keys + i, 0), RT_OK);
    }
}

RT_TEST(ten_thousand_users_tick_only_what_is_due)
{
    counter c;
    rt_allocator a = counting(&c);
    crowd cw;
    rt_presence p;
    rt_presence_settings s;
    char *keys = (char *)malloc(MANY);
    size_t i, calls;
    uint64_t at = 0;
    rt_presence_settings_init(&s);
    s.alloc = &a;
    s.on_event = on_event_crowd;
    s.ctx = &cw;
    memset(&cw, 0, sizeof cw);
    cw.in_order = 1;
    CHECK_EQ(rt_presence_init(&p, &s), RT_OK);
    join_crowd(&p, keys);
    CHECK_EQ(cw.other, MANY + MANY / 2); /* the JOINs */
    CHECK_EQ(rt_presence_count(&p, S("big")), MANY);
    CHECK_EQ(rt_presence_count(&p, S("half")), MANY / 2);
    for (i = 0; i < 100; i++)
        CHECK_EQ(rt_presence_typing(&p, S("big"), keys + i * 7, 1, 1000 + i), RT_OK);
    /* only the 100 typing users have a deadline; a tick before it does nothing
     * and allocates nothing, and the heap holds exactly the pending deadlines */
    CHECK_EQ(p._deadlines.n, 100);
    calls = c.calls;
    CHECK_EQ(rt_presence_tick(&p, 1000 + RT_PRESENCE_TYPING_MS - 1), 0);
    CHECK_EQ(c.calls, calls);
    CHECK_EQ(rt_presence_tick(&p, 1049 + RT_PRESENCE_TYPING_MS), 50);
    CHECK_EQ(p._deadlines.n, 50);
    CHECK_EQ(rt_presence_tick(&p, 2000 + RT_PRESENCE_TYPING_MS), 50);
    CHECK_EQ(cw.typing_stops, 100);
    check_consistent(&p);
    /* everyone disconnects, one per millisecond: LEAVEs come in that order */
    for (i = 0; i < MANY; i++)
        rt_presence_leave_all(&p, keys + i, 100000 + i);
    CHECK_EQ(p.n_conns, 0);
    CHECK_EQ(cw.leaves, 0);
    CHECK(rt_presence_next_deadline(&p, &at));
    CHECK_EQ(at, 100000 + RT_PRESENCE_GRACE_MS);
    CHECK_EQ(rt_presence_tick(&p, 100000 + RT_PRESENCE_GRACE_MS + 99), 100 + 50);
    CHECK_EQ(cw.leaves, 100);
    CHECK_EQ(rt_presence_tick(&p, 200000), MANY + MANY / 2 - 150);
    CHECK_EQ(cw.leaves, MANY);
    CHECK(cw.in_order);
    CHECK_EQ(p.n_users, 0);
    CHECK_EQ(p.n_rooms, 0);
    CHECK(p._deadlines._cap < 64); /* the heap gave its memory back */
    check_consistent(&p);
    rt_presence_deinit(&p);
    CHECK_EQ(c.live, 0);
    free(keys);
}

int main(void)
{
    return rt_test_main();
}
