/**
 * valibot's check that stops at its first issue: its own `~run` entry point with its documented
 * `abortEarly`, and otherwise the config its Standard `validate` would pass (`setGlobalConfig`: `lang`,
 * `abortPipeEarly`), so a first issue reads as every other issue of the app does.
 *
 * valibot keeps that config in its module, and a project may hold more than one copy of valibot, so it is
 * read through the schema's own copy: a schema's `reference` is the factory that made it (`v.object`,
 * `v.string`…); a throwaway schema made by it has a `validate` that reads the config and hands it to
 * its `~run`, which here only records it.
 */
import type { StandardSchemaV1 } from './standard.ts';

type Config = { lang?: unknown; message?: unknown; abortEarly?: unknown; abortPipeEarly?: unknown };
type Run = (dataset: { value: unknown }, config: Config) => unknown;
type Check = (value: unknown) => StandardSchemaV1.Result<unknown>;

/** The first-issue check of a synchronous valibot schema, or `null` for any other schema. */
export function valibotFirstIssue(schema: StandardSchemaV1): Check | null {
  const run = (schema as { '~run'?: unknown })['~run'];
  if (
    schema['~standard'].vendor !== 'valibot' ||
    typeof run !== 'function' ||
    // An async schema's checks (a lookup, say) should not run twice.
    (schema as { async?: unknown }).async !== false
  ) {
    return null;
  }
  const config = globalConfig(schema);
  if (config === null) return (value) => run.call(schema, { value }, { abortEarly: true });
  let last: Config = {};
  let early: Config = { abortEarly: true };
  return (value) => {
    const now = config();
    if (
      now.lang !== last.lang ||
      now.message !== last.message ||
      now.abortPipeEarly !== last.abortPipeEarly
    ) {
      last = now;
      early = { ...now, abortEarly: true };
    }
    return run.call(schema, { value }, early);
  };
}

/** A reader of the global config of `schema`'s copy of valibot, or `null` when it cannot be read so. */
function globalConfig(schema: StandardSchemaV1): (() => Config) | null {
  const reference = (schema as { reference?: unknown }).reference;
  if (typeof reference !== 'function') return null;
  let probe: { '~run'?: Run; '~standard'?: { validate?: unknown } };
  try {
    probe = reference();
  } catch {
    return null;
  }
  const validate = probe?.['~standard']?.validate;
  if (typeof validate !== 'function') return null;
  let seen: Config | undefined;
  probe['~run'] = (dataset, config) => {
    seen = config;
    return dataset;
  };
  const read = (): Config => {
    seen = undefined;
    validate(undefined);
    return seen ?? {};
  };
  try {
    read();
  } catch {
    return null;
  }
  // A `validate` that did not go through `~run` is not the one this reader knows.
  return seen === undefined ? null : read;
}
