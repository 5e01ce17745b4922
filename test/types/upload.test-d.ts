// Type-level tests of weir/upload: `tsc --noEmit` (run by `npm test`) fails if any of these stops holding.
import type { Readable } from 'node:stream';
import { App } from 'weir';
import { multipart, type SavedFile, saveUploads } from 'weir/upload';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_ok: T): void {}

// A route's ctx is accepted as it is, typed params and all.
new App().post('/albums/:id/photos', async (ctx) => {
  for await (const part of multipart(ctx, { allow: ['image/*'] })) {
    // The discriminant narrows a part.
    if (part.type === 'file') {
      expectType<Equal<typeof part.stream, Readable>>(true);
      expectType<Equal<typeof part.contentType, string>>(true);
      // @ts-expect-error: a file has no value
      part.value;
    } else {
      expectType<Equal<typeof part.value, string>>(true);
      // @ts-expect-error: a field has no stream
      part.stream;
    }
  }
  const { fields, files } = await saveUploads(ctx, { dir: `./data/${ctx.params.id}` });
  expectType<Equal<typeof fields, Record<string, string | string[]>>>(true);
  expectType<Equal<typeof files, SavedFile[]>>(true);
  return files.map((f) => f.id);
});

// @ts-expect-error: saveUploads needs a dir
saveUploads({} as Parameters<typeof saveUploads>[0], {});
