// lib.mjs - shared helpers for the integration tests: spawn a server on a
// free port, talk to it with raw sockets or with the npm `ws` client, and
// bound every wait so that a broken server fails a test instead of hanging it.
//
// Everything here talks to 127.0.0.1 only.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

export { WebSocket };

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BUILD = path.resolve(ROOT, process.env.BUILD || 'build');
export const HOST = '127.0.0.1';

// The path of a built program, e.g. binary('echo') -> <repo>/build/echo.
export function binary(name) {
    return path.join(BUILD, name);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Rejects with "timeout: what" when promise has not settled after ms.
export function withTimeout(promise, ms, what) {
    let timer;
    const t = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
    });
    return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

// Polls fn() every `every` ms until it returns a truthy value (returned),
// or fails after ms.
export async function until(fn, ms, what, every = 20) {
    const end = Date.now() + ms;
    for (;;) {
        const v = await fn();
        if (v)
            return v;
        if (Date.now() > end)
            throw new Error(`timeout after ${ms} ms: ${what}`);
        await sleep(every);
    }
}

// ---- Servers ---------------------------------------------------------------

const running = new Set();

// Spawns `bin --port 0 args...` and waits for its "listening on
// http://127.0.0.1:PORT/" banner. opts.nofile lowers its descriptor limit
// (through the shell's ulimit, then exec: the pid stays the program's). The
// result has port, pid, proc, exited (a promise of {code, signal}), stderr()
// (everything the program wrote there so far) and stop() (SIGKILL if still
// running).
export async function startServer(bin, args = [], opts = {}) {
    if (!existsSync(bin))
        throw new Error(`${bin} is missing: build it with make first`);
    const argv = ['--port', '0', ...args];
    const proc = opts.nofile
        ? spawn('/bin/sh', ['-c', `ulimit -n ${opts.nofile} && exec "$0" "$@"`, bin, ...argv],
                { stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    const exited = new Promise((resolve) => {
        proc.on('exit', (code, signal) => resolve({ code, signal }));
    });
    const srv = {
        proc, pid: proc.pid, port: 0, exited,
        stderr: () => err,
        stop: async () => {
            if (proc.exitCode === null && proc.signalCode === null)
                proc.kill('SIGKILL');
            await withTimeout(exited, 5000, `${bin} to die`);
            running.delete(srv);
        },
    };
    running.add(srv);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => { err += d; });
    proc.stdout.setEncoding('utf8');
    const banner = new Promise((resolve, reject) => {
        proc.stdout.on('data', (d) => {
            out += d;
            const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
            if (m)
                resolve(Number(m[1]));
        });
        proc.on('error', reject);
        exited.then(({ code, signal }) =>
            reject(new Error(`${bin} exited (${code}, ${signal}) before its banner: ${err}`)));
    });
    try {
        srv.port = await withTimeout(banner, 10000, `${bin} banner`);
    } catch (e) {
        await srv.stop();
        throw e;
    }
    return srv;
}

// Kills every server still running (for after() hooks).
export async function stopAll() {
    await Promise.all([...running].map((s) => s.stop()));
}

// Resident memory of a process in KiB (Linux /proc): now (VmRSS), or the
// most it ever had (peakKiB: VmHWM).
export function rssKiB(pid, field = 'VmRSS') {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status);
    return m ? Number(m[1]) : NaN;
}

export function peakKiB(pid) {
    return rssKiB(pid, 'VmHWM');
}

// CPU time a process has used, user + system, in clock ticks (1/100 s).
export function cpuTicks(pid) {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]); // fields 14 and 15: utime, stime
}

// Open descriptors of a process (Linux /proc): listener, loop pipe, stdio
// and one per connection, so it shows when the server drops a connection.
export function fdCount(pid) {
    return readdirSync(`/proc/${pid}/fd`).length;
}

