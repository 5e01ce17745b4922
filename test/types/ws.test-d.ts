// Type-level tests of app.ws() and weir/ws: `tsc --noEmit` (run by `npm test`) fails if any stops holding.
import { App, type Guard } from 'weir';
import { requireAuth } from 'weir/security';
import { type Hub, rooms, type WsMessage, type WsSocket } from 'weir/ws';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_ok: T): void {}

const app = new App<{ requestStart: number }>({ logger: false });

app.ws('/rooms/:room/:part?', async (socket, ctx) => {
  expectType<Equal<typeof ctx.params.room, string>>(true);
  expectType<Equal<typeof ctx.params.part, string | undefined>>(true);
  expectType<Equal<typeof socket.ctx.params.room, string>>(true);
  // @ts-expect-error: the path declares no "id" param
  ctx.params.id;
  expectType<Equal<typeof ctx.state.requestStart, number>>(true);
  for await (const message of socket) {
    expectType<Equal<typeof message, WsMessage>>(true);
    if (typeof message === 'string') socket.send(message);
    else expectType<Equal<typeof message, Buffer>>(true);
  }
  expectType<Equal<ReturnType<typeof socket.send>, boolean>>(true);
  // @ts-expect-error: send() takes a string or bytes, not an object
  socket.send({ a: 1 });
});

declare const tenant: Guard<{ tenant: string }>;
app.ws('/me', { maxMessageBytes: 1024 }, requireAuth(), tenant, (socket, ctx) => {
  expectType<Equal<typeof ctx.state.user.id, string | number>>(true);
  expectType<Equal<typeof ctx.state.tenant, string>>(true);
  expectType<
    Equal<
      typeof socket,
      WsSocket<'/me', { requestStart: number } & { user: typeof ctx.state.user } & { tenant: string }>
    >
  >(true);
});

// @ts-expect-error: an unknown option
app.ws('/x', { maxMessages: 1 }, () => {});

const hub: Hub = await rooms({ url: 'memory:' });
app.ws('/join', (socket) => hub.join(socket, 'all'));
expectType<Equal<ReturnType<Hub['broadcast']>, Promise<void>>>(true);
