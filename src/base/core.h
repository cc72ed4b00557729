/* core.h - version, linkage, results, string views, allocator, limits.
 *
 * Everything else in rt.h stands on these few definitions. Only <stddef.h>
 * and <stdint.h> are included by the public part of rt.h; every platform
 * header is included by the implementation alone.
 */
#ifndef RT_CORE_H
#define RT_CORE_H

/* The implementation needs POSIX declarations (sockets, poll, clocks) even
 * under -std=c99, so it asks for them here. That works only when rt.h comes
 * before every system header of the implementation's file: the C library
 * reads the request once, at its first header. A file that includes a system
 * header first under a strict -std= gets a clear error below rather than
 * a page of missing declarations; the fix is to move the include of rt.h up,
 * or to compile with -D_POSIX_C_SOURCE=200809L. Files without
 * RT_IMPLEMENTATION need nothing and may include rt.h anywhere. */
#if defined(RT_IMPLEMENTATION) && !defined(RT_NO_IO) && !defined(_POSIX_C_SOURCE) \
    && !defined(_GNU_SOURCE) && !defined(_WIN32)
#  if defined(_FEATURES_H) || defined(__GLIBC__)
#    error "rt.h: the file with RT_IMPLEMENTATION must include rt.h before any system header (or define _POSIX_C_SOURCE=200809L)"
#  endif
#  define _POSIX_C_SOURCE 200809L
#endif

/* Feature switches that imply others: the protocol runs on the I/O layer and
 * announces presence. */
#if (defined(RT_NO_IO) || defined(RT_NO_PRESENCE)) && !defined(RT_NO_PROTO)
#  define RT_NO_PROTO
#endif

#include <stddef.h>
#include <stdint.h>

#define RT_VERSION_MAJOR 0
#define RT_VERSION_MINOR 1
#define RT_VERSION_PATCH 0
#define RT_VERSION_STRING "0.1.0"

/* RT_API marks every public function. RT_STATIC makes them all static so rt.h
 * can live privately inside one translation unit. */
#ifndef RT_API
#  if defined(RT_STATIC) && (defined(__GNUC__) || defined(__clang__))
#    define RT_API static __attribute__((unused)) /* unused ones are fine */
#  elif defined(RT_STATIC)
#    define RT_API static
#  else
#    define RT_API extern
#  endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Results ---------------------------------------------------------------
 * Every command returns an rt_result: RT_OK (0), a non-negative count where
 * the comment says so, or one of these negative codes. rt_result_str() names
 * them. errno is never part of the API. */
typedef int rt_result;

enum {
    RT_OK = 0,
    RT_AGAIN = -1,      /* need more input (parsers) or would block (I/O) */
    RT_E_PROTO = -2,    /* the peer broke the protocol */
    RT_E_LIMIT = -3,    /* a configured limit was reached */
    RT_E_NOMEM = -4,    /* an allocation failed */
    RT_E_IO = -5,       /* a socket or system call failed */
    RT_E_CLOSED = -6,   /* the connection or object is closed */
    RT_E_INVAL = -7,    /* the caller passed a bad argument */
    RT_E_UTF8 = -8,     /* text that is not valid UTF-8 */
    RT_E_NOSPACE = -9,  /* the caller's output buffer is too small */
    RT_E_NOTFOUND = -10 /* no such item */
};

/* The name of a result code, e.g. "RT_E_PROTO: protocol error". Static text. */
RT_API const char *rt_result_str(rt_result r);

/* ---- String views ----------------------------------------------------------
 * A view into bytes owned by someone else; never NUL-terminated by contract.
 * Each function that returns one says how long it stays valid. */
typedef struct rt_str {
    const char *p;
    size_t n;
} rt_str;

/* A view of a NUL-terminated string (NULL gives the empty view). */
RT_API rt_str rt_str_c(const char *s);
/* 1 when a and b hold the same bytes, 0 otherwise. */
RT_API int rt_str_eq(rt_str a, rt_str b);
/* 1 when a and b are equal ignoring ASCII case, 0 otherwise. */
RT_API int rt_str_ieq(rt_str a, rt_str b);
/* 1 when s is 1..max bytes of [A-Za-z0-9_.:@-], the alphabet of room names,
 * user ids and session ids (safe in URLs, JSON and log lines), else 0. */
RT_API int rt_str_is_name(rt_str s, size_t max);

/* ---- Hashing -----------------------------------------------------------------
 * FNV-1a (32-bit), continued from h: start from RT_FNV1A_BASIS, or from a
 * basis mixed with a seed. Not a keyed hash: a seed only stops collisions
 * computed in advance, so tables using it also bound their chains. */
#define RT_FNV1A_BASIS 2166136261u
RT_API uint32_t rt_fnv1a(uint32_t h, const void *data, size_t n);

/* ---- Allocator ---------------------------------------------------------------
 * rt.h allocates only growable buffers. By default it uses RT_MALLOC/RT_FREE
 * (libc); a config struct may carry an rt_allocator instead, which is passed
 * down to every allocation that object makes. A NULL allocator means libc. */
typedef struct rt_allocator {
    void *(*alloc)(void *user, size_t n);
    void *(*realloc)(void *user, void *p, size_t old_n, size_t new_n);
    void (*free)(void *user, void *p, size_t n);
    void *user;
} rt_allocator;

RT_API void *rt_alloc(const rt_allocator *a, size_t n);
RT_API void *rt_realloc(const rt_allocator *a, void *p, size_t old_n, size_t new_n);
RT_API void rt_free(const rt_allocator *a, void *p, size_t n);
/* Returns array p (of *cap elements of elem bytes) with room for need, its
 * capacity doubled from min (or from *cap) until it fits, and sets *cap: n
 * additions cost O(n). The new part is not zeroed. NULL on overflow or when
 * the allocator fails; p and *cap are then untouched. */
RT_API void *rt_grow(const rt_allocator *a, void *p, size_t *cap, size_t need, size_t elem,
                     size_t min);

#ifdef __cplusplus
}
#endif

#endif /* RT_CORE_H */
