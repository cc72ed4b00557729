/* Unit tests for room: registry, membership, history bounds, positions,
 * recovery, memory bounds and allocation-failure injection. Time is a
 * plain number passed in, so every case is deterministic. */
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../rt_test.h"

static rt_str S(const char *s)
{
    return rt_str_c(s);
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* ---- A counting allocator that can fail the Nth allocation ----------------- */

typedef struct counter {
    size_t live, peak, calls;
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
    if (c->live > c->peak)
        c->peak = c->live;
    return malloc(n);
}

static void *c_realloc(void *user, void *p, size_t old_n, size_t new_n)
{
    counter *c = (counter *)user;
    void *q;
    if (counter_fails(c))
        return NULL;
    q = realloc(p, new_n);
    if (q) {
        c->live = c->live - old_n + new_n;
        if (c->live > c->peak)
            c->peak = c->live;
    }
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

static rt_rooms_settings settings(const rt_allocator *a)
{
    rt_rooms_settings s;
    rt_rooms_settings_init(&s);
    s.alloc = a;
    s.epoch_seed = 0x1234567890abcdefull;
    s.hash_seed = 0x0fedcba987654321ull;
    return s;
}

/* The registry's invariants, checked from the outside and the inside. */
static void check_consistent(const rt_rooms *rs)
{
    size_t rooms = 0, bytes = 0, i;
    const rt_hash_node *x;
    const rt_room *r;
    for (x = rt_hash_first(&rs->_rooms); x; x = rt_hash_next(&rs->_rooms, x)) {
        r = RT_HASH_ENTRY(x, const rt_room, _node);
        rooms++;
        bytes += r->history_bytes;
        CHECK(rt_rooms_find(rs, r->name) == r);
        CHECK(r->_walks == 0 && r->_holes == 0);
        CHECK_EQ(r->_n_slots, r->n_members); /* no holes outside walks */
        for (i = 0; i < r->_n_slots; i++) {
            CHECK(r->_slots[i]->slot == i && r->_slots[i]->room == r);
            CHECK(rt_room_is_member(r, r->_slots[i]->member));
        }
        CHECK(r->history_count <= r->_ring_cap);
        CHECK(r->history_count <= r->pos.offset);
    }
    CHECK_EQ(rooms, rs->n_rooms);
    CHECK_EQ(bytes, rs->history_bytes);
}

/* ---- Settings and names -------------------------------------------------------- */

RT_TEST(settings_are_validated)
{
    rt_rooms rs;
    rt_rooms_settings s = settings(NULL);
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    rt_rooms_deinit(&rs);
    s.epoch_seed = 0;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_E_INVAL);
    s = settings(NULL);
    s.history_max_msgs = s.history_max_bytes = 0;
    s.history_max_age_ms = 0;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_E_INVAL);
    s.history_max_age_ms = 1; /* one bound is enough */
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    rt_rooms_deinit(&rs);
    s = settings(NULL);
    s.max_members = 0;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_E_INVAL);
    s = settings(NULL);
    s.max_rooms = 0;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_E_INVAL);
    s = settings(NULL);
    s.max_joins = 0;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_E_INVAL);
}

RT_TEST(room_names_are_validated)
{
    const char *good[] = {"a", "Z", "0", "chat:lobby", "user@example.com", "a.b-c_d",
                          "----", "::", "@"};
    const char *bad[] = {"a b", "a/b", "caf\xC3\xA9", "a\n", "a\tb", "a#", "a%20", "(x)", "*"};
    char longest[RT_ROOM_MAX_NAME + 2];
    rt_rooms rs;
    rt_room_member m;
    rt_room dummy, *r = &dummy; /* must be reset to NULL on error */
    rt_rooms_settings s = settings(NULL);
    size_t i;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    rt_room_member_init(&m, NULL);
    for (i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK(rt_room_name_valid(S(good[i])));
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!rt_room_name_valid(S(bad[i])));
        CHECK_EQ(rt_room_join(&rs, S(bad[i]), &m, &r), RT_E_INVAL);
        CHECK(r == NULL);
        CHECK_EQ(rt_rooms_open(&rs, S(bad[i]), &r), RT_E_INVAL);
        CHECK(rt_rooms_find(&rs, S(bad[i])) == NULL);
    }
    CHECK(!rt_room_name_valid(S("")));
    CHECK(!rt_room_name_valid(rt_str_c(NULL)));
    CHECK_EQ(rt_room_join(&rs, S(""), &m, NULL), RT_E_INVAL);
    {
        rt_str nul = {"a\0b", 3};
        CHECK(!rt_room_name_valid(nul));
    }
    memset(longest, 'x', sizeof longest);
    longest[RT_ROOM_MAX_NAME] = '\0';
    CHECK(rt_room_name_valid(S(longest)));
    CHECK_EQ(rt_room_join(&rs, S(longest), &m, &r), RT_OK);
    CHECK(r != NULL && r->name.n == RT_ROOM_MAX_NAME && r->name.p[RT_ROOM_MAX_NAME] == '\0');
    longest[RT_ROOM_MAX_NAME] = 'x';
    longest[RT_ROOM_MAX_NAME + 1] = '\0';
    CHECK(!rt_room_name_valid(S(longest)));
    CHECK_EQ(rt_room_join(&rs, S(longest), &m, NULL), RT_E_INVAL);
    CHECK_EQ(rs.n_rooms, 1);
    CHECK_EQ(m.n_rooms, 1);
    rt_rooms_deinit(&rs);
    CHECK_EQ(m.n_rooms, 0); /* deinit takes members out of every room */
    CHECK(rt_room_member_last(&m) == NULL);
}

/* ---- Rooms come and go -------------------------------------------------------------- */

