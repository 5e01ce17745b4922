import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type SaveUploadsOptions, saveUploads } from 'weir/upload';
import { serve } from '../helpers/http.ts';
import {
  BOUNDARY,
  emptied,
  formBody,
  list,
  openUpload,
  PDF,
  PNG,
  post,
  UUID_NAME,
  uploadApp,
} from '../helpers/multipart.ts';

describe('saveUploads()', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'weir-upload-'));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });
  const fresh = (name: string) => join(root, name);

  it('streams each file to a random name in dir, and answers fields, ids, sizes and checked types', async () => {
    const dir = fresh('ok');
    const { app } = uploadApp(dir, { maxFileBytes: 2_000_000 });
    const handle = await serve(app);
    try {
      const big = Buffer.concat([PDF, Buffer.alloc(1_500_000, 1)]);
      const res = await post(
        handle.port,
        '/upload',
        formBody([
          { name: 'caption', body: 'a cat' },
          { name: 'photo', filename: 'cat.png', type: 'image/png', body: PNG },
          { name: 'doc', filename: 'report.pdf', type: 'application/pdf', body: big },
          { name: 'caption', body: 'and a report' },
        ]),
      );
      assert.equal(res.status, 201, res.text);
      const { fields, files } = res.json as unknown as {
        fields: Record<string, unknown>;
        files: {
          id: string;
          path: string;
          size: number;
          contentType: string;
          filename: string;
          field: string;
        }[];
      };
      assert.deepEqual(fields, { caption: ['a cat', 'and a report'] });
      assert.deepEqual(
        files.map((f) => [f.field, f.filename, f.size, f.contentType, basename(f.path)]),
        [
          ['photo', 'cat.png', PNG.length, 'image/png', `${files[0]?.id}.png`],
          ['doc', 'report.pdf', big.length, 'application/pdf', `${files[1]?.id}.pdf`],
        ],
      );
      assert.deepEqual(readFileSync(join(dir, `${files[0]?.id}.png`)), PNG);
      assert.deepEqual(readFileSync(join(dir, `${files[1]?.id}.pdf`)), big);
      assert.deepEqual(readdirSync(dir).sort(), [`${files[0]?.id}.png`, `${files[1]?.id}.pdf`].sort());
    } finally {
      await handle.close({ timeoutMs: 1000 });
    }
  });

  it('never builds a path from the client’s file name, and cleans it as data', async () => {
    const dir = fresh('names');
    const { app } = uploadApp(dir, { maxFiles: 10 });
    const handle = await serve(app);
    const names: [string, string][] = [
      ['../../etc/passwd', 'passwd'],
      ['/etc/shadow', 'shadow'],
      ['C:\\Windows\\win.ini', 'win.ini'],
      ['..', ''],
      ['a\u0000b.png', 'a_b.png'],
      ['invoice\u202Egnp.exe', 'invoice_gnp.exe'],
      [`${'é'.repeat(300)}.png`, `${'é'.repeat(196)}.png`],
      ['über café.png', 'über café.png'],
      [' .hidden.png. ', 'hidden.png'],
    ];
    try {
      const res = await post(
        handle.port,
        '/upload',
        formBody(names.map(([filename], i) => ({ name: `f${i}`, filename, type: 'image/png', body: PNG }))),
      );
      assert.equal(res.status, 201, res.text);
      const files = res.json.files as { filename: string; path: string }[];
      assert.deepEqual(
        files.map((f) => f.filename),
        names.map(([, clean]) => clean),
      );
      for (const file of files) assert.match(basename(file.path), UUID_NAME);
      assert.ok(
        readdirSync(dir).every((name) => UUID_NAME.test(name)),
        `only random names in dir: ${readdirSync(dir)}`,
      );
      assert.equal(readdirSync(dir).length, names.length);
      assert.equal(existsSync(join(root, 'passwd')), false);
    } finally {
      await handle.close({ timeoutMs: 1000 });
    }
  });

  const failures: [string, Partial<SaveUploadsOptions>, Buffer, number, string][] = [
    [
      'a forged second file',
      {},
      formBody([
        { name: 'a', filename: 'a.png', type: 'image/png', body: PNG },
        { name: 'b', filename: 'b.png', type: 'image/png', body: '<html><script>alert(1)</script>' },
      ]),
      415,
      'WEIR_ERR_UPLOAD_TYPE',
    ],
    [
      'a second file past maxFileBytes',
      { maxFileBytes: 100_000 },
      formBody([
        { name: 'a', filename: 'a.pdf', type: 'application/pdf', body: PDF },
        {
          name: 'b',
          filename: 'b.pdf',
          type: 'application/pdf',
          body: Buffer.concat([PDF, Buffer.alloc(200_000)]),
        },
      ]),
      413,
      'WEIR_ERR_UPLOAD_TOO_LARGE',
    ],
    [
      'files past maxFiles',
      { maxFiles: 2 },
      formBody([1, 2, 3].map((i) => ({ name: `f${i}`, filename: `${i}.png`, type: 'image/png', body: PNG }))),
      413,
      'WEIR_ERR_UPLOAD_TOO_MANY',
    ],
    [
      'a body cut short after a whole file',
      {},
      formBody(
        [
          { name: 'a', filename: 'a.png', type: 'image/png', body: PNG },
          { name: 'b', body: 'x' },
        ],
        {
          close: false,
        },
      ),
      400,
      'WEIR_ERR_UPLOAD_MALFORMED',
    ],
  ];
  for (const [what, options, body, status, code] of failures) {
    it(`keeps nothing when ${what} fails the upload (${status} ${code})`, async () => {
      const dir = fresh(code + status + what.length);
      const { app } = uploadApp(dir, options);
      const handle = await serve(app);
      try {
        const res = await post(handle.port, '/upload', body);
        assert.equal(res.status, status, res.text);
        assert.equal(res.json.error?.code, code);
        assert.deepEqual(await emptied(dir), []);
      } finally {
        await handle.close({ timeoutMs: 1000 });
      }
    });
  }

  it('removes the partial file when the client’s socket is destroyed mid-file', async () => {
    const dir = fresh('abort');
    const { app, outcome } = uploadApp(dir, { maxFileBytes: 50_000_000, maxTotalBytes: 50_000_000 });
    const handle = await serve(app);
    try {
      const head = formBody([{ name: 'a', filename: 'a.pdf', type: 'application/pdf', body: PDF }], {
        close: false,
      });
      const complete = formBody([
        { name: 'b', filename: 'b.pdf', type: 'application/pdf', body: Buffer.alloc(0) },
      ]);
      const socket = await openUpload(handle.port, '/upload', head.length + 10_000_000 + complete.length);
      // The first file whole, then the second one's head and 1 MiB of its 10.
      socket.write(head);
      socket.write(
        `--${BOUNDARY}\r\nContent-Disposition: form-data; name="b"; filename="b.pdf"\r\nContent-Type: application/pdf\r\n\r\n`,
      );
      socket.write(PDF);
      for (let i = 0; i < 16; i++) socket.write(Buffer.alloc(64 * 1024, i));
      // Wait until the partial file is on disk, so that it is the one removed.
      for (let i = 0; i < 100 && list(dir).length < 2; i++) await sleep(20);
      assert.equal(list(dir).length, 2, 'the first file and the partial second one were on disk');
      socket.destroy();
      assert.deepEqual(await emptied(dir), []);
      for (let i = 0; i < 100 && outcome.error === undefined; i++) await sleep(20);
      assert.equal((outcome.error as { code?: string }).code, 'WEIR_ERR_BODY_ABORTED');
    } finally {
      await handle.close({ timeoutMs: 1000 });
    }
  });

  for (const [mode, every] of [
    ['sends a byte every 200 ms', 200],
    ['stops sending', 0],
  ] as const) {
    it(`cuts a client that ${mode} mid-file (the minimum data rate), and removes its file`, async () => {
      const dir = fresh(`slow-${every}`);
      const { app, outcome } = uploadApp(dir, {}, { minBodyRateBytesPerSecond: 1000, bodyRateGraceMs: 300 });
      const handle = await serve(app);
      try {
        const socket = await openUpload(handle.port, '/upload', 1_000_000);
        const answer: Buffer[] = [];
        socket.on('data', (c: Buffer) => answer.push(c));
        const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
        socket.on('error', () => {});
        socket.write(
          `--${BOUNDARY}\r\nContent-Disposition: form-data; name="b"; filename="b.pdf"\r\nContent-Type: application/pdf\r\n\r\n`,
        );
        socket.write(PDF);
        socket.write(Buffer.alloc(5000));
        for (let i = 0; i < 100 && list(dir).length === 0; i++) await sleep(20);
        assert.equal(list(dir).length, 1, 'the file was being written');
        // Then nothing, or a byte now and then: far under the minimum either way.
        for (let i = 0; i < 40 && answer.length === 0; i++) {
          await sleep(200);
          if (every > 0 && !socket.destroyed) socket.write('x');
        }
        await Promise.race([closed, sleep(3000)]);
        assert.match(Buffer.concat(answer).toString('latin1'), /^HTTP\/1\.1 408 /);
        assert.equal(socket.destroyed || socket.readableEnded, true, 'the server closed the connection');
        assert.deepEqual(await emptied(dir), []);
        for (let i = 0; i < 100 && outcome.error === undefined; i++) await sleep(20);
        assert.equal((outcome.error as { code?: string }).code, 'WEIR_ERR_BODY_TOO_SLOW');
        socket.destroy();
      } finally {
        await handle.close({ timeoutMs: 1000 });
      }
    });
  }

  it('leaves no file and no open descriptor after 30 concurrent uploads that fail in three ways', async (t) => {
    if (!existsSync('/proc/self/fd')) {
      t.skip('needs /proc/self/fd (Linux)');
      return;
    }
    const dir = fresh('concurrent');
    const { app } = uploadApp(dir, { maxFileBytes: 200_000 });
    const handle = await serve(app);
    const openFds = () => readdirSync('/proc/self/fd').length;
    try {
      // One upload first, so that what is opened once (file-type, the folder) is open before counting.
      await post(
        handle.port,
        '/upload',
        formBody([{ name: 'a', filename: 'a.png', type: 'image/png', body: PNG }]),
      );
      for (const name of list(dir)) rmSync(join(dir, name));
      const baseline = openFds();
      const pdf = Buffer.concat([PDF, Buffer.alloc(100_000)]);
      const aborted = async () => {
        const socket = await openUpload(handle.port, '/upload', 10_000_000);
        socket.on('error', () => {});
        socket.write(
          `--${BOUNDARY}\r\nContent-Disposition: form-data; name="b"; filename="b.pdf"\r\nContent-Type: application/pdf\r\n\r\n`,
        );
        socket.write(pdf);
        await sleep(50);
        socket.destroy();
      };
      const statuses = await Promise.all([
        ...Array.from({ length: 10 }, () => aborted().then(() => 0)),
        ...Array.from({ length: 10 }, () =>
          post(
            handle.port,
            '/upload',
            formBody([{ name: 'a', filename: 'a.png', type: 'image/png', body: '<script>' }]),
          ).then((r) => r.status),
        ),
        ...Array.from({ length: 10 }, () =>
          post(
            handle.port,
            '/upload',
            formBody([
              { name: 'a', filename: 'a.pdf', type: 'application/pdf', body: pdf },
              { name: 'b', filename: 'b.pdf', type: 'application/pdf', body: Buffer.concat([pdf, pdf]) },
            ]),
          ).then((r) => r.status),
        ),
      ]);
      assert.deepEqual(statuses.filter((s) => s !== 0).sort(), [
        ...Array(10).fill(413),
        ...Array(10).fill(415),
      ]);
      assert.deepEqual(await emptied(dir), []);
      let open = openFds();
      for (let i = 0; i < 100 && open > baseline; i++) {
        await sleep(20);
        open = openFds();
      }
      assert.ok(open <= baseline, `descriptors open: ${open}, before: ${baseline}`);
    } finally {
      await handle.close({ timeoutMs: 1000 });
    }
  });

  it('checks its options when called', () => {
    const ctx = {} as Parameters<typeof saveUploads>[0];
    assert.throws(() => saveUploads(ctx, { dir: '' }), { code: 'WEIR_ERR_INVALID_OPTION' });
    assert.throws(() => saveUploads(ctx, { dir: 'x', minFreeBytes: -1 }), {
      code: 'WEIR_ERR_INVALID_OPTION',
    });
    assert.throws(() => saveUploads(ctx, { dir: 'x', allow: ['nope'] }), { code: 'WEIR_ERR_INVALID_OPTION' });
  });
});
