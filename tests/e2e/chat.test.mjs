// A visitor chats with an operator through the script-tag widget on a
// strict-CSP host page: open, send, operator reply, reload.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { expect } from './expect.mjs';
import { hostPage, launchBrowser, openHost, startServer, storedSession, type, w } from './helpers.mjs';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('no wasm is fetched before the visitor interacts, and the launcher is drawn at once', async () => {
  const context = await browser.newContext();
  const { page, record } = await openHost(context, server, hostPage(server.token));
  await w(page, 'launcher').waitFor();
  await page.waitForLoadState('networkidle');
  assert.equal(record.wasm, 0);
  assert.equal(await storedSession(page, server.token), null, 'nothing stored before the visitor engages');
  await context.close();
});

test('a visitor message reaches the operator and the reply appears; a reload restores the history', async () => {
  const context = await browser.newContext();
  const { page, record } = await openHost(context, server, hostPage(server.token));
  await w(page, 'launcher').click();
  await w(page, 'panel').waitFor();
  await type(page, 'Do you ship to Lviv?');
  const mine = page.locator('[data-natter="message"][data-sender="user"][data-pending="false"]');
  await expect(() => mine.count(), (n) => n === 1);

  const stored = await storedSession(page, server.token);
  assert.ok(stored?.sessionId && stored.token && stored.userSessionId);
  const operator = await server.operator();
  const seen = await operator.messages(stored.sessionId);
  assert.ok(seen.some((m) => m.content === 'Do you ship to Lviv?'), 'the server stored the message');

  await operator.reply(stored.sessionId, 'Yes, in two days.');
  const reply = page.locator('[data-natter="message"][data-sender="manager"]');
  await expect(() => reply.allTextContents(), (t) => t.some((s) => s.includes('Yes, in two days.')));

  await page.reload();
  // Open before the reload, so open again after it: the site's next page in the same tab.
  await w(page, 'panel').waitFor();
  await expect(() => page.locator('[data-natter="message"]').allTextContents(), (t) =>
    t.some((s) => s.includes('Do you ship to Lviv?')) && t.some((s) => s.includes('Yes, in two days.')),
  );
  assert.deepEqual(record.cspViolations, []);
  assert.deepEqual(record.errors, []);
  await context.close();
});

test('message text is shown as text, never as HTML', async () => {
  const context = await browser.newContext();
  const { page } = await openHost(context, server, hostPage(server.token));
  await w(page, 'launcher').click();
  await w(page, 'panel').waitFor();
  await type(page, '<img src=x onerror="window.pwned=1"><b>bold</b>');
  const mine = page.locator('[data-natter="message"][data-sender="user"] .text');
  await expect(() => mine.allTextContents(), (t) => t.includes('<img src=x onerror="window.pwned=1"><b>bold</b>'));
  assert.equal(await page.locator('[data-natter="message"] img, [data-natter="message"] b').count(), 0);
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  await context.close();
});

test('a long conversation resumes with its newest hundred messages, and earlier ones load on request', async () => {
  const context = await browser.newContext();
  const { page, record } = await openHost(context, server, hostPage(server.token));
  await w(page, 'launcher').click();
  await w(page, 'panel').waitFor();
  await type(page, 'message 0');
  const mine = page.locator('[data-natter="message"][data-sender="user"][data-pending="false"]');
  await expect(() => mine.count(), (n) => n === 1);
  const stored = await storedSession(page, server.token);
  // 129 more through the public API, as the same visitor, within its rate limit.
  for (let i = 1; i < 130; i++) {
    const send = () =>
      fetch(`${server.base}/api/public/chat/sessions/${stored.sessionId}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': server.token, 'x-session-token': stored.token },
        body: JSON.stringify({ message: `message ${i}`, echoId: `bulk-${i}` }),
      });
    let res = await send();
    while (res.status === 429) {
      await new Promise((ok) => setTimeout(ok, 1000 * Number(res.headers.get('retry-after'))));
      res = await send();
    }
    assert.equal(res.status, 201);
  }

  await page.reload();
  // Open before the reload, so open again after it: the site's next page in the same tab.
  await w(page, 'panel').waitFor();
  const texts = () => mine.locator('.text').allTextContents();
  await expect(texts, (t) => t.includes('message 129'));
  const resumed = await texts();
  assert.ok(!resumed.includes('message 0') && resumed.length <= 100, `only the newest page: ${resumed.length}`);
  const earlier = w(page, 'earlier');
  assert.ok(await earlier.isVisible(), 'the panel offers earlier messages');
  await earlier.click();
  await expect(texts, (t) => t.includes('message 0'));
  const all = await texts();
  assert.deepEqual(all, Array.from({ length: 130 }, (_, i) => `message ${i}`), 'every message once, in order');
  await expect(() => earlier.isVisible(), (visible) => !visible);
  assert.deepEqual(record.errors, []);
  await context.close();
});
