import { createHash } from 'node:crypto';
import { App } from 'weir';
import { multipart } from 'weir/upload';

export const app = new App();

// Each file is read as it arrives and never stored: here, hashed. The handler reads one part at a time,
// and the client waits while it does (backpressure), so memory stays flat however large the files.
app.post('/digest', async (ctx) => {
  const fields = new Map<string, string>();
  const digests: { field: string; sha256: string; bytes: number }[] = [];
  for await (const part of multipart(ctx, {
    maxFileBytes: 100 * 1024 * 1024,
    maxTotalBytes: 200 * 1024 * 1024,
  })) {
    if (part.type === 'field') {
      fields.set(part.name, part.value);
      continue;
    }
    const hash = createHash('sha256');
    let bytes = 0;
    // Fails with the upload's error (413 past maxFileBytes, the client gone): never a partial digest.
    for await (const chunk of part.stream) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    digests.push({ field: part.name, sha256: hash.digest('hex'), bytes });
  }
  return { fields: Object.fromEntries(fields), digests };
});
