// Accessibility as axe-core checks it: the demo page with the widget closed
// and open (a conversation in it, the contact form asked for), the console's
// sign-in, its inbox with a conversation open, analytics, knowledge and settings. Every rule axe runs by
// default (WCAG 2.x A and AA, best practices) must pass.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serverAndBrowser, type, violations, w } from './helpers.mjs';

const env = serverAndBrowser();

for (const scheme of ['light', 'dark']) {
  test(`the demo page passes axe with the widget closed and open (${scheme})`, async () => {
    const { server, browser } = env;
    const context = await browser.newContext({ colorScheme: scheme });
    const page = await context.newPage();
    await page.goto(`${server.base}/`);
    await w(page, 'launcher').waitFor();
    assert.deepEqual(await violations(page), [], 'closed');
    await w(page, 'launcher').click();
    await w(page, 'panel').waitFor();
    await w(page, 'message').first().waitFor();
    assert.deepEqual(await violations(page), [], 'open, with the greeting');
    await type(page, 'Do you ship to Lviv?');
    await w(page, 'contact-form').waitFor();
    assert.deepEqual(await violations(page), [], 'open, with a message sent and the contact form');
    await context.close();
  });
}

test('the console passes axe signed out, with a conversation open and in its other views', async () => {
  const { server, browser } = env;
  const created = await fetch(`${server.base}/api/public/chat/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': server.token },
    body: JSON.stringify({ userSessionId: 'axe-visitor', name: 'Iryna', firstMessage: 'Is the shop open on Sunday?' }),
  });
  assert.equal(created.status, 201);
  const sessionId = (await created.json()).data.sessionId;
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.base}/console`);
  await page.locator('#login-form input[name=email]').waitFor();
  assert.deepEqual(await violations(page), [], 'the sign-in form');
  await page.fill('#login-form input[name=email]', server.admin.email);
  await page.fill('#login-form input[name=password]', server.admin.password);
  await page.press('#login-form input[name=password]', 'Enter');
  await page.locator('#status', { hasText: 'Live' }).waitFor();
  await page.locator(`.conversations li[data-id="${sessionId}"]`).click();
  await page.locator('.messages li', { hasText: 'Is the shop open on Sunday?' }).waitFor();
  assert.deepEqual(await violations(page), [], 'the inbox with a conversation open');
  for (const view of ['analytics', 'knowledge', 'settings']) {
    await page.click(`[data-view=${view}]`);
    await page.locator(`#${view}`).waitFor();
    await page.waitForLoadState('networkidle');
    assert.deepEqual(await violations(page), [], `the ${view} view`);
  }
  await context.close();
});
