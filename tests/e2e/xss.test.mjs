// An XSS corpus goes through every visitor-controlled field (message text,
// name, phone, email, identify metadata) and operator replies, into the widget
// and the operator console in real Chromium: everything is shown as text and
// nothing executes.
//
// Detection: every page gets `window.__pwned(label)` (a binding installed
// before any script of the page) that records a hit; dialogs are counted; any
// request whose URL contains "pwned" is recorded; and the DOM around the
// rendered text is checked for elements the payloads would create. The pages
// run with CSP bypassed, so a payload rendered as HTML would really run (the
// widget's test host page and the console both have strict policies; this
// tests the rendering, not the CSP). A canary test
// first inserts the corpus as HTML into the same real pages and proves that
// every one of these detectors fires.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { expect } from './expect.mjs';
import { hostPage, launchBrowser, openHost, startServer, w } from './helpers.mjs';

/** Payloads, each of which would call `__pwned(<id>)` (or alert, or fetch a "pwned" URL) if it ever ran. */
const CORPUS = [
  ['img', `<img src=x onerror="window.__pwned('img')">`],
  ['svg', `<svg onload=window.__pwned('svg')>`],
  ['script', `"><script>window.__pwned('script')</script>`],
  ['href', `javascript:window.__pwned('href')`],
  ['a', `<a href="javascript:window.__pwned('a')">x</a>`],
  ['srcdoc', `<iframe srcdoc="<script>parent.__pwned('srcdoc')</script>"></iframe>`],
  ['ta', `</textarea><script>window.__pwned('ta')</script>`],
  ['details', `<details open ontoggle=window.__pwned('details')>`],
  ['tpl', `{{constructor.constructor('window.__pwned("tpl")')()}}`],
  ['tpl2', '${window.__pwned("tpl2")}'],
  ['bidi', `\u202Egnp.exe<img src=x onerror=window.__pwned('bidi')>\u202C`],
  ['md', `[x](javascript:window.__pwned('md'))`],
  ['style', `<style>@import 'javascript:window.__pwned(1)';@import url(/pwned-style.css)</style>`],
  ['attr', `" autofocus onfocus="window.__pwned('attr')" x="`],
  ['alert', `<img src=x onerror=alert('pwned-alert')>`],
  ['mxss', `<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned('mxss')>`],
  ['object', `<object data="javascript:window.__pwned('object')"></object>`],
  ['beacon', `<img src="/pwned-beacon.png">`],
];
const TEXTS = CORPUS.map(([, text]) => text);

/**
 * `__pwned` labels the canary must see when the corpus is inserted as HTML
 * (besides a dialog and "pwned" requests). Chromium runs no <script> inserted
 * as HTML, nor <svg onload> from a fragment, and the rest needs a click: the
 * DOM checks are what catch those.
 */
const MUST_FIRE = ['img', 'srcdoc', 'details', 'bidi'];

/** Elements that the payloads would create if rendered as HTML. */
const DANGER =
  'img, svg, math, script:not([src]), iframe, frame, object, embed, details, style, a, video, audio, source, ' +
  '[onerror], [onload], [ontoggle], [onfocus], [onclick], [srcdoc], [href^="javascript:" i]';

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

/**
 * A browser context whose pages run with CSP bypassed (so injected markup would
 * execute) and report every sign of a payload running.
 */
async function watchedContext() {
  const context = await browser.newContext({ bypassCSP: true });
  const record = { hits: [], dialogs: [], requests: [], errors: [] };
  await context.exposeBinding('__pwned', ({ frame }, label) => {
    record.hits.push({ label: String(label), url: frame.url() });
  });
  context.on('request', (req) => {
    if (/pwned/i.test(req.url())) record.requests.push(req.url());
  });
  const watch = (page) => {
    page.on('dialog', (dialog) => {
      record.dialogs.push(dialog.message());
      dialog.dismiss().catch(() => {});
    });
    page.on('pageerror', (e) => record.errors.push(String(e)));
  };
  context.on('page', watch);
  return { context, record };
}

/** The public API as a visitor's page (or a hostile script) calls it. */
async function visitor(path, body, headers = {}) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${server.base}/api/public/chat/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': server.token, ...headers },
      body: JSON.stringify(body),
    });
    if (res.status === 429 && attempt < 5) {
      await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get('retry-after') ?? 1)));
      continue;
    }
    return { status: res.status, body: await res.json() };
  }
}

