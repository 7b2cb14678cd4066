// The console's settings: an operator turns on two-factor sign-in and signs
// in with a code; an admin connects a (fake) Telegram bot and answers a
// customer who writes to it from the inbox.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { expect } from './expect.mjs';
import { FAKE_BOT_TOKEN, startFakeTelegram } from './fake-telegram.mjs';
import { launchBrowser, startServer, type, w } from './helpers.mjs';

let server;
let browser;
let telegram;
before(async () => {
  server = await startServer(['--allow-private-webhooks']);
  browser = await launchBrowser();
  telegram = await startFakeTelegram();
});
after(async () => {
  await browser?.close();
  await server?.stop();
  await telegram?.close();
});

/** RFC 6238 TOTP (SHA-1, 30 s, six digits) for a base32 secret, `steps` from now. */
function totp(secret, steps = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + steps));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

async function signIn(page, code) {
  await page.goto(`${server.base}/console`);
  await page.fill('input[name=email]', server.admin.email);
  await page.fill('input[name=password]', server.admin.password);
  await page.press('input[name=password]', 'Enter');
  if (code) {
    await page.locator('#login-code').waitFor();
    await page.fill('input[name=code]', code());
    await page.press('input[name=code]', 'Enter');
  }
  await page.locator('#status', { hasText: 'Live' }).waitFor();
}

test('an operator turns on two-factor sign-in in the console and signs in with a code', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await signIn(page);
  await page.click('[data-view=settings]');
  await page.locator('#tfa-state', { hasText: 'off' }).waitFor();
  await page.click('#tfa-enable');
  await page.locator('#tfa-setup').waitFor();
  const secret = (await page.locator('#tfa-secret').textContent()).trim();
  assert.match(secret, /^[A-Z2-7]{16,}$/);
  assert.match(await page.locator('#tfa-link').getAttribute('href'), /^otpauth:\/\/totp\//);
  const backup = (await page.locator('#tfa-backup').textContent()).trim().split(/\s+/);
  assert.equal(backup.length, 10);

  await page.fill('#tfa-verify input[name=code]', '000000' === totp(secret) ? '111111' : '000000');
  await page.press('#tfa-verify input[name=code]', 'Enter');
  await page.locator('#tfa-error', { hasText: 'wrong' }).waitFor();
  await page.fill('#tfa-verify input[name=code]', totp(secret));
  await page.press('#tfa-verify input[name=code]', 'Enter');
  await page.locator('#tfa-state', { hasText: 'on' }).waitFor();

  await page.click('#logout');
  await page.locator('#login').waitFor();
  // Without the code the console asks for it; with the next step's code it lets the operator in.
  await signIn(page, () => totp(secret, 1));
  assert.equal(await page.locator('#me').textContent().then((t) => t.length > 0), true);

  // Off again with a backup code, so the other test signs in with the password alone.
  await page.click('[data-view=settings]');
  await page.locator('#tfa-disable').waitFor();
  await page.fill('#tfa-disable input[name=code]', backup[0]);
  await page.press('#tfa-disable input[name=code]', 'Enter');
  await page.locator('#tfa-state', { hasText: 'off' }).waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});

test('an admin connects a Telegram bot in the console and answers its customer from the inbox', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await signIn(page);
  await page.click('[data-view=settings]');
  await page.locator('summary', { hasText: 'Telegram' }).click();
  await page.fill('#telegram-form input[name=bot_token]', '1:wrong-token-wrong-token-wrong');
  await page.fill('#telegram-form input[name=api_base_url]', telegram.base);
  await page.click('#telegram-form button[type=submit]');
  await page.locator('#telegram-form .error', { hasText: 'Telegram: Unauthorized' }).waitFor();
  await page.fill('#telegram-form input[name=bot_token]', FAKE_BOT_TOKEN);
  await page.click('#telegram-form button[type=submit]');
  await page.locator('#channel-list li', { hasText: '@natter_shop_bot' }).waitFor();

  await page.click('[data-view=inbox]');
  await telegram.customerWrites('Hi! Do you ship to Lviv?');
  const item = page.locator('.conversations li', { hasText: 'Olena Koval' });
  await item.waitFor();
  assert.match(await item.locator('.state').textContent(), /^telegram · /);
  await item.click();
  await page.locator('.messages li[data-sender=user]', { hasText: 'Do you ship to Lviv?' }).waitFor();
  await page.fill('#reply-text', 'Yes, in two days.');
  await page.press('#reply-text', 'Enter');
  await expect(() => telegram.sent(), (sent) => sent.some((m) => m.text === 'Yes, in two days.' && m.chat_id === 5551234));

  // Reopened, the reply shows it reached Telegram.
  await page.click('[data-view=settings]');
  await page.click('[data-view=inbox]');
  await item.click();
  await page.locator('.messages li[data-sender=manager] .delivery', { hasText: 'Delivered' }).waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});

