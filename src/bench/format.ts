/**
 * How benchmark numbers are written, in `weir bench`'s reports and in the tables of the project's bench/
 * scripts alike.
 */

/** An integer with thousands separators (`12,345`), or `n/a`. */
export const fmtInt = (n: number | undefined | null): string =>
  n === undefined || n === null || !Number.isFinite(n) ? 'n/a' : Math.round(n).toLocaleString('en-US');

/** Milliseconds with about three significant digits (`0.412`, `4.12`, `41.2`), or `n/a`. */
export const fmtMs = (n: number | undefined | null): string =>
  n === undefined || n === null || !Number.isFinite(n)
    ? 'n/a'
    : n < 1
      ? n.toFixed(3)
      : n < 10
        ? n.toFixed(2)
        : n.toFixed(1);

/** A percentage of one core or of a whole (`87 %`), or `n/a`. */
export const fmtPct = (n: number | undefined | null): string =>
  n === undefined || n === null || !Number.isFinite(n) ? 'n/a' : `${Math.round(n)} %`;

/** A ratio (`1.07×`), or `n/a`. */
export const fmtRatio = (n: number | undefined | null): string =>
  n === undefined || n === null || !Number.isFinite(n) ? 'n/a' : `${n.toFixed(2)}×`;

/**
 * A column of a Markdown table: its heading, its cell for an item of the table, and its alignment
 * (`---:`, right, unless `---` is given).
 */
export type Column<T> = readonly [
  heading: string,
  cell: (item: T) => string | number,
  align?: '---' | '---:',
];

/**
 * A Markdown document being written: p(line) for a line, row(cells) for a table row, table(columns,
 * items) for a whole table (its heading, its alignment and a row per item), text() for all.
 */
export interface MarkdownWriter {
  p(line?: string): void;
  row(cells: readonly (string | number)[]): void;
  table<T>(columns: readonly (Column<T> | false | undefined)[], items: Iterable<T>): void;
  text(): string;
}

/** A new, empty Markdown document. */
export function markdownWriter(): MarkdownWriter {
  const lines: string[] = [];
  const p = (line = '') => {
    lines.push(line);
  };
  const row = (cells: readonly (string | number)[]) => p(`| ${cells.join(' | ')} |`);
  return {
    p,
    row,
    table(columns, items) {
      // A column given as false or undefined is left out: the optional columns of a table.
      const shown = columns.filter((c) => c !== false && c !== undefined);
      row(shown.map(([heading]) => heading));
      row(shown.map(([, , align]) => align ?? '---:'));
      for (const item of items) row(shown.map(([, cell]) => cell(item)));
    },
    text: () => lines.join('\n'),
  };
}

/** Text as a Markdown code span; a backtick in it (a URL's query may hold one) is percent-encoded. */
export function code(text: string): string {
  return `\`${text.replace(/`/g, '%60').replace(/[\r\n]+/g, ' ')}\``;
}
