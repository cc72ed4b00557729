/* A second translation unit that only uses the declarations. */
#include "../../rt.h"
#include <stdio.h>
#include <string.h>

int main(void)
{
    rt_str s = rt_str_c("Upgrade");
    rt_str t = rt_str_c("upgrade");
    if (!rt_str_ieq(s, t) || rt_str_eq(s, t)) {
        puts("rt_str comparison broken");
        return 1;
    }
    if (strncmp(rt_result_str(RT_E_PROTO), "RT_E_PROTO", 10) != 0) {
        puts("rt_result_str broken");
        return 1;
    }
    return 0;
}
