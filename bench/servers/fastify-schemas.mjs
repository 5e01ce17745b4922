// The schema benchmark's fastify server (see bench/schemas.mjs): the routes of servers/weir-schemas.mjs
// with the same rules as JSON Schemas, as a fastify user writes them. fastify validates params and body
// with ajv (its defaults: coerceTypes 'array', so the id param "7" becomes 7) and serialises each answer
// with fast-json-stringify compiled from `schema.response`; /json-noschema/:id has no response schema and
// goes through JSON.stringify. The same data as weir's (bench/schemas/data.mjs). Where the rules differ at
// the edges: ajv's coercion (fastify's default) applies to the body too, so "age": "36" passes as 36 and
// "tags": [1] as ["1"], and it takes an id written "+7", " 7" or "1e1", all of which weir's schemas
// refuse; ajv counts string lengths in code points, valibot in UTF-16 units. The benchmark's requests
// meet none of these. Logger off; `server` set by the handlers as in servers/fastify.mjs.
import Fastify from 'fastify';
import { createdUser, EMAIL_PATTERN, userOf } from '../schemas/data.mjs';

const port = Number(process.env.PORT ?? 3000);

/** An object schema whose properties are all required, as valibot's v.object() makes them. */
const object = (properties) => ({ type: 'object', properties, required: Object.keys(properties) });
const string = { type: 'string' };
const integer = { type: 'integer' };
const UserIn = object({
  name: { type: 'string', minLength: 1, maxLength: 64 },
  email: { type: 'string', pattern: EMAIL_PATTERN },
  age: { type: 'integer', minimum: 0, maximum: 150 },
  tags: { type: 'array', items: { type: 'string', maxLength: 32 }, maxItems: 8 },
});
const User = object({
  id: integer,
  name: string,
  email: string,
  age: integer,
  tags: { type: 'array', items: string },
  createdAt: string,
});
const Id = object({ id: { type: 'integer', minimum: 1, maximum: 999_999_999 } });
const Profile = object({
  id: integer,
  username: string,
  name: string,
  email: string,
  age: integer,
  active: { type: 'boolean' },
  score: { type: 'number' },
  createdAt: string,
  address: object({ street: string, city: string, zip: string }),
  tasks: { type: 'array', items: object({ id: integer, title: string, done: { type: 'boolean' } }) },
});

const app = Fastify({ logger: false });
let count = 0;
app.post('/users', { schema: { body: UserIn, response: { 201: User } } }, (request, reply) => {
  reply.code(201).header('server', 'fastify');
  return createdUser(++count, request.body);
});
app.get('/users/:id', { schema: { params: Id, response: { 200: Profile } } }, (request, reply) => {
  reply.header('server', 'fastify');
  return userOf(request.params.id);
});
app.get('/json-noschema/:id', { schema: { params: Id } }, (request, reply) => {
  reply.header('server', 'fastify');
  return userOf(request.params.id);
});

await app.listen({ port, host: '127.0.0.1' });
console.log(`fastify listening on http://127.0.0.1:${port}`);
