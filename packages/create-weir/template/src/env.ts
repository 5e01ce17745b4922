import { existsSync } from 'node:fs';

// Settings from .env, when there is one (see .env.example). What the environment already sets wins. A
// module of its own, imported first by main.ts, so the settings are in place before the app is built.
const file = new URL('../.env', import.meta.url);
if (existsSync(file)) process.loadEnvFile(file);
