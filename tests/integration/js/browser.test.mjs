// browser.test.mjs - the chat demo (examples/03_chat.c serving
// examples/web/chat.html and rt.js) in headless Chromium: two pages chat,
// see each other's presence and typing, survive a network drop and a dead
// link without losing or repeating a message, fall back to SSE + POST, and
// ride out a rate limit.
//
// Each test uses its own room and its own browser contexts; the server and
// the browser are shared and killed in after() hooks. Every wait is bounded.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as L from './lib.mjs';
import * as B from './browser_lib.mjs';

after(L.stopAll);

// Counted as a failure of its own, with the reason, when Chromium is missing
// (the suites below are then cancelled).
test('headless Chromium is installed', () => {
    assert.ok(existsSync(B.CHROMIUM), `${B.CHROMIUM} is missing: install Debian's chromium`);
});

const T = { timeout: 90000 };
const state = (page) => page.evaluate(() => window.rt.state);
const transport = (page) => page.evaluate(() => window.rt.transport);

describe('chat page in Chromium', () => {
    let srv, browser, url;
    const contexts = [];

    before(async () => {
        // A 1 s heartbeat, so a dead link is noticed after 2.5 s.
        srv = await L.startServer(L.binary('chat'), ['--heartbeat-ms', '1000']);
        url = `http://${L.HOST}:${srv.port}/`;
        browser = await B.launch();
    });
    after(async () => {
        await B.closeBrowser(browser);
        await srv?.stop();
    });

    async function open(name, room, at = url, init = null) {
        const page = await B.openChat(browser, at, name, room, init);
        contexts.push(page.context());
        return page;
    }
    after(() => Promise.all(contexts.map((c) => c.close().catch(() => {}))));

    // No page of a test that plays by the rules shows an error.
    async function noErrors(...pages) {
        for (const p of pages)
            assert.deepEqual(await B.errors(p), [], `errors shown; log: ${p.log.join(' | ')}`);
    }

    test('two pages chat through the server', T, async () => {
        const a = await open('alice', 'chat-a');
        const b = await open('bob', 'chat-a');
        await B.say(a, 'hello from alice');
        await B.waitMessages(b, ['alice: hello from alice']);
        await B.say(b, 'hi alice, bob here ✓');
        await B.waitMessages(a, ['bob: hi alice, bob here ✓']);
        for (const p of [a, b]) {
            assert.deepEqual(await B.messages(p),
                             ['alice: hello from alice', 'bob: hi alice, bob here ✓']);
            assert.equal(await transport(p), 'ws');
        }
        assert.equal(await a.locator('#log .msg.me').count(), 1, 'own message marked');
        await noErrors(a, b);
    });

    test('presence lists and typing indicators', T, async () => {
        const a = await open('carol', 'chat-b');
        const b = await open('dave', 'chat-b');
        for (const p of [a, b]) {
            const o = await B.waitFor(p, B.online, (v) => v.count === 2, 'two online');
            assert.deepEqual(o.users, ['carol', 'dave']);
        }
        const typing = (p) => p.textContent('#typing');
        // Typing shows on the other page and ends when the message is sent...
        await a.locator('#text').pressSequentially('hel');
        await B.waitFor(b, typing, (t) => t === 'carol is typing...', 'typing shown');
        assert.equal(await typing(a), '', 'nobody sees their own typing');
        await a.locator('#text').pressSequentially('lo');
        await a.click('#say button');
        await B.waitMessages(b, ['carol: hello']);
        await B.waitFor(b, typing, (t) => t === '', 'typing cleared by the message');
        // ... or by itself when the typist stops.
        await a.locator('#text').pressSequentially('abc');
        await B.waitFor(b, typing, (t) => t === 'carol is typing...', 'typing shown again');
        await B.waitFor(b, typing, (t) => t === '', 'typing cleared by the timeout');
        // A page that goes away leaves the list (after the server's grace period).
        await b.context().close();
        await B.waitFor(a, B.online, (v) => v.count === 1 && v.users[0] === 'carol',
                        'dave gone');
    });

    test('a dropped page reconnects and misses nothing, sees nothing twice', T, async () => {
        const proxy = await B.tcpProxy(srv.port);
        try {
            const a = await open('erin', 'chat-c', `http://${L.HOST}:${proxy.port}/`);
            const b = await open('frank', 'chat-c');
            await B.say(b, 'before');
            await B.waitMessages(a, ['frank: before']);
            // The network goes away: connections reset, new ones refused.
            proxy.block(true);
            proxy.cut();
            await B.waitFor(a, state, (s) => s !== 'open', 'page A notices the drop');
            const sent = [];
            for (let i = 1; i <= 5; i++) {
                sent.push(`frank: during ${i}`);
                await B.say(b, `during ${i}`);
            }
            await B.waitMessages(b, sent);
            await B.say(a, 'queued while offline'); // held by rt.js until it is back
            await L.sleep(1500); // let a few reconnect attempts fail
            proxy.block(false);
            const want = ['frank: before', ...sent, 'erin: queued while offline'];
            await B.waitFor(a, B.messages, (m) => m.length >= want.length, 'all messages');
            await B.waitMessages(b, ['erin: queued while offline']);
            await L.sleep(300); // a late duplicate would show up now
            assert.deepEqual(await B.messages(a), want);
            assert.equal(await state(a), 'open');
            assert.equal(await a.textContent('#status'), 'connected to chat-c as erin (ws)');
        } finally {
            await proxy.close();
        }
    });

    test('a replay of messages already shown is not shown again', T, async () => {
        const proxy = await B.tcpProxy(srv.port);
        try {
            const a = await open('gina', 'chat-e', `http://${L.HOST}:${proxy.port}/`);
            const b = await open('hank', 'chat-e');
            const sent = ['hank: one', 'hank: two', 'hank: three'];
            for (const s of sent)
                await B.say(b, s.slice(6));
            await B.waitMessages(a, sent);
            // Play a server that replays too much: rewrite the `since` of the
            // page's next join to the first position, so two and three,
            // which the page has shown, come again.
            await a.evaluate(() => {
                const first = document.querySelector('#log .msg').dataset.pos;
                const send = WebSocket.prototype.send;
                WebSocket.prototype.send = function (text) {
                    const m = JSON.parse(text);
                    if (m.type === 'join' && m.since)
                        m.since = first;
                    return send.call(this, JSON.stringify(m));
                };
            });
            proxy.cut();
            await B.waitFor(a, state, (s) => s !== 'open', 'page A notices the drop');
            await B.waitFor(a, state, (s) => s === 'open', 'page A back', 20000);
            await B.say(b, 'four');
            await B.waitMessages(a, ['hank: four']);
            assert.deepEqual(await B.messages(a), [...sent, 'hank: four']);
        } finally {
            await proxy.close();
        }
    });

    test('a link that goes silent is detected by the heartbeat', T, async () => {
        const proxy = await B.tcpProxy(srv.port);
        try {
            const a = await open('ivan', 'chat-f', `http://${L.HOST}:${proxy.port}/`);
            const b = await open('judy', 'chat-f');
            const reconnects = () => a.evaluate(() => window.reconnects);
            await a.evaluate(() => {
                window.reconnects = 0;
                window.rt.on('state', (s) => { if (s === 'closed') window.reconnects++; });
            });
            proxy.freeze(); // bytes stop flowing, but no socket closes
            await B.say(b, 'into the void');
            // 2.5 heartbeats (2.5 s) of silence, then rt.js reconnects and resumes.
            await B.waitMessages(a, ['judy: into the void'], 20000);
            assert.ok(await reconnects() >= 1, 'the page reconnected');
            assert.deepEqual(await B.messages(a), ['judy: into the void']);
        } finally {
            await proxy.close();
        }
    });

    test('SSE + POST page chats with a WebSocket page', T, async () => {
        const a = await open('kate', 'chat-d', `${url}?transport=sse`);
        const b = await open('liam', 'chat-d');
        assert.equal(await transport(a), 'sse');
        assert.equal(await transport(b), 'ws');
        await B.say(a, 'over SSE and POST');
        await B.waitMessages(b, ['kate: over SSE and POST']);
        await B.say(b, 'over WebSocket');
        await B.waitMessages(a, ['liam: over WebSocket']);
        for (const p of [a, b]) {
            assert.deepEqual(await B.messages(p), ['kate: over SSE and POST',
                                                   'liam: over WebSocket']);
            await B.waitFor(p, B.online, (v) => v.count === 2, 'two online');
        }
        await a.locator('#text').pressSequentially('typing over POST');
        await B.waitFor(b, (p) => p.textContent('#typing'),
                        (t) => t === 'kate is typing...', 'typing from the SSE page');
        await noErrors(a, b);
    });

    test('a page whose WebSocket cannot open falls back to SSE + POST', T, async () => {
        // As if a proxy on the way refused WebSocket: every attempt fails.
        const blockWebSocket = () => {
            window.WebSocket = class {
                constructor() {
                    setTimeout(() => this.onclose?.({ code: 1006 }), 10);
                }
                send() { throw new Error('blocked'); }
                close() {}
            };
        };
        const a = await open('nina', 'chat-g', url, blockWebSocket);
        const b = await open('omar', 'chat-g');
        assert.equal(await transport(a), 'sse');
        await B.say(a, 'no WebSocket here');
        await B.waitMessages(b, ['nina: no WebSocket here']);
        await B.say(b, 'still reaches you');
        await B.waitMessages(a, ['omar: still reaches you']);
        await noErrors(a, b);
    });
});

