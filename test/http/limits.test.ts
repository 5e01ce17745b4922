import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { App } from 'weir';
import { DEFAULT_BODY_LIMIT_BYTES, DEFAULT_MAX_JSON_DEPTH } from '../../src/http/body.ts';
import { DEFAULT_ALL_ISSUES_MAX_NODES } from '../../src/schema/validate.ts';
import { keptAlive, serve } from '../helpers/http.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const source = (file: string): string =>
  readFileSync(new URL(`../../src/http/${file}`, import.meta.url), 'utf8');

/** The README's limits table as knob expression → default cell, e.g. `listen.headersTimeoutMs` → `30 s`. */
function limitsTable(): Map<string, string> {
  const section = readme.slice(
    readme.indexOf('### Server, limits and shutdown'),
    readme.indexOf('### Testing'),
  );
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length !== 6 || cells[1] === 'bound' || cells[1]?.startsWith('-')) continue;
    const [, , fallback, knobs] = cells as [string, string, string, string];
    for (const [, owner, name] of knobs.matchAll(/(listen|new App|route|close)[(\s`]*\{ (\w+) \}/g))
      rows.set(`${owner === 'new App' ? 'App' : owner}.${name}`, fallback);
  }
  return rows;
}

/** `16 KiB` → 16384, `30 s` → 30000 (ms), `64 levels` → 64. */
/** The keep-alive time a server advertises, in ms. */
async function keepAliveMs(port: number): Promise<number> {
  const conn = await keptAlive(port);
  conn.socket.destroy();
  const seconds = /\r\nkeep-alive: timeout=(\d+)\r\n/i.exec(conn.first);
  assert.ok(seconds !== null, 'a Keep-Alive header');
  return Number(seconds[1]) * 1000;
}

function amount(cell: string): number {
  const m = /^([\d,]+) (KiB|MiB|s|levels|values)$/.exec(cell);
  assert.ok(m !== null, `a default the table states as a number: ${cell}`);
  const unit = { KiB: 1024, MiB: 1024 * 1024, s: 1000, levels: 1, values: 1 }[
    m[2] as 'KiB' | 'MiB' | 's' | 'levels' | 'values'
  ];
  return Number(m[1]!.replaceAll(',', '')) * unit;
}

/** The numeric options an options interface of `file` declares. */
function numericOptions(file: string, name: string): string[] {
  const text = source(file);
  const body = text.slice(text.indexOf(`export interface ${name} {`));
  return [...body.slice(0, body.indexOf('\n}')).matchAll(/^ {2}(\w+)\?: number;/gm)].map((m) => m[1]!);
}

describe('README limits table', () => {
  it('has a row for every numeric bound of listen(), App and routes', () => {
    const rows = limitsTable();
    const knobs = [
      ...numericOptions('server.ts', 'ListenOptions')
        .filter((n) => n !== 'port')
        .map((n) => `listen.${n}`),
      ...numericOptions('server.ts', 'CloseOptions').map((n) => `close.${n}`),
      ...numericOptions('options.ts', 'AppOptions').map((n) => `App.${n}`),
      ...numericOptions('options.ts', 'RouteOptions').map((n) => `route.${n}`),
    ];
    assert.ok(knobs.length >= 11, knobs.join());
    for (const knob of knobs) assert.ok(rows.has(knob), `no row names ${knob}`);
  });

  it('gives each bound the default a server started with no options has', async () => {
    const rows = limitsTable();
    const app = new App({ logger: false });
    app.get('/', () => 'ok');
    const handle = await serve(app);
    try {
      const { server } = handle;
      const expected: Record<string, number> = {
        // Node keeps the option on the server without declaring it in its types.
        'listen.maxHeaderSizeBytes': (server as typeof server & { maxHeaderSize: number }).maxHeaderSize,
        'listen.headersTimeoutMs': server.headersTimeout,
        'listen.requestTimeoutMs': server.requestTimeout,
        // In seconds in the Keep-Alive header: weir times idle connections itself (Node's timer is 0).
        'listen.keepAliveTimeoutMs': await keepAliveMs(handle.port),
        'App.bodyLimitBytes': DEFAULT_BODY_LIMIT_BYTES,
        'App.maxJsonDepth': DEFAULT_MAX_JSON_DEPTH,
        'App.allIssuesMaxNodes': DEFAULT_ALL_ISSUES_MAX_NODES,
      };
      for (const [knob, value] of Object.entries(expected))
        assert.equal(amount(rows.get(knob) ?? ''), value, knob);
      // Observed elsewhere: the drain deadline (server.ts, both ways of stopping), the connection bound
      // (its formula is tested in connections.test.ts) and the route deadline, which is off.
      const serverTs = source('server.ts');
      for (const knob of ['listen.shutdownTimeoutMs', 'close.timeoutMs'])
        assert.equal(amount(rows.get(knob) ?? ''), 10_000, knob);
      assert.match(serverTs, /positive\('shutdownTimeoutMs', options\.shutdownTimeoutMs, 10_000\)/);
      assert.match(serverTs, /positive\('close timeoutMs', closeOptions\?\.timeoutMs, 10_000\)/);
      assert.match(
        rows.get('listen.maxConnections') ?? '',
        /^¾ of the open-file limit \(at least 64, at most 10,000\)$/,
      );
      assert.equal(rows.get('route.timeoutMs'), 'none');
    } finally {
      await handle.close();
    }
  });
});
