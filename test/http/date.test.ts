import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { App } from 'weir';
import { request, serve } from '../helpers/http.ts';

describe('Date header', () => {
  it('never lags the clock: every response in a new second carries that second', async () => {
    const app = new App({ logger: false });
    app.get('/', () => 'x');
    const handle = await serve(app);
    try {
      // Sample across several second boundaries; the header may not be older than the second the request
      // was sent in (a ticker refreshed once a second answered with the previous second up to 1 s late).
      for (let i = 0; i < 12; i++) {
        const sent = Math.floor(Date.now() / 1000) * 1000;
        const res = await request(handle, { path: '/' });
        const stamped = Date.parse(String(res.headers.date));
        assert.ok(
          stamped >= sent,
          `Date ${res.headers.date} is older than the second the request was sent in`,
        );
        await sleep(97 + (i % 3) * 100);
      }
    } finally {
      await handle.close();
    }
  });
});
