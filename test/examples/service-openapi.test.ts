/**
 * The reference service describes itself: /openapi.json is a valid OpenAPI 3.1 document listing every
 * route the service serves (but the hidden ones) with the schemas it validates.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ServerHandle } from 'weir';
import type { Database } from 'weir/db';
import type { OpenApiDocument } from 'weir/openapi';
import { openJobQueue } from 'weir/queue';
import { createServiceApp } from '../../examples/service/app.ts';
import { openServiceDatabase } from '../../examples/service/database.ts';
import type { WelcomeJob } from '../../examples/service/jobs.ts';
import { request, serve } from '../helpers/http.ts';
import { assertValid } from '../helpers/openapi.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-service-openapi-'));
let db: Database;
let handle: ServerHandle;
let routes: string[];

before(async () => {
  db = await openServiceDatabase(`sqlite:${join(dir, 'service.db')}`);
  const queue = await openJobQueue<WelcomeJob>('welcome', { url: `sqlite:${join(dir, 'queue.db')}` });
  const app = createServiceApp({ logger: false, db, queue });
  handle = await serve(app);
  routes = app.routes();
});
after(async () => {
  await handle?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('reference service: /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document with every route and the schemas it validates', async () => {
    const res = await request(handle, { method: 'GET', path: '/openapi.json' });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const doc = JSON.parse(res.body) as OpenApiDocument;
    await assertValid(doc);
    const hidden = new Set(['GET /openapi.json', 'GET /healthz', 'GET /readyz']);
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, item]) =>
        Object.keys(item).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      ),
    );
    for (const route of routes) {
      const [method, path] = route.split(' ') as [string, string];
      // OpenAPI has no WebSocket operations: `WS` routes are left out of the document.
      if (hidden.has(route) || path.startsWith('/docs') || ['ALL', 'HEAD', 'WS'].includes(method)) continue;
      const key = `${method} ${path.replace(/\*$/, ':wildcard')}`;
      assert.ok(documented.has(key), `${route} is documented`);
    }
    // The routes with schemas carry them: the lookup body, the users query, the job body.
    const lookup = doc.paths['/db']!.post!.requestBody as { content: Record<string, { schema: object }> };
    assert.equal((lookup.content['application/json']!.schema as { type?: string }).type, 'object');
    const users = doc.paths['/users']!.get!.parameters as { name: string; in: string }[];
    assert.ok(users.length > 0 && users.every((p) => p.in === 'query'));
    assert.ok(doc.paths['/jobs']!.post!.requestBody, 'POST /jobs has its body schema');
    assert.deepEqual(doc.paths['/me']!.get!.security, [{ sessionCookie: [] }]);
    assert.ok(doc.components.securitySchemes?.bearerAuth, 'the bearer token of /api');
  });

  it('serves the docs page that renders it (the page itself is left out of the document)', async () => {
    const page = await request(handle, { method: 'GET', path: '/docs' });
    assert.equal(page.status, 200);
    assert.match(page.body, /<title>weir reference service<\/title>/);
    assert.match(page.body, /data-spec-url="\/openapi.json"/);
  });
});
