/**
 * `docsPage()`: an API reference page for the app's OpenAPI document, rendered in the browser by
 * swagger-ui-dist, an optional peer dependency loaded only when `docsPage()` is called.
 *
 * The page works offline and under `securityHeaders()`' default Content-Security-Policy: every file it
 * loads comes from the app (no CDN), and its start-up code is a served script, not an inline one. It
 * serves a fixed list of files from the package folder, each on a route of its own, so no part of a
 * request path ever reaches the file system.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { invalidOption, WeirError } from '../errors.ts';
import { App } from '../http/app.ts';
import { etagMatches } from '../http/caching.ts';
import { variantEtag } from '../http/compression/response.ts';
import type { Context } from '../http/context.ts';
import { html, WeirResponse } from '../http/response.ts';
import { escapeHtml } from '../internal/html.ts';

/** Options of {@link docsPage}. */
export interface DocsPageOptions {
  /**
   * Where the page fetches the OpenAPI document from, as a URL the browser resolves against the page: a
   * path of the same app (`/openapi.json`), or a full URL, which the app's CSP `connect-src` must allow.
   * @default '/openapi.json'
   */
  specUrl?: string;
  /** The page's `<title>`. @default 'API reference' */
  title?: string;
}

/** One file the page loads: where it is, what it is, and its validator. */
interface Asset {
  readonly type: string;
  readonly etag: string;
  /** On disk, for a file of the package; in memory, for the start-up script. */
  readonly source: { readonly path: string; readonly size: number } | Buffer;
}

const PACKAGE = 'swagger-ui-dist';
const YEAR = 'public, max-age=31536000, immutable';

/** The files of swagger-ui-dist the page loads: no others are ever served. */
const FILES: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'index.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

/**
 * The page's start-up script. It reads its settings from the page's `data-` attributes, so the page needs
 * no inline script. `validatorUrl: null` keeps swagger-ui from sending the document to
 * validator.swagger.io; `queryConfigEnabled: false` keeps a `?url=` in the page's address from loading
 * another document (and from making the browser fetch it).
 */
const INIT_SCRIPT = `'use strict';
(function () {
  var root = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({
    url: root.getAttribute('data-spec-url'),
    domNode: root,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    deepLinking: true,
    validatorUrl: null,
    queryConfigEnabled: false,
  });
})();
`;

function rendererMissing(detail: string, cause?: unknown): WeirError {
  return new WeirError(
    'WEIR_ERR_DOCS_RENDERER_MISSING',
    `docsPage() renders with the "${PACKAGE}" package, ${detail}: run \`npm install ${PACKAGE}\``,
    cause === undefined ? undefined : { cause },
  );
}

/** Finds swagger-ui-dist as seen from `from`, and checks it has every file the page loads. */
function locateRenderer(from: string | URL): { version: string; assets: Map<string, Asset> } {
  let manifest: string;
  try {
    manifest = createRequire(from).resolve(`${PACKAGE}/package.json`);
  } catch (err) {
    throw rendererMissing('which is not installed', err);
  }
  const folder = dirname(manifest);
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown };
  // The version becomes a path segment of the files' URLs: one a route can hold as it is.
  if (typeof version !== 'string' || !/^[\w.+-]+$/.test(version)) {
    throw rendererMissing(`whose package.json at ${folder} has no usable version`);
  }
  const assets = new Map<string, Asset>();
  for (const [name, type] of Object.entries(FILES)) {
    const path = join(folder, name);
    let size: number;
    try {
      size = statSync(path).size;
    } catch (err) {
      throw rendererMissing(`installed at ${folder} without ${name}`, err);
    }
    assets.set(`/${version}/${name}`, {
      type,
      etag: `"${version}-${size.toString(16)}"`,
      source: { path, size },
    });
  }
  const script = Buffer.from(INIT_SCRIPT);
  const digest = createHash('sha256').update(script).digest('hex').slice(0, 12);
  assets.set(`/init.${digest}.js`, {
    type: 'text/javascript; charset=utf-8',
    etag: `"${digest}"`,
    source: script,
  });
  return { version, assets };
}

function checkOptions(options: DocsPageOptions): { specUrl: string; title: string } {
  if (typeof options !== 'object' || options === null)
    throw invalidOption('docsPage() options', 'an object', options);
  const specUrl = options.specUrl ?? '/openapi.json';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses.
  if (typeof specUrl !== 'string' || !/^[^\s\u0000-\u001f\u007f]+$/.test(specUrl)) {
    throw invalidOption('docsPage() specUrl', 'a URL without spaces or control characters', specUrl);
  }
  const title = options.title ?? 'API reference';
  if (typeof title !== 'string') throw invalidOption('docsPage() title', 'a string', title);
  return { specUrl, title };
}

