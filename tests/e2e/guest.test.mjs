// The widget as a guest on someone else's page: on a phone it takes the
// whole screen without covering its own controls, and a loader included
// twice, or destroy() then init() as SPAs do, leaves exactly one widget and
// no socket of the old one; a first visit leaves no trace before the visitor
// interacts, a returning visitor is shown replies that came meanwhile, and a
// stored session the server forgot is dropped cleanly.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { expect } from './expect.mjs';
import { CSP, hostPage, launchBrowser, openHost, startServer, storedSession, type, w, watchSockets } from './helpers.mjs';

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

/** A 375 × 667 phone with a page made for phones, the widget opened: the page and the panel's box as "x y width height". */
async function openOnPhone(context) {
  // A page made for phones says so; without it a phone lays the page out 980 px wide.
  const html = hostPage(server.token).replace('<meta charset="utf-8">', '<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">');
  const { page, record } = await openHost(context, server, html);
  await w(page, 'launcher').click();
  await w(page, 'panel').waitFor();
  const box = async () => {
    const b = await w(page, 'panel').boundingBox();
    return [b.x, b.y, b.width, b.height].map(Math.round).join(' ');
  };
  // (Once its opening animation, a few pixels of slide, has run.)
  await expect(box, (b) => b === '0 0 375 667');
  return { page, record, box };
}

const phone = () => browser.newContext({ viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true });

