// The ground every bench/ module stands on: weir bench's modules (src/bench, loaded from source with tsx),
// the paths, and small helpers for commands and packages.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';

// weir bench's modules, from source: a runner needs no build of weir for them (the servers it measures
// load no tsx; only this process does).
export const weirBench = await tsImport('../../src/bench/index.ts', import.meta.url);
export const {
  parseWrk,
  toMs,
  wrkCounts,
  wrkPercentiles,
  median,
  fmtInt,
  fmtMs,
  fmtPct,
  fmtRatio,
  rotation,
} = weirBench;

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const ROOT = dirname(BENCH_DIR);
export const HOST = '127.0.0.1'; // never anything else

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `command` is on PATH. */
export const have = (command) => weirBench.findOnPath(command, process.env.PATH) !== undefined;

/** A command's stdout and stderr, trimmed. */
export function output(command, args, cwd) {
  const result = spawnSync(command, args, { encoding: 'utf8', cwd });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
}

/**
 * Runs a step in `cwd` (the repo root by default), its output shown after `name: $ command`; throws if
 * it fails. Paths under the repo are shown relative to it, and a step run elsewhere says where.
 */
export function runStep(name, command, args, cwd = ROOT) {
  const shown = [command, ...args].map((a) => (a.startsWith(ROOT) ? relative(ROOT, a) : a)).join(' ');
  const where = relative(ROOT, cwd);
  console.log(`${name}: $ ${shown}${cwd === ROOT ? '' : `   (in ${where.startsWith('..') ? cwd : where})`}`);
  const result = spawnSync(command, args, {
    cwd,
    stdio: 'inherit',
    env: { ...process.env, npm_config_loglevel: process.env.npm_config_loglevel ?? 'error' },
  });
  if (result.status !== 0) throw new Error(`\`${shown}\` failed (exit ${result.status ?? result.signal})`);
}

/**
 * The command as it was typed, for the report: the runner at `url` (or `npm run <npmScript>`), its
 * arguments, and in front the env variables starting with `envPrefix`, if one is given.
 */
export function invocation(url, npmScript, envPrefix) {
  const knobs = envPrefix
    ? Object.entries(process.env)
        .filter(([name]) => name.startsWith(envPrefix))
        .map(([name, value]) => `${name}=${value} `)
        .join('')
    : '';
  const args = process.argv.slice(2).join(' ');
  const viaNpm = process.env.npm_lifecycle_event === npmScript;
  const file = fileURLToPath(url);
  const base = viaNpm ? `npm run ${npmScript}` : `node ${relative(process.cwd(), file) || basename(file)}`;
  return `${knobs}${base}${args ? (viaNpm ? ` -- ${args}` : ` ${args}`) : ''}`;
}

/** The version of package `name` installed in `dir`/node_modules, or 'n/a'. */
export const versionOf = (dir, name) => {
  try {
    return JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'n/a';
  }
};