RT_TEST(rooms_are_created_on_join_and_freed_on_last_leave)
{
    counter c;
    rt_allocator a = counting(&c);
    rt_rooms_settings s = settings(&a);
    rt_rooms rs;
    rt_room_member m1, m2;
    rt_room *r, *r2;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    CHECK_EQ(c.live, 0); /* init allocates nothing */
    rt_room_member_init(&m1, &m1);
    rt_room_member_init(&m2, &m2);
    CHECK(rt_rooms_find(&rs, S("lobby")) == NULL);
    CHECK_EQ(rt_room_join(&rs, S("lobby"), &m1, &r), RT_OK);
    CHECK(rt_rooms_find(&rs, S("lobby")) == r);
    CHECK(rt_rooms_find(&rs, S("Lobby")) == NULL); /* names are case-sensitive */
    CHECK_EQ(rt_room_join(&rs, S("lobby"), &m2, &r2), RT_OK);
    CHECK(r2 == r);
    CHECK_EQ(rt_room_join(&rs, S("lobby"), &m2, NULL), RT_OK); /* again: nothing changes */
    CHECK_EQ(r->n_members, 2);
    CHECK_EQ(m2.n_rooms, 1);
    CHECK(rt_room_is_member(r, &m1) && rt_room_is_member(r, &m2));
    CHECK_EQ(rt_room_leave(r, &m1), RT_OK);
    CHECK_EQ(rt_room_leave(r, &m1), RT_E_NOTFOUND);
    CHECK(!rt_room_is_member(r, &m1));
    CHECK_EQ(rs.n_rooms, 1);
    CHECK_EQ(rt_room_leave(r, &m2), RT_OK); /* last one out, no history: freed */
    CHECK_EQ(rs.n_rooms, 0);
    CHECK(rt_rooms_find(&rs, S("lobby")) == NULL);
    check_consistent(&rs);
    rt_rooms_deinit(&rs);
    CHECK_EQ(c.live, 0);
}

RT_TEST(a_room_with_history_outlives_its_members_until_the_age_limit)
{
    rt_rooms_settings s = settings(NULL);
    rt_rooms rs;
    rt_room_member m;
    rt_room *r;
    rt_room_pos seen;
    rt_room_recovery rec;
    s.history_max_age_ms = 1000;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    rt_room_member_init(&m, NULL);
    CHECK_EQ(rt_room_join(&rs, S("news"), &m, &r), RT_OK);
    CHECK_EQ(rt_room_publish(r, "a", 1, 100, NULL), RT_OK);
    seen = r->pos;
    CHECK_EQ(rt_room_publish(r, "b", 1, 200, NULL), RT_OK);
    rt_room_leave_all(&m); /* disconnect: the room stays for recovery */
    CHECK_EQ(rs.n_rooms, 1);
    CHECK_EQ(rt_rooms_expire(&rs, 1099), 0);
    CHECK_EQ(rt_room_join_recover(&rs, S("news"), &m, &seen, 1100, &rec), RT_OK);
    CHECK(rec.recovered && rec.count == 1 && rec.room == r);
    CHECK_EQ(rt_room_history_get(r, rec.from)->data[0], 'b');
    rt_room_leave_all(&m);
    CHECK_EQ(rt_rooms_expire(&rs, 1199), 0); /* "b" is 999 ms old */
    CHECK_EQ(rs.n_rooms, 1);
    CHECK_EQ(rt_rooms_expire(&rs, 1200), 1); /* 1000 ms: gone, and the room with it */
    CHECK_EQ(rs.n_rooms, 0);
    /* the same name now is a new room: a new epoch, so the old position fails */
    CHECK_EQ(rt_room_join_recover(&rs, S("news"), &m, &seen, 1300, &rec), RT_OK);
    CHECK(!rec.recovered);
    CHECK(rec.current.epoch != seen.epoch && rec.current.offset == 0);
    rt_rooms_deinit(&rs);
}

RT_TEST(without_an_age_limit_history_goes_with_the_last_member)
{
    rt_rooms_settings s = settings(NULL);
    rt_rooms rs;
    rt_room_member m;
    rt_room *r;
    s.history_max_age_ms = 0;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    rt_room_member_init(&m, NULL);
    CHECK_EQ(rt_room_join(&rs, S("x"), &m, &r), RT_OK);
    CHECK_EQ(rt_room_publish(r, "a", 1, 0, NULL), RT_OK);
    CHECK_EQ(rt_room_leave(r, &m), RT_OK);
    CHECK_EQ(rs.n_rooms, 0);
    /* a room opened for publishing only is freed by expire */
    CHECK_EQ(rt_rooms_open(&rs, S("feed"), &r), RT_OK);
    CHECK_EQ(rt_room_publish(r, "a", 1, 0, NULL), RT_OK);
    CHECK_EQ(rs.n_rooms, 1);
    CHECK_EQ(rt_rooms_expire(&rs, 0), 1);
    CHECK_EQ(rs.n_rooms, 0);
    CHECK_EQ(rs.history_bytes, 0);
    rt_rooms_deinit(&rs);
}

RT_TEST(open_finds_or_creates_without_joining)
{
    rt_rooms_settings s = settings(NULL);
    rt_rooms rs;
    rt_room_member m;
    rt_room *r, *r2;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    rt_room_member_init(&m, NULL);
    CHECK_EQ(rt_rooms_open(&rs, S("sensors:1"), &r), RT_OK);
    CHECK_EQ(r->n_members, 0);
    CHECK_EQ(rt_rooms_open(&rs, S("sensors:1"), &r2), RT_OK);
    CHECK(r2 == r);
    CHECK_EQ(rt_room_publish(r, "21.5", 4, 10, NULL), RT_OK);
    CHECK_EQ(rt_rooms_expire(&rs, 20), 0); /* history within its age: kept */
    CHECK_EQ(rt_room_join(&rs, S("sensors:1"), &m, &r2), RT_OK);
    CHECK(r2 == r && r->history_count == 1);
    rt_rooms_deinit(&rs);
}

