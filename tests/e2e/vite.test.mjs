// A Vite app that imports the npm package builds, loads the wasm and chats.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { build } from 'vite';
import { expect } from './expect.mjs';
import { launchBrowser, startServer, type, w } from './helpers.mjs';

const APP = resolve(import.meta.dirname, '..', 'vite-app');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };

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

test('a Vite app importing natter-widget builds, mounts and delivers a message', async () => {
  const outDir = join(APP, 'dist');
  await build({ root: APP, configFile: join(APP, 'vite.config.js'), build: { outDir, emptyOutDir: true } });
  const context = await browser.newContext();
  // The built app is served under /vite-app/ on the server's origin (Chromium keeps
  // pages without a real address from reaching loopback servers).
  const prefix = `${server.base}/vite-app/`;
  await context.route(`${prefix}**`, async (route) => {
    const path = new URL(route.request().url()).pathname.slice('/vite-app/'.length);
    const file = join(outDir, path === '' ? 'index.html' : path);
    route.fulfill({ body: await readFile(file), contentType: TYPES[extname(file)] ?? 'application/octet-stream' });
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${prefix}?token=${server.token}&server=${encodeURIComponent(server.base)}`);
  await w(page, 'panel').waitFor();
  assert.equal(await page.evaluate(() => document.body.dataset.natterReady), 'true');
  await type(page, 'hello from vite');
  await expect(() => page.locator('[data-natter="message"][data-sender="user"][data-pending="false"]').count(), (n) => n === 1);
  assert.deepEqual(errors, []);
  await context.close();
});
