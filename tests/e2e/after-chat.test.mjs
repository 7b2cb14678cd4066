// When the conversation ends and when nobody is there: the visitor rates a
// conversation an operator closed (1–5 with a comment), which reaches the
// conversation and the analytics; and while the website is away the widget
// asks for an e-mail address to answer at, kept on the customer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openDemoWidget, serverAndBrowser, storedSession, type, violations, w } from './helpers.mjs';

let operator;
const env = serverAndBrowser({ ready: async ({ server }) => (operator = await server.operator()) });

const demoWidget = (context) => openDemoWidget(context, env.server);

const api = async (path, init = {}) => (await fetch(`${env.server.base}${path}`, { headers: operator.headers, ...init })).json();

test('a visitor rates the conversation an operator closed, and the rating reaches the conversation and analytics', async () => {
  const { server, browser } = env;
  const context = await browser.newContext();
  const { page, errors } = await demoWidget(context);
  await type(page, 'Is the grinder back in stock?');
  await page.locator('[data-natter="message"][data-sender="user"][data-pending="false"]').waitFor();
  assert.equal(await w(page, 'rating').isVisible(), false, 'nothing to rate while it is open');
  const { sessionId } = await storedSession(page, server.token);
  await api(`/api/v1/conversations/${sessionId}/close`, { method: 'POST' });

  const rating = w(page, 'rating');
  await rating.getByText('How was this conversation?').waitFor();
  assert.deepEqual(await violations(page), [], 'the rating form passes axe');
  await rating.locator('label', { hasText: '4' }).click();
  await rating.locator('textarea').fill('Quick and friendly');
  await rating.locator('button[type=submit]').click();
  await rating.getByText('Thank you for your rating.').waitFor();
  assert.equal(await rating.locator('fieldset').isVisible(), false);

  const conversation = await api(`/api/v1/conversations/${sessionId}`);
  assert.deepEqual([conversation.data.rating.score, conversation.data.rating.comment], [4, 'Quick and friendly']);
  const stats = await api('/api/v1/analytics/stats');
  assert.deepEqual(stats.satisfaction, { average: 4, responses: 1 });

  // Writing again reopens the conversation, and the prompt goes.
  await type(page, 'One more question');
  await rating.waitFor({ state: 'hidden' });
  assert.deepEqual(errors, []);
  await context.close();
});

test('a conversation closed while the visitor was away asks for a rating on their next page, and only until rated', async () => {
  const { server, browser } = env;
  const context = await browser.newContext();
  const first = await demoWidget(context);
  await type(first.page, 'Do you ship to Lviv?');
  await first.page.locator('[data-natter="message"][data-sender="user"][data-pending="false"]').waitFor();
  const { sessionId } = await storedSession(first.page, server.token);
  await first.page.close();
  await api(`/api/v1/conversations/${sessionId}/close`, { method: 'POST' });

  const { page, errors } = await demoWidget(context);
  const rating = w(page, 'rating');
  await rating.getByText('How was this conversation?').waitFor();
  await rating.locator('label', { hasText: '5' }).click();
  await rating.locator('button[type=submit]').click();
  await rating.getByText('Thank you for your rating.').waitFor();
  const conversation = await api(`/api/v1/conversations/${sessionId}`);
  assert.equal(conversation.data.rating.score, 5);

  await page.reload();
  // (An open widget opens again by itself on the tab's next page.)
  await w(page, 'panel').waitFor();
  await page.locator('[data-natter="message"][data-sender="user"]').first().waitFor();
  assert.equal(await rating.isVisible(), false, 'a rated conversation does not ask again');
  assert.deepEqual(errors, []);
  await context.close();
});

test('while the website is away the widget takes an e-mail address, kept on the customer', async () => {
  const channels = await api('/api/v1/channels');
  const widget = channels.data.find((c) => c.type === 'widget');
  const set = (away) =>
    api(`/api/v1/channels/${widget.id}`, { method: 'PUT', body: JSON.stringify({ config: { awayWhenNoOperator: away } }) });
  await set(true);
  try {
    const { server, browser } = env;
    const context = await browser.newContext();
    const { page, errors } = await demoWidget(context);
    const away = w(page, 'away');
    await away.getByText('We are away right now').waitFor();
    assert.deepEqual(await violations(page), [], 'the away form passes axe');
    await away.locator('input[name=email]').fill('not an address');
    await away.locator('button[type=submit]').click();
    await away.getByText('Please enter an e-mail address like name@example.com.').waitFor();
    await away.locator('input[name=email]').fill('  taras@example.com ');
    await away.locator('button[type=submit]').click();
    await away.waitFor({ state: 'hidden' });
    await type(page, 'Please write to me when you are back');
    await page.locator('[data-natter="message"][data-sender="user"][data-pending="false"]').waitFor();
    const { sessionId } = await storedSession(page, server.token);
    const conversation = await api(`/api/v1/conversations/${sessionId}`);
    assert.equal(conversation.data.customer.email, 'taras@example.com');
    const customer = await api(`/api/v1/customers/${conversation.data.customer.id}`);
    assert.equal(customer.data.email, 'taras@example.com');
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await set(false);
  }
});
