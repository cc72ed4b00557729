/* rt.js - the browser client for rt.h's JSON wire protocol (docs/PROTOCOL.md, v1).
 *
 * One file, no dependencies, no build step: load it with <script src="/rt.js">
 * and use the global RT.
 *
 *   const rt = RT.connect({ token: "alice" });      // ws(s)://this-host/ws, or SSE + POST
 *   rt.on("state", (s) => console.log(s));          // "connecting" | "open" | "closed"
 *   rt.on("message", (room, data, pos) => console.log(room, data));
 *   rt.on("presence", (room, event, user, info) => console.log(user, event, room));
 *   rt.on("typing", (room, user, on) => console.log(user, on ? "types" : "stopped"));
 *   rt.on("recovered", (room, ok) => ok || console.log("missed messages in", room));
 *   await rt.join("lobby", { info: { color: "teal" } });
 *   const pos = await rt.publish("lobby", "hello");  // queued while offline
 *   const users = await rt.presence("lobby");        // [{user, info, typing}]
 *   rt.typing("lobby", true);
 *   const h = await rt.history("lobby", { limit: 20 }); // {recovered, pos, messages}
 *   rt.close();
 *
 * RT.connect(url, options): url defaults to this page's origin. Options (all
 * optional) are the DEFAULTS below. What the client does for you: it falls
 * back from WebSocket to SSE + POST when a WebSocket cannot open; reconnects
 * with exponential backoff and full jitter; rejoins every room from the last
 * position it delivered and never delivers a position twice; answers pings
 * and drops a connection whose pings stop; queues requests while offline and
 * retries a rate-limited one after the server's retry_after.
 */
