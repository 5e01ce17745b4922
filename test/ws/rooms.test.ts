import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { App } from 'weir';
import { type Hub, rooms } from 'weir/ws';
import { serve } from '../helpers/http.ts';
import { spawnTs } from '../helpers/process.ts';
import { REDIS_URL, redisSkip, uniqueNamespace } from '../helpers/services.ts';
import { open, rawUpgrade, recordWs, waitFor } from '../helpers/ws.ts';

const handles: { close(o?: { timeoutMs: number }): Promise<void> }[] = [];
after(() => Promise.all(handles.map((h) => h.close({ timeoutMs: 1000 }))));

async function roomApp(hub: Hub, options = {}): Promise<string> {
  const app = new App({ logger: false });
  app.ws('/rooms/:room', options, (socket, ctx) => {
    hub.join(socket, ctx.params.room);
    socket.send('joined');
  });
  const handle = await serve(app);
  handles.push(handle);
  return `${handle.url.replace('http', 'ws')}/rooms`;
}

describe('rooms (memory:)', () => {
  it('a broadcast reaches every socket of its room and no other: strings as text, bytes as binary, values as JSON', async () => {
    const hub = await rooms();
    const url = await roomApp(hub);
    const [a1, a2, b] = await Promise.all([open(`${url}/a`), open(`${url}/a`), open(`${url}/b`)]);
    await Promise.all([a1.until(1), a2.until(1), b.until(1)]);
    assert.equal(hub.size('a'), 2);
    await hub.broadcast('a', 'text');
    await hub.broadcast('a', new Uint8Array([7, 8]));
    await hub.broadcast('a', { n: 1 });
    await Promise.all([a1.until(4), a2.until(4)]);
    for (const client of [a1, a2])
      assert.deepEqual(client.messages, ['joined', 'text', Buffer.from([7, 8]), '{"n":1}']);
    assert.deepEqual(b.messages, ['joined']);
    a1.ws.close(1000);
    await waitFor(() => hub.size('a') === 1, 'the closed socket to leave its room');
    assert.throws(() => hub.join(a2 as never, ''), { code: 'WEIR_ERR_INVALID_OPTION' });
    await hub.close();
    a2.ws.close(1000);
    b.ws.close(1000);
  });

  it('a socket that never reads is closed under its own buffer limit; the others get every broadcast', async () => {
    const record = recordWs();
    const hub = await rooms();
    const url = await roomApp(hub, { maxBufferedBytes: 128 * 1024 });
    const fast = await open(`${url}/r`);
    const slow = await rawUpgrade(Number(new URL(url).port), '/rooms/r');
    await waitFor(() => hub.size('r') === 2, 'two members');
    const message = 'y'.repeat(32 * 1024);
    for (let i = 0; i < 200; i++) {
      await hub.broadcast('r', message);
      if (i % 16 === 15) await new Promise((r) => setImmediate(r));
    }
    await fast.until(201);
    assert.equal(fast.messages.length, 201);
    // It leaves its room once closed: at once its sends are refused, and closeTimeoutMs later it is cut.
    await waitFor(() => hub.size('r') === 1, 'the slow socket to leave the room', 3000);
    record.stop();
    assert.deepEqual(
      record.events.filter((e) => e.type === 'close' && e.path === '/rooms/r').map((e) => e.reason),
      ['slow'],
    );
    slow.destroy();
    fast.ws.close(1000);
    await hub.close();
  });

  it('bounds the rooms of one socket at maxRoomsPerSocket, and checks its options', async () => {
    const hub = await rooms({ maxRoomsPerSocket: 2 });
    const app = new App({ logger: false });
    const outcomes: string[] = [];
    app.ws('/many', (socket) => {
      for (const room of ['a', 'b', 'a', 'c']) {
        try {
          hub.join(socket, room);
          outcomes.push(`joined ${room}`);
        } catch (err) {
          outcomes.push(`${(err as { code: string }).code} ${room}`);
        }
      }
      socket.close(1000);
    });
    const handle = await serve(app);
    handles.push(handle);
    const client = await open(`${handle.url.replace('http', 'ws')}/many`);
    await client.closed();
    assert.deepEqual(outcomes, ['joined a', 'joined b', 'joined a', 'WEIR_ERR_INVALID_OPTION c']);
    await waitFor(() => hub.size('a') === 0 && hub.size('b') === 0, 'the closed socket to leave');
    await hub.close();
    for (const bad of [{ maxRoomsPerSocket: 0 }, { prefix: 'x'.repeat(129) }, { connectTimeoutMs: -1 }]) {
      await assert.rejects(rooms(bad), { code: 'WEIR_ERR_INVALID_OPTION' });
    }
  });

  it('refuses an unknown scheme with one line, and a Redis that cannot be reached', async () => {
    await assert.rejects(rooms({ url: 'nats://user:secret@127.0.0.1' }), (err: Error & { code: string }) => {
      assert.equal(err.code, 'WEIR_ERR_WS_ROOMS_URL');
      assert.doesNotMatch(err.message, /secret/);
      return true;
    });
    await assert.rejects(
      rooms({ url: 'redis://:secret@127.0.0.1:1', connectTimeoutMs: 500 }),
      (err: Error & { code: string }) => {
        assert.equal(err.code, 'WEIR_ERR_WS_ROOMS_UNAVAILABLE');
        assert.doesNotMatch(err.message, /secret/);
        return true;
      },
    );
  });
});

