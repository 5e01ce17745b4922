/**
 * Backend URLs: the scheme that picks a backend, and the form of a URL that messages and logs show.
 */

/** The URL with its password replaced by `***`: what messages and logs show. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  }
}

/** The scheme of `url`, lower case with its colon (`redis:`, `tiered+redis:`), or `undefined`. */
export function schemeOf(url: string): string | undefined {
  return /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0].toLowerCase();
}
