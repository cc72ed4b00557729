/* room.h - rooms: membership, history ring, positions, recovery.
 *
 * Pure data, no I/O and no clock: every function that needs the time takes
 * now_ms (monotonic milliseconds, from the caller's clock).
 *
 * A registry (rt_rooms, caller-owned) maps names to rooms. A member is an
 * rt_room_member the caller embeds in its own struct (a connection, say); a
 * member may be in many rooms and a room may hold many members. Each room
 * keeps its recent messages in a ring, numbered by a position (epoch,
 * offset) that every transport uses as its resume token: the SSE id, the
 * long-poll "since", the WebSocket recovery request.
 *
 * Lifetimes, in one place:
 *   - A room is created by the first rt_room_join or rt_rooms_open of its
 *     name. It lives while it has members, or while it has history and the
 *     age limit is on (so a client that reconnects within history_max_age_ms
 *     can recover). When neither holds, rt_room_leave/rt_room_leave_all free
 *     it at once and rt_rooms_expire frees it otherwise.
 *   - An rt_room pointer stays valid until the next rt_room_leave,
 *     rt_room_leave_all, rt_rooms_expire or rt_rooms_deinit. Join, publish
 *     and recover never free a room.
 *   - A message (rt_room_msg) lives while it is in some history or someone
 *     holds a reference (rt_room_msg_retain/release); it may outlive its room
 *     and the registry, but not the allocator.
 *
 * The model is single-threaded (one registry, one thread), which is what
 * makes recovery gap-free: rt_room_join_recover adds the member and takes the
 * recovery snapshot in one call, so no publish can fall between the two.
 */
#ifndef RT_ROOM_H
#define RT_ROOM_H

#include "../base/core.h"
#include "../base/hash.h"
#include "../base/list.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest room name in bytes. Names use [A-Za-z0-9_.:@-] only. */
#ifndef RT_ROOM_MAX_NAME
#define RT_ROOM_MAX_NAME 64
#endif
/* Default limits of rt_rooms_settings (each can be changed at run time). */
#ifndef RT_ROOM_MAX_ROOMS
#define RT_ROOM_MAX_ROOMS 10000
#endif
#ifndef RT_ROOM_MAX_MEMBERS
#define RT_ROOM_MAX_MEMBERS 100000
#endif
#ifndef RT_ROOM_MAX_JOINS
#define RT_ROOM_MAX_JOINS 1024
#endif
#ifndef RT_ROOM_HISTORY_MAX_MSGS
#define RT_ROOM_HISTORY_MAX_MSGS 256
#endif
#ifndef RT_ROOM_HISTORY_MAX_BYTES
#define RT_ROOM_HISTORY_MAX_BYTES (256u * 1024u)
#endif
#ifndef RT_ROOM_HISTORY_MAX_AGE_MS
#define RT_ROOM_HISTORY_MAX_AGE_MS (10u * 60u * 1000u)
#endif

/* ---- Positions ---------------------------------------------------------------
 * Where a message sits in a room's history. offset counts the room's
 * messages from 1; the epoch is a random-looking 64-bit value that changes
 * whenever a room's history starts over (a room recreated after it held
 * messages, or a restart), so an offset is only comparable within one epoch;
 * a room freed before its first message comes back with the same epoch, so
 * an idle room polled over and over does not look like a new one. epoch 0 means "no position":
 * read from now on. As a string: "<epoch in lowercase hex>-<offset in
 * decimal>", no leading zeros, e.g. "9f3a2c1b7d4e5f60-42"; the empty string
 * is the no-position. It is safe in an SSE id, a URL and JSON unescaped. */
typedef struct rt_room_pos {
    uint64_t epoch;
    uint64_t offset;
} rt_room_pos;

#define RT_ROOM_POS_MAX 38 /* 16 hex digits, '-', 20 digits, NUL */

/* Writes pos as a NUL-terminated string into out and returns its length
 * (0, the empty string, when pos.epoch is 0). */
RT_API size_t rt_room_pos_format(rt_room_pos pos, char out[RT_ROOM_POS_MAX]);

/* Parses what rt_room_pos_format writes, and only that: RT_OK with *pos
 * set ({0, 0} for the empty string), or RT_E_INVAL for anything else
 * (leading zeros, uppercase, epoch 0, overflow, stray bytes), with *pos
 * untouched. Never reads beyond s.n. */
RT_API rt_result rt_room_pos_parse(rt_str s, rt_room_pos *pos);

/* ---- Messages ----------------------------------------------------------------
 * One published message: a single allocation holding this header and the
 * payload, shared by the history and by every transport queue that holds a
 * reference. Fields are read-only. The count is not atomic: retain and
 * release on the registry's thread. */
typedef struct rt_room_msg {
    rt_room_pos pos;  /* this message's position */
    uint64_t time_ms; /* now_ms given to rt_room_publish */
    const char *data; /* the payload, inside this allocation, NUL-terminated */
    size_t len;       /* payload bytes (the NUL not counted) */
    /* private */
    size_t _refs;
    const rt_allocator *_alloc;
} rt_room_msg;

