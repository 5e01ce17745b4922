import { App } from 'weir';
import { rooms } from 'weir/ws';

// memory: by default; with REDIS_URL every process on that Redis shares the rooms.
const hub = await rooms({ url: process.env.REDIS_URL ?? 'memory:' });

export const app = new App();
app.onStop(() => hub.close());

app.ws('/chat/:room', async (socket, ctx) => {
  const room = ctx.params.room;
  // The socket leaves its rooms when it closes.
  hub.join(socket, room);
  for await (const message of socket) {
    if (typeof message !== 'string' || message.length > 500) continue;
    // Encoded once for every member; a member that cannot keep up is closed, never waited for.
    await hub.broadcast(room, { room, text: message });
  }
});

// A broadcast from an ordinary route (a webhook, a job): it reaches the room in every process.
app.post('/chat/:room', async (ctx) => {
  const { text } = await ctx.json<{ text: string }>();
  await hub.broadcast(ctx.params.room, { room: ctx.params.room, text });
  return { members: hub.size(ctx.params.room) };
});
