// The bodies of bench/compression.mjs: 10 KiB of text and about 10 KiB of JSON rows, the same on every run.

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
export const TEXT_10K = text.slice(0, 10 * 1024);
export const ROWS = [];
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