RT_TEST(many_rooms_per_member_and_leave_all)
{
    counter c;
    rt_allocator a = counting(&c);
    rt_rooms_settings s = settings(&a);
    rt_rooms rs;
    rt_room_member m, other;
    rt_room *rooms[300], *r;
    char name[16];
    int i;
    s.max_joins = 300;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    rt_room_member_init(&m, NULL);
    rt_room_member_init(&other, NULL);
    for (i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "room.%d", i);
        CHECK_EQ(rt_room_join(&rs, S(name), &m, &rooms[i]), RT_OK);
    }
    CHECK_EQ(rt_room_join(&rs, S("one.too.many"), &m, &r), RT_E_LIMIT);
    CHECK(r == NULL && rt_rooms_find(&rs, S("one.too.many")) == NULL);
    CHECK_EQ(rt_room_join(&rs, S("room.7"), &m, NULL), RT_OK); /* already in: fine */
    CHECK_EQ(rt_room_join(&rs, S("room.7"), &other, NULL), RT_OK);
    CHECK_EQ(m.n_rooms, 300);
    CHECK_EQ(rs.n_rooms, 300);
    for (i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "room.%d", i);
        CHECK(rt_rooms_find(&rs, S(name)) == rooms[i]); /* across table growth */
        CHECK(rt_room_is_member(rooms[i], &m));
    }
    CHECK_EQ(rt_room_leave(rooms[0], &m), RT_OK);
    CHECK_EQ(rs.n_rooms, 299);
    check_consistent(&rs);
    rt_room_leave_all(&m);
    CHECK_EQ(m.n_rooms, 0);
    CHECK_EQ(rs.n_rooms, 1); /* room.7 keeps its other member */
    CHECK(rt_rooms_find(&rs, S("room.7")) != NULL);
    check_consistent(&rs);
    rt_room_leave_all(&other);
    CHECK_EQ(rs.n_rooms, 0);
    rt_rooms_deinit(&rs);
    CHECK_EQ(c.live, 0);
}

RT_TEST(room_count_limit)
{
    rt_rooms_settings s = settings(NULL);
    rt_rooms rs;
    rt_room_member m;
    rt_room *r;
    char name[16];
    int i;
    s.max_rooms = 1000;
    s.max_joins = 2000;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    rt_room_member_init(&m, NULL);
    for (i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "r%d", i);
        CHECK_EQ(rt_room_join(&rs, S(name), &m, NULL), RT_OK);
    }
    CHECK_EQ(rt_room_join(&rs, S("r1000"), &m, NULL), RT_E_LIMIT);
    CHECK_EQ(rt_rooms_open(&rs, S("r1000"), &r), RT_E_LIMIT);
    CHECK_EQ(rt_room_join(&rs, S("r999"), &m, NULL), RT_OK); /* existing: fine */
    CHECK_EQ(rs.n_rooms, 1000);
    check_consistent(&rs);
    rt_rooms_deinit(&rs);
}

/* ---- Big rooms -------------------------------------------------------------------------- */

#define BIG 20000

typedef struct conn {
    rt_room_member m;
    int visits;
    int id;
} conn;

static conn conns[BIG + 1];

static void count_visit(void *ctx, rt_room *room, rt_room_member *m)
{
    (void)room;
    (*(int *)ctx)++;
    ((conn *)m->user)->visits++;
}

RT_TEST(twenty_thousand_members_in_one_room)
{
    counter c;
    rt_allocator a = counting(&c);
    rt_rooms_settings s = settings(&a);
    rt_rooms rs;
    rt_room *r, *side;
    int i, visited = 0;
    s.max_members = BIG;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    for (i = 0; i <= BIG; i++) {
        rt_room_member_init(&conns[i].m, &conns[i]);
        conns[i].visits = 0;
        conns[i].id = i;
    }
    for (i = 0; i < BIG; i++)
        CHECK_EQ(rt_room_join(&rs, S("stadium"), &conns[i].m, &r), RT_OK);
    CHECK_EQ(r->n_members, BIG);
    CHECK_EQ(rt_room_join(&rs, S("stadium"), &conns[BIG].m, NULL), RT_E_LIMIT);
    CHECK(!rt_room_is_member(r, &conns[BIG].m));
    CHECK_EQ(rt_room_join(&rs, S("side"), &conns[5].m, &side), RT_OK);
    CHECK_EQ(rt_room_join(&rs, S("side"), &conns[6].m, NULL), RT_OK);
    for (i = 0; i < BIG; i += 2)
        CHECK_EQ(rt_room_leave(r, &conns[i].m), RT_OK);
    CHECK_EQ(r->n_members, BIG / 2);
    for (i = 0; i < BIG; i++)
        CHECK_EQ(rt_room_is_member(r, &conns[i].m), i % 2);
    rt_room_leave_all(&conns[5].m); /* leaves stadium and side, nothing else */
    CHECK(!rt_room_is_member(r, &conns[5].m) && !rt_room_is_member(side, &conns[5].m));
    CHECK(rt_room_is_member(side, &conns[6].m));
    CHECK_EQ(r->n_members, BIG / 2 - 1);
    rt_room_each(r, count_visit, &visited);
    CHECK_EQ(visited, BIG / 2 - 1);
    for (i = 0; i < BIG; i++)
        CHECK_EQ(conns[i].visits, i % 2 == 1 && i != 5);
    check_consistent(&rs);
    for (i = 0; i < BIG; i++)
        rt_room_leave_all(&conns[i].m);
    CHECK_EQ(rs.n_rooms, 0);
    rt_rooms_deinit(&rs);
    CHECK_EQ(c.live, 0);
}

/* A walk that changes the room under itself. Every member with an even id
 * leaves when visited; a member visited before id 50 makes the member 50
 * ids further on leave (not yet visited, so never visited); member 10
 * brings in a newcomer (not visited) and walks the room again (nested). */
