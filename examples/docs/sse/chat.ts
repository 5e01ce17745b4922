import { App, type SseStream, sse } from 'weir';

export const app = new App();

// Every open stream. Each removes itself when it closes, whatever the reason.
const listeners = new Set<SseStream>();
let lastId = 0;

// A push source: called once when the stream starts, it keeps the stream to send to later.
app.get('/chat', (ctx) =>
  sse(
    ctx,
    (stream) => {
      listeners.add(stream);
      stream.signal.addEventListener('abort', () => listeners.delete(stream), { once: true });
    },
    // A client more than 256 KiB behind is dropped: it reconnects, with its Last-Event-ID.
    { maxBufferedBytes: 256 * 1024 },
  ),
);

app.post('/chat', async (ctx) => {
  const { text } = await ctx.json<{ text: string }>();
  // Serialised once for every listener: a string is sent as it is.
  const event = { id: String(++lastId), event: 'said', data: JSON.stringify({ text }) };
  // send() never waits and never buffers without bound: a client that stopped reading is dropped.
  for (const stream of listeners) stream.send(event);
  return { id: event.id, listeners: listeners.size };
});

export const listening = (): number => listeners.size;
