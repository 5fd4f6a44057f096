#ifndef CELERIAC_CSOCKETS_SHIM_H
#define CELERIAC_CSOCKETS_SHIM_H
// Glibc's Swift overlay exposes no epoll_* and no accept4. Do not define _GNU_SOURCE here:
// fd_set then clashes with other modules and accept4's address becomes a transparent union.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <poll.h>
#include <pthread.h>
extern int pthread_setname_np(pthread_t thread, const char *name);
extern int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);
#endif
