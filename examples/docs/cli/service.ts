import { App } from 'weir';

// weir serve, dev and routes load this module and use the App it exports (as default, or as `app`).
const app = new App();
app.get('/', () => 'Hello from weir serve');
app.get('/hello/:name', (ctx) => `Hello, ${ctx.params.name}`);
app.post('/echo', async (ctx) => ctx.json());

export default app;
