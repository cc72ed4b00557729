/* The server tests again, on the epoll backend (Linux). */
#define RT_BACKEND_EPOLL
#include "test_server.c"
