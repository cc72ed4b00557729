/* presence.c - who is online in each room, and who is typing.
 *
 * The structures:
 *   - three tables of the shared hash table (base/hash): rooms by name,
 *     users by (room, id), connections by key;
 *   - per room, its users in a shared list (base/list) in join order
 *     (listing and O(1) removal);
 *   - per connection, its sessions (one per room it is in) in a list, so a
 *     connection finds its user in a room, or leaves everything, without
 *     looking at anybody else;
 *   - the shared min-heap (base/heap) of deadlines. Each user owns two
 *     timers (typing, grace);
 *     the heap's capacity is reserved for both when the user is created, so
 *     arming a timer never allocates and leave/tick cannot fail.
 * A join makes every allocation it may need before it changes anything, so
 * on RT_E_NOMEM the registry is as it was.
 */
#include "presence.h"
#include "room.h"
#include <string.h>

/* A deadline; `slot` is its place in the heap, 0 while not armed. */
typedef struct rt_presence_timer {
    uint64_t at;
    size_t slot;
    struct rt__presence_user *user;
} rt_presence_timer;

typedef struct rt__presence_room {
    rt_hash_node node;
    rt_str name; /* inside this allocation, NUL-terminated */
    size_t n_users;
    rt_list users; /* join order */
} rt__presence_room;

typedef struct rt__presence_user {
    rt_hash_node node;
    rt__presence_room *room;
    rt_list link; /* in the room, join order */
    rt_str id;    /* inside this allocation */
    char *info;   /* own allocation; NULL when empty */
    size_t info_n;
    size_t n_conns;
    int typing;
    uint64_t since_ms;
    rt_presence_timer grace, typing_t;
} rt__presence_user;

typedef struct rt__presence_conn {
    rt_hash_node node;
    const void *key;
    size_t n_rooms;
    rt_list sessions;
} rt__presence_conn;

/* One connection in one room, as one user. */
typedef struct rt__presence_sess {
    rt__presence_conn *conn;
    rt__presence_user *user;
    rt_list link; /* in the connection's list */
} rt__presence_sess;

static const rt_allocator *rt__presence_alloc(const rt_presence *p)
{
    return p->settings.alloc;
}

/* now + ms, saturating: a deadline never wraps around to the past. */
static uint64_t rt__presence_after(uint64_t now, uint64_t ms)
{
    return now > UINT64_MAX - ms ? UINT64_MAX : now + ms;
}

/* ---- Names and hashes ------------------------------------------------------ */

int rt_presence_id_valid(rt_str id)
{
    return rt_str_is_name(id, RT_PRESENCE_MAX_ID);
}

/* FNV-1a (32-bit) continued from h. Not a keyed hash: the seeded basis only
 * stops collisions computed in advance; chains stay bounded by the limits
 * and the short names. */
static uint32_t rt__presence_hash_room(const rt_presence *p, rt_str name)
{
    uint64_t seed = p->settings.hash_seed;
    return rt_fnv1a(RT_FNV1A_BASIS ^ (uint32_t)(seed ^ (seed >> 32)), name.p, name.n);
}

/* A user's key is (room, id): its hash continues from the room's. */
static uint32_t rt__presence_hash_user(const rt__presence_room *r, rt_str id)
{
    return rt_fnv1a(r->node.hash * 16777619u, id.p, id.n);
}

/* The splitmix64 finaliser (Steele, Lea, Flood 2014) of the key's bits and
 * the seed: pointers differ in few low bits, and this spreads them all. */
static uint32_t rt__presence_hash_conn(const rt_presence *p, const void *key)
{
    uint64_t z = (uint64_t)(uintptr_t)key ^ p->settings.hash_seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return (uint32_t)(z ^ (z >> 32));
}

/* ---- Lookups ------------------------------------------------------------------ */