typedef struct walk {
    rt_rooms *rs;
    rt_room *room;
    int depth, inner_visits;
} walk;

static void inner_visit(void *ctx, rt_room *room, rt_room_member *m)
{
    (void)room;
    (void)m;
    ((walk *)ctx)->inner_visits++;
}

static void disruptive_visit(void *ctx, rt_room *room, rt_room_member *m)
{
    walk *w = (walk *)ctx;
    conn *cn = (conn *)m->user;
    cn->visits++;
    if (cn->id < 50 && rt_room_is_member(room, &conns[cn->id + 50].m))
        CHECK_EQ(rt_room_leave(room, &conns[cn->id + 50].m), RT_OK);
    if (cn->id == 10) {
        CHECK_EQ(rt_room_join(w->rs, S("walk"), &conns[BIG].m, NULL), RT_OK);
        rt_room_each(room, inner_visit, w);
    }
    if (cn->id % 2 == 0)
        rt_room_leave_all(m);
}

RT_TEST(walking_a_room_while_members_leave_and_join)
{
    rt_rooms_settings s = settings(NULL);
    rt_rooms rs;
    rt_room *r;
    walk w;
    int i, visited = 0, members = 0;
    s.history_max_age_ms = 0;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    for (i = 0; i <= BIG; i++) {
        rt_room_member_init(&conns[i].m, &conns[i]);
        conns[i].visits = 0;
        conns[i].id = i;
    }
    for (i = 0; i < 200; i++)
        CHECK_EQ(rt_room_join(&rs, S("walk"), &conns[i].m, &r), RT_OK);
    w.rs = &rs;
    w.room = r;
    w.depth = 0;
    w.inner_visits = 0;
    rt_room_each(r, disruptive_visit, &w);
    for (i = 0; i < 200; i++) {
        CHECK(conns[i].visits <= 1);
        /* members 50..99 were removed before their turn iff the member 50
         * ids earlier came first; either way nobody is visited twice */
        if (i < 50 || i >= 100)
            CHECK_EQ(conns[i].visits, 1);
        CHECK_EQ(rt_room_is_member(r, &conns[i].m), conns[i].visits == 1 && i % 2 == 1);
        members += rt_room_is_member(r, &conns[i].m);
    }
    CHECK_EQ(conns[BIG].visits, 0);
    CHECK(rt_room_is_member(r, &conns[BIG].m));
    CHECK(w.inner_visits > 0 && w.inner_visits < 200);
    CHECK_EQ(r->n_members, (size_t)members + 1);
    check_consistent(&rs); /* holes closed after the walk */
    rt_room_each(r, count_visit, &visited);
    CHECK_EQ(visited, members + 1);
    /* everybody leaves during a walk: the room survives the walk, expire frees it */
    for (i = 0; i < 200; i++)
        conns[i].id = 0; /* even: each leaves when visited */
    conns[BIG].id = 0;
    rt_room_each(r, disruptive_visit, &w);
    CHECK_EQ(r->n_members, 0);
    CHECK_EQ(rs.n_rooms, 1);
    CHECK_EQ(rt_rooms_expire(&rs, 0), 1);
    CHECK_EQ(rs.n_rooms, 0);
    rt_rooms_deinit(&rs);
}

/* ---- History bounds -------------------------------------------------------------------- */

#define MSG_SIZE(len) (sizeof(rt_room_msg) + (len) + 1)

RT_TEST(history_is_bounded_by_count)
{
    rt_rooms_settings s = settings(NULL);
    rt_rooms rs;
    rt_room *r;
    rt_room_msg *m;
    char text[8];
    int i;
    s.history_max_msgs = 5;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    CHECK_EQ(rt_rooms_open(&rs, S("count"), &r), RT_OK);
    CHECK(rt_room_history_get(r, 0) == NULL);
    CHECK(rt_room_history_get(r, 1) == NULL);
    for (i = 1; i <= 12; i++) {
        snprintf(text, sizeof text, "m%d", i);
        CHECK_EQ(rt_room_publish(r, text, strlen(text), 0, &m), RT_OK);
        CHECK(m->pos.epoch == r->pos.epoch && m->pos.offset == (uint64_t)i);
        CHECK_STR(m->data, text);
        rt_room_msg_release(m);
        CHECK_EQ(r->history_count, i < 5 ? i : 5);
    }
    CHECK_EQ(r->pos.offset, 12);
    CHECK(rt_room_history_get(r, 7) == NULL);
    CHECK(rt_room_history_get(r, 13) == NULL);
    for (i = 8; i <= 12; i++) {
        snprintf(text, sizeof text, "m%d", i);
        m = rt_room_history_get(r, (uint64_t)i);
        CHECK(m != NULL && m->pos.offset == (uint64_t)i);
        if (m)
            CHECK_STR(m->data, text);
    }
    CHECK_EQ(r->history_bytes, 5 * MSG_SIZE(0) + 2 + 2 + 3 + 3 + 3); /* m8 .. m12 */
    rt_rooms_deinit(&rs);
}

