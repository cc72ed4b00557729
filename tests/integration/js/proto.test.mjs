// proto.test.mjs - the JSON wire protocol of docs/PROTOCOL.md against the
// chat example (examples/03_chat.c, build/chat), with clients nobody here
// wrote (the npm `ws` and `eventsource` packages) and raw sockets where a
// client must misbehave or a header must go out exactly as written.
//
// Every message type of PROTOCOL.md has a test here, and every security check
// (auth, origin, message and byte rates, accept rate, error limit) has a test
// that shows the rejection. Servers start on --port 0 with the timing options
// each group needs and are killed in after hooks; every wait has a timeout;
// time is only ever checked from below (a grace period is not cut short).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as L from './lib.mjs';
import * as P from './proto_lib.mjs';

const CHAT = L.binary('chat');
const GRACE = 800;   // --presence-grace-ms of the main server
const TYPING = 500;  // --typing-ms of the main server
const GOOD = 'http://good.example';

after(L.stopAll);

let roomSeq = 0;
const newRoom = (what = 'r') => `${what}-${++roomSeq}`;
const POS = /^[0-9a-f]+-[0-9]+$/; // what positions look like today (opaque to clients)

// A well-formed position of another epoch (one epoch bit flipped).
function otherEpoch(pos) {
    const [epoch, offset] = pos.split('-');
    let e = BigInt(`0x${epoch}`) ^ 1n;
    if (e === 0n)
        e = 2n;
    return `${e.toString(16)}-${offset}`;
}

// Starts a chat server for a describe block; returns a getter for it.
function serverFor(args) {
    const box = {};
    before(async () => {
        box.srv = await L.startServer(CHAT, args);
        box.port = box.srv.port;
    });
    after(async () => {
        await box.srv?.stop();
    });
    return box;
}

// Runs fn with clients that are closed afterwards whatever happens.
async function withClients(list, fn) {
    try {
        return await fn(...list);
    } finally {
        await Promise.all(list.map((c) => c.close()));
    }
}

async function expectError(c, msg, code) {
    const r = await c.request(msg);
    assert.equal(r.type, 'error', JSON.stringify(r));
    assert.equal(r.code, code, JSON.stringify(r));
    assert.equal(typeof r.message, 'string');
    return r;
}

// The connection still answers: a ping gets its pong.
async function stillOpen(c) {
    const r = await c.request({ type: 'ping' });
    assert.equal(r.type, 'pong');
}