// ---- WebSocket wire helpers (RFC 6455) -----------------------------------

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// RFC 6455 4.2.2: base64(SHA-1(key + GUID)), computed independently of rt.h.
export function acceptFor(key) {
    return createHash('sha1').update(key + GUID).digest('base64');
}

export function newKey() {
    return randomBytes(16).toString('base64');
}

export function upgradeRequest(port, key, extra = '') {
    return `GET / HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
        `Sec-WebSocket-Version: 13\r\n${extra}\r\n`;
}

// One frame as a client sends it (RFC 6455 5.2). opts: fin (default true),
// rsv (the 3-bit RSV field: 4 is RSV1), mask (default true).
export function frame(opcode, payload = Buffer.alloc(0), opts = {}) {
    const { fin = true, rsv = 0, mask = true } = opts;
    const data = Buffer.from(payload);
    const n = data.length;
    let head;
    if (n < 126) {
        head = Buffer.alloc(2);
        head[1] = n;
    } else if (n < 65536) {
        head = Buffer.alloc(4);
        head[1] = 126;
        head.writeUInt16BE(n, 2);
    } else {
        head = Buffer.alloc(10);
        head[1] = 127;
        head.writeBigUInt64BE(BigInt(n), 2);
    }
    head[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
    if (!mask)
        return Buffer.concat([head, data]);
    head[1] |= 0x80;
    const key = randomBytes(4);
    for (let i = 0; i < n; i++)
        data[i] ^= key[i & 3];
    return Buffer.concat([head, key, data]);
}

export function closePayload(code, reason = '') {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(code);
    return Buffer.concat([b, Buffer.from(reason)]);
}

// Parses one frame at the start of buf: {frame, used} or null if incomplete.
export function parseFrame(buf) {
    if (buf.length < 2)
        return null;
    let n = buf[1] & 0x7f, off = 2;
    if (n === 126) {
        if (buf.length < 4)
            return null;
        n = buf.readUInt16BE(2);
        off = 4;
    } else if (n === 127) {
        if (buf.length < 10)
            return null;
        n = Number(buf.readBigUInt64BE(2));
        off = 10;
    }
    const masked = (buf[1] & 0x80) !== 0;
    if (masked)
        off += 4;
    if (buf.length < off + n)
        return null;
    const f = {
        fin: (buf[0] & 0x80) !== 0,
        rsv: (buf[0] >> 4) & 7,
        opcode: buf[0] & 0x0f,
        masked,
        payload: buf.subarray(off, off + n),
    };
    if (f.opcode === 8 && n >= 2)
        f.code = f.payload.readUInt16BE(0);
    return { frame: f, used: off + n };
}

// Parses an HTTP response at the start of buf (Content-Length bodies only;
// none at all for a HEAD request or a 101):
// {res: {status, headers, head, body}, used} or null if incomplete.
export function parseResponse(buf, noBody = false) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0)
        return null;
    const head = buf.subarray(0, end).toString('latin1');
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0]);
    if (!m)
        throw new Error(`bad status line: ${JSON.stringify(lines[0])}`);
    const headers = {};
    for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const len = noBody || m[1] === '101' ? 0 : Number(headers['content-length'] || 0);
    if (buf.length < end + 4 + len)
        return null;
    const body = buf.subarray(end + 4, end + 4 + len);
    return { res: { status: Number(m[1]), headers, head, body }, used: end + 4 + len };
}

// ---- Raw TCP client ------------------------------------------------------

// A TCP client that keeps what it receives in a buffer, so a test can wait
// for an HTTP response, a frame or the end of the stream, each with a timeout.
export class Raw {
    static connect(port) {
        return withTimeout(new Promise((resolve, reject) => {
            const s = net.connect({ host: HOST, port }, () => resolve(new Raw(s)));
            s.once('error', reject);
        }), 5000, 'TCP connect');
    }

    constructor(sock) {
        this.sock = sock;
        this.buf = Buffer.alloc(0);
        this.received = 0;   // bytes read in total
        this.ended = false;  // the peer sent FIN
        this.closed = false; // the socket is fully closed
        this.error = null;
        this.waiters = new Set();
        sock.setNoDelay(true);
        sock.on('data', (d) => {
            this.buf = Buffer.concat([this.buf, d]);
            this.received += d.length;
            this.notify();
        });
        sock.on('end', () => { this.ended = true; this.notify(); });
        sock.on('close', () => { this.closed = true; this.notify(); });
        sock.on('error', (e) => { this.error = e; this.notify(); });
    }

    notify() {
        for (const w of [...this.waiters])
            w();
    }

    // Resolves with pred()'s first truthy value, re-checked on every event.
    wait(pred, ms, what) {
        let check;
        const p = new Promise((resolve, reject) => {
            check = () => {
                try {
                    const v = pred();
                    if (v)
                        resolve(v);
                } catch (e) {
                    reject(e);
                }
            };
            this.waiters.add(check);
            check();
        });
        return withTimeout(p, ms, what).finally(() => this.waiters.delete(check));
    }

    write(data) {
        this.sock.write(data);
    }

    // The next HTTP response; fails if the stream ends first.
    response(ms = 5000, noBody = false) {
        return this.wait(() => {
            const r = parseResponse(this.buf, noBody);
            if (r) {
                this.buf = this.buf.subarray(r.used);
                return r.res;
            }
            if (this.ended || this.closed)
                throw new Error(`stream ended before a response: ${this.buf.toString('latin1')}`);
            return null;
        }, ms, 'HTTP response');
    }

    // The next WebSocket frame; fails if the stream ends first.
    frame(ms = 5000) {
        return this.wait(() => {
            const r = parseFrame(this.buf);
            if (r) {
                this.buf = this.buf.subarray(r.used);
                return r.frame;
            }
            if (this.ended || this.closed)
                throw new Error(`stream ended before a frame (${this.buf.length} bytes left)`);
            return null;
        }, ms, 'WebSocket frame');
    }

    // Resolves when the peer has closed its side (FIN, reset or close).
    gone(ms = 5000) {
        return this.wait(() => this.ended || this.closed || this.error, ms, 'connection close');
    }

    // Sends a WebSocket handshake and checks the 101 and its accept value.
    async handshake(port, key = newKey()) {
        this.write(upgradeRequest(port, key));
        const res = await this.response();
        if (res.status !== 101)
            throw new Error(`handshake answered ${res.status}`);
        if (res.headers['sec-websocket-accept'] !== acceptFor(key))
            throw new Error(`bad accept ${res.headers['sec-websocket-accept']} for ${key}`);
        return res;
    }

    destroy() {
        this.sock.destroy();
    }
}

// A raw client with a completed WebSocket handshake.
export async function rawWs(port) {
    const r = await Raw.connect(port);
    await r.handshake(port);
    return r;
}

// ---- The npm ws client ---------------------------------------------------

// Opens a ws client; resolves on 'open' with every message it receives kept
// in ws.inbox (as {data, isBinary}) and the close event in ws.closed (a
// promise of {code, reason}).
export function openWs(port, opts = {}) {
    const ws = new WebSocket(`ws://${HOST}:${port}/`, opts);
    ws.inbox = [];
    ws.on('message', (data, isBinary) => ws.inbox.push({ data, isBinary }));
    ws.closed = new Promise((resolve) => {
        ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    ws.on('error', () => {}); // surfaced through 'close' (1006) or the open promise
    return withTimeout(new Promise((resolve, reject) => {
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
        ws.once('unexpected-response', (req, res) => {
            req.destroy();
            reject(Object.assign(new Error(`unexpected response ${res.statusCode}`),
                                 { status: res.statusCode, headers: res.headers }));
        });
    }), 5000, 'ws open');
}

// Waits until ws.inbox has at least n messages; returns the inbox.
export function inbox(ws, n, ms = 5000) {
    return until(() => ws.inbox.length >= n && ws.inbox, ms,
                 `${n} messages (have ${ws.inbox.length})`, 5);
}
