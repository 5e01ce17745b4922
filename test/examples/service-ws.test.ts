/**
 * The reference service's WebSocket echo (/ws): over a client, and driven through its page
 * (/static/ws.html) in headless Chromium.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ServerHandle } from 'weir';
import { createServiceApp } from '../../examples/service/app.ts';
import { openServiceDatabase } from '../../examples/service/database.ts';
import { launchChromium, skipWithoutChromium } from '../helpers/browser.ts';
import { serve } from '../helpers/http.ts';
import { open, refusal } from '../helpers/ws.ts';

const chromiumSkip = await skipWithoutChromium();
let handle: ServerHandle;
before(async () => {
  handle = await serve(createServiceApp({ logger: false, db: await openServiceDatabase('sqlite::memory:') }));
});
after(() => handle.close({ timeoutMs: 1000 }));

describe('reference service: /ws', { timeout: 60_000 }, () => {
  it('echoes text and binary, closes 1009 past 64 KiB, refuses other sites and plain GETs', async () => {
    const url = `${handle.url.replace('http', 'ws')}/ws`;
    const client = await open(url, { origin: handle.url });
    client.ws.send('ping');
    client.ws.send(Buffer.from([1, 2, 3]));
    await client.until(2);
    assert.deepEqual(client.messages, ['ping', Buffer.from([1, 2, 3])]);
    client.ws.send('x'.repeat(64 * 1024 + 1));
    assert.equal((await client.closed()).code, 1009);
    assert.equal((await refusal(url, { origin: 'https://elsewhere.example' })).status, 403);
    assert.equal((await fetch(`${handle.url}/ws`)).status, 426);
  });

  it('the page /static/ws.html sends what is typed and lists the echo', { skip: chromiumSkip }, async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(10_000);
      const problems: string[] = [];
      // The browser asks for /favicon.ico on its own: the service has none.
      page.on('response', (res) => {
        if (res.status() >= 400 && !res.url().endsWith('/favicon.ico'))
          problems.push(`${res.status()} ${res.url()}`);
      });
      page.on('console', (m) => {
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text());
      });
      page.on('pageerror', (err) => problems.push(err.message));
      await page.goto(`${handle.url}/static/ws.html`);
      await page.locator('#status', { hasText: 'connected' }).waitFor();
      await page.fill('#message', '<b>hello</b>');
      await page.click('button[type=submit]');
      await page.locator('#log li').first().waitFor();
      assert.equal(await page.locator('#log li').first().textContent(), '<b>hello</b>');
      assert.equal(await page.locator('#log b').count(), 0, 'the echo is text, never markup');
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
    }
  });
});
