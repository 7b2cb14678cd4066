// Waiting for a condition in the page: polls `read` until `ok` holds or the time is up.
export async function expect(read, ok, { timeout = 15_000, every = 50 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await read();
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeout} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
