/**
 * weir/schema/typebox: TypeBox schemas as route schemas, checked by ajv's compiled code (what fastify
 * validates with) instead of an interpreted validator. TypeBox gives the types (`Static<T>`); its schemas
 * are JSON Schema, which ajv compiles once into a function. Only an app that imports this module loads
 * ajv; `typebox` itself is the app's own dependency (weir imports its types only).
 */
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Static, TSchema } from 'typebox';
import { invalidOption, WeirError } from '../errors.ts';
import type { JsonSchema, StandardJsonSchemaV1 } from './json-schema.ts';
import { kCheckAnswer, kFirstIssue, type StandardSchemaV1 } from './standard.ts';

/** Options of {@link typebox}. */
export interface TypeBoxOptions {
  /**
   * Parse strings into the types the schema asks for (`"7"` → 7, `"true"` → true, one value → an array
   * of it), as path params, query strings and headers need; ajv's `coerceTypes: 'array'`. Default `false`:
   * a JSON body's `"7"` is not a number.
   */
  readonly coerce?: boolean;
}

/** A TypeBox schema made a Standard Schema, with its JSON Schema for serialisation and OpenAPI. */
export type TypeBoxSchema<T extends TSchema> = StandardSchemaV1<Static<T>, Static<T>> &
  StandardJsonSchemaV1<Static<T>, Static<T>>;

type Ajv = import('ajv').Ajv;
const require = createRequire(import.meta.url);

/**
 * How an ajv instance treats values: a request part's (defaults filled and, with `coerce`, strings
 * parsed, in place) or an answer's (left alone); the '-first' ones stop at the first issue.
 */
type Mode = 'input' | 'coerce' | 'input-first' | 'coerce-first' | 'answer';
/** One ajv per mode, made on first use; each caches what it compiled. */
const instances = new Map<Mode, Ajv>();

function ajvFor(mode: Mode): Ajv {
  let ajv = instances.get(mode);
  if (ajv === undefined) {
    const { Ajv } = require('ajv') as typeof import('ajv');
    const addFormats = require('ajv-formats') as (ajv: Ajv) => Ajv;
    ajv = new Ajv({
      allErrors: !mode.endsWith('-first'),
      // A schema's `$id` registers nothing: the same schema may be given to typebox() twice.
      addUsedSchema: false,
      useDefaults: mode !== 'answer',
      coerceTypes: mode.startsWith('coerce') ? 'array' : false,
      // Unknown keywords still fail (a misspelt `minLenght` is an error, not a rule that never runs);
      // the advisory checks would only print to the console.
      strictTypes: false,
      strictTuples: false,
    });
    addFormats(ajv);
    instances.set(mode, ajv);
  }
  return ajv;
}

/**
 * The schema of an answer's check: a key with a `default` may be missing from what the handler returns
 * (the serialiser writes the default), so it is not required there.
 */
function answerRules(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(answerRules);
  if (typeof node !== 'object' || node === null) return node;
  const source = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    const value = source[key];
    out[key] =
      key === 'const' || key === 'enum' || key === 'default' || key === 'examples'
        ? value
        : key === 'properties' || key === 'patternProperties' || key === '$defs' || key === 'definitions'
          ? Object.fromEntries(
              Object.entries(value as object).map(([name, part]) => [name, answerRules(part)]),
            )
          : answerRules(value);
  }
  const properties = source.properties as Record<string, { default?: unknown }> | undefined;
  if (Array.isArray(source.required) && properties !== undefined) {
    out.required = source.required.filter((name) => properties[name]?.default === undefined);
  }
  return out;
}

/** The Standard Schema path of an ajv error: `/tags/0` → `['tags', 0]`, plus the missing key. */
function pathOf(error: ErrorObject): PropertyKey[] {
  const path: PropertyKey[] = [];
  if (error.instancePath !== '') {
    for (const raw of error.instancePath.slice(1).split('/')) {
      const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
      path.push(/^(?:0|[1-9]\d{0,8})$/.test(key) ? Number(key) : key);
    }
  }
  if (error.keyword === 'required') path.push((error.params as { missingProperty: string }).missingProperty);
  return path;
}

