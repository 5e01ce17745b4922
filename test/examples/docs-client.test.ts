/** docs/client.md: the inventory client calls the inventory app on a real socket, through its types. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ServerHandle } from 'weir';
import { app } from '../../examples/docs/client/api.ts';
import { inventory, remove, restock, search } from '../../examples/docs/client/calls.ts';
import { serve } from '../helpers/http.ts';

let handle: ServerHandle;
before(async () => {
  handle = await serve(app);
});
after(() => handle.close());

describe('docs/client.md', () => {
  it('restocks, searches and removes items, reading each status', async () => {
    let calls = 0;
    const api = inventory(`http://127.0.0.1:${handle.port}`, () => `token-${++calls}`);
    assert.deepEqual(await restock(api, 'a-1', 10), { sku: 'a-1', name: 'Anvil', stock: 13 });
    assert.equal(await restock(api, 'nope', 1), undefined);
    assert.equal(calls, 3, 'the headers function runs at every call');
    assert.deepEqual(await search(api, 'Anv'), ['a-1']);
    assert.deepEqual(await search(api, 'zzz'), []);
    const stats = await api.get('/api/stats');
    assert.equal(stats.ok && typeof stats.data.at, 'string');
    assert.equal(await remove(api, 'a-1'), 'removed');
    assert.equal(await remove(api, 'a-1'), 'ITEM_NOT_FOUND');
    assert.equal((await api.get('/healthz')).data, 'ok');
  });
});
