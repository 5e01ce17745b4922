import { App, gather, HttpError, TaskGroup } from 'weir';
import { fetchPrice } from './upstream.ts';

export const app = new App();

function itemsOf(query: string[]): string[] {
  if (query.length === 0 || query.length > 50) throw HttpError.badRequest('Give 1 to 50 item parameters');
  return query;
}

// At most 4 calls at once, results in input order. The first failure, or the client leaving, aborts
// the signal of the calls still running, starts no more, and rejects.
app.get('/basket', (ctx) =>
  gather(
    itemsOf(ctx.queryAll('item')).map((item) => (signal) => fetchPrice(item, signal)),
    { limit: 4, signal: ctx.signal },
  ),
);

// settle: true runs every call and reports each outcome instead of failing fast.
app.get('/basket/partial', async (ctx) => {
  const tasks = itemsOf(ctx.queryAll('item')).map(
    (item) => (signal: AbortSignal) => fetchPrice(item, signal),
  );
  const outcomes = await gather(tasks, { limit: 4, settle: true, signal: ctx.signal });
  return outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : null));
});

// Structured concurrency: run() returns once every child has ended; the first failure cancels the
// others and is thrown as it is.
app.get('/pair/:first/:second', (ctx) =>
  TaskGroup.run(
    async (group) => {
      const first = group.spawn((signal) => fetchPrice(ctx.params.first, signal));
      const second = group.spawn((signal) => fetchPrice(ctx.params.second, signal));
      return { total: (await first) + (await second) };
    },
    { signal: ctx.signal },
  ),
);
