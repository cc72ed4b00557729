/* list.h - the intrusive doubly linked list every module shares.
 *
 * A struct that can be on a list embeds an rt_list link; the list itself is
 * an rt_list head. The list is circular through its head, so unlinking needs
 * neither the head nor a test for "first" or "last", which is where the five
 * hand-written unlinks this replaces each had their own branch. An all-zero
 * head is an empty list (it links itself on first use), so the structs that
 * hold one stay zero-initialisable; an all-zero link is "on no list".
 *
 * A head must not move while anything is on its list (the first and last
 * links point at it). Nothing here allocates.
 *
 *     struct job { int id; rt_list link; };
 *     rt_list jobs = {0, 0};
 *     rt_list_push_back(&jobs, &j->link);
 *     for (rt_list *n = rt_list_first(&jobs); n; n = rt_list_next(&jobs, n))
 *         use(RT_LIST_ENTRY(n, struct job, link)->id);
 */
#ifndef RT_LIST_H
#define RT_LIST_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_list {
    struct rt_list *prev, *next;
} rt_list;

/* The struct of type T whose member M is the link n. */
#define RT_LIST_ENTRY(n, T, M) ((T *)(void *)((char *)(n) - offsetof(T, M)))

/* 1 when n is on a list (heads: when the list has an entry). */
RT_API int rt_list_linked(const rt_list *n);
/* Links n after the last entry of head (n must be on no list). */
RT_API void rt_list_push_back(rt_list *head, rt_list *n);
/* Links n before the first entry of head (n must be on no list). */
RT_API void rt_list_push_front(rt_list *head, rt_list *n);
/* Takes n off its list and leaves it all-zero; a link on no list is fine. */
RT_API void rt_list_unlink(rt_list *n);
/* The first entry, or NULL when the list is empty. */
RT_API rt_list *rt_list_first(const rt_list *head);
/* The entry after n, or NULL at the end. Taking n off the list invalidates
 * this: read the next entry first when the loop unlinks. */
RT_API rt_list *rt_list_next(const rt_list *head, const rt_list *n);
/* The last entry, or NULL when the list is empty. */
RT_API rt_list *rt_list_last(const rt_list *head);

#ifdef __cplusplus
}
#endif

#endif /* RT_LIST_H */