static rt__presence_room *rt__presence_find_room(const rt_presence *p, rt_str name)
{
    rt_hash_node *x;
    rt__presence_room *r;
    if (!rt_room_name_valid(name))
        return NULL;
    x = rt_hash_find(&p->_rooms, rt__presence_hash_room(p, name));
    for (; x; x = rt_hash_find_next(x)) {
        r = RT_HASH_ENTRY(x, rt__presence_room, node);
        if (rt_str_eq(r->name, name))
            return r;
    }
    return NULL;
}

static rt__presence_user *rt__presence_find_user(const rt_presence *p, const rt__presence_room *r,
                                                 rt_str id)
{
    rt_hash_node *x = rt_hash_find(&p->_users, rt__presence_hash_user(r, id));
    rt__presence_user *u;
    for (; x; x = rt_hash_find_next(x)) {
        u = RT_HASH_ENTRY(x, rt__presence_user, node);
        if (u->room == r && rt_str_eq(u->id, id))
            return u;
    }
    return NULL;
}

static rt__presence_conn *rt__presence_find_conn(const rt_presence *p, const void *key)
{
    rt_hash_node *x = rt_hash_find(&p->_conns, rt__presence_hash_conn(p, key));
    for (; x; x = rt_hash_find_next(x)) {
        if (RT_HASH_ENTRY(x, rt__presence_conn, node)->key == key)
            return RT_HASH_ENTRY(x, rt__presence_conn, node);
    }
    return NULL;
}

/* c's session in r, found through c's own list (at most max_joins long). */
static rt__presence_sess *rt__presence_find_sess(const rt__presence_conn *c,
                                                 const rt__presence_room *r)
{
    const rt_list *l;
    rt__presence_sess *s;
    for (l = c ? rt_list_first(&c->sessions) : NULL; l; l = rt_list_next(&c->sessions, l)) {
        s = RT_LIST_ENTRY(l, rt__presence_sess, link);
        if (s->user->room == r)
            return s;
    }
    return NULL;
}

static rt__presence_sess *rt__presence_lookup(const rt_presence *p, rt_str room, const void *key)
{
    rt__presence_room *r = rt__presence_find_room(p, room);
    return r ? rt__presence_find_sess(rt__presence_find_conn(p, key), r) : NULL;
}

/* ---- Deadlines ------------------------------------------------------------------ */

/* Arms t for `at`, or moves it there when armed. Never allocates (see the
 * top): the heap has room for two timers per user. */
static void rt__presence_timer_set(rt_presence *p, rt_presence_timer *t, uint64_t at)
{
    t->at = at;
    if (t->slot)
        rt_heap_update(&p->_deadlines, t);
    else
        rt_heap_insert(&p->_deadlines, t);
}

static void rt__presence_timer_stop(rt_presence *p, rt_presence_timer *t)
{
    rt_heap_remove(&p->_deadlines, t);
}

/* Room for the timers of `users` users. */
static rt_result rt__presence_heap_reserve(rt_presence *p, size_t users)
{
    if (users > SIZE_MAX / 2)
        return RT_E_NOMEM;
    return rt_heap_reserve(&p->_deadlines, rt__presence_alloc(p), 2 * users);
}

/* Gives memory back after a crowd has left: the heap keeps room for two
 * timers per user, the tables one bucket per entry. A failed shrink keeps
 * the bigger arrays. */
static void rt__presence_shrink(rt_presence *p)
{
    const rt_allocator *a = rt__presence_alloc(p);
    rt_heap_shrink(&p->_deadlines, a, 2 * p->n_users);
    rt_hash_shrink(&p->_users, a, p->n_users);
    rt_hash_shrink(&p->_rooms, a, p->n_rooms);
}

/* ---- Events and endings ---------------------------------------------------------- */

static rt_str rt__presence_info(const rt__presence_user *u)
{
    rt_str s;
    s.p = u->info ? u->info : "";
    s.n = u->info_n;
    return s;
}

