/* presence.h - who is online in each room, and who is typing.
 *
 * Pure data, no I/O and no clock: every function that needs the time takes
 * now_ms (monotonic milliseconds, from the caller's clock).
 *
 * The model has three kinds of things:
 *   - a user: an id (rt_presence_id_valid) plus a small opaque info blob
 *     (say, a JSON object with a display name), per room;
 *   - a connection: any pointer-sized key the caller picks (its connection
 *     struct, say). One user may be in a room through several connections
 *     (tabs, devices) and is online there while any of them is;
 *   - a room: a name (rt_room_name_valid). Presence keeps its own table of
 *     room names, apart from rt_rooms, because its lifetimes differ: a room
 *     here lives while it has users, including users in their grace period,
 *     and a connection may be in a room's presence without subscribing to
 *     its messages, or the other way round.
 *
 * The registry tells the caller what to announce to a room through one
 * callback (rt_presence_settings.on_event):
 *   JOIN         a user's first connection joined (a user is announced once,
 *                however many connections it has);
 *   LEAVE        a user's last connection left and grace_ms went by without
 *                one of its connections coming back (a page reload or a quick
 *                network change shows no leave and join). A connection that
 *                vanishes without a close is the caller's to detect: its
 *                heartbeat timeout calls rt_presence_leave_all, and the grace
 *                period then runs as for any leave;
 *   UPDATE       a joining connection brought different info;
 *   TYPING_START a user started typing;
 *   TYPING_STOP  typing_ms went by without another typing signal, the user
 *                sent its message (the caller says so: rt_presence_typing
 *                with on = 0), or its last connection left.
 * A user in its grace period still counts as in the room (it was never
 * announced as gone): it is listed with conns = 0.
 *
 * Costs: join, leave and typing are O(1) on average through hash tables
 * keyed with the caller's seed, plus a walk of the connection's own rooms
 * (at most max_joins); leave_all is O(rooms of the connection); deadlines
 * sit in a min-heap, so rt_presence_tick costs O(log n) per expiry and
 * O(1) when nothing is due, however many users are online. Nothing is
 * allocated per event.
 *
 * Single-threaded: one registry, one thread.
 */
#ifndef RT_PRESENCE_H
#define RT_PRESENCE_H

#include "../base/core.h"
#include "../base/hash.h"
#include "../base/heap.h"
#include "room.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest user id in bytes. Ids use [A-Za-z0-9_.:@-] only, like room
 * names, so they are safe unescaped in JSON, URLs and SSE. */
#ifndef RT_PRESENCE_MAX_ID
#define RT_PRESENCE_MAX_ID 64
#endif
/* Default limits of rt_presence_settings (each can be changed there). */
#ifndef RT_PRESENCE_MAX_INFO
#define RT_PRESENCE_MAX_INFO 256
#endif
#ifndef RT_PRESENCE_MAX_ROOMS
#define RT_PRESENCE_MAX_ROOMS 10000
#endif
#ifndef RT_PRESENCE_MAX_USERS
#define RT_PRESENCE_MAX_USERS 10000
#endif
#ifndef RT_PRESENCE_MAX_JOINS
#define RT_PRESENCE_MAX_JOINS 256
#endif
#ifndef RT_PRESENCE_MAX_CONNS
#define RT_PRESENCE_MAX_CONNS 10000
#endif
#ifndef RT_PRESENCE_GRACE_MS
#define RT_PRESENCE_GRACE_MS 5000
#endif
#ifndef RT_PRESENCE_TYPING_MS
#define RT_PRESENCE_TYPING_MS 5000
#endif

typedef enum rt_presence_ev_type {
    RT_PRESENCE_EV_JOIN = 1,
    RT_PRESENCE_EV_LEAVE,
    RT_PRESENCE_EV_UPDATE,
    RT_PRESENCE_EV_TYPING_START,
    RT_PRESENCE_EV_TYPING_STOP
} rt_presence_ev_type;

/* One announcement for a room. Every view is valid during the callback only. */
typedef struct rt_presence_event {
    rt_presence_ev_type type;
    rt_str room;   /* the room's name */
    rt_str user;   /* the user's id */
    rt_str info;   /* the user's info (for LEAVE, the last it had); never NULL */
    size_t online; /* users in the room once this event is applied */
} rt_presence_event;

/* Called for each event, in the order they happen. It may read the registry
 * (rt_presence_count, rt_presence_list) but must not change it. */
typedef void (*rt_presence_event_fn)(void *ctx, const rt_presence_event *ev);

