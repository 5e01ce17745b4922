// The `weir` command from source, for this repository's own scripts (`npm run worker`):
// node --conditions=weir-source --import tsx scripts/weir.mjs COMMAND …
const { main } = await import('../src/cli/main.ts');
await main(process.argv.slice(2));
