/**
 * What a constraint refusal may tell a client: which columns, never the values, the constraint or the
 * table. Each engine words its refusals its own way; these parsers read only the column list out of them
 * and give up (no columns) on anything they do not recognise, so an odd message costs precision, never
 * a leak.
 */

/** The kind of rule a write broke. */
export type RefusalKind =
  /** A unique key or primary key already holds the same value(s). */
  | 'unique'
  /** A foreign key points at a row that does not exist. */
  | 'missing-reference'
  /** A row is still referred to by a foreign key, so it cannot be deleted or its key changed. */
  | 'still-referenced'
  /** A foreign key broke, in a direction the engine does not say (SQLite). */
  | 'reference'
  /** A NOT NULL column got NULL. */
  | 'not-null'
  /** A CHECK constraint refused the row. */
  | 'check';

/** A refusal as read from the engine: columns for the client; table and constraint for the log. */
export interface Refusal {
  readonly kind: RefusalKind;
  /** Columns at fault, when the engine names them plainly (an expression index names none). */
  readonly columns: readonly string[] | undefined;
  readonly table?: string | undefined;
  readonly constraint?: string | undefined;
}

// Identifiers as both engines print them unquoted; anything else (an expression, odd characters) is not
// passed on. PostgreSQL caps names at 63 bytes; the same bound keeps a SQLite name from filling a body.
const IDENTIFIER = /^[\p{L}_][\p{L}\p{N}_$]{0,62}$/u;
const MAX_COLUMNS = 32;

/** The identifiers of a comma-separated list, or undefined when any item is not a plain column name. */
function columnList(items: readonly string[]): string[] | undefined {
  if (items.length === 0 || items.length > MAX_COLUMNS) return undefined;
  const columns: string[] = [];
  for (const raw of items) {
    let name = raw.trim();
    // PostgreSQL quotes names that need it ("Email"); the quotes are syntax, not part of the name.
    if (name.length > 2 && name.startsWith('"') && name.endsWith('"')) {
      name = name.slice(1, -1).replaceAll('""', '"');
    }
    if (!IDENTIFIER.test(name)) return undefined;
    columns.push(name);
  }
  return columns;
}

/** Splits PostgreSQL's `a, "b, c", d` on the commas outside double quotes. */
function splitOutsideQuotes(text: string): string[] {
  const items: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) quoted = !quoted;
    else if (c === 44 /* , */ && !quoted) {
      items.push(text.slice(start, i));
      start = i + 1;
    }
  }
  items.push(text.slice(start));
  return items;
}

/**
 * The columns of a PostgreSQL key detail, `Key (a, b)=(1, 2) already exists.`: the list before the first
 * `)=(`, which a value cannot come before (values follow it, and may contain anything).
 */
export function postgresKeyColumns(detail: string | undefined): string[] | undefined {
  if (detail === undefined || !detail.startsWith('Key (')) return undefined;
  const end = detail.indexOf(')=(');
  if (end === -1) return undefined;
  return columnList(splitOutsideQuotes(detail.slice('Key ('.length, end)));
}

/** The fields of a node-postgres error that name what refused a row. */
export interface PostgresRefusalFields {
  readonly code?: string | undefined;
  readonly detail?: string | undefined;
  readonly column?: string | undefined;
  readonly table?: string | undefined;
  readonly constraint?: string | undefined;
}

/** Reads a PostgreSQL integrity error (SQLSTATE class 23); undefined for other codes. */
export function postgresRefusal(e: PostgresRefusalFields): Refusal | undefined {
  const where = { table: e.table, constraint: e.constraint };
  switch (e.code) {
    case '23505':
      return { kind: 'unique', columns: postgresKeyColumns(e.detail), ...where };
    case '23503': {
      const kind = e.detail?.includes(' is still referenced from table ')
        ? 'still-referenced'
        : 'missing-reference';
      return { kind, columns: postgresKeyColumns(e.detail), ...where };
    }
    case '23502':
      return {
        kind: 'not-null',
        columns: e.column === undefined ? undefined : columnList([e.column]),
        ...where,
      };
    case '23514':
      return { kind: 'check', columns: undefined, ...where };
    default:
      return undefined;
  }
}

/**
 * Reads a better-sqlite3 constraint error: `UNIQUE constraint failed: t.a, t.b`, `NOT NULL constraint
 * failed: t.a`, `CHECK constraint failed: rule`, `FOREIGN KEY constraint failed`. Undefined for others.
 */
export function sqliteRefusal(code: string | undefined, message: string): Refusal | undefined {
  let kind: RefusalKind;
  switch (code) {
    case 'SQLITE_CONSTRAINT_UNIQUE':
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
      kind = 'unique';
      break;
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
      return { kind: 'reference', columns: undefined };
    case 'SQLITE_CONSTRAINT_NOTNULL':
      kind = 'not-null';
      break;
    case 'SQLITE_CONSTRAINT_CHECK': {
      const rule = message.slice(message.indexOf(': ') + 2);
      return { kind: 'check', columns: undefined, constraint: rule === message ? undefined : rule };
    }
    default:
      return undefined;
  }
  const colon = message.indexOf(' failed: ');
  if (colon === -1) return { kind, columns: undefined };
  const list = message.slice(colon + ' failed: '.length);
  // A unique expression index: `UNIQUE constraint failed: index 'name'`.
  if (list.startsWith('index ')) return { kind, columns: undefined, constraint: list.slice(6) };
  const items = list.split(', ');
  const firstDot = items[0]?.indexOf('.') ?? -1;
  const table = firstDot === -1 ? undefined : items[0]?.slice(0, firstDot);
  return { kind, columns: columnList(items.map((item) => item.slice(item.lastIndexOf('.') + 1))), table };
}

/** `a`, `a and b`, `a, b and c`. */
function spoken(columns: readonly string[]): string {
  if (columns.length === 1) return columns[0] as string;
  return `${columns.slice(0, -1).join(', ')} and ${columns[columns.length - 1]}`;
}

/** The message a client gets for a refusal: it names the columns when known, nothing else. */
export function refusalMessage(refusal: Refusal): string {
  const { kind, columns } = refusal;
  const named = columns !== undefined && columns.length > 0 ? spoken(columns) : undefined;
  switch (kind) {
    case 'unique':
      return named === undefined
        ? 'A row with the same key already exists'
        : `A row with the same ${named} already exists`;
    case 'missing-reference':
      return named === undefined
        ? 'A value refers to a row that does not exist'
        : `${named} refers to a row that does not exist`;
    case 'still-referenced':
      return 'The row is still referred to by other rows';
    case 'reference':
      return 'The change would leave a reference to a row that does not exist';
    case 'not-null':
      return named === undefined ? 'A required value is missing' : `${named} must not be null`;
    case 'check':
      return 'A value was refused by a CHECK constraint';
  }
}
