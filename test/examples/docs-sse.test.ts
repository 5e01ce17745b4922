/**
 * docs/sse.md: each example behaves as the guide says. The examples' own tests (examples/docs/sse/
 * testing.ts) register at import and run in this file.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { app as chat, listening } from '../../examples/docs/sse/chat.ts';
import { app as prices } from '../../examples/docs/sse/prices.ts';
import '../../examples/docs/sse/testing.ts';
import { serve } from '../helpers/http.ts';
import { openStream, parseEvents } from '../helpers/sse.ts';

describe('docs/sse.md', () => {
  it('prices: events at once, retry first, resumed after the Last-Event-ID the browser sends back', async () => {
    const handle = await serve(prices);
    try {
      const fresh = await openStream(handle.port, '/prices');
      await fresh.until(() => parseEvents(fresh.text).events.length >= 1, 'the first price');
      fresh.close();
      const first = parseEvents(fresh.text);
      assert.equal(first.retry, 3000);
      assert.deepEqual(first.events[0], {
        type: 'price',
        data: JSON.stringify({ seq: 1, eur: 101 }),
        lastEventId: '1',
      });
      for (const [sent, expected] of [
        ['41', '42'],
        ['not a number', '1'],
      ] as const) {
        const again = await openStream(handle.port, '/prices', { 'last-event-id': sent });
        await again.until(() => parseEvents(again.text).events.length >= 1, 'the first price');
        again.close();
        assert.equal(parseEvents(again.text).events[0]?.lastEventId, expected);
      }
    } finally {
      await handle.close({ timeoutMs: 1000 });
    }
  });

  it('chat: a message reaches every open stream; a stream that closes leaves the listeners', async () => {
    const handle = await serve(chat);
    try {
      const ada = await openStream(handle.port, '/chat');
      const bob = await openStream(handle.port, '/chat');
      for (let i = 0; i < 200 && listening() < 2; i++) await sleep(5);
      const res = await fetch(`${handle.url}/chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'hello, all' }),
      });
      assert.deepEqual(await res.json(), { id: '1', listeners: 2 });
      for (const reader of [ada, bob]) {
        await reader.until(() => parseEvents(reader.text).events.length === 1, 'the message');
        assert.deepEqual(parseEvents(reader.text).events, [
          { type: 'said', data: '{"text":"hello, all"}', lastEventId: '1' },
        ]);
      }
      bob.close();
      for (let i = 0; i < 200 && listening() > 1; i++) await sleep(5);
      assert.equal(listening(), 1);
      ada.close();
    } finally {
      await handle.close({ timeoutMs: 1000 });
    }
  });
});
