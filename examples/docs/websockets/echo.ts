import { App } from 'weir';

export const app = new App();

// A socket per connection; the handler runs once the handshake is done. Incoming messages are read with
// for await: a string is a text frame, a Buffer a binary one. The loop ends when the socket closes.
app.ws('/echo/:name', async (socket, ctx) => {
  socket.send(`hello, ${ctx.params.name}`);
  for await (const message of socket) {
    if (typeof message === 'string') socket.send(message.toUpperCase());
    else socket.send(message.reverse());
  }
});

// The limits are per route; these are the defaults but two.
app.ws(
  '/upload',
  {
    maxMessageBytes: 8 * 1024 * 1024, // a larger message closes the socket with 1009 (default 1 MiB)
    maxBufferedBytes: 1024 * 1024, // a client this far behind is closed with 1013
    pingIntervalMs: 15_000, // a client that misses a pong is cut (default 30 s)
  },
  async (socket) => {
    let total = 0;
    for await (const message of socket) total += message.length;
    socket.ctx.log.info({ total }, 'upload done');
  },
);
