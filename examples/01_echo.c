/* 01_echo.c - a WebSocket echo server: the smallest complete rt.h program.
 *
 * What it teaches: the loop + server setup, the on_message callback, serving
 * a page from on_http, and a graceful shutdown on Ctrl-C.
 *
 * Build and run:   make build/echo && ./build/echo --port 8080
 * Try it:          open http://127.0.0.1:8080/ in a browser, or
 *                  websocat ws://127.0.0.1:8080/   (type a line, get it back)
 *
 * Every text and binary message is sent back unchanged, on any path, which
 * makes this the target for conformance suites and the benchmarks. Options
 * (all optional) set the server's limits, so tests can make them small:
 *   --host ADDR (default 127.0.0.1; 0.0.0.0 or :: to serve the network)
 *   --port N  --max-conns N  --max-pending BYTES  --grace-ms MS
 *   --ping-ms MS  --idle-ms MS  --request-ms MS  --broadcast
 * With --broadcast a message goes to every connection instead (fan-out).
 */
#define RT_IMPLEMENTATION
#include "../rt.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char page[] =
    "<!doctype html><meta charset=utf-8><title>rt.h echo</title>\n"
    "<input id=t placeholder='say something' autofocus><pre id=log></pre>\n"
    "<script>\n"
    "const ws = new WebSocket(`ws://${location.host}/`);\n"
    "const log = s => document.getElementById('log').textContent += s + '\\n';\n"
    "ws.onopen = () => log('connected');\n"
    "ws.onmessage = e => log('echo: ' + e.data);\n"
    "ws.onclose = e => log('closed ' + e.code);\n"
    "t.onkeydown = e => { if (e.key === 'Enter') { ws.send(t.value); t.value = ''; } };\n"
    "</script>\n";

static int broadcast;

/* 1. Messages: whatever arrives goes straight back, same opcode (or, with
 *    --broadcast, to everyone: framed once, shared by every queue). */
static void on_message(rt_conn *c, int opcode, rt_str data, void *user)
{
    (void)user;
    if (broadcast)
        rt_server_broadcast(rt_conn_server(c), opcode, data.p, data.n, NULL);
    else
        rt_conn_send(c, opcode, data.p, data.n);
}

/* 2. Plain HTTP: the page on /, 404 elsewhere (the server writes it). */
static int on_http(rt_conn *c, const rt_http_request *req, rt_str body, void *user)
{
    (void)body;
    (void)user;
    if (!rt_str_eq(req->path, rt_str_c("/")))
        return 404;
    rt_conn_reply(c, 200, "text/html; charset=utf-8", page, sizeof page - 1, NULL);
    return 0;
}

/* 3. Ctrl-C: a signal handler may only do async-signal-safe things, and
 *    rt_loop_post is one (a single write() to the loop's pipe). The posted
 *    call then runs on the loop thread and starts a graceful shutdown. */
static rt_loop loop;
static rt_server server;

static void begin_shutdown(rt_loop *l, void *arg)
{
    (void)l;
    (void)arg;
    rt_server_shutdown(&server, 2000); /* 1001 to everyone, 2 s to flush */
}

static void on_signal(int sig)
{
    (void)sig;
    rt_loop_post(&loop, begin_shutdown, NULL);
}

/* 4. Command-line options map onto the server config (0 keeps a default). */
static void parse_args(int argc, char **argv, rt_server_config *cfg)
{
    int i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        unsigned long v = i + 1 < argc ? strtoul(argv[i + 1], NULL, 10) : 0;
        if (strcmp(a, "--broadcast") == 0) { broadcast = 1; continue; }
        if (strcmp(a, "--host") == 0 && i + 1 < argc) cfg->host = argv[i + 1];
        else if (strcmp(a, "--port") == 0) cfg->port = (int)v;
        else if (strcmp(a, "--max-conns") == 0) cfg->max_conns = v;
        else if (strcmp(a, "--max-pending") == 0) cfg->max_pending = v;
        else if (strcmp(a, "--grace-ms") == 0) cfg->pending_grace_ms = (uint32_t)v;
        else if (strcmp(a, "--ping-ms") == 0) cfg->ping_interval_ms = (uint32_t)v;
        else if (strcmp(a, "--idle-ms") == 0) cfg->idle_timeout_ms = (uint32_t)v;
        else if (strcmp(a, "--request-ms") == 0) cfg->request_timeout_ms = (uint32_t)v;
        else { fprintf(stderr, "echo: unknown option %s\n", a); exit(2); }
        i++;
    }
}

int main(int argc, char **argv)
{
    rt_server_config cfg;

    /* 5. A loop, then a server on it: both are plain structs we own. */
    if (rt_loop_init(&loop, NULL) != RT_OK)
        return 1;
    rt_server_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 8080;
    parse_args(argc, argv, &cfg);
    cfg.cb.on_message = on_message;
    cfg.cb.on_http = on_http;
    if (rt_server_init(&server, &loop, &cfg) != RT_OK) {
        fprintf(stderr, "echo: cannot listen on port %d\n", cfg.port);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("echo: listening on http://127.0.0.1:%d/\n", rt_server_port(&server));
    fflush(stdout);

    /* 6. Run until a shutdown has finished. */
    while (!rt_server_done(&server)) {
        if (rt_loop_step(&loop, 1000) < 0)
            break;
    }
    rt_server_deinit(&server);
    rt_loop_deinit(&loop);
    return 0;
}