static void rt__presence_emit(rt_presence *p, rt_presence_ev_type type, const rt__presence_user *u)
{
    rt_presence_event ev;
    if (!p->settings.on_event)
        return;
    ev.type = type;
    ev.room = u->room->name;
    ev.user = u->id;
    ev.info = rt__presence_info(u);
    ev.online = u->room->n_users;
    p->_busy++;
    p->settings.on_event(p->settings.ctx, &ev);
    p->_busy--;
}

static void rt__presence_room_free(rt_presence *p, rt__presence_room *r)
{
    rt_free(rt__presence_alloc(p), r, sizeof *r + r->name.n + 1);
}

static void rt__presence_user_free(rt_presence *p, rt__presence_user *u)
{
    rt_free(rt__presence_alloc(p), u->info, u->info_n);
    rt_free(rt__presence_alloc(p), u, sizeof *u + u->id.n + 1);
}

static void rt__presence_typing_stop(rt_presence *p, rt__presence_user *u)
{
    if (!u->typing)
        return;
    u->typing = 0;
    rt__presence_timer_stop(p, &u->typing_t);
    rt__presence_emit(p, RT_PRESENCE_EV_TYPING_STOP, u);
}

/* The end of a user in a room: unlinked and counted out before LEAVE is
 * announced (so the callback sees the room without it), freed after. An
 * empty room goes with its last user. */
static void rt__presence_user_drop(rt_presence *p, rt__presence_user *u)
{
    rt__presence_room *r = u->room;
    rt__presence_timer_stop(p, &u->grace);
    rt__presence_timer_stop(p, &u->typing_t);
    rt_hash_remove(&p->_users, &u->node);
    rt_list_unlink(&u->link);
    r->n_users--;
    p->n_users--;
    rt__presence_emit(p, RT_PRESENCE_EV_LEAVE, u);
    rt__presence_user_free(p, u);
    if (r->n_users == 0) {
        rt_hash_remove(&p->_rooms, &r->node);
        p->n_rooms--;
        rt__presence_room_free(p, r);
    }
    rt__presence_shrink(p);
}

/* Unlinks and frees one session. When it was its user's last connection in
 * the room, the user stops typing and its grace period starts. The
 * connection record stays, even when empty: the caller frees it. */
static void rt__presence_sess_remove(rt_presence *p, rt__presence_sess *s, uint64_t now_ms)
{
    rt__presence_conn *c = s->conn;
    rt__presence_user *u = s->user;
    rt_list_unlink(&s->link);
    c->n_rooms--;
    rt_free(rt__presence_alloc(p), s, sizeof *s);
    if (--u->n_conns > 0)
        return;
    rt__presence_typing_stop(p, u);
    if (p->settings.grace_ms == 0)
        rt__presence_user_drop(p, u);
    else
        rt__presence_timer_set(p, &u->grace, rt__presence_after(now_ms, p->settings.grace_ms));
}

static void rt__presence_conn_free(rt_presence *p, rt__presence_conn *c)
{
    rt_hash_remove(&p->_conns, &c->node);
    p->n_conns--;
    rt_free(rt__presence_alloc(p), c, sizeof *c);
    rt_hash_shrink(&p->_conns, rt__presence_alloc(p), p->n_conns);
}

/* ---- Registry --------------------------------------------------------------------- */

void rt_presence_settings_init(rt_presence_settings *s)
{
    memset(s, 0, sizeof *s);
    s->max_rooms = RT_PRESENCE_MAX_ROOMS;
    s->max_users = RT_PRESENCE_MAX_USERS;
    s->max_joins = RT_PRESENCE_MAX_JOINS;
    s->max_conns = RT_PRESENCE_MAX_CONNS;
    s->max_info = RT_PRESENCE_MAX_INFO;
    s->grace_ms = RT_PRESENCE_GRACE_MS;
    s->typing_ms = RT_PRESENCE_TYPING_MS;
}

