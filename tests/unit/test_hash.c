/* Unit tests for the shared intrusive hash table (src/base/hash.h): lookups
 * through colliding hashes, growth and shrink, removal anywhere, walks that
 * free as they go, a randomized run against a plain array, and allocation
 * failure injection. */
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../rt_test.h"

/* ---- A counting allocator that can fail the Nth allocation ----------------- */

typedef struct counter {
    size_t live, calls;
    size_t fail_at; /* 0 = never; else the call number that fails */
    size_t fail_every; /* 0 = never; else every call divisible by it fails */
} counter;

static int counter_fails(counter *c)
{
    c->calls++;
    return (c->fail_at != 0 && c->calls == c->fail_at) ||
           (c->fail_every != 0 && c->calls % c->fail_every == 0);
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

static uint32_t xorshift(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* ---- The entries ------------------------------------------------------------ */

/* The node sits in the middle, so RT_HASH_ENTRY has an offset to undo. */
typedef struct item {
    int key;
    rt_hash_node node;
    int in; /* the reference model: 1 while in the table */
} item;

/* Few distinct hashes, so chains hold several keys and several hashes. */
static uint32_t weak_hash(int key)
{
    return (uint32_t)(key % 37) * 2654435761u;
}

static item *find(const rt_hash *t, int key)
{
    rt_hash_node *x;
    for (x = rt_hash_find(t, weak_hash(key)); x; x = rt_hash_find_next(x)) {
        if (RT_HASH_ENTRY(x, item, node)->key == key)
            return RT_HASH_ENTRY(x, item, node);
    }
    return NULL;
}

/* Every node once in a walk, each with the hash it was inserted with. */
static size_t walk_count(const rt_hash *t)
{
    size_t n = 0;
    const rt_hash_node *x;
    for (x = rt_hash_first(t); x; x = rt_hash_next(t, x)) {
        CHECK(x->hash == weak_hash(RT_HASH_ENTRY(x, const item, node)->key));
        CHECK(RT_HASH_ENTRY(x, const item, node)->in);
        n++;
    }
    return n;
}

/* The table holds exactly the items marked in, and each is found. */
static void check_model(const rt_hash *t, item *it, size_t n_items)
{
    size_t i, in = 0;
    for (i = 0; i < n_items; i++) {
        CHECK(find(t, it[i].key) == (it[i].in ? &it[i] : NULL));
        in += (size_t)it[i].in;
    }
    CHECK_EQ(walk_count(t), in);
}

static void make_items(item *it, size_t n)
{
    size_t i;
    memset(it, 0, n * sizeof *it);
    for (i = 0; i < n; i++)
        it[i].key = (int)i * 3 + 1;
}

/* ---- Cases -------------------------------------------------------------------- */

RT_TEST(an_all_zero_table_is_empty_and_holds_no_memory)
{
    rt_hash t;
    counter c;
    rt_allocator a = counting(&c);
    memset(&t, 0, sizeof t);
    CHECK(rt_hash_find(&t, 42) == NULL);
    CHECK(rt_hash_first(&t) == NULL);
    rt_hash_shrink(&t, &a, 0);
    rt_hash_deinit(&t, &a);
    CHECK_EQ(c.calls, 0);
    CHECK_EQ(rt_hash_reserve(&t, &a, 1), RT_OK);
    CHECK_EQ(t._n_buckets, 16);
    CHECK_EQ(c.live, 16 * sizeof(rt_hash_node *));
    CHECK(rt_hash_first(&t) == NULL);
    rt_hash_deinit(&t, &a);
    CHECK_EQ(c.live, 0);
    CHECK(t._buckets == NULL && t._n_buckets == 0);
}

RT_TEST(find_next_visits_only_the_nodes_with_that_hash)
{
    rt_hash t;
    item it[6];
    rt_hash_node *x;
    int seen = 0;
    size_t i;
    memset(&t, 0, sizeof t);
    memset(it, 0, sizeof it);
    CHECK_EQ(rt_hash_reserve(&t, NULL, 6), RT_OK);
    /* 0..2 share hash 7; 3..5 share the bucket (7 + 16k) but not the hash */
    for (i = 0; i < 6; i++) {
        it[i].key = (int)i;
        rt_hash_insert(&t, &it[i].node, i < 3 ? 7u : 7u + 16u * (uint32_t)i);
    }
    for (x = rt_hash_find(&t, 7); x; x = rt_hash_find_next(x)) {
        CHECK(x->hash == 7);
        seen |= 1 << RT_HASH_ENTRY(x, item, node)->key;
    }
    CHECK_EQ(seen, 7);
    x = rt_hash_find(&t, 7u + 16u * 4u);
    CHECK(x == &it[4].node && rt_hash_find_next(x) == NULL);
    CHECK(rt_hash_find(&t, 8) == NULL);
    CHECK(rt_hash_find(&t, 7u + 16u * 9u) == NULL); /* same bucket, no such hash */
    rt_hash_deinit(&t, NULL);
}

RT_TEST(removal_anywhere_in_a_chain)
{
    rt_hash t;
    item it[5];
    size_t i;
    memset(&t, 0, sizeof t);
    memset(it, 0, sizeof it);
    CHECK_EQ(rt_hash_reserve(&t, NULL, 5), RT_OK);
    for (i = 0; i < 5; i++) {
        it[i].key = (int)i * 37 + 5; /* one hash: one chain of five */
        rt_hash_insert(&t, &it[i].node, weak_hash(it[i].key));
        it[i].in = 1;
    }
    for (i = 0; i < 5; i++) { /* middle, then the ends, then what is left */
        size_t k = (i * 2 + 2) % 5;
        rt_hash_remove(&t, &it[k].node);
        it[k].in = 0;
        CHECK(it[k].node._next == NULL);
        CHECK_EQ(walk_count(&t), 4 - i);
    }
    CHECK(rt_hash_first(&t) == NULL);
    rt_hash_deinit(&t, NULL);
}

RT_TEST(growth_doubles_and_keeps_every_entry)
{
    enum { N = 1000 };
    static item it[N];
    rt_hash t;
    counter c;
    rt_allocator a = counting(&c);
    size_t i;
    memset(&t, 0, sizeof t);
    make_items(it, N);
    for (i = 0; i < N; i++) {
        CHECK_EQ(rt_hash_reserve(&t, &a, i + 1), RT_OK);
        CHECK(t._n_buckets >= i + 1 && t._n_buckets < 2 * (i + 1) + 16);
        rt_hash_insert(&t, &it[i].node, weak_hash(it[i].key));
        it[i].in = 1;
    }
    CHECK_EQ(t._n_buckets, 1024);
    CHECK_EQ(c.live, 1024 * sizeof(rt_hash_node *)); /* the old arrays went back */
    check_model(&t, it, N);
    CHECK_EQ(rt_hash_reserve(&t, &a, 5000), RT_OK); /* several doublings at once */
    CHECK_EQ(t._n_buckets, 8192);
    check_model(&t, it, N);
    rt_hash_deinit(&t, &a);
    CHECK_EQ(c.live, 0);
}

RT_TEST(shrink_gives_memory_back_and_keeps_every_entry)
{
    enum { N = 1000 };
    static item it[N];
    rt_hash t;
    counter c;
    rt_allocator a = counting(&c);
    size_t i, live = N;
    memset(&t, 0, sizeof t);
    make_items(it, N);
    CHECK_EQ(rt_hash_reserve(&t, &a, N), RT_OK);
    for (i = 0; i < N; i++) {
        rt_hash_insert(&t, &it[i].node, weak_hash(it[i].key));
        it[i].in = 1;
    }
    rt_hash_shrink(&t, &a, N); /* full: nothing to give back */
    CHECK_EQ(t._n_buckets, 1024);
    for (i = 0; i < N; i++) {
        size_t k = i * 7 % N; /* all over the table */
        rt_hash_remove(&t, &it[k].node);
        it[k].in = 0;
        rt_hash_shrink(&t, &a, --live);
        CHECK(t._n_buckets == 16 || live > t._n_buckets / 4);
        CHECK(t._n_buckets >= live);
        if (live == 256)
            CHECK_EQ(t._n_buckets, 512);
        if (live % 100 == 0)
            check_model(&t, it, N);
    }
    CHECK_EQ(t._n_buckets, 16);
    CHECK_EQ(c.live, 16 * sizeof(rt_hash_node *));
    /* a count that is too low costs chain length, never an entry */
    CHECK_EQ(rt_hash_reserve(&t, &a, N), RT_OK);
    for (i = 0; i < N; i++) {
        rt_hash_insert(&t, &it[i].node, weak_hash(it[i].key));
        it[i].in = 1;
    }
    rt_hash_shrink(&t, &a, 0);
    CHECK_EQ(t._n_buckets, 16);
    check_model(&t, it, N);
    rt_hash_deinit(&t, &a);
    CHECK_EQ(c.live, 0);
}

RT_TEST(a_walk_may_free_what_it_visits)
{
    enum { N = 100 };
    item *it[N];
    rt_hash t;
    rt_hash_node *x, *next;
    size_t i, freed = 0;
    memset(&t, 0, sizeof t);
    CHECK_EQ(rt_hash_reserve(&t, NULL, N), RT_OK);
    for (i = 0; i < N; i++) {
        it[i] = (item *)calloc(1, sizeof(item));
        it[i]->key = (int)i;
        it[i]->in = 1;
        rt_hash_insert(&t, &it[i]->node, weak_hash((int)i));
    }
    for (x = rt_hash_first(&t); x; x = next) {
        next = rt_hash_next(&t, x);
        if (RT_HASH_ENTRY(x, item, node)->key % 3 == 0) {
            rt_hash_remove(&t, x);
            free(RT_HASH_ENTRY(x, item, node)); /* ASan sees any later read */
            freed++;
        }
    }
    CHECK_EQ(freed, 34);
    CHECK_EQ(walk_count(&t), N - 34);
    for (x = rt_hash_first(&t); x; x = next) {
        next = rt_hash_next(&t, x);
        free(RT_HASH_ENTRY(x, item, node));
    }
    rt_hash_deinit(&t, NULL);
}

RT_TEST(randomized_against_a_plain_array)
{
    enum { N = 600, OPS = 40000 };
    static item it[N];
    rt_hash t;
    counter c;
    rt_allocator a = counting(&c);
    uint32_t seed = 2463534242u;
    size_t in = 0, k;
    int op;
    memset(&t, 0, sizeof t);
    make_items(it, N);
    for (op = 0; op < OPS; op++) {
        k = xorshift(&seed) % N;
        if (!it[k].in && xorshift(&seed) % 3 != 0) { /* grow more than shrink */
            CHECK_EQ(rt_hash_reserve(&t, &a, in + 1), RT_OK);
            rt_hash_insert(&t, &it[k].node, weak_hash(it[k].key));
            it[k].in = 1;
            in++;
        } else if (it[k].in) {
            rt_hash_remove(&t, &it[k].node);
            it[k].in = 0;
            rt_hash_shrink(&t, &a, --in);
        }
        CHECK(find(&t, it[k].key) == (it[k].in ? &it[k] : NULL));
        CHECK(find(&t, -it[k].key) == NULL); /* a key never inserted */
        if (op % 4000 == 0)
            check_model(&t, it, N);
    }
    check_model(&t, it, N);
    CHECK(t._n_buckets >= in);
    rt_hash_deinit(&t, &a);
    CHECK_EQ(c.live, 0);
}

RT_TEST(allocation_failure_leaves_the_table_valid)
{
    enum { N = 300 };
    static item it[N];
    rt_hash t;
    counter c;
    rt_allocator a = counting(&c);
    size_t i, in = 0, n_fail;
    /* the first array is required: without it, RT_E_NOMEM and nothing held */
    memset(&t, 0, sizeof t);
    c.fail_at = 1;
    CHECK_EQ(rt_hash_reserve(&t, &a, 1), RT_E_NOMEM);
    CHECK(t._buckets == NULL && t._n_buckets == 0 && c.live == 0);
    CHECK_EQ(rt_hash_reserve(&t, &a, 1), RT_OK); /* the next call succeeds */
    rt_hash_deinit(&t, &a);
    /* later growths may fail: the table keeps its array, with longer chains */
    for (n_fail = 2; n_fail <= 6; n_fail++) {
        memset(&t, 0, sizeof t);
        make_items(it, N);
        a = counting(&c);
        c.fail_at = n_fail;
        for (i = 0, in = 0; i < N; i++, in++) {
            CHECK_EQ(rt_hash_reserve(&t, &a, in + 1), RT_OK);
            rt_hash_insert(&t, &it[i].node, weak_hash(it[i].key));
            it[i].in = 1;
        }
        CHECK(t._n_buckets >= 16);
        check_model(&t, it, N);
        c.fail_every = 2; /* and so may shrinks: nothing is lost */
        for (i = 0; i < N; i++) {
            rt_hash_remove(&t, &it[i].node);
            it[i].in = 0;
            rt_hash_shrink(&t, &a, --in);
            if (i % 50 == 0)
                check_model(&t, it, N);
        }
        CHECK(rt_hash_first(&t) == NULL);
        CHECK_EQ(c.live, t._n_buckets * sizeof(rt_hash_node *));
        rt_hash_deinit(&t, &a);
        CHECK_EQ(c.live, 0);
    }
}

int main(void)
{
    return rt_test_main();
}
