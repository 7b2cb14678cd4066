// The widget as a guest on someone else's page: on a phone it takes the
// whole screen without covering its own controls, and a loader included
// twice, or destroy() then init() as SPAs do, leaves exactly one widget and
// no socket of the old one.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { expect } from './expect.mjs';
import { CSP, hostPage, launchBrowser, openHost, startServer, type, w } from './helpers.mjs';

let server;
let browser;
before(async () => {
  server = await startServer();
  // Host pages here are served by the test (route.fulfill), which Chromium's
  // Local Network Access checks treat as public, blocking their sockets to
  // 127.0.0.1; a real page on the same server is not blocked, so neither are these.
  browser = await launchBrowser(['--disable-features=LocalNetworkAccessChecks,LocalNetworkAccessChecksWebSockets']);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The element of the widget's shadow root at the centre of `hook`, as its `data-natter` (or tag). */
function hitAtCentre(page, hook) {
  return page.evaluate((hook) => {
    const root = document.querySelector('[data-natter-host]').shadowRoot;
    const box = root.querySelector(`[data-natter="${hook}"]`).getBoundingClientRect();
    const hit = root.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    return hit?.closest('[data-natter]')?.dataset.natter ?? hit?.tagName ?? null;
  }, hook);
}

test('on a 375 × 667 phone the open panel fills the screen, the launcher steps aside and nothing covers Send', async () => {
  const context = await browser.newContext({ viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true });
  // A page made for phones says so; without it a phone lays the page out 980 px wide.
  const html = hostPage(server.token).replace('<meta charset="utf-8">', '<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">');
  const { page, record } = await openHost(context, server, html);
  await w(page, 'launcher').click();
  await w(page, 'panel').waitFor();
  // (Once its opening animation, a few pixels of slide, has run.)
  const box = async () => {
    const b = await w(page, 'panel').boundingBox();
    return [b.x, b.y, b.width, b.height].map(Math.round).join(' ');
  };
  await expect(box, (b) => b === '0 0 375 667');
  assert.equal(await w(page, 'launcher').isVisible(), false, 'the launcher is out of the way');
  await page.locator('[data-natter="composer"] textarea').fill('Is this on?');
  assert.equal(await hitAtCentre(page, 'send'), 'send', 'Send is not covered');
  assert.equal(await hitAtCentre(page, 'attach'), 'attach', 'the attach picker is not covered');
  const sizes = await page.evaluate(() => {
    const root = document.querySelector('[data-natter-host]').shadowRoot;
    return [...root.querySelectorAll('textarea, input:not([type=file])')].map((el) => parseFloat(getComputedStyle(el).fontSize));
  });
  assert.ok(sizes.length > 0 && sizes.every((px) => px >= 16), `fields at 16 px or more, so iOS does not zoom: ${sizes}`);
  // Its own close button brings the launcher back.
  await page.locator('[data-natter="panel"] button.close').click();
  await w(page, 'launcher').waitFor({ state: 'visible' });
  assert.equal(await w(page, 'panel').isVisible(), false);
  assert.deepEqual(record.errors, []);
  await context.close();
});

/** Counts the page's WebSockets to the server and which of them are still open. */
function watchSockets(page) {
  const sockets = [];
  page.on('websocket', (ws) => {
    const entry = { open: true };
    sockets.push(entry);
    ws.on('close', () => (entry.open = false));
  });
  return { opened: () => sockets.length, open: () => sockets.filter((s) => s.open).length };
}

test('the loader included twice makes one widget with one socket', async () => {
  const context = await browser.newContext();
  const tag = `<script src="/natter.js" data-website-token="${server.token}" async></script>`;
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}"><title>Host</title>${tag}${tag}</head>
<body><h1>Host page</h1></body></html>`;
  const { page, record } = await openHost(context, server, html);
  const sockets = watchSockets(page);
  await w(page, 'launcher').click();
  await w(page, 'panel').waitFor();
  await type(page, 'Hello once');
  await page.locator('[data-natter="message"][data-sender="user"][data-pending="false"]').waitFor();
  await expect(() => sockets.open(), (n) => n === 1);
  assert.equal(await page.locator('[data-natter-host]').count(), 1);
  assert.equal(await w(page, 'launcher').count(), 1);
  assert.equal(sockets.opened(), 1);
  assert.deepEqual(record.errors, []);
  await context.close();
});

test('destroy() then init() (an SPA re-mounting) leaves one launcher, and the old socket is closed', async () => {
  const context = await browser.newContext();
  const { page, record } = await openHost(context, server, hostPage(server.token));
  const sockets = watchSockets(page);
  await w(page, 'launcher').click();
  await w(page, 'panel').waitFor();
  await type(page, 'Before the route change');
  await expect(() => sockets.open(), (n) => n === 1);

  await page.evaluate(() => window.Natter.destroy());
  assert.equal(await page.locator('[data-natter-host]').count(), 0, 'nothing of the widget is left');
  await expect(() => sockets.open(), (n) => n === 0);

  await page.evaluate((token) => window.Natter.init({ websiteToken: token }), server.token);
  await w(page, 'launcher').click();
  await w(page, 'panel').waitFor();
  assert.equal(await page.locator('[data-natter-host]').count(), 1);
  assert.equal(await w(page, 'launcher').count(), 1);
  // The stored session resumes in the new mount, over one new socket.
  await page.locator('[data-natter="message"][data-sender="user"]', { hasText: 'Before the route change' }).waitFor();
  await expect(() => sockets.open(), (n) => n === 1);
  assert.equal(sockets.opened(), 2);
  assert.deepEqual(record.errors, []);
  await context.close();
});
