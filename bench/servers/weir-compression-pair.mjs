// Two weir trees in one process, for the hot-path part of bench/compression.mjs: the tree WEIR_SRC_A names
// answers /plaintext and /json on PORT, the one WEIR_SRC_B names on PORT + 1. Loaded one at a time, the
// process's CPU is that of the tree under load, and both trees share the process's heap, JIT and core:
// what differs between their runs is their code.

import { join } from 'node:path';

const port = Number(process.env.PORT ?? 3000);
const trees = [process.env.WEIR_SRC_A, process.env.WEIR_SRC_B];
for (const [i, tree] of trees.entries()) {
  const { App } = await import(join(tree, 'src/index.ts'));
  const app = new App({ logger: false });
  app.get('/plaintext', () => 'Hello, World!');
  app.get('/json', () => ({ message: 'Hello, World!' }));
  await app.listen({ port: port + i, host: '127.0.0.1', signals: false });
}
console.log(`weir pair listening on http://127.0.0.1:${port} and :${port + 1}`);
