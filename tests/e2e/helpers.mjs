// Shared helpers of the end-to-end tests: the real server on a free port,
// headless Chromium through playwright-core, host pages and the operator API.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..', '..');
const TARGET = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
const SERVER_BIN = process.env.NATTER_SERVER_BIN ?? join(TARGET, 'debug', 'natter-server');
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

export const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self'";

function freePort() {
  return new Promise((ok, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => ok(port));
    });
  });
}

/**
 * Starts natter-server with a fresh database (and `extraArgs`); resolves once
 * it listens. The demo answers visitors from its FAQ by itself; tests that are
 * about something else turn that off unless `autoRespond` is set.
 */
export async function startServer(extraArgs = [], { autoRespond = false } = {}) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'natter-e2e-'));
  const child = spawn(
    SERVER_BIN,
    ['--addr', `127.0.0.1:${port}`, '--data-dir', dataDir, '--static-dir', join(ROOT, 'www'), '--pkg-dir', join(ROOT, 'pkg'), ...extraArgs],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } },
  );
  let out = '';
  await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`server did not start:\n${out}`)), 30_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('Natter is running')) {
        clearTimeout(timer);
        ok();
      }
    });
    child.stderr.on('data', (chunk) => (out += chunk));
    child.once('exit', (code) => fail(new Error(`server exited with ${code}:\n${out}`)));
    child.once('error', (e) => fail(new Error(`cannot run ${SERVER_BIN}: ${e.message}`)));
  });
  const token = /demo website token\s+(\S+)/.exec(out)?.[1];
  const email = /admin login\s+(\S+)/.exec(out)?.[1];
  const password = /admin password\s+(\S+)/.exec(out)?.[1];
  const base = `http://127.0.0.1:${port}`;
  if (!autoRespond && email) {
    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }),
    });
    const { access_token } = await login.json();
    const off = await fetch(`${base}/api/v1/ai/settings`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ auto_respond: false }),
    });
    if (!off.ok) throw new Error(`could not turn auto-respond off: ${off.status}`);
  }
  return {
    base,
    token,
    admin: { email, password },
    async operator() {
      const res = await fetch(`${base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password }),
      });
      const { access_token } = await res.json();
      return new Operator(base, access_token);
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((ok) => (child.exitCode !== null ? ok() : child.once('exit', ok)));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The operator API, as an operator's console uses it. */
class Operator {
  constructor(base, token) {
    this.base = base;
    this.headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  }

  async messages(conversationId) {
    const res = await fetch(`${this.base}/api/v1/conversations/${conversationId}/messages`, { headers: this.headers });
    return (await res.json()).data;
  }

  async reply(conversationId, content) {
    const res = await fetch(`${this.base}/api/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: this.headers,
      body: JSON.stringify({ content }),
    });
    if (!res.ok) throw new Error(`reply failed: ${res.status} ${await res.text()}`);
  }
}

export async function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      ...extraArgs,
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A host page embedding the widget with the script tag and `attrs` as data-* attributes. */
export function hostPage(token, attrs = {}, { csp = CSP } = {}) {
  const data = Object.entries({ 'website-token': token, ...attrs })
    .map(([k, v]) => ` data-${k}="${v}"`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<title>Host</title><script src="/natter.js"${data} async></script></head>
<body><h1>Host page</h1><p>Some content.</p></body></html>`;
}

/** Opens `html` at `${base}/host.html` (same origin as the server) and records wasm fetches and CSP violations. */
export async function openHost(context, server, html) {
  const page = await context.newPage();
  const record = { wasm: 0, cspViolations: [], errors: [] };
  page.on('request', (req) => {
    if (req.url().endsWith('.wasm')) record.wasm += 1;
  });
  page.on('console', (msg) => {
    if (/Content.Security.Policy/i.test(msg.text())) record.cspViolations.push(msg.text());
  });
  page.on('pageerror', (e) => record.errors.push(String(e)));
  await context.route(`${server.base}/host.html`, (route) =>
    route.fulfill({ contentType: 'text/html', body: html }),
  );
  await page.goto(`${server.base}/host.html`);
  return { page, record };
}

/** Locators inside the widget's shadow root (Playwright's CSS pierces open shadow roots). */
export const w = (page, hook) => page.locator(`[data-natter="${hook}"]`);

/** Sends text through the composer as a visitor would. */
export async function type(page, text) {
  const box = page.locator('[data-natter="composer"] textarea');
  await box.fill(text);
  await box.press('Enter');
}

/** The session id the widget stored for this website. */
export async function storedSession(page, token) {
  return page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? 'null'), `natter:${token}`);
}

const AXE = readFileSync(join(ROOT, 'tests', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

/** axe-core's violations on the page once the widget's animations ran (axe looks into open shadow roots). */
export async function violations(page) {
  await page.evaluate(() => {
    const root = document.querySelector('[data-natter-host]')?.shadowRoot;
    return Promise.all((root?.getAnimations() ?? []).map((a) => a.finished));
  });
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const found = await window.axe.run(document, { resultTypes: ['violations'] });
    return found.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => `${JSON.stringify(n.target)} (${n.failureSummary})`).join(', ')}`);
  });
}

/**
 * A server and a browser for a test file: started before its tests (then
 * `ready(env)`, for what the tests share) and stopped after them. The
 * returned object's `server` and `browser` are set once started.
 */
export function serverAndBrowser({ serverArgs = [], browserArgs = [], ready = async () => {} } = {}) {
  const env = { server: null, browser: null };
  before(async () => {
    env.server = await startServer(serverArgs);
    env.browser = await launchBrowser(browserArgs);
    await ready(env);
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.stop();
  });
  return env;
}

/** Counts the page's WebSockets: how many it opened and how many are open. */
export function watchSockets(page) {
  const sockets = [];
  page.on('websocket', (ws) => {
    const entry = { open: true };
    sockets.push(entry);
    ws.on('close', () => (entry.open = false));
  });
  return { opened: () => sockets.length, open: () => sockets.filter((s) => s.open).length };
}

/** The demo page (served by the server, so its socket is allowed) with the widget open, and the page errors it meets. */
export async function openDemoWidget(context, server) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${server.base}/`);
  await w(page, 'launcher').click();
  await w(page, 'panel').waitFor();
  return { page, errors };
}
