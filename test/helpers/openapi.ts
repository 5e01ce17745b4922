import assert from 'node:assert/strict';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { OpenApiDocument } from 'weir/openapi';

/** The document checked against the OpenAPI 3.1 schema, and every local `$ref` in it resolved. */
export async function assertValid(doc: OpenApiDocument): Promise<void> {
  const validator = new Validator();
  const result = await validator.validate(structuredClone(doc) as never);
  assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
  assert.equal(validator.version, '3.1');
  const refs = JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g);
  for (const [, name] of refs) assert.ok(doc.components.schemas[name!], `dangling $ref to ${name}`);
}
