/*! Natter chat widget loader. Reads the data-* attributes of its own script
 * tag, defines window.Natter (calls made before the widget loads are queued),
 * draws the launcher at once and fetches the wasm only when it is needed:
 * data-load="interaction" (default: first hover, focus or click), "idle" or
 * "eager". No inline scripts or styles, so a strict CSP holds. */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || (window.Natter && window.Natter.loaded)) return;

  var data = script.dataset;
  var scriptUrl = new URL(script.src, location.href);
  var pkgUrl = new URL(data.pkg || 'pkg/', scriptUrl).href;
  var config = {};
  Object.keys(data).forEach(function (key) {
    if (key !== 'load' && key !== 'pkg') config[key] = data[key];
  });
  if (!config.server) config.server = scriptUrl.origin;

  var earlier = Array.isArray(window.Natter) ? window.Natter : [];
  var queue = [];
  var listeners = [];
  var api = null;
  var loading = null;
  var host = null;
  var root = null;

  var LAUNCHER_CSS =
    ':host{all:initial}' +
    '.natter{position:fixed;z-index:2147483000;right:20px;bottom:20px}' +
    '.natter.left{right:auto;left:20px}' +
    '.launcher{width:56px;height:56px;border:0;border-radius:50%;cursor:pointer;display:grid;place-items:center;' +
    'background:var(--natter-accent,#2563eb);color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.25)}' +
    '.launcher svg{width:26px;height:26px;fill:currentColor}' +
    '.launcher[aria-busy="true"]{opacity:.8}';

  function drawLauncher() {
    host = document.createElement('div');
    host.setAttribute('data-natter-host', '');
    root = host.attachShadow({ mode: 'open' });
    var sheets = [];
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(LAUNCHER_CSS + accent(config.color));
      sheets.push(sheet);
    } catch (e) {
      /* no constructed sheets: the launcher is drawn unstyled until the widget loads */
    }
    root.adoptedStyleSheets = sheets;
    var wrap = document.createElement('div');
    wrap.className = config.position === 'left' ? 'natter left' : 'natter';
    if (config.hideLauncher === undefined || config.hideLauncher === 'false') {
      var button = document.createElement('button');
      button.type = 'button';
      button.className = 'launcher';
      button.setAttribute('data-natter', 'launcher');
      button.setAttribute('aria-label', 'Open chat');
      button.setAttribute('aria-expanded', 'false');
      var svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
      svg.setAttribute('viewBox', '0 0 24 24');
      svg.setAttribute('aria-hidden', 'true');
      var path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
      path.setAttribute('d', 'M4 4h16v11H8l-4 4z');
      svg.appendChild(path);
      button.appendChild(svg);
      button.addEventListener('click', function () {
        button.setAttribute('aria-busy', 'true');
        call('toggle', []);
      });
      if ((data.load || 'interaction') === 'interaction') {
        button.addEventListener('pointerenter', load, { once: true });
        button.addEventListener('focus', load, { once: true });
      }
      wrap.appendChild(button);
    }
    root.appendChild(wrap);
    document.body.appendChild(host);
  }

  function accent(color) {
    return /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(color || '') ? ':host{--natter-accent:' + color + '}' : '';
  }

  function emitLocal(name, detail) {
    listeners.forEach(function (l) {
      if (l[0] === name) l[1](detail);
    });
  }

  function load() {
    if (loading) return loading;
    if (!config.websiteToken) return Promise.resolve(null);
    loading = import(pkgUrl + 'index.js')
      .then(function (mod) {
        listeners.forEach(function (l) {
          mod.on(l[0], l[1]);
        });
        return mod.init(config, { host: host, wasmUrl: pkgUrl + 'natter_widget_bg.wasm' }).then(function () {
          api = mod;
          queue.splice(0).forEach(function (c) {
            api[c[0]].apply(null, c[1]);
          });
          return mod;
        });
      })
      .catch(function (error) {
        loading = null;
        emitLocal('error', { code: 'load_failed', message: String(error && error.message ? error.message : error) });
        if (window.console) console.error('natter: the widget could not load', error);
        return null;
      });
    return loading;
  }

  function call(name, args) {
    if (api) return api[name].apply(null, args);
    queue.push([name, args]);
    load();
  }

  var Natter = {
    loaded: true,
    init: function (options) {
      Object.keys(options || {}).forEach(function (key) {
        config[key] = String(options[key]);
      });
      if (wasOpen()) config.open = 'true';
      if (!host) drawLauncher();
      return load();
    },
    on: function (event, fn) {
      listeners.push([event, fn]);
      if (api) api.on(event, fn);
      return function () {
        Natter.off(event, fn);
      };
    },
    off: function (event, fn) {
      listeners = listeners.filter(function (l) {
        return l[0] !== event || l[1] !== fn;
      });
      if (api) api.off(event, fn);
    },
  };
  ['open', 'close', 'toggle', 'show', 'hide', 'identify', 'setLocale', 'send', 'reset'].forEach(function (name) {
    Natter[name] = function () {
      return call(name, Array.prototype.slice.call(arguments));
    };
  });
  Natter.destroy = function () {
    queue.length = 0;
    if (api) api.destroy();
    if (host) host.remove();
    host = null;
    api = null;
    loading = null;
  };
  window.Natter = Natter;

  /* A visitor who chatted on an earlier visit has a stored session: the widget
   * loads once the page is idle and reconnects, to show replies sent meanwhile. */
  function returning() {
    try {
      var kind = config.storage || 'local';
      var store = kind === 'local' ? localStorage : kind === 'session' ? sessionStorage : null;
      return !!(store && store.getItem('natter:' + config.websiteToken));
    } catch (e) {
      return false; /* storage blocked: nothing to resume */
    }
  }

  /* The widget was open on the site's previous page in this tab: it opens again. */
  function wasOpen() {
    try {
      return config.storage !== 'none' && sessionStorage.getItem('natter:open:' + config.websiteToken) === '1';
    } catch (e) {
      return false;
    }
  }

  function start() {
    if (!config.websiteToken) return; /* wait for Natter.init({ websiteToken }) */
    if (wasOpen()) config.open = 'true';
    drawLauncher();
    var mode = data.load || 'interaction';
    if (mode === 'eager' || config.open === '' || config.open === 'true') load();
    else if (mode === 'idle' || returning()) {
      if (window.requestIdleCallback) requestIdleCallback(load, { timeout: 2000 });
      else setTimeout(load, 2000);
    }
  }
  earlier.forEach(function (c) {
    if (Natter[c[0]]) Natter[c[0]].apply(null, c.slice(1));
  });
  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start);
})();
