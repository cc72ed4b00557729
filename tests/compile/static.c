/* RT_STATIC: everything private to this one translation unit. */
#define RT_STATIC
#define RT_IMPLEMENTATION
#include "../../rt.h"

int main(void)
{
    return rt_str_eq(rt_str_c("a"), rt_str_c("a")) ? 0 : 1;
}
