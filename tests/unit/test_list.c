/* Unit tests for the shared intrusive list (src/base/list.h). */
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../rt_test.h"

struct item {
    int id;
    rt_list link;
};

/* The ids on the list, front to back, as a string ("123"), and the same
 * walked back to front must be its reverse. */
static const char *ids(const rt_list *head)
{
    static char fwd[32];
    char back[32];
    size_t n = 0, i;
    const rt_list *l;
    for (l = rt_list_first(head); l && n < 31; l = rt_list_next(head, l))
        fwd[n++] = (char)('0' + RT_LIST_ENTRY(l, struct item, link)->id);
    fwd[n] = '\0';
    i = n;
    back[n] = '\0';
    if (rt_list_linked(head))
        for (l = head->prev; l != head && i > 0; l = l->prev)
            back[--i] = (char)('0' + RT_LIST_ENTRY(l, struct item, link)->id);
    return i == 0 && strcmp(fwd, back) == 0 ? fwd : "links disagree";
}

RT_TEST(an_all_zero_head_is_an_empty_list)
{
    rt_list head;
    struct item a;
    memset(&head, 0, sizeof head);
    memset(&a, 0, sizeof a);
    CHECK(!rt_list_linked(&head));
    CHECK(rt_list_first(&head) == NULL);
    CHECK(rt_list_last(&head) == NULL);
    CHECK(!rt_list_linked(&a.link));
    rt_list_unlink(&a.link); /* on no list: nothing happens */
    CHECK(!rt_list_linked(&a.link));
    CHECK_STR(ids(&head), "");
}

RT_TEST(push_back_and_front_keep_order)
{
    rt_list head = {NULL, NULL};
    struct item it[4] = {{1, {NULL, NULL}}, {2, {NULL, NULL}}, {3, {NULL, NULL}},
                         {4, {NULL, NULL}}};
    rt_list_push_back(&head, &it[1].link);
    rt_list_push_back(&head, &it[2].link);
    rt_list_push_front(&head, &it[0].link);
    rt_list_push_back(&head, &it[3].link);
    CHECK_STR(ids(&head), "1234");
    CHECK(rt_list_first(&head) == &it[0].link);
    CHECK(rt_list_last(&head) == &it[3].link);
    CHECK(rt_list_linked(&it[2].link));
}

RT_TEST(unlink_anywhere_needs_no_head_and_zeroes_the_link)
{
    rt_list head = {NULL, NULL};
    struct item it[3] = {{1, {NULL, NULL}}, {2, {NULL, NULL}}, {3, {NULL, NULL}}};
    int i;
    for (i = 0; i < 3; i++)
        rt_list_push_back(&head, &it[i].link);
    rt_list_unlink(&it[1].link); /* middle */
    CHECK_STR(ids(&head), "13");
    CHECK(it[1].link.next == NULL && it[1].link.prev == NULL);
    rt_list_unlink(&it[0].link); /* first */
    CHECK_STR(ids(&head), "3");
    rt_list_unlink(&it[2].link); /* last, and the list is empty again */
    CHECK_STR(ids(&head), "");
    CHECK(!rt_list_linked(&head));
    CHECK(rt_list_first(&head) == NULL);
    rt_list_push_back(&head, &it[1].link); /* and usable again */
    CHECK_STR(ids(&head), "2");
}

RT_TEST(a_loop_may_unlink_what_it_visits)
{
    rt_list head = {NULL, NULL};
    struct item it[6];
    rt_list *l, *next;
    int i;
    memset(it, 0, sizeof it);
    for (i = 0; i < 6; i++) {
        it[i].id = i;
        rt_list_push_back(&head, &it[i].link);
    }
    for (l = rt_list_first(&head); l; l = next) {
        next = rt_list_next(&head, l);
        if (RT_LIST_ENTRY(l, struct item, link)->id % 2)
            rt_list_unlink(l);
    }
    CHECK_STR(ids(&head), "024");
}

int main(void)
{
    return rt_test_main();
}
