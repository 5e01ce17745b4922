/**
 * weir/openapi: an app describes itself as OpenAPI 3.1 (`app.openapi()`), from its routes and their
 * schemas, and serves a docs page for it.
 * @module
 */
export { type DocsPageOptions, docsPage } from './docs-page.ts';
export {
  ERROR_SCHEMA,
  type OpenApiDocument,
  type OpenApiOptions,
  openapiDocument,
  type RouteDescription,
} from './document.ts';
