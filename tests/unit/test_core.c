/* Unit tests for core: result names, string views, the allocator hooks. */
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../rt_test.h"

RT_TEST(result_names_are_distinct_and_prefixed)
{
    int codes[] = {RT_OK, RT_AGAIN, RT_E_PROTO, RT_E_LIMIT, RT_E_NOMEM, RT_E_IO,
                   RT_E_CLOSED, RT_E_INVAL, RT_E_UTF8, RT_E_NOSPACE, RT_E_NOTFOUND};
    size_t i, j, n = sizeof codes / sizeof codes[0];
    for (i = 0; i < n; i++) {
        CHECK(strncmp(rt_result_str(codes[i]), "RT_", 3) == 0);
        for (j = i + 1; j < n; j++)
            CHECK(strcmp(rt_result_str(codes[i]), rt_result_str(codes[j])) != 0);
    }
    CHECK_STR(rt_result_str(-999), "unknown error");
}

RT_TEST(str_views_compare_by_bytes_and_ignoring_case)
{
    rt_str a = rt_str_c("WebSocket"), b = rt_str_c("websocket"), e = rt_str_c(NULL);
    CHECK_EQ(a.n, 9);
    CHECK_EQ(e.n, 0);
    CHECK(!rt_str_eq(a, b));
    CHECK(rt_str_ieq(a, b));
    CHECK(rt_str_eq(e, rt_str_c("")));
    CHECK(!rt_str_ieq(a, rt_str_c("websocke")));
    /* only ASCII letters fold: '@' (0x40) and '`' (0x60) differ by 0x20 too */
    CHECK(!rt_str_ieq(rt_str_c("@"), rt_str_c("`")));
}

RT_TEST(names_are_1_to_max_bytes_of_the_name_alphabet)
{
    char all[256];
    int c, ok = 0;
    CHECK(rt_str_is_name(rt_str_c("lobby"), 64));
    CHECK(rt_str_is_name(rt_str_c("a-b_c.d:e@f09AZ"), 64));
    CHECK(!rt_str_is_name(rt_str_c(""), 64));
    CHECK(rt_str_is_name(rt_str_c("abcd"), 4));
    CHECK(!rt_str_is_name(rt_str_c("abcde"), 4));
    CHECK(!rt_str_is_name(rt_str_c("a b"), 64));
    CHECK(!rt_str_is_name(rt_str_c("a/b"), 64));
    for (c = 1; c < 256; c++) { /* exactly 26 + 26 + 10 + 5 bytes pass */
        rt_str s;
        all[0] = (char)c;
        s.p = all;
        s.n = 1;
        ok += rt_str_is_name(s, 64);
    }
    CHECK_EQ(ok, 67);
}

RT_TEST(fnv1a_matches_the_published_vectors)
{
    /* FNV-1a 32-bit test vectors (Fowler/Noll/Vo reference) */
    CHECK_EQ(rt_fnv1a(RT_FNV1A_BASIS, "", 0), 0x811c9dc5u);
    CHECK_EQ(rt_fnv1a(RT_FNV1A_BASIS, "a", 1), 0xe40c292cu);
    CHECK_EQ(rt_fnv1a(RT_FNV1A_BASIS, "foobar", 6), 0xbf9cf968u);
    /* continuing from a prefix's hash is hashing the whole */
    CHECK_EQ(rt_fnv1a(rt_fnv1a(RT_FNV1A_BASIS, "foo", 3), "bar", 3), 0xbf9cf968u);
}

static size_t counted_live;
static void *counting_alloc(void *user, size_t n)
{
    (void)user;
    counted_live += n;
    return malloc(n);
}
static void *counting_realloc(void *user, void *p, size_t old_n, size_t new_n)
{
    (void)user;
    counted_live = counted_live - old_n + new_n;
    return realloc(p, new_n);
}
static void counting_free(void *user, void *p, size_t n)
{
    (void)user;
    counted_live -= n;
    free(p);
}

RT_TEST(allocator_hooks_are_used_when_given)
{
    rt_allocator a = {counting_alloc, counting_realloc, counting_free, NULL};
    void *p = rt_alloc(&a, 100);
    CHECK(p != NULL);
    CHECK_EQ(counted_live, 100);
    p = rt_realloc(&a, p, 100, 300);
    CHECK_EQ(counted_live, 300);
    rt_free(&a, p, 300);
    CHECK_EQ(counted_live, 0);
    p = rt_alloc(NULL, 10); /* libc default */
    CHECK(p != NULL);
    rt_free(NULL, p, 10);
    rt_free(&a, NULL, 0); /* freeing NULL is a no-op */
    CHECK_EQ(counted_live, 0);
}

RT_TEST(grow_doubles_from_min_and_refuses_overflow)
{
    size_t cap = 0;
    int *p = (int *)rt_grow(NULL, NULL, &cap, 3, sizeof(int), 8);
    CHECK(p != NULL);
    CHECK_EQ(cap, 8);
    CHECK(rt_grow(NULL, p, &cap, 8, sizeof(int), 8) == p); /* fits: unchanged */
    p[7] = 7;
    p = (int *)rt_grow(NULL, p, &cap, 20, sizeof(int), 8);
    CHECK(p != NULL);
    CHECK_EQ(cap, 32);
    CHECK_EQ(p[7], 7); /* kept */
    CHECK(rt_grow(NULL, p, &cap, SIZE_MAX / 2, sizeof(int), 8) == NULL);
    CHECK_EQ(cap, 32); /* untouched on failure */
    rt_free(NULL, p, cap * sizeof(int));
}

int main(void) { return rt_test_main(); }