RT_TEST(history_is_bounded_by_bytes)
{
    rt_rooms_settings s = settings(NULL);
    rt_rooms rs;
    rt_room *r;
    rt_room_recovery rec;
    rt_room_pos before;
    char big[4096];
    int i;
    s.history_max_msgs = 0;
    s.history_max_age_ms = 0;
    s.history_max_bytes = 5 * MSG_SIZE(10);
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    CHECK_EQ(rt_rooms_open(&rs, S("bytes"), &r), RT_OK);
    memset(big, 'b', sizeof big);
    for (i = 0; i < 9; i++) {
        CHECK_EQ(rt_room_publish(r, big, 10, 0, NULL), RT_OK);
        CHECK(r->history_bytes <= s.history_max_bytes);
    }
    CHECK_EQ(r->history_count, 5);
    CHECK_EQ(r->history_bytes, s.history_max_bytes);
    CHECK_EQ(rt_room_publish(r, big, 11, 0, NULL), RT_OK); /* one byte more: two go */
    CHECK_EQ(r->history_count, 4);
    /* empty messages count their header, so the count is bounded too */
    for (i = 0; i < 1000; i++)
        CHECK_EQ(rt_room_publish(r, "", 0, 0, NULL), RT_OK);
    CHECK_EQ(r->history_count, s.history_max_bytes / MSG_SIZE(0));
    /* a message bigger than the whole budget is published but not kept */
    before = r->pos;
    CHECK_EQ(rt_room_publish(r, big, sizeof big, 0, NULL), RT_OK);
    CHECK_EQ(r->pos.offset, before.offset + 1);
    CHECK_EQ(r->history_count, 0);
    CHECK_EQ(r->history_bytes, 0);
    CHECK_EQ(rs.history_bytes, 0);
    rt_room_recover(r, &before, 0, &rec); /* across it: cannot */
    CHECK(!rec.recovered && rec.current.offset == before.offset + 1);
    rt_room_recover(r, &rec.current, 0, &rec); /* after it: fine */
    CHECK(rec.recovered && rec.count == 0);
    CHECK_EQ(rt_room_publish(r, big, 10, 0, NULL), RT_OK);
    CHECK_EQ(r->history_count, 1);
    rt_rooms_deinit(&rs);
}

RT_TEST(history_is_bounded_by_age)
{
    rt_rooms_settings s = settings(NULL);
    rt_rooms rs;
    rt_room *r;
    rt_room_recovery rec;
    rt_room_pos start;
    int i;
    s.history_max_msgs = 0;
    s.history_max_bytes = 0;
    s.history_max_age_ms = 1000;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    CHECK_EQ(rt_rooms_open(&rs, S("age"), &r), RT_OK);
    start = r->pos;
    for (i = 0; i < 10; i++) /* at t = 0, 100, ..., 900 */
        CHECK_EQ(rt_room_publish(r, "x", 1, (uint64_t)i * 100, NULL), RT_OK);
    CHECK_EQ(r->history_count, 10);
    CHECK_EQ(rt_room_publish(r, "y", 1, 1050, NULL), RT_OK); /* 0 is 1050 old: gone */
    CHECK_EQ(r->history_count, 10);
    CHECK_EQ(rt_room_history_get(r, 2)->time_ms, 100);
    CHECK_EQ(rt_rooms_expire(&rs, 1100), 0); /* 100 is exactly max_age old: gone */
    CHECK_EQ(r->history_count, 9);
    CHECK(rt_room_history_get(r, 2) == NULL);
    CHECK_EQ(rt_rooms_expire(&rs, 1099 + 800), 0);
    CHECK_EQ(r->history_count, 2); /* 900 and 1050 */
    rt_room_recover(r, &start, 1899, &rec);
    CHECK(!rec.recovered);
    CHECK_EQ(rt_rooms_expire(&rs, 50), 0); /* a clock gone backwards drops nothing */
    CHECK_EQ(r->history_count, 2);
    rt_room_recover(r, &start, 2050, &rec); /* recover drops expired history first */
    CHECK_EQ(r->history_count, 0);
    CHECK_EQ(rt_rooms_expire(&rs, 2050), 1);
    rt_rooms_deinit(&rs);
}

/* ---- Positions --------------------------------------------------------------------------- */

static void check_pos_string(uint64_t epoch, uint64_t offset, const char *want)
{
    char out[RT_ROOM_POS_MAX];
    rt_room_pos p, q;
    p.epoch = epoch;
    p.offset = offset;
    CHECK_EQ(rt_room_pos_format(p, out), strlen(want));
    CHECK_STR(out, want);
    CHECK_EQ(rt_room_pos_parse(S(want), &q), RT_OK);
    CHECK(q.epoch == epoch && (epoch == 0 || q.offset == offset));
}

RT_TEST(positions_format_and_parse)
{
    check_pos_string(0x9f3a2c1b7d4e5f60ull, 42, "9f3a2c1b7d4e5f60-42");
    check_pos_string(1, 0, "1-0");
    check_pos_string(0xa, 10, "a-10");
    check_pos_string(UINT64_MAX, UINT64_MAX, "ffffffffffffffff-18446744073709551615");
    check_pos_string(0, 0, "");
    CHECK_EQ(strlen("ffffffffffffffff-18446744073709551615") + 1, RT_ROOM_POS_MAX);
}

RT_TEST(position_garbage_is_rejected)
{
    const char *bad[] = {"-", "1-", "-1", "01-1", "1-01", "0-1", "0-0", "A-1", "1-1x", "1--1",
                         " 1-1", "1-1 ", "1-+1", "1_1", "g-1", "1", "1-1-1", "0x1-1",
                         "10000000000000000-1", "1-18446744073709551616",
                         "1-99999999999999999999", "ffffffffffffffff0-1", "1-1\n", "\xff-1"};
    rt_room_pos p;
    rt_str with_nul = {"1-1\0", 4};
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p.epoch = 7;
        p.offset = 7;
        CHECK_EQ(rt_room_pos_parse(S(bad[i]), &p), RT_E_INVAL);
        CHECK(p.epoch == 7 && p.offset == 7); /* untouched */
    }
    CHECK_EQ(rt_room_pos_parse(with_nul, &p), RT_E_INVAL);
}

