/**
 * Running a route's input schemas: each part of the request (params, query, headers, body) through its
 * Standard Schema, and every failure gathered into one 400 `WEIR_ERR_VALIDATION` whose details list each
 * issue with the part, the path and a short reason. A reason never repeats the input: validators that
 * quote the value they received (`received "…"`) have that part cut.
 */
import { httpError, invalidOption } from '../errors.ts';
import { isStandardSchema, kFirstIssue, type StandardSchemaV1 } from './standard.ts';
import { valibotFirstIssue } from './valibot.ts';

/** The request parts a route may validate, in the order they are checked. */
export const INPUT_PARTS = ['params', 'query', 'headers', 'body'] as const;
export type InputPart = (typeof INPUT_PARTS)[number];

/** One reason a request was refused. */
export interface ValidationIssue {
  /** The part of the request. */
  readonly in: InputPart;
  /** Where in it, as `a.b[0]` (empty for the part as a whole). */
  readonly path: string;
  /** What is wrong, in the validator's words, without the value received. */
  readonly message: string;
}

/** At most this many issues are listed; the count says if there were more. */
const MAX_ISSUES = 20;
const MAX_MESSAGE = 200;
const MAX_KEY = 64;
// Keys shown bare after a dot: words and dashes (header names); anything else is quoted.
const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/;
const TYPE_WORD =
  /^(?:an? )?(?:string|number|bigint|boolean|symbol|undefined|object|function|array|null|nan|date|integer|int|float|map|set|promise|file|blob|never|unknown)\b/i;

function segment(key: PropertyKey): string {
  if (typeof key === 'number') return `[${key}]`;
  const text = typeof key === 'symbol' ? (key.description ?? 'symbol') : String(key);
  if (/^\d+$/.test(text)) return `[${text}]`;
  if (PLAIN_KEY.test(text) && text.length <= MAX_KEY) return `.${text}`;
  return `[${JSON.stringify(text.length > MAX_KEY ? `${text.slice(0, MAX_KEY)}…` : text)}]`;
}

/** `a.b[0]["x-y"]` from a Standard Schema path. */
export function formatPath(path: StandardSchemaV1.Issue['path']): string {
  if (path === undefined) return '';
  let text = '';
  for (const part of path) {
    text += segment(typeof part === 'object' && part !== null ? part.key : part);
  }
  return text.startsWith('.') ? text.slice(1) : text;
}

/**
 * The validator's message without what it received: `Expected string, received "hunter2"` keeps
 * `Expected string` (and `, received number` when what follows is only a type's name).
 */
