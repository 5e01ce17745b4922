import { App } from 'weir';

/** The app: routes and middleware. main.ts serves it; the tests call it through inject(). */
export const app = new App();

app.get('/', () => 'Hello, World');
app.get('/hello/:name', (ctx) => `Hello, ${ctx.params.name}`);
app.get('/json', () => ({ message: 'Hello, World!' }));