test('an admin invites a colleague, who joins through the one-time link; the plan shows its usage', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await signIn(page);
  await page.click('[data-view=settings]');
  await page.locator('#usage dt', { hasText: 'Messages' }).waitFor();
  assert.match(await page.locator('#plan-summary').textContent(), /^The enterprise plan, \d{4}-\d{2}-01 to /);
  await page.fill('#invite-form input[name=email]', 'colleague@example.com');
  await page.fill('#invite-form input[name=departments]', 'support, sales');
  await page.click('#invite-form button[type=submit]');
  const link = (await page.locator('#invite-link code').textContent()).trim();
  assert.match(link, /\/console#invite=[\w-]{20,}$/);
  await page.locator('#team-list li', { hasText: 'colleague@example.com · support, sales' }).waitFor();

  const newcomer = await (await browser.newContext()).newPage();
  await newcomer.goto(link);
  await newcomer.locator('#invitation').waitFor();
  await newcomer.fill('input[name=new_password]', 'my own long password');
  await newcomer.press('input[name=new_password]', 'Enter');
  await newcomer.locator('#status', { hasText: 'Live' }).waitFor();
  assert.equal(new URL(newcomer.url()).hash, '', 'the token leaves the address bar');

  // The link works once.
  const again = await (await browser.newContext()).newPage();
  await again.goto(link);
  await again.fill('input[name=new_password]', 'another long password');
  await again.press('input[name=new_password]', 'Enter');
  await again.locator('#invitation .error', { hasText: 'unknown, used or expired' }).waitFor();

  // The colleague shows online while their console is open.
  await page.click('[data-view=inbox]');
  await page.click('[data-view=settings]');
  await page.locator('#team-list li', { hasText: 'colleague@example.com' }).locator('.online').waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});

test('an admin uploads an FAQ to the knowledge base and finds the passage that answers', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await signIn(page);
  await page.click('[data-view=knowledge]');
  const faq = '# Shipping\n\nWe ship every weekday.\n\n# Returns\n\nA damaged item can be returned within 30 days for a refund.\n';
  await page.setInputFiles('#knowledge-form input[name=file]', { name: 'returns.md', mimeType: 'text/markdown', buffer: Buffer.from(faq) });
  await page.fill('#knowledge-form input[name=title]', 'Returns FAQ');
  await page.click('#knowledge-form button[type=submit]');
  const uploaded = page.locator('#document-list li', { hasText: 'returns.md' });
  await uploaded.waitFor();
  assert.match(await uploaded.textContent(), /Returns FAQ.*2 passages/);

  await page.setInputFiles('#knowledge-form input[name=file]', { name: 'logo.txt', mimeType: 'text/plain', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0]) });
  await page.click('#knowledge-form button[type=submit]');
  await page.locator('#knowledge-form .error', { hasText: 'not a PDF, DOCX, TXT, Markdown or HTML document' }).waitFor();

  await page.fill('#knowledge-search input[name=query]', 'How do I return a damaged item?');
  await page.press('#knowledge-search input[name=query]', 'Enter');
  const first = page.locator('#knowledge-results li').first();
  await first.locator('blockquote', { hasText: 'returned within 30 days' }).waitFor();
  assert.match(await first.locator('strong').textContent(), /^Returns FAQ \(100%\)$/);
  assert.deepEqual(errors, []);
  await context.close();
});

test('an admin uploads an FAQ and turns on the AI in the console, and the demo widget answers from it by itself', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await signIn(page);
  await page.click('[data-view=knowledge]');
  await page.locator('#ai-state', { hasText: 'Not answering by itself' }).waitFor();
  const faq = '# Gift cards\n\nGift cards come in 500, 1000 and 2000 hryvnias and never expire; we e-mail them within an hour.\n';
  await page.setInputFiles('#knowledge-form input[name=file]', { name: 'gifts.md', mimeType: 'text/markdown', buffer: Buffer.from(faq) });
  await page.click('#knowledge-form button[type=submit]');
  await page.locator('#document-list li', { hasText: 'gifts.md' }).waitFor();
  await page.check('#ai-form input[name=auto_respond]');
  await page.click('#ai-form button[type=submit]');
  await page.locator('#ai-state', { hasText: 'Answering by itself with the built-in responder' }).waitFor();

  const visitor = await context.newPage();
  visitor.on('pageerror', (e) => errors.push(String(e)));
  await visitor.goto(`${server.base}/`);
  await w(visitor, 'launcher').click();
  await w(visitor, 'panel').waitFor();
  await type(visitor, 'Do gift cards expire?');
  const bot = visitor.locator('[data-natter="message"][data-sender="bot"]');
  await expect(() => bot.allTextContents(), (t) => t.some((s) => s.includes('never expire')));
  assert.deepEqual(errors, []);
  await context.close();
});