RT_TEST(positions_round_trip_and_random_input_never_crashes)
{
    static const char alpha[] = "0123456789abcdefABx-- \0";
    char out[RT_ROOM_POS_MAX], in[48];
    rt_room_pos p, q;
    rt_str v;
    uint64_t seed = 88172645463325252ull;
    int i, parsed = 0;
    size_t n, k;
    for (i = 0; i < 20000; i++) {
        p.epoch = rnd(&seed) >> (rnd(&seed) % 64);
        p.offset = rnd(&seed) >> (rnd(&seed) % 64);
        if (p.epoch == 0)
            p.epoch = 1;
        n = rt_room_pos_format(p, out);
        CHECK_EQ(rt_room_pos_parse(S(out), &q), RT_OK);
        CHECK(q.epoch == p.epoch && q.offset == p.offset);
        CHECK_EQ(n, strlen(out));
        /* random strings: if one parses, it is exactly what format writes */
        n = (size_t)(rnd(&seed) % 40);
        for (k = 0; k < n; k++)
            in[k] = alpha[rnd(&seed) % (sizeof alpha - 1)];
        v.p = in;
        v.n = n;
        if (n > 0 && rt_room_pos_parse(v, &q) == RT_OK) {
            parsed++;
            CHECK_EQ(rt_room_pos_format(q, out), n);
            CHECK_MEM(out, in, n);
        }
    }
    CHECK(parsed > 0); /* the random strings did hit valid positions */
}

/* ---- Recovery ------------------------------------------------------------------------------ */

RT_TEST(recovery_cases)
{
    rt_rooms_settings s = settings(NULL);
    rt_rooms rs;
    rt_room *r;
    rt_room_recovery rec;
    rt_room_pos since;
    char text[8];
    size_t i;
    s.history_max_msgs = 6;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    CHECK_EQ(rt_rooms_open(&rs, S("rec"), &r), RT_OK);
    since = r->pos; /* offset 0 of a fresh room */
    rt_room_recover(r, &since, 0, &rec);
    CHECK(rec.recovered && rec.count == 0 && rec.from == 1);
    for (i = 1; i <= 10; i++) {
        snprintf(text, sizeof text, "%zu", i);
        CHECK_EQ(rt_room_publish(r, text, strlen(text), 0, NULL), RT_OK);
    }
    /* retained: 5..10 */
    since.offset = 4;
    rt_room_recover(r, &since, 0, &rec);
    CHECK(rec.recovered && rec.from == 5 && rec.count == 6 && rec.room == r);
    for (i = 0; i < rec.count; i++) {
        rt_room_msg *m = rt_room_history_get(r, rec.from + i);
        snprintf(text, sizeof text, "%zu", 5 + i);
        CHECK(m != NULL && m->pos.offset == rec.from + i);
        if (m)
            CHECK_STR(m->data, text);
    }
    CHECK(rec.current.epoch == r->pos.epoch && rec.current.offset == 10);
    since.offset = 3; /* 4 is gone */
    rt_room_recover(r, &since, 0, &rec);
    CHECK(!rec.recovered && rec.count == 0 && rec.current.offset == 10 && rec.from == 11);
    since.offset = 10; /* current: nothing missed */
    rt_room_recover(r, &since, 0, &rec);
    CHECK(rec.recovered && rec.count == 0 && rec.from == 11);
    since.offset = 11; /* the future: not from this room */
    rt_room_recover(r, &since, 0, &rec);
    CHECK(!rec.recovered && rec.current.offset == 10);
    since.offset = UINT64_MAX;
    rt_room_recover(r, &since, 0, &rec);
    CHECK(!rec.recovered);
    since.offset = 9;
    since.epoch = r->pos.epoch ^ 1; /* another epoch */
    rt_room_recover(r, &since, 0, &rec);
    CHECK(!rec.recovered && rec.current.epoch == r->pos.epoch);
    rt_room_recover(r, NULL, 0, &rec); /* from now */
    CHECK(rec.recovered && rec.count == 0 && rec.current.offset == 10);
    since.epoch = 0;
    rt_room_recover(r, &since, 0, &rec);
    CHECK(rec.recovered && rec.count == 0);
    rt_rooms_deinit(&rs);
}

RT_TEST(epochs_differ_per_room_and_per_seed)
{
    rt_rooms_settings s = settings(NULL);
    rt_rooms a, b, c;
    rt_room *ra, *ra2, *rb, *rc;
    CHECK_EQ(rt_rooms_init(&a, &s), RT_OK);
    CHECK_EQ(rt_rooms_init(&c, &s), RT_OK);
    s.epoch_seed++;
    CHECK_EQ(rt_rooms_init(&b, &s), RT_OK);
    CHECK_EQ(rt_rooms_open(&a, S("x"), &ra), RT_OK);
    CHECK_EQ(rt_rooms_open(&a, S("y"), &ra2), RT_OK);
    CHECK_EQ(rt_rooms_open(&b, S("x"), &rb), RT_OK);
    CHECK_EQ(rt_rooms_open(&c, S("x"), &rc), RT_OK);
    CHECK(ra->pos.epoch != 0 && ra->pos.epoch != ra2->pos.epoch);
    CHECK(ra->pos.epoch != rb->pos.epoch);   /* another run */
    CHECK(ra->pos.epoch == rc->pos.epoch);   /* deterministic from the seed */
    rt_rooms_deinit(&a);
    rt_rooms_deinit(&b);
    rt_rooms_deinit(&c);
}

RT_TEST(a_room_freed_before_any_message_keeps_its_epoch)
{
    rt_rooms_settings s = settings(NULL);
    rt_rooms rs;
    rt_room_member m;
    rt_room *r;
    uint64_t e1, e2, e3;
    s.history_max_age_ms = 0;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    rt_room_member_init(&m, NULL);
    /* an idle room that comes and goes (a long poll on it) keeps one epoch */
    CHECK_EQ(rt_room_join(&rs, S("idle"), &m, &r), RT_OK);
    e1 = r->pos.epoch;
    CHECK_EQ(rt_room_leave(r, &m), RT_OK);
    CHECK_EQ(rs.n_rooms, 0);
    CHECK_EQ(rt_room_join(&rs, S("idle"), &m, &r), RT_OK);
    e2 = r->pos.epoch;
    CHECK(e1 == e2);
    /* once it held messages, its next life is a new epoch: the old offsets
     * must never name new messages */
    CHECK_EQ(rt_room_publish(r, "a", 1, 0, NULL), RT_OK);
    CHECK_EQ(rt_room_leave(r, &m), RT_OK);
    CHECK_EQ(rs.n_rooms, 0);
    CHECK_EQ(rt_room_join(&rs, S("idle"), &m, &r), RT_OK);
    e3 = r->pos.epoch;
    CHECK(e3 != e2);
    CHECK(e3 != 0);
    rt_room_leave_all(&m);
    rt_rooms_deinit(&rs);
}

