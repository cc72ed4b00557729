// proto_lib.mjs - helpers for the wire-protocol tests (proto.test.mjs) on top
// of lib.mjs: a JSON-protocol client over the npm `ws` package, the same
// over a raw socket (for a client that stops answering pings), an SSE + POST
// session over the npm `eventsource` package, and one-shot HTTP requests on
// raw sockets (so that headers such as Origin go out exactly as written).
//
// Everything talks to 127.0.0.1 only and every wait is bounded.
import { EventSource } from 'eventsource';
import * as L from './lib.mjs';

const { WebSocket } = L;

// The query string of a /ws or /rt/sse URL: token first, then the rest.
function queryOf(params) {
    const q = Object.entries(params).filter(([, v]) => v !== undefined && v !== null)
        .map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
    return q ? `?${q}` : '';
}

// ---- Messages kept in arrival order, taken by predicate ----------------------

// Server messages in arrival order. take() hands out the first message not
// yet taken that matches a predicate, waiting for it, so a test can pick its
// replies out of a stream that also carries room traffic.
class Inbox {
    constructor() {
        this.all = [];        // every parsed message, pings included
        this.taken = new Set();
        this.pings = [];      // arrival times (Date.now()) of {"type":"ping"}
        this.waiters = new Set();
        this.ended = false;
    }

    push(m) {
        this.all.push(m);
        if (m && m.type === 'ping') {
            this.pings.push(Date.now());
            this.taken.add(this.all.length - 1); // heartbeats are not replies
        }
        this.notify();
    }

    end() {
        this.ended = true;
        this.notify();
    }

    notify() {
        for (const w of [...this.waiters])
            w();
    }

    // Messages not taken yet (pings excluded).
    pending() {
        return this.all.filter((_, i) => !this.taken.has(i));
    }

    find(pred) {
        for (let i = 0; i < this.all.length; i++) {
            if (!this.taken.has(i) && pred(this.all[i]))
                return i;
        }
        return -1;
    }

    // The first untaken message matching pred (an object is matched field by
    // field), waiting at most ms.
    take(pred, ms = 5000, what = '') {
        const fn = typeof pred === 'function' ? pred : matcher(pred);
        const label = what || JSON.stringify(pred);
        let check;
        const p = new Promise((resolve, reject) => {
            check = () => {
                const i = this.find(fn);
                if (i >= 0) {
                    this.taken.add(i);
                    resolve(this.all[i]);
                } else if (this.ended) {
                    reject(new Error(`connection ended while waiting for ${label}; ` +
                        `pending: ${JSON.stringify(this.pending())}`));
                }
            };
            this.waiters.add(check);
            check();
        });
        let timer;
        const late = new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${label}; ` +
                `pending: ${JSON.stringify(this.pending())}`)), ms);
        });
        return Promise.race([p, late]).finally(() => {
            clearTimeout(timer);
            this.waiters.delete(check);
        });
    }

    // Untaken messages matching pred that arrived within ms (they are taken).
    async quiet(pred, ms) {
        await L.sleep(ms);
        const fn = typeof pred === 'function' ? pred : matcher(pred);
        const out = [];
        for (let i = 0; i < this.all.length; i++) {
            if (!this.taken.has(i) && fn(this.all[i])) {
                this.taken.add(i);
                out.push(this.all[i]);
            }
        }
        return out;
    }
}

// A predicate that checks the given fields with deep-enough equality.
export function matcher(fields) {
    return (m) => m !== null && typeof m === 'object' &&
        Object.entries(fields).every(([k, v]) => JSON.stringify(m[k]) === JSON.stringify(v));
}

// ---- A JSON-protocol client over the npm ws package --------------------------------

let nextId = 1;

export class Client {
    // Opens ws://127.0.0.1:port/ws with opts.token (as ?token=, unless it is
    // undefined), opts.query (more parameters), opts.headers and opts.origin.
    // Resolves once open; rejects with {status, headers} on an HTTP answer.
    static open(port, opts = {}) {
        const url = `ws://${L.HOST}:${port}${opts.path || '/ws'}` +
            queryOf({ token: opts.token, ...(opts.query || {}) });
        const wsOpts = { headers: opts.headers || {}, handshakeTimeout: 5000 };
        if (opts.origin)
            wsOpts.origin = opts.origin;
        const ws = new WebSocket(url, wsOpts);
        const c = new Client(ws);
        return L.withTimeout(new Promise((resolve, reject) => {
            ws.once('open', () => resolve(c));
            ws.once('unexpected-response', (req, res) => {
                req.destroy();
                reject(Object.assign(new Error(`unexpected response ${res.statusCode}`),
                                     { status: res.statusCode, headers: res.headers }));
            });
            ws.once('close', (code) => reject(new Error(`closed (${code}) before open`)));
        }), 6000, 'ws open');
    }

