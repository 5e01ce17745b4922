import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { App, type ServerHandle } from 'weir';
import { raw, serve } from '../helpers/http.ts';

describe('requests refused before routing', () => {
  let handle: ServerHandle;
  let reached = 0;
  before(async () => {
    const app = new App({ logger: false });
    app.get('/', () => {
      reached++;
      return 'root';
    });
    app.post('/p', () => 'p');
    handle = await serve(app);
  });
  after(() => handle.close());

  const ask = (text: string): Promise<string> => raw(handle.port, text, { timeoutMs: 3000 });

  it('answers an HTTP/1.1 request without Host with 400 and weir’s JSON error', async () => {
    const before = reached;
    const response = await ask('GET / HTTP/1.1\r\nConnection: close\r\n\r\n');
    assert.match(response, /^HTTP\/1\.1 400 /);
    assert.match(response, /\r\nserver: weir\r\n/i);
    assert.match(
      response,
      /"code":"WEIR_ERR_BAD_REQUEST","message":"An HTTP\/1\.1 request must carry a Host header"/,
    );
    assert.equal(reached, before);
  });

  it('serves an HTTP/1.0 request without Host (Host is an HTTP/1.1 requirement)', async () => {
    const response = await ask('GET / HTTP/1.0\r\n\r\n');
    assert.match(response, /^HTTP\/1\.1 200 /);
    assert.match(response, /root$/);
  });

  it('answers 505 to HTTP/0.9-style requests and to versions other than 1.0 and 1.1, and closes', async () => {
    for (const line of [
      'GET /\r\n\r\n',
      'GET / HTTP/2.0\r\nHost: x\r\n\r\n',
      'GET / HTTP/0.9\r\nHost: x\r\n\r\n',
    ]) {
      const before = reached;
      const response = await ask(line);
      assert.match(response, /^HTTP\/1\.1 505 /, JSON.stringify(line));
      assert.match(response, /"code":"WEIR_ERR_HTTP_VERSION"/);
      assert.match(response, /\r\nconnection: close\r\n/i);
      assert.equal(reached, before);
    }
  });

  it('answers CONNECT with 400 and a JSON body instead of dropping the connection', async () => {
    const response = await ask('CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n');
    assert.match(response, /^HTTP\/1\.1 400 /);
    assert.match(response, /"code":"WEIR_ERR_BAD_REQUEST","message":"CONNECT is not supported/);
    assert.match(response, /\r\nserver: weir\r\n/i);
  });

  it('answers OPTIONS * with the methods of every route, and other methods on * with 400', async () => {
    const options = await ask('OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(options, /^HTTP\/1\.1 204 /);
    assert.match(options, /\r\nallow: GET, HEAD, OPTIONS, POST\r\n/i);
    const del = await ask('DELETE * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(del, /^HTTP\/1\.1 400 /);
    assert.match(del, /"code":"WEIR_ERR_BAD_REQUEST".*only valid with OPTIONS, not DELETE/);
    assert.doesNotMatch(del, /\\u0000/);
  });
});
