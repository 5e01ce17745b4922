import { QueryError } from './errors.ts';

/**
 * Loads a driver package on first use, so that importing `weir/db` loads none and an app on SQLite
 * never loads `pg`. A missing package fails with the command that installs it.
 */
export async function loadDriver<T>(name: string, engine: string): Promise<T> {
  try {
    const module = (await import(name)) as { default?: T };
    return (module.default ?? module) as T;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') {
      throw new QueryError(
        'WEIR_ERR_DB_DRIVER_MISSING',
        `The ${engine} engine needs the "${name}" package: run \`npm install ${name}\``,
        { cause: err },
      );
    }
    throw err;
  }
}
