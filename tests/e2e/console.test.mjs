// A visitor in the widget on the demo page and an operator in the console
// talk to each other live, both ways; a close from the console shows in the widget.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { expect } from './expect.mjs';
import { launchBrowser, openDemoWidget, startServer, storedSession, type, w } from './helpers.mjs';

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

/** A visitor on the demo page with the widget open, and the page errors it meets. */
async function demoWidget() {
  const visitorContext = await browser.newContext();
  const { page: visitor, errors: visitorErrors } = await openDemoWidget(visitorContext, server);
  return { visitorContext, visitor, visitorErrors };
}

async function console(context) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${server.base}/console`);
  await page.fill('input[name=email]', server.admin.email);
  await page.fill('input[name=password]', server.admin.password);
  await page.press('input[name=password]', 'Enter');
  await page.locator('#status', { hasText: 'Live' }).waitFor();
  return { page, errors };
}

test('a visitor and an operator in the console talk live both ways, and a close reaches the widget', async () => {
  const operatorContext = await browser.newContext();
  const { page: desk, errors: deskErrors } = await console(operatorContext);

  const { visitorContext, visitor, visitorErrors } = await demoWidget();
  await type(visitor, 'Is the Guji in stock?');

  // The new conversation and its message appear in the console without a reload.
  const item = desk.locator('.conversations li');
  await expect(() => item.count(), (n) => n === 1);
  await expect(() => item.first().locator('.badge').count(), (n) => n === 1);
  await item.first().click();
  await expect(() => desk.locator('.messages li[data-sender=user]').allTextContents(), (t) =>
    t.some((s) => s.includes('Is the Guji in stock?')),
  );

  // Operator to visitor.
  await desk.fill('#reply-text', 'Yes, 40 bags left.');
  await desk.press('#reply-text', 'Enter');
  const fromOperator = visitor.locator('[data-natter="message"][data-sender="manager"]');
  await expect(() => fromOperator.allTextContents(), (t) => t.some((s) => s.includes('Yes, 40 bags left.')));

  // Visitor to operator, live in the open conversation.
  await type(visitor, 'Great, I will order two.');
  await expect(() => desk.locator('.messages li[data-sender=user]').allTextContents(), (t) =>
    t.some((s) => s.includes('Great, I will order two.')),
  );

  // Closing in the console shows in the widget.
  await desk.click('#toggle');
  await desk.locator('#toggle', { hasText: 'Reopen' }).waitFor();
  const note = visitor.locator('[data-natter="message"][data-sender="system"]');
  await expect(() => note.allTextContents(), (t) => t.some((s) => s.includes('closed the conversation')));

  const stored = await storedSession(visitor, server.token);
  const operator = await server.operator();
  const status = await fetch(`${server.base}/api/v1/conversations/${stored.sessionId}`, { headers: operator.headers });
  assert.equal((await status.json()).data.status, 'closed');
  assert.deepEqual(deskErrors, []);
  assert.deepEqual(visitorErrors, []);
  await visitorContext.close();
  await operatorContext.close();
});

test('a conversation that starts while the inbox list is loading stays in the list', async () => {
  const context = await browser.newContext();
  const { page: desk, errors } = await console(context);
  // The next load of the list is answered from a snapshot taken now, and
  // held back until the conversation below has arrived on the live stream.
  let release;
  const held = new Promise((ok) => { release = ok; });
  let taken;
  const snapshot = new Promise((ok) => { taken = ok; });
  await desk.route('**/api/v1/conversations?per_page=100', async (route) => {
    const response = await route.fetch();
    taken();
    await held;
    await route.fulfill({ response });
  }, { times: 1 });
  await desk.click('[data-view=settings]');
  await desk.click('[data-view=inbox]');
  await snapshot;

  const res = await fetch(`${server.base}/api/public/chat/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': server.token },
    body: JSON.stringify({ userSessionId: 'while-loading-1', name: 'Marta Shevchenko', phone: '+380501234567', firstMessage: 'Is there oat milk?' }),
  });
  assert.equal(res.status, 201);
  const item = desk.locator('.conversations li', { hasText: 'Marta Shevchenko' });
  await item.locator('.last', { hasText: 'Is there oat milk?' }).waitFor();

  // The stale snapshot lands: the list is drawn again and keeps the conversation.
  await item.evaluate((li) => { li.dataset.before = ''; });
  release();
  await desk.waitForFunction(() => !document.querySelector('.conversations li[data-before]'));
  assert.equal(await item.count(), 1);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a customer who wrote from two devices shows as one person, with both conversations a click apart', async () => {
  const operator = await server.operator();
  const sessions = [];
  for (const [device, text] of [['laptop', 'Ordered beans on my laptop'], ['phone', 'Now writing from my phone']]) {
    const res = await fetch(`${server.base}/api/public/chat/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': server.token },
      body: JSON.stringify({ userSessionId: `two-devices-${device}`, name: 'Oksana Bondar', phone: '+380671112233', firstMessage: text }),
    });
    assert.equal(res.status, 201);
    const id = (await res.json()).data.session.id;
    const identified = await fetch(`${server.base}/api/v1/customers/identify`, {
      method: 'POST',
      headers: { ...operator.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ session_id: id, user_id: 'shop-user-42', email: 'oksana@example.com', name: 'Oksana Bondar' }),
    });
    assert.equal(identified.status, 200, await identified.text());
    sessions.push(id);
  }
  const context = await browser.newContext();
  const { page: desk, errors } = await console(context);
  await desk.locator(`.conversations li[data-id="${sessions[1]}"]`).click();
  await desk.locator('#customer-summary', { hasText: 'Verified as shop-user-42 · 1 other conversation' }).waitFor();
  await desk.click('#customer-summary');
  await desk.click(`#customer-conversations button[data-id="${sessions[0]}"]`);
  await desk.locator('.messages li[data-sender=user]', { hasText: 'Ordered beans on my laptop' }).waitFor();
  await desk.locator(`#customer-conversations button[data-id="${sessions[1]}"]`).waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});

