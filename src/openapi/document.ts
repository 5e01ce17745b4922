/**
 * The OpenAPI 3.1 document of an app, built from its routes: each route's path and params, the JSON
 * Schemas of its route schemas (what a caller sends: their input side; what it gets back: their output
 * side), the security its middleware asks for, the errors weir answers for it, and the summaries and
 * tags of its options. A schema that cannot be described is left open and logged once per build.
 */
import { STATUS_CODES } from 'node:http';
import { descriptionOf, type SecurityScheme } from '../internal/describe.ts';
import type { Logger } from '../internal/logger.ts';
import { type JsonSchema, jsonSchemaOf } from '../schema/json-schema.ts';
import type { StandardSchemaV1 } from '../schema/standard.ts';
import type { RouteSchema } from '../schema/types.ts';
import { hoistDefinitions } from './schemas.ts';

/** A route as the document sees it (the App's routes, mounts flattened). */
export interface RouteDescription {
  readonly method: string;
  readonly path: string;
  readonly options: {
    readonly schema?: RouteSchema;
    readonly summary?: string;
    readonly description?: string;
    readonly tags?: readonly string[];
    readonly operationId?: string;
    readonly deprecated?: boolean;
    readonly hidden?: boolean;
  };
  /** Every middleware that runs before its handler, outermost first (the app's, then the route's). */
  readonly middleware: readonly unknown[];
}

/** Options of `app.openapi()`. */
export interface OpenApiOptions {
  /** The document's `info`. @default { title: 'API', version: '1.0.0' } */
  readonly info?: { readonly title: string; readonly version: string; readonly description?: string };
  /** Where the API is served (`[{ url: 'https://api.example.com' }]`). */
  readonly servers?: readonly { readonly url: string; readonly description?: string }[];
}

/** An OpenAPI 3.1 document, as JSON. */
export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: { title: string; version: string; description?: string };
  readonly servers?: readonly { url: string; description?: string }[];
  readonly paths: Record<string, Record<string, JsonSchema>>;
  readonly components: {
    schemas: Record<string, JsonSchema>;
    securitySchemes?: Record<string, SecurityScheme>;
  };
  readonly tags?: { name: string }[];
}

