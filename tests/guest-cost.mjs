// What the widget costs the page that hosts it, measured in Chromium: the
// demo page with its script tag against the same page without it, loaded
// with the CPU slowed four times (as a mid-range phone). Prints the Total
// Blocking Time (the part of each main-thread task beyond 50 ms, from the
// first paint until the page has been quiet for two seconds) and the bytes
// downloaded, then what opening the widget costs. Each figure is the median
// of RUNS loads. Usage: node guest-cost.mjs (run by scripts/guest-cost.sh).
import { startServer, launchBrowser } from './e2e/helpers.mjs';

const RUNS = Number(process.env.GUEST_COST_RUNS ?? 5);
const QUIET_MS = 2_000;
const CPU_SLOWDOWN = 4;

// Collects long tasks and the first paint from the document's start.
const OBSERVE = () => {
  window.__cost = { tasks: [], fcp: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__cost.tasks.push([e.startTime, e.duration]);
  }).observe({ type: 'longtask', buffered: true });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.name === 'first-contentful-paint') window.__cost.fcp = e.startTime;
  }).observe({ type: 'paint', buffered: true });
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Blocking time of the long tasks that start at or after `from` (ms on the page's clock). */
function blocking(tasks, from) {
  return tasks.filter(([start]) => start >= from).reduce((sum, [, d]) => sum + Math.max(0, d - 50), 0);
}

/** Bytes over the network, in all and for wasm, from the page's resource timings since `from`. */
function bytesSince(page, from) {
  return page.evaluate((from) => {
    const entries = performance.getEntriesByType('resource').filter((e) => e.startTime >= from);
    const nav = from === 0 ? performance.getEntriesByType('navigation') : [];
    const all = [...nav, ...entries];
    const sum = (list) => list.reduce((n, e) => n + (e.transferSize || e.encodedBodySize || 0), 0);
    return { total: sum(all), wasm: sum(all.filter((e) => e.name.endsWith('.wasm'))), requests: all.length };
  }, from);
}

async function quiet(page) {
  // The page is quiet once no long task started in the last QUIET_MS.
  await page.waitForFunction(
    (quietMs) => {
      const last = window.__cost.tasks.reduce((t, [start, d]) => Math.max(t, start + d), 0);
      return performance.now() - Math.max(last, window.__cost.fcp) >= quietMs;
    },
    QUIET_MS,
    { polling: 100, timeout: 30_000 },
  );
}

async function load(browser, server, html) {
  const context = await browser.newContext();
  await context.addInitScript(OBSERVE);
  if (html) await context.route(`${server.base}/`, (route) => route.fulfill({ contentType: 'text/html', body: html }));
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: CPU_SLOWDOWN });
  await page.goto(`${server.base}/`, { waitUntil: 'load' });
  await quiet(page);
  const cost = await page.evaluate(() => window.__cost);
  const bytes = await bytesSince(page, 0);
  return { context, page, tbt: blocking(cost.tasks, cost.fcp), bytes };
}

async function main() {
  const server = await startServer();
  const browser = await launchBrowser();
  try {
    const withWidget = await (await fetch(`${server.base}/`)).text();
    const without = withWidget.replace(/<script src="\/natter\.js"[^>]*><\/script>/, '');
    if (without === withWidget) throw new Error('the demo page has no widget script tag to leave out');
    const rows = { bare: [], guest: [], open: [] };
    for (let i = 0; i < RUNS; i += 1) {
      const bare = await load(browser, server, without);
      rows.bare.push(bare);
      await bare.context.close();
      const guest = await load(browser, server, null);
      rows.guest.push(guest);
      // Then the visitor opens the widget: what that downloads and blocks.
      const clickedAt = await guest.page.evaluate(() => performance.now());
      await guest.page.locator('[data-natter="launcher"]').click();
      await guest.page.locator('[data-natter="panel"]').waitFor();
      await guest.page.locator('[data-natter="message"]').first().waitFor();
      await quiet(guest.page);
      const cost = await guest.page.evaluate(() => window.__cost);
      rows.open.push({ tbt: blocking(cost.tasks, clickedAt), bytes: await bytesSince(guest.page, clickedAt) });
      await guest.context.close();
    }
    const figure = (list, f) => median(list.map(f));
    const line = (label, list) =>
      `${label.padEnd(34)} ${String(Math.round(figure(list, (r) => r.tbt))).padStart(5)} ms  ${String(figure(list, (r) => r.bytes.total)).padStart(8)} B  ${String(figure(list, (r) => r.bytes.wasm)).padStart(7)} B`;
    console.log(`Demo page, CPU slowed ${CPU_SLOWDOWN}×, median of ${RUNS} loads (transfer sizes, cache off)`);
    console.log(`${''.padEnd(34)} ${'TBT'.padStart(8)}  ${'bytes'.padStart(10)}  ${'wasm'.padStart(9)}`);
    console.log(line('page without the widget', rows.bare));
    console.log(line('page with the widget (closed)', rows.guest));
    console.log(line('the widget adds before interaction', rows.guest.map((g, i) => ({
      tbt: Math.max(0, g.tbt - rows.bare[i].tbt),
      bytes: { total: g.bytes.total - rows.bare[i].bytes.total, wasm: g.bytes.wasm - rows.bare[i].bytes.wasm },
    }))));
    console.log(line('opening it (click to first message)', rows.open));
    const wasmBefore = figure(rows.guest, (r) => r.bytes.wasm);
    if (wasmBefore !== 0) {
      console.error(`the widget downloaded ${wasmBefore} B of wasm before any interaction`);
      process.exitCode = 1;
    }
  } finally {
    await browser.close();
    await server.stop();
  }
}

await main();
