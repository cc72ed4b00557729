/* heap.c - the shared binary min-heap (see heap.h).
 *
 * Array layout: the children of [i] are [2i+1] and [2i+2]. An element that
 * moves is written once, at its final place, with its place field: the
 * sifts carry it in a local and shift the others over it.
 */
#include "heap.h"

#define RT__HEAP_MIN_CAP 8u

static uint64_t rt__heap_key(const rt_heap *h, const void *e)
{
    return *(const uint64_t *)(const void *)((const char *)e + h->_key_at);
}

static size_t *rt__heap_slot(const rt_heap *h, void *e)
{
    return (size_t *)(void *)((char *)e + h->_slot_at);
}

static void rt__heap_put(rt_heap *h, size_t i, void *e)
{
    h->_items[i] = e;
    *rt__heap_slot(h, e) = i + 1;
}

/* Moves the element at i towards the root while its parent's key is greater. */
static void rt__heap_up(rt_heap *h, size_t i)
{
    void *e = h->_items[i];
    uint64_t k = rt__heap_key(h, e);
    while (i > 0 && rt__heap_key(h, h->_items[(i - 1) / 2]) > k) {
        rt__heap_put(h, i, h->_items[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    rt__heap_put(h, i, e);
}

/* Moves the element at i towards the leaves while a child's key is less. */
static void rt__heap_down(rt_heap *h, size_t i)
{
    void *e = h->_items[i];
    uint64_t k = rt__heap_key(h, e);
    size_t c;
    while ((c = 2 * i + 1) < h->n) {
        if (c + 1 < h->n && rt__heap_key(h, h->_items[c + 1]) < rt__heap_key(h, h->_items[c]))
            c++;
        if (k <= rt__heap_key(h, h->_items[c]))
            break;
        rt__heap_put(h, i, h->_items[c]);
        i = c;
    }
    rt__heap_put(h, i, e);
}

/* Restores order around i, whose key changed in either direction. */
static void rt__heap_fix(rt_heap *h, size_t i)
{
    if (i > 0 && rt__heap_key(h, h->_items[i]) < rt__heap_key(h, h->_items[(i - 1) / 2]))
        rt__heap_up(h, i);
    else
        rt__heap_down(h, i);
}

void rt_heap_init(rt_heap *h, size_t key_offset, size_t slot_offset)
{
    RT_ASSERT(key_offset <= UINT32_MAX && slot_offset <= UINT32_MAX);
    h->_items = NULL;
    h->n = h->_cap = 0;
    h->_key_at = (uint32_t)key_offset;
    h->_slot_at = (uint32_t)slot_offset;
}

void rt_heap_deinit(rt_heap *h, const rt_allocator *a)
{
    rt_free(a, h->_items, h->_cap * sizeof *h->_items);
    h->_items = NULL;
    h->n = h->_cap = 0;
}

/* Reallocates the array to cap entries (cap >= h->n). */
static rt_result rt__heap_resize(rt_heap *h, const rt_allocator *a, size_t cap)
{
    size_t sz = sizeof *h->_items;
    void *p;
    if (cap > SIZE_MAX / sz)
        return RT_E_NOMEM;
    p = h->_items ? rt_realloc(a, h->_items, h->_cap * sz, cap * sz) : rt_alloc(a, cap * sz);
    if (!p)
        return RT_E_NOMEM;
    h->_items = (void **)p;
    h->_cap = cap;
    return RT_OK;
}

rt_result rt_heap_reserve(rt_heap *h, const rt_allocator *a, size_t n)
{
    size_t cap = h->_cap > 0 ? h->_cap : RT__HEAP_MIN_CAP;
    if (n <= h->_cap)
        return RT_OK;
    while (cap < n) {
        if (cap > SIZE_MAX / 2)
            return RT_E_NOMEM;
        cap *= 2;
    }
    return rt__heap_resize(h, a, cap);
}

void rt_heap_shrink(rt_heap *h, const rt_allocator *a, size_t n)
{
    size_t cap = h->_cap;
    if (n < h->n)
        n = h->n;
    while (cap > 2 * RT__HEAP_MIN_CAP && n <= cap / 4)
        cap /= 2;
    if (cap < h->_cap)
        rt__heap_resize(h, a, cap); /* on failure the bigger array stays */
}

void rt_heap_insert(rt_heap *h, void *e)
{
    RT_ASSERT(h->n < h->_cap && *rt__heap_slot(h, e) == 0);
    h->_items[h->n] = e;
    rt__heap_up(h, h->n++);
}

void rt_heap_remove(rt_heap *h, void *e)
{
    size_t *slot = rt__heap_slot(h, e), i = *slot;
    void *last;
    if (i == 0)
        return;
    *slot = 0;
    last = h->_items[--h->n];
    if (last != e) {
        h->_items[i - 1] = last;
        rt__heap_fix(h, i - 1);
    }
}

void rt_heap_update(rt_heap *h, void *e)
{
    RT_ASSERT(*rt__heap_slot(h, e) != 0);
    rt__heap_fix(h, *rt__heap_slot(h, e) - 1);
}

void *rt_heap_min(const rt_heap *h)
{
    return h->n > 0 ? h->_items[0] : NULL;
}
