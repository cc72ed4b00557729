/* rt_test.h - the whole unit-test runner: cases, checks, TAP output, summary.
 *
 *     #include "rt_test.h"
 *     RT_TEST(adds) { CHECK_EQ(1 + 1, 2); }
 *     int main(void) { return rt_test_main(); }
 *
 * Cases register themselves through a constructor (gcc/clang), run in the
 * order they appear, and print TAP ("ok 3 - name"). A failing check prints
 * file:line and both values, marks the case failed and carries on. The last
 * line is "N passed, N failed" and the exit status is 1 if any case failed.
 * Not part of rt.h: tests only.
 */
#ifndef RT_TEST_H
#define RT_TEST_H

#include <stdio.h>
#include <string.h>

typedef void (*rt_test_fn)(void);

#define RT_TEST_MAX 512
static struct { const char *name; rt_test_fn fn; } rt_test_cases[RT_TEST_MAX];
static int rt_test_count, rt_test_failed_now;

static void rt_test_register(const char *name, rt_test_fn fn)
{
    if (rt_test_count < RT_TEST_MAX) {
        rt_test_cases[rt_test_count].name = name;
        rt_test_cases[rt_test_count].fn = fn;
        rt_test_count++;
    }
}

#define RT_TEST(name)                                                          \
    static void rt_test_##name(void);                                          \
    __attribute__((constructor)) static void rt_test_reg_##name(void)          \
    { rt_test_register(#name, rt_test_##name); }                               \
    static void rt_test_##name(void)

static void rt_test_fail(const char *file, int line, const char *expr, const char *detail)
{
    printf("#   %s:%d: CHECK(%s) failed%s%s\n", file, line, expr, detail ? ": " : "",
           detail ? detail : "");
    rt_test_failed_now = 1;
}

#define CHECK(c) ((c) ? (void)0 : rt_test_fail(__FILE__, __LINE__, #c, NULL))

/* Compares as long long, so it fits sizes, results and codes alike. */
#define CHECK_EQ(a, b)                                                          \
    do {                                                                        \
        long long rt_a_ = (long long)(a), rt_b_ = (long long)(b);               \
        if (rt_a_ != rt_b_) {                                                   \
            char rt_d_[96];                                                     \
            snprintf(rt_d_, sizeof rt_d_, "%lld != %lld", rt_a_, rt_b_);        \
            rt_test_fail(__FILE__, __LINE__, #a " == " #b, rt_d_);              \
        }                                                                       \
    } while (0)

/* Compares n bytes; prints the first differing offset. */
#define CHECK_MEM(a, b, n)                                                      \
    do {                                                                        \
        const unsigned char *rt_x_ = (const unsigned char *)(a);                \
        const unsigned char *rt_y_ = (const unsigned char *)(b);                \
        size_t rt_i_, rt_n_ = (size_t)(n);                                      \
        for (rt_i_ = 0; rt_i_ < rt_n_ && rt_x_[rt_i_] == rt_y_[rt_i_]; rt_i_++) \
            ;                                                                   \
        if (rt_i_ < rt_n_) {                                                    \
            char rt_d_[96];                                                     \
            snprintf(rt_d_, sizeof rt_d_, "differ at byte %zu: 0x%02x != 0x%02x", \
                     rt_i_, rt_x_[rt_i_], rt_y_[rt_i_]);                        \
            rt_test_fail(__FILE__, __LINE__, #a " == " #b, rt_d_);              \
        }                                                                       \
    } while (0)

#define CHECK_STR(a, b)                                                         \
    do {                                                                        \
        const char *rt_s_ = (a), *rt_t_ = (b);                                  \
        if (!rt_s_ || !rt_t_ || strcmp(rt_s_, rt_t_) != 0) {                    \
            char rt_d_[256];                                                    \
            snprintf(rt_d_, sizeof rt_d_, "\"%.100s\" != \"%.100s\"",           \
                     rt_s_ ? rt_s_ : "(null)", rt_t_ ? rt_t_ : "(null)");       \
            rt_test_fail(__FILE__, __LINE__, #a " == " #b, rt_d_);              \
        }                                                                       \
    } while (0)

static int rt_test_main(void)
{
    int i, failed = 0;
    printf("1..%d\n", rt_test_count);
    for (i = 0; i < rt_test_count; i++) {
        rt_test_failed_now = 0;
        rt_test_cases[i].fn();
        failed += rt_test_failed_now;
        printf("%sok %d - %s\n", rt_test_failed_now ? "not " : "", i + 1, rt_test_cases[i].name);
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", rt_test_count - failed, failed);
    return failed ? 1 : 0;
}

#endif
