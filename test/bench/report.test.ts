import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fmtInt, markdownWriter } from '../../src/bench/format.ts';
import { lineProgress, terminalProgress } from '../../src/bench/progress.ts';
import { Recorder } from '../../src/bench/recorder.ts';
import { type BenchReport, comparisonJson, roundJson, targetJson } from '../../src/bench/report.ts';
import { renderHtml } from '../../src/bench/report-html.ts';
import { renderMarkdown } from '../../src/bench/report-md.ts';
import { rotation } from '../../src/bench/run.ts';

/** A round of `rps` req/s over 2 s: 2/3 of 200s at ~`okMs`, 1/3 of 503s at ~0.2 ms. */
function round(n: number, rps: number, okMs: number) {
  const recorder = new Recorder();
  for (let i = 0; i < rps * 2; i++) {
    if (i % 3 === 2) recorder.record(503, 150 + (i % 100), i / rps);
    else recorder.record(200, okMs * 1000 + (i % 500) * 10, i / rps);
  }
  return roundJson(n, { seconds: 2, requests: recorder.count, recorder, errors: { socket: 0, timeouts: 0 } });
}

const HOSTILE = 'http://user:pw@127.0.0.1:1/a?q=<script>alert(1)</script>&x="|`y`|\'';

function report(two: boolean): BenchReport {
  const targets = [targetJson('A', HOSTILE, [round(1, 900, 5), round(2, 1000, 6), round(3, 950, 5)])];
  if (two)
    targets.push(
      targetJson('B', 'http://127.0.0.1:2/b', [round(1, 1800, 3), round(2, 2000, 3), round(3, 1900, 3)]),
    );
  const r: BenchReport = {
    tool: 'weir bench',
    version: 1,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:20.000Z',
    engine: { name: 'wrk', version: 'wrk 4.1.0' },
    machine: { node: 'v20', platform: 'linux x64', cpu: 'cpu <img/src=x/onerror=y>', cores: 2, kernel: '6' },
    options: {
      durationMs: 2000,
      warmupMs: 0,
      rounds: 3,
      connections: 8,
      timeoutMs: 10_000,
      method: 'GET',
      headers: ['X-<svg onload=z>'],
      bodyBytes: 0,
    },
    order: [],
    targets,
  };
  const comparison = comparisonJson(targets);
  if (comparison) r.comparison = comparison;
  return r;
}

describe('weir bench reports', () => {
  it('the median round, min and max of req/s; classes merged over the rounds', () => {
    const [a] = report(false).targets;
    assert.deepEqual(a?.rps, { median: 950, min: 900, max: 1000 });
    // Every third response of 1,800 + 2,000 + 1,900 is a 503.
    assert.equal(a?.classes['2xx']?.count, 1200 + 1334 + 1267);
    assert.equal(a?.classes['5xx']?.count, 600 + 666 + 633);
    assert.ok((a?.classes['5xx']?.p99 ?? 1) < 0.3);
    assert.ok((a?.classes['2xx']?.p50 ?? 0) >= 5);
  });

  it('redacts the password of a URL and escapes every text from the run in the HTML', () => {
    const html = renderHtml(report(true));
    assert.doesNotMatch(html, /pw@/);
    assert.match(html, /user:\*\*\*@/);
    assert.doesNotMatch(html, /<script|<img|<svg onload/);
    assert.match(html, /cpu &lt;img\/src=x\/onerror=y&gt;/);
    assert.match(html, /&lt;script&gt;|%3Cscript%3E/);
    assert.doesNotMatch(html, /\ssrc=|\shref=|url\(/);
    assert.equal((html.match(/<svg /g) ?? []).length, 5, 'req/s, then a timeline and a histogram per target');
  });

  it('keeps the Markdown tables intact with a pipe or backtick in a URL', () => {
    const md = renderMarkdown(report(true));
    const urlLine = md.split('\n').find((l) => l.startsWith('- A: '));
    assert.equal(urlLine?.split('`').length, 3, 'one code span');
    // Every row of a table has as many cells as its header.
    const tables = md.split('\n\n').filter((block) => block.startsWith('|'));
    assert.equal(tables.length, 3);
    for (const table of tables) {
      const widths = table
        .trim()
        .split('\n')
        .map((row) => row.split(/(?<!\\)\|/).length);
      assert.ok(
        widths.every((w) => w === widths[0]),
        table,
      );
    }
    assert.match(md, /B against A: 2\.00× the requests per second/);
  });

  it('writes a Markdown table from columns: heading, alignment, a row per item, optional columns left out', () => {
    const { table, text } = markdownWriter();
    const rows = [
      { name: 'a', n: 1200 },
      { name: 'b', n: 3 },
    ];
    table<{ name: string; n: number }>(
      [['name', (r) => r.name, '---'], ['n', (r) => fmtInt(r.n)], false, ['twice', (r) => r.n * 2]],
      rows,
    );
    assert.equal(
      text(),
      ['| name | n | twice |', '| --- | ---: | ---: |', '| a | 1,200 | 2400 |', '| b | 3 | 6 |'].join('\n'),
    );
  });

  it('flips the order of two targets every round, and rotates more by one', () => {
    assert.deepEqual(
      [1, 2, 3, 4].map((r) => rotation(['A', 'B'], r).join('')),
      ['AB', 'BA', 'AB', 'BA'],
    );
    assert.deepEqual(
      [1, 2, 3, 4].map((r) => rotation(['a', 'b', 'c'], r).join('')),
      ['abc', 'bca', 'cab', 'abc'],
    );
  });
});

describe('weir bench progress', () => {
  it('draws a bar in place on a terminal and ends it with the summary on its own line', () => {
    const written: string[] = [];
    const p = terminalProgress({ write: (t: string) => written.push(t), columns: 100 });
    p.start('A round 1/3', 10_000);
    p.update(5000, 1234);
    p.end('1,000 req/s');
    const CLEAR = '\r\x1b[2K'; // carriage return, then erase the line
    assert.ok(written.slice(0, 2).every((t) => t.startsWith(CLEAR)));
    assert.match(written[0]?.slice(CLEAR.length) ?? '', /^A round 1\/3 \[\.+\]\s+0%/);
    assert.match(
      written[1]?.slice(CLEAR.length) ?? '',
      /^A round 1\/3 \[#+\.+\]\s+50% {2}5\.0\/10 s {2}1,234 responses$/,
    );
    assert.equal(written.at(-1), '\r\x1b[2KA round 1/3: 1,000 req/s\n');
    assert.ok(
      written.every((t) => !t.slice(0, -1).includes('\n')),
      'no line feed before the end',
    );
  });

  it('writes one plain line per start and end elsewhere', () => {
    const lines: string[] = [];
    const p = lineProgress((l) => lines.push(l));
    p.start('warm-up', 3000);
    p.update(1000, 10);
    p.end('ok');
    assert.deepEqual(lines, ['weir bench: warm-up (3 s)', 'weir bench: warm-up: ok']);
  });
});
