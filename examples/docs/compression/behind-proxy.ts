import { App } from 'weir';

// nginx (gzip on; brotli on;) compresses in front of the app: don't do it twice.
export const app = new App({ compression: false });

app.get('/report', () => ({ rows: Array.from({ length: 500 }, (_, i) => ({ i })) }));
