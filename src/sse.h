/* sse.h - Server-Sent Events formatter (WHATWG HTML "server-sent events"). */
