// rooms.test.mjs - rooms with history and gap-free recovery, over WebSocket,
// Server-Sent Events and long polling, against the chat example
// (examples/03_chat.c, build/chat) with clients nobody here wrote: the npm
// `eventsource` and `ws` packages, plus raw sockets where the exact bytes
// matter.
//
// Each test uses rooms of its own on one shared server (the memory test has
// its own). Servers start on --port 0 and are killed in after hooks; every
// wait has a timeout; nothing asserts that something was fast.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EventSource } from 'eventsource';
import * as L from './lib.mjs';
import * as R from './rooms_lib.mjs';

const { WebSocket } = L;
const CHAT = L.binary('chat');
// The demo's per-connection and per-address rate limits are tested elsewhere;
// here they would only throttle the publishers (0 = no limit).
const CHAT_ARGS = ['--rate-msgs', '0', '--rate-bytes', '0', '--accept-rate', '0'];
const HISTORY = 256; // the default history length, in messages

after(L.stopAll);

// A ws client on /ws?room=...; resolves once open, messages in ws.inbox.
function openRoomWs(port, room, since) {
    let url = `ws://${L.HOST}:${port}/ws?room=${encodeURIComponent(room)}`;
    if (since !== undefined)
        url += `&since=${encodeURIComponent(since)}`;
    const ws = new WebSocket(url);
    ws.inbox = [];
    ws.on('message', (data, isBinary) => ws.inbox.push(isBinary ? data : data.toString('utf8')));
    ws.closed = new Promise((resolve) => {
        ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    ws.on('error', () => {}); // reported through 'close'
    return L.withTimeout(new Promise((resolve, reject) => {
        ws.once('open', () => resolve(ws));
        ws.once('close', (code) => reject(new Error(`ws closed (${code}) before open`)));
    }), 5000, 'ws open');
}

// SSE turns CR and CRLF into LF (the format has no escape for them).
const sseForm = (s) => s.replace(/\r\n?/g, '\n');
const range = (a, b) => Array.from({ length: b - a }, (_, i) => a + i);

// The chat page's marker: {"room":R,"recovered":..,"pos":P} with id P.
function joinEvent(room, recovered, pos) {
    return `event: rt.join\nid: ${pos}\ndata: {"room":"${room}","recovered":${recovered},` +
        `"pos":"${pos}"}\n\n`;
}

// One message event exactly as the server must write it.
function msgEvent(pos, payload) {
    const lines = payload.split(/\r\n|\r|\n/);
    return `id: ${pos}\n${lines.map((l) => (l ? `data: ${l}\n` : 'data:\n')).join('')}\n`;
}

describe('chat example: rooms over three transports', () => {
    let srv, port, http;
    before(async () => {
        srv = await L.startServer(CHAT, CHAT_ARGS);
        port = srv.port;
        http = await R.Http.open(port);
    });
    after(async () => {
        http?.close();
        await srv?.stop();
    });

    test('GET / serves the chat page', async () => {
        const res = await R.request(port, 'GET', '/');
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
        const page = res.body.toString('utf8');
        const file = readFileSync(path.join(L.ROOT, 'examples/web/chat.html'), 'utf8');
        assert.equal(page.trimEnd(), file.trimEnd(), 'the page is examples/web/chat.html');
        assert.match(page, /<title>rt\.h chat<\/title>/);
        assert.match(page, /<form id="join">/);
        assert.match(page, /<div id="log">/);
    });

    test('POST /publish: 200 with the position, 405, 413 past 64 KiB, 400 for bad rooms', async () => {
        const p1 = await http.publish('pub', 'one');
        const p2 = await http.publish('pub', 'two');
        assert.equal(R.parsePos(p2).epoch, R.parsePos(p1).epoch);
        assert.equal(R.parsePos(p2).offset, R.parsePos(p1).offset + 1);
        const get = await R.request(port, 'GET', '/publish?room=pub');
        assert.equal(get.status, 405);
        const max = await R.request(port, 'POST', '/publish?room=pub', Buffer.alloc(65536, 'x'));
        assert.equal(max.status, 200, 'exactly 64 KiB is allowed');
        const big = await R.request(port, 'POST', '/publish?room=pub', Buffer.alloc(65537, 'x'));
        assert.equal(big.status, 413);
        for (const room of ['', 'a%20b', 'a/b', 'x'.repeat(65), '%C3%A9'])
            assert.equal((await R.request(port, 'POST', `/publish?room=${room}`, 'x')).status, 400,
                         `room ${JSON.stringify(room)}`);
        assert.equal((await R.request(port, 'POST', '/publish', 'x')).status, 400);
        // the 405/413/400 above consumed no position
        const p3 = await http.publish('pub', 'three');
        assert.equal(R.parsePos(p3).offset, R.parsePos(p1).offset + 3);
    });

    // Every transport carries text: a body that is not UTF-8 would reach a
    // WebSocket as an invalid text frame, which the client must fail (RFC
    // 6455 8.1), so it is refused and the subscribers stay connected.
    test('a body that is not UTF-8 is refused and harms no subscriber', async () => {
        const ws = await openRoomWs(port, 'utf8');
        const res = await R.request(port, 'POST', '/publish?room=utf8', Buffer.from([0x61, 0xff, 0x62]));
        assert.equal(res.status, 400);
        const cut = Buffer.from('é').subarray(0, 1); // a sequence cut short
        assert.equal((await R.request(port, 'POST', '/publish?room=utf8', cut)).status, 400);
        await http.publish('utf8', 'still here ✓');
        await L.until(() => ws.inbox.length >= 1, 5000, 'the next message');
        assert.deepEqual(ws.inbox, ['still here ✓']);
        assert.equal(ws.readyState, WebSocket.OPEN);
        ws.close();
        await ws.closed;
    });

    test('npm eventsource: every message exactly once, in order, across two network drops', async () => {
        const room = 'es';
        const proxy = await R.tcpProxy(port);
        const es = new EventSource(`http://${L.HOST}:${proxy.port}/sse?room=${room}`);
        const got = [], joins = [];
        let errors = 0;
        es.onmessage = (e) => got.push({ data: e.data, id: e.lastEventId });
        es.addEventListener('rt.join', (e) => joins.push({ data: JSON.parse(e.data), id: e.lastEventId }));
        es.onerror = () => { errors++; };
        try {
            await L.until(() => joins.length === 1, 5000, 'the first rt.join');
            // Payloads with line breaks (CRLF and CR arrive as LF), an empty
            // one, and non-ASCII text among plain ones.
            const payload = (i) => (i % 40 === 7 ? `two\nlines ${i}` : i % 40 === 9 ? `cr\r\nlf\r${i}` :
                i % 40 === 11 ? '' : i % 40 === 13 ? `ünï ✓ ${i}` : `m${i}`);
            const pos = [];
            const publish = async (i) => { pos[i] = await http.publish(room, payload(i)); };

            for (const i of range(0, 50))
                await publish(i);
            await L.until(() => got.length >= 50, 10000, `50 messages (have ${got.length})`);

            // Drop 1, while idle; publish while the client waits to reconnect.
            proxy.drop();
            for (const i of range(50, 100))
                await publish(i);
            await L.until(() => got.length >= 100, 15000, `100 messages (have ${got.length})`);
            assert.equal(proxy.accepted, 2);
            assert.equal(R.headerOf(proxy.requests[1], 'Last-Event-ID'), pos[49],
                         'the reconnect says where the client was');

            // Drop 2, in the middle of a burst: events in flight are lost on
            // the wire and must come back from history.
            for (const i of range(100, 200)) {
                await publish(i);
                if (i === 120)
                    proxy.drop();
            }
            await L.until(() => got.length >= 200 && joins.length >= 3, 15000,
                          `200 messages (have ${got.length})`);
            await http.publish(room, 'end');
            await L.until(() => got.length >= 201, 10000, 'the end marker');

            assert.deepEqual(got.map((m) => m.data), [...range(0, 200).map((i) => sseForm(payload(i))), 'end']);
            assert.deepEqual(got.slice(0, 200).map((m) => m.id), pos, 'ids are the positions');
            assert.equal(proxy.accepted, 3);
            const last = R.headerOf(proxy.requests[2], 'Last-Event-ID');
            assert.ok(pos.indexOf(last) >= 100 && pos.indexOf(last) <= 120,
                      `second reconnect from ${last}, within the burst before the drop`);
            assert.equal(joins.length, 3);
            for (const j of joins) {
                assert.equal(j.data.recovered, true);
                assert.equal(j.data.room, room);
                assert.equal(j.id, j.data.pos, 'the marker id is its resume position');
            }
            assert.equal(joins[1].data.pos, pos[99], 'the replay ended at the last published');
            assert.ok(errors >= 2);
        } finally {
            es.close();
            await proxy.close();
        }
    });

    test('raw SSE: the exact head, events and rt.join marker, live and replayed', async () => {
        const room = 'bytes';
        const s = await R.RawSse.open(port, `/sse?room=${room}`);
        assert.equal(s.status, 200);
        assert.equal(s.headers['content-type'], 'text/event-stream');
        assert.equal(s.headers['cache-control'], 'no-cache');
        assert.equal(s.headers['x-accel-buffering'], 'no');
        assert.equal(s.headers['content-length'], undefined, 'the stream ends with the connection');
        assert.equal(s.headers['transfer-encoding'], undefined);
        await s.waitEvents((ev) => ev.length >= 1, 5000, 'rt.join');
        const start = s.events[0].id;
        assert.equal(R.parsePos(start).offset, 0, 'a new room starts before offset 1');
        assert.equal(s.text(), joinEvent(room, true, start));

        const payloads = ['plain', 'a\nb', 'a\r\nb', 'a\rb', 'a\n', '', ' lead', '\n', 'x\r\n\r\ny',
            'ünï ✓', ':colon', 'data: x', 'tab\there', 'cr at end\r', '{"json":"ok"}'];
        const pos = [];
        for (const p of payloads)
            pos.push(await http.publish(room, p));
        const events = payloads.map((p, i) => msgEvent(pos[i], p)).join('');
        assert.ok(events.startsWith('id: ') && events.includes('id: ' + pos[1] + '\ndata: a\ndata: b\n\n'));
        assert.ok(events.includes(`id: ${pos[4]}\ndata: a\ndata:\n\n`), 'a trailing LF is an empty last line');
        assert.ok(events.includes(`id: ${pos[5]}\ndata:\n\n`), 'an empty message is one empty data line');
        const want = joinEvent(room, true, start) + events;
        await s.waitBytes(Buffer.byteLength(want));
        assert.equal(s.text(), want);
        // And what any conforming parser makes of it:
        assert.deepEqual(s.messages().map((e) => e.data), payloads.map(sseForm));
        assert.deepEqual(s.messages().map((e) => e.id), pos);

        // Replay from the start position: the same bytes, then the marker.
        const r = await R.RawSse.open(port, `/sse?room=${room}&since=${start}`);
        const replay = events + joinEvent(room, true, pos.at(-1));
        await r.waitBytes(Buffer.byteLength(replay));
        assert.equal(r.text(), replay);
        // Last-Event-ID wins over since=.
        const l = await R.RawSse.open(port, `/sse?room=${room}&since=${start}`, { 'Last-Event-ID': pos[2] });
        const tail = payloads.slice(3).map((p, i) => msgEvent(pos[i + 3], p)).join('') +
            joinEvent(room, true, pos.at(-1));
        await l.waitBytes(Buffer.byteLength(tail));
        assert.equal(l.text(), tail);
        // Live again, to all three.
        const next = await http.publish(room, 'after');
        for (const x of [s, r, l])
            await x.waitEvents((ev) => ev.at(-1).id === next, 5000, 'the live message');
        assert.ok(l.text().endsWith(`\n\nid: ${next}\ndata: after\n\n`));
        for (const x of [s, r, l])
            x.close();
    });

    test('an empty message is a message on every transport', async () => {
        const room = 'empty-msg';
        const ws = await openRoomWs(port, room);
        const s = await R.RawSse.open(port, `/sse?room=${room}`);
        await s.waitEvents((ev) => ev.length >= 1, 5000, 'rt.join');
        const before = s.events[0].id;
        const res = await R.request(port, 'POST', `/publish?room=${room}`);
        assert.equal(res.status, 200, 'a POST without a body publishes an empty message');
        const p = JSON.parse(res.body).pos;
        assert.equal(R.parsePos(p).offset, 1);
        await L.until(() => ws.inbox.length >= 1, 5000, 'ws message');
        assert.deepEqual(ws.inbox, ['']);
        await s.waitEvents((ev) => ev.length >= 2, 5000, 'the empty event');
        assert.deepEqual(s.events[1], { type: 'message', data: '', id: p });
        const poll = await http.poll(room, before, 1000);
        assert.deepEqual(poll.json, { recovered: true, pos: p, messages: [{ pos: p, data: '' }] });
        ws.close();
        s.close();
        await ws.closed;
    });

    // Three pollers loop /poll?since=<last pos> while a publisher posts as
    // fast as it can: each must end with every message, in order, once.
    // History is 256 messages, so a poller that fell that far behind would be
    // told recovered:false; none may be.
    async function pollersKeepUp(room, publishAll, total) {
        const start = await http.publish(room, 'start');
        const done = (st) => st.messages.length >= total;
        const pollers = range(0, 3).map(() => R.pollLoop(port, room, start, { stop: done, hold: 3000 }));
        const sent = await publishAll();
        const results = await Promise.all(pollers);
        const order = sent.slice().sort((a, b) => R.parsePos(a.pos).offset - R.parsePos(b.pos).offset);
        const first = R.parsePos(start).offset;
        assert.deepEqual(order.map((m) => R.parsePos(m.pos).offset), range(first + 1, first + 1 + total),
                         'publishes got consecutive positions');
        for (const st of results) {
            assert.deepEqual(st.errors, []);
            assert.deepEqual(st.notRecovered, [], 'no answer said recovered:false');
            assert.equal(st.messages.length, total);
            assert.deepEqual(st.messages, order.map((m) => ({ pos: m.pos, data: m.data })));
        }
        return results;
    }

    test('long polling: 3 pollers, 1,000 messages back to back on one connection', async () => {
        const room = 'lp-serial';
        await pollersKeepUp(room, async () => {
            const h = await R.Http.open(port);
            const sent = [];
            for (const i of range(0, 1000)) {
                const data = `msg ${i}`;
                sent.push({ pos: await h.publish(room, data), data });
            }
            h.close();
            return sent;
        }, 1000);
    });

    test('long polling: 3 pollers, 1,000 messages from 4 publishers at once', async () => {
        const room = 'lp-parallel';
        await pollersKeepUp(room, async () => {
            const sent = [];
            await Promise.all(range(0, 4).map(async (k) => {
                const h = await R.Http.open(port);
                for (const i of range(0, 250)) {
                    const data = `p${k} ${i}`;
                    sent.push({ pos: await h.publish(room, data), data });
                }
                h.close();
            }));
            return sent;
        }, 1000);
    });

    test('long polling: a held poll answers with the next message, or empty at its timeout', async () => {
        const room = 'lp-hold';
        const p0 = await http.publish(room, 'zero');
        const h = await R.Http.open(port);
        const held = h.poll(room, p0, 10000);
        await L.sleep(100);
        const p1 = await http.publish(room, 'one');
        const r = await held;
        assert.equal(r.status, 200);
        assert.equal(r.headers['content-type'], 'application/json');
        assert.deepEqual(r.json, { recovered: true, pos: p1, messages: [{ pos: p1, data: 'one' }] });
        const t = await h.poll(room, p1, 200);
        assert.deepEqual(t.json, { recovered: true, pos: p1, messages: [] });
        // without since: from now on
        const fresh = h.poll(room, undefined, 10000);
        await L.sleep(100);
        const p2 = await http.publish(room, 'two');
        assert.deepEqual((await fresh).json, { recovered: true, pos: p2, messages: [{ pos: p2, data: 'two' }] });
        h.close();
    });

    // A poller of a room where nothing is published holds each time; its
    // position must stay valid between two polls even though the room has
    // no member and no history then.
    test('long polling an idle room holds instead of spinning', async () => {
        const room = 'lp-idle';
        const h = await R.Http.open(port);
        let r = await h.poll(room, undefined, 100);
        assert.deepEqual(r.json.messages, []);
        const first = r.json.pos;
        for (let i = 0; i < 2; i++) {
            r = await h.poll(room, r.json.pos, 100);
            assert.deepEqual(r.json, { recovered: true, pos: first, messages: [] });
        }
        const p = await http.publish(room, 'at last');
        assert.equal(R.parsePos(p).epoch, R.parsePos(first).epoch);
        r = await h.poll(room, first, 100);
        assert.deepEqual(r.json, { recovered: true, pos: p, messages: [{ pos: p, data: 'at last' }] });
        // An SSE client reconnecting to an idle room is told it missed nothing.
        const s = await R.RawSse.open(port, `/sse?room=lp-idle-sse`);
        await s.waitEvents((ev) => ev.length >= 1, 5000, 'rt.join');
        const id = s.events[0].id;
        s.close();
        await L.sleep(50);
        const again = await R.RawSse.open(port, '/sse?room=lp-idle-sse', { 'Last-Event-ID': id });
        await again.waitEvents((ev) => ev.length >= 1, 5000, 'rt.join');
        assert.equal(again.text(), joinEvent('lp-idle-sse', true, id));
        again.close();
        h.close();
    });

    test('recovery from a position too old, of another epoch, or garbage', async () => {
        const room = 'old';
        const pos = [null];
        for (const i of range(1, 301))
            pos.push(await http.publish(room, `m${i}`));
        const cur = pos[300];
        const notRecovered = { recovered: false, pos: cur, messages: [] };
        assert.deepEqual((await http.poll(room, pos[1], 1000)).json, notRecovered);
        // History holds exactly the last 256: from 300 - 256 it recovers.
        const edge = await http.poll(room, pos[300 - HISTORY], 1000);
        assert.equal(edge.json.recovered, true);
        assert.equal(edge.json.pos, cur);
        assert.deepEqual(edge.json.messages, range(300 - HISTORY + 1, 301).map((i) => ({ pos: pos[i], data: `m${i}` })));
        assert.deepEqual((await http.poll(room, pos[300 - HISTORY - 1], 1000)).json, notRecovered);
        // Another epoch, and an offset this room never reached.
        assert.deepEqual((await http.poll(room, R.otherEpoch(cur), 1000)).json, notRecovered);
        assert.deepEqual((await http.poll(room, R.otherEpoch(pos[5]), 1000)).json, notRecovered);
        const future = R.makePos(R.parsePos(cur).epoch, 301);
        assert.deepEqual((await http.poll(room, future, 1000)).json, notRecovered);

        // SSE: no replay, the marker says recovered:false with id = current.
        for (const [q, h] of [[`&since=${pos[1]}`, {}], ['', { 'Last-Event-ID': pos[1] }],
            [`&since=${R.otherEpoch(cur)}`, {}], [`&since=${pos[2]}`, { 'Last-Event-ID': R.otherEpoch(pos[299]) }]]) {
            const s = await R.RawSse.open(port, `/sse?room=${room}${q}`, h);
            await s.waitEvents((ev) => ev.length >= 1, 5000, 'rt.join');
            assert.equal(s.text(), joinEvent(room, false, cur), `${q} ${JSON.stringify(h)}`);
            s.close();
        }
        // Garbage: 400 for since= on both; an unreadable Last-Event-ID starts the
        // stream over with recovered:false (a 400 would stop an EventSource for good).
        for (const bad of ['garbage', 'ABC-1', '0-1', `${R.parsePos(cur).epoch}-01`, `${R.parsePos(cur).epoch}-`,
            '-5', `${R.parsePos(cur).epoch}-5x`, '1-18446744073709551616', '10000000000000000-1']) {
            const p = await R.request(port, 'GET', `/poll?room=${room}&since=${encodeURIComponent(bad)}&timeout=100`);
            assert.equal(p.status, 400, `poll since=${bad}`);
            const s = await R.request(port, 'GET', `/sse?room=${room}&since=${encodeURIComponent(bad)}`);
            assert.equal(s.status, 400, `sse since=${bad}`);
            const l = await R.RawSse.open(port, `/sse?room=${room}`, { 'Last-Event-ID': bad });
            await l.waitEvents((ev) => ev.length >= 1, 5000, 'rt.join');
            assert.equal(l.text(), joinEvent(room, false, cur), `sse Last-Event-ID ${bad}`);
            l.close();
        }
        // The room is unharmed.
        const next = await http.publish(room, 'm301');
        assert.equal(R.parsePos(next).offset, 301);
    });

    // History bounds the payload bytes (256 KiB), but not what they become
    // on the wire: a control character is six bytes of JSON, a line break a
    // six-byte "data:" line of SSE. 240 messages of 1 KiB each make ~1.5 MB
    // on both, over what one connection may queue. Recovery must still get
    // through, in parts: a poll answer's pos is where the next one starts,
    // and a cut SSE stream ends so the client reconnects from its last id.
    test('a recovery bigger than a connection may queue arrives in parts, exactly once', async () => {
        const ctl = (i) => `${i}\x01`.padEnd(1024, '\x01');
        const nl = (i) => `${i}\n`.padEnd(1024, '\n');
        const start = { ctl: await http.publish('fat-poll', 'start'), nl: await http.publish('fat-sse', 'start') };
        const sent = { ctl: [], nl: [] };
        for (const i of range(0, 240)) {
            sent.ctl.push({ pos: await http.publish('fat-poll', ctl(i)), data: ctl(i) });
            sent.nl.push({ pos: await http.publish('fat-sse', nl(i)), data: nl(i) });
        }
        const polled = await R.pollLoop(port, 'fat-poll', start.ctl,
                                        { stop: (st) => st.messages.length >= 240, hold: 1000 });
        assert.deepEqual(polled.errors, []);
        assert.deepEqual(polled.notRecovered, []);
        assert.ok(polled.messages.length === 240, `polled ${polled.messages.length} of 240`);
        assert.deepEqual(polled.messages, sent.ctl);
        assert.ok(polled.replies > 1, 'the answer came in parts');

        // SSE: reconnect at once (an EventSource would wait its 3 s) with the
        // last id seen, as an EventSource does, until the rt.join marker.
        const got = [];
        let last = start.nl, joined = null, connections = 0;
        while (!joined && connections < 20) {
            connections++;
            const s = await R.RawSse.open(port, '/sse?room=fat-sse', { 'Last-Event-ID': last });
            assert.equal(s.status, 200);
            await s.raw.wait(() => { s.pump(); return s.events.some((e) => e.type === 'rt.join') || s.raw.ended || s.raw.closed; },
                             10000, 'the marker or the end of a part');
            for (const e of s.events) {
                if (e.type === 'rt.join')
                    joined = JSON.parse(e.data);
                else
                    got.push({ pos: e.id, data: e.data });
            }
            if (s.events.length)
                last = s.events.at(-1).id;
            s.close();
        }
        assert.ok(joined, `no rt.join after ${connections} connections`);
        assert.equal(joined.recovered, true);
        assert.equal(joined.pos, sent.nl.at(-1).pos);
        assert.ok(connections > 1, 'the replay came in parts');
        assert.equal(got.length, 240);
        assert.deepEqual(got, sent.nl);
    });

    test('cross-transport: ws, SSE and long polling see the same messages in the same order', async () => {
        const room = 'cross';
        const a = await openRoomWs(port, room);
        const b = await openRoomWs(port, room);
        const s = await R.RawSse.open(port, `/sse?room=${room}`);
        await s.waitEvents((ev) => ev.length >= 1, 5000, 'rt.join');
        const start = s.events[0].id;
        let stopPoll = false;
        const poller = R.pollLoop(port, room, start, { stop: (st) => stopPoll && st.messages.length >= 52, hold: 500 });

        a.send('from ws ✓');
        await L.until(() => a.inbox.length >= 1 && b.inbox.length >= 1, 5000, 'ws message');
        assert.deepEqual(a.inbox, ['from ws ✓'], 'plain mode echoes to the sender');
        assert.deepEqual(b.inbox, ['from ws ✓']);
        await s.waitEvents((ev) => ev.length >= 2, 5000, 'the ws message over SSE');
        assert.equal(s.events[1].data, 'from ws ✓');

        const p = await http.publish(room, 'from post');
        await L.until(() => a.inbox.length >= 2 && b.inbox.length >= 2, 5000, 'post over ws');
        assert.equal(a.inbox[1], 'from post');
        await s.waitEvents((ev) => ev.length >= 3, 5000, 'the post over SSE');
        assert.deepEqual(s.events[2], { type: 'message', data: 'from post', id: p });

        // A burst of 50 from three senders at once: ws a, ws b, and POSTs.
        const posts = [];
        const fromA = [], fromB = [];
        for (const i of range(0, 50)) {
            const text = `burst ${i}`;
            if (i % 3 === 0) {
                a.send(text);
                fromA.push(text);
            } else if (i % 3 === 1) {
                b.send(text);
                fromB.push(text);
            } else {
                posts.push(R.request(port, 'POST', `/publish?room=${room}`, text));
            }
        }
        for (const r of await Promise.all(posts))
            assert.equal(r.status, 200);
        await L.until(() => a.inbox.length >= 52 && b.inbox.length >= 52, 10000, 'the burst over ws');
        await s.waitEvents((ev) => ev.length >= 53, 10000, 'the burst over SSE');
        stopPoll = true;
        const polled = await poller;

        const sse = s.messages();
        assert.equal(sse.length, 52);
        const order = sse.map((e) => e.data);
        assert.deepEqual(a.inbox, order, 'ws a saw the SSE order');
        assert.deepEqual(b.inbox, order, 'ws b saw the SSE order');
        assert.deepEqual(polled.notRecovered, []);
        assert.deepEqual(polled.messages, sse.map((e) => ({ pos: e.id, data: e.data })), 'poll saw it too');
        assert.deepEqual(sse.map((e) => R.parsePos(e.id).offset), range(1, 53));
        assert.deepEqual(new Set(order.slice(2)), new Set(range(0, 50).map((i) => `burst ${i}`)));
        // each WebSocket's messages keep their sending order
        assert.deepEqual(order.filter((t) => fromA.includes(t)), fromA);
        assert.deepEqual(order.filter((t) => fromB.includes(t)), fromB);
        a.close();
        b.close();
        s.close();
        await Promise.all([a.closed, b.closed]);
    });

    test('ws plain mode: since= replays the gap, then live, no duplicate while publishing', async () => {
        const room = 'wsr';
        const pos = [null];
        for (const i of range(1, 21))
            pos.push(await http.publish(room, `m${i}`));
        // A concurrent publisher on its own connection: m21..m250.
        const h = await R.Http.open(port);
        let published = 20;
        const publisher = (async () => {
            for (const i of range(21, 251)) {
                pos[i] = await h.publish(room, `m${i}`);
                published = i;
            }
        })();
        await L.until(() => published >= 60, 10000, 'the publisher under way');
        const ws = await openRoomWs(port, room, pos[10]);
        await publisher;
        h.close();
        await http.publish(room, 'end');
        await L.until(() => ws.inbox.at(-1) === 'end', 10000, `the end marker (have ${ws.inbox.length})`);
        assert.deepEqual(ws.inbox, [...range(11, 251).map((i) => `m${i}`), 'end']);

        // Push m1 out of the 256-message history.
        for (const i of range(0, 10))
            await http.publish(room, `pad ${i}`);
        // since = the current position: nothing replayed; live only.
        const cur = await openRoomWs(port, room, await http.publish(room, 'before'));
        await http.publish(room, 'live');
        await L.until(() => cur.inbox.length >= 1, 5000, 'live');
        // too old or another epoch: no replay (plain mode has no marker), live only
        const old = await openRoomWs(port, room, pos[1]);
        const other = await openRoomWs(port, room, R.otherEpoch(pos[250]));
        await http.publish(room, 'live 2');
        await L.until(() => old.inbox.length >= 1 && other.inbox.length >= 1 && cur.inbox.length >= 2,
                      5000, 'live 2');
        assert.deepEqual(cur.inbox, ['live', 'live 2']);
        assert.deepEqual(old.inbox, ['live 2']);
        assert.deepEqual(other.inbox, ['live 2']);
        // a garbage position: the server closes with 1008
        const bad = new WebSocket(`ws://${L.HOST}:${port}/ws?room=${room}&since=garbage`);
        bad.on('error', () => {});
        const closed = await L.withTimeout(new Promise((resolve) => bad.on('close', (code) => resolve(code))),
                                           5000, 'close of the garbage join');
        assert.equal(closed, 1008);
        for (const w of [ws, cur, old, other])
            w.close();
        await Promise.all([ws.closed, cur.closed, old.closed, other.closed]);
    });
});

describe('chat example: history memory is bounded by its settings', () => {
    let srv;
    before(async () => { srv = await L.startServer(CHAT, CHAT_ARGS); });
    after(() => srv?.stop());

    test('2,000 messages of 1 KiB, then 2,000 of 16 KiB, to one room: RSS grows < 8 MiB', async () => {
        const http = await R.Http.open(srv.port);
        const room = 'mem';
        const kib = (i) => `${i} `.padEnd(1024, 'x');
        // Warm up the server's pools and allocator, then measure.
        for (const i of range(0, 50))
            await http.publish('warm', kib(i));
        const base = L.rssKiB(srv.pid);
        const pos = [];
        for (const i of range(0, 2000))
            pos.push(await http.publish(room, kib(i)));
        const after1k = L.rssKiB(srv.pid);
        // 256 KiB of history counts each message with its header, so fewer
        // than 256 messages of 1 KiB fit: 200 back recovers, 256 back not.
        const near = await http.poll(room, pos[2000 - 201], 1000);
        assert.equal(near.json.recovered, true);
        assert.equal(near.json.messages.length, 200);
        assert.deepEqual(near.json.messages.map((m) => m.data), range(1800, 2000).map(kib));
        assert.deepEqual((await http.poll(room, pos[2000 - 257], 1000)).json,
                         { recovered: false, pos: pos[1999], messages: [] });
        assert.deepEqual((await http.poll(room, pos[0], 1000)).json,
                         { recovered: false, pos: pos[1999], messages: [] });
        // 32 MiB more through the same room: unbounded history would show.
        const big = (i) => `${i} `.padEnd(16384, 'y');
        let last;
        for (const i of range(0, 2000))
            last = await http.publish(room, big(i));
        const after16k = L.rssKiB(srv.pid);
        const grew = Math.max(after1k, after16k) - base;
        assert.ok(grew < 8 * 1024, `RSS grew ${grew} KiB (base ${base}, then ${after1k}, ${after16k})`);
        const tail = await http.poll(room, pos[1999], 1000);
        assert.equal(tail.json.recovered, false, '16 history messages of 16 KiB fill 256 KiB');
        assert.equal(tail.json.pos, last);
        http.close();
    });
});

describe('chat example: graceful shutdown with subscribers on every transport', () => {
    let srv;
    before(async () => { srv = await L.startServer(CHAT, CHAT_ARGS); });
    after(() => srv?.stop());

    test('SIGTERM: ws 1001, SSE "event: shutdown" then the end, held poll 503, exit 0', async () => {
        const room = 'bye';
        const ws = await openRoomWs(srv.port, room);
        const s = await R.RawSse.open(srv.port, `/sse?room=${room}`);
        await s.waitEvents((ev) => ev.length >= 1, 5000, 'rt.join');
        const h = await R.Http.open(srv.port);
        const held = h.poll(room, s.events[0].id, 20000);
        await L.until(() => h.raw.sock.bytesWritten > 0, 5000, 'the poll sent');
        await L.sleep(200); // for the server to read it and hold it
        srv.proc.kill('SIGTERM');
        const [closed, poll, exit] = await Promise.all([
            L.withTimeout(ws.closed, 5000, 'ws close'),
            held,
            L.withTimeout(srv.exited, 5000, 'exit'),
        ]);
        assert.equal(closed.code, 1001);
        assert.equal(poll.status, 503);
        assert.equal(poll.headers['retry-after'], '1');
        await s.raw.gone();
        assert.ok(s.text().endsWith('event: shutdown\ndata: server is shutting down\n\n'), s.text());
        assert.deepEqual(exit, { code: 0, signal: null });
        h.close();
        s.close();
    });
});
