// echo.test.mjs - the echo example (examples/01_echo.c) over real sockets,
// with the npm `ws` client and with raw TCP for what no polite client sends.
//
// The whole suite runs against both loop backends: build/echo (poll) and
// build/echo-epoll (-DRT_BACKEND_EPOLL). The graceful shutdown also runs
// against build/asan/echo (ASan + UBSan), which must exit 0 and report
// nothing. Every server is started on --port 0 and killed in after hooks;
// every wait has a timeout; nothing asserts that something was fast.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as L from './lib.mjs';

const { WebSocket } = L;
const MiB = 1 << 20;
const TEXT = 1, BINARY = 2, CLOSE = 8, PING = 9, PONG = 10;

after(L.stopAll);

async function withServer(bin, args, fn, opts) {
    const srv = await L.startServer(bin, args, opts);
    try {
        return await fn(srv);
    } finally {
        await srv.stop();
    }
}

// The server failed the connection: a close frame with `code` (unmasked, as
// a server's must be), then the end of the TCP stream.
async function expectFail(r, code) {
    const f = await r.frame();
    assert.equal(f.opcode, CLOSE, `expected a close frame, got opcode ${f.opcode}`);
    assert.equal(f.masked, false);
    assert.equal(f.fin, true);
    assert.equal(f.code, code);
    await r.gone();
    assert.equal(r.buf.length, 0, 'nothing after the close frame');
    assert.equal(r.error, null, 'a clean close (FIN), not a reset');
}

// An HTTP error answer followed by the end of the connection.
async function expectHttpError(r, status) {
    const res = await r.response();
    assert.equal(res.status, status, res.head);
    assert.equal(res.headers.connection, 'close');
    await r.gone();
    return res;
}

async function ws(port, opts) {
    return L.openWs(port, opts);
}

// Opens a ws client, or returns the rejection ({status, headers} for an
// HTTP answer other than 101).
function tryWs(port) {
    return L.openWs(port).then((w) => ({ ws: w }), (e) => ({ err: e }));
}

async function echoOnce(w, data) {
    const n = w.inbox.length;
    w.send(data);
    const box = await L.inbox(w, n + 1);
    return box[n];
}

function clientSuite(bin) {
    describe('npm ws client', () => {
        let srv;
        before(async () => { srv = await L.startServer(bin); });
        after(() => srv.stop());

        test('text echo', async () => {
            const w = await ws(srv.port);
            const m = await echoOnce(w, 'hello, wörld ✓');
            assert.equal(m.isBinary, false);
            assert.equal(m.data.toString('utf8'), 'hello, wörld ✓');
            w.close();
            await w.closed;
        });

        test('binary echo is byte-exact: 1 MiB - 1, empty, small', async () => {
            const w = await ws(srv.port);
            const big = randomBytes(MiB - 1);
            const small = Buffer.from([0, 255, 1, 128, 0x7f, 0x80]);
            w.send(big);
            w.send(Buffer.alloc(0));
            w.send(small);
            const box = await L.inbox(w, 3, 10000);
            assert.equal(box.length, 3);
            assert.ok(box.every((m) => m.isBinary));
            assert.equal(box[0].data.length, MiB - 1);
            assert.ok(box[0].data.equals(big), '1 MiB - 1 echo differs');
            assert.equal(box[1].data.length, 0);
            assert.ok(box[2].data.equals(small));
            w.close();
            await w.closed;
        });

        test('a fragmented message comes back whole', async () => {
            const w = await ws(srv.port);
            w.send('frag', { fin: false });
            w.send('men', { fin: false });
            w.send('ted', { fin: true });
            const parts = [randomBytes(1000), randomBytes(70000), randomBytes(3)];
            w.send(parts[0], { binary: true, fin: false });
            w.send(parts[1], { binary: true, fin: false });
            w.send(parts[2], { binary: true, fin: true });
            const box = await L.inbox(w, 2);
            assert.equal(box.length, 2);
            assert.equal(box[0].isBinary, false);
            assert.equal(box[0].data.toString(), 'fragmented');
            assert.equal(box[1].isBinary, true);
            assert.ok(box[1].data.equals(Buffer.concat(parts)));
            w.close();
            await w.closed;
        });

        test('a ping is answered by a pong with the same payload', async () => {
            const w = await ws(srv.port);
            const payload = Buffer.from('ping-payload-\x00\xff-123');
            const pong = L.withTimeout(new Promise((r) => w.once('pong', r)), 5000, 'pong');
            w.ping(payload);
            assert.ok((await pong).equals(payload));
            w.close();
            await w.closed;
        });

        test('a client close with 4000 and a reason is echoed with 4000', async () => {
            const w = await ws(srv.port);
            w.close(4000, 'done here');
            const c = await L.withTimeout(w.closed, 5000, 'close event');
            assert.equal(c.code, 4000);
        });

        test('a message over the 1 MiB limit is refused with 1009', async () => {
            const w = await ws(srv.port);
            w.send(Buffer.alloc(MiB + 1, 0x61));
            const c = await L.withTimeout(w.closed, 10000, 'close event');
            assert.equal(c.code, 1009);
            const w2 = await ws(srv.port); // the server is fine
            assert.equal((await echoOnce(w2, 'after')).data.toString(), 'after');
            w2.close();
        });
    });
}

