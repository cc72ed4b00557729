/* list.c - the shared intrusive list (see list.h). */
#include "list.h"

/* An all-zero head is an empty list; the first insert links it to itself. */
static void rt__list_ready(rt_list *head)
{
    if (!head->next)
        head->next = head->prev = head;
}

int rt_list_linked(const rt_list *n)
{
    return n->next != NULL && n->next != n;
}

void rt_list_push_back(rt_list *head, rt_list *n)
{
    rt__list_ready(head);
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

void rt_list_push_front(rt_list *head, rt_list *n)
{
    rt__list_ready(head);
    n->next = head->next;
    n->prev = head;
    head->next->prev = n;
    head->next = n;
}

void rt_list_unlink(rt_list *n)
{
    if (!n->next)
        return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

rt_list *rt_list_first(const rt_list *head)
{
    return rt_list_linked(head) ? head->next : NULL;
}

rt_list *rt_list_next(const rt_list *head, const rt_list *n)
{
    return n->next == head ? NULL : n->next;
}

rt_list *rt_list_last(const rt_list *head)
{
    return rt_list_linked(head) ? head->prev : NULL;
}
