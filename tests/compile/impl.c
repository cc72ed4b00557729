/* The one translation unit that holds the implementation. */
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../../rt.h" /* a second inclusion must be harmless */