describe('protocol over WebSocket', () => {
    const S = serverFor(['--origin', GOOD, '--presence-grace-ms', String(GRACE),
                         '--typing-ms', String(TYPING)]);

    describe('connected and connect', () => {
        test('connected arrives unasked: the token as user, a session, the heartbeat', async () => {
            const c = await P.Client.open(S.port, { token: 'alice' });
            await withClients([c], async () => {
                const m = await c.take({ type: 'connected' });
                assert.equal(c.inbox.all[0], m, 'connected is the first message');
                assert.equal(m.user, 'alice');
                assert.equal(typeof m.session, 'string');
                assert.ok(m.session.length >= 1 && m.session.length <= 64, m.session);
                assert.equal(m.heartbeat, 15000, 'the default heartbeat');
                assert.equal('id' in m, false, 'nothing to echo');
            });
        });

        test('connect with a session answers connected echoing the id', async () => {
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                const r = await c.request({ type: 'connect', session: 'tab-1', id: 'c1' });
                assert.deepEqual(r, { type: 'connected', id: 'c1', user: 'alice', session: 'tab-1',
                                      heartbeat: 15000 });
            });
        });

        test('connect with a token switches the user', async () => {
            const room = newRoom();
            const c = await P.Client.connect(S.port, 'alice');
            const w = await P.Client.connect(S.port, 'watcher');
            await withClients([c, w], async () => {
                const r = await c.request({ type: 'connect', session: 'tab-2', token: 'carol',
                                           id: 2 });
                assert.deepEqual(r, { type: 'connected', id: 2, user: 'carol', session: 'tab-2',
                                      heartbeat: 15000 });
                await w.join(room);
                await c.join(room);
                const ev = await w.take({ type: 'presence', event: 'join' });
                assert.equal(ev.user, 'carol', 'the new user is the one that joins');
            });
        });

        test('connect with a rejected token closes with 4001', async () => {
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                c.send({ type: 'connect', session: 'tab-3', token: 'not valid!' });
                const { code } = await c.closedWithin();
                assert.equal(code, 4001);
            });
        });

        test('connect without a session is bad_request', async () => {
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                await expectError(c, { type: 'connect' }, 'bad_request');
                await expectError(c, { type: 'connect', session: 'no spaces' }, 'bad_request');
                await expectError(c, { type: 'connect', session: 's', token: 7 }, 'bad_request');
                await stillOpen(c);
            });
        });

        test('connect after another request is bad_request and changes nothing', async () => {
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                await c.request({ type: 'ping' });
                await expectError(c, { type: 'connect', session: 'late', token: 'mallory' },
                                  'bad_request');
                const r = await c.request({ type: 'presence', room: 'nowhere' });
                assert.equal(r.type, 'error'); // still alice, still connected, not joined
                await stillOpen(c);
            });
        });
    });

    describe('rooms: join, leave, publish, recovery, history', () => {
        test('join answers joined with recovered and pos; leave answers left', async () => {
            const room = newRoom();
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                const j = await c.request({ type: 'join', room, id: 1 });
                assert.equal(j.type, 'joined');
                assert.equal(j.id, 1);
                assert.equal(j.room, room);
                assert.equal(j.recovered, true);
                assert.match(j.pos, POS);
                const l = await c.request({ type: 'leave', room, id: 2 });
                assert.deepEqual(l, { type: 'left', id: 2, room });
                await expectError(c, { type: 'publish', room, data: 'x' }, 'not_joined');
            });
        });

        test('publish: published, and message {room,pos,data} to every member', async () => {
            const room = newRoom();
            const a = await P.Client.connect(S.port, 'alice');
            const b = await P.Client.connect(S.port, 'bob');
            await withClients([a, b], async () => {
                await a.join(room);
                await b.join(room);
                const data = 'héllo "world"\nline two \u2603';
                const r = await a.request({ type: 'publish', room, data, id: 'p1' });
                assert.equal(r.type, 'published');
                assert.equal(r.room, room);
                assert.match(r.pos, POS);
                for (const c of [a, b]) {
                    const m = await c.take({ type: 'message' });
                    assert.deepEqual(m, { type: 'message', room, pos: r.pos, data },
                                     'the sender gets it too');
                }
                const r2 = await b.publish(room, 'second');
                assert.notEqual(r2.pos, r.pos);
                assert.deepEqual(await a.take({ type: 'message' }),
                                 { type: 'message', room, pos: r2.pos, data: 'second' });
            });
        });

        test('publish, typing, presence and history need a joined room: not_joined', async () => {
            const room = newRoom();
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                const e = await expectError(c, { type: 'publish', room, data: 'x' }, 'not_joined');
                assert.equal(e.room, room, 'the error names the room');
                await expectError(c, { type: 'typing', room, on: true }, 'not_joined');
                await expectError(c, { type: 'presence', room }, 'not_joined');
                await expectError(c, { type: 'history', room }, 'not_joined');
            });
        });

        test('bad room names get bad_room; a missing room or data gets bad_request', async () => {
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                for (const room of ['has space', '', 'x'.repeat(65), 'slash/no', 'ü', 5])
                    await expectError(c, { type: 'join', room }, 'bad_room');
                await c.join('x'.repeat(64)); // the longest valid name
                await c.join('A-z_0.9:@-');   // every kind of character allowed
                await expectError(c, { type: 'join' }, 'bad_request');
                await expectError(c, { type: 'leave' }, 'bad_request');
                await expectError(c, { type: 'publish', room: 'A-z_0.9:@-' }, 'bad_request');
                const room = 'A-z_0.9:@-';
                await expectError(c, { type: 'publish', room, data: 5 }, 'bad_request');
                await expectError(c, { type: 'typing', room, on: 'yes' }, 'bad_request');
            });
        });

        test('join with since replays the later messages in order, then joined', async () => {
            const room = newRoom();
            const a = await P.Client.connect(S.port, 'alice');
            const b = await P.Client.connect(S.port, 'bob');
            await withClients([a, b], async () => {
                await a.join(room);
                const pos = [];
                for (let i = 1; i <= 4; i++)
                    pos.push((await a.publish(room, `m${i}`)).pos);
                const j = await b.request({ type: 'join', room, since: pos[0], id: 'j' });
                // Everything b got up to joined: exactly m2..m4, in order.
                const upto = b.inbox.all.slice(1, b.inbox.all.indexOf(j));
                assert.deepEqual(upto, [2, 3, 4].map((i) => (
                    { type: 'message', room, pos: pos[i - 1], data: `m${i}` })));
                assert.equal(j.type, 'joined');
                assert.equal(j.recovered, true);
                assert.equal(j.pos, pos[3]);
                // Then live, exactly once.
                const p5 = (await a.publish(room, 'm5')).pos;
                await b.take({ type: 'message', pos: p5, data: 'm5' });
                await L.sleep(100);
                assert.deepEqual(b.inbox.all.filter((m) => m.type === 'message').map((m) => m.data),
                                 ['m2', 'm3', 'm4', 'm5']);
            });
        });

        test('join with since at the current position replays nothing, recovered', async () => {
            const room = newRoom();
            const a = await P.Client.connect(S.port, 'alice');
            const b = await P.Client.connect(S.port, 'bob');
            await withClients([a, b], async () => {
                await a.join(room);
                const p = (await a.publish(room, 'only')).pos;
                const j = await b.join(room, { since: p });
                assert.equal(j.recovered, true);
                assert.equal(j.pos, p);
                assert.equal(b.inbox.all.filter((m) => m.type === 'message').length, 0);
            });
        });

        test('join with a foreign-epoch since: recovered false, nothing replayed', async () => {
            const room = newRoom();
            const a = await P.Client.connect(S.port, 'alice');
            const b = await P.Client.connect(S.port, 'bob');
            await withClients([a, b], async () => {
                await a.join(room);
                const p1 = (await a.publish(room, 'one')).pos;
                const p2 = (await a.publish(room, 'two')).pos;
                const j = await b.join(room, { since: otherEpoch(p1) });
                assert.equal(j.recovered, false);
                assert.equal(j.pos, p2, 'the current position');
                assert.equal(b.inbox.all.filter((m) => m.type === 'message').length, 0);
            });
        });

        test('join with a since the history no longer reaches: recovered false', async () => {
            const room = newRoom();
            const a = await P.Client.connect(S.port, 'alice');
            const h = await P.KeepAlive.open(S.port);
            await withClients([a], async () => {
                await a.join(room);
                const old = (await a.publish(room, 'oldest')).pos;
                // More than the 256 messages a room's history keeps (plain
                // HTTP publishing, which the per-connection rate limit does
                // not throttle).
                let last;
                for (let i = 0; i < 300; i++) {
                    const res = await h.post(`/publish?room=${room}`, `filler ${i}`);
                    assert.equal(res.status, 200);
                    last = JSON.parse(res.body.toString('utf8')).pos;
                }
                const b = await P.Client.connect(S.port, 'bob');
                await withClients([b], async () => {
                    const j = await b.join(room, { since: old });
                    assert.equal(j.recovered, false);
                    assert.equal(j.pos, last);
                    assert.equal(b.inbox.all.filter((m) => m.type === 'message').length, 0);
                });
            }).finally(() => h.close());
        });

        test('a since that no server could have issued gets bad_position', async () => {
            const room = newRoom();
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                for (const since of ['garbage', '12', 'zz-1', '1-x', 42, true, { pos: 1 }]) {
                    const e = await expectError(c, { type: 'join', room, since }, 'bad_position');
                    assert.equal(e.room, room);
                }
                await expectError(c, { type: 'history', room, since: 'garbage' }, 'bad_position');
                await c.join(room, { since: null }); // null is no since
            });
        });

        test('history: the latest messages, after since, at most limit', async () => {
            const room = newRoom();
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                await c.join(room);
                const pos = [];
                for (let i = 1; i <= 5; i++)
                    pos.push((await c.publish(room, `h${i}`)).pos);
                const msgs = (from, to) => pos.slice(from, to).map((p, k) => (
                    { pos: p, data: `h${from + k + 1}` }));

                const all = await c.request({ type: 'history', room, id: 'h1' });
                assert.equal(all.type, 'history');
                assert.equal(all.id, 'h1');
                assert.equal(all.room, room);
                assert.equal(all.recovered, true);
                assert.equal(all.pos, pos[4]);
                assert.deepEqual(all.messages, msgs(0, 5));

                const latest = await c.request({ type: 'history', room, limit: 2 });
                assert.deepEqual(latest.messages, msgs(3, 5), 'the latest two');

                const after2 = await c.request({ type: 'history', room, since: pos[1] });
                assert.equal(after2.recovered, true);
                assert.deepEqual(after2.messages, msgs(2, 5));

                const page = await c.request({ type: 'history', room, since: pos[1], limit: 2 });
                assert.deepEqual(page.messages, msgs(2, 4), 'the first two after since');
                assert.equal(page.pos, pos[4]);

                const none = await c.request({ type: 'history', room, since: pos[4] });
                assert.equal(none.recovered, true);
                assert.deepEqual(none.messages, []);

                const foreign = await c.request({ type: 'history', room,
                                                 since: otherEpoch(pos[0]) });
                assert.equal(foreign.type, 'history');
                assert.equal(foreign.recovered, false);
                assert.equal(foreign.pos, pos[4]);
            });
        });
    });

    describe('presence and typing', () => {
        test('presence lists {user, info, typing} with the count', async () => {
            const room = newRoom();
            const a = await P.Client.connect(S.port, 'alice');
            const b = await P.Client.connect(S.port, 'bob');
            await withClients([a, b], async () => {
                await a.join(room, { info: { name: 'Alice', tags: [1, 'two'] } });
                await b.join(room); // no info
                const r = await a.request({ type: 'presence', room, id: 'who' });
                assert.equal(r.type, 'presence');
                assert.equal(r.id, 'who');
                assert.equal(r.room, room);
                assert.equal(r.count, 2);
                const users = [...r.users].sort((x, y) => x.user.localeCompare(y.user));
                assert.deepEqual(users, [
                    { user: 'alice', info: { name: 'Alice', tags: [1, 'two'] }, typing: false },
                    { user: 'bob', info: null, typing: false },
                ]);
            });
        });

        test('join and leave reach the others, info as given; leave after the grace', async () => {
            const room = newRoom();
            const a = await P.Client.connect(S.port, 'alice');
            const b = await P.Client.connect(S.port, 'bob');
            await withClients([a, b], async () => {
                await a.join(room);
                const info = { name: 'Bob', colour: '#0af', n: [1.5, null, true] };
                await b.join(room, { info });
                assert.deepEqual(await a.take({ type: 'presence', event: 'join' }),
                                 { type: 'presence', room, user: 'bob', event: 'join', info });
                const t0 = Date.now();
                await b.request({ type: 'leave', room });
                const ev = await a.take({ type: 'presence', event: 'leave' }, GRACE + 5000);
                assert.deepEqual(ev, { type: 'presence', room, user: 'bob', event: 'leave', info });
                assert.ok(Date.now() - t0 >= GRACE - 100, `leave after ${Date.now() - t0} ms`);
                assert.deepEqual(b.inbox.all.filter((m) => m.type === 'presence'), [],
                                 'bob joined after alice: no event about her, none about himself');
            });
        });

        test('a reconnect within the grace period shows no leave and no join', async () => {
            const room = newRoom();
            const a = await P.Client.connect(S.port, 'alice');
            await withClients([a], async () => {
                await a.join(room);
                const b1 = await P.Client.connect(S.port, 'bob');
                await b1.join(room, { info: 'tab' });
                await a.take({ type: 'presence', event: 'join', user: 'bob' });
                await b1.close(); // a page reload: the last connection goes...
                const b2 = await P.Client.connect(S.port, 'bob');
                await withClients([b2], async () => {
                    await b2.join(room, { info: 'tab' }); // ...and comes back in time
                    assert.deepEqual(await a.quiet({ type: 'presence' }, GRACE + 400), []);
                    const r = await a.request({ type: 'presence', room });
                    assert.equal(r.count, 2);
                    // The connection closing for good: leave after the grace.
                    const t0 = Date.now();
                    await b2.close();
                    const ev = await a.take({ type: 'presence', event: 'leave' }, GRACE + 5000);
                    assert.equal(ev.user, 'bob');
                    assert.ok(Date.now() - t0 >= GRACE - 100, `leave after ${Date.now() - t0} ms`);
                });
            });
        });

        test('typing reaches the others, shows in presence, and expires by itself', async () => {
            const room = newRoom();
            const a = await P.Client.connect(S.port, 'alice');
            const b = await P.Client.connect(S.port, 'bob');
            await withClients([a, b], async () => {
                await a.join(room);
                await b.join(room);
                const t0 = Date.now();
                b.send({ type: 'typing', room, on: true, id: 't1' });
                assert.deepEqual(await a.take({ type: 'typing' }),
                                 { type: 'typing', room, user: 'bob', on: true });
                const r = await a.request({ type: 'presence', room });
                assert.equal(r.users.find((u) => u.user === 'bob').typing, true);
                assert.equal(r.users.find((u) => u.user === 'alice').typing, false);
                assert.deepEqual(await a.take({ type: 'typing' }, TYPING + 5000),
                                 { type: 'typing', room, user: 'bob', on: false });
                assert.ok(Date.now() - t0 >= TYPING - 100, `stopped after ${Date.now() - t0} ms`);
                assert.equal(b.inbox.all.some((m) => m.id === 't1'), false, 'typing has no reply');
                b.send({ type: 'typing', room, on: true });
                await a.take({ type: 'typing', on: true });
                b.send({ type: 'typing', room, on: false });
                await a.take({ type: 'typing', on: false }, 2000);
            });
        });

        test('info over 256 bytes is too_large', async () => {
            const room = newRoom();
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                const e = await expectError(c, { type: 'join', room, info: 'i'.repeat(300) },
                                            'too_large');
                assert.equal(e.room, room);
                await expectError(c, { type: 'publish', room, data: 'x' }, 'not_joined');
                await c.join(room, { info: 'i'.repeat(254) }); // 256 bytes of JSON
            });
        });

        test('unknown fields are ignored', async () => {
            const room = newRoom();
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                const j = await c.request({ type: 'join', room, extra: { deep: [1] }, x: 'y' });
                assert.equal(j.type, 'joined');
            });
        });
    });

    describe('ping, ids and errors', () => {
        test('ping answers pong echoing the id; pong gets no answer', async () => {
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                for (const id of [99, 'abc'])
                    assert.deepEqual(await c.request({ type: 'ping', id }), { type: 'pong', id });
                c.send({ type: 'pong', id: 'nope' });
                c.send({ type: 'ping' });
                assert.deepEqual(await c.take({ type: 'pong' }), { type: 'pong' }, 'no id to echo');
                assert.deepEqual(c.inbox.pending(), [], 'nothing answers a pong');
            });
        });

        test('ids are echoed: numbers and strings up to 64 bytes, also on errors', async () => {
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                const ids = [0, 7, -3, 1.25, 1e21, '', 'x', 'quote " and \\ and é',
                             'i'.repeat(64)];
                for (const id of ids) {
                    const r = await c.request({ type: 'ping', id });
                    assert.deepEqual(r, { type: 'pong', id });
                }
                const e = await c.request({ type: 'join', room: 'bad room', id: 'e1' });
                assert.equal(e.type, 'error');
                assert.equal(e.id, 'e1');
                // Longer strings and other JSON values are not echoed.
                for (const id of ['i'.repeat(65), { a: 1 }, [1], true, null]) {
                    c.send({ type: 'ping', id });
                    assert.deepEqual(await c.take({ type: 'pong' }), { type: 'pong' },
                                     JSON.stringify(id));
                }
                const u = await c.request({ type: 'nope', id: 5 });
                assert.equal(u.code, 'unknown_type');
                assert.equal(u.id, 5);
            });
        });

        test('malformed JSON, arrays and scalars get bad_json; the connection stays', async () => {
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                for (const text of ['not json', '{"type":"ping"', '[{"type":"ping"}]', '[]',
                                    '"ping"', '42', 'null', '{"type":"ping",}']) {
                    c.send(text);
                    const e = await c.take({ type: 'error' }, 5000, `the error for ${text}`);
                    assert.equal(e.code, 'bad_json', text);
                    await stillOpen(c);
                }
                // Too deep or too many parts for one request.
                c.send(`{"type":"ping","x":${'['.repeat(200)}${']'.repeat(200)}}`);
                assert.equal((await c.take({ type: 'error' })).code, 'bad_json');
                await stillOpen(c);
            });
        });

        test('no type is bad_request; unknown and reserved types are unknown_type', async () => {
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                await expectError(c, { room: 'x' }, 'bad_request');
                for (const type of ['nope', 'crdt', 'server', 'Ping', 5, null])
                    await expectError(c, { type }, 'unknown_type');
                await stillOpen(c);
            });
        });

        test('the 20th malformed request closes the connection with 1008', async () => {
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                const bad = ['nope', '[1]', '{}', '{"type":"crdt"}', '{"type":"what"}'];
                for (let i = 0; i < 19; i++) {
                    c.send(bad[i % bad.length]);
                    await c.take({ type: 'error' });
                }
                await stillOpen(c);
                c.send('nope');
                assert.equal((await c.take({ type: 'error' })).code, 'bad_json');
                assert.equal((await c.closedWithin()).code, 1008);
            });
        });

        test('refusals do not count towards the error limit', async () => {
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                for (let i = 0; i < 25; i++) {
                    await expectError(c, { type: 'join', room: 'bad room' }, 'bad_room');
                    await expectError(c, { type: 'publish', room: 'nj', data: '' }, 'not_joined');
                }
                await stillOpen(c);
            });
        });
    });

    describe('auth', () => {
        test('an upgrade without a token, or with a rejected one, gets HTTP 401', async () => {
            assert.equal((await P.refused(S.port, {})).status, 401);
            for (const token of ['', 'has space', 'semi;colon', 'x'.repeat(33), 'é'])
                assert.equal((await P.refused(S.port, { token })).status, 401, `token ${token}`);
            for (const headers of [{ Authorization: 'Bearer bad token' },
                                   { Authorization: 'Basic YTpi' }, { Cookie: 'other=alice' }])
                assert.equal((await P.refused(S.port, { headers })).status, 401);
        });

        test('the token may come as Authorization: Bearer or as the rt_token cookie', async () => {
            const a = await P.Client.connect(S.port, undefined, {
                headers: { Authorization: 'Bearer bearer-user' } });
            const b = await P.Client.connect(S.port, undefined, {
                headers: { Cookie: 'theme=dark; rt_token=cookie_user; x=1' } });
            await withClients([a, b], async () => {
                assert.equal(a.hello.user, 'bearer-user');
                assert.equal(b.hello.user, 'cookie_user');
            });
        });

        test('the token is read from ?token= first, then Bearer, then the cookie', async () => {
            const a = await P.Client.connect(S.port, 'query', {
                headers: { Authorization: 'Bearer header', Cookie: 'rt_token=cookie' } });
            const b = await P.Client.connect(S.port, undefined, {
                headers: { Authorization: 'Bearer header', Cookie: 'rt_token=cookie' } });
            await withClients([a, b], async () => {
                assert.equal(a.hello.user, 'query');
                assert.equal(b.hello.user, 'header');
            });
        });
    });

    describe('permissions', () => {
        // The chat demo's rules: "private.NAME" is NAME's alone; only admin posts in "news".
        test('a refused join or publish gets forbidden, and nothing happens', async () => {
            const alice = await P.Client.connect(S.port, 'alice');
            const admin = await P.Client.connect(S.port, 'admin');
            await withClients([alice, admin], async () => {
                await expectError(alice, { type: 'join', room: 'private.bob' }, 'forbidden');
                const own = await alice.request({ type: 'join', room: 'private.alice' });
                assert.equal(own.type, 'joined');
                await alice.join('news');
                await admin.join('news');
                await expectError(alice, { type: 'publish', room: 'news', data: 'spam' },
                                  'forbidden');
                const ok = await admin.request({ type: 'publish', room: 'news', data: 'hi' });
                assert.equal(ok.type, 'published');
                const h = await alice.request({ type: 'history', room: 'news' });
                assert.deepEqual(h.messages.map((m) => m.data), ['hi']);
                await stillOpen(alice); // a refusal is not a protocol error
            });
        });
    });

    describe('origin', () => {
        test('a WebSocket upgrade from a foreign origin gets 403', async () => {
            const from = async (origin) =>
                (await P.refused(S.port, { token: 'alice', origin })).status;
            assert.equal(await from('http://evil.example'), 403);
            assert.equal(await from('http://127.0.0.1:1'), 403, 'another port, another origin');
            assert.equal(await from('https://good.example'), 403, 'another scheme, another origin');
            assert.equal((await P.refused(S.port, { origin: 'http://evil.example' })).status, 403);
        });

        test('the page\'s own origin and an allowed one are accepted', async () => {
            const own = `http://${L.HOST}:${S.port}`;
            const a = await P.Client.connect(S.port, 'alice', { origin: own });
            const b = await P.Client.connect(S.port, 'bob', { origin: GOOD });
            await withClients([a, b], async () => {
                assert.equal(a.hello.user, 'alice');
                assert.equal(b.hello.user, 'bob');
            });
        });

        test('SSE, POST /publish and the /rt/ transport refuse a foreign origin: 403', async () => {
            const room = newRoom();
            const evil = { Origin: 'http://evil.example' };
            const sse = await P.streamHead(S.port, `/sse?room=${room}`, evil);
            sse.raw.destroy();
            assert.equal(sse.status, 403);
            const pub = `/publish?room=${room}`;
            assert.equal((await P.http(S.port, 'POST', pub, 'x', evil)).status, 403);
            const rtSse = await P.streamHead(S.port, '/rt/sse?session=o1&token=alice', evil);
            rtSse.raw.destroy();
            assert.equal(rtSse.status, 403);
            const ping = { type: 'ping' };
            assert.equal((await P.http(S.port, 'POST', '/rt/send?session=o1', ping, evil)).status,
                         403);
            // Nothing was published by the refused POST.
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                await c.join(room);
                assert.deepEqual((await c.request({ type: 'history', room })).messages, []);
            });
            // The same requests from an allowed origin go through.
            const ok = await P.streamHead(S.port, `/sse?room=${room}`, { Origin: GOOD });
            ok.raw.destroy();
            assert.equal(ok.status, 200);
            assert.equal(ok.headers['content-type'].split(';')[0], 'text/event-stream');
            assert.equal((await P.http(S.port, 'POST', pub, 'x', { Origin: GOOD })).status, 200);
        });
    });

    describe('SSE + POST transport', () => {
        test('the stream opens with connected; events are unnamed and carry no id', async () => {
            const s = await P.SseSession.open(S.port, 'sess.a:1@x-y_z', 'dave');
            try {
                assert.deepEqual(s.hello, { type: 'connected', user: 'dave',
                                            session: 'sess.a:1@x-y_z', heartbeat: 15000 });
                const r = await s.request({ type: 'ping', id: 'sp' });
                assert.deepEqual(r, { type: 'pong', id: 'sp' });
                assert.equal(s.withId, 0, 'no event carries an id');
            } finally {
                s.close();
            }
        });

        test('POST join and publish answer 202 {}; the replies arrive on the stream', async () => {
            const room = newRoom();
            const s = await P.SseSession.open(S.port, 'sess-b', 'dave');
            try {
                const res = await s.post({ type: 'join', room, id: 1 });
                assert.equal(res.status, 202);
                assert.deepEqual(res.json, {});
                const j = await s.take({ id: 1 });
                assert.equal(j.type, 'joined');
                assert.equal(j.recovered, true);
                const res2 = await s.post({ type: 'publish', room, data: 'over post', id: 2 });
                assert.equal(res2.status, 202);
                assert.deepEqual(res2.json, {});
                const p = await s.take({ id: 2 });
                assert.equal(p.type, 'published');
                assert.deepEqual(await s.take({ type: 'message' }),
                                 { type: 'message', room, pos: p.pos, data: 'over post' });
                // Errors travel the same way.
                assert.equal((await s.post('not json')).status, 202);
                assert.equal((await s.take({ type: 'error' })).code, 'bad_json');
                assert.equal((await s.request({ type: 'publish', room: 'other', data: 'x' })).code,
                             'not_joined');
            } finally {
                s.close();
            }
        });

        test('join with since over SSE: the replayed messages, then joined', async () => {
            const room = newRoom();
            const c = await P.Client.connect(S.port, 'alice');
            const s = await P.SseSession.open(S.port, 'sess-c', 'dave');
            try {
                await c.join(room);
                const p1 = (await c.publish(room, 'one')).pos;
                const p2 = (await c.publish(room, 'two')).pos;
                const p3 = (await c.publish(room, 'three')).pos;
                const j = await s.request({ type: 'join', room, since: p1 });
                const got = s.inbox.all.slice(1, s.inbox.all.indexOf(j));
                assert.deepEqual(got, [{ type: 'message', room, pos: p2, data: 'two' },
                                       { type: 'message', room, pos: p3, data: 'three' }]);
                assert.equal(j.recovered, true);
                assert.equal(j.pos, p3);
            } finally {
                s.close();
                await c.close();
            }
        });

        test('a WebSocket client and an SSE + POST client see each other', async () => {
            const room = newRoom();
            const w = await P.Client.connect(S.port, 'erin');
            const s = await P.SseSession.open(S.port, 'sess-d', 'dave');
            try {
                await w.join(room);
                await s.request({ type: 'join', room, info: { via: 'sse' } });
                assert.deepEqual(await w.take({ type: 'presence' }),
                                 { type: 'presence', room, user: 'dave', event: 'join',
                                   info: { via: 'sse' } });
                const pw = (await w.publish(room, 'from ws')).pos;
                assert.deepEqual(await s.take({ type: 'message' }),
                                 { type: 'message', room, pos: pw, data: 'from ws' });
                const ps = (await s.request({ type: 'publish', room, data: 'from sse' })).pos;
                await w.take({ type: 'message', pos: pw });
                assert.deepEqual(await w.take({ type: 'message' }),
                                 { type: 'message', room, pos: ps, data: 'from sse' });
                assert.equal((await s.post({ type: 'typing', room, on: true })).status, 202);
                assert.deepEqual(await w.take({ type: 'typing' }),
                                 { type: 'typing', room, user: 'dave', on: true });
            } finally {
                s.close();
                await w.close();
            }
        });

        test('a POST for a session with no stream gets 404 no_session', async () => {
            const res = await P.http(S.port, 'POST', '/rt/send?session=nobody-here',
                                     { type: 'ping' });
            assert.equal(res.status, 404);
            assert.equal(res.json.type, 'error');
            assert.equal(res.json.code, 'no_session');
            assert.equal(typeof res.json.message, 'string');
        });

        test('a stream without a valid token gets 401; a new stream replaces the old', async () => {
            const none = await P.streamHead(S.port, '/rt/sse?session=sess-e');
            none.raw.destroy();
            assert.equal(none.status, 401);
            const bad = await P.streamHead(S.port, '/rt/sse?session=sess-e&token=no%20way');
            bad.raw.destroy();
            assert.equal(bad.status, 401);
            const first = await P.streamHead(S.port, '/rt/sse?session=sess-e',
                                             { Authorization: 'Bearer dave' });
            try {
                assert.equal(first.status, 200);
                const second = await P.streamHead(S.port, '/rt/sse?session=sess-e',
                                                  { Cookie: 'rt_token=dave' });
                try {
                    assert.equal(second.status, 200);
                    await first.raw.gone(5000); // the old stream is closed
                    // A POST must carry the stream user's token.
                    const ping = { type: 'ping', id: 'after' };
                    assert.equal((await P.http(S.port, 'POST', '/rt/send?session=sess-e',
                                               ping)).status, 401);
                    assert.equal((await P.http(S.port, 'POST',
                                               '/rt/send?session=sess-e&token=erin', ping)).status,
                                 403);
                    // Another user cannot take the session over.
                    const thief = await P.streamHead(S.port, '/rt/sse?session=sess-e&token=erin');
                    thief.raw.destroy();
                    assert.equal(thief.status, 403);
                    const r = await P.http(S.port, 'POST', '/rt/send?session=sess-e&token=dave',
                                           ping);
                    assert.equal(r.status, 202);
                    await second.raw.wait(() => second.raw.buf.includes('"after"'), 5000,
                                          'the pong on the new stream');
                    // Every server message is one unnamed event (type message)
                    // with one data line and no id.
                    const body = second.raw.buf.toString('utf8');
                    assert.match(body, /^data: \{"type":"connected",/m);
                    assert.match(body, /^data: \{"type":"pong","id":"after"\}$/m);
                    assert.doesNotMatch(body, /^(event|id):/m);
                } finally {
                    second.raw.destroy();
                }
            } finally {
                first.raw.destroy();
            }
        });
    });
});

