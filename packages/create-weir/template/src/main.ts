import './env.ts';
import { app } from './app.ts';

// SIGTERM and SIGINT drain the requests in flight (10 s at most), then the process exits.
await app.listen({
  port: Number(process.env.PORT ?? 8080),
  host: process.env.HOST ?? '127.0.0.1',
});
