#!/usr/bin/env node

// What a route schema's validation costs per request body, for each Standard Schema library weir
// supports (zod 4, valibot, arktype) and for TypeBox through weir/schema/typebox (ajv's compiled code; from
// dist/, so `npm run build` first), to choose the one the docs recommend. One process pinned to one
// core runs each validator over the same bodies through its Standard Schema `validate` (what weir calls):
// a valid body (an order: a customer, 3 items, a coupon) and an invalid one (3 issues). --rounds rounds,
// the validators' order rotated, each a timed loop of --iterations after a warm-up of the same count;
// reported: ns per validation, median over rounds, and ÷ the fastest. In-process on purpose: this is the
// validator alone; the HTTP cost of a validated POST is measured against fastify in bench/schemas.mjs.
//
//   node bench/validators.mjs                     (about 30 s; writes bench/RESULTS-validators.md)
//   node bench/validators.mjs --rounds 1 --iterations 20000 --out /tmp/validators.md

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { type } from 'arktype';
import Type from 'typebox';
import * as v from 'valibot';
import { z } from 'zod';
import { machineFacts } from './lib/machine.mjs';
import { medianOf } from './lib/stats.mjs';

const { typebox } = await import('../dist/schema/typebox.js');

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    iterations: { type: 'string', default: '200000' },
    out: { type: 'string', default: new URL('./RESULTS-validators.md', import.meta.url).pathname },
    child: { type: 'boolean', default: false },
  },
});

// Pinned: re-run this script on core 0 unless already there.
if (!values.child) {
  try {
    execFileSync('taskset', ['-c', '0', process.execPath, ...process.argv.slice(1), '--child'], {
      stdio: 'inherit',
    });
  } catch (err) {
    process.exitCode = err.status ?? 1;
  }
  process.exit();
}

// The order's fields but its note, as arktype writes them (the two arktype variants differ by the note).
const arktypeOrder = {
  customer: { id: 'number.integer > 0', email: 'string.email' },
  items: type({ sku: '0 < string <= 32', quantity: '1 <= number.integer <= 100' })
    .array()
    .atLeastLength(1)
    .atMostLength(50),
  'coupon?': 'string <= 16',
};

const schemas = {
  zod: z.object({
    customer: z.object({ id: z.number().int().positive(), email: z.email() }),
    items: z
      .array(z.object({ sku: z.string().min(1).max(32), quantity: z.number().int().min(1).max(100) }))
      .min(1)
      .max(50),
    coupon: z.string().max(16).optional(),
    note: z.string().max(500).default(''),
  }),
  valibot: v.object({
    customer: v.object({
      id: v.pipe(v.number(), v.integer(), v.minValue(1)),
      email: v.pipe(v.string(), v.email()),
    }),
    items: v.pipe(
      v.array(
        v.object({
          sku: v.pipe(v.string(), v.minLength(1), v.maxLength(32)),
          quantity: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100)),
        }),
      ),
      v.minLength(1),
      v.maxLength(50),
    ),
    coupon: v.optional(v.pipe(v.string(), v.maxLength(16))),
    note: v.optional(v.pipe(v.string(), v.maxLength(500)), ''),
  }),
  arktype: type({ ...arktypeOrder, note: type('string <= 500').default('') }),
  // The same without the note's default: in arktype a default makes the object a morph, a slower path.
  'arktype, no default': type({ ...arktypeOrder, 'note?': 'string <= 500' }),
  // weir's adapter validates on a copy of the top level and fills the note in place (ajv's useDefaults):
  // from the second pass over a body on, its note is there already (one key less to fill).
  'typebox, weir/schema/typebox': typebox(
    Type.Object({
      customer: Type.Object({ id: Type.Integer({ minimum: 1 }), email: Type.String({ format: 'email' }) }),
      items: Type.Array(
        Type.Object({
          sku: Type.String({ minLength: 1, maxLength: 32 }),
          quantity: Type.Integer({ minimum: 1, maximum: 100 }),
        }),
        { minItems: 1, maxItems: 50 },
      ),
      coupon: Type.Optional(Type.String({ maxLength: 16 })),
      note: Type.Optional(Type.String({ maxLength: 500, default: '' })),
    }),
  ),
};

