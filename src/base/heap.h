/* heap.h - the binary min-heap every module shares (timers, deadlines).
 *
 * The heap holds pointers to the caller's structs, least key first. Each
 * struct keeps its own key (a uint64_t, compared with <) and its own place
 * in the heap (a size_t), at offsets given once to rt_heap_init: any struct
 * with two such fields fits as it is, the loop's public rt_timer included,
 * and a comparison costs the same one load through the element pointer as
 * a heap written for one type. Knowing its place lets an element be
 * removed, or its key changed, in O(log n) without a search.
 *
 * The place field is 0 while the element is in no heap and its position
 * plus one while it is in one, so a zeroed struct is "not in a heap". Only
 * the pointer array is allocated, by rt_heap_reserve; rt_heap_insert then
 * cannot fail, so a caller can reserve early and arm timers in paths that
 * must not fail. Equal keys come out in no set order.
 *
 *     struct job { uint64_t due; size_t at; };
 *     rt_heap_init(&h, offsetof(struct job, due), offsetof(struct job, at));
 *     if (rt_heap_reserve(&h, a, h.n + 1) == RT_OK) rt_heap_insert(&h, &j);
 *     while ((next = (struct job *)rt_heap_min(&h)) && next->due <= now) ...
 */
#ifndef RT_HEAP_H
#define RT_HEAP_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_heap {
    void **_items;     /* the elements; the least key at [0] */
    size_t n;          /* read-only: elements in the heap */
    size_t _cap;       /* entries _items has room for */
    uint32_t _key_at;  /* offset of the uint64_t key in an element */
    uint32_t _slot_at; /* offset of the size_t place in an element */
} rt_heap;

/* An empty heap over elements that keep their key and place at these
 * offsets (offsetof). Allocates nothing. */
RT_API void rt_heap_init(rt_heap *h, size_t key_offset, size_t slot_offset);
/* Frees the pointer array; the elements are the caller's. Leaves h empty. */
RT_API void rt_heap_deinit(rt_heap *h, const rt_allocator *a);

/* Makes room for n elements, doubling from 8. RT_OK or RT_E_NOMEM (h
 * unchanged). */
RT_API rt_result rt_heap_reserve(rt_heap *h, const rt_allocator *a, size_t n);
/* Gives memory back when n elements (what must stay reserved, at least
 * h->n) fill a quarter of the room or less: halves, in one step, down to
 * the room that fits n, never below 16. A failed allocation keeps it. */
RT_API void rt_heap_shrink(rt_heap *h, const rt_allocator *a, size_t n);

/* Adds e (in no heap) by its current key. Needs room (rt_heap_reserve);
 * never allocates. */
RT_API void rt_heap_insert(rt_heap *h, void *e);
/* Takes e out of h; an element in no heap is left alone. */
RT_API void rt_heap_remove(rt_heap *h, void *e);
/* Puts e (in h) back in order after its key changed, up or down. */
RT_API void rt_heap_update(rt_heap *h, void *e);
/* The element with the least key, or NULL when h is empty. Borrowed. */
RT_API void *rt_heap_min(const rt_heap *h);

#ifdef __cplusplus
}
#endif

#endif /* RT_HEAP_H */
