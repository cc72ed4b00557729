/* room.c - rooms: membership, history ring, positions, recovery.
 *
 * Three structures carry it all:
 *   - the shared hash table (base/hash) of rooms by name (FNV-1a, seeded
 *     per registry);
 *   - one membership record per (member, room) pair, held twice: by the room
 *     in a dense array (fast to walk, swap-remove by stored index) and by the
 *     member in a shared list (base/list, so a member can leave everything
 *     in O(its rooms) and a lookup never scans a big room);
 *   - per room, a ring of message pointers, oldest first, whose offsets are
 *     contiguous: the ring holds offsets pos.offset - count + 1 .. pos.offset.
 */
#include "room.h"
#include <string.h>

typedef struct rt_room_membership {
    rt_room *room;
    rt_room_member *member;
    size_t slot;  /* index in room->_slots */
    rt_list link; /* in the member's list */
} rt_room_membership;

/* ---- Positions -------------------------------------------------------------- */

/* Writes v in base 10 or 16, most significant digit first; returns the count. */
static size_t rt__room_put_u64(char *out, uint64_t v, unsigned base)
{
    char tmp[20];
    size_t n = 0, i;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v > 0);
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

size_t rt_room_pos_format(rt_room_pos pos, char out[RT_ROOM_POS_MAX])
{
    size_t n = 0;
    if (pos.epoch != 0) {
        n = rt__room_put_u64(out, pos.epoch, 16);
        out[n++] = '-';
        n += rt__room_put_u64(out + n, pos.offset, 10);
    }
    out[n] = '\0';
    return n;
}

