/**
 * Fast serialisation of responses, as fastify does it: a response schema with a JSON Schema form is
 * compiled once, by fast-json-stringify, into a function that writes that shape's JSON without walking
 * the value generically. The JSON Schema comes from the schema itself (Standard JSON Schema: zod 4,
 * arktype; valibot through its official converter; {@link withJsonSchema} for any other library). A
 * schema without one is serialised by `JSON.stringify`, as every other response.
 *
 * What is compiled says exactly what the validator lets through, so that the compiled function writes
 * what `JSON.stringify` would write of a value the schema accepts: an object schema that does not forbid
 * other keys keeps them (fast-json-stringify would otherwise drop them).
 */
import { createRequire } from 'node:module';
import { type JsonSchema, jsonSchemaOf } from './json-schema.ts';
import type { StandardSchemaV1 } from './standard.ts';

/** Writes a value's JSON. */
export type Serializer = (value: unknown) => string;

const require = createRequire(import.meta.url);
type Compile = (schema: JsonSchema, options?: Record<string, unknown>) => Serializer;
let compile: Compile | undefined;

/** Options of {@link compileSerializer}. */
export interface SerializerOptions {
  /**
   * What becomes of keys an object schema does not declare and does not forbid. `'keep'` (for values the
   * schema validated: its output already holds only what it lets through) writes them, so that the
   * result is what `JSON.stringify` writes; `'drop'` (for values nobody validated) writes declared keys
   * only, so that an unchecked value never sends more than the schema names. @default 'keep'
   */
  readonly undeclared?: 'keep' | 'drop';
}

/**
 * The compiled serialiser of what `schema` outputs, or why there is none (then responses are written by
 * `JSON.stringify`).
 */
export function compileSerializer(
  schema: StandardSchemaV1,
  options: SerializerOptions = {},
): { serialize: Serializer } | { reason: string } {
  const found = jsonSchemaOf(schema, { io: 'output', target: 'draft-07' });
  if ('reason' in found) return found;
  try {
    compile ??= require('fast-json-stringify') as Compile;
    return { serialize: compile(faithful(found.schema, options.undeclared !== 'drop') as JsonSchema) };
  } catch (err) {
    return { reason: `its JSON Schema cannot be compiled: ${(err as Error).message}` };
  }
}

const PRIMITIVE = new Set(['string', 'number', 'integer', 'boolean', 'null']);

/**
 * A copy of `schema` that fast-json-stringify writes as `JSON.stringify` would: objects that do not
 * forbid other keys keep them (`additionalProperties: true`) when `keep` is set, and a union of bare primitive types
 * (`anyOf: [{ type: 'string' }, { type: 'null' }]`, a nullable) becomes a type list, which is written
 * without running a validator per value.
 */
function faithful(schema: unknown, keep: boolean): unknown {
  if (Array.isArray(schema)) return schema.map((part) => faithful(part, keep));
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$schema') continue;
    if (key === 'enum' || key === 'const' || key === 'default' || key === 'examples' || key === 'required') {
      out[key] = value;
    } else if (
      key === 'properties' ||
      key === 'patternProperties' ||
      key === 'definitions' ||
      key === '$defs'
    ) {
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([name, part]) => [name, faithful(part, keep)]),
      );
    } else {
      out[key] = faithful(value, keep);
    }
  }
  const types = out.anyOf;
  if (
    Array.isArray(types) &&
    types.length > 1 &&
    types.every(
      (member) =>
        typeof member === 'object' &&
        member !== null &&
        Object.keys(member).length === 1 &&
        PRIMITIVE.has((member as { type?: unknown }).type as string),
    )
  ) {
    delete out.anyOf;
    out.type = types.map((member) => (member as { type: string }).type);
  }
  const isObject = out.type === 'object' || (out.properties !== undefined && out.type === undefined);
  if (keep && isObject && out.additionalProperties === undefined && out.patternProperties === undefined) {
    out.additionalProperties = true;
  }
  return out;
}