/* Clients that come and go while a room publishes: each must see every
 * message exactly once and in order, except across a recovery that reports
 * recovered = 0. */
typedef struct client {
    rt_room_member m;
    int connected, resets;
    rt_room_pos seen; /* the last position this client has */
    uint64_t got;     /* messages received */
    int errors;
} client;

static void deliver(client *cl, const rt_room_msg *msg)
{
    if (!msg) {
        cl->errors++;
        return;
    }
    if (msg->pos.epoch != cl->seen.epoch || msg->pos.offset != cl->seen.offset + 1)
        cl->errors++;
    cl->seen = msg->pos;
    cl->got++;
}

static void deliver_visit(void *ctx, rt_room *room, rt_room_member *m)
{
    (void)room;
    deliver((client *)m->user, (const rt_room_msg *)ctx);
}

static void reconnect(rt_rooms *rs, client *cl, uint64_t now)
{
    rt_room_recovery rec;
    size_t i;
    CHECK_EQ(rt_room_join_recover(rs, S("live"), &cl->m, &cl->seen, now, &rec), RT_OK);
    if (!rec.recovered) {
        cl->resets++;
        cl->seen = rec.current;
    }
    for (i = 0; i < rec.count; i++)
        deliver(cl, rt_room_history_get(rec.room, rec.from + i));
    CHECK(cl->seen.offset == rec.current.offset && cl->seen.epoch == rec.current.epoch);
    cl->connected = 1;
}

static void simulate(size_t max_msgs, int *resets, int *errors)
{
    rt_rooms_settings s = settings(NULL);
    rt_rooms rs;
    rt_room *r;
    client cl[8];
    rt_room_msg *msg;
    uint64_t seed = 0x9E3779B97F4A7C15ull, now;
    int i, k;
    s.history_max_msgs = max_msgs;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    CHECK_EQ(rt_rooms_open(&rs, S("live"), &r), RT_OK);
    for (k = 0; k < 8; k++) {
        memset(&cl[k], 0, sizeof cl[k]);
        rt_room_member_init(&cl[k].m, &cl[k]);
        cl[k].seen = r->pos;
        reconnect(&rs, &cl[k], 0);
    }
    for (now = 1; now <= 3000; now++) {
        k = (int)(rnd(&seed) % 8);
        i = (int)(rnd(&seed) % 10);
        if (i < 6) {
            CHECK_EQ(rt_room_publish(r, "m", 1, now, &msg), RT_OK);
            rt_room_each(r, deliver_visit, msg);
            rt_room_msg_release(msg);
        } else if (cl[k].connected) {
            rt_room_leave_all(&cl[k].m);
            cl[k].connected = 0;
        } else {
            reconnect(&rs, &cl[k], now);
        }
    }
    *resets = *errors = 0;
    for (k = 0; k < 8; k++) {
        if (!cl[k].connected)
            reconnect(&rs, &cl[k], now);
        CHECK(cl[k].seen.offset == r->pos.offset);
        *resets += cl[k].resets;
        *errors += cl[k].errors;
    }
    rt_rooms_deinit(&rs);
}

RT_TEST(no_gap_and_no_duplicate_across_reconnects)
{
    int resets, errors;
    simulate(4000, &resets, &errors); /* history holds everything */
    CHECK_EQ(resets, 0);
    CHECK_EQ(errors, 0);
    simulate(4, &resets, &errors); /* short history: some reconnects must start over */
    CHECK(resets > 0);
    CHECK_EQ(errors, 0);
}

/* ---- Messages and memory ------------------------------------------------------------------- */

RT_TEST(messages_are_reference_counted)
{
    counter c;
    rt_allocator a = counting(&c);
    rt_rooms_settings s = settings(&a);
    rt_rooms rs;
    rt_room *r;
    rt_room_msg *kept, *m;
    size_t base;
    s.history_max_msgs = 1;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    CHECK_EQ(rt_rooms_open(&rs, S("refs"), &r), RT_OK);
    CHECK_EQ(rt_room_publish(r, "first", 5, 0, &kept), RT_OK);
    CHECK(rt_room_msg_retain(kept) == kept); /* a second queue holds it too */
    base = c.live;
    CHECK_EQ(rt_room_publish(r, "second", 6, 0, &m), RT_OK); /* evicts "first" */
    rt_room_msg_release(m);
    CHECK(rt_room_history_get(r, 1) == NULL);
    CHECK_STR(kept->data, "first"); /* still alive */
    CHECK_EQ(c.live, base + MSG_SIZE(6));
    rt_room_msg_release(kept);
    CHECK_STR(kept->data, "first");
    rt_room_msg_release(kept);
    CHECK_EQ(c.live, base + MSG_SIZE(6) - MSG_SIZE(5));
    CHECK_EQ(rt_room_publish(r, "third", 5, 0, &kept), RT_OK);
    rt_rooms_deinit(&rs); /* a message may outlive the registry */
    CHECK_EQ(c.live, MSG_SIZE(5));
    CHECK_STR(kept->data, "third");
    rt_room_msg_release(kept);
    rt_room_msg_release(NULL);
    CHECK_EQ(c.live, 0);
}