(function (global) {
    "use strict";

    const DEFAULTS = {
        token: "",          // for the server's auth callback (sent as ?token=)
        session: "",        // SSE session id (1-64 of [A-Za-z0-9_.:@-]); random if empty
        transport: "auto",  // "ws": WebSocket only; "sse": SSE + POST only;
                            // "auto": WebSocket, and SSE + POST when it cannot open
        base: 500,          // reconnect delay: random(0, min(cap, base * 2^attempt)) ms
        cap: 10000,
        stableAfter: 10000, // a connection up this long resets the attempt count
        openTimeout: 5000,  // an attempt not ready after this many ms is abandoned
        queueLimit: 100,    // requests held while offline; more are refused
        deadAfter: 2.5,     // silence of deadAfter x heartbeat means the link is dead
        maxRetries: 5,      // rate-limited retries of one request before giving up
    };

    // ---- Positions -------------------------------------------------------

    // Positions ("<epoch hex>-<offset decimal>") are opaque to applications;
    // the client looks inside only to recognise a replay of something it has
    // already delivered: same epoch, offset not above the last one seen. The
    // offsets are compared as decimal strings because they can pass 2^53.
    function parsePos(pos) {
        const i = pos.lastIndexOf("-");
        return { epoch: pos.slice(0, i), offset: pos.slice(i + 1).replace(/^0+(?=\d)/, "") };
    }

    function notAfter(pos, seen) {
        if (!seen)
            return false;
        const a = parsePos(pos), b = parsePos(seen);
        if (a.epoch !== b.epoch)
            return false; // another epoch: the server restarted, nothing to compare
        return a.offset.length < b.offset.length ||
            (a.offset.length === b.offset.length && a.offset <= b.offset);
    }

    function protocolError(code, message, extra) {
        return Object.assign(new Error(message || code), extra, { code });
    }

    function randomId() {
        const b = new Uint8Array(12);
        global.crypto.getRandomValues(b);
        return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    }

    function parseJson(text) {
        try {
            const m = JSON.parse(text);
            return m && typeof m === "object" ? m : null;
        } catch (e) {
            return null;
        }
    }

    // ---- Transports ------------------------------------------------------
    // Both report to the client through two callbacks: receive(msg) for each
    // server message (already parsed) and lost({opened, code}) once, when the
    // connection ends. send(msg) returns a promise that rejects if the
    // message certainly did not get through.

    function webSocketTransport(c, h) {
        const q = c.opts.token ? "?token=" + encodeURIComponent(c.opts.token) : "";
        let ws, opened = false;
        try {
            ws = new WebSocket(c.wsUrl + "/ws" + q);
        } catch (e) {   // e.g. blocked by a content security policy
            setTimeout(() => h.lost({ opened: false, code: 1006 }), 0);
            return { name: "ws", ordered: true, send: () => Promise.reject(e), close() {} };
        }
        ws.onopen = () => { opened = true; };
        ws.onmessage = (e) => h.receive(parseJson(e.data));
        ws.onclose = (e) => h.lost({ opened, code: e.code });
        return {
            name: "ws",
            ordered: true, // messages and answers keep their order
            send(msg) {
                ws.send(JSON.stringify(msg));
                return Promise.resolve();
            },
            close() {
                ws.onopen = ws.onmessage = ws.onclose = null;
                ws.close(1000);
            },
        };
    }

    // SSE + POST: the server's messages, replies included, arrive in order on
    // an EventSource; each client message is a POST answered 202 {}. Another
    // answer is an error about that POST (no_session, or an HTTP failure).
    function sseTransport(c, h) {
        const q = "?session=" + encodeURIComponent(c.session) +
            (c.opts.token ? "&token=" + encodeURIComponent(c.opts.token) : "");
        const es = new EventSource(c.httpUrl + "/rt/sse" + q);
        const headers = { "Content-Type": "application/json" };
        let opened = false;
        function send(msg) {
            return fetch(c.httpUrl + "/rt/send" + q,
                         { method: "POST", headers, body: JSON.stringify(msg) })
                .then((res) => res.text().then((text) => {
                    const m = parseJson(text);
                    if (m && typeof m.type === "string") {
                        if (m.type === "error" && m.id === undefined)
                            m.id = msg.id;
                        h.receive(m);
                    } else if (!res.ok) {
                        h.receive({ type: "error", id: msg.id, code: "http_" + res.status,
                                    message: text.slice(0, 200) });
                    }
                }));
        }
        // The stream is up: introduce ourselves (the reply is `connected`).
        es.onopen = () => {
            opened = true;
            send({ type: "connect", session: c.session, token: c.opts.token || undefined })
                .catch(() => {});
        };
        es.onmessage = (e) => h.receive(parseJson(e.data));
        // EventSource would reconnect by itself, but a new stream is a new
        // connection that must rejoin its rooms: we reconnect ourselves.
        es.onerror = () => {
            es.close();
            h.lost({ opened, code: 1006 });
        };
        return { name: "sse", send, close: () => es.close() };
    }

    // ---- The client ------------------------------------------------------

    class Client {
        constructor(url, options) {
            this.opts = Object.assign({}, DEFAULTS, options);
            const base = new URL(url || "/", global.location && global.location.href);
            this.httpUrl = base.origin.replace(/^ws/, "http");
            this.wsUrl = this.httpUrl.replace(/^http/, "ws");
            this.session = this.opts.session || randomId();
            this.state = "closed";     // "connecting" | "open" | "closed"
            this.transport = null;     // "ws" | "sse" once connected
            this.user = null;          // the user id the server gave us
            this._handlers = {};       // event -> [fn]
            this._rooms = new Map();   // room -> {info, pos, joined, waiters}
            this._pending = new Map(); // request id -> request sent, awaiting its reply
            this._outbox = [];         // requests waiting to be sent, in id order
            this._nextId = 1;
            this._t = null;            // the current transport
            this._ready = false;       // `connected` arrived on it
            this._flushing = false;    // ... and every room is rejoined
            this._attempt = 0;
            this._useSse = this.opts.transport === "sse";
            this._sseWorked = false;
            this._order = [];          // WebSocket: requests sent and unanswered, in order
            this._pausedUntil = 0;     // rate limited: nothing is sent before this,
            this._throttled = false;   // ... then one request at a time
            this._needProbe = false;   // ... after finding out what was dropped
            this._owePong = false;     // a pong held back while throttled
            this._timers = {};
            this._closed = false;
            this._connect();
        }

        // ---- Public API --------------------------------------------------

        // Subscribes fn to an event; returns a function that unsubscribes it.
        on(event, fn) {
            (this._handlers[event] = this._handlers[event] || []).push(fn);
            return () => {
                this._handlers[event] = this._handlers[event].filter((f) => f !== fn);
            };
        }

        // Joins room (now, or as soon as connected); resolves with
        // {room, recovered, pos} on `joined`. options.info is shown in
        // presence; options.since resumes from a position saved earlier.
        join(room, options = {}) {
            if (this._closed)
                return Promise.reject(protocolError("closed", "the client was closed"));
            let r = this._rooms.get(room);
            if (r && r.joined)
                return Promise.resolve({ room, recovered: true, pos: r.pos });
            if (!r) {
                r = { info: options.info, pos: options.since || null, joined: false, waiters: [] };
                this._rooms.set(room, r);
                if (this._ready)
                    this._sendJoin(room, r);
            }
            return new Promise((resolve, reject) => r.waiters.push({ resolve, reject }));
        }

        leave(room) {
            const r = this._rooms.get(room);
            this._rooms.delete(room);
            if (r)
                r.waiters.forEach((w) => w.reject(protocolError("left", "left " + room)));
            if (!r || !r.joined || !this._ready)
                return Promise.resolve(); // the server forgot us when the link dropped
            // Best effort: if the link drops first, the server forgets us anyway.
            return this._request({ type: "leave", room }, () => undefined).catch(() => undefined);
        }

        // Resolves with the message's position once the server has stored it.
        publish(room, data) {
            if (typeof data !== "string")
                return Promise.reject(new TypeError("publish: data must be a string"));
            return this._request({ type: "publish", room, data }, (m) => m.pos);
        }

        presence(room) {
            return this._request({ type: "presence", room }, (m) => m.users);
        }

        history(room, options = {}) {
            const msg = { type: "history", room, since: options.since, limit: options.limit };
            return this._request(msg, (m) => ({
                recovered: m.recovered, pos: m.pos, messages: m.messages }));
        }

        // Typing is a hint, not a request: dropped while offline or rate limited.
        typing(room, on) {
            const r = this._rooms.get(room);
            if (this._flushing && r && r.joined && !this._throttled)
                this._transmit({ type: "typing", room, on: !!on });
        }

        close() {
            if (this._closed)
                return;
            this._closed = true;
            clearTimeout(this._timers.retry);
            if (this._t)
                this._lost(this._t, { opened: true, code: 1000 });
            const err = protocolError("closed", "the client was closed");
            this._outbox.splice(0).forEach((req) => req.fail(err));
            this._rooms.forEach((r) => r.waiters.forEach((w) => w.reject(err)));
            this._rooms.clear();
            this._setState("closed");
        }

        // ---- Connecting and reconnecting ---------------------------------

        _connect() {
            this._setState("connecting");
            const open = this._useSse ? sseTransport : webSocketTransport;
            const t = open(this, {
                receive: (msg) => this._receive(t, msg),
                lost: (info) => this._lost(t, info),
            });
            this._t = t;
            this._timers.open = setTimeout(() => this._lost(t, { opened: false, code: 0 }),
                                           this.opts.openTimeout);
        }

        // The server said `connected`: rejoin every room, then send what
        // waited in the outbox (a publish must not overtake its room's join).
        _onConnected(m) {
            if (this._ready)
                return;
            this._ready = true;
            this.user = m.user;
            this.transport = this._t.name;
            this._sseWorked = this._sseWorked || this.transport === "sse";
            this._heartbeat = m.heartbeat > 0 ? m.heartbeat : 0;
            clearTimeout(this._timers.open);
            this._heard();
            this._timers.stable = setTimeout(() => { this._attempt = 0; }, this.opts.stableAfter);
            this._setState("open");
            this._rooms.forEach((r, room) => this._sendJoin(room, r));
            this._maybeFlush();
        }

        // Every way a connection ends comes here: closed by the server, a
        // network error, a missed heartbeat, an open timeout, or close().
        _lost(t, info) {
            if (t !== this._t)
                return; // an old transport's late news
            this._t = null;
            t.close();
            ["open", "dead", "stable"].forEach((k) => clearTimeout(this._timers[k]));
            this._ready = this._flushing = this._throttled = this._needProbe = false;
            this._owePong = false;
            this._order = [];
            this._rooms.forEach((r) => { r.joined = false; });
            this._failSent();
            if (this._closed)
                return;
            if (info.code === 4001) {
                this._emit("error", protocolError("unauthorized", "the token was rejected"));
                this.close();
                return;
            }
            if (this.opts.transport === "auto" && !this._useSse && !info.opened) {
                this._useSse = true; // WebSocket blocked? Try SSE + POST at once.
                this._connect();
                return;
            }
            if (this.opts.transport === "auto" && !this._sseWorked)
                this._useSse = false; // neither opened: start over with WebSocket
            this._retryLater();
        }

        // Exponential backoff with full jitter: the ceiling doubles with each
        // failed attempt, and the delay is uniform below it, so clients that
        // lost the same server do not all come back in the same millisecond.
        _retryLater() {
            const ceiling = Math.min(this.opts.cap, this.opts.base * Math.pow(2, this._attempt));
            const delay = Math.random() * ceiling;
            this._attempt++;
            this._setState("closed", delay);
            this._timers.retry = setTimeout(() => this._connect(), delay);
        }

        // Any message proves the link alive; silence for deadAfter heartbeats
        // means it died without a close (a NAT forgot us, a cable was pulled).
        _heard() {
            clearTimeout(this._timers.dead);
            if (!this._heartbeat)
                return;
            const t = this._t;
            this._timers.dead = setTimeout(() => this._lost(t, { opened: true, code: 0 }),
                                           this._heartbeat * this.opts.deadAfter);
        }

        // ---- Receiving ---------------------------------------------------

        _receive(t, m) {
            if (t !== this._t)
                return;
            if (!m || typeof m.type !== "string") {
                this._emit("error", protocolError("bad_json", "the server sent a bad message"));
                return;
            }
            this._heard();
            const req = m.id !== undefined && this._pending.get(m.id);
            if (req)
                this._answered(req);
            if (m.type === "error") {
                this._onError(m, req);
            } else if (req) {
                this._pending.delete(m.id);
                req.done(m);
            } else {
                this._onEvent(m);
            }
            if (req)
                this._pump(); // throttled, the next request waited for this answer
        }

        _onEvent(m) {
            switch (m.type) {
            case "connected": return this._onConnected(m);
            case "ping": return this._pong();
            case "message": return this._onRoomMessage(m);
            case "presence": return this._emit("presence", m.room, m.event, m.user, m.info);
            case "typing": return this._emit("typing", m.room, m.user, m.on);
            }
        }

        // Live or replayed, each position reaches the application once.
        _onRoomMessage(m) {
            const r = this._rooms.get(m.room);
            if (!r || notAfter(m.pos, r.pos))
                return;
            r.pos = m.pos;
            this._emit("message", m.room, m.data, m.pos);
        }

        _onJoined(room, r, m, resumed) {
            if (this._rooms.get(room) !== r)
                return; // left while the join was on its way
            r.joined = true;
            // After a recovered resume the replayed messages carried the
            // positions; otherwise continue from where the server is now.
            if ((!resumed || !m.recovered) && !notAfter(m.pos, r.pos))
                r.pos = m.pos;
            if (resumed)
                this._emit("recovered", room, !!m.recovered);
            r.waiters.splice(0).forEach((w) => w.resolve({ room, recovered: !!m.recovered,
                                                           pos: r.pos }));
        }

        _onError(m, req) {
            const err = protocolError(m.code, m.message, m);
            if (m.code === "no_session" && this._t) {
                // Our stream is gone and this request was not processed: keep it.
                if (req && !req.join) {
                    this._pending.delete(m.id);
                    this._enqueue(req);
                }
                return this._lost(this._t, { opened: true, code: 0 });
            }
            if (m.code === "rate_limited") {
                this._emit("error", err); // tell the application, and try again later
                this._throttle(m.retry_after > 0 ? m.retry_after : 1000);
                const refused = req || this._oldestUnanswered();
                if (refused)
                    this._redo(refused);
                return;
            }
            if (!req)
                return this._emit("error", err);
            this._pending.delete(m.id);
            req.fail(err);
        }

        // ---- Sending -----------------------------------------------------

        _sendJoin(room, r) {
            const msg = { type: "join", id: this._nextId++, room, info: r.info,
                          since: r.pos || undefined };
            const req = {
                msg, join: true, tries: 0, redo: false,
                done: (m) => { this._onJoined(room, r, m, !!msg.since); this._maybeFlush(); },
                fail: (err) => {
                    if (this._rooms.get(room) === r)
                        this._rooms.delete(room);
                    r.waiters.splice(0).forEach((w) => w.reject(err));
                    this._emit("error", err);
                    this._maybeFlush();
                },
            };
            this._pending.set(msg.id, req);
            this._transmit(msg, req);
        }

        // A request with an id; resolves with reply(m) of the matching reply.
        _request(msg, reply) {
            return new Promise((resolve, reject) => {
                if (this._outbox.length >= this.opts.queueLimit)
                    return reject(protocolError("queue_full", "too many requests waiting"));
                msg.id = this._nextId++;
                this._enqueue({ msg, tries: 0, done: (m) => resolve(reply(m)), fail: reject });
            });
        }

        // Keeps the outbox in id order, so a request that comes back (rate
        // limited, or its stream vanished) keeps its place in line.
        _enqueue(req) {
            if (this._closed)
                return req.fail(protocolError("closed", "the client was closed"));
            let i = this._outbox.length;
            while (i > 0 && this._outbox[i - 1].msg.id > req.msg.id)
                i--;
            this._outbox.splice(i, 0, req);
            this._pump();
        }

        _maybeFlush() {
            if (!this._ready || this._flushing)
                return;
            for (const req of this._pending.values()) {
                if (req.join)
                    return; // still rejoining
            }
            this._flushing = true;
            this._pump();
        }

        _pump() {
            while (this._flushing && Date.now() >= this._pausedUntil && this._outbox.length &&
                   !(this._throttled && this._pending.size)) {
                const req = this._outbox.shift();
                this._pending.set(req.msg.id, req);
                this._transmit(req.msg, req);
            }
            if (this._throttled && this._flushing && !this._outbox.length &&
                !this._pending.size && !this._needProbe && Date.now() >= this._pausedUntil) {
                this._throttled = false; // all through: back to full speed
                if (this._owePong)
                    this._pong();
            }
        }

        // ---- Rate limits -------------------------------------------------
        // A server may drop a rate-limited message unread and answer with an
        // error that has no id. WebSocket keeps order, and the server answers
        // requests in the order they came, so the oldest request still
        // unanswered is the one refused. Only typing and pong, which get no
        // answer, blur this: when one of them is the oldest, a ping with an
        // id (a probe) sorts it out, as its pong answers all before it.

        _oldestUnanswered() {
            if (!this._t || !this._t.ordered)
                return null;
            const oldest = this._order.shift();
            if (oldest === null)
                this._needProbe = true; // the typing/pong, or the request after it?
            return oldest || null;
        }

        // An answer to req settles every request sent before it; one still
        // unanswered was dropped, and its error was put down to another.
        _answered(req) {
            const i = this._order.indexOf(req);
            if (i < 0)
                return;
            for (const r of this._order.splice(0, i + 1)) {
                if (r && r !== req)
                    this._redo(r);
            }
        }

        // After a refusal nothing is sent until retry_after has passed; then
        // one request at a time, each after the answer to the one before.
        _throttle(ms) {
            this._throttled = true;
            this._pausedUntil = Math.max(this._pausedUntil, Date.now() + ms);
            this._armResume();
        }

        _armResume() {
            clearTimeout(this._timers.pause);
            this._timers.pause = setTimeout(() => this._resume(), this._pausedUntil - Date.now());
        }

        _resume() {
            if (Date.now() < this._pausedUntil)
                return this._armResume();
            for (const req of this._pending.values()) {
                if (req.redo) {
                    req.redo = false;
                    this._transmit(req.msg, req);
                }
            }
            if (this._needProbe && this._ready)
                this._probe();
            this._pump();
        }

        _probe() {
            this._needProbe = false;
            const msg = { type: "ping", id: this._nextId++ };
            const req = { msg, probe: true, done() {}, fail() {} };
            this._pending.set(msg.id, req);
            this._transmit(msg, req);
        }

        // A refused request goes again, with the same id, after the pause.
        _redo(req) {
            if (req.probe) {
                this._pending.delete(req.msg.id);
                this._needProbe = true;
            } else if (req.tries++ >= this.opts.maxRetries) {
                this._pending.delete(req.msg.id);
                req.fail(protocolError("rate_limited", "still rate limited after retries"));
            } else if (req.join) {
                req.redo = true; // stays pending, so the outbox keeps waiting for it
            } else {
                this._pending.delete(req.msg.id);
                this._enqueue(req);
            }
        }

        _pong() {
            this._owePong = this._throttled; // an unanswered pong would blur the order
            if (!this._throttled)
                this._transmit({ type: "pong" });
        }

        _transmit(msg, req) {
            const t = this._t;
            if (!t)
                return;
            if (t.ordered && (req || this._order[this._order.length - 1] !== null))
                this._order.push(req || null); // null: typing or pong, never answered
            t.send(msg).catch((e) => {
                if (req && this._pending.get(msg.id) === req) {
                    this._pending.delete(msg.id);
                    req.fail(protocolError("disconnected", String(e)));
                }
            });
        }

        // Requests sent on a connection that died may or may not have been
        // processed; say so rather than risk sending them twice. Joins are
        // not failed: every room is joined again on the next connection.
        _failSent() {
            const err = protocolError("disconnected", "the connection dropped before the reply");
            for (const [id, req] of this._pending) {
                this._pending.delete(id);
                if (!req.join)
                    req.fail(err);
            }
        }

        // ---- Events ------------------------------------------------------

        _setState(state, retryIn) {
            if (state === this.state && retryIn === undefined)
                return;
            this.state = state;
            this._emit("state", state, retryIn);
        }

        _emit(event, ...args) {
            for (const fn of this._handlers[event] || []) {
                try {
                    fn(...args);
                } catch (e) {
                    setTimeout(() => { throw e; }, 0); // report it, but keep going
                }
            }
        }
    }

    function connect(url, options) {
        if (url && typeof url === "object")
            return new Client(undefined, url);
        return new Client(url, options);
    }

    global.RT = { connect, Client };
})(typeof self !== "undefined" ? self : this);
