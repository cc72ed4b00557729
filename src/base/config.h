/* config.h - implementation-side defaults: allocator and assert hooks.
 *
 * Define these before including rt.h with RT_IMPLEMENTATION to override
 * them. The allocator macros come as a set: define all three or none.
 */
#include <stdlib.h>
#include <string.h>

#if defined(RT_MALLOC) && defined(RT_REALLOC) && defined(RT_FREE)
/* the user supplied all three */
#elif !defined(RT_MALLOC) && !defined(RT_REALLOC) && !defined(RT_FREE)
#  define RT_MALLOC(n) malloc(n)
#  define RT_REALLOC(p, n) realloc(p, n)
#  define RT_FREE(p) free(p)
#else
#  error "rt.h: define all of RT_MALLOC, RT_REALLOC and RT_FREE, or none of them"
#endif

/* RT_ASSERT catches caller bugs only; bad input from the network is never
 * asserted on, it gets an error value. */
#ifndef RT_ASSERT
#  include <assert.h>
#  define RT_ASSERT(c) assert(c)
#endif
