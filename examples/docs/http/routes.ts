import { App } from 'weir';

export const app = new App();

// Static paths are one hash lookup; `:name` params are typed from the path and arrive URL-decoded.
app.get('/', () => 'Hello, World');
app.get('/users/:id', (ctx) => ({ id: ctx.params.id }));
// An optional last param, and a trailing `*` that takes the rest of the path.
app.get('/docs/:page?', (ctx) => `page ${ctx.params.page ?? 'index'}`);
app.get('/files/*', (ctx) => `file ${ctx.params['*']}`);
// The query is parsed on first use: /search?tag=a&tag=b
app.get('/search', (ctx) => ({ limit: ctx.query.limit ?? '20', tags: ctx.queryAll('tag') }));

// Another app mounted under a prefix brings its routes, middleware and hooks along.
const admin = new App();
admin.get('/stats', () => ({ users: 3 }));
app.route('/admin', admin);
