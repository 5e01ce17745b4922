// The schema benchmark's weir server (see bench/schemas.mjs), from the compiled build (run `npm run build`
// at the repo root first): routes with valibot schemas, written as a user writes them. weir validates the
// params and the body before the handler runs, and checks the answer against the response schema of its
// status (on by default: NODE_ENV=production means 'warn', validate then send). RESPONSE_SCHEMAS sets the
// App's `responseSchemas` ('error', 'warn' or 'off'; unset: weir's default): with 'off' the answer is not
// checked, only written by the compiled serialiser, as fastify does (the runner's weir-unchecked). The same
// routes and data as servers/fastify-schemas.mjs (bench/schemas/data.mjs):
//   POST /users             body UserIn, 201 User (id from a counter)
//   GET /users/:id          params Id, 200 Profile (ten fields, an address, five tasks)
//   GET /json-noschema/:id  params Id, the same Profile with no response schema: plain JSON.stringify
// VALIDATOR=typebox (the runner's weir-typebox) gives the same rules as TypeBox schemas through
// weir/schema/typebox (ajv's compiled code, fastify's validator), the id coerced from its string by ajv.
import * as v from 'valibot';
import { App } from '../../dist/index.js';
import { createdUser, EMAIL_PATTERN, userOf } from '../schemas/data.mjs';

const port = Number(process.env.PORT ?? 3000);
// A variable of this server, not of weir (which reads none of this name); the App refuses unknown values.
const responseSchemas = process.env.RESPONSE_SCHEMAS || undefined;

const int = v.pipe(v.number(), v.integer());
const UserIn = v.object({
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  email: v.pipe(v.string(), v.regex(new RegExp(EMAIL_PATTERN))),
  age: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(150)),
  tags: v.pipe(v.array(v.pipe(v.string(), v.maxLength(32))), v.maxLength(8)),
});
const User = v.object({
  id: int,
  name: v.string(),
  email: v.string(),
  age: int,
  tags: v.array(v.string()),
  createdAt: v.string(),
});
// "7" arrives as the string "7": digits only, then a number.
const Id = v.object({ id: v.pipe(v.string(), v.regex(/^\d{1,9}$/), v.transform(Number), v.minValue(1)) });
const Profile = v.object({
  id: int,
  username: v.string(),
  name: v.string(),
  email: v.string(),
  age: int,
  active: v.boolean(),
  score: v.number(),
  createdAt: v.string(),
  address: v.object({ street: v.string(), city: v.string(), zip: v.string() }),
  tasks: v.array(v.object({ id: int, title: v.string(), done: v.boolean() })),
});

const schemas = process.env.VALIDATOR === 'typebox' ? await typeboxSchemas() : { UserIn, User, Id, Profile };

/** The same rules in TypeBox (as fastify-schemas.mjs states them in JSON Schema). */
async function typeboxSchemas() {
  const { default: Type } = await import('typebox');
  const { typebox } = await import('../../dist/schema/typebox.js');
  const int = Type.Integer();
  return {
    UserIn: typebox(
      Type.Object({
        name: Type.String({ minLength: 1, maxLength: 64 }),
        email: Type.String({ pattern: EMAIL_PATTERN }),
        age: Type.Integer({ minimum: 0, maximum: 150 }),
        tags: Type.Array(Type.String({ maxLength: 32 }), { maxItems: 8 }),
      }),
    ),
    User: typebox(
      Type.Object({
        id: int,
        name: Type.String(),
        email: Type.String(),
        age: int,
        tags: Type.Array(Type.String()),
        createdAt: Type.String(),
      }),
    ),
    Id: typebox(Type.Object({ id: Type.Integer({ minimum: 1, maximum: 999_999_999 }) }), { coerce: true }),
    Profile: typebox(
      Type.Object({
        id: int,
        username: Type.String(),
        name: Type.String(),
        email: Type.String(),
        age: int,
        active: Type.Boolean(),
        score: Type.Number(),
        createdAt: Type.String(),
        address: Type.Object({ street: Type.String(), city: Type.String(), zip: Type.String() }),
        tasks: Type.Array(Type.Object({ id: int, title: Type.String(), done: Type.Boolean() })),
      }),
    ),
  };
}

const app = new App({ logger: false, responseSchemas });
let count = 0;
app.post('/users', { schema: { body: schemas.UserIn, response: { 201: schemas.User } } }, (ctx) =>
  ctx.reply(201, createdUser(++count, ctx.body)),
);
app.get('/users/:id', { schema: { params: schemas.Id, response: { 200: schemas.Profile } } }, (ctx) =>
  userOf(ctx.params.id),
);
app.get('/json-noschema/:id', { schema: { params: schemas.Id } }, (ctx) => userOf(ctx.params.id));

await app.listen({ port, host: '127.0.0.1', signals: false });
console.log(
  `weir listening on http://127.0.0.1:${port} (${process.env.VALIDATOR || 'valibot'}, responseSchemas: ${responseSchemas ?? 'default'})`,
);
