import { App, cacheControl, etag } from 'weir';

export const app = new App();

// A weak ETag on every successful GET whose body is in memory; If-None-Match answers 304, no body.
app.use(etag());

// Browsers and CDNs may keep it 60 s, then serve it stale for 5 more minutes while they revalidate.
app.get(
  '/catalog',
  cacheControl({ public: true, maxAgeSeconds: 60, staleWhileRevalidateSeconds: 300 }),
  () => ({ items: ['apple', 'pear'] }),
);

// Per-user data: the browser may store it but must revalidate; shared caches may not store it.
app.get('/account', cacheControl({ private: true, noCache: true }), () => ({ name: 'ada' }));