    // Opens a client and waits for its unasked "connected".
    static async connect(port, token, opts = {}) {
        const c = await Client.open(port, { ...opts, token });
        c.hello = await c.take({ type: 'connected' });
        return c;
    }

    constructor(ws) {
        this.ws = ws;
        this.inbox = new Inbox();
        this.raw = [];   // frames that were not JSON (there should be none)
        ws.on('message', (data, isBinary) => {
            let m;
            try {
                m = JSON.parse(data.toString('utf8'));
            } catch {
                this.raw.push({ data, isBinary });
                return;
            }
            this.inbox.push(m);
        });
        this.closed = new Promise((resolve) => {
            ws.on('close', (code, reason) => {
                this.inbox.end();
                resolve({ code, reason: reason.toString() });
            });
        });
        ws.on('error', () => {}); // surfaced through 'close'
    }

    get open() {
        return this.ws.readyState === WebSocket.OPEN;
    }

    send(obj) {
        this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
    }

    take(pred, ms, what) {
        return this.inbox.take(pred, ms, what);
    }

    quiet(pred, ms) {
        return this.inbox.quiet(pred, ms);
    }

    // Sends obj with a fresh numeric id (unless it has one) and resolves
    // with the reply that echoes it.
    request(obj, ms = 5000) {
        const msg = 'id' in obj ? obj : { ...obj, id: nextId++ };
        this.send(msg);
        return this.take((m) => m.id === msg.id, ms, `the reply to ${JSON.stringify(msg)}`);
    }

    // join, checked: resolves with the joined reply.
    async join(room, extra = {}) {
        const r = await this.request({ type: 'join', room, ...extra });
        if (r.type !== 'joined')
            throw new Error(`join ${room}: ${JSON.stringify(r)}`);
        return r;
    }

    // publish, checked: resolves with the published reply.
    async publish(room, data) {
        const r = await this.request({ type: 'publish', room, data });
        if (r.type !== 'published')
            throw new Error(`publish ${room}: ${JSON.stringify(r)}`);
        return r;
    }

    // Resolves with the close event, failing after ms.
    closedWithin(ms = 5000) {
        return L.withTimeout(this.closed, ms, 'the server to close the WebSocket');
    }

    async close() {
        if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
            this.ws.close(1000);
        await L.withTimeout(this.closed, 5000, 'ws close').catch(() => this.ws.terminate());
    }
}

// Opens a WebSocket that must be refused: resolves with {status, headers}.
export async function refused(port, opts) {
    let c;
    try {
        c = await Client.open(port, opts);
    } catch (e) {
        if (e.status)
            return { status: e.status, headers: e.headers };
        throw e;
    }
    await c.close();
    throw new Error('the upgrade was accepted');
}

// ---- The protocol over a raw socket -------------------------------------------------