describe('heartbeat', () => {
    const HB = 200;
    const S = serverFor(['--heartbeat-ms', String(HB)]);

    test('the server\'s ping arrives every heartbeat ms, as connected announced', async () => {
        const c = await P.Client.connect(S.port, 'alice');
        await withClients([c], async () => {
            assert.equal(c.hello.heartbeat, HB);
            await L.until(() => c.inbox.pings.length >= 6, 20 * HB + 5000, 'six pings');
            const at = c.inbox.pings;
            const gaps = at.slice(1).map((t, i) => t - at[i]).sort((x, y) => x - y);
            // Not early (a tolerance for timer rounding), and not so late that
            // rt.js (which gives up after 2.5 heartbeats of silence) would call
            // the link dead.
            assert.ok(gaps[0] >= HB / 2, `gaps ${gaps}`);
            assert.ok(gaps[Math.floor(gaps.length / 2)] < 2.5 * HB, `gaps ${gaps}`);
            c.send({ type: 'pong' });
            await stillOpen(c);
        });
    });
});

describe('presence of clients that vanish', () => {
    // WebSocket pings every 200 ms, a silent client is dropped after 600 ms,
    // then its presence leaves after a 300 ms grace; typing lasts 5 s.
    const S = serverFor(['--ping-ms', '200', '--idle-ms', '600', '--presence-grace-ms', '300']);

    test('a client that stops answering is dropped, then leaves after the grace', async () => {
        const room = newRoom();
        const w = await P.Client.connect(S.port, 'watcher');
        const ghost = await P.rawProto(S.port, 'ghost');
        try {
            await w.join(room);
            ghost.sendJson({ type: 'join', room, info: { n: 1 } });
            assert.deepEqual(await w.take({ type: 'presence', event: 'join' }),
                             { type: 'presence', room, user: 'ghost', event: 'join',
                               info: { n: 1 } });
            // The ghost answers no ping: the heartbeat drops it...
            await ghost.gone(10000);
            // ...and the room hears it leave, while the watcher (whose ws
            // client answers pings) stays.
            assert.deepEqual(await w.take({ type: 'presence', event: 'leave' }, 10000),
                             { type: 'presence', room, user: 'ghost', event: 'leave',
                               info: { n: 1 } });
            assert.equal(w.open, true);
            assert.equal((await w.request({ type: 'presence', room })).count, 1);
        } finally {
            ghost.destroy();
            await w.close();
        }
    });

    test('typing stops when the user\'s message arrives', async () => {
        const room = newRoom();
        const a = await P.Client.connect(S.port, 'alice');
        const b = await P.Client.connect(S.port, 'bob');
        await withClients([a, b], async () => {
            await a.join(room);
            await b.join(room);
            b.send({ type: 'typing', room, on: true });
            await a.take({ type: 'typing', user: 'bob', on: true });
            const p = (await b.publish(room, 'done typing')).pos;
            await a.take({ type: 'message', pos: p });
            // Well inside the 5 s the indicator would last by itself.
            assert.deepEqual(await a.take({ type: 'typing' }, 2000),
                             { type: 'typing', room, user: 'bob', on: false });
            const r = await a.request({ type: 'presence', room });
            assert.equal(r.users.find((u) => u.user === 'bob').typing, false);
        });
    });
});