const valid = {
  customer: { id: 42, email: 'ada@example.com' },
  items: [
    { sku: 'A-1', quantity: 2 },
    { sku: 'B-22', quantity: 1 },
    { sku: 'C-333', quantity: 10 },
  ],
  coupon: 'WELCOME',
};
const invalid = {
  customer: { id: -1, email: 'not-an-email' },
  items: [{ sku: '', quantity: 2 }],
  coupon: 'WELCOME',
};

// Sanity: each accepts the valid body and finds issues in the invalid one.
for (const [name, schema] of Object.entries(schemas)) {
  const ok = schema['~standard'].validate(structuredClone(valid));
  const bad = schema['~standard'].validate(structuredClone(invalid));
  if (ok.issues !== undefined || bad.issues === undefined) throw new Error(`${name}: unexpected result`);
}

const iterations = Number(values.iterations);
const rounds = Number(values.rounds);
// A fresh copy per call, as a parsed request body is: no validator may profit from seeing one object twice.
const validBodies = Array.from({ length: 1024 }, () => structuredClone(valid));
const invalidBodies = Array.from({ length: 1024 }, () => structuredClone(invalid));

function time(schema, bodies) {
  const validate = schema['~standard'].validate;
  let sink = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const result = validate(bodies[i & 1023]);
    if (result.issues === undefined) sink++;
  }
  const ns = Number(process.hrtime.bigint() - started) / iterations;
  return sink < 0 ? 0 : ns;
}

const names = Object.keys(schemas);
const results = Object.fromEntries(names.map((name) => [name, { valid: [], invalid: [] }]));
for (let round = 0; round < rounds; round++) {
  const order = names.map((_, i) => names[(i + round) % names.length]);
  for (const name of order) {
    for (const kind of ['valid', 'invalid']) {
      const bodies = kind === 'valid' ? validBodies : invalidBodies;
      time(schemas[name], bodies); // warm-up
      results[name][kind].push(time(schemas[name], bodies));
    }
  }
  console.log(
    `round ${round + 1}: ${order.map((n) => `${n} ${results[n].valid.at(-1).toFixed(0)}/${results[n].invalid.at(-1).toFixed(0)} ns`).join(', ')}`,
  );
}

const medians = Object.fromEntries(
  names.map((n) => [n, { valid: medianOf(results[n].valid), invalid: medianOf(results[n].invalid) }]),
);
const fastest = {
  valid: Math.min(...names.map((n) => medians[n].valid)),
  invalid: Math.min(...names.map((n) => medians[n].invalid)),
};
// bench/ has its own zod, valibot and arktype; TypeBox (a devDependency of weir) comes from the root.
const version = (pkg) => {
  for (const dir of ['./node_modules/', '../node_modules/']) {
    try {
      return JSON.parse(readFileSync(new URL(`${dir}${pkg}/package.json`, import.meta.url), 'utf8')).version;
    } catch {
      // not in this folder
    }
  }
  return '?';
};
const rows = names.map(
  (n) =>
    `| ${n.replace(/^(\w+)/, (pkg) => `${pkg} ${version(pkg)}`)} | ${medians[n].valid.toFixed(0)} | ${(medians[n].valid / fastest.valid).toFixed(2)} | ${medians[n].invalid.toFixed(0)} | ${(medians[n].invalid / fastest.invalid).toFixed(2)} |`,
);
const { cpuModel, node, commit } = machineFacts();
const facts = `${cpuModel} (${cpus().length} cores, this run pinned to one), Node ${node}, weir ${commit}`;
const report = `# Validation cost per request body: zod, valibot, arktype, TypeBox

Machine: ${facts}.
Command: \`node bench/validators.mjs --rounds ${rounds} --iterations ${iterations}\` (one process pinned to core 0;
each validator's Standard Schema \`validate\`, what weir calls, over fresh copies of the same body; a warm-up
of the same length before each timed loop; the validators' order rotated each round; medians over rounds).

The body is an order: a customer (a positive integer id, an email), 1 to 50 items (a 1–32 character sku, a
quantity from 1 to 100), an optional coupon, a note with a default. The invalid body breaks three rules.

| validator | valid body, ns | ÷ fastest | invalid body (3 issues), ns | ÷ fastest |
| --- | ---: | ---: | ---: | ---: |
${rows.join('\n')}
`;
writeFileSync(values.out, report);
console.log(report);
