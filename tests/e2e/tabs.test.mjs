// All of a visitor's tabs share one socket: the tab holding the session's
// Web Lock keeps it and relays what comes in; a message sent in one tab
// shows in every tab, opening, closing and unread counts follow along, and
// when the leading tab closes another takes the socket over within 2 s.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expect } from './expect.mjs';
import { hostPage, serverAndBrowser, storedSession, type, w, watchSockets } from './helpers.mjs';

const env = serverAndBrowser();

const said = (page, text) => page.locator('[data-natter="message"]', { hasText: text });

test('two tabs share one socket, show the same conversation and hand the socket over when the leader closes', async () => {
  const { server, browser } = env;
  const context = await browser.newContext();
  const errors = [];
  const tab = async () => {
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    const { open } = watchSockets(page);
    await page.goto(`${server.base}/`);
    return { page, open };
  };
  const a = await tab();
  await w(a.page, 'launcher').click();
  await type(a.page, 'Hello from the first tab');
  await a.page.locator('[data-natter="message"][data-sender="user"][data-pending="false"]').waitFor();
  await expect(() => a.open(), (n) => n === 1);
  const { sessionId } = await storedSession(a.page, server.token);

  // The second tab finds the stored session, follows the first and opens as it is open.
  const b = await tab();
  await said(b.page, 'Hello from the first tab').waitFor();
  const operator = await server.operator();
  await operator.reply(sessionId, 'Hi both tabs');
  await said(a.page, 'Hi both tabs').waitFor();
  await said(b.page, 'Hi both tabs').waitFor();
  assert.equal(a.open() + b.open(), 1, 'one socket for both tabs');

  // Closing in one tab closes the other, opening opens it; a message sent in one shows in both.
  await w(a.page, 'panel').locator('button.close').click();
  await w(b.page, 'panel').waitFor({ state: 'hidden' });
  await w(b.page, 'launcher').click();
  await w(a.page, 'panel').waitFor();
  await type(b.page, 'And this from the second');
  await said(a.page, 'And this from the second').waitFor();
  await w(a.page, 'panel').locator('button.close').click();
  await w(b.page, 'panel').waitFor({ state: 'hidden' });

  // Replies while both are closed are unread in both.
  await operator.reply(sessionId, 'Are you still there?');
  for (const t of [a, b]) await expect(() => w(t.page, 'unread').textContent(), (n) => n?.trim() === '1');

  // The leader closes: the other tab takes the socket over and stays live.
  await a.page.close();
  await expect(() => b.open(), (n) => n === 1, { timeout: 2_000 });
  await operator.reply(sessionId, 'Still here after the first tab closed');
  await expect(() => w(b.page, 'unread').textContent(), (n) => n?.trim() === '2');
  await w(b.page, 'launcher').click();
  await said(b.page, 'Still here after the first tab closed').waitFor();
  const messages = await operator.messages(sessionId);
  assert.equal(messages.filter((m) => m.content === 'And this from the second').length, 1, 'sent once');
  assert.deepEqual(errors, []);
  await context.close();
});

/** Counts the tones a page starts, in place of the browser's Web Audio. */
function countTones() {
  window.__tones = 0;
  window.AudioContext = class {
    currentTime = 0;
    destination = {};
    createOscillator() {
      return { frequency: {}, connect: (to) => to, start: () => (window.__tones += 1), stop() {} };
    }
    createGain() {
      return { gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} }, connect: (to) => to };
    }
  };
}

test('with data-sound a reply plays one tone across the visitor\'s tabs, and none without it', async () => {
  const { server, browser } = env;
  const operator = await server.operator();
  const visitor = async (attrs) => {
    const context = await browser.newContext();
    await context.addInitScript(countTones);
    await context.route(`${server.base}/host.html`, (route) =>
      route.fulfill({ contentType: 'text/html', body: hostPage(server.token, attrs) }),
    );
    const tab = async () => {
      const page = await context.newPage();
      await page.goto(`${server.base}/host.html`);
      return page;
    };
    const a = await tab();
    await w(a, 'launcher').click();
    await type(a, 'Ring me when you answer');
    await a.locator('[data-natter="message"][data-sender="user"][data-pending="false"]').waitFor();
    // (The website's automatic answer to a first message, read while open.)
    await said(a, 'please leave your name').waitFor();
    const { sessionId } = await storedSession(a, server.token);
    const b = await tab();
    await said(b, 'Ring me when you answer').waitFor();
    await w(a, 'panel').locator('button.close').click();
    await w(b, 'panel').waitFor({ state: 'hidden' });
    await operator.reply(sessionId, 'Here is your answer');
    for (const page of [a, b]) await expect(() => w(page, 'unread').textContent(), (n) => n?.trim() === '1');
    const tones = async () => (await a.evaluate(() => window.__tones)) + (await b.evaluate(() => window.__tones));
    return { context, tones };
  };

  const loud = await visitor({ sound: 'true' });
  assert.equal(await expect(loud.tones, (n) => n >= 1), 1, 'one tab plays the tone');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await loud.tones(), 1, 'and only one');
  await loud.context.close();

  const quiet = await visitor({});
  assert.equal(await quiet.tones(), 0, 'no tone unless the site asks for it');
  await quiet.context.close();
});
