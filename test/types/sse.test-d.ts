// Type-level tests of sse(): `tsc --noEmit` (run by `npm test`) fails if any of these stops holding.
import * as v from 'valibot';
import { App, lastEventId, type SseEvent, type SseStream, sse, type WeirResponse } from 'weir';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_ok: T): void {}

type State = { user: { id: string } };

export function routes(): void {
  const app = new App<State>();
  // Any route's ctx: typed params, typed state, validated inputs.
  app.get('/rooms/:room/events', (ctx) => {
    const response = sse(ctx, (stream) => stream.send({ event: ctx.params.room, data: ctx.state.user }));
    expectType<Equal<typeof response, WeirResponse>>(true);
    return response;
  });
  const query = v.object({ since: v.optional(v.string()) });
  app.get('/feed', { schema: { query } }, (ctx) => {
    const id = lastEventId(ctx) ?? ctx.query.since;
    expectType<Equal<typeof id, string | undefined>>(true);
    return sse(ctx, feed(id), { heartbeatMs: 0, maxBufferedBytes: 65_536, retryMs: 1000 });
  });
  // A push source may return anything (a send()'s boolean, a promise); it gets the stream.
  app.get('/push', (ctx) =>
    sse(ctx, async (stream) => {
      expectType<Equal<typeof stream, SseStream>>(true);
      expectType<Equal<typeof stream.lastEventId, string | undefined>>(true);
      expectType<Equal<ReturnType<SseStream['send']>, boolean>>(true);
    }),
  );
  // @ts-expect-error: a source is an async iterable or a function, not an array
  app.get('/array', (ctx) => sse(ctx, [{ data: 1 }]));
  // @ts-expect-error: an event carries data
  app.get('/nodata', (ctx) => sse(ctx, (stream) => stream.send({ id: '1' })));
  // @ts-expect-error: an id is a string
  app.get('/numid', (ctx) => sse(ctx, (stream) => stream.send({ data: 1, id: 1 })));
}

async function* feed(after: string | undefined): AsyncGenerator<SseEvent | string> {
  yield after === undefined ? 'from the start' : { id: after, data: { after } };
}
