// Type-level tests of weir/openapi's docsPage(): `tsc --noEmit` (run by `npm test`) fails if any stops holding.
import { App } from 'weir';
import { type DocsPageOptions, docsPage } from 'weir/openapi';

export function mounts(): void {
  // It mounts on an app whatever that app's state: its type follows the app it is mounted on.
  new App().route('/docs', docsPage());
  const typed = new App<{ user: { id: number } }>();
  typed.route('/docs', docsPage({ specUrl: '/openapi.json', title: 'Orders' }));
  typed.route('/reference', docsPage<{ user: { id: number } }>());
  const options: DocsPageOptions = { title: 'Orders' };
  docsPage(options);
  // @ts-expect-error: the spec URL is a string
  docsPage({ specUrl: new URL('http://127.0.0.1/openapi.json') });
  // @ts-expect-error: no such option
  docsPage({ cdn: 'https://unpkg.com' });
}
