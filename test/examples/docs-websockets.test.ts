/** docs/websockets.md: each example behaves as the guide says. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { app as authApp } from '../../examples/docs/websockets/auth.ts';
import { app as chatApp } from '../../examples/docs/websockets/chat.ts';
import { app as echoApp } from '../../examples/docs/websockets/echo.ts';
import { serve } from '../helpers/http.ts';
import { open, refusal } from '../helpers/ws.ts';

const handles: { close(o?: { timeoutMs: number }): Promise<void> }[] = [];
after(() => Promise.all(handles.map((h) => h.close({ timeoutMs: 1000 }))));

async function start(app: Parameters<typeof serve>[0]): Promise<{ url: string; ws: string }> {
  const handle = await serve(app);
  handles.push(handle);
  return { url: handle.url, ws: handle.url.replace('http', 'ws') };
}

describe('docs/websockets.md', () => {
  it('echo: greets by the path param, upper-cases text and reverses bytes; the upload route takes 2 MiB', async () => {
    const { ws } = await start(echoApp);
    const client = await open(`${ws}/echo/ada`);
    client.ws.send('hi');
    client.ws.send(Buffer.from([1, 2, 3]));
    await client.until(3);
    assert.deepEqual(client.messages, ['hello, ada', 'HI', Buffer.from([3, 2, 1])]);
    client.ws.close(1000);
    const upload = await open(`${ws}/upload`);
    upload.ws.send(Buffer.alloc(2 * 1024 * 1024));
    upload.ws.close(1000);
    assert.equal((await upload.closed()).code, 1000, 'a 2 MiB message is within maxMessageBytes');
  });

  it('auth: 401 without a session, the user with one; the partner origin only on /widget', async () => {
    const { url, ws } = await start(authApp);
    assert.equal((await refusal(`${ws}/me`)).status, 401);
    const login = await fetch(`${url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'ada' }),
    });
    const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
    const me = await open(`${ws}/me`, { headers: { cookie } });
    await me.until(1);
    assert.deepEqual(me.messages, ['{"user":"ada"}']);
    me.ws.close(1000);
    const partner = await open(`${ws}/widget`, { origin: 'https://partner.example' });
    assert.deepEqual(await partner.closed(), { code: 1000, reason: 'done' });
    assert.equal((await refusal(`${ws}/widget`, { origin: 'https://other.example' })).status, 403);
    assert.equal(
      (await refusal(`${ws}/me`, { origin: 'https://partner.example', headers: { cookie } })).status,
      403,
    );
  });

  it('chat: a message reaches every member of its room once, from a socket and from a POST', async () => {
    const { url, ws } = await start(chatApp);
    const [ada, bob, eve] = await Promise.all([
      open(`${ws}/chat/kitchen`),
      open(`${ws}/chat/kitchen`),
      open(`${ws}/chat/garden`),
    ]);
    const members = async () =>
      (
        (await (
          await fetch(`${url}/chat/kitchen`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"text":"ping"}',
          })
        ).json()) as { members: number }
      ).members;
    assert.equal(await members(), 2);
    ada.ws.send('hello, kitchen');
    await Promise.all([ada.until(2), bob.until(2)]);
    for (const client of [ada, bob]) {
      assert.deepEqual(client.messages, [
        '{"room":"kitchen","text":"ping"}',
        '{"room":"kitchen","text":"hello, kitchen"}',
      ]);
    }
    assert.deepEqual(eve.messages, []);
    for (const client of [ada, bob, eve]) client.ws.close(1000);
  });
});
