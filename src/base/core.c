/* core.c - result names, string views, allocator dispatch. */
#include "core.h"
#include "config.h"

const char *rt_result_str(rt_result r)
{
    switch (r) {
    case RT_OK: return "RT_OK: success";
    case RT_AGAIN: return "RT_AGAIN: need more input or would block";
    case RT_E_PROTO: return "RT_E_PROTO: protocol error";
    case RT_E_LIMIT: return "RT_E_LIMIT: limit exceeded";
    case RT_E_NOMEM: return "RT_E_NOMEM: out of memory";
    case RT_E_IO: return "RT_E_IO: I/O error";
    case RT_E_CLOSED: return "RT_E_CLOSED: closed";
    case RT_E_INVAL: return "RT_E_INVAL: invalid argument";
    case RT_E_UTF8: return "RT_E_UTF8: invalid UTF-8";
    case RT_E_NOSPACE: return "RT_E_NOSPACE: output buffer too small";
    case RT_E_NOTFOUND: return "RT_E_NOTFOUND: not found";
    default: return r > 0 ? "success (count)" : "unknown error";
    }
}

rt_str rt_str_c(const char *s)
{
    rt_str v;
    v.p = s ? s : "";
    v.n = s ? strlen(s) : 0;
    return v;
}

int rt_str_eq(rt_str a, rt_str b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static unsigned char rt__lower(unsigned char c)
{
    return (unsigned char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

int rt_str_ieq(rt_str a, rt_str b)
{
    size_t i;
    if (a.n != b.n)
        return 0;
    for (i = 0; i < a.n; i++) {
        if (rt__lower((unsigned char)a.p[i]) != rt__lower((unsigned char)b.p[i]))
            return 0;
    }
    return 1;
}

int rt_str_is_name(rt_str s, size_t max)
{
    size_t i;
    if (s.n == 0 || s.n > max)
        return 0;
    for (i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '@' || c == '-'))
            return 0;
    }
    return 1;
}

uint32_t rt_fnv1a(uint32_t h, const void *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t i;
    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* The allocator hooks: a per-object rt_allocator wins, otherwise the
 * compile-time RT_MALLOC family (libc unless the user overrides it). */
void *rt_alloc(const rt_allocator *a, size_t n)
{
    if (a && a->alloc)
        return a->alloc(a->user, n);
    return RT_MALLOC(n);
}

void *rt_realloc(const rt_allocator *a, void *p, size_t old_n, size_t new_n)
{
    (void)old_n;
    if (a && a->realloc)
        return a->realloc(a->user, p, old_n, new_n);
    return RT_REALLOC(p, new_n);
}

void rt_free(const rt_allocator *a, void *p, size_t n)
{
    (void)n;
    if (!p)
        return;
    if (a && a->free)
        a->free(a->user, p, n);
    else
        RT_FREE(p);
}

void *rt_grow(const rt_allocator *a, void *p, size_t *cap, size_t need, size_t elem, size_t min)
{
    size_t n = *cap ? *cap : min;
    void *q;
    if (need <= *cap)
        return p;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return NULL;
        n *= 2;
    }
    if (n > SIZE_MAX / elem)
        return NULL;
    q = p ? rt_realloc(a, p, *cap * elem, n * elem) : rt_alloc(a, n * elem);
    if (!q)
        return NULL;
    *cap = n;
    return q;
}
