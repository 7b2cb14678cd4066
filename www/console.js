// Natter operator console: inbox, conversation view and replies over the
// operator API (/api/v1) and the operator WebSocket. Text is always set as
// text, never as HTML.
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const store = window.sessionStorage;
  const state = { tokens: null, me: null, filter: '', conversations: new Map(), unread: new Map(), current: null, ws: null, retry: 0 };

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

  async function api(path, options = {}, retried = false) {
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${state.tokens?.access_token}` };
    const res = await fetch(path, { ...options, headers });
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
    const res = await fetch('/api/v1/auth/login', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: form.elements.email.value, password: form.elements.password.value }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) { $('login-error').textContent = body.detail || 'Login failed'; return; }
    form.reset();
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
      .filter((c) => !state.filter || c.status === state.filter)
      .sort((a, b) => (b.updated_at > a.updated_at ? 1 : -1));
    for (const c of items) {
      const li = document.createElement('li');
      li.tabIndex = 0;
      li.dataset.id = c.id;
      li.setAttribute('role', 'button');
      li.setAttribute('aria-current', String(c.id === state.current));
      const name = document.createElement('span'); name.className = 'who'; name.textContent = who(c);
      const st = document.createElement('span'); st.className = 'state'; st.textContent = c.status;
      const last = document.createElement('span'); last.className = 'last'; last.textContent = c.last_message?.content || '';
      li.append(name, st, last);
      const unread = state.unread.get(c.id) || 0;
      if (unread > 0) {
        const badge = document.createElement('span'); badge.className = 'badge'; badge.textContent = String(unread);
        badge.setAttribute('aria-label', `${unread} unread`);
        li.append(badge);
      }
      li.addEventListener('click', () => open(c.id));
      li.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(c.id); } });
      list.append(li);
    }
  }

  async function loadInbox() {
    const page = await api('/api/v1/conversations?per_page=100');
    state.conversations = new Map(page.data.map((c) => [c.id, c]));
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
    return li;
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
  }

  $('toggle').addEventListener('click', async () => {
    const c = state.conversations.get(state.current);
    const action = c.status === 'closed' ? 'reopen' : 'close';
    const body = await api(`/api/v1/conversations/${encodeURIComponent(c.id)}/${action}`, { method: 'POST' });
    state.conversations.set(c.id, body.data);
    renderInbox(); renderHead();
  });

  $('assign').addEventListener('click', async () => {
    const body = await api(`/api/v1/conversations/${encodeURIComponent(state.current)}/assign`, {
      method: 'POST', body: JSON.stringify({ user_id: state.me.id }),
    });
    state.conversations.set(body.data.id, body.data);
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
    if (!text.trim() || !state.current) return;
    $('reply-text').value = '';
    typingSent = 0;
    send({ type: 'typing', conversation_id: state.current, on: false });
    const body = await api(`/api/v1/conversations/${encodeURIComponent(state.current)}/messages`, {
      method: 'POST', body: JSON.stringify({ content: text }),
    });
    appendMessage(body.data);
  });

  function send(frame) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(frame));
  }

  let typingTimer = null;
  function onEvent(ev) {
    switch (ev.type) {
      case 'auth.ok':
        state.me = ev.operator;
        state.retry = 0;
        $('me').textContent = ev.operator.name;
        send({ type: 'subscribe', channels: ['conversations', 'messages'] });
        status('Live');
        break;
      case 'conversation.created':
      case 'conversation.updated':
        state.conversations.set(ev.conversation.id, ev.conversation);
        renderInbox();
        if (ev.conversation.id === state.current) renderHead();
        break;
      case 'message.new': {
        const c = state.conversations.get(ev.conversation_id);
        if (c) { c.last_message = { content: ev.message.content, created_at: ev.message.created_at }; c.updated_at = ev.message.created_at; }
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

  const saved = store.getItem('natter.console.tokens');
  if (saved) { state.tokens = JSON.parse(saved); showApp().catch(showLogin); } else showLogin();
})();
