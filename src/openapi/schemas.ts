/**
 * A route schema's JSON Schema made fit to sit inside the document: its own definitions (`$defs`, which
 * validators emit for shared and recursive parts) move to `components.schemas`, renamed when another
 * route's definition took the name with different content, and every `$ref` follows them. A reference to
 * the schema's own root (`#`, a recursive schema) points at a copy of the root kept as a component.
 */
import type { JsonSchema } from '../schema/json-schema.ts';

const COMPONENT_NAME = /[^\w.-]/g;
// The JSON of each hoisted definition as the validator wrote it, per document: the same definition
// from two routes is one component; a different one under a taken name gets a suffix.
const originals = new WeakMap<object, Map<string, string>>();

export function hoistDefinitions(
  schema: JsonSchema,
  components: Record<string, JsonSchema>,
  rootName: string,
): JsonSchema {
  const {
    $schema: _dialect,
    $defs,
    definitions,
    ...rest
  } = schema as JsonSchema & {
    $defs?: Record<string, JsonSchema>;
    definitions?: Record<string, JsonSchema>;
  };
  const renamed = new Map<string, string>();
  const own = { ...definitions, ...$defs };
  let seen = originals.get(components);
  if (seen === undefined) {
    seen = new Map(Object.keys(components).map((name) => [name, '']));
    originals.set(components, seen);
  }
  const known = seen;
  const claim = (wanted: string, original: unknown): string => {
    const base = wanted.replace(COMPONENT_NAME, '_') || 'Schema';
    const json = JSON.stringify(original);
    for (let n = 1; ; n++) {
      const name = n === 1 ? base : `${base}_${n}`;
      const taken = known.get(name);
      if (taken === undefined && components[name] === undefined) {
        known.set(name, json);
        return name;
      }
      if (taken === json) return name;
    }
  };
  let rootRef = '';
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (typeof value !== 'object' || value === null) return value;
    const out: Record<string, unknown> = {};
    for (const [key, part] of Object.entries(value)) {
      if (key === '$ref' && typeof part === 'string') out[key] = target(part);
      else out[key] = rewrite(part);
    }
    return out;
  };
  const target = (ref: string): string => {
    if (ref === '#') return rootRef;
    const match = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(ref);
    if (match === null) return ref;
    const name = decodeURIComponent(match[1]!.replace(/~1/g, '/').replace(/~0/g, '~'));
    return `#/components/schemas/${renamed.get(name) ?? name}`;
  };
  // Names first (the rewritten refs point at them), then the definitions, rewritten.
  const recursive = containsRef(rest, '#') || containsRef(own, '#');
  if (recursive) rootRef = `#/components/schemas/${claim(rootName, rest)}`;
  for (const [name, content] of Object.entries(own)) renamed.set(name, claim(name, content));
  for (const [name, content] of Object.entries(own)) {
    components[renamed.get(name)!] = rewrite(content) as JsonSchema;
  }
  const root = rewrite(rest) as JsonSchema;
  if (!recursive) return root;
  components[rootRef.slice('#/components/schemas/'.length)] = root;
  return { $ref: rootRef };
}

function containsRef(value: unknown, ref: string): boolean {
  if (Array.isArray(value)) return value.some((part) => containsRef(part, ref));
  if (typeof value !== 'object' || value === null) return false;
  for (const [key, part] of Object.entries(value)) {
    if (key === '$ref' && part === ref) return true;
    if (containsRef(part, ref)) return true;
  }
  return false;
}