// Sends n publishes at once and collects one answer for each: published or
// a rate_limited error (which cannot echo an id: it refuses the message
// unread).
async function burst(c, room, n, data) {
    const before = c.inbox.all.length;
    for (let i = 0; i < n; i++)
        c.send({ type: 'publish', room, data, id: `b${i}` });
    const answers = () => c.inbox.all.slice(before).filter((m) =>
        m.type === 'published' || (m.type === 'error' && m.code === 'rate_limited'));
    await L.until(() => answers().length >= n, 10000, `${n} answers (have ${answers().length})`);
    const got = answers();
    return {
        published: got.filter((m) => m.type === 'published'),
        limited: got.filter((m) => m.type === 'error'),
    };
}

// Floods until the server closes the connection (bounded).
async function floodUntilClosed(c, room, data) {
    let closed = null;
    c.closed.then((e) => { closed = e; });
    for (let i = 0; i < 2000 && !closed && c.open; i++) {
        c.send({ type: 'publish', room, data });
        if (i % 100 === 99)
            await L.sleep(0);
    }
    return c.closedWithin(5000);
}

function checkLimited(limited) {
    assert.ok(limited.length >= 1, 'some are refused');
    for (const e of limited) {
        assert.equal(e.code, 'rate_limited');
        assert.equal(typeof e.retry_after, 'number');
        assert.ok(Number.isInteger(e.retry_after) && e.retry_after > 0, JSON.stringify(e));
        assert.equal(typeof e.message, 'string');
    }
}

