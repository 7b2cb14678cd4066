// The demo answers a visitor by itself from its FAQ, with no API key and no
// network: the question typed in the widget gets the passage that answers it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { expect } from './expect.mjs';
import { launchBrowser, startServer, type, w } from './helpers.mjs';

let server;
let browser;
before(async () => {
  server = await startServer([], { autoRespond: true });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the demo widget answers a question from the FAQ by itself, and hands over one it cannot answer', async () => {
  const page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${server.base}/`);
  await w(page, 'launcher').click();
  await w(page, 'panel').waitFor();
  await type(page, 'How long does delivery take?');
  const bot = page.locator('[data-natter="message"][data-sender="bot"]');
  await expect(() => bot.allTextContents(), (t) => t.some((s) => s.includes('two to four working days')));
  await type(page, 'Can you recommend a good film?');
  await expect(() => bot.allTextContents(), (t) => t.some((s) => s.includes('an operator will answer here shortly')));
  assert.deepEqual(errors, []);

  // The console shows which reply the AI wrote, and that the conversation needs a person.
  const desk = await (await browser.newContext()).newPage();
  await desk.goto(`${server.base}/console`);
  await desk.fill('input[name=email]', server.admin.email);
  await desk.fill('input[name=password]', server.admin.password);
  await desk.press('input[name=password]', 'Enter');
  await desk.locator('#status', { hasText: 'Live' }).waitFor();
  await desk.click('[data-filter=needs_human]');
  const item = desk.locator('.conversations li', { hasText: 'needs a person' });
  await item.waitFor();
  await item.click();
  const note = desk.locator('.messages li[data-sender=bot] .ai');
  await note.first().waitFor();
  assert.match(await note.first().textContent(), /^AI · \d+% · Shop FAQ$/);
  assert.equal(await desk.locator('#ai-switch').textContent(), 'Let the AI answer');
});
