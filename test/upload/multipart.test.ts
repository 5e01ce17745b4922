import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { App, type ServerHandle } from 'weir';
import { multipart } from 'weir/upload';
import { serve } from '../helpers/http.ts';
import { BOUNDARY, echoApp, formBody, PNG, post, sum } from '../helpers/multipart.ts';

describe('multipart()', () => {
  let handle: ServerHandle;
  before(async () => {
    handle = await serve(echoApp());
  });
  after(async () => {
    await handle.close({ timeoutMs: 1000 });
  });

  it('yields fields whole and files as streams, in the order they were sent', async () => {
    const big = Buffer.alloc(300_000, 7);
    const res = await post(
      handle.port,
      '/echo',
      formBody([
        { name: 'title', body: 'Holidays ☀' },
        { name: 'photo', filename: 'a.png', type: 'image/png', body: PNG },
        { name: 'raw', filename: 'big.bin', type: 'application/octet-stream', body: big },
        { name: 'title', body: 'again' },
      ]),
    );
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.parts, [
      { field: 'title', value: 'Holidays ☀' },
      {
        file: 'photo',
        filename: 'a.png',
        type: 'image/png',
        verified: false,
        declared: 'image/png',
        extension: 'bin',
        size: PNG.length,
        sum: sum(PNG),
      },
      {
        file: 'raw',
        filename: 'big.bin',
        type: 'application/octet-stream',
        verified: false,
        declared: 'application/octet-stream',
        extension: 'bin',
        size: big.length,
        sum: sum(big),
      },
      { field: 'title', value: 'again' },
    ]);
  });

  it('skips a file input left empty (no file name, no bytes), and keeps a nameless file that has bytes', async () => {
    for (const path of ['/echo', '/typed']) {
      const res = await post(
        handle.port,
        path,
        formBody([
          { name: 'empty', filename: '', type: 'application/octet-stream', body: '' },
          { name: 'nameless', filename: '', type: 'image/png', body: PNG },
          { name: 'dots', filename: '..', type: 'image/png', body: PNG },
        ]),
      );
      assert.equal(res.status, 200, res.text);
      const parts = res.json.parts as { file: string; filename: string; size: number }[];
      assert.deepEqual(
        parts.map((p) => [p.file, p.filename, p.size]),
        [
          ['nameless', '', PNG.length],
          ['dots', '', PNG.length],
        ],
        path,
      );
    }
  });

  it('reads a chunked body, and a boundary given in quotes', async () => {
    const body = formBody([
      { name: 'f', filename: 'x.txt', type: 'text/plain', body: Buffer.alloc(200_000, 65) },
    ]);
    const chunked = await post(handle.port, '/echo', body, { chunked: true });
    assert.equal(chunked.status, 200, chunked.text);
    assert.equal((chunked.json.parts as { size: number }[])[0]?.size, 200_000);
    const quoted = await post(handle.port, '/echo', formBody([{ name: 'a', body: 'b' }]), {
      contentType: `multipart/form-data; boundary="${BOUNDARY}"`,
    });
    assert.equal(quoted.status, 200, quoted.text);
    assert.deepEqual(quoted.json.parts, [{ field: 'a', value: 'b' }]);
  });

  it('accepts every limit at its bound', async () => {
    const res = await post(
      handle.port,
      '/small',
      formBody([
        { name: 'a'.repeat(20), body: 'x'.repeat(100) },
        { name: 'b', body: '' },
        { name: 'c', body: 'c' },
        { name: 'f1', filename: 'one', type: 'application/octet-stream', body: Buffer.alloc(1000) },
        { name: 'f2', filename: 'two', type: 'application/octet-stream', body: Buffer.alloc(1000) },
      ]),
    );
    assert.equal(res.status, 200, res.text);
    assert.equal((res.json.parts as unknown[]).length, 5);
  });

  const refusals: [string, Buffer, number, string, Record<string, unknown>][] = [
    [
      'a file one byte over maxFileBytes',
      formBody([{ name: 'doc', filename: 'a', type: 'application/octet-stream', body: Buffer.alloc(1001) }]),
      413,
      'WEIR_ERR_UPLOAD_TOO_LARGE',
      { limit: 'maxFileBytes', limitBytes: 1000, field: 'doc' },
    ],
    [
      'a body over maxTotalBytes (by its Content-Length)',
      formBody([{ name: 'f', filename: 'a', body: Buffer.alloc(30_000) }]),
      413,
      'WEIR_ERR_UPLOAD_TOO_LARGE',
      { limit: 'maxTotalBytes', limitBytes: 20_000 },
    ],
    [
      'maxFiles + 1 files',
      formBody([1, 2, 3].map((i) => ({ name: `f${i}`, filename: `${i}`, body: 'x' }))),
      413,
      'WEIR_ERR_UPLOAD_TOO_MANY',
      { limit: 'maxFiles', max: 2 },
    ],
    [
      'maxFields + 1 fields',
      formBody([1, 2, 3, 4].map((i) => ({ name: `n${i}`, body: 'v' }))),
      413,
      'WEIR_ERR_UPLOAD_TOO_MANY',
      { limit: 'maxFields', max: 3 },
    ],
    [
      'a field value over maxFieldBytes',
      formBody([{ name: 'bio', body: 'x'.repeat(101) }]),
      413,
      'WEIR_ERR_UPLOAD_TOO_LARGE',
      { limit: 'maxFieldBytes', limitBytes: 100, field: 'bio' },
    ],
    [
      'a field name over maxFieldNameBytes',
      formBody([{ name: 'n'.repeat(21), body: 'v' }]),
      413,
      'WEIR_ERR_UPLOAD_TOO_LARGE',
      { limit: 'maxFieldNameBytes', limitBytes: 20 },
    ],
    [
      'parts with headers only and no Content-Disposition, past maxParts',
      formBody(Array.from({ length: 7 }, () => ({ name: null, type: 'text/plain', body: '' }))),
      413,
      'WEIR_ERR_UPLOAD_TOO_MANY',
      { limit: 'maxParts', max: 6 },
    ],
    [
      'a body that ends before its closing boundary',
      formBody([{ name: 'f', filename: 'a', body: 'half a file' }], { close: false }),
      400,
      'WEIR_ERR_UPLOAD_MALFORMED',
      {},
    ],
  ];
  for (const [what, body, status, code, details] of refusals) {
    it(`refuses ${what} with ${status} ${code}, and closes the connection`, async () => {
      const res = await post(handle.port, '/small', body);
      assert.equal(res.status, status, res.text);
      assert.equal(res.json.error?.code, code);
      for (const [key, value] of Object.entries(details))
        assert.equal(res.json.error?.details?.[key], value, key);
      assert.equal(res.headers.connection, 'close');
    });
  }

  it('refuses a body over maxTotalBytes sent chunked, as soon as it passes', async () => {
    const body = formBody([{ name: 'f', filename: 'a', body: Buffer.alloc(30_000) }]);
    const res = await post(handle.port, '/small', body, { chunked: true });
    assert.equal(res.status, 413, res.text);
    assert.deepEqual(res.json.error?.details, { limit: 'maxTotalBytes', limitBytes: 20_000 });
  });

  it('refuses thousands of tiny fields at the default limit of 100, without reading them all', async () => {
    const body = formBody(Array.from({ length: 5000 }, (_, i) => ({ name: `f${i}`, body: 'x' })));
    const res = await post(handle.port, '/echo', body);
    assert.equal(res.status, 413, res.text);
    assert.deepEqual(res.json.error?.details, { limit: 'maxFields', max: 100 });
  });

  it('refuses a huge field value at the default 64 KiB', async () => {
    const res = await post(handle.port, '/echo', formBody([{ name: 'note', body: 'y'.repeat(5_000_000) }]));
    assert.equal(res.status, 413, res.text);
    assert.equal(res.json.error?.details?.limit, 'maxFieldBytes');
  });

  it('never shows a hostile field name or file name in the error body', async () => {
    const name = `<script>alert(1)</script>${'z'.repeat(30)}`;
    const res = await post(
      handle.port,
      '/small',
      formBody([{ name: 'x', filename: `../../${name}`, body: Buffer.alloc(5000) }]),
    );
    assert.equal(res.status, 413);
    const quoted = await post(handle.port, '/small', formBody([{ name: `${name}"`, body: 'z'.repeat(200) }]));
    assert.equal(quoted.status, 413);
    for (const text of [res.text, quoted.text]) assert.doesNotMatch(text, /script|zzzz|\.\.\//, text);
  });

  for (const [what, contentType, status, code] of [
    ['a multipart type without a boundary', 'multipart/form-data', 400, 'WEIR_ERR_UPLOAD_MALFORMED'],
    ['another type', 'application/json', 415, 'WEIR_ERR_BODY_UNSUPPORTED_TYPE'],
    ['no type', '', 415, 'WEIR_ERR_BODY_UNSUPPORTED_TYPE'],
    [
      'a boundary that is not the body’s',
      'multipart/form-data; boundary=other',
      400,
      'WEIR_ERR_UPLOAD_MALFORMED',
    ],
  ] as const) {
    it(`answers ${status} to ${what}`, async () => {
      const res = await post(handle.port, '/echo', formBody([{ name: 'a', body: 'b' }]), { contentType });
      assert.equal(res.status, status, res.text);
      assert.equal(res.json.error?.code, code);
    });
  }

  it('survives part headers past their limits (16 lines, 16 KiB): cut, never buffered on', async () => {
    const res = await post(
      handle.port,
      '/echo',
      formBody([
        {
          headers: ['Content-Disposition: form-data; name="long"', `X-Pad: ${'p'.repeat(100_000)}`],
          body: 'a',
        },
        {
          headers: [
            'Content-Disposition: form-data; name="many"',
            ...Array.from({ length: 1000 }, (_, i) => `X-${i}: v`),
          ],
          body: 'b',
        },
        {
          headers: [`X-Pad: ${'q'.repeat(20_000)}`, 'Content-Disposition: form-data; name="late"'],
          body: 'c',
        },
      ]),
    );
    assert.equal(res.status, 200, res.text);
    // The first two keep their disposition (it comes first); the third loses it past 16 KiB and is skipped.
    assert.deepEqual(res.json.parts, [
      { field: 'long', value: 'a' },
      { field: 'many', value: 'b' },
    ]);
  });

  it('leaves the loop early without reading on, and closes the connection', async () => {
    const res = await post(
      handle.port,
      '/first',
      formBody([
        { name: 'first', filename: 'a', body: Buffer.alloc(2_000_000) },
        { name: 'late', body: 'x' },
      ]),
    );
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { name: 'first' });
    assert.equal(res.headers.connection, 'close');
  });
});

