// Delivery without a healthy socket: transport=polling, a refused socket
// (the widget falls back to polling), and a send made offline that is
// delivered exactly once when the network returns.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { expect } from './expect.mjs';
import { hostPage, launchBrowser, openHost, startServer, storedSession, type, w } from './helpers.mjs';

let server;
let browser;
let operator;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  operator = await server.operator();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

async function chatOnce(page, text, reply) {
  await w(page, 'launcher').click();
  await w(page, 'panel').waitFor();
  await type(page, text);
  await expect(() => page.locator('[data-natter="message"][data-sender="user"][data-pending="false"]').count(), (n) => n >= 1);
  const { sessionId } = await storedSession(page, server.token);
  await operator.reply(sessionId, reply);
  await expect(() => page.locator('[data-natter="message"][data-sender="manager"]').allTextContents(), (t) =>
    t.some((s) => s.includes(reply)),
  );
  return sessionId;
}

test('with transport=polling no socket is opened and replies still arrive', async () => {
  const context = await browser.newContext();
  const { page } = await openHost(context, server, hostPage(server.token, { transport: 'polling', 'poll-interval': '500' }));
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await chatOnce(page, 'polling hello', 'polling reply');
  assert.deepEqual(sockets, []);
  await context.close();
});

test('when the socket is refused the widget polls and replies still arrive', async () => {
  const context = await browser.newContext();
  await context.routeWebSocket(/\/ws$/, (ws) => ws.close({ code: 1011, reason: 'refused by the test' }));
  const { page } = await openHost(context, server, hostPage(server.token, { 'poll-interval': '500' }));
  const polls = [];
  page.on('request', (req) => {
    if (req.method() === 'GET' && req.url().includes('/messages?after=')) polls.push(req.url());
  });
  await chatOnce(page, 'refused hello', 'refused reply');
  assert.ok(polls.length > 0, 'polling took over');
  await context.close();
});

test('a message sent while offline is delivered exactly once when the network returns', async () => {
  const context = await browser.newContext();
  const { page } = await openHost(context, server, hostPage(server.token));
  const sessionId = await chatOnce(page, 'online first', 'we are here');
  await context.setOffline(true);
  await type(page, 'sent while offline');
  await expect(() => page.locator('[data-natter="message"][data-pending="true"]').count(), (n) => n === 1);
  await context.setOffline(false);
  await expect(() => page.locator('[data-natter="message"][data-pending="true"]').count(), (n) => n === 0);
  const stored = await operator.messages(sessionId);
  assert.equal(stored.filter((m) => m.content === 'sent while offline').length, 1);
  const shown = await page.locator('[data-natter="message"]').allTextContents();
  assert.equal(shown.filter((s) => s.includes('sent while offline')).length, 1);
  await context.close();
});