static int rt__room_digit(char c, unsigned base)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (base == 16 && c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Reads a canonical number at s[*i..): at least one digit, no leading zero,
 * no overflow. Stops at the first non-digit. 1 on success, else 0. */
static int rt__room_get_u64(rt_str s, size_t *i, unsigned base, uint64_t *v)
{
    size_t start = *i;
    uint64_t x = 0;
    int d;
    while (*i < s.n && (d = rt__room_digit(s.p[*i], base)) >= 0) {
        if (x > (UINT64_MAX - (unsigned)d) / base)
            return 0;
        x = x * base + (unsigned)d;
        (*i)++;
    }
    if (*i == start || (s.p[start] == '0' && *i - start > 1))
        return 0;
    *v = x;
    return 1;
}

rt_result rt_room_pos_parse(rt_str s, rt_room_pos *pos)
{
    rt_room_pos p;
    size_t i = 0;
    if (s.n == 0) {
        pos->epoch = 0;
        pos->offset = 0;
        return RT_OK;
    }
    if (!rt__room_get_u64(s, &i, 16, &p.epoch) || p.epoch == 0 || i == s.n || s.p[i] != '-')
        return RT_E_INVAL;
    i++;
    if (!rt__room_get_u64(s, &i, 10, &p.offset) || i != s.n)
        return RT_E_INVAL;
    *pos = p;
    return RT_OK;
}

/* ---- Messages ----------------------------------------------------------------- */

/* One allocation: header, payload, NUL. The caller checked len for overflow. */
static size_t rt__room_msg_size(size_t len)
{
    return sizeof(rt_room_msg) + len + 1;
}

rt_room_msg *rt_room_msg_retain(rt_room_msg *m)
{
    m->_refs++;
    return m;
}

void rt_room_msg_release(rt_room_msg *m)
{
    if (m && --m->_refs == 0)
        rt_free(m->_alloc, m, rt__room_msg_size(m->len));
}

/* A new message at the room's next offset, with one reference (the caller's). */
static rt_room_msg *rt__room_msg_new(const rt_room *r, const void *data, size_t len,
                                     uint64_t now_ms)
{
    const rt_allocator *a = r->_rs->settings.alloc;
    rt_room_msg *m = (rt_room_msg *)rt_alloc(a, rt__room_msg_size(len));
    char *p;
    if (!m)
        return NULL;
    p = (char *)(m + 1);
    if (len > 0)
        memcpy(p, data, len);
    p[len] = '\0';
    m->pos.epoch = r->pos.epoch;
    m->pos.offset = r->pos.offset + 1;
    m->time_ms = now_ms;
    m->data = p;
    m->len = len;
    m->_refs = 1;
    m->_alloc = a;
    return m;
}

/* ---- History ring ---------------------------------------------------------------- */

static void rt__room_pop(rt_room *r)
{
    rt_room_msg *m = r->_ring[r->_head];
    size_t size = rt__room_msg_size(m->len);
    r->_head = (r->_head + 1) % r->_ring_cap;
    r->history_count--;
    r->history_bytes -= size;
    r->_rs->history_bytes -= size;
    rt_room_msg_release(m);
}

static void rt__room_push(rt_room *r, rt_room_msg *m)
{
    size_t size = rt__room_msg_size(m->len);
    r->_ring[(r->_head + r->history_count) % r->_ring_cap] = rt_room_msg_retain(m);
    r->history_count++;
    r->history_bytes += size;
    r->_rs->history_bytes += size;
}

/* Drops messages that are history_max_age_ms old or older. A time before
 * the message's own (a caller's clock gone backwards) counts as age 0. */
static void rt__room_evict_age(rt_room *r, uint64_t now_ms)
{
    uint64_t max_age = r->_rs->settings.history_max_age_ms, t;
    while (max_age > 0 && r->history_count > 0) {
        t = r->_ring[r->_head]->time_ms;
        if (now_ms < t || now_ms - t < max_age)
            return;
        rt__room_pop(r);
    }
}

/* Drops the oldest messages until one of `size` bytes fits under the count
 * and byte limits; a size above history_max_bytes empties the history. */
static void rt__room_make_space(rt_room *r, size_t size)
{
    const rt_rooms_settings *s = &r->_rs->settings;
    while (r->history_count > 0 &&
           ((s->history_max_msgs > 0 && r->history_count >= s->history_max_msgs) ||
            (s->history_max_bytes > 0 && size > s->history_max_bytes - r->history_bytes)))
        rt__room_pop(r);
}

/* Makes sure the ring has a free slot for the next message, unless the count
 * limit will free one. Grows by doubling up to history_max_msgs. */
static rt_result rt__room_reserve_msg(rt_room *r)
{
    size_t max = r->_rs->settings.history_max_msgs, cap, i;
    rt_room_msg **ring;
    if (r->history_count < r->_ring_cap || (max > 0 && r->history_count >= max))
        return RT_OK;
    cap = r->_ring_cap > 0 ? r->_ring_cap * 2 : 8;
    if (max > 0 && cap > max)
        cap = max;
    if (cap > SIZE_MAX / sizeof *ring)
        return RT_E_NOMEM;
    ring = (rt_room_msg **)rt_alloc(r->_rs->settings.alloc, cap * sizeof *ring);
    if (!ring)
        return RT_E_NOMEM;
    for (i = 0; i < r->history_count; i++)
        ring[i] = r->_ring[(r->_head + i) % r->_ring_cap];
    rt_free(r->_rs->settings.alloc, r->_ring, r->_ring_cap * sizeof *ring);
    r->_ring = ring;
    r->_ring_cap = cap;
    r->_head = 0;
    return RT_OK;
}

rt_result rt_room_publish(rt_room *r, const void *data, size_t len, uint64_t now_ms,
                          rt_room_msg **out)
{
    size_t max_bytes = r->_rs->settings.history_max_bytes, size;
    rt_room_msg *m;
    int keep;
    if (out)
        *out = NULL;
    if (len > SIZE_MAX - sizeof(rt_room_msg) - 1)
        return RT_E_LIMIT;
    size = rt__room_msg_size(len);
    keep = max_bytes == 0 || size <= max_bytes;
    rt__room_evict_age(r, now_ms);
    /* everything that can fail comes before the first change */
    if (keep && rt__room_reserve_msg(r) != RT_OK)
        return RT_E_NOMEM;
    m = rt__room_msg_new(r, data, len, now_ms);
    if (!m)
        return RT_E_NOMEM;
    rt__room_make_space(r, size);
    if (keep)
        rt__room_push(r, m);
    r->pos.offset++;
    if (out)
        *out = m;
    else
        rt_room_msg_release(m);
    return RT_OK;
}

void rt_room_recover(rt_room *r, const rt_room_pos *since, uint64_t now_ms,
                     rt_room_recovery *rec)
{
    rt__room_evict_age(r, now_ms);
    rec->room = r;
    rec->recovered = 1;
    rec->current = r->pos;
    rec->from = r->pos.offset + 1;
    rec->count = 0;
    if (!since || since->epoch == 0)
        return; /* from now: nothing was missed */
    /* Another epoch: offsets are not comparable. A future offset: not ours.
     * Too old: the ring no longer holds since.offset + 1. */
    if (since->epoch != r->pos.epoch || since->offset > r->pos.offset ||
        r->pos.offset - since->offset > r->history_count) {
        rec->recovered = 0;
        return;
    }
    rec->from = since->offset + 1;
    rec->count = (size_t)(r->pos.offset - since->offset);
}

rt_room_msg *rt_room_history_get(const rt_room *r, uint64_t offset)
{
    uint64_t back; /* 0 = the newest */
    if (offset > r->pos.offset)
        return NULL;
    back = r->pos.offset - offset;
    if (back >= r->history_count)
        return NULL;
    return r->_ring[(r->_head + r->history_count - 1 - (size_t)back) % r->_ring_cap];
}

/* ---- Registry --------------------------------------------------------------------- */

void rt_rooms_settings_init(rt_rooms_settings *s)
{
    memset(s, 0, sizeof *s);
    s->max_rooms = RT_ROOM_MAX_ROOMS;
    s->max_members = RT_ROOM_MAX_MEMBERS;
    s->max_joins = RT_ROOM_MAX_JOINS;
    s->history_max_msgs = RT_ROOM_HISTORY_MAX_MSGS;
    s->history_max_bytes = RT_ROOM_HISTORY_MAX_BYTES;
    s->history_max_age_ms = RT_ROOM_HISTORY_MAX_AGE_MS;
}

rt_result rt_rooms_init(rt_rooms *rs, const rt_rooms_settings *s)
{
    if (s->epoch_seed == 0 || s->max_rooms == 0 || s->max_members == 0 || s->max_joins == 0)
        return RT_E_INVAL;
    if (s->history_max_msgs == 0 && s->history_max_bytes == 0 && s->history_max_age_ms == 0)
        return RT_E_INVAL;
    memset(rs, 0, sizeof *rs);
    rs->settings = *s;
    rs->_epoch_state = s->epoch_seed;
    return RT_OK;
}

/* A new room's epoch: the splitmix64 output mix (Steele, Lea, Flood 2014),
 * a bijection, of the registry's state and the name's hash, so the seed
 * makes epochs new on every run and, for one name, each state gives another
 * epoch. The state steps only when a room that has had messages is freed
 * (rt__room_free), since its offsets must never be reused under its epoch.
 * A room freed before its first message comes back with the same epoch:
 * "<epoch>-0" held by a long poller or an EventSource between two requests
 * to an idle room stays a position it recovers from, rather than reading as
 * lost history on every request. 0 is skipped: it means "no position". */
static uint64_t rt__rooms_new_epoch(const rt_rooms *rs, uint32_t hash)
{
    uint64_t z = rs->_epoch_state ^ ((uint64_t)hash << 32 | hash);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return z ? z : 1;
}

/* FNV-1a (32-bit) from a basis mixed with the registry's seed. FNV is not a
 * keyed hash, so the seed only stops collisions computed in advance; chains
 * stay bounded anyway by max_rooms and RT_ROOM_MAX_NAME. */
static uint32_t rt__rooms_hash(const rt_rooms *rs, rt_str name)
{
    uint64_t seed = rs->settings.hash_seed;
    return rt_fnv1a(RT_FNV1A_BASIS ^ (uint32_t)(seed ^ (seed >> 32)), name.p, name.n);
}

int rt_room_name_valid(rt_str name)
{
    return rt_str_is_name(name, RT_ROOM_MAX_NAME);
}

rt_room *rt_rooms_find(const rt_rooms *rs, rt_str name)
{
    rt_hash_node *x;
    rt_room *r;
    if (!rt_room_name_valid(name))
        return NULL;
    for (x = rt_hash_find(&rs->_rooms, rt__rooms_hash(rs, name)); x; x = rt_hash_find_next(x)) {
        r = RT_HASH_ENTRY(x, rt_room, _node);
        if (rt_str_eq(r->name, name))
            return r;
    }
    return NULL;
}

/* A new, empty room (the caller checked the name and that it is absent). */
static rt_result rt__rooms_create(rt_rooms *rs, rt_str name, rt_room **out)
{
    rt_room *r;
    char *p;
    if (rs->n_rooms >= rs->settings.max_rooms)
        return RT_E_LIMIT;
    /* buckets >= rooms; only the first array is required: a failed growth
     * just leaves longer chains */
    if (rt_hash_reserve(&rs->_rooms, rs->settings.alloc, rs->n_rooms + 1) != RT_OK)
        return RT_E_NOMEM;
    r = (rt_room *)rt_alloc(rs->settings.alloc, sizeof *r + name.n + 1);
    if (!r)
        return RT_E_NOMEM;
    memset(r, 0, sizeof *r);
    p = (char *)(r + 1);
    memcpy(p, name.p, name.n);
    p[name.n] = '\0';
    r->name.p = p;
    r->name.n = name.n;
    r->_rs = rs;
    rt_hash_insert(&rs->_rooms, &r->_node, rt__rooms_hash(rs, name));
    r->pos.epoch = rt__rooms_new_epoch(rs, r->_node.hash);
    rs->n_rooms++;
    *out = r;
    return RT_OK;
}

rt_result rt_rooms_open(rt_rooms *rs, rt_str name, rt_room **out)
{
    *out = NULL;
    if (!rt_room_name_valid(name))
        return RT_E_INVAL;
    *out = rt_rooms_find(rs, name);
    return *out ? RT_OK : rt__rooms_create(rs, name, out);
}

/* Frees a room that has no members left. */
static void rt__room_free(rt_room *r)
{
    rt_rooms *rs = r->_rs;
    const rt_allocator *a = rs->settings.alloc;
    rt_hash_remove(&rs->_rooms, &r->_node);
    while (r->history_count > 0)
        rt__room_pop(r);
    rt_free(a, r->_ring, r->_ring_cap * sizeof *r->_ring);
    rt_free(a, r->_slots, r->_cap_slots * sizeof *r->_slots);
    if (r->pos.offset > 0)
        rs->_epoch_state += 0x9e3779b97f4a7c15u; /* the next room of this name: a new epoch */
    rs->n_rooms--;
    rt_free(a, r, sizeof *r + r->name.n + 1);
}

/* A room is wanted while it has members, is being walked, or holds history
 * that the age limit will end (without an age limit, memberless history
 * would never go, so it goes with the last member). */
static int rt__room_wanted(const rt_room *r)
{
    return r->n_members > 0 || r->_walks > 0 ||
           (r->_rs->settings.history_max_age_ms > 0 && r->history_count > 0);
}

size_t rt_rooms_expire(rt_rooms *rs, uint64_t now_ms)
{
    size_t freed = 0;
    rt_hash_node *x, *next;
    rt_room *r;
    for (x = rt_hash_first(&rs->_rooms); x; x = next) {
        next = rt_hash_next(&rs->_rooms, x);
        r = RT_HASH_ENTRY(x, rt_room, _node);
        rt__room_evict_age(r, now_ms);
        if (!rt__room_wanted(r)) {
            rt__room_free(r);
            freed++;
        }
    }
    rt_hash_shrink(&rs->_rooms, rs->settings.alloc, rs->n_rooms); /* not during the walk */
    return freed;
}

/* ---- Membership ------------------------------------------------------------------ */

void rt_room_member_init(rt_room_member *m, void *user)
{
    m->user = user;
    m->sub = NULL;
    m->n_rooms = 0;
    m->_rooms.prev = m->_rooms.next = NULL;
}

/* The membership record of a link in a member's list (NULL for NULL). */
static rt_room_membership *rt__room_rec(const rt_list *l)
{
    return l ? RT_LIST_ENTRY(l, rt_room_membership, link) : NULL;
}

rt_room *rt_room_member_last(const rt_room_member *m)
{
    rt_room_membership *rec = rt__room_rec(rt_list_first(&m->_rooms));
    return rec ? rec->room : NULL; /* joins push at the front */
}

/* The record linking m to room, found through m's own list. */
static rt_room_membership *rt__room_find_rec(const rt_room *room, const rt_room_member *m)
{
    const rt_list *l;
    for (l = rt_list_first(&m->_rooms); l; l = rt_list_next(&m->_rooms, l)) {
        if (rt__room_rec(l)->room == room)
            return rt__room_rec(l);
    }
    return NULL;
}

int rt_room_is_member(const rt_room *room, const rt_room_member *m)
{
    return rt__room_find_rec(room, m) != NULL;
}

/* Gives memory back after a crowd has left: halve when a quarter full. A
 * failed shrink keeps the bigger array, which is fine. */
static void rt__room_shrink_slots(rt_room *r)
{
    size_t cap = r->_cap_slots / 2, sz = sizeof *r->_slots;
    void *p;
    if (r->_cap_slots <= 16 || r->_n_slots > r->_cap_slots / 4)
        return;
    p = rt_realloc(r->_rs->settings.alloc, r->_slots, r->_cap_slots * sz, cap * sz);
    if (p) {
        r->_slots = (rt_room_membership **)p;
        r->_cap_slots = cap;
    }
}

/* Adds m to r (the caller checked the limits and that m is not in r). */
static rt_result rt__room_add(rt_room *r, rt_room_member *m)
{
    const rt_allocator *a = r->_rs->settings.alloc;
    size_t cap = r->_cap_slots > 0 ? r->_cap_slots * 2 : 4, sz = sizeof *r->_slots;
    rt_room_membership *rec;
    void *p;
    if (r->_n_slots == r->_cap_slots) {
        p = cap <= SIZE_MAX / sz ? rt_realloc(a, r->_slots, r->_cap_slots * sz, cap * sz) : NULL;
        if (!p)
            return RT_E_NOMEM;
        r->_slots = (rt_room_membership **)p;
        r->_cap_slots = cap;
    }
    rec = (rt_room_membership *)rt_alloc(a, sizeof *rec);
    if (!rec)
        return RT_E_NOMEM;
    rec->room = r;
    rec->member = m;
    rec->slot = r->_n_slots;
    r->_slots[r->_n_slots++] = rec;
    r->n_members++;
    rec->link.prev = rec->link.next = NULL;
    rt_list_push_front(&m->_rooms, &rec->link);
    m->n_rooms++;
    return RT_OK;
}

/* Unlinks rec from both sides and frees it; the room stays. During a walk
 * the slot becomes a hole (the walk indexes the array); otherwise the last
 * record moves into it. */
static void rt__room_remove(rt_room_membership *rec)
{
    rt_room *r = rec->room;
    rt_room_membership *last;
    if (r->_walks > 0) {
        r->_slots[rec->slot] = NULL;
        r->_holes++;
    } else {
        last = r->_slots[--r->_n_slots];
        r->_slots[rec->slot] = last;
        last->slot = rec->slot;
        rt__room_shrink_slots(r);
    }
    r->n_members--;
    rt_list_unlink(&rec->link);
    rec->member->n_rooms--;
    rt_free(r->_rs->settings.alloc, rec, sizeof *rec);
}

/* Joins m to a room it is not in, or to a new room called name (r NULL). */
static rt_result rt__room_join_new(rt_rooms *rs, rt_str name, rt_room_member *m, rt_room **r)
{
    rt_result res;
    if (m->n_rooms >= rs->settings.max_joins ||
        (*r && (*r)->n_members >= rs->settings.max_members))
        return RT_E_LIMIT;
    if (*r)
        return rt__room_add(*r, m);
    res = rt__rooms_create(rs, name, r);
    if (res == RT_OK && (res = rt__room_add(*r, m)) != RT_OK) {
        rt__room_free(*r); /* created just now: on error nothing may change */
        *r = NULL;
    }
    return res;
}

rt_result rt_room_join(rt_rooms *rs, rt_str name, rt_room_member *m, rt_room **out)
{
    rt_room *r;
    rt_result res = RT_OK;
    if (out)
        *out = NULL;
    if (!rt_room_name_valid(name))
        return RT_E_INVAL;
    r = rt_rooms_find(rs, name);
    if (!r || !rt__room_find_rec(r, m))
        res = rt__room_join_new(rs, name, m, &r);
    if (res == RT_OK && out)
        *out = r;
    return res;
}

rt_result rt_room_join_recover(rt_rooms *rs, rt_str name, rt_room_member *m,
                               const rt_room_pos *since, uint64_t now_ms, rt_room_recovery *rec)
{
    rt_room *r;
    rt_result res = rt_room_join(rs, name, m, &r);
    if (res == RT_OK)
        rt_room_recover(r, since, now_ms, rec);
    return res;
}

/* Frees r if nobody wants it any more (see rt__room_wanted), and gives
 * back table memory after a crowd of rooms has gone. */
static void rt__room_drop_if_unwanted(rt_room *r)
{
    rt_rooms *rs = r->_rs;
    if (rt__room_wanted(r))
        return;
    rt__room_free(r);
    rt_hash_shrink(&rs->_rooms, rs->settings.alloc, rs->n_rooms);
}

rt_result rt_room_leave(rt_room *room, rt_room_member *m)
{
    rt_room_membership *rec = rt__room_find_rec(room, m);
    if (!rec)
        return RT_E_NOTFOUND;
    rt__room_remove(rec);
    rt__room_drop_if_unwanted(room);
    return RT_OK;
}

void rt_room_leave_all(rt_room_member *m)
{
    rt_room_membership *rec;
    rt_room *r;
    while ((rec = rt__room_rec(rt_list_first(&m->_rooms))) != NULL) {
        r = rec->room;
        rt__room_remove(rec);
        rt__room_drop_if_unwanted(r);
    }
}

/* After the outermost walk: close the holes, keeping the order. */
static void rt__room_compact(rt_room *r)
{
    size_t i, n = 0;
    for (i = 0; i < r->_n_slots; i++) {
        if (r->_slots[i]) {
            r->_slots[i]->slot = n;
            r->_slots[n++] = r->_slots[i];
        }
    }
    r->_n_slots = n;
    r->_holes = 0;
    rt__room_shrink_slots(r);
}

/* Walks the slots that exist when it starts. Leaving makes holes instead of
 * moving records, and joining appends past `end`, so no record is visited
 * twice and none that left is visited at all. */
void rt_room_each(rt_room *room, rt_room_each_fn fn, void *ctx)
{
    size_t i, end = room->_n_slots;
    rt_room_membership *rec;
    room->_walks++;
    for (i = 0; i < end; i++) {
        rec = room->_slots[i];
        if (rec)
            fn(ctx, room, rec->member);
    }
    if (--room->_walks == 0 && room->_holes > 0)
        rt__room_compact(room);
}

void rt_rooms_deinit(rt_rooms *rs)
{
    rt_hash_node *x, *next;
    rt_room *r;
    for (x = rt_hash_first(&rs->_rooms); x; x = next) {
        next = rt_hash_next(&rs->_rooms, x);
        r = RT_HASH_ENTRY(x, rt_room, _node);
        RT_ASSERT(r->_walks == 0);
        while (r->_n_slots > 0)
            rt__room_remove(r->_slots[r->_n_slots - 1]);
        rt__room_free(r);
    }
    rt_hash_deinit(&rs->_rooms, rs->settings.alloc);
}