async function operatorApi(method, path, body) {
  const res = await fetch(`${server.base}/api/v1/${path}`, {
    method,
    headers: operator.headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

/** Every element under `selector` (in the document or the widget's shadow root) that matches none of the `allowed` selectors. */
function strayElements(page, selector, allowed, { shadow = false } = {}) {
  return page.evaluate(
    ([selector, allowed, shadow]) => {
      const root = shadow ? document.querySelector('[data-natter-host]')?.shadowRoot : document;
      if (!root) return ['<no root>'];
      return [...root.querySelectorAll(selector)]
        .flatMap((el) => [...el.querySelectorAll('*')])
        .filter((el) => !allowed.some((sel) => el.matches(sel)))
        .map((el) => el.outerHTML.slice(0, 120));
    },
    [selector, allowed, shadow],
  );
}

/** Elements a payload would create, anywhere in the document and the widget's shadow root. */
function dangerousElements(page, ignore = []) {
  return page.evaluate(
    ([danger, ignore]) => {
      const roots = [document, ...[...document.querySelectorAll('[data-natter-host]')].map((h) => h.shadowRoot).filter(Boolean)];
      return roots
        .flatMap((root) => [...root.querySelectorAll(danger)])
        .filter((el) => !ignore.some((sel) => el.matches(sel)))
        .map((el) => el.outerHTML.slice(0, 120));
    },
    [DANGER, ignore],
  );
}

/** What shows that a payload ran, or null. */
function signsOfExecution(record) {
  const { hits, dialogs, requests } = record;
  return hits.length || dialogs.length || requests.length ? JSON.stringify({ hits, dialogs, requests }) : null;
}

/** Watched pages of the running test: every wait stops at once when a payload runs in one of them. */
const watched = [];

/** Waits like `expect`, but fails at once, saying which, when a payload has run in a watched page. */
function until(read, ok, options) {
  return expect(
    async () => {
      for (const { record, where } of watched) {
        const signs = signsOfExecution(record);
        if (signs) throw new Error(`a payload ran in the ${where}: ${signs}`);
      }
      return read();
    },
    ok,
    options,
  );
}

function assertNothingRan(record, where) {
  assert.deepEqual(record.hits, [], `${where}: a payload called __pwned`);
  assert.deepEqual(record.dialogs, [], `${where}: a payload opened a dialog`);
  assert.deepEqual(record.requests, [], `${where}: a payload made a request`);
}

async function consoleLogin(page) {
  await page.goto(`${server.base}/console`);
  await page.fill('input[name=email]', server.admin.email);
  await page.fill('input[name=password]', server.admin.password);
  await page.press('input[name=password]', 'Enter');
  await page.locator('#status', { hasText: 'Live' }).waitFor({ timeout: 15_000 });
}

/** Inserts the corpus as HTML into a new box in the page's body, or in the widget's shadow root when `shadow`. */
function injectCorpus(page, { shadow }) {
  return page.evaluate(
    ([texts, shadow]) => {
      const box = document.createElement('div');
      box.id = 'xss-canary';
      (shadow ? document.querySelector('[data-natter-host]').shadowRoot : document.body).append(box);
      for (const text of texts) box.insertAdjacentHTML('beforeend', text);
    },
    [TEXTS, shadow],
  );
}

async function assertCanaryFires(page, record, where) {
  const labels = () => record.hits.map((h) => h.label);
  await expect(
    () => ({ hits: labels(), dialogs: record.dialogs.length, requests: record.requests.length }),
    (r) => MUST_FIRE.every((l) => r.hits.includes(l)) && r.dialogs > 0 && r.requests > 0,
    { timeout: 10_000 },
  ).catch((e) => {
    throw new Error(`${where}: the detector did not fire for markup inserted as HTML: ${e.message}`);
  });
}

test('canary: the detectors fire when the corpus is inserted as HTML into the real pages', async () => {
  // The widget's host page: into the widget's shadow root.
  {
    const { context, record } = await watchedContext();
    const { page } = await openHost(context, server, hostPage(server.token));
    await w(page, 'launcher').waitFor();
    await injectCorpus(page, { shadow: true });
    await assertCanaryFires(page, record, 'widget host');
    assert.ok((await dangerousElements(page)).length > 0, 'the DOM check sees the injected elements');
    await context.close();
  }
  // The console.
  {
    const { context, record } = await watchedContext();
    const page = await context.newPage();
    await page.goto(`${server.base}/console`);
    await page.locator('#login-form').waitFor();
    await injectCorpus(page, { shadow: false });
    await assertCanaryFires(page, record, 'console');
    assert.ok((await dangerousElements(page)).length > 0, 'the DOM check sees the injected elements');
    assert.ok((await strayElements(page, '#xss-canary', [])).length > 0, 'the DOM check sees the injected elements');
    await context.close();
  }
});

test('every visitor-controlled field is shown as text in the widget and the console, and nothing runs', async () => {
  const started = Date.now();

  // --- The visitor's session, its contact details and the refusals. ---
  const userSessionId = `xss-main-${Date.now()}`;
  const created = await visitor('sessions', { userSessionId });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const { sessionId, token } = created.body.data;
  const asVisitor = { 'x-session-token': token };

  const mainName = CORPUS.find(([id]) => id === 'img')[1];
  const phone = '+1 (555) 123-4567';
  // The most hostile address the check lets through: template and quote signs only.
  const email = `{{constructor.constructor}}'x'|window.__pwned@evil.example.com`;
  const updated = await visitor('sessions', { userSessionId, name: mainName, phone, email }, asVisitor);
  assert.equal(updated.status, 200, JSON.stringify(updated.body));
  assert.equal(updated.body.data.session.userName, mainName, 'the name is stored as written');
  assert.equal(updated.body.data.session.userEmail, email, 'the hostile but well-formed email is stored as written');

  // Phone and email are validated: markup there is refused.
  for (const [field, value, code] of [
    ['phone', `<img src=x onerror=window.__pwned('phone')>`, 'invalid_phone'],
    ['phone', `javascript:window.__pwned('phone')`, 'invalid_phone'],
    ['phone', '+1 555 123 4567<script>', 'invalid_phone'],
    ['email', `<img src=x onerror=window.__pwned('email')>`, 'invalid_email'],
    ['email', `javascript:window.__pwned('email')`, 'invalid_email'],
    ['email', `"><svg/onload=window.__pwned('email')>@evil.example.com`, 'invalid_email'],
    ['email', `javascript:window.__pwned('em2')//@x.example.com`, 'invalid_email'],
    ['name', `${'<b>'.repeat(34)}`, 'invalid_name'],
    ['name', '\u202E\u200B\u2066', 'invalid_name'],
  ]) {
    const refused = await visitor('sessions', { userSessionId, [field]: value }, asVisitor);
    assert.equal(refused.status, 422, `${field}=${JSON.stringify(value)} is refused: ${JSON.stringify(refused.body)}`);
    assert.equal(refused.body.error?.code, code);
  }
  const kept = await operatorApi('GET', `conversations/${sessionId}`);
  assert.deepEqual(
    [kept.body.data.customer.name, kept.body.data.customer.phone, kept.body.data.customer.email],
    [mainName, phone, email],
    'a refused update changes nothing',
  );

  // More conversations, one per hostile name (invisible bidi characters are
  // dropped from names), and some with only a hostile email, so the inbox shows them.
  const names = [];
  for (const [id, text] of CORPUS) {
    if (id === 'img' || [...text].length > 100) continue;
    const res = await visitor('sessions', { userSessionId: `xss-name-${id}-${Date.now()}`, name: text });
    assert.equal(res.status, 201, `name ${id}: ${JSON.stringify(res.body)}`);
    const stored = res.body.data.session.userName;
    assert.ok(!/[\u202A-\u202E\u2066-\u2069\u200B-\u200F]/.test(stored), `name ${id} keeps no invisible format characters`);
    names.push(stored);
  }
  assert.ok(names.length >= 12);
  const emailsOnly = [`{{7*7}}'-window.__pwned@x.example.com`, `$%{x}|'#@x.example.com`];
  for (const [i, value] of emailsOnly.entries()) {
    const res = await visitor('sessions', { userSessionId: `xss-email-${i}-${Date.now()}`, email: value });
    assert.equal(res.status, 201, `email ${value}: ${JSON.stringify(res.body)}`);
  }

  // Customer metadata (keys and values), user_id and name through identify.
  const metadata = Object.fromEntries(CORPUS.map(([id, text]) => [text, `${id}: ${text}`]));
  const identified = await operatorApi('POST', 'customers/identify', {
    session_id: sessionId,
    user_id: `<img src=x onerror=window.__pwned('uid')>`,
    email: `{{constructor}}'-x@x.example.com`,
    name: CORPUS.find(([id]) => id === 'details')[1],
    metadata,
  });
  assert.equal(identified.status, 200, JSON.stringify(identified.body));
  const customer = await operatorApi('GET', `customers/${identified.body.data.id}`);
  assert.deepEqual(customer.body.data.metadata, metadata, 'metadata is kept verbatim, as data');
  const badEmail = await operatorApi('POST', 'customers/identify', {
    session_id: sessionId,
    user_id: 'u1',
    email: `<img src=x onerror=window.__pwned('idemail')>`,
  });
  assert.equal(badEmail.status, 422, JSON.stringify(badEmail.body));

  // Every payload as a visitor message.
  for (const text of TEXTS) {
    const res = await visitor(`sessions/${sessionId}/messages`, { message: text }, asVisitor);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.data.message.messageText, text, 'stored as written');
  }

  // --- The console: inbox and the conversation, before the replies. ---
  const desk = await watchedContext();
  watched.push({ record: desk.record, where: 'console' });
  const inbox = await desk.context.newPage();
  await consoleLogin(inbox);
  const who = inbox.locator('#conversations li .who');
  await until(() => who.allTextContents(), (t) => [mainName, ...names, ...emailsOnly].every((n) => t.includes(n)));
  await inbox.locator(`#conversations li[data-id="${sessionId}"]`).click();
  await until(() => inbox.locator('#chat-title').textContent(), (t) => t === mainName);
  const consoleTexts = (sender) =>
    inbox.evaluate(
      (sender) => [...document.querySelectorAll(`#messages li[data-sender=${sender}]`)].map((li) => (li.firstChild?.nodeType === 3 ? li.firstChild.data : null)),
      sender,
    );
  await until(() => consoleTexts('user'), (t) => TEXTS.every((x) => t.includes(x)));
  const details = await inbox.locator('#chat-details').textContent();
  assert.ok(details.includes(phone) && details.includes(email), `details show phone and email as text: ${details}`);

  // --- The widget: the visitor's page resumes the session and shows the history. ---
  const site = await watchedContext();
  watched.push({ record: site.record, where: 'widget' });
  await site.context.addInitScript(
    ([origin, key, value]) => {
      if (location.origin === origin && !localStorage.getItem(key)) localStorage.setItem(key, value);
    },
    [server.base, `natter:${server.token}`, JSON.stringify({ userSessionId, sessionId, token, lastSeq: 0 })],
  );
  const { page } = await openHost(site.context, server, hostPage(server.token));
  await w(page, 'launcher').click();
  await w(page, 'panel').waitFor();
  const widgetTexts = (sender) => page.locator(`[data-natter="message"][data-sender="${sender}"] .text`).allTextContents();
  await until(() => widgetTexts('user'), (t) => TEXTS.every((x) => t.includes(x)));

  // --- The operator replies with every payload: live into both pages. ---
  for (const text of TEXTS) await operator.reply(sessionId, text);
  await until(() => widgetTexts('manager'), (t) => TEXTS.every((x) => t.includes(x)));
  await until(() => consoleTexts('manager'), (t) => TEXTS.every((x) => t.includes(x)));
  await until(
    () => inbox.locator(`#conversations li[data-id="${sessionId}"] .last`).textContent(),
    (t) => t === TEXTS.at(-1),
  );

  // Shown literally, as visible text.
  const widgetVisible = await w(page, 'panel').innerText();
  assert.ok(widgetVisible.includes('onerror=') && widgetVisible.includes('<script>'), 'the widget shows the markup as text');
  const consoleVisible = await inbox.locator('#app').innerText();
  for (const needle of ['onerror=', '<script>', 'ontoggle=', 'javascript:', '{{constructor', '@evil.example.com']) {
    assert.ok(consoleVisible.includes(needle), `the console shows ${needle} as text`);
  }

  // Another conversation: a hostile email as its title.
  await inbox.locator('#conversations li', { hasText: emailsOnly[0] }).click();
  await until(() => inbox.locator('#chat-title').textContent(), (t) => t === emailsOnly[0]);
  await inbox.locator(`#conversations li[data-id="${sessionId}"]`).click();
  await until(() => consoleTexts('manager'), (t) => TEXTS.every((x) => t.includes(x)));

  // Let anything that was going to load or fire (image errors, iframes, toggles) do so.
  await page.waitForLoadState('networkidle');
  await inbox.waitForLoadState('networkidle');
  const nextFrame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  await Promise.all([page.evaluate(nextFrame), inbox.evaluate(nextFrame)]);

  // No element from the payloads, and nothing ran.
  assert.deepEqual(await strayElements(page, '[data-natter="message"]', ['p', 'span', 'time', 'ul.files[hidden]:empty'], { shadow: true }), []);
  assert.deepEqual(await strayElements(inbox, '#messages li', ['time']), []);
  assert.deepEqual(await strayElements(inbox, '#conversations li', ['button', 'span']), []);
  assert.deepEqual(await strayElements(inbox, '.chat-head h2, .chat-head p', []), []);
  // The widget's own icons (the launcher's, the attach picker's) are not a payload.
  assert.deepEqual(await dangerousElements(page, ['button svg', 'label.attach > svg']), [], 'widget page');
  // The console's own markup (disclosures, the authenticator link) is not a payload.
  const consoleOwn = ['#settings > section > details:not([ontoggle])', '#customer:not([ontoggle])', '#tfa-link:not([onclick])'];
  assert.deepEqual(await dangerousElements(inbox, consoleOwn), [], 'console');
  assertNothingRan(site.record, 'widget');
  assertNothingRan(desk.record, 'console');
  assert.deepEqual(site.record.errors, []);
  assert.deepEqual(desk.record.errors, []);

  await site.context.close();
  await desk.context.close();
  assert.ok(Date.now() - started < 60_000, `bounded: took ${Date.now() - started} ms`);
});
