import Type, { type Static } from 'typebox';
import { App } from 'weir';
import { typebox } from 'weir/schema/typebox';

export const app = new App();

// Path params and query strings arrive as strings: `coerce: true` lets ajv parse them.
const BookId = typebox(Type.Object({ id: Type.Integer({ minimum: 1 }) }), { coerce: true });
const NewBook = typebox(
  Type.Object({
    title: Type.String({ minLength: 1, maxLength: 200 }),
    isbn: Type.Optional(Type.String({ pattern: '^[0-9-]{10,17}$' })),
    tags: Type.Array(Type.String({ maxLength: 32 }), { maxItems: 8, default: [] }),
  }),
);
const BookSchema = Type.Object({ id: Type.Integer(), title: Type.String(), tags: Type.Array(Type.String()) });
const Book = typebox(BookSchema);
const Problem = typebox(Type.Object({ error: Type.String() }));

const books = new Map<number, Static<typeof BookSchema>>();

app.post('/books', { schema: { body: NewBook, response: { 201: Book } } }, (ctx) => {
  // ctx.body: { title: string; isbn?: string; tags: string[] }, tags filled in when absent
  const book = { id: books.size + 1, title: ctx.body.title, tags: ctx.body.tags };
  books.set(book.id, book);
  return ctx.reply(201, book);
});

app.get('/books/:id', { schema: { params: BookId, response: { 200: Book, 404: Problem } } }, (ctx) => {
  return books.get(ctx.params.id) ?? ctx.reply(404, { error: 'No such book' });
});
