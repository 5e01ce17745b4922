/**
 * The service describes itself: `GET /openapi.json`, the OpenAPI 3.1 document weir builds from the routes
 * and their schemas, built once, at start, so that a schema it cannot describe is logged then; and
 * `GET /docs`, the page that renders it (swagger-ui, served from the app: it works offline).
 */
import { type App, WeirResponse } from 'weir';
import { docsPage } from 'weir/openapi';

export function addApiDocs(app: App): void {
  let document: string | undefined;
  const build = () =>
    JSON.stringify(
      app.openapi({
        info: {
          title: 'weir reference service',
          version: '1.0.0',
          description: 'The TechEmpower test types, accounts, jobs and the rest of weir’s reference service.',
        },
      }),
    );
  app.onStart(() => {
    document = build();
  });
  app.route('/docs', docsPage({ specUrl: '/openapi.json', title: 'weir reference service' }));
  app.get('/openapi.json', { hidden: true, shed: false }, () => {
    document ??= build();
    return new WeirResponse(document, 200, { 'content-type': 'application/json' });
  });
}
