/**
 * weir/openapi: an app describes itself as OpenAPI 3.1, from its routes and their schemas, and serves a
 * docs page for it.
 * @module
 */
export { type DocsPageOptions, docsPage } from './docs-page.ts';