rt_result rt_presence_init(rt_presence *p, const rt_presence_settings *s)
{
    if (s->max_rooms == 0 || s->max_users == 0 || s->max_joins == 0 || s->max_conns == 0 ||
        s->typing_ms == 0)
        return RT_E_INVAL;
    memset(p, 0, sizeof *p);
    p->settings = *s;
    rt_heap_init(&p->_deadlines, offsetof(rt_presence_timer, at),
                 offsetof(rt_presence_timer, slot));
    return RT_OK;
}

/* Frees every session and connection record, announcing nothing. Each
 * loop reads its next entry before it frees the current one. */
static void rt__presence_free_conns(rt_presence *p)
{
    const rt_allocator *a = rt__presence_alloc(p);
    rt_hash_node *x, *next_x;
    rt_list *l, *next_l;
    rt__presence_conn *c;
    for (x = rt_hash_first(&p->_conns); x; x = next_x) {
        next_x = rt_hash_next(&p->_conns, x);
        c = RT_HASH_ENTRY(x, rt__presence_conn, node);
        for (l = rt_list_first(&c->sessions); l; l = next_l) {
            next_l = rt_list_next(&c->sessions, l);
            rt_free(a, RT_LIST_ENTRY(l, rt__presence_sess, link), sizeof(rt__presence_sess));
        }
        rt_free(a, c, sizeof *c);
    }
}

/* Frees every user and room, announcing nothing. */
static void rt__presence_free_rooms(rt_presence *p)
{
    rt_hash_node *x, *next_x;
    rt_list *l, *next_l;
    rt__presence_room *r;
    for (x = rt_hash_first(&p->_rooms); x; x = next_x) {
        next_x = rt_hash_next(&p->_rooms, x);
        r = RT_HASH_ENTRY(x, rt__presence_room, node);
        for (l = rt_list_first(&r->users); l; l = next_l) {
            next_l = rt_list_next(&r->users, l);
            rt__presence_user_free(p, RT_LIST_ENTRY(l, rt__presence_user, link));
        }
        rt__presence_room_free(p, r);
    }
}

void rt_presence_deinit(rt_presence *p)
{
    const rt_allocator *a = rt__presence_alloc(p);
    RT_ASSERT(p->_busy == 0);
    rt__presence_free_conns(p);
    rt__presence_free_rooms(p);
    rt_hash_deinit(&p->_rooms, a);
    rt_hash_deinit(&p->_users, a);
    rt_hash_deinit(&p->_conns, a);
    rt_heap_deinit(&p->_deadlines, a);
    p->n_rooms = p->n_users = p->n_conns = 0;
}

/* ---- Join ------------------------------------------------------------------------- */

/* What a join found, then what it allocated: records it allocated (those
 * that differ from what the lookups found) are its own until linked in. */
typedef struct rt__presence_join {
    rt_str room, user, info;
    const void *key;
    uint64_t now_ms;
    rt__presence_conn *c;
    rt__presence_room *r;
    rt__presence_user *u;
    rt__presence_sess *s;
    char *info_copy;
    int set_info; /* info is given and differs from the user's */
} rt__presence_join;

static int rt__presence_info_differs(const rt__presence_user *u, rt_str info)
{
    return u->info_n != info.n || (info.n > 0 && memcmp(u->info, info.p, info.n) != 0);
}

/* The copy of info the join will store, when it stores one. */
static rt_result rt__presence_copy_info(rt_presence *p, rt__presence_join *j)
{
    j->set_info = j->info.p != NULL && (!j->u || rt__presence_info_differs(j->u, j->info));
    j->info_copy = NULL;
    if (!j->set_info || j->info.n == 0)
        return RT_OK;
    j->info_copy = (char *)rt_alloc(rt__presence_alloc(p), j->info.n);
    if (!j->info_copy)
        return RT_E_NOMEM;
    memcpy(j->info_copy, j->info.p, j->info.n);
    return RT_OK;
}

/* Replaces u's info with the join's copy. */
static void rt__presence_take_info(rt_presence *p, rt__presence_user *u, rt__presence_join *j)
{
    rt_free(rt__presence_alloc(p), u->info, u->info_n);
    u->info = j->info_copy;
    u->info_n = j->info.n;
    j->info_copy = NULL;
}

