import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App, sse } from 'weir';
import { inject } from 'weir/testing';

const app = new App({ logger: false });
app.get('/countdown', (ctx) =>
  sse(
    ctx,
    (async function* () {
      for (let n = 3; n > 0; n--) yield { id: String(n), data: n };
    })(),
  ),
);
app.get('/hello', (ctx) => sse(ctx, (stream) => stream.send('hi')));

test('a stream that ends is a whole body under inject()', async () => {
  const res = await inject(app, { url: '/countdown' });
  assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
  assert.equal(res.body, 'id: 3\ndata: 3\n\nid: 2\ndata: 2\n\nid: 1\ndata: 1\n\n');
});

test('a stream that stays open is read from a real server', async () => {
  const server = await app.listen({ port: 0, signals: false });
  try {
    const res = await fetch(`${server.url}/hello`);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    for (let i = 0; i < 100 && !text.endsWith('\n\n'); i++) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    assert.equal(text, 'data: hi\n\n');
    await reader.cancel();
  } finally {
    await server.close(); // ends the open stream at once
  }
});