/* Takes a reference (to keep a message queued); returns m. */
RT_API rt_room_msg *rt_room_msg_retain(rt_room_msg *m);
/* Drops a reference; the last one frees the message. NULL is ignored. */
RT_API void rt_room_msg_release(rt_room_msg *m);

/* ---- Registry ------------------------------------------------------------------ */

typedef struct rt_rooms_settings {
    /* Borrowed: must outlive the registry and every message retained from
     * it. NULL = RT_MALLOC/RT_FREE. */
    const rt_allocator *alloc;
    /* Fill both from time and randomness at start-up, different on every
     * run. epoch_seed makes each run's epochs new, so a client holding a
     * position from before a restart is told it cannot recover rather than
     * being handed the wrong messages. hash_seed keys the name hash, so a
     * client cannot precompute names that all land in one bucket. */
    uint64_t epoch_seed;
    uint64_t hash_seed;
    size_t max_rooms;   /* rooms at once; RT_E_LIMIT beyond (>= 1) */
    size_t max_members; /* members of one room; RT_E_LIMIT beyond (>= 1) */
    size_t max_joins;   /* rooms one member may be in; RT_E_LIMIT beyond (>= 1) */
    /* History per room, 0 = no limit in that dimension, but at least one
     * must be set. history_max_bytes counts whole messages (rt_room_msg
     * header + payload + 1), so it also bounds the message count. */
    size_t history_max_msgs;
    size_t history_max_bytes;
    uint64_t history_max_age_ms;
} rt_rooms_settings;

struct rt_room_membership; /* private: links one member and one room */
struct rt_rooms;

/* A room. Library-owned: found through rt_rooms_find or returned by join or
 * open, freed as described at the top. Fields are read-only. */
typedef struct rt_room {
    rt_str name;          /* inside the room's allocation, NUL-terminated */
    size_t n_members;
    rt_room_pos pos;      /* the current position: the last message's, offset 0
                             before the first */
    size_t history_count; /* messages retained: offsets pos.offset - count + 1
                             up to pos.offset */
    size_t history_bytes; /* what they occupy, as history_max_bytes counts it */
    /* private */
    struct rt_rooms *_rs;
    rt_hash_node _node;    /* in the registry's table, by name */
    unsigned _walks;       /* rt_room_each calls in progress */
    struct rt_room_membership **_slots; /* dense; NULL holes only during walks */
    size_t _n_slots, _cap_slots, _holes;
    rt_room_msg **_ring;   /* history, oldest at _head */
    size_t _ring_cap, _head;
} rt_room;

/* The registry: caller-owned, must not be moved or copied after init. */
typedef struct rt_rooms {
    rt_rooms_settings settings; /* read-only after init */
    size_t n_rooms;             /* read-only */
    size_t history_bytes;       /* read-only: sum over the rooms */
    /* private */
    rt_hash _rooms;
    uint64_t _epoch_state;
} rt_rooms;

/* Fills s with the compiled defaults and seeds of 0: set the seeds. */
RT_API void rt_rooms_settings_init(rt_rooms_settings *s);

/* Initialises an empty registry with a copy of *s. Allocates nothing.
 * RT_E_INVAL when epoch_seed is 0 (a fixed seed would repeat epochs across
 * restarts), a room limit is 0, or no history limit is set. */
RT_API rt_result rt_rooms_init(rt_rooms *rs, const rt_rooms_settings *s);

/* Frees every room and its history references, and takes every member out
 * of every room (their rt_room_member stays valid, in no room). Messages
 * still retained elsewhere stay alive. Not from inside rt_room_each. */
RT_API void rt_rooms_deinit(rt_rooms *rs);

/* 1 when name is 1..RT_ROOM_MAX_NAME bytes of [A-Za-z0-9_.:@-], else 0. */
RT_API int rt_room_name_valid(rt_str name);

/* The room with that name, or NULL (also for an invalid name). Borrowed. */
RT_API rt_room *rt_rooms_find(const rt_rooms *rs, rt_str name);

/* Finds or creates a room without joining it, e.g. to publish into a room
 * that keeps history for clients yet to come. *out is borrowed. A room
 * nobody joins is freed by rt_rooms_expire once it is not wanted. Returns
 * RT_OK, RT_E_INVAL (bad name), RT_E_LIMIT (max_rooms) or RT_E_NOMEM. */
RT_API rt_result rt_rooms_open(rt_rooms *rs, rt_str name, rt_room **out);

/* Drops history older than history_max_age_ms in every room and frees the
 * rooms no longer wanted (see the top). Call it every second or so. Costs
 * O(rooms + dropped messages). Returns the number of rooms freed. */
RT_API size_t rt_rooms_expire(rt_rooms *rs, uint64_t now_ms);

/* ---- Membership --------------------------------------------------------------
 * Costs: join, leave and is_member walk the member's own list of rooms
 * (at most max_joins), never a room's member list, so they cost the same in
 * a room of ten members or of a hundred thousand; leave_all is O(rooms of
 * the member). */

/* Embed one in your connection struct. Zeroed plus user also works. It must
 * stay in place while it is in any room: call rt_room_leave_all before
 * freeing or moving it. */
