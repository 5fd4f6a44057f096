#ifndef CELERIAC_CMALLOC_SHIM_H
#define CELERIAC_CMALLOC_SHIM_H
// Glibc's Swift overlay has no <malloc.h>: mallopt and its M_* parameters.
#include <malloc.h>
#endif
