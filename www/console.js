// Natter operator console: inbox, conversation view and replies over the
// operator API (/api/v1) and the operator WebSocket. Text is always set as
// text, never as HTML.
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const store = window.sessionStorage;
  const state = { tokens: null, me: null, filter: '', conversations: new Map(), loads: new Set(), unread: new Map(), current: null, ws: null, retry: 0 };

  function saveTokens(tokens) {
    state.tokens = tokens;
    if (tokens) store.setItem('natter.console.tokens', JSON.stringify(tokens));
    else store.removeItem('natter.console.tokens');
  }

  async function refresh() {
    if (!state.tokens) return false;
    const res = await fetch('/api/v1/auth/refresh', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: state.tokens.refresh_token }),
    });
    if (!res.ok) { saveTokens(null); return false; }
    saveTokens(await res.json());
    return true;
  }

  // `codeCheck`: a 401 means a wrong code, not an expired session.
  async function api(path, options = {}, retried = false, codeCheck = false) {
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${state.tokens?.access_token}` };
    const res = await fetch(path, { ...options, headers });
    if (res.status === 401 && codeCheck) {
      const body = await res.json().catch(() => ({}));
      throw new Error(body.detail || 'That code is not right.');
    }
    if (res.status === 401 && !retried && await refresh()) return api(path, options, true);
    if (res.status === 401) { showLogin(); throw new Error('logged out'); }
    if (res.status === 204) return null;
    const body = await res.json();
    if (!res.ok) throw new Error(body.detail || res.statusText);
    return body;
  }

  function status(text) { $('status').textContent = text; }

  function showLogin() {
    if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; }
    $('app').hidden = true;
    $('login').hidden = false;
    $('login-form').elements.email.focus();
  }

  async function showApp() {
    $('login').hidden = true;
    $('app').hidden = false;
    await loadInbox();
    connect();
  }

  $('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    $('login-error').textContent = '';
    const credentials = { email: form.elements.email.value, password: form.elements.password.value };
    const code = form.elements.code.value.trim();
    if (!$('login-code').hidden && code) credentials.code = code;
    const res = await fetch('/api/v1/auth/login', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(credentials),
    });
    const body = await res.json().catch(() => ({}));
    if (res.status === 401 && body.code === '2FA_REQUIRED') {
      const asked = !$('login-code').hidden;
      $('login-code').hidden = false;
      $('login-error').textContent = asked && code ? body.detail : 'Enter the code from your authenticator app (or a backup code).';
      form.elements.code.focus();
      return;
    }
    if (!res.ok) { $('login-error').textContent = body.detail || 'Login failed'; return; }
    form.reset();
    $('login-code').hidden = true;
    saveTokens(body);
    await showApp();
  });

  $('logout').addEventListener('click', async () => {
    try { await api('/api/v1/auth/logout', { method: 'POST' }); } catch (_) { /* logged out either way */ }
    saveTokens(null);
    showLogin();
  });

  function who(c) { return c.customer.name || c.customer.phone || c.customer.email || `Visitor ${c.id.slice(0, 8)}`; }

  function time(iso) { return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }); }

  function renderInbox() {
    const list = $('conversations');
    list.replaceChildren();
    const items = [...state.conversations.values()]
      .filter((c) => !state.filter || (state.filter === 'needs_human' ? c.needs_human : c.status === state.filter))
      .sort((a, b) => (b.updated_at > a.updated_at ? 1 : -1));
    for (const c of items) {
      const li = document.createElement('li');
      li.dataset.id = c.id;
      const pick = document.createElement('button');
      pick.type = 'button';
      pick.setAttribute('aria-current', String(c.id === state.current));
      const name = document.createElement('span'); name.className = 'who'; name.textContent = who(c);
      const st = document.createElement('span'); st.className = 'state';
      st.textContent = c.channel && c.channel !== 'widget' ? `${c.channel} · ${c.status}` : c.status;
      const last = document.createElement('span'); last.className = 'last'; last.textContent = c.last_message?.content || '';
      pick.append(name, st, last);
      if (c.needs_human) {
        const human = document.createElement('span'); human.className = 'human'; human.textContent = 'needs a person';
        pick.append(human);
      }
      const unread = state.unread.get(c.id) || 0;
      if (unread > 0) {
        const badge = document.createElement('span'); badge.className = 'badge'; badge.textContent = String(unread);
        badge.setAttribute('aria-label', `${unread} unread`);
        pick.append(badge);
      }
      pick.addEventListener('click', () => open(c.id));
      li.append(pick);
      list.append(li);
    }
  }

  // A conversation as the console now knows it. Loads of the list still in
  // flight remember it too: their snapshot may predate it, and must not
  // replace what the live stream has told since.
  function remember(c) {
    state.conversations.set(c.id, c);
    for (const since of state.loads) since.set(c.id, c);
  }

  async function loadInbox() {
    const since = new Map();
    state.loads.add(since);
    let page;
    try { page = await api('/api/v1/conversations?per_page=100'); } finally { state.loads.delete(since); }
    state.conversations = new Map(page.data.map((c) => [c.id, c]));
    for (const c of since.values()) state.conversations.set(c.id, c);
    renderInbox();
  }

  document.querySelectorAll('[data-filter]').forEach((button) => button.addEventListener('click', () => {
    state.filter = button.dataset.filter;
    document.querySelectorAll('[data-filter]').forEach((b) => b.setAttribute('aria-pressed', String(b === button)));
    renderInbox();
  }));

  function messageItem(m) {
    const li = document.createElement('li');
    li.dataset.id = m.id;
    li.dataset.sender = { customer: 'user', agent: 'manager', bot: 'bot', system: 'system' }[m.sender_type] || m.sender_type;
    li.textContent = m.content;
    const t = document.createElement('time'); t.dateTime = m.created_at; t.textContent = time(m.created_at);
    li.append(t);
    const ai = m.metadata?.ai;
    if (ai) {
      const note = document.createElement('span'); note.className = 'ai';
      const from = [...new Set((ai.sources || []).map((s) => s.title))].join(', ');
      note.textContent = `AI · ${Math.round(ai.confidence * 100)}%${from ? ` · ${from}` : ''}`;
      li.append(note);
    }
    if (m.attachments?.length) li.append(attachmentList(m.attachments));
    const delivery = m.metadata?.delivery;
    if (delivery) {
      const d = document.createElement('span'); d.className = 'delivery'; d.dataset.state = delivery.status;
      d.textContent = delivery.status === 'failed' ? `Not delivered: ${delivery.error || 'unknown reason'}`
        : delivery.status === 'sent' ? 'Delivered to the app' : 'Sending…';
      li.append(d);
    }
    return li;
  }

  function size(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  // A message's files: images as previews opening the full picture, others
  // as downloads with their name and size.
  function attachmentList(files) {
    const ul = document.createElement('ul');
    ul.className = 'files';
    for (const f of files) {
      const item = document.createElement('li');
      const link = document.createElement('a');
      link.href = f.data_url;
      link.rel = 'noopener noreferrer';
      link.target = '_blank';
      if (f.file_type === 'image' && f.thumb_url) {
        const img = document.createElement('img');
        img.src = f.thumb_url; img.alt = f.file_name; img.loading = 'lazy';
        link.append(img);
      } else {
        link.download = f.file_name;
        link.textContent = `${f.file_name} (${size(f.file_size)})`;
      }
      item.append(link);
      ul.append(item);
    }
    return ul;
  }

  function appendMessage(m) {
    const list = $('messages');
    if (list.querySelector(`[data-id="${CSS.escape(m.id)}"]`)) return;
    list.append(messageItem(m));
    list.scrollTop = list.scrollHeight;
  }

  function renderHead() {
    const c = state.conversations.get(state.current);
    if (!c) return;
    $('chat-title').textContent = who(c);
    $('chat-details').textContent = [c.customer.phone, c.customer.email, c.status, c.assigned_to === state.me?.id ? 'assigned to you' : ''].filter(Boolean).join(' · ');
    $('toggle').textContent = c.status === 'closed' ? 'Reopen' : 'Close';
    $('assign').disabled = c.assigned_to === state.me?.id;
    $('ai-switch').textContent = c.ai_enabled ? 'Stop the AI here' : 'Let the AI answer';
  }

  async function open(id) {
    state.current = id;
    state.unread.delete(id);
    $('empty').hidden = true;
    $('chat').hidden = false;
    $('typing').hidden = true;
    renderInbox();
    renderHead();
    const page = await api(`/api/v1/conversations/${encodeURIComponent(id)}/messages?limit=100`);
    $('messages').replaceChildren(...page.data.map(messageItem));
    $('messages').scrollTop = $('messages').scrollHeight;
    const lastVisitor = [...page.data].reverse().find((m) => m.sender_type === 'customer');
    if (lastVisitor) send({ type: 'read', conversation_id: id, message_id: lastVisitor.id });
    $('reply-text').focus();
    await Promise.all([showRating(id), showCustomer(state.conversations.get(id)?.customer?.id, id)]);
  }

  // How the visitor rated the conversation after it was closed, if they did.
  async function showRating(id) {
    const box = $('chat-rating');
    box.hidden = true;
    const { data } = await api(`/api/v1/conversations/${encodeURIComponent(id)}`);
    if (state.current !== id || !data.rating) return;
    const { score, comment } = data.rating;
    box.textContent = `Rated ${score} of 5${comment ? `: “${comment}”` : ''}`;
    box.hidden = false;
  }

  // The person behind the conversation, with every conversation they had,
  // on any device or channel, one click away.
  async function showCustomer(customerId, current) {
    const box = $('customer');
    if (!customerId) { box.hidden = true; return; }
    const { data: customer } = await api(`/api/v1/customers/${encodeURIComponent(customerId)}`);
    if (state.current !== current) return;
    const others = customer.conversations.filter((c) => c.id !== current)
      .sort((a, b) => (b.created_at > a.created_at ? 1 : -1));
    const verified = customer.verified ? `Verified as ${customer.user_id}` : 'Not verified';
    $('customer-summary').textContent = others.length
      ? `${verified} · ${others.length} other conversation${others.length === 1 ? '' : 's'}`
      : `${verified} · no other conversations`;
    $('customer-conversations').replaceChildren(...others.map((c) => {
      const li = document.createElement('li');
      const go = document.createElement('button');
      go.type = 'button';
      go.dataset.id = c.id;
      go.textContent = `${c.channel} · ${c.status} · ${new Date(c.created_at).toLocaleDateString()}`;
      go.addEventListener('click', async () => {
        if (!state.conversations.has(c.id)) remember((await api(`/api/v1/conversations/${encodeURIComponent(c.id)}`)).data);
        await open(c.id);
      });
      li.append(go);
      return li;
    }));
    box.hidden = false;
  }

  $('toggle').addEventListener('click', async () => {
    const c = state.conversations.get(state.current);
    const action = c.status === 'closed' ? 'reopen' : 'close';
    const body = await api(`/api/v1/conversations/${encodeURIComponent(c.id)}/${action}`, { method: 'POST' });
    remember(body.data);
    renderInbox(); renderHead();
  });

  $('suggest').addEventListener('click', async () => {
    const button = $('suggest');
    button.disabled = true;
    status('Asking the knowledge base…');
    try {
      const answer = await api('/api/v1/ai/generate', {
        method: 'POST', body: JSON.stringify({ conversation_id: state.current, context_messages: 10 }),
      });
      $('reply-text').value = answer.response;
      $('reply-text').focus();
      const from = answer.sources.map((s) => s.title).join(', ');
      status(`Suggested (${Math.round(answer.confidence * 100)}% sure${from ? `, from ${from}` : ''}): edit it, then send`);
    } catch (e) {
      status(e.message);
    } finally {
      button.disabled = false;
    }
  });

  $('ai-switch').addEventListener('click', async () => {
    const c = state.conversations.get(state.current);
    const body = await api(`/api/v1/conversations/${encodeURIComponent(c.id)}/ai`, {
      method: 'POST', body: JSON.stringify({ enabled: !c.ai_enabled }),
    });
    remember(body.data);
    renderInbox(); renderHead();
  });

  $('assign').addEventListener('click', async () => {
    const body = await api(`/api/v1/conversations/${encodeURIComponent(state.current)}/assign`, {
      method: 'POST', body: JSON.stringify({ user_id: state.me.id }),
    });
    remember(body.data);
    renderInbox(); renderHead();
  });

  let typingSent = 0;
  $('reply-text').addEventListener('input', () => {
    if (Date.now() - typingSent > 2000 && state.current) {
      typingSent = Date.now();
      send({ type: 'typing', conversation_id: state.current, on: true });
    }
  });
  $('reply-text').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('reply').requestSubmit(); }
  });
  $('reply').addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = $('reply-text').value;
    const files = [...$('reply-files').files];
    if ((!text.trim() && !files.length) || !state.current) return;
    typingSent = 0;
    send({ type: 'typing', conversation_id: state.current, on: false });
    const path = `/api/v1/conversations/${encodeURIComponent(state.current)}/messages`;
    if (!files.length) {
      $('reply-text').value = '';
      const body = await api(path, { method: 'POST', body: JSON.stringify({ content: text }) });
      appendMessage(body.data);
      return;
    }
    const form = new FormData();
    form.append('content', text);
    for (const f of files) form.append('attachments[]', f, f.name);
    $('reply-error').textContent = '';
    status(`Sending ${files.length} file${files.length === 1 ? '' : 's'}…`);
    const res = await fetch(path, { method: 'POST', headers: { authorization: `Bearer ${state.tokens?.access_token}` }, body: form });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      $('reply-error').textContent = body.detail || `The files could not be sent (${res.status})`;
      status('Live');
      return;
    }
    $('reply-text').value = '';
    $('reply-files').value = '';
    $('reply-chosen').textContent = '';
    status('Live');
    appendMessage(body.data);
  });
  $('reply-files').addEventListener('change', () => {
    const files = [...$('reply-files').files];
    $('reply-chosen').textContent = files.map((f) => `${f.name} (${size(f.size)})`).join(', ');
  });

  // Settings: channels, API keys, two-factor sign-in.
  function showView(view) {
    document.querySelectorAll('[data-view]').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.view === view)));
    $('settings').hidden = view !== 'settings';
    $('analytics').hidden = view !== 'analytics';
    $('knowledge').hidden = view !== 'knowledge';
    for (const name of ['settings', 'analytics', 'knowledge']) $('app').classList.toggle(`${name}-open`, view === name);
    if (view === 'settings') loadSettings();
    else if (view === 'analytics') loadAnalytics();
    else if (view === 'knowledge') { loadDocuments(); loadAiSettings(); }
    else loadInbox().catch(() => {});
  }

  // Analytics: totals, a bar chart of the series and the same figures as a table.
  const SVG = 'http://www.w3.org/2000/svg';
  function isoDay(date) { return date.toISOString().slice(0, 10); }
  function analyticsQuery() {
    const form = $('analytics-form');
    if (!form.elements.from.value) {
      form.elements.to.value = isoDay(new Date());
      form.elements.from.value = isoDay(new Date(Date.now() - 13 * 86400000));
    }
    return { from: form.elements.from.value, to: form.elements.to.value, granularity: form.elements.granularity.value };
  }

  function chart(series) {
    const svg = document.createElementNS(SVG, 'svg');
    const width = 600; const height = 200; const gap = 2;
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    const top = Math.max(1, ...series.map((p) => Math.max(p.conversations, p.messages.total)));
    const slot = width / Math.max(1, series.length);
    series.forEach((p, i) => {
      for (const [k, value, offset] of [['conversations', p.conversations, 0], ['messages', p.messages.total, 0.5]]) {
        const bar = document.createElementNS(SVG, 'rect');
        const h = (value / top) * (height - 10);
        bar.setAttribute('x', String(i * slot + offset * slot + gap / 2));
        bar.setAttribute('width', String(Math.max(1, slot / 2 - gap)));
        bar.setAttribute('y', String(height - h));
        bar.setAttribute('height', String(h));
        bar.setAttribute('class', k);
        const title = document.createElementNS(SVG, 'title');
        title.textContent = `${p.start.slice(0, 16).replace('T', ' ')}: ${value} ${k}`;
        bar.append(title);
        svg.append(bar);
      }
    });
    return svg;
  }

  async function loadAnalytics() {
    $('analytics-error').textContent = '';
    const q = analyticsQuery();
    try {
      const stats = await api(`/api/v1/analytics/stats?${new URLSearchParams(q)}`);
      const seconds = (s) => (s == null ? '—' : s < 120 ? `${s} s` : `${Math.round(s / 60)} min`);
      const totals = [
        ['Conversations', `${stats.conversations.total} (${stats.conversations.open} open, ${stats.conversations.closed} closed)`],
        ['Messages', `${stats.messages.total} (${stats.messages.from_customers} from customers, ${stats.messages.from_agents} from agents, ${stats.messages.from_ai} from the bot)`],
        ['First response', seconds(stats.conversations.avg_response_time)],
        ['Resolution', seconds(stats.conversations.avg_resolution_time)],
      ];
      $('analytics-totals').replaceChildren(...totals.flatMap(([k, v]) => {
        const dt = document.createElement('dt'); dt.textContent = k;
        const dd = document.createElement('dd'); dd.textContent = v;
        return [dt, dd];
      }));
      $('chart').replaceChildren(chart(stats.series));
      $('analytics-table').tBodies[0].replaceChildren(...stats.series.map((p) => {
        const tr = document.createElement('tr');
        const label = q.granularity === 'hour' ? p.start.slice(0, 16).replace('T', ' ') : p.start.slice(0, 10);
        for (const [i, v] of [label, p.conversations, p.closed, p.messages.from_customers, p.messages.from_agents, p.messages.from_ai].entries()) {
          const cell = document.createElement(i === 0 ? 'th' : 'td');
          if (i === 0) cell.scope = 'row';
          cell.textContent = String(v);
          tr.append(cell);
        }
        return tr;
      }));
    } catch (e) { $('analytics-error').textContent = e.message; }
  }

  $('analytics-form').addEventListener('submit', (event) => { event.preventDefault(); loadAnalytics(); });
  $('export-csv').addEventListener('click', async () => {
    const q = analyticsQuery();
    const res = await fetch('/api/v1/analytics/export', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${state.tokens?.access_token}` },
      body: JSON.stringify({ from: q.from, to: q.to, format: 'csv' }),
    });
    if (!res.ok) { $('analytics-error').textContent = (await res.json().catch(() => ({}))).detail || res.statusText; return; }
    const link = document.createElement('a');
    link.href = URL.createObjectURL(await res.blob());
    link.download = `conversations-${q.from}-${q.to}.csv`;
    link.click();
    URL.revokeObjectURL(link.href);
  });
  document.querySelectorAll('[data-view]').forEach((b) => b.addEventListener('click', () => showView(b.dataset.view)));

  function row(kind, name, info, action) {
    const li = document.createElement('li');
    const k = document.createElement('span'); k.className = 'kind'; k.textContent = kind;
    const n = document.createElement('strong'); n.textContent = name;
    const i = document.createElement('span'); i.className = 'info'; i.textContent = info;
    li.append(k, n, i);
    if (action) li.append(action);
    return li;
  }

  function channelInfo(c) {
    if (c.type === 'telegram') return c.config.bot_username || '';
    if (c.type === 'whatsapp') return [c.config.display_phone_number, c.config.verified_name].filter(Boolean).join(' · ');
    return `website token ${c.config.website_token}`;
  }

  async function loadChannels() {
    const list = await api('/api/v1/channels');
    $('channel-list').replaceChildren(...list.data.map((c) => row(c.type, c.name, channelInfo(c))));
  }

  async function loadKeys() {
    try {
      const list = await api('/api/v1/api-keys');
      $('key-list').replaceChildren(...list.data.map((k) => {
        const revoke = document.createElement('button');
        revoke.type = 'button'; revoke.textContent = 'Revoke';
        revoke.setAttribute('aria-label', `Revoke ${k.name}`);
        revoke.addEventListener('click', async () => {
          await api(`/api/v1/api-keys/${encodeURIComponent(k.id)}`, { method: 'DELETE' });
          loadKeys();
        });
        const used = k.last_used_at ? `last used ${new Date(k.last_used_at).toLocaleString()}` : 'never used';
        return row(k.role, k.name, `${k.prefix}… · ${used}`, revoke);
      }));
      $('key-error').textContent = '';
    } catch (e) {
      $('key-list').replaceChildren();
      $('key-error').textContent = e.message;
    }
  }

  async function loadTwoFactor() {
    const state2fa = await api('/api/v1/auth/2fa');
    $('tfa-state').textContent = state2fa.enabled ? 'Two-factor sign-in is on.' : 'Two-factor sign-in is off.';
    $('tfa-enable').hidden = state2fa.enabled;
    $('tfa-disable').hidden = !state2fa.enabled;
    if (state2fa.enabled) $('tfa-setup').hidden = true;
  }

  async function loadSettings() {
    await Promise.all([loadChannels(), loadTeam(), loadPlan(), loadKeys(), loadTwoFactor()]).catch((e) => status(e.message));
  }

  async function submitting(form, work) {
    const error = form.querySelector('.error') || form.parentElement.querySelector('.error');
    error.textContent = '';
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try { await work(); } catch (e) { error.textContent = e.message; } finally { button.disabled = false; }
  }

  function channelForm(id, type, fields) {
    $(id).addEventListener('submit', (event) => {
      event.preventDefault();
      const form = event.target;
      submitting(form, async () => {
        const config = {};
        for (const field of fields) {
          const value = form.elements[field].value.trim();
          if (value) config[field] = value;
        }
        await api('/api/v1/channels', { method: 'POST', body: JSON.stringify({ type, name: form.elements.name.value, config }) });
        form.reset();
        form.closest('details').open = false;
        await loadChannels();
        status(`${type === 'telegram' ? 'Telegram bot' : 'WhatsApp number'} connected`);
      });
    });
  }
  channelForm('telegram-form', 'telegram', ['bot_token', 'api_base_url']);
  channelForm('whatsapp-form', 'whatsapp', ['phone_number_id', 'access_token', 'app_secret', 'verify_token', 'api_base_url']);

  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.target;
    submitting(form, async () => {
      const body = await api('/api/v1/api-keys', {
        method: 'POST', body: JSON.stringify({ name: form.elements.name.value, role: form.elements.role.value }),
      });
      const key = (body.data || body).key;
      const shown = document.createElement('code'); shown.textContent = key;
      $('key-new').replaceChildren('Copy this key now; it is not shown again: ', shown);
      form.reset();
      await loadKeys();
    });
  });

  $('tfa-enable').addEventListener('click', async () => {
    $('tfa-error').textContent = '';
    try {
      const setup = await api('/api/v1/auth/2fa/enable', { method: 'POST' });
      $('tfa-secret').textContent = setup.secret;
      $('tfa-link').href = setup.qr_code_url;
      $('tfa-backup').textContent = setup.backup_codes.join(' ');
      $('tfa-setup').hidden = false;
      $('tfa-enable').hidden = true;
      $('tfa-verify').elements.code.focus();
    } catch (e) { $('tfa-error').textContent = e.message; }
  });

  for (const [id, path] of [['tfa-verify', '/api/v1/auth/2fa/verify'], ['tfa-disable', '/api/v1/auth/2fa/disable']]) {
    $(id).addEventListener('submit', async (event) => {
      event.preventDefault();
      const form = event.target;
      $('tfa-error').textContent = '';
      try {
        await api(path, { method: 'POST', body: JSON.stringify({ code: form.elements.code.value.trim() }) }, false, true);
        form.reset();
        await loadTwoFactor();
      } catch (e) { $('tfa-error').textContent = e.message; }
    });
  }

  $('availability').addEventListener('change', async () => {
    const body = await api('/api/v1/team/me/availability', { method: 'PUT', body: JSON.stringify({ availability: $('availability').value }) });
    status(body.data.availability_setting === 'away' ? 'Away' : 'Live');
  });

  async function loadTeam() {
    try {
      const team = await api('/api/v1/team');
      $('team-list').replaceChildren(...team.data.map((m) => {
        const presence = document.createElement('span');
        presence.className = m.availability; presence.textContent = m.availability;
        let action = null;
        if (m.id !== state.me?.id) {
          action = document.createElement('button');
          action.type = 'button'; action.textContent = 'Remove';
          action.setAttribute('aria-label', `Remove ${m.name}`);
          action.addEventListener('click', async () => {
            if (!window.confirm(`Remove ${m.name} from the team? Their sessions end at once.`)) return;
            await api(`/api/v1/team/${encodeURIComponent(m.id)}`, { method: 'DELETE' });
            loadTeam();
          });
        }
        const li = row(m.role, m.name, [m.email, m.departments.join(', ')].filter(Boolean).join(' · '), action);
        li.insertBefore(presence, li.querySelector('.info'));
        return li;
      }));
      $('team-error').textContent = '';
    } catch (e) {
      $('team-list').replaceChildren();
      $('team-error').textContent = e.message;
    }
  }

  $('invite-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.target;
    submitting(form, async () => {
      const departments = form.elements.departments.value.split(',').map((d) => d.trim()).filter(Boolean);
      const body = await api('/api/v1/team/invite', {
        method: 'POST',
        body: JSON.stringify({ email: form.elements.email.value, role_id: form.elements.role_id.value, departments }),
      });
      const link = document.createElement('code'); link.textContent = body.data.invite_url;
      $('invite-link').replaceChildren(`Send ${body.data.email} this link (it works once, for seven days): `, link);
      form.reset();
      await loadTeam();
    });
  });

  function meter(label, used, limit, unit = '') {
    const dt = document.createElement('dt'); dt.textContent = label;
    const dd = document.createElement('dd');
    const text = document.createElement('span');
    text.textContent = limit == null ? `${used}${unit} (unlimited)` : `${used}${unit} of ${limit}${unit}`;
    dd.append(text);
    if (limit != null) {
      const bar = document.createElement('progress');
      bar.max = limit; bar.value = Math.min(used, limit);
      bar.setAttribute('aria-label', `${label}: ${used} of ${limit}`);
      dd.append(bar);
      if (used > limit) { const over = document.createElement('span'); over.className = 'over'; over.textContent = `${used - limit}${unit} over the plan`; dd.append(over); }
    }
    return [dt, dd];
  }

  async function loadPlan() {
    try {
      const [subscription, usage] = await Promise.all([api('/api/v1/billing/subscription'), api('/api/v1/billing/usage')]);
      $('plan-summary').textContent = `The ${subscription.plan} plan, ${usage.period.start} to ${usage.period.end}.`;
      $('usage').replaceChildren(
        ...meter('Messages', usage.messages.used, usage.messages.limit),
        ...meter('Storage', usage.storage.used_mb, usage.storage.limit_mb, ' MB'),
        ...meter('Operators', usage.operators.used, usage.operators.limit),
      );
      $('plan-select').replaceChildren(...subscription.available_plans.map((p) => {
        const option = document.createElement('option'); option.value = p; option.textContent = p; option.selected = p === subscription.plan;
        return option;
      }));
    } catch (e) { $('plan-error').textContent = e.message; }
  }

  $('plan-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.target;
    submitting(form, async () => {
      await api('/api/v1/billing/subscription/change', { method: 'POST', body: JSON.stringify({ plan: form.elements.plan.value }) });
      await loadPlan();
    });
  });

  // The knowledge base: upload, list, delete, search.
  async function loadAiSettings() {
    const s = await api('/api/v1/ai/settings');
    const form = $('ai-form');
    form.elements.auto_respond.checked = s.auto_respond;
    for (const name of ['confidence_threshold', 'provider', 'model', 'temperature', 'system_prompt']) form.elements[name].value = s[name];
    form.elements.base_url.value = s.base_url || '';
    form.elements.api_key.value = '';
    form.elements.api_key.placeholder = s.api_key_set ? 'stored; type to replace' : 'none';
    $('ai-state').textContent = s.auto_respond
      ? `Answering by itself with ${s.provider === 'builtin' ? 'the built-in responder' : `${s.provider} (${s.model})`} when at least ${Math.round(s.confidence_threshold * 100)}% sure.`
      : 'Not answering by itself; operators can still ask it for a suggestion.';
    const admin = state.me?.role === 'admin';
    for (const el of form.elements) el.disabled = !admin;
  }

  $('ai-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.target;
    submitting(form, async () => {
      const e = form.elements;
      const change = {
        auto_respond: e.auto_respond.checked, confidence_threshold: Number(e.confidence_threshold.value),
        provider: e.provider.value, model: e.model.value, base_url: e.base_url.value,
        temperature: Number(e.temperature.value), system_prompt: e.system_prompt.value,
      };
      if (e.api_key.value) change.api_key = e.api_key.value;
      await api('/api/v1/ai/settings', { method: 'PUT', body: JSON.stringify(change) });
      status('AI settings saved');
      await loadAiSettings();
    });
  });

  async function loadDocuments() {
    const list = await api('/api/v1/knowledge/documents');
    $('document-list').replaceChildren(...list.data.map((d) => {
      let remove = null;
      if (state.me?.role === 'admin') {
        remove = document.createElement('button');
        remove.type = 'button'; remove.textContent = 'Delete';
        remove.setAttribute('aria-label', `Delete ${d.title}`);
        remove.addEventListener('click', async () => {
          await api(`/api/v1/knowledge/documents/${encodeURIComponent(d.id)}`, { method: 'DELETE' });
          loadDocuments();
        });
      }
      const size = d.size_bytes < 1024 ? `${d.size_bytes} B` : `${Math.ceil(d.size_bytes / 1024)} KB`;
      return row(d.format, d.title, [d.category, d.file_name, size, `${d.passages} passages`].filter(Boolean).join(' · '), remove);
    }));
  }

  $('knowledge-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.target;
    submitting(form, async () => {
      const data = new FormData(form);
      const res = await fetch('/api/v1/knowledge/documents', {
        method: 'POST', headers: { authorization: `Bearer ${state.tokens?.access_token}` }, body: data,
      });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(body.detail || res.statusText);
      form.reset();
      status(`“${body.data.title}” indexed in ${body.data.passages} passages`);
      await loadDocuments();
    });
  });

  $('knowledge-search').addEventListener('submit', async (event) => {
    event.preventDefault();
    const query = event.target.elements.query.value;
    const found = await api('/api/v1/knowledge/search', { method: 'POST', body: JSON.stringify({ query, limit: 5 }) });
    if (!found.results.length) {
      const none = document.createElement('li'); none.textContent = 'Nothing in the knowledge base answers that.';
      $('knowledge-results').replaceChildren(none);
      return;
    }
    $('knowledge-results').replaceChildren(...found.results.map((r) => {
      const li = document.createElement('li');
      const head = document.createElement('strong'); head.textContent = `${r.title} (${Math.round(r.score * 100)}%)`;
      const quote = document.createElement('blockquote'); quote.textContent = r.content;
      li.append(head, quote);
      return li;
    }));
  });

  function send(frame) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(frame));
  }

  let typingTimer = null;
  function onEvent(ev) {
    switch (ev.type) {
      case 'auth.ok':
        state.me = ev.operator;
        $('availability').value = ev.operator.availability || 'online';
        state.retry = 0;
        $('me').textContent = ev.operator.name;
        send({ type: 'subscribe', channels: ['conversations', 'messages'] });
        status('Live');
        break;
      case 'conversation.created':
      case 'conversation.updated':
        remember(ev.conversation);
        renderInbox();
        if (ev.conversation.id === state.current) renderHead();
        break;
      case 'message.new': {
        const c = state.conversations.get(ev.conversation_id);
        if (c) {
          c.last_message = { content: ev.message.content, created_at: ev.message.created_at };
          c.updated_at = ev.message.created_at;
          remember(c);
        }
        if (ev.conversation_id === state.current) {
          appendMessage(ev.message);
          $('typing').hidden = true;
          if (ev.message.sender_type === 'customer' && document.visibilityState === 'visible') {
            send({ type: 'read', conversation_id: ev.conversation_id, message_id: ev.message.id });
          }
        } else if (ev.message.sender_type === 'customer') {
          state.unread.set(ev.conversation_id, (state.unread.get(ev.conversation_id) || 0) + 1);
        }
        if (!c) loadInbox(); else renderInbox();
        break;
      }
      case 'typing.start':
      case 'typing.stop':
        if (ev.conversation_id === state.current) {
          $('typing').hidden = ev.type === 'typing.stop';
          clearTimeout(typingTimer);
          typingTimer = setTimeout(() => { $('typing').hidden = true; }, 6000);
        }
        break;
      case 'resync':
        loadInbox();
        break;
      default:
        break;
    }
  }

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    state.ws = ws;
    status('Connecting…');
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: `Bearer ${state.tokens.access_token}` }));
    ws.onmessage = (message) => onEvent(JSON.parse(message.data));
    ws.onclose = async (event) => {
      state.ws = null;
      status('Reconnecting…');
      if (event.code === 4001 && !(await refresh())) { showLogin(); return; }
      const delay = Math.min(30000, 500 * 2 ** state.retry++) * (0.5 + Math.random() / 2);
      setTimeout(() => { if (state.tokens) { loadInbox().catch(() => {}); connect(); } }, delay);
    };
  }

  function showRegister(on) {
    $('login-form').hidden = on;
    $('register-form').hidden = !on;
    (on ? $('register-form').elements.company_name : $('login-form').elements.email).focus();
  }
  $('show-register').addEventListener('click', () => showRegister(true));
  $('show-login').addEventListener('click', () => showRegister(false));
  $('register-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    const error = form.querySelector('.error');
    error.textContent = '';
    const body = {
      company_name: form.elements.company_name.value, first_name: form.elements.first_name.value,
      last_name: form.elements.last_name.value, email: form.elements.email.value, password: form.elements.new_password.value,
    };
    const res = await fetch('/api/v1/auth/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer = await res.json().catch(() => ({}));
    if (!res.ok) {
      error.textContent = answer.code === 'REGISTRATION_CLOSED' ? 'This server does not take new accounts; ask its administrator for an invitation.' : (answer.detail || 'The account could not be created');
      return;
    }
    form.reset();
    showRegister(false);
    saveTokens(answer);
    await showApp();
  });

  $('invitation-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    const token = new URLSearchParams(location.hash.slice(1)).get('invite');
    const res = await fetch('/api/v1/auth/invitations/accept', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, password: form.elements.new_password.value }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) { form.querySelector('.error').textContent = body.detail || 'The invitation could not be used'; return; }
    history.replaceState(null, '', location.pathname);
    $('invitation').hidden = true;
    saveTokens(body);
    await showApp();
  });

  const saved = store.getItem('natter.console.tokens');
  if (new URLSearchParams(location.hash.slice(1)).has('invite')) {
    $('login').hidden = true;
    $('invitation').hidden = false;
    $('invitation-form').elements.new_password.focus();
  } else if (saved) { state.tokens = JSON.parse(saved); showApp().catch(showLogin); } else showLogin();
})();
