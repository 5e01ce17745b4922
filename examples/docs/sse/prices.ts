import { App, lastEventId, sleep, sse } from 'weir';

export const app = new App();

// A pull source: the feed is asked for its next event only once the client has taken the last one, so a
// slow client slows the feed down, never the server's memory up.
async function* prices(after: number, signal: AbortSignal) {
  for (let seq = after + 1; ; seq++) {
    yield { id: String(seq), event: 'price', data: { seq, eur: 100 + (seq % 7) } };
    await sleep(1000, { signal });
  }
}

app.get('/prices', (ctx) => {
  // A browser that reconnects sends the id of the last event it saw: resume after it.
  const seen = Number(lastEventId(ctx) ?? 0);
  const after = Number.isSafeInteger(seen) && seen > 0 ? seen : 0;
  // ctx.signal aborts when the stream closes (the client left, the server drains): the sleep stops.
  return sse(ctx, prices(after, ctx.signal), { retryMs: 3000 });
});