function rawSuite(bin) {
    describe('raw TCP', () => {
        let srv;
        before(async () => { srv = await L.startServer(bin); });
        after(() => srv.stop());

        test('a garbage request line gets 400 and the connection closed', async () => {
            const r = await L.Raw.connect(srv.port);
            r.write('@@@ this is not http @@@\r\n\r\n');
            await expectHttpError(r, 400);
        });

        test('Sec-WebSocket-Version: 8 gets 426 with Sec-WebSocket-Version: 13', async () => {
            const r = await L.Raw.connect(srv.port);
            r.write(L.upgradeRequest(srv.port, L.newKey()).replace('Version: 13', 'Version: 8'));
            const res = await expectHttpError(r, 426);
            assert.equal(res.headers['sec-websocket-version'], '13');
        });

        test('an upgrade without Sec-WebSocket-Key gets 400', async () => {
            const r = await L.Raw.connect(srv.port);
            r.write(L.upgradeRequest(srv.port, 'x').replace('Sec-WebSocket-Key: x\r\n', ''));
            await expectHttpError(r, 400);
        });

        test('the handshake: 101 with the exact Sec-WebSocket-Accept', async () => {
            // RFC 6455 1.3's example key, then a random one.
            assert.equal(L.acceptFor('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
            for (const key of ['dGhlIHNhbXBsZSBub25jZQ==', L.newKey()]) {
                const r = await L.Raw.connect(srv.port);
                r.write(L.upgradeRequest(srv.port, key));
                const res = await r.response();
                assert.equal(res.status, 101);
                assert.equal(res.headers['sec-websocket-accept'], L.acceptFor(key));
                assert.equal(res.headers.upgrade.toLowerCase(), 'websocket');
                assert.equal(res.headers.connection.toLowerCase(), 'upgrade');
                r.write(L.frame(TEXT, 'raw hello'));
                const f = await r.frame();
                assert.deepEqual([f.opcode, f.fin, f.masked], [TEXT, true, false]);
                assert.equal(f.payload.toString(), 'raw hello');
                r.destroy();
            }
        });

        test('a frame sent in the same packet as the handshake is echoed', async () => {
            const r = await L.Raw.connect(srv.port);
            const key = L.newKey();
            r.write(Buffer.concat([Buffer.from(L.upgradeRequest(srv.port, key)),
                                   L.frame(TEXT, 'eager')]));
            const res = await r.response();
            assert.equal(res.status, 101);
            const f = await r.frame();
            assert.equal(f.opcode, TEXT);
            assert.equal(f.payload.toString(), 'eager');
            r.destroy();
        });

        const violations = [
            ['an unmasked client frame', () => L.frame(TEXT, 'hi', { mask: false }), 1002],
            ['RSV1 without an extension', () => L.frame(TEXT, 'hi', { rsv: 4 }), 1002],
            ['reserved opcode 3', () => L.frame(3, 'hi'), 1002],
            ['invalid UTF-8 in a text frame', () => L.frame(TEXT, Buffer.from([0xc0, 0xaf])), 1007],
            ['a ping with a 126-byte payload', () => L.frame(PING, Buffer.alloc(126)), 1002],
            ['close code 1005 on the wire', () => L.frame(CLOSE, L.closePayload(1005)), 1002],
            ['a fragmented ping', () => L.frame(PING, 'x', { fin: false }), 1002],
            ['close code 999', () => L.frame(CLOSE, L.closePayload(999)), 1002],
            ['close code 1004 (reserved)', () => L.frame(CLOSE, L.closePayload(1004)), 1002],
            ['a 1-byte close payload', () => L.frame(CLOSE, Buffer.from([3])), 1002],
            ['a close reason that is not UTF-8',
             () => L.frame(CLOSE, Buffer.concat([L.closePayload(1000), Buffer.from([0xff])])),
             1007],
            ['a continuation with no message begun', () => L.frame(0, 'x'), 1002],
            ['a new message inside a fragmented one',
             () => Buffer.concat([L.frame(TEXT, 'a', { fin: false }), L.frame(TEXT, 'b')]), 1002],
        ];
        for (const [what, make, code] of violations) {
            test(`${what} fails the connection with ${code}`, async () => {
                const r = await L.rawWs(srv.port);
                r.write(make());
                await expectFail(r, code);
            });
        }

        test('a frame header announcing 1 MiB + 1 gets 1009 before any payload', async () => {
            const r = await L.rawWs(srv.port);
            const head = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 1, 1, 2, 3, 4]);
            r.write(head);
            await expectFail(r, 1009);
        });

        test('a message over the limit, sent whole, still gets a clean close', async () => {
            // The server reads on after the 1009 and drops it, so the client
            // sees the close frame and a FIN, never a reset (several rounds:
            // how the kernel splits the reads varies).
            for (let i = 0; i < 5; i++) {
                const r = await L.rawWs(srv.port);
                r.write(L.frame(BINARY, Buffer.alloc(MiB + 1, 0x62)));
                await expectFail(r, 1009);
                r.destroy();
            }
        });

        test('a ping between fragments is answered, then the message comes whole',
             async () => {
            const r = await L.rawWs(srv.port);
            r.write(Buffer.concat([L.frame(TEXT, 'one ', { fin: false }), L.frame(PING, 'p!'),
                                   L.frame(0, 'two', { fin: true })]));
            const pong = await r.frame();
            assert.deepEqual([pong.opcode, pong.payload.toString()], [PONG, 'p!']);
            const msg = await r.frame();
            assert.deepEqual([msg.opcode, msg.fin, msg.payload.toString()],
                             [TEXT, true, 'one two']);
            r.destroy();
        });

        test('a client close is answered with the same code, then the server hangs up',
             async () => {
            const r = await L.rawWs(srv.port);
            r.write(L.frame(CLOSE, L.closePayload(1000, 'bye')));
            await expectFail(r, 1000);
            const r2 = await L.rawWs(srv.port);
            r2.write(L.frame(CLOSE)); // no status: the answer carries none either
            const f = await r2.frame();
            assert.deepEqual([f.opcode, f.payload.length], [CLOSE, 0]);
            await r2.gone();
        });

        test('a request sent one byte at a time still gets its handshake', async () => {
            const r = await L.Raw.connect(srv.port);
            const key = L.newKey();
            const req = Buffer.from(L.upgradeRequest(srv.port, key));
            for (let i = 0; i < req.length; i++) {
                r.write(req.subarray(i, i + 1));
                await L.sleep(i % 8 === 0 ? 5 : 0); // a pause now and then: separate reads
            }
            const res = await r.response();
            assert.equal(res.status, 101);
            assert.equal(res.headers['sec-websocket-accept'], L.acceptFor(key));
            const fr = L.frame(BINARY, Buffer.from([1, 2, 3, 4, 5]));
            for (let i = 0; i < fr.length; i++) {
                r.write(fr.subarray(i, i + 1));
                await L.sleep(2);
            }
            const f = await r.frame();
            assert.deepEqual([...f.payload], [1, 2, 3, 4, 5]);
            r.destroy();
        });

        test('a request head over 8 KiB gets 431', async () => {
            const r = await L.Raw.connect(srv.port);
            r.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`);
            await expectHttpError(r, 431);
        });
    });
}

function httpSuite(bin) {
    describe('HTTP', () => {
        test('slowloris: a request that never completes gets 408', async () => {
            await withServer(bin, ['--request-ms', '500'], async (srv) => {
                const r = await L.Raw.connect(srv.port);
                const t0 = Date.now();
                r.write('GET / HTTP/1.1\r\n');
                await expectHttpError(r, 408);
                // Lower bound only: the server must not give up before its timeout.
                assert.ok(Date.now() - t0 >= 400, `408 after ${Date.now() - t0} ms`);
            });
        });

        test('keep-alive: requests on one connection, then Connection: close', async () => {
            await withServer(bin, [], async (srv) => {
                const r = await L.Raw.connect(srv.port);
                const get = `GET / HTTP/1.1\r\nHost: ${L.HOST}\r\n\r\n`;
                r.write(get);
                const a = await r.response();
                r.write(get);
                const b = await r.response();
                for (const res of [a, b]) {
                    assert.equal(res.status, 200);
                    assert.match(res.headers['content-type'], /^text\/html/);
                    assert.match(res.body.toString(), /<title>rt\.h echo<\/title>/);
                    assert.notEqual(res.headers.connection, 'close');
                }
                // Pipelined: a POST whose body comes in two pieces, a GET, a 404.
                r.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello`);
                await L.sleep(50);
                r.write(`world${get}GET /nope HTTP/1.1\r\nHost: x\r\n\r\n`);
                assert.equal((await r.response()).status, 200);
                assert.equal((await r.response()).status, 200);
                const nf = await r.response();
                assert.equal(nf.status, 404);
                assert.equal(nf.body.toString(), '404 Not Found\n');
                assert.notEqual(nf.headers.connection, 'close', 'a 404 keeps the connection');
                r.write(`GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
                const c = await r.response();
                assert.equal(c.status, 200);
                assert.equal(c.headers.connection, 'close');
                assert.ok(c.body.equals(a.body));
                await r.gone();
                assert.equal(r.buf.length, 0);
            });
        });

        test('big but legal: a 6 KiB head upgrades, a 64 KiB body is served, 1 more is 413',
             async () => {
            await withServer(bin, [], async (srv) => {
                const r = await L.Raw.connect(srv.port);
                const key = L.newKey();
                r.write(L.upgradeRequest(srv.port, key, `Cookie: a=${'c'.repeat(6000)}\r\n`));
                const res = await r.response();
                assert.equal(res.status, 101);
                assert.equal(res.headers['sec-websocket-accept'], L.acceptFor(key));
                const data = randomBytes(5000);
                r.write(L.frame(BINARY, data));
                assert.ok((await r.frame()).payload.equals(data));
                r.destroy();
                const h = await L.Raw.connect(srv.port);
                h.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n` +
                        `${'b'.repeat(65536)}GET / HTTP/1.1\r\nHost: x\r\n\r\n`);
                assert.equal((await h.response()).status, 200);
                assert.equal((await h.response()).status, 200);
                h.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n`);
                await expectHttpError(h, 413);
            });
        });

        test('HEAD gets the head a GET gets and no body', async () => {
            await withServer(bin, [], async (srv) => {
                const r = await L.Raw.connect(srv.port);
                r.write(`GET / HTTP/1.1\r\nHost: x\r\n\r\n`);
                const get = await r.response();
                // Pipelined behind the HEAD: its answer must start right after
                // the HEAD's blank line (RFC 9110 9.3.2).
                r.write(`HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n`);
                const head = await r.response(5000, true);
                assert.equal(head.status, 200);
                assert.equal(head.headers['content-length'], String(get.body.length));
                assert.equal(head.headers['content-type'], get.headers['content-type']);
                assert.equal(head.body.length, 0);
                const next = await r.response();
                assert.equal(next.status, 404);
                assert.equal(next.body.toString(), '404 Not Found\n');
                r.destroy();
            });
        });
    });
}

function limitsSuite(bin) {
    describe('limits', () => {
        test('a reader that never reads is closed; a normal client keeps every echo',
             async (t) => {
            const args = ['--max-pending', '65536', '--grace-ms', '500'];
            await withServer(bin, args, async (srv) => {
                const good = await ws(srv.port);
                const slow = await L.rawWs(srv.port);
                const fds = L.fdCount(srv.pid);
                const rss0 = L.rssKiB(srv.pid);
                slow.sock.pause(); // node stops reading once its small buffer is full
                // 8 MiB of 1 KiB echoes: more than loopback's socket buffers hold.
                const chunk = Buffer.concat(Array.from({ length: 64 },
                                                       () => L.frame(BINARY, randomBytes(1024))));
                let sent = 0;
                for (let i = 0; i < 128; i++) {
                    slow.write(chunk);
                    sent += 64 * 1024;
                }
                const want = [];
                for (let i = 0; i < 40 && !slow.error; i++) {
                    want.push(`m${i}`);
                    good.send(`m${i}`);
                    await L.sleep(25);
                }
                // The server drops the slow one: its descriptor goes away.
                await L.until(() => L.fdCount(srv.pid) === fds - 1, 10000,
                              'the server to close the slow reader');
                const rss1 = L.rssKiB(srv.pid), peak = L.peakKiB(srv.pid);
                t.diagnostic(`VmRSS ${rss0} KiB before, ${rss1} KiB after ${sent >> 20} MiB ` +
                             `(peak VmHWM ${peak} KiB)`);
                assert.ok(peak - rss0 < 64 * 1024, `RSS peaked ${peak - rss0} KiB higher`);
                while (want.length < 60) { // and more after it is gone
                    want.push(`m${want.length}`);
                    good.send(want[want.length - 1]);
                }
                const box = await L.inbox(good, want.length);
                assert.deepEqual(box.map((m) => m.data.toString()), want);
                assert.equal(good.readyState, WebSocket.OPEN);
                // The slow one sees its stream end, short of what it sent.
                slow.sock.resume();
                await slow.gone(10000);
                await L.sleep(50);
                t.diagnostic(`the slow reader got ${slow.received} of ${sent} echo bytes`);
                assert.ok(slow.received < sent, 'the server dropped what it could not send');
                good.close();
            });
        });

        test('a client that stops answering pings is dropped; a live one stays',
             async () => {
            await withServer(bin, ['--ping-ms', '200', '--idle-ms', '600'], async (srv) => {
                const live = await ws(srv.port);
                const opened = Date.now();
                let pings = 0;
                live.on('ping', () => { pings++; });
                const dead = await L.rawWs(srv.port);
                const t0 = Date.now();
                await dead.gone(5000);
                const waited = Date.now() - t0;
                const frames = [];
                for (let r; (r = L.parseFrame(dead.buf)); dead.buf = dead.buf.subarray(r.used))
                    frames.push(r.frame);
                assert.equal(dead.buf.length, 0);
                assert.ok(frames.length >= 1 && frames.every((f) => f.opcode === PING),
                          `frames: ${frames.map((f) => f.opcode)}`);
                assert.ok(waited >= 500, `dropped after ${waited} ms, before the idle timeout`);
                await L.sleep(Math.max(0, 1300 - (Date.now() - opened)));
                assert.equal(live.readyState, WebSocket.OPEN);
                assert.equal((await echoOnce(live, 'alive')).data.toString(), 'alive');
                assert.ok(pings >= 2, `the live client saw ${pings} pings`);
                live.close();
            });
        });

        test('out of descriptors: accepting pauses, then resumes as clients leave',
             async () => {
            // A descriptor limit a few above what the server needs at rest:
            // later clients wait in the listen backlog, unanswered.
            await withServer(bin, [], async (srv) => {
                const opened = [];
                for (let i = 0; i < 14; i++)
                    L.openWs(srv.port).then((w) => opened.push(w), () => {});
                let seen = -1;
                await L.until(() => {
                    const same = opened.length === seen;
                    seen = opened.length;
                    return same && seen > 0;
                }, 5000, 'the open count to settle', 300);
                const first = opened.length;
                assert.ok(first <= 11, `${first} clients got in under the limit`);
                const cpu0 = L.cpuTicks(srv.pid);
                await L.sleep(500);
                // Paused, not spinning on the listener it cannot serve.
                assert.ok(L.cpuTicks(srv.pid) - cpu0 < 25, 'the server spins while paused');
                for (const w of opened.slice(0, 3))
                    w.close();
                await L.until(() => opened.length >= first + 3, 5000, 'waiting clients to get in');
                const last = opened[opened.length - 1];
                assert.equal((await echoOnce(last, 'in')).data.toString(), 'in');
                for (const w of opened)
                    w.terminate();
            }, { nofile: 16 });
        });

        test('--broadcast: every message reaches every client, in order', async () => {
            await withServer(bin, ['--broadcast'], async (srv) => {
                const c = [await ws(srv.port), await ws(srv.port), await ws(srv.port)];
                const want = [];
                for (let i = 0; i < 30; i++) {
                    want.push(`${i % 3}:${i}`);
                    c[i % 3].send(want[i]);
                    await L.inbox(c[i % 3], i + 1); // its own copy first: keeps the order global
                }
                for (const w of c) {
                    const box = await L.inbox(w, 30);
                    assert.deepEqual(box.map((m) => m.data.toString()), want);
                    w.close();
                }
            });
        });

        test('over --max-conns: 503 with Retry-After, then room again after a close',
             async () => {
            await withServer(bin, ['--max-conns', '3'], async (srv) => {
                const three = [await ws(srv.port), await ws(srv.port), await ws(srv.port)];
                const fourth = await tryWs(srv.port);
                assert.ok(fourth.err, 'the fourth client must be refused');
                assert.equal(fourth.err.status, 503);
                assert.match(fourth.err.headers['retry-after'] || '', /^\d+$/);
                // The three still work.
                for (const w of three)
                    assert.equal((await echoOnce(w, 'x')).data.toString(), 'x');
                three[0].close(1000);
                await L.withTimeout(three[0].closed, 5000, 'close');
                // The server frees the slot when it sees the TCP close, which can
                // come a moment after the client's close event: retry a while.
                const again = await L.until(async () => {
                    const r = await tryWs(srv.port);
                    if (r.err && r.err.status !== 503)
                        throw r.err;
                    return r.ws;
                }, 5000, 'a free slot');
                assert.equal((await echoOnce(again, 'y')).data.toString(), 'y');
                for (const w of [again, three[1], three[2]])
                    w.close();
            });
        });
    });
}

// SIGTERM with clients attached: 1001 to each, exit status 0. Returns stderr.
async function shutdownWithClients(bin) {
    return withServer(bin, [], async (srv) => {
        const clients = [await ws(srv.port), await ws(srv.port), await ws(srv.port)];
        for (const w of clients)
            assert.equal((await echoOnce(w, 'before')).data.toString(), 'before');
        srv.proc.kill('SIGTERM');
        const closes = await L.withTimeout(Promise.all(clients.map((w) => w.closed)), 5000,
                                           'close events');
        assert.deepEqual(closes.map((c) => c.code), [1001, 1001, 1001]);
        const ex = await L.withTimeout(srv.exited, 10000, 'the server to exit');
        assert.deepEqual(ex, { code: 0, signal: null });
        return srv.stderr();
    });
}

// SIGTERM while a client ignores the close frame: the 2 s flush deadline
// still ends the server, with status 0.
async function shutdownWithDeafClient(bin) {
    return withServer(bin, [], async (srv) => {
        const deaf = await L.rawWs(srv.port);
        const w = await ws(srv.port);
        srv.proc.kill('SIGTERM');
        const f = await deaf.frame();
        assert.equal(f.opcode, CLOSE);
        assert.equal(f.code, 1001);
        assert.equal((await L.withTimeout(w.closed, 5000, 'close')).code, 1001);
        const ex = await L.withTimeout(srv.exited, 10000, 'the server to exit');
        assert.deepEqual(ex, { code: 0, signal: null });
        await deaf.gone();
        return srv.stderr();
    });
}

function shutdownSuite(bin) {
    describe('graceful shutdown', () => {
        test('SIGTERM: every client gets 1001 and the process exits 0', async () => {
            await shutdownWithClients(bin);
        });
        test('SIGTERM: a client that never answers the close does not hold it up',
             async () => {
            await shutdownWithDeafClient(bin);
        });
    });
}

for (const [name, file] of [['poll', 'echo'], ['epoll', 'echo-epoll']]) {
    describe(`echo (${name})`, () => {
        const bin = L.binary(file);
        clientSuite(bin);
        rawSuite(bin);
        httpSuite(bin);
        limitsSuite(bin);
        shutdownSuite(bin);
    });
}

describe('echo (ASan + UBSan)', () => {
    const bin = L.binary('asan/echo');
    const clean = (err) => {
        assert.doesNotMatch(err, /ERROR: (LeakSanitizer|AddressSanitizer)/, err);
        assert.doesNotMatch(err, /runtime error/, err);
    };
    test('SIGTERM: every client gets 1001, exit 0, no sanitizer report', async () => {
        clean(await shutdownWithClients(bin));
    });
    test('SIGTERM with a deaf client: exit 0, no sanitizer report', async () => {
        clean(await shutdownWithDeafClient(bin));
    });
    test('after bad frames, an oversized message and a slow reader: exit 0, no report',
         async () => {
        // Every error path frees what it held: LeakSanitizer checks at exit.
        const args = ['--max-pending', '65536', '--grace-ms', '300'];
        const err = await withServer(bin, args, async (srv) => {
            const fds = L.fdCount(srv.pid);
            for (const bad of [L.frame(TEXT, 'x', { mask: false }), L.frame(3, 'x'),
                               L.frame(TEXT, Buffer.from([0xc0, 0xaf])),
                               L.frame(BINARY, Buffer.alloc(MiB + 1))]) {
                const r = await L.rawWs(srv.port);
                r.write(bad);
                await r.gone();
            }
            await L.until(() => L.fdCount(srv.pid) === fds, 5000, 'the failed ones closed');
            const half = await L.rawWs(srv.port); // a message left half sent
            half.write(L.frame(BINARY, Buffer.alloc(3000), { fin: false }));
            const partial = await L.Raw.connect(srv.port); // a request left half sent
            partial.write('GET / HTTP/1.1\r\nHost: x\r\n');
            await L.until(() => L.fdCount(srv.pid) === fds + 2, 5000, 'both accepted');
            const slow = await L.rawWs(srv.port);
            slow.sock.pause();
            const chunk = Buffer.concat(Array.from({ length: 64 },
                                                   () => L.frame(BINARY, randomBytes(1024))));
            for (let i = 0; i < 128; i++)
                slow.write(chunk);
            const w = await ws(srv.port);
            w.send(Buffer.alloc(MiB - 1));
            // half, w and partial stay; the slow reader goes.
            await L.until(() => L.fdCount(srv.pid) === fds + 3, 10000, 'the slow reader dropped');
            srv.proc.kill('SIGTERM');
            const ex = await L.withTimeout(srv.exited, 10000, 'the server to exit');
            assert.deepEqual(ex, { code: 0, signal: null });
            return srv.stderr();
        });
        clean(err);
    });
});
