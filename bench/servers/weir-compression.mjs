// weir for bench/compression.mjs: the TechEmpower /plaintext and /json, and a 10 KiB text and a 10 KiB
// JSON response, on the weir tree WEIR_SRC names (its src/index.ts, run through tsx: the runner compares
// two trees, this one and the commit before compression, the same way). COMPRESSION=off passes
// `compression: false`.

import { join } from 'node:path';

const { App } = await import(join(process.env.WEIR_SRC, 'src/index.ts'));
const port = Number(process.env.PORT ?? 3000);

// Words drawn by a fixed generator: text that compresses as prose does (about 3:1 with gzip), not a
// repeated phrase that any encoder shrinks a hundredfold.
const WORDS = `the of and to in is that it for as with was on be by at this from or have an they which one
  you were her all she there would their we him been has when who will more no if out so said what up its
  about into than them can only other new some could time these two may then do first any my now such like
  our over man me even most made after also did many before must through back years where much your way
  well down should because each just those people how too little state good very make world still own see
  men work long get here between both life being under never day same another know while last might us
  great old year off come since against go came right used take three`.split(/\s+/);
let seed = 42;
const next = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
let text = '';
while (text.length < 10 * 1024) {
  text += `${WORDS[Math.floor(next() * WORDS.length)]}${next() < 0.08 ? '.\n' : ' '}`;
}
const TEXT_10K = text.slice(0, 10 * 1024);
const ROWS = [];
while (JSON.stringify(ROWS).length < 10 * 1024) {
  const id = ROWS.length + 1;
  ROWS.push({
    id,
    name: `${WORDS[Math.floor(next() * WORDS.length)]} ${WORDS[Math.floor(next() * WORDS.length)]}`,
    price: Math.round(next() * 100_000) / 100,
    stock: Math.floor(next() * 500),
    active: next() < 0.7,
  });
}

const app = new App({ logger: false, ...(process.env.COMPRESSION === 'off' ? { compression: false } : {}) });
app.get('/plaintext', () => 'Hello, World!');
app.get('/json', () => ({ message: 'Hello, World!' }));
app.get('/text-10k', () => TEXT_10K);
// Serialised per request, as a handler's data is.
app.get('/json-10k', () => ({ rows: ROWS }));

await app.listen({ port, host: '127.0.0.1', signals: false });
console.log(`weir listening on http://127.0.0.1:${port}`);
