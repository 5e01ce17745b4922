/**
 * The dashboard's page and the files it loads: uPlot's script and stylesheet (read from the `uplot`
 * package on first request, then kept in memory), and the page's own script and stylesheet. Each file's
 * URL carries uPlot's version or a hash of its content, so it is cached for a year as immutable; the
 * page itself is revalidated on every load. Nothing comes from anywhere but the app.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { etagMatches } from '../../http/caching.ts';
import type { Context } from '../../http/context.ts';
import { html, WeirResponse } from '../../http/response.ts';
import { escapeHtml } from '../../internal/html.ts';
import { DASHBOARD_SCRIPT, DASHBOARD_STYLE } from './client.ts';

/** One file the page loads, under the dashboard's path. */
export interface Asset {
  /** Its path below the dashboard's: `/uplot-1.6.32.min.js`. */
  readonly name: string;
  readonly type: string;
  readonly etag: string;
  /** Its bytes, read on first use. */
  readonly body: () => Promise<Buffer>;
}

const YEAR = 'public, max-age=31536000, immutable';
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/**
 * The page's policy: its own scripts, styles and stream, nothing inline, nothing from elsewhere, in no
 * frame. uPlot styles its elements from script (CSSOM), which `style-src 'self'` allows.
 */
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load().catch((err: unknown) => {
      // A failed read is tried again by the next request rather than remembered.
      loaded = undefined;
      throw err;
    });
    return loaded;
  };
}

function inline(prefix: string, extension: string, type: string, text: string): Asset {
  const bytes = Buffer.from(text);
  const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
  return {
    name: `/${prefix}.${digest}.${extension}`,
    type,
    etag: `"${digest}"`,
    body: () => Promise.resolve(bytes),
  };
}

/** The files the page loads. */
export interface PageAssets {
  readonly script: Asset;
  readonly style: Asset;
  readonly uplotScript: Asset;
  readonly uplotStyle: Asset;
}

/** The page's files: uPlot's, found from weir's own folder (only its version is read now), and its own. */
export function pageAssets(): PageAssets {
  const manifest = createRequire(import.meta.url).resolve('uplot/package.json');
  const folder = join(dirname(manifest), 'dist');
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  // The version becomes part of the files' routes: only a plain one.
  const tag = /^[\w.+-]+$/.test(version) ? version : createHash('sha256').update(version).digest('hex');
  const file = (name: string, type: string, source: string): Asset => ({
    name: `/${name}`,
    type,
    etag: `"uplot-${tag}"`,
    body: once(() => readFile(join(folder, source))),
  });
  return {
    script: inline('dashboard', 'js', JS, DASHBOARD_SCRIPT),
    style: inline('dashboard', 'css', CSS, DASHBOARD_STYLE),
    uplotScript: file(`uplot-${tag}.min.js`, JS, 'uPlot.iife.min.js'),
    uplotStyle: file(`uplot-${tag}.min.css`, CSS, 'uPlot.min.css'),
  };
}

/** Answers a request for one of the page's files: the file, or 304 when the client has it. */
export async function sendAsset(ctx: Context<string, object>, asset: Asset): Promise<WeirResponse> {
  const headers: Record<string, string | number> = {
    etag: asset.etag,
    'cache-control': YEAR,
    'x-content-type-options': 'nosniff',
  };
  const ifNoneMatch = ctx.headers['if-none-match'];
  if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, asset.etag)) {
    return new WeirResponse(undefined, 304, headers);
  }
  const body = await asset.body();
  headers['content-type'] = asset.type;
  headers['content-length'] = body.length;
  return new WeirResponse(ctx.method === 'HEAD' ? undefined : body, 200, headers);
}

/**
 * The page's HTML. Its links are relative to the page's own last path segment (`./_dashboard/…` for
 * `/_dashboard`), so it works under any prefix a proxy puts in front.
 */
function renderPage(segment: string, title: string, assets: PageAssets): string {
  // `./` first, so a segment with a colon cannot read as a URL scheme.
  const base = `./${escapeHtml(segment)}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${base}${assets.uplotStyle.name}">
<link rel="stylesheet" href="${base}${assets.style.name}">
</head>
<body>
<header><h1>${escapeHtml(title)}</h1><span id="status">connecting…</span><span id="meta"></span></header>
<main id="dashboard" data-events="${base}/events"></main>
<script src="${base}${assets.uplotScript.name}"></script>
<script src="${base}${assets.script.name}"></script>
</body>
</html>
`;
}

/** The page's route handler: the page, rendered on first request, under its own security headers. */
export function pageHandler(
  title: string,
  assets: PageAssets,
): (ctx: Context<string, object>) => WeirResponse {
  let page: { path: string; body: string } | undefined;
  return (ctx) => {
    // The route is static, so ctx.path is the dashboard's own path (with any mount prefix): rendered once.
    if (page?.path !== ctx.path) {
      const segment = ctx.path.slice(ctx.path.lastIndexOf('/') + 1);
      page = { path: ctx.path, body: renderPage(segment, title, assets) };
    }
    return html(page.body, {
      headers: {
        'cache-control': 'no-cache',
        'content-security-policy': PAGE_CSP,
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
      },
    });
  };
}
