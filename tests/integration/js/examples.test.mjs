// examples.test.mjs - the teaching examples keep working: 02_clock's SSE
// stream ticks and resumes from Last-Event-ID. (01_echo is covered by
// echo.test.mjs, 03_chat by rooms, proto and browser tests.)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { binary, startServer, stopAll, withTimeout, HOST } from './lib.mjs';

after(stopAll);

// Reads an SSE response over a raw socket until `want` events (blank-line
// separated blocks after the head) have arrived; returns [head, events].
function readEvents(port, path, want, headers = '') {
    return withTimeout(new Promise((resolve, reject) => {
        const s = net.connect(port, HOST, () => {
            s.write(`GET ${path} HTTP/1.1\r\nHost: ${HOST}:${port}\r\n${headers}\r\n`);
        });
        let buf = '';
        s.setEncoding('utf8');
        s.on('data', (d) => {
            buf += d;
            const at = buf.indexOf('\r\n\r\n');
            if (at < 0)
                return;
            const events = buf.slice(at + 4).split('\n\n').filter((e, i, a) => i < a.length - 1);
            if (events.length >= want) {
                s.destroy();
                resolve([buf.slice(0, at), events.map(parseEvent)]);
            }
        });
        s.on('error', reject);
    }), 8000, `${want} events from ${path}`);
}

function parseEvent(block) {
    const ev = { data: [] };
    for (const line of block.split('\n')) {
        const m = /^([a-z]+): ?(.*)$/.exec(line);
        if (m && m[1] === 'data')
            ev.data.push(m[2]);
        else if (m)
            ev[m[1]] = m[2];
    }
    return ev;
}

test('02_clock: the page and a ticking SSE stream that resumes from Last-Event-ID', async () => {
    const srv = await startServer(binary('clock'));
    const page = await fetch(`http://${HOST}:${srv.port}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /new EventSource\('\/clock'\)/);

    const [head, events] = await readEvents(srv.port, '/clock', 3);
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(head, /\r\nContent-Type: text\/event-stream\r\n/);
    assert.equal(events[0].event, 'rt.join');
    const ticks = events.slice(1);
    for (const t of ticks)
        assert.match(t.data[0], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    const [, off1] = ticks[0].id.split('-');
    const [, off2] = ticks[1].id.split('-');
    assert.equal(Number(off2), Number(off1) + 1, 'one tick, one position');

    // Come back with the first tick's id: the second one is replayed first.
    const [, again] = await readEvents(srv.port, '/clock', 2, `Last-Event-ID: ${ticks[0].id}\r\n`);
    assert.equal(again[0].id, ticks[1].id);
    assert.deepEqual(again[0].data, ticks[1].data);
    assert.equal(again[1].event, 'rt.join');
    assert.equal(JSON.parse(again[1].data[0]).recovered, true);
});