test('a closed conversation the visitor rated shows its rating in the console', async () => {
  const operator = await server.operator();
  const created = await fetch(`${server.base}/api/public/chat/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': server.token },
    body: JSON.stringify({ userSessionId: 'rates-the-chat', firstMessage: 'Where is my order?' }),
  });
  assert.equal(created.status, 201);
  const { sessionId, token } = (await created.json()).data;
  const closed = await fetch(`${server.base}/api/v1/conversations/${sessionId}/close`, { method: 'POST', headers: operator.headers });
  assert.equal(closed.status, 200, await closed.text());
  const rated = await fetch(`${server.base}/api/public/chat/sessions/${sessionId}/rating`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': server.token, 'x-session-token': token },
    body: JSON.stringify({ score: 4, comment: 'Found it, thanks' }),
  });
  assert.equal(rated.status, 201, await rated.text());
  const context = await browser.newContext();
  const { page: desk, errors } = await console(context);
  await desk.locator(`.conversations li[data-id="${sessionId}"]`).click();
  await desk.locator('#chat-rating', { hasText: 'Rated 4 of 5: “Found it, thanks”' }).waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});

test('a visitor sends a photo the operator sees in the console, and the operator sends back a PDF the visitor downloads', async () => {
  // The visitor's photo, sent as the native API's multipart form.
  const start = await fetch(`${server.base}/api/public/chat/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': server.token },
    body: JSON.stringify({ userSessionId: 'sends-a-photo', name: 'Taras Hnatiuk', phone: '+380631234567' }),
  });
  const { data: session } = await start.json();
  const sessionHeaders = { 'x-api-key': server.token, 'x-session-token': session.token };
  // A 2×2 PNG.
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64');
  const form = new FormData();
  form.append('message', 'The beans arrived like this');
  form.append('attachments[]', new Blob([png], { type: 'image/png' }), 'beans.png');
  const sent = await fetch(`${server.base}/api/public/chat/sessions/${session.session.id}/messages`, { method: 'POST', headers: sessionHeaders, body: form });
  assert.equal(sent.status, 201, await sent.clone().text());

  const context = await browser.newContext({ acceptDownloads: true });
  const { page: desk, errors } = await console(context);
  await desk.locator(`.conversations li[data-id="${session.session.id}"]`).click();
  const preview = desk.locator('.messages li[data-sender=user] .files img[alt="beans.png"]');
  await preview.waitFor();
  await expect(() => preview.evaluate((img) => img.complete && img.naturalWidth), (w) => w === 2);

  // The operator attaches a PDF in the console.
  const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
  await desk.setInputFiles('#reply-files', { name: 'refund-form.pdf', mimeType: 'application/pdf', buffer: pdf });
  await desk.locator('#reply-chosen', { hasText: 'refund-form.pdf' }).waitFor();
  await desk.fill('#reply-text', 'Sorry! Fill this in and we refund you.');
  await desk.press('#reply-text', 'Enter');
  const link = desk.locator('.messages li[data-sender=manager] .files a', { hasText: 'refund-form.pdf' });
  await link.waitFor();

  // The visitor's history carries it with a link that downloads it, no session token needed.
  const history = await (await fetch(`${server.base}/api/public/chat/sessions/${session.session.id}/messages`, { headers: sessionHeaders })).json();
  const reply = history.data.messages.find((m) => m.messageText === 'Sorry! Fill this in and we refund you.');
  assert.equal(reply.attachments[0].fileName, 'refund-form.pdf');
  const file = await fetch(reply.attachments[0].dataUrl);
  assert.equal(file.status, 200);
  assert.equal(file.headers.get('content-type'), 'application/pdf');
  assert.deepEqual(Buffer.from(await file.arrayBuffer()), pdf);
  assert.deepEqual(errors, []);
  await context.close();
});

