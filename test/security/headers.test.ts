import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { App, HttpError, html, serveStatic } from 'weir';
import { cspNonce, securityHeaders } from 'weir/security';
import { inject } from 'weir/testing';

const dir = mkdtempSync(join(tmpdir(), 'weir-headers-'));
writeFileSync(join(dir, 'page.html'), '<!doctype html><p>static</p>');
writeFileSync(join(dir, 'data.txt'), 'text');
after(() => rmSync(dir, { recursive: true, force: true }));

function build(options: Parameters<typeof securityHeaders>[0] = {}, appOptions = {}) {
  const app = new App(appOptions);
  app.use(securityHeaders(options));
  app.get('/page', (ctx) => html(`<script nonce="${cspNonce(ctx)}">go()</script>`));
  app.get('/plain-page', () => html('<p>no scripts</p>'));
  app.get('/json', () => ({ ok: true }));
  app.get('/boom', () => {
    throw HttpError.badRequest('no');
  });
  app.get('/own', () =>
    html('<p>framed</p>', {
      headers: { 'x-frame-options': 'DENY', 'content-security-policy': "default-src 'none'" },
    }),
  );
  app.get('/static/*', serveStatic(dir));
  return app;
}

const DOCUMENT_ONLY = ['content-security-policy', 'cross-origin-opener-policy', 'x-frame-options'];

describe('securityHeaders()', () => {
  it('gives HTML a CSP with this request nonce, COOP and X-Frame-Options, and every response the rest', async () => {
    const app = build();
    const page = await inject(app, { url: '/page' });
    const nonce = /nonce="([^"]+)"/.exec(page.body)?.[1];
    assert.ok(nonce && /^[A-Za-z0-9+/]{22}==$/.test(nonce));
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, new RegExp(`script-src 'self' 'nonce-${nonce.replace(/[+/]/g, '\\$&')}'`));
    assert.match(csp, /object-src 'none'/);
    assert.match(csp, /frame-ancestors 'self'/);
    assert.doesNotMatch(csp, /upgrade-insecure-requests/, 'plain HTTP');
    assert.equal(page.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(page.headers['x-frame-options'], 'SAMEORIGIN');
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal(page.headers['referrer-policy'], 'strict-origin-when-cross-origin');
    assert.equal(page.headers['strict-transport-security'], undefined);
    const again = await inject(app, { url: '/page' });
    assert.notEqual(/nonce="([^"]+)"/.exec(again.body)?.[1], nonce, 'a fresh nonce per request');
    assert.doesNotMatch(
      String((await inject(app, { url: '/plain-page' })).headers['content-security-policy']),
      /nonce/,
    );
  });

  it('keeps document headers off JSON, text and errors, which still get nosniff and the rest', async () => {
    const app = build();
    for (const url of ['/json', '/boom', '/static/data.txt', '/missing']) {
      const res = await inject(app, { url });
      for (const name of DOCUMENT_ONLY) assert.equal(res.headers[name], undefined, `${url} ${name}`);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
    }
    const file = await inject(app, { url: '/static/page.html' });
    assert.match(String(file.headers['content-security-policy']), /default-src 'self'/, 'static HTML too');
  });

  it('sends HSTS and upgrade-insecure-requests only over HTTPS, as a trusted proxy reports it', async () => {
    const app = build({}, { trustProxy: 1 });
    const res = await inject(app, { url: '/page', headers: { 'x-forwarded-proto': 'https' } });
    assert.equal(res.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    assert.match(String(res.headers['content-security-policy']), /; upgrade-insecure-requests$/);
    const untrusted = build();
    const spoofed = await inject(untrusted, { url: '/page', headers: { 'x-forwarded-proto': 'https' } });
    assert.equal(spoofed.headers['strict-transport-security'], undefined);
  });

  it('lets each header be changed or left out, and a response keep its own', async () => {
    const app = build(
      {
        contentSecurityPolicy: {
          directives: { 'img-src': ['https://cdn.example'], 'style-src': false },
          reportOnly: true,
        },
        strictTransportSecurity: { maxAgeSeconds: 600, includeSubDomains: false, preload: true },
        referrerPolicy: 'no-referrer',
        frameOptions: false,
        crossOriginResourcePolicy: 'cross-origin',
      },
      { trustProxy: 1 },
    );
    const res = await inject(app, { url: '/plain-page', headers: { 'x-forwarded-proto': 'https' } });
    const policy = String(res.headers['content-security-policy-report-only']);
    assert.match(policy, /img-src https:\/\/cdn\.example/);
    assert.doesNotMatch(policy, /style-src/);
    assert.equal(res.headers['content-security-policy'], undefined);
    assert.equal(res.headers['strict-transport-security'], 'max-age=600; preload');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    assert.equal(res.headers['x-frame-options'], undefined);
    assert.equal(res.headers['cross-origin-resource-policy'], 'cross-origin');
    const own = await inject(build(), { url: '/own' });
    assert.equal(own.headers['x-frame-options'], 'DENY');
    assert.equal(own.headers['content-security-policy'], "default-src 'none'");
  });

  it('refuses values that would break the header', () => {
    for (const bad of [
      { contentSecurityPolicy: { directives: { 'script-src': ["'self'; report-uri evil"] } } },
      { contentSecurityPolicy: { directives: { 'Script Src': ["'self'"] } } },
      { referrerPolicy: 'no-referrer\r\nx: y' },
      { frameOptions: 'ALLOW-FROM x' },
      { strictTransportSecurity: { maxAgeSeconds: -1 } },
    ]) {
      assert.throws(
        () => securityHeaders(bad as never),
        { code: 'WEIR_ERR_INVALID_OPTION' },
        JSON.stringify(bad),
      );
    }
  });
});
