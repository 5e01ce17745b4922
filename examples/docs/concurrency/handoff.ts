import { App, Event, HttpError, Queue, sleep } from 'weir';

export const app = new App();

// Event: requests wait for a warm-up that runs in the background; a client that leaves stops waiting.
export const warmedUp = new Event();
app.onStart(() => {
  void sleep(10).then(() => warmedUp.set()); // stands in for loading a model or a config
});
app.get('/ready', async (ctx) => {
  await warmedUp.wait({ signal: ctx.signal });
  return { ready: true };
});

// Queue: a bounded hand-off from requests to one consumer; put() waits while 100 are queued.
const invites = new Queue<string>({ maxsize: 100 });
app.post('/invite', async (ctx) => {
  const to = ctx.query.to;
  if (to === undefined || !/^[^@\s]{1,64}@[^@\s]{1,255}$/.test(to)) {
    throw HttpError.badRequest('to must be an email address', { field: 'to' });
  }
  await invites.put(to, { signal: ctx.signal });
  return undefined;
});

export const sent: string[] = [];
let consumer: Promise<void> | undefined;
app.onStart(() => {
  consumer = (async () => {
    for await (const to of invites) sent.push(to); // ends once the queue is closed and drained
  })();
});
// On stop: refuse new invites, deliver the queued ones, then let the app finish stopping.
app.onStop(async () => {
  invites.close();
  await consumer;
});