/** weir's error body, as every error answer carries it (see docs/errors.md). */
export const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'A stable WEIR_ERR_* code' },
        message: { type: 'string' },
        details: { description: 'What went wrong in detail, when the error has details' },
      },
    },
  },
};
const ERROR_REF = { $ref: '#/components/schemas/Error' };
const METHODS = new Set(['GET', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH']);
// Header parameters OpenAPI says to describe elsewhere (content, accept, auth).
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization']);

type Part = 'params' | 'query' | 'headers' | 'body';

/** Builds the document; `log` gets one warning per route part that could not be described. */
export function openapiDocument(
  routes: readonly RouteDescription[],
  options: OpenApiOptions,
  log: Logger,
): OpenApiDocument {
  const components: OpenApiDocument['components'] = { schemas: { Error: ERROR_SCHEMA } };
  const paths: OpenApiDocument['paths'] = {};
  const tags = new Set<string>();
  const operationIds = new Set<string>();
  const undescribed: { route: string; part: string; reason: string }[] = [];

  for (const route of routes) {
    if (route.options.hidden === true || !METHODS.has(route.method)) continue;
    const name = `${route.method} ${route.path}`;
    const own = route.options;
    const id = uniqueId(own.operationId ?? operationIdOf(route), operationIds);
    const describe = (part: string, schema: StandardSchemaV1, io: 'input' | 'output') => {
      const found = jsonSchemaOf(schema, { io, target: 'draft-2020-12', lenient: true });
      if ('reason' in found) {
        undescribed.push({ route: name, part, reason: found.reason });
        return undefined;
      }
      return hoistDefinitions(found.schema, components.schemas, `${id}_${part}`);
    };
    const { template, names } = pathTemplate(route.path);
    const operation: JsonSchema = {};
    if (own.summary !== undefined) operation.summary = own.summary;
    if (own.description !== undefined) operation.description = own.description;
    if (own.tags !== undefined && own.tags.length > 0) {
      operation.tags = [...own.tags];
      for (const tag of own.tags) tags.add(tag);
    }
    operation.operationId = id;
    if (own.deprecated === true) operation.deprecated = true;

    const schema = own.schema ?? {};
    const parameters = [
      ...pathParameters(names, schema.params && describe('params', schema.params, 'input')),
      ...objectParameters('query', schema.query && describe('query', schema.query, 'input')),
      ...objectParameters('header', schema.headers && describe('headers', schema.headers, 'input')),
    ];
    if (parameters.length > 0) operation.parameters = parameters;
    if (schema.body !== undefined) {
      const body = describe('body', schema.body, 'input') ?? {};
      operation.requestBody = {
        required: !acceptsUndefined(schema.body),
        content: {
          'application/json': { schema: body },
          'application/x-www-form-urlencoded': { schema: body },
        },
      };
    }

    const responses: Record<string, JsonSchema> = {};
    for (const [status, responseSchema] of Object.entries(schema.response ?? {})) {
      const code = Number(status);
      const response: JsonSchema = { description: STATUS_CODES[code] ?? `Status ${status}` };
      if (code !== 204 && code !== 304) {
        const described = describe(`response ${status}`, responseSchema, 'output');
        response.content = { 'application/json': { schema: described ?? {} } };
      }
      responses[status] = response;
    }
    if (schema.response === undefined)
      responses.default = { description: 'The handler’s answer (no response schema)' };
    const errors: Record<number, string> = {};
    if ((['params', 'query', 'headers', 'body'] as Part[]).some((part) => schema[part] !== undefined)) {
      errors[400] = 'The request breaks the route’s schema (WEIR_ERR_VALIDATION), or its body is not JSON';
    }
    let security: readonly Readonly<Record<string, readonly string[]>>[] | undefined;
    for (const fn of route.middleware) {
      const said = descriptionOf(fn);
      if (said === undefined) continue;
      if (said.schemes !== undefined) {
        // The first to name a scheme wins: session() (outer) knows its cookie's name, requireAuth() not.
        components.securitySchemes ??= {};
        const schemes = components.securitySchemes;
        for (const [key, scheme] of Object.entries(said.schemes)) schemes[key] ??= scheme;
      }
      if (said.security !== undefined) security = said.security;
      Object.assign(errors, said.responses);
    }
    for (const [status, why] of Object.entries(errors)) {
      responses[status] ??= { description: why, content: { 'application/json': { schema: ERROR_REF } } };
    }
    operation.responses = responses;
    if (security !== undefined) operation.security = security.map((alternative) => ({ ...alternative }));

    paths[template] ??= {};
    paths[template][route.method.toLowerCase()] = operation;
  }

  if (undescribed.length > 0) {
    log.warn(
      { routes: undescribed.slice(0, 50), count: undescribed.length },
      'OpenAPI: some route schemas have no JSON Schema form and are documented without one',
    );
  }
  return {
    openapi: '3.1.0',
    info: { title: 'API', version: '1.0.0', ...options.info },
    ...(options.servers !== undefined && { servers: options.servers.map((server) => ({ ...server })) }),
    paths,
    components,
    ...(tags.size > 0 && { tags: [...tags].sort().map((tag) => ({ name: tag })) }),
  };
}

/** `/users/:id/*` → `/users/{id}/{wildcard}` and the names, in order. */
function pathTemplate(path: string): { template: string; names: string[] } {
  const names: string[] = [];
  const template = path
    .split('/')
    .map((segment) => {
      if (segment.startsWith(':')) {
        names.push(segment.slice(1));
        return `{${segment.slice(1)}}`;
      }
      if (segment === '*') {
        names.push('wildcard');
        return '{wildcard}';
      }
      return segment;
    })
    .join('/');
  return { template, names };
}

function pathParameters(names: readonly string[], described: JsonSchema | undefined): JsonSchema[] {
  const properties = (described?.properties ?? {}) as Record<string, JsonSchema>;
  return names.map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: properties[name] ?? { type: 'string' },
    ...(name === 'wildcard' && { description: 'The rest of the path (`ctx.params["*"]`)' }),
  }));
}

function objectParameters(where: 'query' | 'header', described: JsonSchema | undefined): JsonSchema[] {
  const properties = (described?.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((described?.required ?? []) as string[]);
  return Object.entries(properties)
    .filter(([name]) => where === 'query' || !IGNORED_HEADERS.has(name.toLowerCase()))
    .map(([name, schema]) => ({ name, in: where, required: required.has(name), schema }));
}

/** Whether a request without a body passes: then the body is optional. */
function acceptsUndefined(schema: StandardSchemaV1): boolean {
  try {
    const result = schema['~standard'].validate(undefined);
    return !(result instanceof Promise) && result.issues === undefined;
  } catch {
    return false;
  }
}

/** `GET /users/:id` → `getUsersById`; `GET /` → `getRoot`. */
function operationIdOf(route: { method: string; path: string }): string {
  const words = route.path
    .split('/')
    .filter((segment) => segment !== '')
    .map((segment) =>
      segment === '*'
        ? 'ByWildcard'
        : segment.startsWith(':')
          ? `By${capital(segment.slice(1))}`
          : capital(segment),
    )
    .join('')
    .replace(/[^\w]+(.)?/g, (_, next: string | undefined) => (next ?? '').toUpperCase());
  return `${route.method.toLowerCase()}${words === '' ? 'Root' : words}`;
}

function capital(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function uniqueId(id: string, taken: Set<string>): string {
  let unique = id;
  for (let n = 2; taken.has(unique); n++) unique = `${id}${n}`;
  taken.add(unique);
  return unique;
}
