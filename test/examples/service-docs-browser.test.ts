/**
 * The reference service's /docs in headless Chromium: every operation of its own /openapi.json renders,
 * with no console error and no request to anywhere but the service.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { ServerHandle } from 'weir';
import type { OpenApiDocument } from 'weir/openapi';
import { createServiceApp } from '../../examples/service/app.ts';
import { openServiceDatabase } from '../../examples/service/database.ts';
import { launchChromium, skipWithoutChromium } from '../helpers/browser.ts';
import { serve } from '../helpers/http.ts';

const skip = await skipWithoutChromium();

describe('reference service: /docs in Chromium', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-service-docs-'));
  let handle: ServerHandle;
  let browser: Browser;

  before(async () => {
    const db = await openServiceDatabase(`sqlite:${join(dir, 'service.db')}`);
    handle = await serve(createServiceApp({ logger: false, db }));
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await handle?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('renders every operation the service documents', { timeout: 90_000 }, async () => {
    const doc = (await (await fetch(`${handle.url}/openapi.json`)).json()) as OpenApiDocument;
    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    assert.ok(operations.length > 20, `${operations.length} operations`);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      const problems: string[] = [];
      const away: string[] = [];
      page.on('request', (req) => {
        if (!req.url().startsWith(`${handle.url}/`) && !req.url().startsWith('data:')) away.push(req.url());
      });
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      assert.equal((await page.goto(`${handle.url}/docs`, { waitUntil: 'load' }))?.status(), 200);
      await page
        .locator('.opblock')
        .nth(operations.length - 1)
        .waitFor();
      const rendered = await page.$$eval('.opblock', (blocks) =>
        blocks.map(
          (block) =>
            `${block.querySelector('.opblock-summary-method')?.textContent?.trim()} ${block.querySelector('.opblock-summary-path')?.getAttribute('data-path')}`,
        ),
      );
      assert.deepEqual(rendered.sort(), operations.sort());
      assert.deepEqual(problems, []);
      assert.deepEqual(away, []);
    } finally {
      await context.close();
    }
  });
});
