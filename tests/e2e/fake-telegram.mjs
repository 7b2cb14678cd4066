// A local stand-in for the Telegram Bot API: enough of getMe, setWebhook and
// sendMessage for Natter to connect a bot and answer its chats. It records
// every call, and can play a customer writing to the bot by posting an
// update to the webhook Natter registered.
//
//   node tests/e2e/fake-telegram.mjs [port]
//
// runs it alone (for trying channels on a local server started with
// --allow-private-webhooks); `startFakeTelegram()` runs it inside a test.
import { createServer } from 'node:http';

export const FAKE_BOT_TOKEN = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';

/** Starts the fake on `port` (0: any free one) of 127.0.0.1. */
export async function startFakeTelegram(port = 0) {
  const calls = [];
  let webhook = null;
  let nextId = 1;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      const match = /^\/bot([^/]+)\/(\w+)$/.exec(req.url || '');
      const json = (status, value) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(value)); };
      if (!match) return json(404, { ok: false, error_code: 404, description: 'Not Found' });
      const [, token, method] = match;
      let params = {};
      try { params = body ? JSON.parse(body) : {}; } catch { return json(400, { ok: false, error_code: 400, description: 'Bad Request' }); }
      calls.push({ method, params });
      if (token !== FAKE_BOT_TOKEN) return json(401, { ok: false, error_code: 401, description: 'Unauthorized' });
      switch (method) {
        case 'getMe': return json(200, { ok: true, result: { id: 123456789, is_bot: true, first_name: 'Shop', username: 'natter_shop_bot' } });
        case 'setWebhook': webhook = { url: params.url, secret: params.secret_token }; return json(200, { ok: true, result: true });
        case 'sendMessage': return json(200, { ok: true, result: { message_id: nextId++, chat: { id: params.chat_id }, text: params.text } });
        default: return json(404, { ok: false, error_code: 404, description: 'Not Found: method not found' });
      }
    });
  });
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${server.address().port}`;
  let updateId = 1;
  return {
    base,
    calls,
    sent: () => calls.filter((c) => c.method === 'sendMessage').map((c) => c.params),
    /** A customer writes to the bot: the update goes to the registered webhook. */
    async customerWrites(text, from = { id: 5551234, first_name: 'Olena', last_name: 'Koval' }) {
      if (!webhook) throw new Error('no webhook registered yet');
      const id = updateId++;
      const update = { update_id: id, message: { message_id: id, date: Math.floor(Date.now() / 1000), from, chat: { id: from.id, type: 'private' }, text } };
      const res = await fetch(webhook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': webhook.secret },
        body: JSON.stringify(update),
      });
      if (!res.ok) throw new Error(`the webhook answered ${res.status}`);
    },
    close: () => new Promise((ok) => server.close(ok)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const fake = await startFakeTelegram(Number(process.argv[2] || 8081));
  console.log(`Fake Telegram Bot API on ${fake.base}; bot token ${FAKE_BOT_TOKEN}`);
  console.log('Type a line to send it to the bot as a customer.');
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (line) => {
    const text = line.trim();
    if (text) fake.customerWrites(text).then(() => console.log('sent'), (e) => console.log(e.message));
  });
  let shown = 0;
  setInterval(() => {
    const sent = fake.sent();
    for (const m of sent.slice(shown)) console.log(`bot → ${m.chat_id}: ${m.text}`);
    shown = sent.length;
  }, 500);
}
