// natter-widget: the Natter chat widget's JavaScript API over its wasm build.
// Calls made before `init` resolves are kept and run, in order, once it has.
import load, * as wasm from './natter_widget.js';

const listeners = new Map();
const pending = [];
let booting = null;
let mounted = false;

function emit(name, detail) {
  for (const fn of listeners.get(name) ?? []) {
    try {
      fn(detail);
    } catch (error) {
      console.error('natter: event handler failed', error);
    }
  }
}

function run(name, args) {
  if (!mounted) {
    return new Promise((resolve, reject) => pending.push([name, args, resolve, reject]));
  }
  return wasm[name](...args);
}

/** Loads the wasm (once) and mounts the widget. */
export async function init(config = {}, options = {}) {
  booting ??= load({ module_or_path: options.wasmUrl ?? new URL('./natter_widget_bg.wasm', import.meta.url) });
  await booting;
  wasm.init(config, emit, options.host ?? null);
  mounted = true;
  for (const [name, args, resolve, reject] of pending.splice(0)) {
    try {
      resolve(wasm[name](...args));
    } catch (error) {
      reject(error);
    }
  }
}

export const open = () => run('open', []);
export const close = () => run('close', []);
export const toggle = () => run('toggle', []);
export const show = () => run('show', []);
export const hide = () => run('hide', []);
export const identify = (details) => run('identify', [details]);
export const setLocale = (locale) => run('setLocale', [locale]);
export const send = (text) => run('send', [String(text)]);
export const reset = () => run('reset', []);

/** Removes the widget and releases everything it holds. */
export function destroy() {
  pending.length = 0;
  if (mounted) {
    wasm.destroy();
    mounted = false;
  }
}

/** Subscribes to an event; returns a function that unsubscribes. */
export function on(event, fn) {
  if (!listeners.has(event)) listeners.set(event, new Set());
  listeners.get(event).add(fn);
  return () => off(event, fn);
}

export function off(event, fn) {
  listeners.get(event)?.delete(fn);
}