function issueOf(error: ErrorObject): StandardSchemaV1.Issue {
  if (error.keyword === 'required') return { message: 'Required', path: pathOf(error) };
  if (error.keyword === 'additionalProperties') {
    const key = (error.params as { additionalProperty: string }).additionalProperty;
    return { message: 'Unknown key', path: [...pathOf(error), key] };
  }
  if (error.keyword === 'format') {
    return { message: `must be a valid ${(error.params as { format: string }).format}`, path: pathOf(error) };
  }
  // ajv's messages name the rule (`must be integer`, `must NOT have more than 64 characters`), never
  // the value.
  return { message: error.message ?? 'Invalid value', path: pathOf(error) };
}

/**
 * `schema` as a route schema: `{ schema: { body: typebox(User) } }` types `ctx.body` as `Static<typeof
 * User>`, and each request is checked by ajv's compiled code. It works in place, as ajv does, on values
 * that are the request's own (weir hands it a parsed body, the query it parsed, copies of the params and
 * headers); a handler's answer is checked without being changed. What it does with a request's value:
 * - the rules are JSON Schema's, as ajv applies them: keys an object does not declare are kept, unless
 *   its schema says `additionalProperties: false`, which refuses them (400, `Unknown key`);
 * - defaults the schema declares are filled in; with `coerce: true`, strings become the types asked for;
 * - the issues are ajv's, one per rule broken, with their path.
 * The JSON Schema given to the fast serialiser and to OpenAPI is `schema` itself. A schema ajv cannot
 * compile (a TypeBox type with no JSON form, such as `Type.Date()`, or an unknown keyword) throws here.
 * @example const Id = typebox(Type.Object({ id: Type.Integer({ minimum: 1 }) }), { coerce: true });
 */
export function typebox<T extends TSchema & object>(
  schema: T,
  options: TypeBoxOptions = {},
): TypeBoxSchema<T> {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw invalidOption('typebox() schema', 'a TypeBox schema', schema);
  }
  const coerce = options.coerce ?? false;
  if (typeof coerce !== 'boolean') throw invalidOption('typebox() coerce', 'a boolean', coerce);
  // What JSON can carry of it: TypeBox keeps its own markers out of the enumerable keys.
  const json = JSON.parse(JSON.stringify(schema)) as JsonSchema;
  const input = compiled(json, coerce ? 'coerce' : 'input');
  const first = compiled(json, coerce ? 'coerce-first' : 'input-first');
  const describe = (): JsonSchema => json;
  const standard = (check: ValidateFunction): StandardSchemaV1.Props<Static<T>> => ({
    version: 1,
    vendor: 'weir/typebox',
    validate: (value: unknown): StandardSchemaV1.Result<Static<T>> =>
      check(value) ? { value: value as Static<T> } : { issues: (check.errors ?? []).map(issueOf) },
  });
  let answer: StandardSchemaV1 | undefined;
  return {
    '~standard': { ...standard(input), jsonSchema: { input: describe, output: describe } },
    [kFirstIssue]: { '~standard': standard(first) },
    // A handler's answer is checked as it is (nothing filled in: a key with a default may be missing,
    // the compiled serialiser writes the default and the declared keys only). Compiled when a response
    // schema asks for it, not for every request schema.
    get [kCheckAnswer]() {
      answer ??= { '~standard': standard(compiled(json, 'answer')) };
      return answer;
    },
  } as TypeBoxSchema<T>;
}

function compiled(json: JsonSchema, mode: Mode): ValidateFunction {
  try {
    return ajvFor(mode).compile(mode === 'answer' ? (answerRules(json) as JsonSchema) : json);
  } catch (err) {
    throw new WeirError(
      'WEIR_ERR_INVALID_OPTION',
      `typebox() cannot compile this schema: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
