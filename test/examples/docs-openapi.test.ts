/** docs/openapi.md: the orders example's document, valid and with what its route declares. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inject } from 'weir/testing';
import { app, document } from '../../examples/docs/openapi/document.ts';
import { assertValid } from '../helpers/openapi.ts';

describe('docs/openapi.md', () => {
  it('describes the orders route, and serves the document', async () => {
    await assertValid(document);
    assert.deepEqual(Object.keys(document.paths), ['/orders/{id}']);
    const operation = document.paths['/orders/{id}']!.get!;
    assert.equal(operation.summary, 'One order');
    assert.deepEqual(Object.keys(operation.responses as object).sort(), ['200', '400', '404']);
    assert.deepEqual(document.servers, [{ url: 'https://api.example.com' }]);
    const res = await inject(app, { url: '/openapi.json' });
    assert.deepEqual(res.json(), JSON.parse(JSON.stringify(document)));
  });
});
