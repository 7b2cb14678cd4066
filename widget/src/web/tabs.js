// The tabs of one browser that share a visitor's session: one of them leads
// (holds the Web Lock named `name` and keeps the socket), the others hear
// what it relays on the BroadcastChannel of the same name. When the leader
// closes, the browser hands the lock to the next waiting tab at once.

export function join(name, lead, hear) {
  const channel = new BroadcastChannel(name);
  channel.onmessage = (e) => typeof e.data == "string" && hear(e.data);
  const stop = new AbortController();
  let release;
  const held = new Promise((r) => (release = r));
  if (navigator.locks) navigator.locks.request(name, { signal: stop.signal }, () => (lead(), held)).catch(() => {});
  else lead(); // (no Web Locks: every tab keeps its own socket)
  return {
    post: (text) => channel.postMessage(text),
    leave: () => (stop.abort(), release(), channel.close()),
  };
}
