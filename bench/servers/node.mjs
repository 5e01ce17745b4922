// Raw node:http: the ceiling a framework built on node:http can approach. Same headers as the frameworks.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 3000);

const PLAINTEXT = 'Hello, World!';
const PLAINTEXT_LENGTH = Buffer.byteLength(PLAINTEXT);

// The Date header, formatted once a second (as weir does, and as node:http does for its automatic Date),
// so that no server pays for a per-request Date#toUTCString the others skip.
let date = new Date().toUTCString();
setInterval(() => {
  date = new Date().toUTCString();
}, 1000).unref();

const server = createServer((req, res) => {
  if (req.url === '/plaintext') {
    res.writeHead(200, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': PLAINTEXT_LENGTH,
      server: 'node',
      date,
    });
    res.end(PLAINTEXT);
  } else if (req.url === '/json') {
    // A fresh object and a fresh JSON.stringify per request (TechEmpower rule).
    const body = JSON.stringify({ message: 'Hello, World!' });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      server: 'node',
      date,
    });
    res.end(body);
  } else {
    res.writeHead(404, { 'content-length': 0, server: 'node', date });
    res.end();
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`node:http listening on http://127.0.0.1:${port}`);
});
