#ifndef CELERIAC_CNGHTTP2_SHIM_H
#define CELERIAC_CNGHTTP2_SHIM_H
// nghttp2 as a codec only: the HTTP2 module feeds it bytes and takes bytes back (mem_recv / mem_send).
#include <nghttp2/nghttp2.h>
#endif
