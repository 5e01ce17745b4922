import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ServerHandle } from 'weir';
import { serve } from '../helpers/http.ts';
import { echoApp, formBody, PDF, PNG, post, sum } from '../helpers/multipart.ts';

describe('multipart({ allow }): the type comes from the first bytes', () => {
  let handle: ServerHandle;
  before(async () => {
    handle = await serve(echoApp());
  });
  after(async () => {
    await handle.close({ timeoutMs: 1000 });
  });

  const file = (name: string, type: string, body: string | Buffer, filename = 'f') =>
    formBody([{ name, filename, type, body }]);

  it('accepts what the content shows and the client declared, whatever the file name says', async () => {
    const res = await post(
      handle.port,
      '/typed',
      formBody([
        { name: 'png', filename: 'evil.html', type: 'image/png', body: PNG },
        { name: 'pdf', filename: 'doc.pdf', type: 'application/octet-stream', body: PDF },
        { name: 'notes', filename: 'n.txt', type: 'text/plain', body: 'just some text\nover lines é\n' },
      ]),
    );
    assert.equal(res.status, 200, res.text);
    const parts = res.json.parts as Record<string, unknown>[];
    assert.deepEqual(
      parts.map((p) => [p.type, p.verified, p.extension, p.filename, p.size]),
      [
        ['image/png', true, 'png', 'evil.html', PNG.length],
        ['application/pdf', true, 'pdf', 'doc.pdf', PDF.length],
        ['text/plain', true, 'txt', 'n.txt', 29],
      ],
    );
    assert.equal(parts[0]?.sum, sum(PNG), 'the bytes held back for the check reach the reader');
  });

  const forged: [string, Buffer, Record<string, unknown>][] = [
    [
      'an HTML page declared as image/png',
      file('photo', 'image/png', '<!DOCTYPE html><html><script>alert(document.cookie)</script></html>'),
      { declared: 'image/png', field: 'photo' },
    ],
    ['a script declared as image/jpeg', file('p', 'image/jpeg', 'alert(1)//'), { declared: 'image/jpeg' }],
    [
      'a PDF declared as image/png',
      file('p', 'image/png', PDF),
      { detected: 'application/pdf', declared: 'image/png' },
    ],
    [
      'a PNG declared as text/plain',
      file('p', 'text/plain', PNG),
      { detected: 'image/png', declared: 'text/plain' },
    ],
    [
      'HTML declared as text/plain',
      file('p', 'text/plain', '  <html><body>hi</body></html>'),
      { declared: 'text/plain' },
    ],
    [
      'a script inside CSV',
      file('p', 'text/csv', 'a,b\n1,<script src=//x></script>\n'),
      { declared: 'text/csv' },
    ],
    ['binary declared as text/plain', file('p', 'text/plain', Buffer.from([0x41, 0x00, 0x42])), {}],
    ['text in a type not on the list', file('p', 'text/html', '<p>hi</p>'), { declared: 'text/html' }],
    [
      'a nested multipart part',
      file(
        'p',
        'multipart/mixed; boundary=inner',
        '--inner\r\nContent-Type: image/png\r\n\r\nx\r\n--inner--',
      ),
      { declared: 'multipart/mixed' },
    ],
    ['an empty file declared as image/png', file('p', 'image/png', ''), {}],
  ];
  for (const [what, body, details] of forged) {
    it(`refuses ${what} with 415 WEIR_ERR_UPLOAD_TYPE`, async () => {
      const res = await post(handle.port, '/typed', body);
      assert.equal(res.status, 415, res.text);
      assert.equal(res.json.error?.code, 'WEIR_ERR_UPLOAD_TYPE');
      for (const [key, value] of Object.entries(details))
        assert.equal(res.json.error?.details?.[key], value, key);
      assert.doesNotMatch(res.text, /script|alert|html>|inner/, 'the content is never echoed');
    });
  }

  it('matches wildcards, and refuses a PDF on an images-only route', async () => {
    assert.equal((await post(handle.port, '/images', file('p', 'image/png', PNG))).status, 200);
    const pdf = await post(handle.port, '/images', file('p', 'application/pdf', PDF));
    assert.equal(pdf.status, 415);
    assert.equal(pdf.json.error?.details?.detected, 'application/pdf');
  });

  it('does not show a declared type that is not a plain media type', async () => {
    const res = await post(handle.port, '/typed', file('p', 'image/<b>png', 'x'));
    assert.equal(res.status, 415);
    assert.equal(res.json.error?.details?.declared, undefined);
    assert.doesNotMatch(res.text, /<b>/);
  });
});