test('on a 375 × 667 phone the open panel fills the screen, the launcher steps aside and nothing covers Send', async () => {
  const context = await phone();
  const { page, record } = await openOnPhone(context);
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

test('on a phone the open panel stays above the virtual keyboard, Send in view, and fills the screen again when it goes', async () => {
  const context = await phone();
  // Headless Chromium has no on-screen keyboard. What one does to the page is to
  // shrink the visual viewport (and, on iOS, scroll it); this page's
  // visualViewport is made to do that on demand.
  await context.addInitScript(() => {
    const view = new EventTarget();
    let covered = 0;
    let top = 0;
    Object.defineProperties(view, {
      width: { get: () => innerWidth },
      height: { get: () => innerHeight - covered },
      offsetTop: { get: () => top },
    });
    Object.defineProperty(window, 'visualViewport', { value: view, configurable: true });
    window.keyboard = (px, scrolled = 0) => {
      covered = px;
      top = scrolled;
      view.dispatchEvent(new Event('resize'));
    };
  });
  const { page, record, box } = await openOnPhone(context);
  await page.locator('[data-natter="composer"] textarea').fill('Typing with the keyboard up');
  await page.evaluate(() => window.keyboard(300));
  await expect(box, (b) => b === '0 0 375 367');
  const send = await w(page, 'send').boundingBox();
  assert.ok(send.y + send.height <= 367, `Send is above the keyboard: its bottom at ${send.y + send.height}`);
  assert.equal(await hitAtCentre(page, 'send'), 'send', 'and not covered');
  // iOS scrolls the visual viewport too: the panel follows it.
  await page.evaluate(() => window.keyboard(300, 120));
  await expect(box, (b) => b === '0 120 375 367');
  await page.evaluate(() => window.keyboard(0));
  await expect(box, (b) => b === '0 0 375 667');
  assert.deepEqual(record.errors, []);
  await context.close();
});

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
  // It was open when the page unmounted it, so it opens again by itself.
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

/** What the page has stored or set as a cookie for the widget. */
function traces(page) {
  return page.evaluate(() => {
    const keys = (s) => Object.keys(s).filter((k) => k.startsWith('natter'));
    return { local: keys(localStorage), session: keys(sessionStorage), cookie: document.cookie };
  });
}

/** Records the page's requests to the API and the package. */
function watchRequests(page) {
  const seen = [];
  page.on('request', (req) => {
    const path = new URL(req.url()).pathname;
    if (path.startsWith('/api/') || path.startsWith('/pkg/')) seen.push(`${req.method()} ${path}`);
  });
  return seen;
}

const NOTHING = { local: [], session: [], cookie: '' };

/** A visitor writes `text`, closes the widget and leaves the page; returns the session they stored. */
async function chatAndLeave(context, text) {
  const { page } = await openHost(context, server, hostPage(server.token));
  await w(page, 'launcher').click();
  await type(page, text);
  await page.locator('[data-natter="message"][data-sender="user"][data-pending="false"]').waitFor();
  await page.locator('[data-natter="panel"] button.close').click();
  const stored = await storedSession(page, server.token);
  await page.close();
  return stored;
}

test('a first-time visitor: nothing is stored or sent before they interact, even once the widget is loaded', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const requests = watchRequests(page);
  await context.route(`${server.base}/host.html`, (route) => route.fulfill({ contentType: 'text/html', body: hostPage(server.token) }));
  await page.goto(`${server.base}/host.html`);
  await w(page, 'launcher').waitFor();
  await page.waitForLoadState('networkidle');
  assert.deepEqual(requests, [], 'no request before an interaction');
  assert.deepEqual(await traces(page), NOTHING);

  // Pointing at the launcher loads the widget: its config, no session.
  await w(page, 'launcher').hover();
  await expect(() => requests.some((r) => r.endsWith('.wasm')), Boolean);
  await page.waitForLoadState('networkidle');
  assert.deepEqual(requests.filter((r) => r.startsWith('POST')), [], `no session yet: ${requests}`);
  assert.deepEqual(await traces(page), NOTHING);

  // data-load="eager": loaded at once, still nothing stored or created.
  const eager = await context.newPage();
  const eagerRequests = watchRequests(eager);
  await context.route(`${server.base}/eager.html`, (route) =>
    route.fulfill({ contentType: 'text/html', body: hostPage(server.token).replace('<script ', '<script data-load="eager" ') }),
  );
  await eager.goto(`${server.base}/eager.html`);
  await expect(() => eagerRequests.some((r) => r.endsWith('.wasm')), Boolean);
  await eager.waitForLoadState('networkidle');
  assert.deepEqual(eagerRequests.filter((r) => r.startsWith('POST')), [], `no session yet: ${eagerRequests}`);
  assert.deepEqual(await traces(eager), NOTHING);

  // Opening it is the interaction: now the session starts and is kept.
  await w(page, 'launcher').click();
  await expect(async () => (await traces(page)).local, (keys) => keys.length === 1);
  await context.close();
});

test('a returning visitor sees the replies that came while they were away, counted as unread, without interacting', async () => {
  const context = await browser.newContext();
  const stored = await chatAndLeave(context, 'Call me back about my order, please');

  const operator = await server.operator();
  await operator.reply(stored.sessionId, 'Done: we will call you at five.');
  await operator.reply(stored.sessionId, 'Anything else?');
  const { page, record } = await openHost(context, server, hostPage(server.token));
  const sockets = watchSockets(page);
  // No click, no hover: the stored session brings the widget back by itself.
  await expect(() => w(page, 'unread').textContent(), (t) => t?.trim() === '2');
  assert.equal(await w(page, 'panel').isVisible(), false, 'it stays closed');
  await w(page, 'launcher').click();
  await page.locator('[data-natter="message"][data-sender="manager"]', { hasText: 'Anything else?' }).waitFor();
  await expect(() => w(page, 'unread').isVisible(), (v) => v === false);
  await expect(() => sockets.open(), (n) => n === 1);
  assert.deepEqual(record.errors, []);
  await context.close();
});

test('a stored session the server no longer knows is dropped, and a new one starts on the next interaction', async () => {
  const context = await browser.newContext();
  const old = await chatAndLeave(context, 'Please erase my data afterwards');
  const operator = await server.operator();
  const conversation = await (await fetch(`${server.base}/api/v1/conversations/${old.sessionId}`, { headers: operator.headers })).json();
  const erased = await fetch(`${server.base}/api/v1/customers/${conversation.data.customer.id}`, { method: 'DELETE', headers: operator.headers });
  assert.ok(erased.ok, `erased: ${erased.status}`);

  const { page, record } = await openHost(context, server, hostPage(server.token));
  const requests = watchRequests(page);
  const errors = [];
  await page.exposeFunction('natterError', (e) => errors.push(e));
  await page.evaluate(() => window.Natter.on('error', (e) => window.natterError(e)));
  // The widget comes back for the stored session, learns it is gone and forgets it.
  await expect(() => traces(page), (t) => t.local.length === 0);
  await page.waitForLoadState('networkidle');
  assert.equal(requests.filter((r) => r === 'POST /api/public/chat/sessions').length, 1, `one resume, nothing created: ${requests}`);
  assert.equal(await w(page, 'unread').isVisible(), false);

  await w(page, 'launcher').click();
  await type(page, 'Hello again');
  await page.locator('[data-natter="message"][data-sender="user"][data-pending="false"]', { hasText: 'Hello again' }).waitFor();
  const fresh = await storedSession(page, server.token);
  assert.ok(fresh?.sessionId && fresh.sessionId !== old.sessionId, 'a new session');
  assert.notEqual(fresh.userSessionId, old.userSessionId);
  assert.equal(await page.locator('[data-natter="message"]', { hasText: 'Please erase my data afterwards' }).count(), 0);
  const seen = await operator.messages(fresh.sessionId);
  assert.ok(seen.some((m) => m.content === 'Hello again'));
  assert.deepEqual(errors, [], 'no error event: a gone session is not an error');
  assert.deepEqual(record.errors, []);
  await context.close();
});

test('on a right-to-left page the widget mirrors: the visitor\'s messages on the left, nothing covered', async () => {
  const context = await browser.newContext();
  const html = hostPage(server.token, { position: 'left' }).replace('<html lang="en">', '<html lang="ar" dir="rtl">');
  const { page, record } = await openHost(context, server, html);
  await w(page, 'launcher').click();
  await w(page, 'panel').waitFor();
  await type(page, 'مرحبا، هل لديكم قهوة؟');
  const mine = page.locator('[data-natter="message"][data-sender="user"]');
  await mine.waitFor();
  const theirs = page.locator('[data-natter="message"]:not([data-sender="user"])').first();
  await theirs.waitFor();
  // Measured once the panel's opening animation has run.
  await page.evaluate(() => Promise.all(document.querySelector('[data-natter-host]').shadowRoot.getAnimations().map((a) => a.finished)));
  const [panel, user, bot] = await Promise.all([w(page, 'panel').boundingBox(), mine.boundingBox(), theirs.boundingBox()]);
  assert.ok(panel.x < 100, `a left-positioned launcher opens the panel on the left: ${panel.x}`);
  assert.ok(user.x - panel.x < 40, `the visitor's message sits at the start (left) edge: ${user.x - panel.x}`);
  assert.ok(panel.x + panel.width - (bot.x + bot.width) < 40, `the greeting sits at the end (right) edge: ${panel.x + panel.width - (bot.x + bot.width)}`);
  assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector('[data-natter-host]').shadowRoot.querySelector('.panel')).direction), 'rtl');
  assert.equal(await hitAtCentre(page, 'send'), 'send', 'Send is not covered');
  assert.deepEqual(record.errors, []);
  await context.close();
});
