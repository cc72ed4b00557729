// browser_lib.mjs - helpers for browser.test.mjs: headless Chromium through
// playwright-core, the chat page (examples/web/chat.html) driven by its
// element ids, and a TCP proxy that can cut its connections and refuse new
// ones to play a network outage. Everything talks to 127.0.0.1 only and every
// wait is bounded.
import { existsSync } from 'node:fs';
import net from 'node:net';
import { chromium } from 'playwright-core';
import * as L from './lib.mjs';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const WAIT = 15000; // the longest any single wait in these tests may take

// Headless Chromium; fails with a clear message when it is not installed.
export async function launch() {
    if (!existsSync(CHROMIUM))
        throw new Error(`${CHROMIUM} is missing: install Debian's chromium package ` +
                        '(apt-get install chromium) to run the browser tests');
    return L.withTimeout(chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        // Any host name resolves to nothing: the pages can reach 127.0.0.1 only.
        args: ['--no-sandbox', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
    }), 30000, 'chromium launch');
}

// Closes the browser (if it was launched), giving up after a while.
export async function closeBrowser(browser) {
    if (browser)
        await L.withTimeout(browser.close(), 10000, 'chromium close').catch(() => {});
}

// Opens the chat at url in a fresh browser context (its own cookies and
// cache), joins room as name and waits until the page has joined. init (a
// function) runs in the page before its own scripts. The page keeps what its
// console said in page.log, for failure messages.
export async function openChat(browser, url, name, room, init = null) {
    const context = await browser.newContext();
    if (init)
        await context.addInitScript(init);
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    page.log = [];
    page.on('console', (m) => page.log.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => page.log.push(`pageerror: ${e.message}`));
    await page.goto(url);
    await page.fill('#name', name);
    await page.fill('#room', room);
    await page.click('#join button');
    await page.waitForSelector('#chat[data-joined]', { state: 'attached' });
    return page;
}

// Sends text from the page's message box.
export async function say(page, text) {
    await page.fill('#text', text);
    await page.click('#say button');
}

// The chat messages shown, as "name: text" strings, in display order.
export function messages(page) {
    return page.$$eval('#log .msg', (ps) =>
        ps.map((p) => `${p.dataset.name}: ${p.querySelector('.text').textContent}`));
}

// The error lines the page showed (rt.js "error" events and failed sends).
export function errors(page) {
    return page.$$eval('#log .sys', (ps) => ps.map((p) => p.textContent)
        .filter((t) => t.startsWith('error:') || t.startsWith('not sent')));
}

// The presence list: user ids, sorted, and the count shown beside it.
export async function online(page) {
    return page.evaluate(() => ({
        users: [...document.querySelectorAll('#users li')].map((li) => li.dataset.user),
        count: Number(document.getElementById('count').textContent),
    }));
}

// Polls fn(page) until pred(value) holds; fails with the last value seen.
export async function waitFor(page, fn, pred, what, ms = WAIT) {
    let last;
    try {
        await L.until(async () => {
            last = await fn(page);
            return pred(last);
        }, ms, what, 50);
        return last;
    } catch (e) {
        const log = page.log.slice(-10).join(' | ');
        e.message += `; last: ${JSON.stringify(last)}; page log: ${log}`;
        throw e;
    }
}

// Waits until every string of want is among the page's messages.
export function waitMessages(page, want, ms = WAIT) {
    return waitFor(page, messages, (have) => want.every((w) => have.includes(w)),
                   `messages ${JSON.stringify(want)}`, ms);
}

// A TCP proxy from 127.0.0.1:<port> to 127.0.0.1:target. cut() destroys
// every proxied connection at once (both sides see a reset); block(true)
// makes it destroy new connections as they come, until block(false);
// freeze() stops the bytes of the current connections without closing them
// (a NAT that forgot them: only a heartbeat can tell).
export async function tcpProxy(target) {
    const pairs = new Set();
    let blocked = false;
    const server = net.createServer((down) => {
        if (blocked) {
            down.destroy();
            return;
        }
        const up = net.connect({ host: L.HOST, port: target });
        const pair = { up, down };
        pairs.add(pair);
        const end = () => {
            up.destroy();
            down.destroy();
            pairs.delete(pair);
        };
        down.pipe(up);
        up.pipe(down);
        for (const s of [up, down]) {
            s.on('error', end);
            s.on('close', end);
        }
    });
    await L.withTimeout(new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, L.HOST, resolve);
    }), 5000, 'proxy listen');
    return {
        port: server.address().port,
        open: () => pairs.size,
        block: (on) => { blocked = on; },
        freeze() {
            for (const p of pairs) {
                p.down.unpipe(p.up);
                p.up.unpipe(p.down);
                p.down.pause();
                p.up.pause();
            }
        },
        cut() {
            for (const p of [...pairs]) {
                p.up.destroy();
                p.down.destroy();
                pairs.delete(p);
            }
        },
        close() {
            this.cut();
            return L.withTimeout(new Promise((resolve) => server.close(resolve)), 5000,
                                 'proxy close');
        },
    };
}
