/**
 * The JSON Schema of a route's Standard Schema: for fast serialisation (exactly what the schema outputs)
 * and for OpenAPI (what a caller sends and receives, as far as it can be described). zod 4 and arktype
 * describe themselves (Standard JSON Schema); valibot through its official converter; any other library
 * through {@link withJsonSchema}.
 */
import { createRequire } from 'node:module';
import { invalidOption } from '../errors.ts';
import { isStandardSchema, type StandardSchemaV1 } from './standard.ts';

/** A JSON Schema document, as the converters produce it. */
export type JsonSchema = Record<string, unknown>;

/**
 * The Standard JSON Schema interface (https://standardschema.dev/json-schema, v1), copied as the spec
 * invites: a schema that can describe itself as JSON Schema.
 */
export interface StandardJsonSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaV1.Props<Input, Output> & {
    readonly jsonSchema: {
      readonly input: (options: { readonly target: string; readonly libraryOptions?: object }) => JsonSchema;
      readonly output: (options: { readonly target: string; readonly libraryOptions?: object }) => JsonSchema;
    };
  };
}

const require = createRequire(import.meta.url);

/**
 * Gives `schema` the JSON Schema `jsonSchema` (draft-07) for fast serialisation, for a library that
 * cannot produce it itself (TypeBox schemas are JSON Schema already). `jsonSchema` must describe exactly
 * the values `schema` accepts.
 * @example response: { 200: withJsonSchema(Compile(User), User) }
 */
export function withJsonSchema<S extends StandardSchemaV1>(
  schema: S,
  jsonSchema: JsonSchema,
): S & StandardJsonSchemaV1 {
  if (!isStandardSchema(schema)) throw invalidOption('withJsonSchema() schema', 'a Standard Schema', schema);
  if (typeof jsonSchema !== 'object' || jsonSchema === null || Array.isArray(jsonSchema)) {
    throw invalidOption('withJsonSchema() jsonSchema', 'a JSON Schema object', jsonSchema);
  }
  const standard = schema['~standard'];
  const describe = () => jsonSchema;
  return {
    ...schema,
    '~standard': {
      version: standard.version,
      vendor: standard.vendor,
      validate: (value: unknown) => standard.validate(value),
      types: standard.types,
      jsonSchema: { input: describe, output: describe },
    },
  } as S & StandardJsonSchemaV1;
}

/** Which JSON Schema {@link jsonSchemaOf} asks for. */
export interface JsonSchemaRequest {
  /** What a caller sends (`input`: before coercion and defaults) or what the schema makes (`output`). */
  readonly io: 'input' | 'output';
  readonly target: 'draft-07' | 'draft-2020-12';
  /**
   * Describe what can be described and leave the rest open (`{}`), for documentation; otherwise a part
   * with no JSON form (a date, a transform) means no JSON Schema at all, as a serialiser needs.
   */
  readonly lenient?: boolean;
}

/** The JSON Schema of `schema`, or why there is none. */
export function jsonSchemaOf(
  schema: StandardSchemaV1,
  request: JsonSchemaRequest,
): { schema: JsonSchema } | { reason: string } {
  const standard = schema['~standard'] as Partial<StandardJsonSchemaV1['~standard']>;
  const { io, target, lenient = false } = request;
  try {
    if (typeof standard.jsonSchema?.[io] === 'function') {
      // zod reads its own options here; other libraries ignore what they do not know.
      const libraryOptions = lenient ? { unrepresentable: 'any' } : undefined;
      return { schema: standard.jsonSchema[io]({ target, libraryOptions }) };
    }
    if (standard.vendor === 'valibot') {
      const { toJsonSchema } = require('@valibot/to-json-schema') as {
        toJsonSchema: (schema: unknown, config: object) => JsonSchema;
      };
      return {
        schema: toJsonSchema(schema, { typeMode: io, target, errorMode: lenient ? 'ignore' : 'throw' }),
      };
    }
  } catch (err) {
    // A part with no JSON form (a date, a transform, a custom check).
    return { reason: (err as Error).message };
  }
  return { reason: `${standard.vendor ?? 'this'} schema has no JSON Schema form (see withJsonSchema())` };
}
