import { fileURLToPath } from 'node:url';
import { App, serveStatic } from 'weir';

export const app = new App();

// GET /assets/hello.txt serves ./public/hello.txt: ETag, Last-Modified, 304s, Range, Cache-Control.
const publicDir = fileURLToPath(new URL('./public', import.meta.url));
app.get('/assets/*', serveStatic(publicDir, { maxAgeSeconds: 300 }));
