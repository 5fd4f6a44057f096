#ifndef CELERIAC_CHIREDIS_SHIM_H
#define CELERIAC_CHIREDIS_SHIM_H
// hiredis 0.14 (Debian 12). Only the codec half is used: the argv formatter and the reply reader.
#include <hiredis/hiredis.h>
#endif
