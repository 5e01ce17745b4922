import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

// At build time, where CPU is cheap: brotli at its best quality, gzip at level 9, once per file.
const TEXT = /\.(?:js|mjs|css|html|svg|json|txt|map|wasm)$/;

export async function precompress(folder: string): Promise<string[]> {
  const written: string[] = [];
  for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !TEXT.test(entry.name)) continue;
    const path = join(entry.parentPath, entry.name);
    const data = await readFile(path);
    if (data.length < 1024) continue;
    await writeFile(
      `${path}.br`,
      brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
    );
    await writeFile(`${path}.gz`, gzipSync(data, { level: 9 }));
    written.push(`${path}.br`, `${path}.gz`);
  }
  return written;
}

if (process.argv[1] === import.meta.filename) console.log(await precompress(process.argv[2] ?? 'public'));