// A protocol client that does nothing on its own: it never answers a ping,
// so it plays a peer that vanished without closing (a pulled cable).
export async function rawProto(port, token) {
    const r = await L.Raw.connect(port);
    const key = L.newKey();
    r.write(`GET /ws?token=${encodeURIComponent(token)} HTTP/1.1\r\nHost: ${L.HOST}:${port}\r\n` +
        'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const res = await r.response();
    if (res.status !== 101 || res.headers['sec-websocket-accept'] !== L.acceptFor(key))
        throw new Error(`raw handshake answered ${res.status}`);
    r.sendJson = (obj) => r.write(L.frame(1, Buffer.from(JSON.stringify(obj))));
    return r;
}

// ---- HTTP on raw sockets ------------------------------------------------------------

// One request on its own connection: {status, headers, body (string), json}.
export async function http(port, method, path, body = null, headers = {}) {
    const r = await L.Raw.connect(port);
    try {
        const text = typeof body === 'string' ? body : JSON.stringify(body);
        const b = body === null ? null : Buffer.from(text);
        let head = `${method} ${path} HTTP/1.1\r\nHost: ${L.HOST}:${port}\r\n`;
        for (const [k, v] of Object.entries(headers))
            head += `${k}: ${v}\r\n`;
        if (b)
            head += `Content-Type: application/json\r\nContent-Length: ${b.length}\r\n`;
        r.write(b ? Buffer.concat([Buffer.from(`${head}\r\n`), b]) : `${head}\r\n`);
        const res = await r.response();
        let json = null;
        try {
            json = JSON.parse(res.body.toString('utf8'));
        } catch {
            json = null;
        }
        return { status: res.status, headers: res.headers, body: res.body.toString('utf8'), json };
    } finally {
        r.destroy();
    }
}

// A keep-alive connection for many requests in a row (await each).
export class KeepAlive {
    static async open(port) {
        return new KeepAlive(await L.Raw.connect(port), port);
    }

    constructor(raw, port) {
        this.raw = raw;
        this.port = port;
    }

    async post(path, body) {
        const b = Buffer.from(body);
        const head = `POST ${path} HTTP/1.1\r\nHost: ${L.HOST}:${this.port}\r\n` +
            `Content-Length: ${b.length}\r\n\r\n`;
        this.raw.write(Buffer.concat([Buffer.from(head), b]));
        return this.raw.response();
    }

    close() {
        this.raw.destroy();
    }
}

// Sends a request and returns the response head only (for streams that
// stay open): {status, headers, raw}; the caller destroys raw.
export async function streamHead(port, path, headers = {}) {
    const r = await L.Raw.connect(port);
    let req = `GET ${path} HTTP/1.1\r\nHost: ${L.HOST}:${port}\r\nAccept: text/event-stream\r\n`;
    for (const [k, v] of Object.entries(headers))
        req += `${k}: ${v}\r\n`;
    r.write(`${req}\r\n`);
    const head = await r.wait(() => {
        const end = r.buf.indexOf('\r\n\r\n');
        if (end >= 0)
            return r.buf.subarray(0, end).toString('latin1');
        if (r.ended || r.closed)
            throw new Error(`stream ended before a head: ${r.buf.toString('latin1')}`);
        return null;
    }, 5000, 'a response head');
    const lines = head.split('\r\n');
    const headers2 = {};
    for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        headers2[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(lines[0])?.[1] || 0);
    return { status, headers: headers2, raw: r };
}

// ---- SSE + POST transport -------------------------------------------------------------

// A protocol session over GET /rt/sse (read by the npm eventsource package)
// and POST /rt/send. Server messages land in an Inbox like a Client's.
export class SseSession {
    static async open(port, session, token) {
        const s = new SseSession(port, session, token);
        try {
            await L.withTimeout(s.opened, 5000, 'the SSE stream to open');
            s.hello = await s.take({ type: 'connected' });
        } catch (e) {
            s.close(); // or it would keep reconnecting
            throw e;
        }
        return s;
    }

    constructor(port, session, token) {
        this.port = port;
        this.session = session;
        this.token = token;
        this.inbox = new Inbox();
        this.withId = 0;  // events that carried an id field
        this.errors = 0;
        this.es = new EventSource(`http://${L.HOST}:${port}/rt/sse` +
            queryOf({ session, token }));
        this.opened = new Promise((resolve, reject) => {
            this.es.onopen = resolve;
            this.es.onerror = (e) => {
                this.errors++;
                reject(new Error(`SSE error: ${e.message || e.code || 'unknown'}`));
            };
        });
        this.es.onmessage = (e) => {
            if (e.lastEventId)
                this.withId++;
            this.inbox.push(JSON.parse(e.data));
        };
    }

    take(pred, ms, what) {
        return this.inbox.take(pred, ms, what);
    }

    quiet(pred, ms) {
        return this.inbox.quiet(pred, ms);
    }

    // POST /rt/send: the HTTP answer ({status, json}).
    post(obj) {
        // every POST carries the token again: a session id alone proves nothing
        return http(this.port, 'POST',
                    `/rt/send${queryOf({ session: this.session, token: this.token })}`, obj);
    }

    // POSTs obj with a fresh id; resolves with the reply from the stream.
    async request(obj, ms = 5000) {
        const msg = 'id' in obj ? obj : { ...obj, id: nextId++ };
        const res = await this.post(msg);
        if (res.status !== 202)
            throw new Error(`POST /rt/send answered ${res.status}: ${res.body}`);
        return this.take((m) => m.id === msg.id, ms, `the reply to ${JSON.stringify(msg)}`);
    }

    close() {
        this.es.close();
    }
}