describe('rooms (redis://) across two processes', { timeout: 60_000 }, async () => {
  const skip = await redisSkip();
  it('a broadcast in one process reaches the room in both, once, and no other room', { skip }, async () => {
    const prefix = `${uniqueNamespace('ws')}:`;
    const env = { WEIR_ROOMS_URL: REDIS_URL, WEIR_ROOMS_PREFIX: prefix, LOG_LEVEL: 'silent' };
    const fixture = new URL('../fixtures/ws-rooms-app.ts', import.meta.url);
    const processes = [spawnTs(fixture, env), spawnTs(fixture, env)];
    const redis = new Redis(REDIS_URL);
    try {
      const ports = await Promise.all(
        processes.map(async (p) => Number((await p.waitFor(/listening (\d+)/))[1])),
      );
      const [one, two] = ports.map((port) => `ws://127.0.0.1:${port}/rooms`) as [string, string];
      const [a, b, other] = await Promise.all([
        open(`${one}/news`),
        open(`${two}/news`),
        open(`${two}/sport`),
      ]);
      await Promise.all([a.until(1), b.until(1), other.until(1)]);
      // Both processes subscribed to the room's channel (one subscriber connection each).
      let subscribers = 0;
      for (let i = 0; i < 200 && subscribers < 2; i++) {
        const [, count] = (await redis.pubsub('NUMSUB', `${prefix}news`)) as [string, number];
        subscribers = count;
        if (subscribers < 2) await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(subscribers, 2);
      const res = await fetch(`http://127.0.0.1:${ports[0]}/rooms/news`, {
        method: 'POST',
        body: 'hello, both',
      });
      assert.deepEqual(await res.json(), { local: 1 });
      await Promise.all([a.until(2), b.until(2)]);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(
        a.messages,
        ['joined', 'hello, both'],
        'the sender process delivers once, not again from Redis',
      );
      assert.deepEqual(b.messages, ['joined', 'hello, both']);
      assert.deepEqual(other.messages, ['joined']);
      // The last socket of a room leaving unsubscribes its process.
      b.ws.close(1000);
      for (let i = 0; i < 200 && subscribers > 1; i++) {
        subscribers = ((await redis.pubsub('NUMSUB', `${prefix}news`)) as [string, number])[1];
        if (subscribers > 1) await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(subscribers, 1);
      a.ws.close(1000);
      other.ws.close(1000);
    } finally {
      redis.disconnect();
      for (const p of processes)
        if (p.child.pid !== undefined && p.child.exitCode === null) p.child.kill('SIGTERM');
      const codes = await Promise.all(processes.map((p) => p.exited()));
      assert.deepEqual(codes, [0, 0], 'both processes stopped cleanly');
    }
  });
});
