import { App, json } from 'weir';
import { docsPage } from 'weir/openapi';
import { securityHeaders } from 'weir/security';

export const app = new App();
app.use(securityHeaders()); // the page works under its default Content-Security-Policy

// The OpenAPI document, however it is made: the page fetches it from here.
const document = {
  openapi: '3.1.0',
  info: { title: 'Orders', version: '1.0.0' },
  paths: {
    '/orders/{id}': {
      get: {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { 200: { description: 'The order' }, 404: { description: 'No such order' } },
      },
    },
  },
};
app.get('/openapi.json', () => json(document));

// The page at /docs, and below it the files it loads (/docs/<swagger-ui version>/swagger-ui.css, …).
app.route('/docs', docsPage({ specUrl: '/openapi.json', title: 'Orders API' }));
