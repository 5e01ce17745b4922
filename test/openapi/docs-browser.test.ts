/**
 * The docs page in a real browser: headless Chromium loads it from a real server, under
 * securityHeaders()' default CSP, and renders every operation of a hand-written OpenAPI 3.1 document
 * without a console error and without a request to anywhere but the app.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { Browser } from 'playwright-core';
import { App, json, type ServerHandle } from 'weir';
import { docsPage } from 'weir/openapi';
import { securityHeaders } from 'weir/security';
import { launchChromium, skipWithoutChromium } from '../helpers/browser.ts';
import { serve } from '../helpers/http.ts';

const TITLE = 'Orders <API> & "docs"';
const VIEWPORT = { width: 1280, height: 900 };
const spec = JSON.parse(
  readFileSync(new URL('./fixtures/orders.openapi.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;
const OPERATIONS = [
  ['GET', '/orders'],
  ['POST', '/orders'],
  ['GET', '/orders/{id}'],
  ['DELETE', '/orders/{id}'],
];

const skip = await skipWithoutChromium();

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): { width: number; height: number } {
  assert.equal(png.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'a PNG signature');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('docs page in Chromium', { skip }, () => {
  let handle: ServerHandle;
  let browser: Browser;

  before(async () => {
    const app = new App({ logger: false });
    app.use(securityHeaders());
    app.get('/openapi.json', () => json(spec));
    app.route('/docs', docsPage({ specUrl: '/openapi.json', title: TITLE }));
    handle = await serve(app);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await handle?.close();
  });

  it('the fixture is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(spec);
    assert.equal(result.valid, true, JSON.stringify(result.errors));
  });

  it('renders every operation offline under the default CSP, with no console error', {
    timeout: 90_000,
  }, async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      const blank = await page.screenshot();
      const requests: string[] = [];
      const problems: string[] = [];
      page.on('request', (req) => requests.push(req.url()));
      page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`));
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));

      const response = await page.goto(`${handle.url}/docs`, { waitUntil: 'load' });
      assert.equal(response?.status(), 200);
      assert.match((await response?.allHeaders())?.['content-security-policy'] ?? '', /script-src 'self';/);
      await page
        .locator('.opblock')
        .nth(OPERATIONS.length - 1)
        .waitFor()
        .catch((err: Error) => {
          throw new Error(`${err.message}\n${problems.join('\n')}`);
        });
      const rendered = await page.$$eval('.opblock', (blocks) =>
        blocks.map((block) => [
          block.querySelector('.opblock-summary-method')?.textContent?.trim() ?? '',
          block.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? '',
        ]),
      );
      assert.deepEqual(
        rendered.map((op) => op.join(' ')).sort(),
        OPERATIONS.map((op) => op.join(' ')).sort(),
      );
      assert.equal(await page.title(), TITLE);
      const schemas = await page.$$eval('.models .json-schema-2020-12__title', (els) =>
        els.map((e) => e.textContent ?? ''),
      );
      assert.deepEqual(schemas.sort(), ['Error', 'NewOrder', 'Order']);
      // Opening an operation renders its body and response examples (highlighted with styles set from
      // script, which the CSP allows, unlike style attributes in markup).
      const post = '#operations-default-createOrder';
      await page.click(`${post} .opblock-summary-control`);
      await page.waitForSelector(`${post} .opblock-body .microlight`);
      const body = (await page.textContent(`${post} .opblock-body`)) ?? '';
      for (const text of ['"item": "string"', '"quantity": 0', 'The body breaks the schema']) {
        assert.ok(body.includes(text), `${text} in ${body.slice(0, 400)}`);
      }

      const png = await page.screenshot();
      assert.deepEqual(pngSize(png), VIEWPORT);
      assert.deepEqual(pngSize(blank), VIEWPORT);
      assert.ok(png.length > 4 * blank.length, `screenshot of ${png.length} bytes, blank ${blank.length}`);

      assert.deepEqual(problems, []);
      const origin = handle.url;
      const away = requests.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('data:'));
      assert.deepEqual(away, [], 'every request goes to the app');
      assert.ok(requests.includes(`${origin}/openapi.json`), requests.join('\n'));
      assert.ok(requests.some((url) => /\/docs\/init\.[0-9a-f]+\.js$/.test(url)));
    } finally {
      await context.close();
    }
  });
});
