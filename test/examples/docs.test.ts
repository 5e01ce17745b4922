/**
 * The guides in docs/ show only code that is checked: every ```ts (and ```sql) block is the whole of an
 * example file under examples/docs/ (type-checked by tsc, run by test/examples/docs-<guide>.test.ts), and
 * every example file is shown by its guide. Links between the docs, and to error codes, resolve.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const docsDir = join(root, 'docs');
const examplesDir = join(root, 'examples/docs');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

const guides = readdirSync(docsDir)
  .filter((name) => name.endsWith('.md'))
  .map((name) => ({ name, text: readFileSync(join(docsDir, name), 'utf8') }));
/** The languages of checked blocks, each the extension of its example files. */
const LANGUAGES = ['ts', 'sql'];
const examples = walk(examplesDir)
  .filter((path) => LANGUAGES.some((lang) => path.endsWith(`.${lang}`)))
  .map((path) => ({ path: relative(root, path), source: readFileSync(path, 'utf8').trim() }));

function codeBlocks(markdown: string, lang: string): string[] {
  return [...markdown.matchAll(new RegExp(`^\`\`\`${lang}\n([\\s\\S]*?)^\`\`\`$`, 'gm'))].map((m) =>
    m[1]!.trim(),
  );
}

describe('docs/ guides', () => {
  it('show as TypeScript or SQL only whole example files from examples/docs', () => {
    for (const { name, text } of guides) {
      for (const lang of LANGUAGES) {
        for (const block of codeBlocks(text, lang)) {
          const match = examples.find((e) => e.path.endsWith(`.${lang}`) && e.source === block);
          assert.ok(
            match,
            `docs/${name} has a ${lang} block that is no examples/docs file:\n${block.slice(0, 300)}`,
          );
        }
      }
    }
  });

  it('show every example file, each in the guide named after its folder', () => {
    for (const { path, source } of examples) {
      const guide = path.split('/')[2]!;
      const doc = guides.find((g) => g.name === `${guide}.md`);
      assert.ok(doc, `${path} belongs to docs/${guide}.md, which does not exist`);
      const lang = path.slice(path.lastIndexOf('.') + 1);
      assert.ok(
        codeBlocks(doc.text, lang).includes(source),
        `docs/${guide}.md does not show ${path} as it is`,
      );
    }
  });

  it('link only to files that exist, and to headings that exist (error codes included)', () => {
    const slugs = (markdown: string) =>
      new Set(
        [...markdown.matchAll(/^#+ (.+)$/gm)].map((m) =>
          m[1]!
            .toLowerCase()
            .replace(/[^\w\- ]/g, '')
            .replace(/ /g, '-'),
        ),
      );
    const readme = { name: '../README.md', text: readFileSync(join(root, 'README.md'), 'utf8') };
    for (const { name, text } of [...guides, readme]) {
      const from = dirname(join(docsDir, name));
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [file, anchor] = target!.split('#') as [string, string | undefined];
        const path = file === '' ? join(docsDir, name) : join(from, file);
        assert.ok(existsSync(path), `${name} links to ${target}, which does not exist`);
        if (anchor !== undefined && path.endsWith('.md')) {
          assert.ok(
            slugs(readFileSync(path, 'utf8')).has(anchor),
            `${name} links to ${target}: no such heading`,
          );
        }
      }
    }
  });

  it('are each linked from the README', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const { name } of guides) {
      assert.ok(readme.includes(`](docs/${name})`), `README.md does not link to docs/${name}`);
    }
  });
});