describe('chat page under a tight rate limit', () => {
    let srv, browser, context;

    before(async () => {
        srv = await L.startServer(L.binary('chat'), ['--rate-msgs', '2']);
        browser = await B.launch();
    });
    after(async () => {
        await context?.close().catch(() => {});
        await B.closeBrowser(browser);
        await srv?.stop();
    });

    test('refused publishes are retried after retry_after, each shown once', T, async () => {
        const a = await B.openChat(browser, `http://${L.HOST}:${srv.port}/`, 'mona', 'chat-r');
        context = a.context();
        const texts = [1, 2, 3, 4, 5, 6].map((i) => `burst ${i}`);
        const positions = await L.withTimeout(a.evaluate((ts) => Promise.all(ts.map((text) =>
            window.rt.publish('chat-r', JSON.stringify({ name: 'mona', text })))), texts),
                                              B.WAIT * 2, 'six publishes acknowledged');
        assert.equal(new Set(positions).size, texts.length, 'six distinct positions');
        const want = texts.map((t) => `mona: ${t}`);
        await B.waitMessages(a, want);
        await L.sleep(300);
        const have = await B.messages(a);
        assert.deepEqual([...have].sort(), want, 'each message exactly once');
        const errors = await a.$$eval('#log .sys', (ps) => ps.map((p) => p.textContent));
        assert.ok(errors.some((e) => e.includes('rate_limited')), 'the refusal was shown');
    });
});