/** Answers a request for one of the page's files: the file, or 304 when the client has it. */
async function sendAsset(ctx: Context<string, object>, asset: Asset): Promise<WeirResponse> {
  const headers: Record<string, string | number> = { etag: asset.etag, 'cache-control': YEAR };
  const ifNoneMatch = ctx.headers['if-none-match'];
  const source = asset.source;
  if (ifNoneMatch !== undefined) {
    // Compressed, the file goes out with its variant's tag: that is the one a client sends back.
    const variant = variantEtag(
      ctx as Context,
      asset.etag,
      { 'content-type': asset.type, 'cache-control': YEAR },
      Buffer.isBuffer(source) ? source.length : source.size,
    );
    if (etagMatches(ifNoneMatch, variant.tag)) {
      return new WeirResponse(undefined, 304, {
        ...headers,
        etag: variant.tag,
        ...(variant.varies ? { vary: 'accept-encoding' } : {}),
      });
    }
  }
  headers['content-type'] = asset.type;
  if (Buffer.isBuffer(source)) {
    headers['content-length'] = source.length;
    return new WeirResponse(ctx.method === 'HEAD' ? undefined : source, 200, headers);
  }
  headers['content-length'] = source.size;
  if (ctx.method === 'HEAD') return new WeirResponse(undefined, 200, headers);
  const handle = await open(source.path, 'r');
  return new WeirResponse(handle.createReadStream(), 200, headers);
}

/**
 * The page's HTML. Its links are relative to the page's own last path segment (`./docs/…` for `/api/docs`),
 * so the page works at any mount point and behind a proxy that rewrites the path prefix.
 */
function renderPage(
  segment: string,
  version: string,
  script: string,
  options: { specUrl: string; title: string },
): string {
  // `./` first, so a segment with a colon cannot read as a URL scheme.
  const base = `./${escapeHtml(segment)}`;
  const file = (name: string) => `${base}/${version}/${name}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)}</title>
<link rel="stylesheet" href="${file('swagger-ui.css')}">
<link rel="stylesheet" href="${file('index.css')}">
<link rel="icon" type="image/png" href="${file('favicon-32x32.png')}" sizes="32x32">
<link rel="icon" type="image/png" href="${file('favicon-16x16.png')}" sizes="16x16">
</head>
<body>
<div id="swagger-ui" data-spec-url="${escapeHtml(options.specUrl)}"></div>
<script src="${file('swagger-ui-bundle.js')}"></script>
<script src="${base}${script}"></script>
</body>
</html>
`;
}

/**
 * The docs page from the swagger-ui-dist found from `from`; {@link docsPage} looks from weir itself.
 * @internal
 */
export function docsPageFrom<S extends object>(from: string | URL, options: DocsPageOptions): App<S> {
  const settings = checkOptions(options);
  const { version, assets } = locateRenderer(from);
  const script = [...assets.keys()].find((path) => path.startsWith('/init.'))!;
  const docs = new App<S>({ logger: false, overload: false });
  // The page and its files are the first thing to shed when the app is overloaded.
  const route = { priority: 'batch', hidden: true } as const;
  let page: { path: string; body: string } | undefined;
  docs.get('/', route, (ctx) => {
    // The route is static, so ctx.path is the mount prefix itself: one page per app, rendered once.
    if (page?.path !== ctx.path) {
      const segment = ctx.path.slice(ctx.path.lastIndexOf('/') + 1);
      page = { path: ctx.path, body: renderPage(segment, version, script, settings) };
    }
    return html(page.body, { headers: { 'cache-control': 'no-cache' } });
  });
  for (const [path, asset] of assets) docs.get(path, route, (ctx) => sendAsset(ctx, asset));
  return docs;
}

/**
 * An app serving an API reference page for an OpenAPI document, to mount with `app.route()`: the page at
 * the mount path, and the files it loads below it, cached for a year as immutable (their URLs carry the
 * renderer's version, or a hash of the content). It renders with swagger-ui-dist, which must be installed
 * (`npm install swagger-ui-dist`); the page works offline, under `securityHeaders()`' default CSP.
 * @throws WEIR_ERR_DOCS_RENDERER_MISSING when swagger-ui-dist is not installed, or lacks a file it needs.
 * @throws WEIR_ERR_INVALID_OPTION for a `specUrl` or `title` of the wrong type.
 * @example
 * app.get('/openapi.json', () => json(document));
 * app.route('/docs', docsPage({ specUrl: '/openapi.json', title: 'Orders API' }));
 */
export function docsPage<S extends object = Record<never, never>>(options: DocsPageOptions = {}): App<S> {
  return docsPageFrom<S>(import.meta.url, options);
}
