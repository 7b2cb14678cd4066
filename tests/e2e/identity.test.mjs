// Identity verification from the page: Natter.identify({userId, userHash})
// with the HMAC the site's server computed joins a signed-in user's
// conversations on every device as one verified customer; a forged hash is
// refused with an `error` event, links nothing, and the visitor chats on.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { expect } from './expect.mjs';
import { hostPage, openHost, serverAndBrowser, storedSession, type, w } from './helpers.mjs';

let operator;
let secret;
const env = serverAndBrowser({
  ready: async ({ server }) => {
    operator = await server.operator();
    const channels = await (await fetch(`${server.base}/api/v1/channels`, { headers: operator.headers })).json();
    secret = channels.data.find((c) => c.type === 'widget' && c.config.identity_secret).config.identity_secret;
  },
});

/** What the site's backend computes for its signed-in user. */
const userHash = (userId) => createHmac('sha256', secret).update(userId).digest('hex');

/** A visitor who identifies with `details` before writing `text`; returns their customer and error events. */
async function visitor(details, text) {
  const { server, browser } = env;
  const context = await browser.newContext();
  const { page, record } = await openHost(context, server, hostPage(server.token));
  const errors = [];
  await page.exposeFunction('natterError', (e) => errors.push(e));
  await page.evaluate((details) => {
    window.Natter.on('error', (e) => window.natterError(e));
    window.Natter.identify(details);
  }, details);
  await w(page, 'launcher').click();
  await type(page, text);
  await page.locator('[data-natter="message"][data-sender="user"][data-pending="false"]', { hasText: text }).waitFor();
  const { sessionId } = await storedSession(page, server.token);
  const conversation = await (await fetch(`${server.base}/api/v1/conversations/${sessionId}`, { headers: operator.headers })).json();
  const customer = await (await fetch(`${server.base}/api/v1/customers/${conversation.data.customer.id}`, { headers: operator.headers })).json();
  assert.deepEqual(record.errors, []);
  await context.close();
  return { customer: customer.data, errors };
}

test('a signed-in user identified with a valid hash is one verified customer on two devices', async () => {
  const details = { userId: 'shop-user-7', userHash: userHash('shop-user-7'), name: 'Olena Kovalenko', email: 'olena@example.com' };
  const laptop = await visitor(details, 'Writing from my laptop');
  const phone = await visitor(details, 'And now from my phone');
  assert.deepEqual(laptop.errors, []);
  assert.equal(laptop.customer.verified, true, JSON.stringify(laptop.customer));
  assert.equal(laptop.customer.user_id, 'shop-user-7');
  assert.equal(phone.customer.id, laptop.customer.id, 'both devices are one customer');
  assert.equal(phone.customer.conversations.length, 2);
});

test('a forged hash is refused with an error event, links nothing, and the message still goes through', async () => {
  const forged = { userId: 'shop-user-7', userHash: userHash('shop-user-8'), name: 'Mallory' };
  const { customer, errors } = await visitor(forged, 'Let me see Olena’s conversations');
  await expect(() => errors, (e) => e.length > 0);
  assert.equal(errors[0].code, 'identity_not_verified', JSON.stringify(errors));
  assert.equal(customer.verified, false, JSON.stringify(customer));
  assert.equal(customer.conversations.length, 1, 'only its own conversation');
});
