// rooms_lib.mjs - helpers for the rooms tests (rooms.test.mjs) on top of
// lib.mjs: a keep-alive HTTP client over a raw socket, a raw SSE reader with
// its own event-stream parser (WHATWG HTML "Parsing an event stream"), a
// long-poll loop, and a TCP proxy whose connections a test can cut to play a
// network drop. Everything talks to 127.0.0.1 only and every wait is bounded.
import net from 'node:net';
import * as L from './lib.mjs';

// ---- Positions ("<epoch hex>-<offset decimal>", opaque to clients) ------------

// Splits a position for assertions; the server never asks clients to do this.
export function parsePos(p) {
    const m = /^([0-9a-f]+)-([0-9]+)$/.exec(p);
    if (!m)
        throw new Error(`not a position: ${JSON.stringify(p)}`);
    return { epoch: m[1], offset: Number(m[2]) };
}

export function makePos(epoch, offset) {
    return `${epoch}-${offset}`;
}

// A well-formed position of another epoch: the same offset, one epoch bit
// flipped (kept non-zero, lowercase, no leading zeros).
export function otherEpoch(p) {
    const { epoch, offset } = parsePos(p);
    let e = BigInt(`0x${epoch}`) ^ 1n;
    if (e === 0n)
        e = 2n;
    return makePos(e.toString(16), offset);
}

// ---- HTTP over one keep-alive connection ----------------------------------------

// Requests go one at a time (await each); responses must carry Content-Length.
export class Http {
    static async open(port) {
        return new Http(await L.Raw.connect(port), port);
    }

    constructor(raw, port) {
        this.raw = raw;
        this.port = port;
    }

    async request(method, path, body = null, headers = {}, ms = 5000) {
        const b = body === null ? null : Buffer.from(body);
        let head = `${method} ${path} HTTP/1.1\r\nHost: ${L.HOST}:${this.port}\r\n`;
        for (const [k, v] of Object.entries(headers))
            head += `${k}: ${v}\r\n`;
        if (b)
            head += `Content-Length: ${b.length}\r\n`;
        this.raw.write(b ? Buffer.concat([Buffer.from(`${head}\r\n`), b]) : `${head}\r\n`);
        return this.raw.response(ms);
    }

    // POST /publish: the message's position (fails on anything but 200).
    async publish(room, body) {
        const res = await this.request('POST', `/publish?room=${encodeURIComponent(room)}`, body);
        if (res.status !== 200)
            throw new Error(`publish answered ${res.status}: ${res.body}`);
        return JSON.parse(res.body.toString('utf8')).pos;
    }

    // GET /poll: {status, json} (json is null for a non-JSON answer).
    async poll(room, since, timeoutMs) {
        let q = `/poll?room=${encodeURIComponent(room)}`;
        if (since !== undefined && since !== null)
            q += `&since=${encodeURIComponent(since)}`;
        if (timeoutMs)
            q += `&timeout=${timeoutMs}`;
        const res = await this.request('GET', q, null, {}, (timeoutMs || 30000) + 5000);
        let json = null;
        try {
            json = JSON.parse(res.body.toString('utf8'));
        } catch {
            json = null;
        }
        return { status: res.status, headers: res.headers, json, body: res.body };
    }

    close() {
        this.raw.destroy();
    }
}

// One request on its own connection.
export async function request(port, method, path, body = null, headers = {}) {
    const h = await Http.open(port);
    try {
        return await h.request(method, path, body, headers);
    } finally {
        h.close();
    }
}

// ---- Server-Sent Events, read from a raw socket -----------------------------------

// An incremental event-stream parser that follows the WHATWG steps: lines
// end in CRLF, LF or CR; ":" starts a comment; one space after the colon is
// dropped; data lines join with LF; an empty line dispatches (nothing when
// the data buffer is empty); the id field updates the last event ID even for
// events that are not dispatched, and is ignored when it holds NUL.
export class SseParser {
    constructor() {
        this.pending = '';
        this.events = [];   // {type, data, id}
        this.comments = 0;
        this.lastId = '';
        this.type = '';
        this.data = '';
        this.seenData = false;
    }

    feed(text) {
        this.pending += text;
        for (;;) {
            const m = /\r\n|\n|\r/.exec(this.pending);
            // A CR at the very end may be the first half of a CRLF.
            if (!m || (m[0] === '\r' && m.index === this.pending.length - 1))
                return;
            const line = this.pending.slice(0, m.index);
            this.pending = this.pending.slice(m.index + m[0].length);
            this.line(line);
        }
    }

    line(l) {
        if (l === '') {
            this.dispatch();
            return;
        }
        if (l[0] === ':') {
            this.comments++;
            return;
        }
        const i = l.indexOf(':');
        const name = i < 0 ? l : l.slice(0, i);
        let value = i < 0 ? '' : l.slice(i + 1);
        if (value[0] === ' ')
            value = value.slice(1);
        if (name === 'event')
            this.type = value;
        else if (name === 'data') {
            this.data += `${value}\n`;
            this.seenData = true;
        } else if (name === 'id' && !value.includes('\0'))
            this.lastId = value;
    }

    dispatch() {
        if (this.seenData) {
            this.events.push({
                type: this.type || 'message',
                data: this.data.slice(0, -1),
                id: this.lastId,
            });
        }
        this.type = '';
        this.data = '';
        this.seenData = false;
    }
}

// An SSE request on a raw socket: the response head exactly as sent, then
// the body both as raw text (for byte assertions) and parsed into events.
export class RawSse {
    static async open(port, path, headers = {}) {
        const raw = await L.Raw.connect(port);
        let req = `GET ${path} HTTP/1.1\r\nHost: ${L.HOST}:${port}\r\nAccept: text/event-stream\r\n`;
        for (const [k, v] of Object.entries(headers))
            req += `${k}: ${v}\r\n`;
        raw.write(`${req}\r\n`);
        const s = new RawSse(raw);
        await s.headReady();
        return s;
    }

