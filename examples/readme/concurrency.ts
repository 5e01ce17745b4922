import { App, gather, HttpError, Queue, runInWorker, Semaphore, sleep, TaskGroup, timeout } from 'weir';

export const app = new App();
const fetchUser = async (id: number, signal: AbortSignal) => {
  await sleep(5, { signal }); // stands in for a query or an HTTP call that honours `signal`
  return { id, name: `user ${id}` };
};

// At most 8 lookups at once; the first failure or a client disconnect aborts the rest.
app.get('/users', (ctx) =>
  gather(
    [1, 2, 3].map((id) => (signal) => fetchUser(id, signal)),
    { limit: 8, signal: ctx.signal },
  ),
);

// A deadline: the work stops through its signal, and the client gets 503 WEIR_ERR_TIMEOUT.
app.get('/slow', (ctx) =>
  timeout((signal) => sleep(10_000, { signal }).then(() => 'late'), 50, { signal: ctx.signal }),
);

// Structured concurrency: both run, both are awaited, one failing cancels the other.
app.get('/profile/:id', async (ctx) => {
  await using group = new TaskGroup({ signal: ctx.signal });
  const user = group.spawn((signal) => fetchUser(Number(ctx.params.id), signal));
  const friends = group.spawn((signal) =>
    gather(
      [7, 8].map((id) => (s) => fetchUser(id, s)),
      { signal },
    ),
  );
  return { user: await user, friends: await friends };
});

// CPU work leaves the event loop; a saturated pool answers 503 with Retry-After.
function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
app.get('/fib/:n', async (ctx) => ({
  fib: await runInWorker(fib, [Number(ctx.params.n)], { signal: ctx.signal }),
}));

// A bounded hand-off between producers and a consumer, and a limit on a shared resource.
export const emails = new Queue<string>({ maxsize: 100 });
const smtp = new Semaphore(2);
app.post('/invite', async (ctx) => {
  const to = ctx.query.to;
  if (to === undefined) throw HttpError.badRequest('Query parameter "to" is required');
  await emails.put(to, { signal: ctx.signal }); // waits while the queue is full
  return undefined; // 204
});
export async function deliverAll(send: (to: string) => Promise<void>): Promise<void> {
  for await (const to of emails) {
    await smtp.run(() => send(to));
    emails.taskDone();
  }
}