export function safeMessage(message: unknown): string {
  let text = typeof message === 'string' ? message : 'Invalid value';
  const at = text.search(/[,;:]?\s*(?:but\s+)?received\b/i);
  if (at !== -1) {
    const rest = text.slice(at).replace(/^[,;:]?\s*(?:but\s+)?received\s*/i, '');
    text = text.slice(0, at) + (TYPE_WORD.test(rest) ? `, received ${rest.match(TYPE_WORD)?.[0]}` : '');
  }
  // Quoted fragments can be input too (`Invalid key "…"`): dropped.
  text = text
    .replace(/"[^"]*"|'[^']*'|`[^`]*`/g, '…')
    .replace(/\s+/g, ' ')
    .trim();
  if (text === '' || text === '…') text = 'Invalid value';
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 1)}…` : text;
}

/** Checks a route's `schema` option once, at registration. */
export function checkSchemas(schema: unknown): void {
  if (schema === undefined) return;
  if (typeof schema !== 'object' || schema === null) {
    throw invalidOption('route schema', 'an object { params?, query?, headers?, body?, response? }', schema);
  }
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'response') {
      if (typeof value !== 'object' || value === null) {
        throw invalidOption('route schema.response', 'an object { [status]: schema }', value);
      }
      for (const [status, entry] of Object.entries(value)) {
        if (!/^[1-5]\d\d$/.test(status))
          throw invalidOption('route schema.response status', 'an HTTP status from 100 to 599', status);
        if (!isStandardSchema(entry))
          throw invalidOption(
            `route schema.response[${status}]`,
            'a Standard Schema (zod, valibot, arktype, …)',
            entry,
          );
      }
    } else if ((INPUT_PARTS as readonly string[]).includes(key)) {
      if (!isStandardSchema(value))
        throw invalidOption(`route schema.${key}`, 'a Standard Schema (zod, valibot, arktype, …)', value);
    } else {
      throw invalidOption('route schema key', 'one of params, query, headers, body, response', key);
    }
  }
}

/**
 * What one part's schema made of it: its value, or issues (at most {@link MAX_ISSUES} of them, `total` the
 * count found; `partial` when the check stopped at the first one).
 */
export type PartResult =
  | { ok: true; value: unknown }
  | { ok: false; issues: ValidationIssue[]; total: number; partial?: true };

function fromResult(part: InputPart, result: StandardSchemaV1.Result<unknown>, partial = false): PartResult {
  if (result.issues === undefined) return { ok: true, value: result.value };
  // Only the issues listed are formatted: a value with thousands of them costs no regex per issue.
  const issues = result.issues.slice(0, MAX_ISSUES).map((issue) => ({
    in: part,
    path: formatPath(issue.path),
    message: safeMessage(issue.message),
  }));
  return { ok: false, issues, total: result.issues.length, ...(partial && { partial: true as const }) };
}

/**
 * The default of the App's `allIssuesMaxNodes`: values with more nodes than this (objects, arrays and the
 * values in them) get the first issue only, not every issue, from validators that can stop there. Listing
 * them all makes a validator build one per element (valibot took 0.7 s for a 500 KB array of wrong-typed
 * items, ajv 80 ms), which a client could ask for with every request.
 */
export const DEFAULT_ALL_ISSUES_MAX_NODES = 2000;

/** Whether `value` has at most `max` nodes; stops as soon as it knows, before walking a large array. */
function atMostNodes(value: unknown, max: number): boolean {
  let count = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (++count > max) return false;
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      if (count + stack.length + node.length > max) return false;
      for (let i = 0; i < node.length; i++) stack.push(node[i]);
    } else {
      for (const key in node) {
        if (count + stack.length >= max) return false;
        stack.push((node as Record<string, unknown>)[key]);
      }
    }
  }
  return true;
}

type Check = (value: unknown) => StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>;
/** Each schema's check that stops at the first issue, or `null`: none known for its library. */
const firstIssueChecks = new WeakMap<object, Check | null>();

function firstIssueCheck(schema: StandardSchemaV1): Check | null {
  let check = firstIssueChecks.get(schema);
  if (check !== undefined) return check;
  const own = (schema as { [kFirstIssue]?: StandardSchemaV1 })[kFirstIssue];
  check = own !== undefined ? own['~standard'].validate : valibotFirstIssue(schema);
  firstIssueChecks.set(schema, check);
  return check;
}

/**
 * Runs `schema` on `value`: synchronously when the validator answers synchronously (most do). For a
 * schema that can stop at its first issue (valibot's, weir/schema/typebox's), that check runs first; a
 * value that fails it is checked again for every issue only when it has at most `allIssuesMaxNodes`
 * nodes, else its first issue is the answer. The first check's verdict stands: the second only lists.
 */
export function validatePart(
  part: InputPart,
  schema: StandardSchemaV1,
  value: unknown,
  allIssuesMaxNodes = DEFAULT_ALL_ISSUES_MAX_NODES,
): PartResult | Promise<PartResult> {
  const first = firstIssueCheck(schema);
  if (first === null) {
    const result = schema['~standard'].validate(value);
    return result instanceof Promise ? result.then((r) => fromResult(part, r)) : fromResult(part, result);
  }
  const quick = first(value);
  return quick instanceof Promise
    ? quick.then((q) => afterFirst(part, schema, value, q, allIssuesMaxNodes))
    : afterFirst(part, schema, value, quick, allIssuesMaxNodes);
}

function afterFirst(
  part: InputPart,
  schema: StandardSchemaV1,
  value: unknown,
  quick: StandardSchemaV1.Result<unknown>,
  allIssuesMaxNodes: number,
): PartResult | Promise<PartResult> {
  if (quick.issues === undefined) return { ok: true, value: quick.value };
  if (!atMostNodes(value, allIssuesMaxNodes)) return fromResult(part, quick, true);
  const listed = (full: StandardSchemaV1.Result<unknown>): PartResult =>
    fromResult(part, full.issues === undefined ? quick : full);
  const full = schema['~standard'].validate(value);
  return full instanceof Promise ? full.then(listed) : listed(full);
}

/** The issues of the parts of one request that failed, gathered for its 400. */
export interface Failures {
  readonly issues: ValidationIssue[];
  total: number;
  /** A part's check stopped at its first issue. */
  partial: boolean;
}

export function noFailures(): Failures {
  return { issues: [], total: 0, partial: false };
}

/** Adds a failed part's issues to `failures`. */
export function addFailure(failures: Failures, result: Extract<PartResult, { ok: false }>): void {
  failures.issues.push(...result.issues);
  failures.total += result.total;
  if (result.partial) failures.partial = true;
}

/** The 400 for the issues of every part that failed. */
export function validationError(failures: Failures): Error {
  const listed = failures.issues.slice(0, MAX_ISSUES);
  const names = [...new Set(listed.map((issue) => issue.in))];
  const parts = names.join(', ');
  const { total, partial } = failures;
  const count = partial
    ? 'the first issue found in a part too large to list every issue'
    : `${total} issue${total === 1 ? '' : 's'}`;
  return httpError(
    'WEIR_ERR_VALIDATION',
    `The request's ${parts} ${names.length === 1 ? 'breaks' : 'break'} the route's schema (${count})`,
    {
      issues: listed,
      ...(total > listed.length && { more: total - listed.length }),
      ...(partial && { partial: true }),
    },
  );
}