/* conn is already in the room: the same user may bring new info. */
static rt_result rt__presence_rejoin(rt_presence *p, rt__presence_join *j)
{
    rt__presence_user *u = j->s->user;
    if (u != j->u)
        return RT_E_INVAL;
    if (rt__presence_copy_info(p, j) != RT_OK)
        return RT_E_NOMEM;
    if (j->set_info) {
        rt__presence_take_info(p, u, j);
        rt__presence_emit(p, RT_PRESENCE_EV_UPDATE, u);
    }
    return RT_OK;
}

static rt_result rt__presence_join_limits(const rt_presence *p, const rt__presence_join *j)
{
    const rt_presence_settings *s = &p->settings;
    if (j->c ? j->c->n_rooms >= s->max_joins : p->n_conns >= s->max_conns)
        return RT_E_LIMIT;
    if (!j->r)
        return p->n_rooms >= s->max_rooms ? RT_E_LIMIT : RT_OK;
    return !j->u && j->r->n_users >= s->max_users ? RT_E_LIMIT : RT_OK;
}

/* The bucket arrays and heap slots a join needs. Growing them changes no
 * visible state, so they may stay grown when a later step fails. */
static rt_result rt__presence_join_reserve(rt_presence *p, const rt__presence_join *j)
{
    const rt_allocator *a = rt__presence_alloc(p);
    if (!j->c && rt_hash_reserve(&p->_conns, a, p->n_conns + 1) != RT_OK)
        return RT_E_NOMEM;
    if (!j->r && rt_hash_reserve(&p->_rooms, a, p->n_rooms + 1) != RT_OK)
        return RT_E_NOMEM;
    if (j->u)
        return RT_OK;
    if (rt_hash_reserve(&p->_users, a, p->n_users + 1) != RT_OK)
        return RT_E_NOMEM;
    return rt__presence_heap_reserve(p, p->n_users + 1);
}

static rt__presence_conn *rt__presence_conn_new(rt_presence *p, const void *key)
{
    rt__presence_conn *c = (rt__presence_conn *)rt_alloc(rt__presence_alloc(p), sizeof *c);
    if (c) {
        c->key = key;
        c->n_rooms = 0;
        c->sessions.prev = c->sessions.next = NULL;
    }
    return c;
}

static rt__presence_room *rt__presence_room_new(rt_presence *p, rt_str name)
{
    rt__presence_room *r;
    char *s;
    r = (rt__presence_room *)rt_alloc(rt__presence_alloc(p), sizeof *r + name.n + 1);
    if (!r)
        return NULL;
    s = (char *)(r + 1);
    memcpy(s, name.p, name.n);
    s[name.n] = '\0';
    r->name.p = s;
    r->name.n = name.n;
    r->n_users = 0;
    r->users.prev = r->users.next = NULL;
    return r;
}

static rt__presence_user *rt__presence_user_new(rt_presence *p, rt__presence_room *r, rt_str id,
                                                uint64_t now_ms)
{
    rt__presence_user *u;
    char *s;
    u = (rt__presence_user *)rt_alloc(rt__presence_alloc(p), sizeof *u + id.n + 1);
    if (!u)
        return NULL;
    memset(u, 0, sizeof *u);
    s = (char *)(u + 1);
    memcpy(s, id.p, id.n);
    s[id.n] = '\0';
    u->id.p = s;
    u->id.n = id.n;
    u->room = r;
    u->since_ms = now_ms;
    u->grace.user = u->typing_t.user = u;
    return u;
}

/* Frees what the join allocated and has not linked in: the pointers that
 * differ from what the lookups found (`found`). */
