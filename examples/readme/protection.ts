import { App, html } from 'weir';
import { cors, cspNonce, csrf, openRateLimitStore, rateLimit, securityHeaders, session } from 'weir/security';

export const app = new App({ trustProxy: 1 }); // behind one proxy: ctx.ip and ctx.protocol come from it
const limits = await openRateLimitStore(process.env.RATE_LIMIT_URL); // memory: here; redis://… for many processes
app.onStop(() => limits.close());

app.use(securityHeaders()); // CSP with a per-request nonce on HTML; nosniff, HSTS over HTTPS, …
app.use(session(), csrf()); // a POST that carries cookies from another site: 403
app.use(rateLimit({ limit: 100, windowMs: 60_000, store: limits })); // per client address: then 429

app.get('/', (ctx) => html(`<script nonce="${cspNonce(ctx)}">console.log('hello')</script>`));
app.post('/comments', () => ({ saved: true }));

const api = new App(); // its own CORS policy, preflights included
api.use(cors({ origin: ['https://app.example.com'], credentials: true }));
api.get('/items', () => [{ id: 1 }]);
app.route('/api', api);
