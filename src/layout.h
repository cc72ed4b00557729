/* layout.h - a link-time check that every file sees the same structs.
 *
 * A few limit macros size arrays inside public structs (RT_HTTP_MAX_HEADERS
 * sizes rt_http_request's header table). If one file of a program defined
 * such a macro differently from the file that holds the implementation, the
 * two would disagree about a struct's size and write past each other's
 * memory, silently. Instead, every file that includes rt.h refers to a
 * symbol whose name spells those values, and only the implementation defines
 * it: a mismatch fails at link time with "undefined reference to
 * rt_layout_...", naming the value the odd file used. The macros named here
 * must therefore be plain decimal numbers (no parentheses or suffixes).
 * RT_NO_LONGPOLL takes the hold timer out of rt_server, so it is checked
 * the same way (rt_layout_no_longpoll_0 or _1).
 *
 * It costs two bytes and two pointers per file. RT_STATIC (one file) needs no
 * check; compilers without the GNU "used" attribute go without it.
 */
#ifndef RT_LAYOUT_H
#define RT_LAYOUT_H

#include "codec/http.h"

#if !defined(RT_STATIC) && (defined(__GNUC__) || defined(__clang__))
#  define RT__LAYOUT_CAT2(a, b) a##b
#  define RT__LAYOUT_CAT(a, b) RT__LAYOUT_CAT2(a, b)
#  define RT__LAYOUT_SYM RT__LAYOUT_CAT(rt_layout_http_headers_, RT_HTTP_MAX_HEADERS)
#  ifdef RT_NO_LONGPOLL
#    define RT__LAYOUT_SYM_LP rt_layout_no_longpoll_1
#  else
#    define RT__LAYOUT_SYM_LP rt_layout_no_longpoll_0
#  endif
#  ifdef __cplusplus
extern "C" {
#  endif
extern const char RT__LAYOUT_SYM;
extern const char RT__LAYOUT_SYM_LP;
static const char *const rt__layout_ref __attribute__((used)) = &RT__LAYOUT_SYM;
static const char *const rt__layout_ref_lp __attribute__((used)) = &RT__LAYOUT_SYM_LP;
#  ifdef __cplusplus
}
#  endif
#endif

#endif /* RT_LAYOUT_H */
