import { App } from 'weir';

// Secrets for signed cookies (16+ characters each), newest first: rotate by putting a new one in front.
export const app = new App({ cookieSecrets: [process.env.COOKIE_SECRET ?? 'dev-only-secret-change-me'] });

app.post('/prefs', (ctx) => {
  // Defaults: HttpOnly, SameSite=Lax, Path=/. Add `secure: true` behind TLS.
  ctx.cookie('theme', 'dark', { maxAgeSeconds: 30 * 24 * 3600 });
  ctx.cookie('account', 'acct-42', { signed: true });
  return undefined;
});

// signedCookie() is undefined when the cookie is missing or its signature does not verify.
app.get('/prefs', (ctx) => ({
  theme: ctx.cookies.theme ?? 'light',
  account: ctx.signedCookie('account') ?? null,
}));

app.delete('/prefs', (ctx) => {
  ctx.clearCookie('theme').clearCookie('account');
  return undefined;
});
