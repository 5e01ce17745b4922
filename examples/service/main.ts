/**
 * `npm start`: the reference service on embedded defaults, on http://127.0.0.1:8080
 * (PORT and HOST change the address). SIGTERM or Ctrl-C shut it down gracefully.
 */
import { createServiceApp } from './app.ts';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';

const app = createServiceApp();
await app.listen({ port, host });
