/* hash.c - the shared intrusive hash table (see hash.h).
 *
 * Chains are singly linked: removal walks one chain, which the load limit
 * (at most one entry per bucket on average) keeps short, and a node costs
 * one pointer plus its hash. Growing and shrinking move every node into a
 * fresh array by its stored hash; a new array is allocated before the old
 * one is let go, so a failure leaves the table as it was.
 */
#include "hash.h"

#define RT__HASH_MIN_BUCKETS 16u

static rt_hash_node **rt__hash_bucket(const rt_hash *t, uint32_t hash)
{
    return &t->_buckets[hash & (t->_n_buckets - 1)];
}

/* Moves every node into a new array of n buckets. RT_E_NOMEM (t unchanged)
 * when it cannot be allocated. */
static rt_result rt__hash_resize(rt_hash *t, const rt_allocator *a, size_t n)
{
    rt_hash old = *t;
    rt_hash_node *x, *next, **b;
    size_t i;
    b = n <= SIZE_MAX / sizeof *b ? (rt_hash_node **)rt_alloc(a, n * sizeof *b) : NULL;
    if (!b)
        return RT_E_NOMEM;
    for (i = 0; i < n; i++)
        b[i] = NULL;
    t->_buckets = b;
    t->_n_buckets = n;
    for (i = 0; i < old._n_buckets; i++) {
        for (x = old._buckets[i]; x; x = next) {
            next = x->_next;
            x->_next = *rt__hash_bucket(t, x->hash);
            *rt__hash_bucket(t, x->hash) = x;
        }
    }
    rt_free(a, old._buckets, old._n_buckets * sizeof *b);
    return RT_OK;
}

rt_result rt_hash_reserve(rt_hash *t, const rt_allocator *a, size_t n)
{
    size_t size = t->_n_buckets > 0 ? t->_n_buckets : RT__HASH_MIN_BUCKETS;
    if (t->_buckets && n <= t->_n_buckets)
        return RT_OK;
    while (size < n && size <= SIZE_MAX / 2)
        size *= 2;
    if (size < n || rt__hash_resize(t, a, size) != RT_OK)
        return t->_buckets ? RT_OK : RT_E_NOMEM;
    return RT_OK;
}

void rt_hash_shrink(rt_hash *t, const rt_allocator *a, size_t n)
{
    size_t size = t->_n_buckets;
    while (size > RT__HASH_MIN_BUCKETS && n <= size / 4)
        size /= 2;
    if (size < t->_n_buckets)
        rt__hash_resize(t, a, size); /* on failure the bigger array stays */
}

void rt_hash_deinit(rt_hash *t, const rt_allocator *a)
{
    rt_free(a, t->_buckets, t->_n_buckets * sizeof *t->_buckets);
    t->_buckets = NULL;
    t->_n_buckets = 0;
}

void rt_hash_insert(rt_hash *t, rt_hash_node *x, uint32_t hash)
{
    rt_hash_node **b;
    RT_ASSERT(t->_buckets != NULL);
    b = rt__hash_bucket(t, hash);
    x->hash = hash;
    x->_next = *b;
    *b = x;
}

void rt_hash_remove(rt_hash *t, rt_hash_node *x)
{
    rt_hash_node **pp = rt__hash_bucket(t, x->hash);
    while (*pp != x) {
        RT_ASSERT(*pp != NULL); /* x was not in t */
        pp = &(*pp)->_next;
    }
    *pp = x->_next;
    x->_next = NULL;
}

/* x itself when it has that hash, else the next node of its chain that has. */
static rt_hash_node *rt__hash_match(rt_hash_node *x, uint32_t hash)
{
    while (x && x->hash != hash)
        x = x->_next;
    return x;
}

rt_hash_node *rt_hash_find(const rt_hash *t, uint32_t hash)
{
    return t->_buckets ? rt__hash_match(*rt__hash_bucket(t, hash), hash) : NULL;
}

rt_hash_node *rt_hash_find_next(const rt_hash_node *x)
{
    return rt__hash_match(x->_next, x->hash);
}

/* The head of the first non-empty chain at bucket i or after it. */
static rt_hash_node *rt__hash_from(const rt_hash *t, size_t i)
{
    for (; i < t->_n_buckets; i++) {
        if (t->_buckets[i])
            return t->_buckets[i];
    }
    return NULL;
}

rt_hash_node *rt_hash_first(const rt_hash *t)
{
    return rt__hash_from(t, 0);
}

rt_hash_node *rt_hash_next(const rt_hash *t, const rt_hash_node *x)
{
    return x->_next ? x->_next : rt__hash_from(t, (x->hash & (t->_n_buckets - 1)) + 1);
}
