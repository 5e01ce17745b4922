/**
 * The child `weir dev` restarts: loads ENTRY (argv[2]); an entry that calls `listen()` itself is served by
 * that call, an entry that only exports its App is served here on PORT/HOST. A failure to load is one
 * line naming the file, line and column of the user's code that threw, then exit code 1.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { App } from '../http/app.ts';
import { startInspecting } from '../internal/inspect.ts';

/**
 * `file:line:column` of the error in the user's code: where a TypeScript transform failed (esbuild's
 * `FILE:LINE:COL: ERROR: …`), else the first stack frame outside node_modules, Node and weir itself.
 */
function whereIn(err: unknown): { where?: string; message: string } {
  const text = err instanceof Error ? err.message : String(err);
  const transform = /^(\/\S+?:\d+:\d+): ERROR: (.*)$/m.exec(text);
  if (transform !== null) return { where: transform[1], message: transform[2]! };
  const message = text.split('\n')[0]!;
  const stack = err instanceof Error ? (err.stack ?? '') : '';
  const weir = fileURLToPath(new URL('../', import.meta.url));
  for (const match of stack.matchAll(/(?:\(|at )((?:file:\/\/)?\/[^\s():]+):(\d+):(\d+)\)?$/gm)) {
    const file = match[1]!.startsWith('file://') ? fileURLToPath(match[1]!) : match[1]!;
    if (file.includes('/node_modules/') || file.startsWith(weir)) continue;
    return { where: `${file}:${match[2]}:${match[3]}`, message };
  }
  return { message };
}

function isApp(value: unknown): value is App<object> {
  return (
    typeof (value as App | undefined)?.listen === 'function' && typeof (value as App).routes === 'function'
  );
}

// The supervisor is gone (killed, crashed): stop as it would have asked, draining first.
process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));

const entry = process.argv[2]!;
const inspection = startInspecting({ bind: true });
try {
  const mod = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
  const exported = [mod.default, mod.app].find(isApp);
  if (inspection.apps.length === 0) {
    if (exported === undefined) {
      throw new Error(`${entry} neither calls app.listen() nor exports a weir App (default or "app")`);
    }
    await exported.listen({ port: Number(process.env.PORT ?? 8080), host: process.env.HOST ?? '127.0.0.1' });
  }
} catch (err) {
  const { where, message } = whereIn(err);
  process.stderr.write(`weir dev: ${where === undefined ? '' : `${where}: `}${message}\n`);
  process.exit(1);
}
