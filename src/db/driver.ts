import { loadPackage } from '../internal/load-package.ts';
import { QueryError } from './errors.ts';

/** Loads a database driver on first use; a missing package fails with `WEIR_ERR_DB_DRIVER_MISSING`. */
export function loadDriver<T>(name: string, engine: string): Promise<T> {
  return loadPackage<T>(
    name,
    `The ${engine} engine`,
    (message, cause) => new QueryError('WEIR_ERR_DB_DRIVER_MISSING', message, { cause }),
  );
}
