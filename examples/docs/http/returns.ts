import { Readable } from 'node:stream';
import { App, json, redirect, stream, text } from 'weir';

export const app = new App();

app.get('/text', () => 'plain text'); // 200 text/plain; charset=utf-8
app.get('/object', () => ({ ok: true })); // 200 application/json
app.get('/bytes', () => new Uint8Array([1, 2, 3])); // 200 application/octet-stream
app.get('/nothing', () => undefined); // 204

// The helpers set the status and headers.
app.post('/items', () => json({ id: 1 }, 201));
app.get('/teapot', () => text('short and stout', { status: 418, headers: { 'x-kind': 'teapot' } }));
app.get('/old', () => redirect('/text', 301));
app.get('/lines', () => stream(Readable.from(['a\n', 'b\n']), { type: 'text/plain' }));
app.get('/web', () => new Response('from a web Response', { headers: { 'x-web': 'yes' } }));

// For a plain value, ctx.status() and ctx.set() adjust the response.
app.put('/items/:id', (ctx) => {
  ctx.status(202).set('x-queued', 'yes');
  return { queued: ctx.params.id };
});
