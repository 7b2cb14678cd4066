// From a fresh server: a newcomer creates an account in the console, connects
// a (fake) Telegram bot, answers a customer who writes to it, and sees the
// conversation in the analytics.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { expect } from './expect.mjs';
import { FAKE_BOT_TOKEN, startFakeTelegram } from './fake-telegram.mjs';
import { launchBrowser, startServer } from './helpers.mjs';

let server;
let browser;
let telegram;
before(async () => {
  server = await startServer(['--allow-registration', '--allow-private-webhooks']);
  browser = await launchBrowser();
  telegram = await startFakeTelegram();
});
after(async () => {
  await browser?.close();
  await server?.stop();
  await telegram?.close();
});

test('a newcomer registers, connects a Telegram bot, answers it from the console and sees it in analytics', async () => {
  const page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${server.base}/console`);
  await page.click('#show-register');
  await page.fill('#register-form input[name=company_name]', 'Kava Roasters');
  await page.fill('#register-form input[name=first_name]', 'Iryna');
  await page.fill('#register-form input[name=last_name]', 'Melnyk');
  await page.fill('#register-form input[name=email]', 'iryna@kava.example');
  await page.fill('#register-form input[name=new_password]', 'roasting every morning');
  await page.click('#register-form button[type=submit]');
  await page.locator('#status', { hasText: 'Live' }).waitFor();
  assert.equal(await page.locator('#me').textContent(), 'Iryna Melnyk');

  // A new account starts on the free plan, with an empty inbox.
  await page.click('[data-view=settings]');
  await page.locator('#plan-summary', { hasText: 'The free plan' }).waitFor();
  await page.locator('summary', { hasText: 'Telegram' }).click();
  await page.fill('#telegram-form input[name=bot_token]', FAKE_BOT_TOKEN);
  await page.fill('#telegram-form input[name=api_base_url]', telegram.base);
  await page.click('#telegram-form button[type=submit]');
  await page.locator('#channel-list li', { hasText: '@natter_shop_bot' }).waitFor();

  await page.click('[data-view=inbox]');
  await telegram.customerWrites('Do you have decaf?', { id: 7007, first_name: 'Petro' });
  const item = page.locator('.conversations li', { hasText: 'Petro' });
  await item.waitFor();
  await item.click();
  await page.fill('#reply-text', 'Yes, a Colombian decaf.');
  await page.press('#reply-text', 'Enter');
  await expect(() => telegram.sent(), (sent) => sent.some((m) => m.chat_id === 7007 && m.text === 'Yes, a Colombian decaf.'));

  await page.click('[data-view=analytics]');
  await page.locator('#analytics-totals dd', { hasText: '1 (1 open, 0 closed)' }).waitFor();
  assert.equal(await page.locator('#chart svg rect').count(), 2 * 14, 'two bars a day over the last fortnight');
  const lastRow = page.locator('#analytics-table tbody tr').last();
  assert.equal(await lastRow.locator('td').first().textContent(), '1', "today's conversation");
  assert.deepEqual(errors, []);
});

test('registration is refused on a server that does not take it, with a reason a person can read', async () => {
  const closed = await startServer();
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${closed.base}/console`);
    await page.click('#show-register');
    await page.fill('#register-form input[name=company_name]', 'Nope Ltd');
    await page.fill('#register-form input[name=first_name]', 'No');
    await page.fill('#register-form input[name=last_name]', 'Body');
    await page.fill('#register-form input[name=email]', 'no@example.com');
    await page.fill('#register-form input[name=new_password]', 'a long enough password');
    await page.click('#register-form button[type=submit]');
    await page.locator('#register-form .error', { hasText: 'does not take new accounts' }).waitFor();
  } finally {
    await closed.stop();
  }
});