test('files an operator sends show in the widget live: an image as its preview, a PDF as a link that downloads it', async () => {
  const { visitorContext, visitor, visitorErrors } = await demoWidget();
  await type(visitor, 'Can you send me the size chart?');
  const stored = await expect(() => storedSession(visitor, server.token), (s) => s !== null);
  const operator = await server.operator();
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64');
  const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
  const form = new FormData();
  form.append('content', 'Here you go');
  form.append('attachments[]', new Blob([png], { type: 'image/png' }), 'chart.png');
  form.append('attachments[]', new Blob([pdf], { type: 'application/pdf' }), 'size-chart.pdf');
  const sent = await fetch(`${server.base}/api/v1/conversations/${stored.sessionId}/messages`, {
    method: 'POST', headers: { authorization: operator.headers.authorization }, body: form,
  });
  assert.equal(sent.status, 201, await sent.clone().text());

  const files = visitor.locator('[data-natter="message"][data-sender="manager"] [data-natter="attachment"]');
  await expect(() => files.count(), (n) => n === 2);
  const preview = files.locator('img[alt="chart.png"]');
  await expect(() => preview.evaluate((img) => img.complete && img.naturalWidth), (width) => width === 2);
  const link = files.filter({ hasText: 'size-chart.pdf' });
  const href = await link.getAttribute('href');
  assert.ok(!href.includes(stored.token ?? 'no token'), 'no session token in the link');
  const file = await fetch(href);
  assert.equal(file.headers.get('content-type'), 'application/pdf');
  assert.deepEqual(Buffer.from(await file.arrayBuffer()), pdf);
  assert.deepEqual(visitorErrors, []);
  await visitorContext.close();
});