describe('multipart() and the app’s bodyLimitBytes', () => {
  it('bounds a multipart body by maxTotalBytes, not by bodyLimitBytes (which bounds bodies held in memory)', async () => {
    const app = new App({ logger: false, bodyLimitBytes: 1024 });
    app.post('/upload', async (ctx) => {
      let bytes = 0;
      for await (const part of multipart(ctx, { maxTotalBytes: 300_000 })) {
        if (part.type === 'file') for await (const chunk of part.stream) bytes += (chunk as Buffer).length;
      }
      return { bytes };
    });
    app.post('/json', async (ctx) => ctx.json());
    const handle = await serve(app);
    try {
      const file = formBody([{ name: 'f', filename: 'a', body: Buffer.alloc(200_000) }]);
      const ok = await post(handle.port, '/upload', file);
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(ok.json, { bytes: 200_000 });
      const json = await post(handle.port, '/json', Buffer.from(JSON.stringify({ a: 'x'.repeat(2000) })), {
        contentType: 'application/json',
      });
      assert.equal(json.status, 413, 'the app limit still holds for JSON');
      const big = await post(
        handle.port,
        '/upload',
        formBody([{ name: 'f', filename: 'a', body: Buffer.alloc(400_000) }]),
      );
      assert.equal(big.status, 413);
      assert.equal(big.json.error?.details?.limit, 'maxTotalBytes');
    } finally {
      await handle.close({ timeoutMs: 1000 });
    }
  });
});

describe('multipart() options', () => {
  it('are checked when called, not when the body is read', () => {
    const ctx = {} as Parameters<typeof multipart>[0];
    assert.throws(() => multipart(ctx, { maxFiles: -1 }), { code: 'WEIR_ERR_INVALID_OPTION' });
    assert.throws(() => multipart(ctx, { maxFileBytes: 1.5 }), { code: 'WEIR_ERR_INVALID_OPTION' });
    assert.throws(() => multipart(ctx, { allow: ['png'] }), { code: 'WEIR_ERR_INVALID_OPTION' });
    assert.throws(() => multipart(ctx, { allow: ['image/png;x'] }), { code: 'WEIR_ERR_INVALID_OPTION' });
  });
});
