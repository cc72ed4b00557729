/* hash.h - the intrusive chained hash table every module shares.
 *
 * A struct that can be in a table embeds an rt_hash_node; the table is an
 * array of chains, a power of two of them, picked by the low bits of each
 * node's 32-bit hash. The caller computes the hash (with its own seed: the
 * table has none) and compares keys itself: a lookup walks the nodes whose
 * stored hash matches, so a key is compared only on a full 32-bit match and
 * never hashed again, not on growth, not on removal.
 *
 * The table does not count its entries: every user already keeps that count
 * (usually in a public field), so it is passed in where it matters, to
 * rt_hash_reserve and rt_hash_shrink. Reserve before inserting, and the
 * insert cannot fail: a model can then make every allocation before it
 * changes anything. Only the bucket array is allocated; an all-zero table
 * is empty and holds no memory.
 *
 *     struct user { rt_str id; rt_hash_node node; };
 *     if (rt_hash_reserve(&t, a, n_users + 1) != RT_OK) return RT_E_NOMEM;
 *     rt_hash_insert(&t, &u->node, hash(u->id));
 *     for (x = rt_hash_find(&t, h); x; x = rt_hash_find_next(x))
 *         if (rt_str_eq(RT_HASH_ENTRY(x, struct user, node)->id, id)) ...
 */
#ifndef RT_HASH_H
#define RT_HASH_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_hash_node {
    struct rt_hash_node *_next; /* the rest of the chain */
    uint32_t hash;              /* read-only: as given to rt_hash_insert */
} rt_hash_node;

typedef struct rt_hash {
    rt_hash_node **_buckets; /* NULL, or _n_buckets chains */
    size_t _n_buckets;       /* 0 or a power of two, at least 16 */
} rt_hash;

/* The struct of type T whose member M is the node x. */
#define RT_HASH_ENTRY(x, T, M) ((T *)(void *)((char *)(x) - offsetof(T, M)))

/* Makes room for n entries at one per bucket on average, doubling. A table
 * that already has buckets keeps working with longer chains when growing
 * fails, so this is RT_E_NOMEM only for a table with no bucket array yet
 * (or an n too large to represent); else RT_OK. */
RT_API rt_result rt_hash_reserve(rt_hash *t, const rt_allocator *a, size_t n);
/* Gives memory back when n entries (what is left) fill a quarter of the
 * buckets or less: halves, in one step, down to the size that fits n, never
 * below 16 buckets. A failed allocation keeps the bigger array. Not while
 * walking the table with rt_hash_first/next. */
RT_API void rt_hash_shrink(rt_hash *t, const rt_allocator *a, size_t n);
/* Frees the bucket array (not the entries) and leaves t all-zero. */
RT_API void rt_hash_deinit(rt_hash *t, const rt_allocator *a);

/* Adds x with that hash (x must be in no table). Needs a bucket array:
 * rt_hash_reserve first. Never allocates. Equal keys are the caller's to
 * refuse; the table keeps whatever it is given. */
RT_API void rt_hash_insert(rt_hash *t, rt_hash_node *x, uint32_t hash);
/* Takes x out of t, walking x's chain only (x must be in t). */
RT_API void rt_hash_remove(rt_hash *t, rt_hash_node *x);

/* The first node whose hash is `hash`, or NULL. */
RT_API rt_hash_node *rt_hash_find(const rt_hash *t, uint32_t hash);
/* The next node after x with x's hash, or NULL. */
RT_API rt_hash_node *rt_hash_find_next(const rt_hash_node *x);

/* Every node, in no particular order: the first, or NULL when empty. */
RT_API rt_hash_node *rt_hash_first(const rt_hash *t);
/* The node after x, or NULL at the end. A loop that removes or frees x
 * reads the next node first; it must not insert or resize meanwhile. */
RT_API rt_hash_node *rt_hash_next(const rt_hash *t, const rt_hash_node *x);

#ifdef __cplusplus
}
#endif

#endif /* RT_HASH_H */
