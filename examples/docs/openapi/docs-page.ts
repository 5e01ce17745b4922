import { App } from 'weir';
import { docsPage } from 'weir/openapi';
import { securityHeaders } from 'weir/security';

export const app = new App();
app.use(securityHeaders()); // the page works under its default Content-Security-Policy

app.get('/orders/:id', { summary: 'One order', tags: ['orders'] }, (ctx) => ({ id: ctx.params.id }));

// The page at /docs, and below it the files it loads (/docs/<swagger-ui version>/swagger-ui.css, …),
// all left out of the document.
app.route('/docs', docsPage({ specUrl: '/openapi.json', title: 'Orders API' }));

// The document the page fetches, built once the routes are in.
const document = app.openapi({ info: { title: 'Orders', version: '1.0.0' } });
app.get('/openapi.json', { hidden: true }, () => document);