RT_TEST(memory_stays_bounded_under_100000_publishes)
{
    counter c;
    rt_allocator a = counting(&c);
    rt_rooms_settings s = settings(&a);
    rt_rooms rs;
    rt_room *r;
    rt_room_member m;
    static char payload[3000];
    uint64_t seed = 12345;
    size_t bound, i, max_hist = 0;
    memset(payload, 'p', sizeof payload);
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK); /* defaults: 256 messages, 256 KiB, 10 min */
    rt_room_member_init(&m, NULL);
    CHECK_EQ(rt_room_join(&rs, S("firehose"), &m, &r), RT_OK);
    /* the history budget, the ring (at most max_msgs pointers), the room,
     * its member array, one membership and the bucket array */
    bound = s.history_max_bytes + s.history_max_msgs * sizeof(void *) + sizeof(rt_room) + 64 +
            4 * sizeof(void *) + 64 + 16 * sizeof(void *);
    for (i = 0; i < 100000; i++) {
        size_t len = (size_t)(rnd(&seed) % sizeof payload);
        CHECK_EQ(rt_room_publish(r, payload, len, i, NULL), RT_OK);
        if (r->history_bytes > max_hist)
            max_hist = r->history_bytes;
        if (c.live > bound || r->history_bytes > s.history_max_bytes) {
            CHECK(c.live <= bound);
            CHECK(r->history_bytes <= s.history_max_bytes);
            break;
        }
    }
    CHECK_EQ(r->pos.offset, 100000);
    CHECK_EQ(rs.history_bytes, r->history_bytes);
    CHECK(max_hist > s.history_max_bytes - sizeof payload - sizeof(rt_room_msg)); /* used */
    /* a publish allocates before it evicts, and a ring grows before it frees */
    CHECK(c.peak <= bound + MSG_SIZE(sizeof payload) + s.history_max_msgs * sizeof(void *));
    rt_rooms_deinit(&rs);
    CHECK_EQ(c.live, 0);
}

/* ---- Allocation failure --------------------------------------------------------------------- */

/* Opens (creates, at first) a publish-only room. */
static void open_step(rt_rooms *rs, int i, int *nomem)
{
    char name[8];
    rt_room *r;
    rt_result res;
    snprintf(name, sizeof name, "f%d", i % 3);
    res = rt_rooms_open(rs, S(name), &r);
    CHECK(res == RT_OK || res == RT_E_NOMEM);
    if (res == RT_OK)
        CHECK(r != NULL && rt_rooms_find(rs, S(name)) == r);
    else
        CHECK(r == NULL && rt_rooms_find(rs, S(name)) == NULL);
    *nomem += res == RT_E_NOMEM;
}

/* A script of calls that allocate: every call either succeeds or returns
 * RT_E_NOMEM having changed nothing, whichever allocation fails. */
static void script(rt_rooms *rs, rt_room_member *mem, int *nomem)
{
    rt_room *r = NULL, *before;
    rt_room_recovery rec;
    rt_room_pos pos;
    rt_result res;
    char name[8];
    int i;
    for (i = 0; i < 40; i++) {
        rt_room_member *m = &mem[i % 4];
        snprintf(name, sizeof name, "r%d", i % 7);
        before = rt_rooms_find(rs, S(name));
        if (i % 3 == 0) {
            pos.epoch = before ? before->pos.epoch : 0;
            pos.offset = before && before->pos.offset > 0 ? before->pos.offset - 1 : 0;
            res = rt_room_join_recover(rs, S(name), m, &pos, (uint64_t)i, &rec);
            r = res == RT_OK ? rec.room : NULL;
        } else {
            res = rt_room_join(rs, S(name), m, &r);
        }
        CHECK(res == RT_OK || res == RT_E_NOMEM);
        if (res == RT_E_NOMEM) {
            (*nomem)++;
            CHECK(rt_rooms_find(rs, S(name)) == before); /* no room created */
            CHECK(!before || !rt_room_is_member(before, m));
            continue;
        }
        CHECK(rt_room_is_member(r, m));
        pos = r->pos;
        res = rt_room_publish(r, name, strlen(name), (uint64_t)i, NULL);
        CHECK(res == RT_OK || res == RT_E_NOMEM);
        CHECK_EQ(r->pos.offset, pos.offset + (res == RT_OK));
        *nomem += res == RT_E_NOMEM;
        if (i % 5 == 4)
            rt_room_leave_all(m);
        if (i % 4 == 1)
            open_step(rs, i, nomem);
        check_consistent(rs);
    }
}

RT_TEST(allocation_failures_leave_everything_consistent)
{
    counter c;
    rt_allocator a = counting(&c);
    rt_rooms_settings s;
    rt_rooms rs;
    rt_room_member mem[4];
    size_t n, total;
    int i, nomem;
    /* count the allocations of a clean run first */
    s = settings(&a);
    s.history_max_msgs = 3;
    CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
    for (i = 0; i < 4; i++)
        rt_room_member_init(&mem[i], NULL);
    nomem = 0;
    script(&rs, mem, &nomem);
    CHECK_EQ(nomem, 0);
    total = c.calls;
    for (i = 0; i < 4; i++)
        rt_room_leave_all(&mem[i]);
    rt_rooms_deinit(&rs);
    CHECK_EQ(c.live, 0);
    CHECK(total > 20);
    for (n = 1; n <= total; n++) {
        a = counting(&c);
        c.fail_at = n;
        s.alloc = &a;
        CHECK_EQ(rt_rooms_init(&rs, &s), RT_OK);
        for (i = 0; i < 4; i++)
            rt_room_member_init(&mem[i], NULL);
        nomem = 0;
        script(&rs, mem, &nomem);
        CHECK(c.failed);
        CHECK(nomem <= 1);
        rt_rooms_deinit(&rs);
        for (i = 0; i < 4; i++)
            CHECK(mem[i].n_rooms == 0 && rt_room_member_last(&mem[i]) == NULL);
        CHECK_EQ(c.live, 0); /* nothing leaked, whichever call failed */
    }
}

int main(void)
{
    return rt_test_main();
}