typedef struct rt_room_member {
    void *user;     /* yours: handed back by rt_room_each */
    /* Also yours, for the layer that delivers the rooms' messages to this
     * member (rt_pubsub keeps the subscriber's encoder here, so a member
     * costs one pointer for both the encoder and the state of whichever
     * layer chose it). NULL at first; the room functions never touch it. */
    void *sub;
    size_t n_rooms; /* read-only */
    /* private */
    rt_list _rooms; /* its memberships, the latest join first */
} rt_room_member;

RT_API void rt_room_member_init(rt_room_member *m, void *user);

/* The room m joined most recently, or NULL when it is in none. Borrowed. */
RT_API rt_room *rt_room_member_last(const rt_room_member *m);

/* Adds m to the room called name, creating the room if needed. Joining a
 * room m is already in does nothing and returns RT_OK. *out (may be NULL)
 * gets the room, borrowed. Returns RT_OK, RT_E_INVAL (bad name),
 * RT_E_LIMIT (max_rooms, max_members or max_joins) or RT_E_NOMEM; on error
 * nothing changed. */
RT_API rt_result rt_room_join(rt_rooms *rs, rt_str name, rt_room_member *m, rt_room **out);

/* What to replay to a member that says it has seen everything up to since. */
typedef struct rt_room_recovery {
    rt_room *room;       /* the room (borrowed) */
    int recovered;       /* 1: the count messages from offset `from` on are
                            exactly those after since; 0: history cannot
                            close the gap: start over from current */
    rt_room_pos current; /* the room's position: the client's next resume point
                            once it has the replayed messages */
    uint64_t from;       /* first offset to replay (current.offset + 1 when none) */
    size_t count;        /* messages to replay, 0 unless recovered */
} rt_room_recovery;

/* rt_room_join, then rt_room_recover on that room, in one step so that no
 * message can be both replayed and delivered live, or neither: everything up
 * to rec->current is replayed from history, everything after it reaches m
 * through the publish path. Returns what rt_room_join returns; *rec is set
 * only on RT_OK. */
RT_API rt_result rt_room_join_recover(rt_rooms *rs, rt_str name, rt_room_member *m,
                                      const rt_room_pos *since, uint64_t now_ms,
                                      rt_room_recovery *rec);

/* Takes m out of room. RT_OK, or RT_E_NOTFOUND when m was not in it. May
 * free the room (see the top). */
RT_API rt_result rt_room_leave(rt_room *room, rt_room_member *m);

/* Takes m out of every room it is in (on disconnect). May free rooms. */
RT_API void rt_room_leave_all(rt_room_member *m);

/* 1 when m is in room, else 0. */
RT_API int rt_room_is_member(const rt_room *room, const rt_room_member *m);

typedef void (*rt_room_each_fn)(void *ctx, rt_room *room, rt_room_member *m);

/* Calls fn once for every member of room (the way to publish and to list
 * members), in no particular order. fn may join and leave freely, this room
 * included: a member that leaves before its turn is skipped, one that joins
 * during the walk is not visited, none is visited twice, and the room is not
 * freed during the walk (if it ends up unwanted, rt_rooms_expire frees it).
 * fn may publish and call rt_room_each again; not rt_rooms_deinit. */
RT_API void rt_room_each(rt_room *room, rt_room_each_fn fn, void *ctx);

/* ---- History and recovery ------------------------------------------------------ */

/* Publishes data[0..len) (copied once) as the room's next message: assigns
 * it the next offset, drops history beyond the limits and stores it. A
 * message larger than history_max_bytes gets its offset but empties the
 * history instead of being stored (recovery across it then fails cleanly).
 * Deliver it to the members with rt_room_each. When out is not NULL, *out
 * gets the message with one reference the caller owns (release it).
 * Returns RT_OK, or RT_E_NOMEM (or RT_E_LIMIT for a len that cannot be
 * allocated) with nothing changed but expired history. */
RT_API rt_result rt_room_publish(rt_room *room, const void *data, size_t len, uint64_t now_ms,
                                 rt_room_msg **out);

/* Fills *rec for a member that has seen everything up to since (NULL or
 * epoch 0: nothing to recover, recovered = 1, count = 0). Expired history is
 * dropped first. recovered = 0 when since has another epoch, an offset past
 * the current one (it never came from this room), or an offset older than
 * the history holds (pos.offset - since.offset > history_count). since equal
 * to current recovers with count 0. Never fails. */
RT_API void rt_room_recover(rt_room *room, const rt_room_pos *since, uint64_t now_ms,
                            rt_room_recovery *rec);

/* The retained message at offset, or NULL when history does not hold it.
 * Borrowed until the room's next publish, recover, expire or free; retain it
 * to keep it longer. Replay a recovery with
 *     for (i = 0; i < rec.count; i++) send(rt_room_history_get(rec.room, rec.from + i)); */
RT_API rt_room_msg *rt_room_history_get(const rt_room *room, uint64_t offset);

#ifdef __cplusplus
}
#endif

#endif /* RT_ROOM_H */