static void rt__presence_join_undo(rt_presence *p, rt__presence_join *j,
                                   const rt__presence_join *found)
{
    const rt_allocator *a = rt__presence_alloc(p);
    rt_free(a, j->info_copy, j->info.n);
    rt_free(a, j->s, sizeof *j->s);
    if (j->u && j->u != found->u)
        rt__presence_user_free(p, j->u);
    if (j->r && j->r != found->r)
        rt__presence_room_free(p, j->r);
    if (j->c && j->c != found->c)
        rt_free(a, j->c, sizeof *j->c);
}

/* Allocates every record the join lacks, or none (RT_E_NOMEM). */
static rt_result rt__presence_join_alloc(rt_presence *p, rt__presence_join *j,
                                         const rt__presence_join *found)
{
    j->s = (rt__presence_sess *)rt_alloc(rt__presence_alloc(p), sizeof *j->s);
    if (j->s && !j->c)
        j->c = rt__presence_conn_new(p, j->key);
    if (j->s && j->c && !j->r)
        j->r = rt__presence_room_new(p, j->room);
    if (j->s && j->c && j->r && !j->u)
        j->u = rt__presence_user_new(p, j->r, j->user, j->now_ms);
    if (j->s && j->c && j->r && j->u && rt__presence_copy_info(p, j) == RT_OK)
        return RT_OK;
    rt__presence_join_undo(p, j, found);
    return RT_E_NOMEM;
}

/* Links the records in; cannot fail. found says which ones are new. */
static void rt__presence_join_link(rt_presence *p, rt__presence_join *j,
                                   const rt__presence_join *found)
{
    rt__presence_sess *s = j->s;
    rt__presence_user *u = j->u;
    if (!found->c) {
        rt_hash_insert(&p->_conns, &j->c->node, rt__presence_hash_conn(p, j->key));
        p->n_conns++;
    }
    if (!found->r) {
        rt_hash_insert(&p->_rooms, &j->r->node, rt__presence_hash_room(p, j->room));
        p->n_rooms++;
    }
    if (!found->u) { /* after its room: the user's hash continues the room's */
        rt_list_push_back(&j->r->users, &u->link);
        rt_hash_insert(&p->_users, &u->node, rt__presence_hash_user(j->r, j->user));
        j->r->n_users++;
        p->n_users++;
    }
    s->conn = j->c;
    s->user = u;
    rt_list_push_front(&j->c->sessions, &s->link);
    j->c->n_rooms++;
    u->n_conns++;
    rt__presence_timer_stop(p, &u->grace); /* back within the grace period */
}

/* A connection not yet in the room: limits, allocations, links, events. */
static rt_result rt__presence_join_new(rt_presence *p, rt__presence_join *j)
{
    rt__presence_join found = *j;
    rt_result res = rt__presence_join_limits(p, j);
    if (res == RT_OK)
        res = rt__presence_join_reserve(p, j);
    if (res == RT_OK)
        res = rt__presence_join_alloc(p, j, &found);
    if (res != RT_OK)
        return res;
    rt__presence_join_link(p, j, &found);
    if (j->set_info)
        rt__presence_take_info(p, j->u, j);
    if (!found.u)
        rt__presence_emit(p, RT_PRESENCE_EV_JOIN, j->u);
    else if (j->set_info)
        rt__presence_emit(p, RT_PRESENCE_EV_UPDATE, j->u);
    return RT_OK;
}

rt_result rt_presence_join(rt_presence *p, rt_str room, rt_str user, rt_str info,
                           const void *conn, uint64_t now_ms)
{
    rt__presence_join j;
    RT_ASSERT(p->_busy == 0);
    if (!rt_room_name_valid(room) || !rt_presence_id_valid(user) || !conn ||
        (info.n > 0 && !info.p))
        return RT_E_INVAL;
    if (info.n > p->settings.max_info)
        return RT_E_LIMIT;
    memset(&j, 0, sizeof j);
    j.room = room;
    j.user = user;
    j.info = info;
    j.key = conn;
    j.now_ms = now_ms;
    j.c = rt__presence_find_conn(p, conn);
    j.r = rt__presence_find_room(p, room);
    j.u = j.r ? rt__presence_find_user(p, j.r, user) : NULL;
    j.s = j.r ? rt__presence_find_sess(j.c, j.r) : NULL;
    return j.s ? rt__presence_rejoin(p, &j) : rt__presence_join_new(p, &j);
}