test('a visitor attaches files in the widget (picker, paste, drop) with progress, the operator sees them, and refused files say why', async () => {
  const { visitorContext, visitor, visitorErrors } = await demoWidget();
  // The picker is reachable from the text area with the keyboard, and labelled.
  await visitor.locator('[data-natter="composer"] textarea').focus();
  await visitor.keyboard.press('Tab');
  const focused = await visitor.evaluate(() => {
    const el = document.querySelector('[data-natter-host]').shadowRoot.activeElement;
    return [el?.dataset.natter, el?.getAttribute('aria-label')];
  });
  assert.deepEqual(focused, ['attach', 'Attach a file']);

  // The picker: the upload's answer is held back until its progress has shown.
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64');
  let release;
  const held = new Promise((ok) => (release = ok));
  await visitorContext.route('**/api/public/chat/sessions/*/messages', async (route) => {
    if (route.request().method() === 'POST' && (route.request().headers()['content-type'] ?? '').startsWith('multipart/')) {
      await held;
    }
    await route.continue();
  });
  await w(visitor, 'attach').setInputFiles({ name: 'beans.png', mimeType: 'image/png', buffer: png });
  const note = w(visitor, 'files');
  await expect(() => note.textContent(), (t) => /Sending \d+%/.test(t ?? ''));
  const pendingLine = visitor.locator('[data-natter="message"][data-pending="true"]', { hasText: 'beans.png' });
  await pendingLine.waitFor();
  release();
  const mine = visitor.locator('[data-natter="message"][data-sender="user"][data-pending="false"] [data-natter="attachment"]');
  const preview = mine.locator('img[alt="beans.png"]');
  await expect(() => preview.evaluate((img) => img.complete && img.naturalWidth), (width) => width === 2);
  await expect(() => note.isHidden(), (hidden) => hidden);
  await visitorContext.unroute('**/api/public/chat/sessions/*/messages');

  // A paste into the text area and a drop on the panel each send their file.
  await visitor.evaluate(() => {
    const root = document.querySelector('[data-natter-host]').shadowRoot;
    const carrying = (name, text) => {
      const data = new DataTransfer();
      data.items.add(new File([text], name, { type: 'text/plain' }));
      return data;
    };
    const area = root.querySelector('[data-natter="composer"] textarea');
    area.dispatchEvent(new ClipboardEvent('paste', { clipboardData: carrying('pasted.txt', 'from the clipboard'), bubbles: true, composed: true }));
    const panel = root.querySelector('[data-natter="panel"]');
    panel.dispatchEvent(new DragEvent('dragover', { dataTransfer: carrying('dropped.txt', 'dropped'), bubbles: true, cancelable: true }));
    panel.dispatchEvent(new DragEvent('drop', { dataTransfer: carrying('dropped.txt', 'dropped on the panel'), bubbles: true, cancelable: true }));
  });
  await mine.filter({ hasText: 'pasted.txt' }).waitFor();
  await mine.filter({ hasText: 'dropped.txt' }).waitFor();

  // The operator sees all three in the console.
  const stored = await expect(() => storedSession(visitor, server.token), (s) => s !== null);
  const desk = await browser.newContext();
  const { page: console_, errors } = await console(desk);
  await console_.locator(`.conversations li[data-id="${stored.sessionId}"]`).click();
  await console_.locator('.messages li[data-sender=user] .files img[alt="beans.png"]').waitFor();
  await console_.locator('.messages li[data-sender=user] .files a', { hasText: 'pasted.txt' }).waitFor();
  await console_.locator('.messages li[data-sender=user] .files a', { hasText: 'dropped.txt' }).waitFor();
  assert.deepEqual(errors, []);
  await desk.close();

  // A file over the website's limit (10 MB by default) is refused before anything is sent.
  let uploads = 0;
  visitor.on('request', (req) => {
    if (req.method() === 'POST' && (req.headers()['content-type'] ?? '').startsWith('multipart/')) uploads += 1;
  });
  await w(visitor, 'attach').setInputFiles({ name: 'huge.txt', mimeType: 'text/plain', buffer: Buffer.alloc(10 * 1024 * 1024 + 1, 'a') });
  await expect(() => note.textContent(), (t) => t === 'The file is too large to send.');
  assert.equal(uploads, 0);
  // A type the website does not take (a program, whatever its name says) is refused by the server.
  const program = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(120)]);
  await w(visitor, 'attach').setInputFiles({ name: 'invoice.png', mimeType: 'image/png', buffer: program });
  await expect(() => note.textContent(), (t) => t === 'This type of file cannot be sent.');
  assert.equal(uploads, 1);
  assert.equal(await visitor.locator('[data-natter="message"][data-pending="true"]').count(), 0, 'the refused line is gone');
  assert.equal(await note.getAttribute('role'), 'status');
  assert.deepEqual(visitorErrors, []);
  await visitorContext.close();
});
