/* Unit tests for the shared binary min-heap (src/base/heap.h): order,
 * removal in the middle, key changes both ways, growth and shrink, a
 * randomized run against a plain array, and allocation failure injection. */
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../rt_test.h"

/* ---- A counting allocator that can fail the Nth allocation ----------------- */

typedef struct counter {
    size_t live, calls;
    size_t fail_at; /* 0 = never; else the call number that fails */
} counter;

static void *c_alloc(void *user, size_t n)
{
    counter *c = (counter *)user;
    if (++c->calls == c->fail_at)
        return NULL;
    c->live += n;
    return malloc(n);
}

static void *c_realloc(void *user, void *p, size_t old_n, size_t new_n)
{
    counter *c = (counter *)user;
    void *q;
    if (++c->calls == c->fail_at)
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

/* ---- The elements -------------------------------------------------------------- */

/* Key and place away from offset 0, so the offsets are really used. */
typedef struct job {
    int id;
    uint64_t due;
    char pad[3];
    size_t at;
    int in; /* the reference model: 1 while in the heap */
} job;

static void job_heap(rt_heap *h)
{
    rt_heap_init(h, offsetof(job, due), offsetof(job, at));
}

/* The heap order holds, every element knows its place, and exactly the
 * jobs marked in are in it. */
static void check_heap(const rt_heap *h, const job *jobs, size_t n_jobs)
{
    const job *const *e = (const job *const *)h->_items;
    size_t i, in = 0;
    int bad = 0;
    for (i = 0; i < h->n; i++) {
        bad += e[i]->at != i + 1 || !e[i]->in;
        bad += i > 0 && e[(i - 1) / 2]->due > e[i]->due;
    }
    for (i = 0; i < n_jobs; i++) {
        in += (size_t)jobs[i].in;
        bad += !jobs[i].in && jobs[i].at != 0;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(in, h->n);
    CHECK(h->n <= h->_cap);
}

/* The least due among the jobs marked in, found the slow way. */
static uint64_t model_min(const job *jobs, size_t n_jobs, int *any)
{
    uint64_t m = UINT64_MAX;
    size_t i;
    *any = 0;
    for (i = 0; i < n_jobs; i++) {
        if (jobs[i].in && (!*any || jobs[i].due < m)) {
            m = jobs[i].due;
            *any = 1;
        }
    }
    return m;
}

static void put(rt_heap *h, job *j, uint64_t due)
{
    j->due = due;
    CHECK_EQ(rt_heap_reserve(h, NULL, h->n + 1), RT_OK);
    rt_heap_insert(h, j);
    j->in = 1;
}

/* ---- Cases ------------------------------------------------------------------------ */

RT_TEST(an_empty_heap_holds_nothing_and_no_memory)
{
    rt_heap h;
    job j;
    counter c;
    rt_allocator a = counting(&c);
    memset(&j, 0, sizeof j);
    job_heap(&h);
    CHECK(rt_heap_min(&h) == NULL);
    CHECK_EQ(h.n, 0);
    rt_heap_remove(&h, &j); /* in no heap: nothing happens */
    rt_heap_shrink(&h, &a, 0);
    rt_heap_deinit(&h, &a);
    CHECK_EQ(c.calls, 0);
}

RT_TEST(elements_come_out_least_key_first)
{
    static const uint64_t dues[8] = {50, 10, 40, 10, 30, 20, 60, 0};
    rt_heap h;
    job jobs[8];
    const job *m;
    uint64_t last = 0;
    size_t i;
    memset(jobs, 0, sizeof jobs);
    job_heap(&h);
    for (i = 0; i < 8; i++)
        put(&h, &jobs[i], dues[i]);
    check_heap(&h, jobs, 8);
    for (i = 0; i < 8; i++) {
        m = (const job *)rt_heap_min(&h);
        CHECK(m != NULL && m->due >= last);
        last = m->due;
        rt_heap_remove(&h, (void *)m);
        CHECK_EQ(m->at, 0);
        jobs[m - jobs].in = 0;
        check_heap(&h, jobs, 8);
    }
    CHECK(rt_heap_min(&h) == NULL);
    CHECK_EQ(last, 60);
    rt_heap_deinit(&h, NULL);
}

RT_TEST(removal_in_the_middle_and_key_changes_both_ways)
{
    enum { N = 31 };
    rt_heap h;
    job jobs[N];
    size_t i;
    memset(jobs, 0, sizeof jobs);
    job_heap(&h);
    for (i = 0; i < N; i++)
        put(&h, &jobs[i], 100 + 10 * (uint64_t)i);
    CHECK(h._items[5] == &jobs[5]); /* inserted in order: nothing moved */
    rt_heap_remove(&h, &jobs[5]);   /* an inner node */
    jobs[5].in = 0;
    CHECK(rt_heap_min(&h) == &jobs[0]);
    CHECK_EQ(h.n, N - 1);
    check_heap(&h, jobs, N);
    rt_heap_remove(&h, &jobs[N - 1]); /* the last leaf */
    jobs[N - 1].in = 0;
    check_heap(&h, jobs, N);
    jobs[20].due = 1; /* a leaf becomes the least */
    rt_heap_update(&h, &jobs[20]);
    CHECK(rt_heap_min(&h) == &jobs[20]);
    check_heap(&h, jobs, N);
    jobs[20].due = 1000; /* and then the greatest */
    rt_heap_update(&h, &jobs[20]);
    CHECK(rt_heap_min(&h) == &jobs[0]);
    check_heap(&h, jobs, N);
    jobs[0].due = 1000; /* the root moves down */
    rt_heap_update(&h, &jobs[0]);
    CHECK(rt_heap_min(&h) == &jobs[1]);
    check_heap(&h, jobs, N);
    rt_heap_update(&h, &jobs[3]); /* an unchanged key stays put */
    check_heap(&h, jobs, N);
    rt_heap_deinit(&h, NULL);
}

RT_TEST(growth_doubles_from_eight_and_shrink_gives_back)
{
    enum { N = 1000 };
    static job jobs[N];
    rt_heap h;
    counter c;
    rt_allocator a = counting(&c);
    size_t i;
    memset(jobs, 0, sizeof jobs);
    job_heap(&h);
    CHECK_EQ(rt_heap_reserve(&h, &a, 1), RT_OK);
    CHECK_EQ(h._cap, 8);
    for (i = 0; i < N; i++) {
        jobs[i].due = (uint64_t)(N - i);
        CHECK_EQ(rt_heap_reserve(&h, &a, h.n + 1), RT_OK);
        rt_heap_insert(&h, &jobs[i]);
        jobs[i].in = 1;
    }
    CHECK_EQ(h._cap, 1024);
    CHECK_EQ(c.live, 1024 * sizeof(void *));
    rt_heap_shrink(&h, &a, 0); /* never below what is in it */
    CHECK_EQ(h._cap, 1024);
    check_heap(&h, jobs, N);
    for (i = 0; i < N - 10; i++) {
        job *m = (job *)rt_heap_min(&h);
        rt_heap_remove(&h, m);
        m->in = 0;
    }
    rt_heap_shrink(&h, &a, 40); /* the caller keeps room for 40 */
    CHECK_EQ(h._cap, 128); /* 1024 halved while 40 fills a quarter or less */
    CHECK(h._cap >= 40);
    check_heap(&h, jobs, N);
    rt_heap_shrink(&h, &a, 0);
    CHECK_EQ(h._cap, 32); /* the 10 left fill more than a quarter of 16 */
    check_heap(&h, jobs, N);
    for (i = 0; i < 6; i++)
        rt_heap_remove(&h, rt_heap_min(&h));
    rt_heap_shrink(&h, &a, 0);
    CHECK_EQ(h._cap, 16); /* the floor */
    CHECK_EQ(c.live, 16 * sizeof(void *));
    rt_heap_deinit(&h, &a);
    CHECK_EQ(c.live, 0);
}

RT_TEST(randomized_against_a_plain_array)
{
    enum { N = 500, OPS = 40000 };
    static job jobs[N];
    rt_heap h;
    counter c;
    rt_allocator a = counting(&c);
    uint32_t seed = 88172645u;
    size_t k;
    uint64_t want;
    int op, any;
    const job *m;
    memset(jobs, 0, sizeof jobs);
    job_heap(&h);
    for (op = 0; op < OPS; op++) {
        k = xorshift(&seed) % N;
        switch (xorshift(&seed) % 4) {
        case 0: /* arm, or move when armed; few distinct keys: many ties */
        case 1:
            jobs[k].due = xorshift(&seed) % 64;
            if (jobs[k].in) {
                rt_heap_update(&h, &jobs[k]);
            } else {
                CHECK_EQ(rt_heap_reserve(&h, &a, h.n + 1), RT_OK);
                rt_heap_insert(&h, &jobs[k]);
                jobs[k].in = 1;
            }
            break;
        case 2: /* stop (also when not armed) */
            rt_heap_remove(&h, &jobs[k]);
            jobs[k].in = 0;
            break;
        default: /* the least one fires */
            m = (const job *)rt_heap_min(&h);
            if (m) {
                rt_heap_remove(&h, (void *)m);
                jobs[m - jobs].in = 0;
            }
            rt_heap_shrink(&h, &a, h.n);
        }
        want = model_min(jobs, N, &any);
        m = (const job *)rt_heap_min(&h);
        CHECK(any ? m != NULL && m->due == want : m == NULL);
        if (op % 1000 == 0)
            check_heap(&h, jobs, N);
    }
    check_heap(&h, jobs, N);
    rt_heap_deinit(&h, &a);
    CHECK_EQ(c.live, 0);
}

RT_TEST(allocation_failure_leaves_the_heap_valid)
{
    enum { N = 100 };
    static job jobs[N];
    rt_heap h;
    counter c;
    rt_allocator a;
    size_t fail, i, nomem;
    for (fail = 1; fail <= 5; fail++) { /* 8, 16, 32, 64, 128 */
        memset(jobs, 0, sizeof jobs);
        a = counting(&c);
        c.fail_at = fail;
        job_heap(&h);
        nomem = 0;
        for (i = 0; i < N; i++) {
            jobs[i].due = (uint64_t)(i * 7919 % N);
            if (rt_heap_reserve(&h, &a, h.n + 1) != RT_OK) { /* that job is not armed */
                CHECK(h.n == h._cap);
                nomem++;
                continue;
            }
            rt_heap_insert(&h, &jobs[i]);
            jobs[i].in = 1;
        }
        CHECK_EQ(nomem, 1);
        CHECK_EQ(h.n, N - 1);
        check_heap(&h, jobs, N);
        CHECK_EQ(c.live, h._cap * sizeof(void *));
        rt_heap_deinit(&h, &a);
        CHECK_EQ(c.live, 0);
    }
    /* a failed shrink keeps the bigger array and everything in it */
    memset(jobs, 0, sizeof jobs);
    a = counting(&c);
    job_heap(&h);
    for (i = 0; i < N; i++) {
        jobs[i].due = (uint64_t)i;
        CHECK_EQ(rt_heap_reserve(&h, &a, h.n + 1), RT_OK);
        rt_heap_insert(&h, &jobs[i]);
        jobs[i].in = 1;
    }
    for (i = 0; i < N - 5; i++) {
        rt_heap_remove(&h, &jobs[i]);
        jobs[i].in = 0;
    }
    c.fail_at = c.calls + 1;
    rt_heap_shrink(&h, &a, h.n);
    CHECK_EQ(h._cap, 128);
    check_heap(&h, jobs, N);
    CHECK(rt_heap_min(&h) == &jobs[N - 5]);
    rt_heap_shrink(&h, &a, h.n);
    CHECK_EQ(h._cap, 16);
    check_heap(&h, jobs, N);
    rt_heap_deinit(&h, &a);
    CHECK_EQ(c.live, 0);
}

int main(void)
{
    return rt_test_main();
}