typedef struct rt_presence_settings {
    /* Borrowed: must outlive the registry. NULL = RT_MALLOC/RT_FREE. */
    const rt_allocator *alloc;
    /* Fill from randomness at start-up: keys the tables, so a client cannot
     * precompute ids or names that all land in one bucket. */
    uint64_t hash_seed;
    rt_presence_event_fn on_event; /* may be NULL: nothing is announced */
    void *ctx;                     /* handed to on_event */
    size_t max_rooms; /* rooms at once (>= 1) */
    size_t max_users; /* users in one room, grace periods included (>= 1) */
    size_t max_joins; /* rooms one connection may be in (>= 1) */
    size_t max_conns; /* connections at once (>= 1) */
    size_t max_info;  /* bytes of info (0: no info allowed) */
    /* grace_ms: how long a user whose last connection left stays before
     * LEAVE (0: at once). typing_ms: how long a typing signal lasts (>= 1).
     * Both may be changed in the registry at any time; a change applies to
     * deadlines set after it. */
    uint64_t grace_ms;
    uint64_t typing_ms;
} rt_presence_settings;

/* The registry: caller-owned, must not be moved or copied after init. */
typedef struct rt_presence {
    rt_presence_settings settings; /* read-only after init, except as noted */
    size_t n_rooms;                /* read-only: rooms with users */
    size_t n_users;                /* read-only: users, summed over rooms */
    size_t n_conns;                /* read-only: connections in some room */
    /* private */
    rt_hash _rooms, _users, _conns;
    rt_heap _deadlines; /* the users' armed timers, by deadline */
    unsigned _busy; /* callbacks in progress: changes are caller bugs then */
} rt_presence;

/* Fills s with the compiled defaults, a seed of 0 and no callback. */
RT_API void rt_presence_settings_init(rt_presence_settings *s);

/* Initialises an empty registry with a copy of *s. Allocates nothing.
 * RT_E_INVAL when a max_ limit other than max_info, or typing_ms, is 0. */
RT_API rt_result rt_presence_init(rt_presence *p, const rt_presence_settings *s);

/* Frees everything, announcing nothing. Not from inside a callback. */
RT_API void rt_presence_deinit(rt_presence *p);

/* 1 when id is 1..RT_PRESENCE_MAX_ID bytes of [A-Za-z0-9_.:@-], else 0. */
RT_API int rt_presence_id_valid(rt_str id);

/* Puts connection conn (any non-NULL key) in room as user (since now_ms,
 * when the user is new there). info is copied;
 * info.p NULL keeps the user's current info (empty for a new user).
 * Announces JOIN when the user was not in the room, UPDATE when it was and
 * info changed, nothing otherwise (a second tab, a reconnect within the
 * grace period, a repeated join). Returns RT_OK; RT_E_INVAL for a bad room
 * name or id, a NULL conn, or a conn already in the room as another user;
 * RT_E_LIMIT for info over max_info or a full max_ limit; RT_E_NOMEM. On
 * error nothing changed and nothing was announced. */
RT_API rt_result rt_presence_join(rt_presence *p, rt_str room, rt_str user, rt_str info,
                                  const void *conn, uint64_t now_ms);

/* Takes conn out of room. When it was the user's last connection there,
 * a typing user gets TYPING_STOP and the grace period starts (LEAVE at once
 * when grace_ms is 0). RT_OK, or RT_E_NOTFOUND when conn was not in room. */
RT_API rt_result rt_presence_leave(rt_presence *p, rt_str room, const void *conn,
                                   uint64_t now_ms);

/* rt_presence_leave for every room conn is in: call it when a connection
 * closes or its heartbeat times out. Unknown connections are ignored. */
RT_API void rt_presence_leave_all(rt_presence *p, const void *conn, uint64_t now_ms);

/* The typing signal of conn's user in room. on = 1: TYPING_START unless
 * already typing, and either way the indicator now lasts until
 * now_ms + typing_ms. on = 0 (the user stopped, or its message arrived):
 * TYPING_STOP if it was typing. RT_OK, or RT_E_NOTFOUND when conn is not in
 * room. */
RT_API rt_result rt_presence_typing(rt_presence *p, rt_str room, const void *conn, int on,
                                    uint64_t now_ms);

/* Ends what is due at now_ms: typing indicators (TYPING_STOP) and grace
 * periods (LEAVE, then the user is gone), in deadline order. Returns the
 * number of events. Call it every second or so, or at the time
 * rt_presence_next_deadline gives. */
RT_API size_t rt_presence_tick(rt_presence *p, uint64_t now_ms);

/* 1 and *at_ms set to the earliest pending deadline, or 0 when none. */
RT_API int rt_presence_next_deadline(const rt_presence *p, uint64_t *at_ms);

/* Users in room, grace periods included (0 for an unknown room). */
RT_API size_t rt_presence_count(const rt_presence *p, rt_str room);

/* One user of a room, as rt_presence_list shows it. */
typedef struct rt_presence_member {
    rt_str user;  /* the user's id */
    rt_str info;  /* never NULL */
    size_t conns;      /* its connections in the room; 0 during the grace period */
    int typing;        /* 1 while its typing indicator is on */
    uint64_t since_ms; /* now_ms of the join that announced it */
} rt_presence_member;

/* Views are valid during the call only. fn must not change the registry. */
typedef void (*rt_presence_each_fn)(void *ctx, const rt_presence_member *m);

/* Calls fn for each user of room, oldest join first; returns how many. */
RT_API size_t rt_presence_list(rt_presence *p, rt_str room, rt_presence_each_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* RT_PRESENCE_H */