    constructor(raw) {
        this.raw = raw;
        this.head = null;       // the head's text, without the blank line
        this.status = 0;
        this.headers = {};
        this.body = Buffer.alloc(0);
        this.parser = new SseParser();
        this.decoder = new TextDecoder('utf-8');
        this.taken = 0;         // bytes of raw.buf already moved into body
    }

    headReady(ms = 5000) {
        return this.raw.wait(() => {
            const end = this.raw.buf.indexOf('\r\n\r\n');
            if (end < 0) {
                if (this.raw.ended || this.raw.closed)
                    throw new Error(`stream ended before the head: ${this.raw.buf.toString('latin1')}`);
                return null;
            }
            this.head = this.raw.buf.subarray(0, end).toString('latin1');
            const lines = this.head.split('\r\n');
            this.status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(lines[0])?.[1] || 0);
            for (const l of lines.slice(1)) {
                const i = l.indexOf(':');
                this.headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
            }
            this.raw.buf = this.raw.buf.subarray(end + 4);
            this.pump();
            this.raw.sock.on('data', () => this.pump());
            return true;
        }, ms, 'SSE response head');
    }

    // Moves newly received bytes from the raw buffer into body and parser.
    pump() {
        const chunk = this.raw.buf;
        if (chunk.length === 0)
            return;
        this.raw.buf = Buffer.alloc(0);
        this.body = Buffer.concat([this.body, chunk]);
        this.parser.feed(this.decoder.decode(chunk, { stream: true }));
    }

    get events() {
        return this.parser.events;
    }

    text() {
        return this.body.toString('utf8');
    }

    // Message events only (not rt.join).
    messages() {
        return this.events.filter((e) => e.type === 'message');
    }

    waitEvents(pred, ms = 5000, what = 'SSE events') {
        return this.raw.wait(() => {
            this.pump();
            const v = pred(this.events);
            if (!v && (this.raw.ended || this.raw.closed))
                throw new Error(`stream ended while waiting for ${what}`);
            return v;
        }, ms, what);
    }

    // Waits until the body holds at least n bytes.
    waitBytes(n, ms = 5000) {
        return this.raw.wait(() => {
            this.pump();
            if (this.body.length < n && (this.raw.ended || this.raw.closed))
                throw new Error(`stream ended at ${this.body.length} of ${n} bytes`);
            return this.body.length >= n;
        }, ms, `${n} SSE bytes (have ${this.body.length})`);
    }

    close() {
        this.raw.destroy();
    }
}

// ---- Long polling -------------------------------------------------------------------

// Polls room in a loop on one keep-alive connection, each time from the "pos"
// of the previous answer, until stop(state) is true or the deadline passes.
// Collects every message and every answer; a non-200 answer ends it.
export async function pollLoop(port, room, since, { stop, hold = 2000, deadlineMs = 20000 }) {
    const h = await Http.open(port);
    const state = { messages: [], replies: 0, notRecovered: [], errors: [], since };
    const end = Date.now() + deadlineMs;
    try {
        while (!stop(state) && Date.now() < end) {
            const r = await h.poll(room, state.since, hold);
            state.replies++;
            if (r.status !== 200 || !r.json) {
                state.errors.push(`${r.status} ${r.body}`);
                break;
            }
            if (r.json.recovered !== true)
                state.notRecovered.push(r.json);
            state.messages.push(...r.json.messages);
            state.since = r.json.pos;
        }
    } finally {
        h.close();
    }
    return state;
}

// ---- A TCP proxy that can drop its connections ---------------------------------

// Listens on a free port and forwards every connection to 127.0.0.1:target.
// proxy.requests[i] is what the i-th client sent first (its request head, as
// latin1); proxy.drop() destroys every open pair at once, both sides, the way
// a dead network path ends a connection.
export async function tcpProxy(target) {
    const pairs = new Set();
    const proxy = { port: 0, accepted: 0, requests: [] };
    const server = net.createServer((down) => {
        const idx = proxy.accepted++;
        proxy.requests[idx] = '';
        const up = net.connect({ host: L.HOST, port: target });
        const pair = { up, down };
        pairs.add(pair);
        const end = () => {
            up.destroy();
            down.destroy();
            pairs.delete(pair);
        };
        down.on('data', (d) => {
            if (!proxy.requests[idx].includes('\r\n\r\n'))
                proxy.requests[idx] += d.toString('latin1');
        });
        down.pipe(up);
        up.pipe(down);
        up.on('error', end);
        down.on('error', end);
        up.on('close', end);
        down.on('close', end);
    });
    await L.withTimeout(new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, L.HOST, resolve);
    }), 5000, 'proxy listen');
    proxy.port = server.address().port;
    proxy.drop = () => {
        for (const p of [...pairs]) {
            p.up.destroy();
            p.down.destroy();
            pairs.delete(p);
        }
    };
    proxy.open = () => pairs.size;
    proxy.close = () => {
        proxy.drop();
        return L.withTimeout(new Promise((resolve) => server.close(resolve)), 5000, 'proxy close');
    };
    return proxy;
}

// The value of a header in a raw request head ('' when absent).
export function headerOf(head, name) {
    const re = new RegExp(`^${name}:[ \\t]*(.*?)[ \\t]*$`, 'im');
    const m = re.exec(head.split('\r\n\r\n')[0]);
    return m ? m[1].replace(/\r$/, '') : '';
}
