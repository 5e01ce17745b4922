/**
 * Loads an optional driver package on first use, so that importing a weir subpath loads none and an
 * app that never opens, say, Redis never loads `ioredis`. A missing package fails through `missing`, with
 * a message that gives the command that installs it. Resolves with the module's default export, or with
 * the whole module when it has none or `whole` is set (`@opentelemetry/api`'s default lacks its enums).
 */
export async function loadPackage<T>(
  name: string,
  user: string,
  missing: (message: string, cause: unknown) => Error,
  whole = false,
): Promise<T> {
  try {
    const module = (await import(name)) as { default?: T };
    return (whole ? module : (module.default ?? module)) as T;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') {
      throw missing(`${user} needs the "${name}" package: run \`npm install ${name}\``, err);
    }
    throw err;
  }
}
