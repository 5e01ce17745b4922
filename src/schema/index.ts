/**
 * weir/schema: route schemas through Standard Schema (zod 4, valibot, arktype, TypeBox…). A route
 * declares them in its options, `app.post('/users', { schema: { body, response: { 201: User } } }, …)`;
 * this module holds their types and the pieces a service may want on its own.
 * @module
 */

export {
  type JsonSchema,
  type JsonSchemaRequest,
  jsonSchemaOf,
  type StandardJsonSchemaV1,
  withJsonSchema,
} from './json-schema.ts';
export { compileSerializer, type Serializer, type SerializerOptions } from './serialize.ts';
export { isStandardSchema, type StandardSchemaV1 } from './standard.ts';
export type { HandlerReturn, Reply, Responses, RouteInputs, RouteSchema } from './types.ts';
export { formatPath, INPUT_PARTS, type InputPart, safeMessage, type ValidationIssue } from './validate.ts';
