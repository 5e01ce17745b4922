// The data of the schema benchmark (see bench/schemas.mjs), shared by servers/weir-schemas.mjs and
// servers/fastify-schemas.mjs so that both answer the same bytes: the body wrk POSTs, the rule for an
// email, and the objects each route builds per request.

/** A fixed timestamp, so that two servers' answers are byte for byte the same. */
export const CREATED_AT = '2026-01-01T00:00:00.000Z';

/**
 * The email rule of both servers (a RegExp in weir's valibot schema, `pattern` in fastify's JSON Schema):
 * something without spaces or @, an @, a dot in the domain. Simpler than either library's `email` format,
 * and the same in both.
 */
export const EMAIL_PATTERN = '^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$';

/** The body of every POST /users (post-users.lua sends this text). */
export const NEW_USER = {
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  age: 36,
  tags: ['math', 'engines', 'poetry'],
};

/** The 201 answer of POST /users: the validated `body` under the server's next `id`. */
export const createdUser = (id, body) => ({
  id,
  name: body.name,
  email: body.email,
  age: body.age,
  tags: body.tags,
  createdAt: CREATED_AT,
});

/**
 * The user GET /users/:id and GET /json-noschema/:id answer, built per request from `id`: ten fields, a
 * nested address and five tasks, in the order of the response schemas' properties.
 */
export function userOf(id) {
  const tasks = [];
  for (let i = 1; i <= 5; i++)
    tasks.push({ id: id * 10 + i, title: `Task ${i} of user ${id}`, done: i % 2 === 0 });
  return {
    id,
    username: `user${id}`,
    name: `User ${id}`,
    email: `user${id}@example.com`,
    age: 20 + (id % 50),
    active: id % 2 === 1,
    score: (id % 1000) / 8,
    createdAt: CREATED_AT,
    address: { street: `${id} Main Street`, city: 'Springfield', zip: String(10000 + (id % 90000)) },
    tasks,
  };
}
