import { App } from 'weir';

const app = new App();
app.get('/', () => 'Hello, World');
app.get('/hello/:name', (ctx) => `Hello, ${ctx.params.name}`);
app.get('/json', () => ({ message: 'Hello, World!' }));

await app.listen({ port: Number(process.env.PORT ?? 8080) });
