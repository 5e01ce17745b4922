// The `weir` command from source, for this repository's own scripts (`npm run worker`):
// node --conditions=weir-source --import tsx scripts/weir.mjs COMMAND …
const { run } = await import('../src/cli/main.ts');
process.exitCode = await run(process.argv.slice(2));
