// Types of the natter-widget API.

export type Position = 'right' | 'left';
export type Locale = 'en' | 'uk' | 'ru';
export type Transport = 'auto' | 'websocket' | 'polling';
export type ContactFormMode = 'off' | 'after-first-message' | 'before-chat';
export type StorageMode = 'local' | 'session' | 'none';

/** The same options as the script tag's `data-*` attributes, in camelCase. */
export interface NatterConfig {
  websiteToken: string;
  /** Origin of the Natter server; the page's origin by default. */
  server?: string;
  position?: Position;
  /** `#rgb` or `#rrggbb`. */
  color?: string;
  title?: string;
  greeting?: string;
  locale?: Locale;
  transport?: Transport;
  /** Milliseconds, or a string such as `"2s"`. Default 2000. */
  pollInterval?: number | string;
  /** Start with the panel open. */
  open?: boolean;
  hideLauncher?: boolean;
  /** A short tone when a reply comes while the widget is closed or the tab is hidden. */
  sound?: boolean;
  contactForm?: ContactFormMode;
  storage?: StorageMode;
}

export interface InitOptions {
  /** Where to fetch the wasm from; next to this module by default. */
  wasmUrl?: string | URL;
  /** Element to render into (its open shadow root is reused); a new one is added to `<body>` otherwise. */
  host?: HTMLElement;
}

export interface ChatMessage {
  id: string;
  seq: number;
  sender: 'user' | 'manager' | 'bot' | 'system';
  messageText: string;
  managerId: string | null;
  echoId: string | null;
  status: 'sent' | 'delivered' | 'read';
  createdAt: string;
}

export interface NatterError {
  code: string;
  message: string;
}

export interface NatterEvents {
  ready: undefined;
  open: undefined;
  close: undefined;
  session: { sessionId: string };
  'message:sent': ChatMessage;
  'message:received': ChatMessage;
  /** The number of unread messages. */
  unread: number;
  error: NatterError;
}

export type NatterEvent = keyof NatterEvents;

export interface Identity {
  name?: string;
  phone?: string;
  email?: string;
  /** The site's own id of its signed-in user. */
  userId?: string;
  /** Hex HMAC-SHA256 of `userId` under the website's identity secret, computed on the site's server. */
  userHash?: string;
}

export function init(config: NatterConfig, options?: InitOptions): Promise<void>;
export function open(): void;
export function close(): void;
export function toggle(): void;
export function show(): void;
export function hide(): void;
export function identify(details: Identity): void;
export function setLocale(locale: Locale): void;
export function send(text: string): void;
export function reset(): void;
export function destroy(): void;
export function on<E extends NatterEvent>(event: E, fn: (detail: NatterEvents[E]) => void): () => void;
export function off<E extends NatterEvent>(event: E, fn: (detail: NatterEvents[E]) => void): void;
