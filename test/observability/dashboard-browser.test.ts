/**
 * The dashboard in headless Chromium: a real server with a database, a cache and a queue, traffic from
 * this test (127.0.0.1, bounded in count and time), and the page drawing every chart from its event
 * stream under its own CSP, with no console error and no request to anywhere but the app. The screenshot
 * is the README's: `WEIR_UPDATE_SCREENSHOTS=1` writes it to docs/dashboard.png, otherwise it goes to a
 * temporary folder and is only checked.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { App, HttpError, type ServerHandle, sleep } from 'weir';
import { type Cache, openCache } from 'weir/cache';
import { type Database, openDatabase } from 'weir/db';
import { dashboard } from 'weir/observability';
import { type JobQueue, openJobQueue } from 'weir/queue';
import { launchChromium, skipWithoutChromium } from '../helpers/browser.ts';
import { serve } from '../helpers/http.ts';

const skip = await skipWithoutChromium();
const VIEWPORT = { width: 1280, height: 800 };
const SCREENSHOT = process.env.WEIR_UPDATE_SCREENSHOTS === '1';
const CARDS = 9;

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): { width: number; height: number } {
  assert.equal(png.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'a PNG signature');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('dashboard in Chromium', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-dashboard-browser-'));
  let handle: ServerHandle;
  let browser: Browser;
  let db: Database;
  let cache: Cache;
  let queue: JobQueue<{ n: number }>;

  before(async () => {
    db = await openDatabase(`sqlite:${join(dir, 'app.db')}`);
    await db.exec`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`;
    for (let id = 1; id <= 20; id++)
      await db.exec`INSERT INTO items (id, name) VALUES (${id}, ${`item ${id}`})`;
    cache = await openCache('memory:');
    queue = await openJobQueue<{ n: number }>('emails', {
      url: `sqlite:${join(dir, 'queue.db')}`,
      pollIntervalMs: 20,
    });
    const app = new App({ logger: false });
    dashboard(app, {
      intervalMs: 200,
      guard: false,
      title: 'weir dashboard',
      databases: { main: db },
      caches: { items: cache },
      queues: { emails: queue },
    });
    app.get('/items/:id', async (ctx) => {
      const id = Number(ctx.params.id);
      if (id > 20) throw new HttpError(500, 'BROKEN', 'no such shelf');
      return cache.wrap(
        `item:${id}`,
        async () => {
          await sleep(2 + (id % 5));
          return db.one<{ id: number; name: string }>`SELECT id, name FROM items WHERE id = ${id}`;
        },
        { ttl: 1500 },
      );
    });
    app.post('/signup', async () => {
      await queue.add({ n: 1 });
      return { queued: true };
    });
    app.worker(
      queue,
      async (_job, { signal }) => {
        await sleep(60, { signal });
      },
      { concurrency: 1 },
    );
    app.onStop(() => queue.close());
    app.onStop(() => cache.close());
    app.onStop(() => db.close());
    handle = await serve(app);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await handle?.close({ timeoutMs: 2000 });
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sends traffic for `ms`: `concurrency` loops of item lookups (a few 500s), and signups now and then. */
  async function traffic(ms: number, concurrency: number, errorShare: number): Promise<number> {
    const until = Date.now() + ms;
    let sent = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, lane) => {
        for (let i = 0; i < 5000 && Date.now() < until; i++) {
          const id = Math.random() < errorShare ? 99 : 1 + ((i * 7 + lane) % 20);
          const res = await fetch(`${handle.url}/items/${id}`);
          await res.arrayBuffer();
          if (i % 15 === lane) await (await fetch(`${handle.url}/signup`, { method: 'POST' })).arrayBuffer();
          sent++;
        }
      }),
    );
    return sent;
  }

  it('draws every chart from the live stream after traffic', { timeout: 120_000 }, async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      const requests: string[] = [];
      const problems: string[] = [];
      page.on('request', (req) => requests.push(req.url()));
      page.on('requestfailed', (req) => {
        // The stream is cut when the test ends; nothing else may fail.
        if (!req.url().endsWith('/_dashboard/events')) problems.push(`request failed: ${req.url()}`);
      });
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));

      const response = await page.goto(`${handle.url}/_dashboard`, { waitUntil: 'load' });
      assert.equal(response?.status(), 200);
      assert.match((await response?.allHeaders())?.['content-security-policy'] ?? '', /script-src 'self'/);
      await page.locator('#status.live').waitFor();

      // A few phases, so the charts have a shape: a warm-up, a busier stretch with some 500s, a calm end.
      let sent = await traffic(2500, 2, 0);
      sent += await traffic(3500, 6, 0.04);
      sent += await traffic(2500, 3, 0.01);
      assert.ok(sent > 50, `only ${sent} requests`);

      // Every card has a chart whose canvas shows drawn series: pixels in the series' saturated colours
      // (the axes, grid and text are greys).
      await page
        .locator('.card canvas')
        .nth(CARDS - 1)
        .waitFor();
      const drawn = await page.$$eval('.card', (cards) =>
        cards.map((card) => {
          const canvas = card.querySelector('canvas');
          const title = card.querySelector('h2')?.textContent ?? '';
          if (canvas === null) return { title, coloured: 0, values: '' };
          const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
          let coloured = 0;
          for (let i = 0; i < data.length; i += 4) {
            const [r, g, b, a] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
            if (a > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 80) coloured++;
          }
          return { title, coloured, values: card.querySelector('.values')?.textContent ?? '' };
        }),
      );
      assert.equal(drawn.length, CARDS);
      for (const card of drawn) {
        assert.ok(card.coloured > 100, `${card.title}: ${card.coloured} coloured pixels`);
        assert.match(card.values, /\d/, `${card.title} shows its current values`);
      }
      const titles = drawn.map((c) => c.title);
      for (const title of ['Throughput', 'Latency', 'Database pools', 'Cache hit ratio', 'Queue depths'])
        assert.ok(titles.includes(title), titles.join(', '));
      assert.match(drawn.find((c) => c.title === 'Queue depths')!.values, /emails waiting/);
      assert.match(drawn.find((c) => c.title === 'Cache hit ratio')!.values, /items \d+(\.\d+)?%/);

      const png = await page.screenshot({ fullPage: true });
      assert.equal(pngSize(png).width, VIEWPORT.width);
      assert.ok(png.length < 200 * 1024, `screenshot of ${png.length} bytes: keep it under 200 KB`);
      const target = SCREENSHOT
        ? new URL('../../docs/dashboard.png', import.meta.url)
        : join(dir, 'dashboard.png');
      writeFileSync(target, png);

      assert.deepEqual(problems, []);
      const away = requests.filter((url) => !url.startsWith(`${handle.url}/`));
      assert.deepEqual(away, [], 'every request goes to the app');
    } finally {
      await context.close();
    }
  });
});
