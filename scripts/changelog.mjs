#!/usr/bin/env node
// CHANGELOG.md, built from the fragments in changes/ (one per user-visible change, named
// <issue>.<kind>.md, kind one of feature, fix, breaking, perf, docs). `node scripts/changelog.mjs` writes it;
// `--check` exits 1 when CHANGELOG.md is not what the fragments make (a test runs that).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const KINDS = {
  breaking: 'Breaking changes',
  feature: 'Features',
  fix: 'Fixes',
  perf: 'Performance',
  docs: 'Documentation',
};

export function build() {
  const fragments = readdirSync(new URL('changes/', root))
    .filter((name) => name.endsWith('.md'))
    .map((name) => {
      const match = /^(\d+)\.(\w+)\.md$/.exec(name);
      if (match === null || !(match[2] in KINDS)) {
        throw new Error(`changes/${name}: name it <issue>.<${Object.keys(KINDS).join('|')}>.md`);
      }
      const text = readFileSync(new URL(`changes/${name}`, root), 'utf8').trim();
      return { issue: Number(match[1]), kind: match[2], text };
    });
  const lines = [
    '# Changelog',
    '',
    'Built from `changes/` by `node scripts/changelog.mjs`; do not edit by hand. Newest first; the number is',
    'the issue each change resolves.',
    '',
    '## Unreleased (0.1.0)',
  ];
  for (const [kind, title] of Object.entries(KINDS)) {
    const items = fragments.filter((f) => f.kind === kind).sort((a, b) => b.issue - a.issue);
    if (items.length === 0) continue;
    lines.push('', `### ${title}`, '');
    for (const item of items) {
      const [first, ...rest] = item.text.split('\n');
      lines.push(`- (#${item.issue}) ${first}`, ...rest.map((line) => (line === '' ? '' : `  ${line}`)));
    }
  }
  return `${lines.join('\n')}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const text = build();
  const path = new URL('CHANGELOG.md', root);
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(path, 'utf8');
    } catch {}
    if (current !== text) {
      console.error('CHANGELOG.md is out of date: run `node scripts/changelog.mjs`');
      process.exit(1);
    }
  } else {
    writeFileSync(path, text);
  }
}
