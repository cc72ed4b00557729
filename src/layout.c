/* layout.c - the symbol every file's layout check refers to (layout.h). */
#include "layout.h"

#ifdef RT__LAYOUT_SYM
const char RT__LAYOUT_SYM = 1;
const char RT__LAYOUT_SYM_LP = 1;
#endif