/* ---- Leave, typing, time ---------------------------------------------------------- */

rt_result rt_presence_leave(rt_presence *p, rt_str room, const void *conn, uint64_t now_ms)
{
    rt__presence_sess *s;
    rt__presence_conn *c;
    RT_ASSERT(p->_busy == 0);
    s = rt__presence_lookup(p, room, conn);
    if (!s)
        return RT_E_NOTFOUND;
    c = s->conn;
    rt__presence_sess_remove(p, s, now_ms);
    if (c->n_rooms == 0)
        rt__presence_conn_free(p, c);
    return RT_OK;
}

void rt_presence_leave_all(rt_presence *p, const void *conn, uint64_t now_ms)
{
    rt__presence_conn *c;
    RT_ASSERT(p->_busy == 0);
    rt_list *l;
    c = rt__presence_find_conn(p, conn);
    if (!c)
        return;
    while ((l = rt_list_first(&c->sessions)) != NULL)
        rt__presence_sess_remove(p, RT_LIST_ENTRY(l, rt__presence_sess, link), now_ms);
    rt__presence_conn_free(p, c);
}

rt_result rt_presence_typing(rt_presence *p, rt_str room, const void *conn, int on,
                             uint64_t now_ms)
{
    rt__presence_sess *s;
    rt__presence_user *u;
    RT_ASSERT(p->_busy == 0);
    s = rt__presence_lookup(p, room, conn);
    if (!s)
        return RT_E_NOTFOUND;
    u = s->user;
    if (!on) {
        rt__presence_typing_stop(p, u);
        return RT_OK;
    }
    /* a repeated start only moves the deadline: no second TYPING_START */
    rt__presence_timer_set(p, &u->typing_t, rt__presence_after(now_ms, p->settings.typing_ms));
    if (!u->typing) {
        u->typing = 1;
        rt__presence_emit(p, RT_PRESENCE_EV_TYPING_START, u);
    }
    return RT_OK;
}

size_t rt_presence_tick(rt_presence *p, uint64_t now_ms)
{
    size_t n = 0;
    rt_presence_timer *t;
    RT_ASSERT(p->_busy == 0);
    while ((t = (rt_presence_timer *)rt_heap_min(&p->_deadlines)) != NULL && t->at <= now_ms) {
        if (t == &t->user->typing_t)
            rt__presence_typing_stop(p, t->user);
        else
            rt__presence_user_drop(p, t->user);
        n++;
    }
    return n;
}

int rt_presence_next_deadline(const rt_presence *p, uint64_t *at_ms)
{
    const rt_presence_timer *t = (const rt_presence_timer *)rt_heap_min(&p->_deadlines);
    if (!t)
        return 0;
    *at_ms = t->at;
    return 1;
}

/* ---- Queries ---------------------------------------------------------------------- */

size_t rt_presence_count(const rt_presence *p, rt_str room)
{
    const rt__presence_room *r = rt__presence_find_room(p, room);
    return r ? r->n_users : 0;
}

size_t rt_presence_list(rt_presence *p, rt_str room, rt_presence_each_fn fn, void *ctx)
{
    rt__presence_room *r = rt__presence_find_room(p, room);
    const rt__presence_user *u;
    const rt_list *l;
    rt_presence_member m;
    size_t n = 0;
    if (!r)
        return 0;
    p->_busy++;
    for (l = rt_list_first(&r->users); l; l = rt_list_next(&r->users, l)) {
        u = RT_LIST_ENTRY(l, const rt__presence_user, link);
        m.user = u->id;
        m.info = rt__presence_info(u);
        m.conns = u->n_conns;
        m.typing = u->typing;
        m.since_ms = u->since_ms;
        fn(ctx, &m);
        n++;
    }
    p->_busy--;
    return n;
}
