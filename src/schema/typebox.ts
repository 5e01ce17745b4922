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

/** How an ajv instance treats values: a request part's (changed in place) or an answer's (left alone). */
type Mode = 'input' | 'coerce' | 'input-first' | 'coerce-first' | 'answer';
/** One ajv per mode, made on first use; each caches what it compiled. */
const instances = new Map<Mode, Ajv>();

function ajvFor(mode: Mode): Ajv {
  let ajv = instances.get(mode);
  if (ajv === undefined) {
    const { Ajv } = require('ajv') as typeof import('ajv');
    const addFormats = require('ajv-formats') as (ajv: Ajv) => Ajv;
    const input = mode !== 'answer';
    ajv = new Ajv({
      // The '-first' instances stop at the first issue: weir runs them first (kFirstIssue).
      allErrors: !mode.endsWith('-first'),
      // A schema's `$id` registers nothing: the same schema may be given to typebox() twice.
      addUsedSchema: false,
      useDefaults: input,
      removeAdditional: input,
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

/** What no value passes: an `additionalProperties` the schema set to `false`, which weir refuses. */
const REFUSE = { not: {} } as const;

/**
 * The schema ajv compiles: every object that does not say what to do with keys it does not declare drops
 * them (`additionalProperties: false`, removed by ajv's `removeAdditional`), as a valibot `object` does,
 * so a body can never carry a key the handler did not ask for into a spread or an insert. An object whose
 * schema says `additionalProperties: false` itself refuses them (400), as a `strictObject` does. Objects
 * inside `anyOf`/`oneOf` keep their keys: ajv removes keys while it tries each branch, so dropping them
 * there would fail a value that matches a later branch.
 */
function rules(node: unknown, inUnion: boolean): unknown {
  if (Array.isArray(node)) return node.map((n) => rules(n, inUnion));
  if (typeof node !== 'object' || node === null) return node;
  const source = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    const value = source[key];
    if (key === 'properties' || key === 'patternProperties' || key === '$defs' || key === 'definitions') {
      const map: Record<string, unknown> = {};
      for (const name of Object.keys(value as object))
        map[name] = rules((value as Record<string, unknown>)[name], false);
      out[key] = map;
    } else if (key === 'anyOf' || key === 'oneOf') {
      out[key] = rules(value, true);
    } else if (key === 'additionalProperties' && value === false) {
      out[key] = REFUSE;
    } else if (key === 'const' || key === 'enum' || key === 'default' || key === 'examples') {
      out[key] = value;
    } else {
      out[key] = typeof value === 'object' ? rules(value, false) : value;
    }
  }
  if (
    !inUnion &&
    'properties' in source &&
    !('additionalProperties' in source) &&
    !('patternProperties' in source)
  ) {
    out.additionalProperties = false;
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
  if (error.keyword === 'not' && error.schemaPath.endsWith('/additionalProperties/not')) {
    return { message: 'Unknown key', path: pathOf(error) };
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
 * - defaults the schema declares are filled in; with `coerce: true`, strings become the types asked for;
 * - keys an object does not declare are dropped, or refused when the schema says `additionalProperties:
 *   false` (objects inside a union keep them);
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
  return {
    '~standard': { ...standard(input), jsonSchema: { input: describe, output: describe } },
    // A handler's answer is checked as it is, by the schema's own rules (nothing filled in or dropped:
    // the compiled serialiser writes the declared keys only).
    [kCheckAnswer]: { '~standard': standard(compiled(json, 'answer')) },
    [kFirstIssue]: { '~standard': standard(first) },
  } as TypeBoxSchema<T>;
}

function compiled(json: JsonSchema, mode: Mode): ValidateFunction {
  try {
    return ajvFor(mode).compile(mode === 'answer' ? json : (rules(json, false) as JsonSchema));
  } catch (err) {
    throw new WeirError(
      'WEIR_ERR_INVALID_OPTION',
      `typebox() cannot compile this schema: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