describe('rate limits', () => {
    describe('messages per second', () => {
        const S = serverFor(['--rate-msgs', '5']);

        test('a burst: some published, some rate_limited; a flood: close 1008', async () => {
            const room = newRoom();
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                await c.join(room);
                // 15 at once: the bucket holds 5 (minus the join); the
                // refusals stay under the 20 in a row that close.
                const { published, limited } = await burst(c, room, 15, 'x');
                assert.ok(published.length >= 1, 'some go through');
                checkLimited(limited);
                assert.equal(published.length + limited.length, 15);
                await L.sleep(Math.max(...limited.map((e) => e.retry_after)) + 50);
                await stillOpen(c);
                assert.equal(c.open, true);
                // Keeping on sending while refused: 1008.
                assert.equal((await floodUntilClosed(c, room, 'x')).code, 1008);
            });
        });
    });

    describe('bytes per second', () => {
        const S = serverFor(['--rate-msgs', '0', '--rate-bytes', '20000']);

        test('big messages are refused once the bytes are spent; a flood: close 1008', async () => {
            const room = newRoom();
            const c = await P.Client.connect(S.port, 'alice');
            await withClients([c], async () => {
                await c.join(room);
                const big = 'b'.repeat(6000);
                const { published, limited } = await burst(c, room, 10, big);
                assert.ok(published.length >= 1, 'some go through');
                checkLimited(limited);
                assert.equal(published.length + limited.length, 10);
                await L.sleep(Math.max(...limited.map((e) => e.retry_after)) + 50);
                await stillOpen(c);
                assert.equal((await floodUntilClosed(c, room, big)).code, 1008);
            });
        });
    });

    describe('new connections per second', () => {
        const S = serverFor(['--accept-rate', '3']);

        test('connections over the rate get 429 with Retry-After, then work again', async () => {
            const tries = await Promise.allSettled(Array.from({ length: 8 }, (_, i) =>
                P.Client.connect(S.port, `u${i}`)));
            const opened = tries.filter((t) => t.status === 'fulfilled').map((t) => t.value);
            const refusedT = tries.filter((t) => t.status === 'rejected');
            try {
                for (const t of refusedT) {
                    assert.equal(t.reason.status, 429, String(t.reason));
                    assert.match(t.reason.headers['retry-after'] || '', /^[0-9]+$/);
                }
                // 3 a second: 8 at once may straddle two seconds, so at most 6 pass.
                assert.ok(opened.length >= 1 && opened.length <= 6, `${opened.length} opened`);
                assert.ok(refusedT.length >= 2, `${refusedT.length} refused`);
            } finally {
                await Promise.all(opened.map((c) => c.close()));
            }
            const raw = await P.http(S.port, 'GET', '/');
            if (raw.status === 429)
                assert.match(raw.headers['retry-after'] || '', /^[0-9]+$/);
            await L.sleep(1100);
            const again = await P.Client.connect(S.port, 'later');
            await withClients([again], async () => {
                assert.equal(again.hello.user, 'later');
            });
        });
    });
});
