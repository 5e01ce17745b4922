// Type-level tests: `tsc --noEmit` (run by `npm test`) fails if any of these stops holding.
import { App, type Context, type PathParams } from 'weir';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_ok: T): void {}

expectType<Equal<PathParams<'/hello/:name'>, { readonly name: string }>>(true);
expectType<Equal<PathParams<'/orgs/:org/repos/:repo?'>, { readonly org: string; readonly repo?: string }>>(
  true,
);
expectType<Equal<PathParams<'/static/*'>, { readonly '*': string }>>(true);
expectType<Equal<PathParams<'/plain'>, {}>>(true);
expectType<Equal<PathParams<string>, Readonly<Record<string, string | undefined>>>>(true);

const app = new App<{ user?: { id: number } }>({ logger: false });

app.get('/hello/:name', (ctx) => {
  expectType<Equal<typeof ctx.params.name, string>>(true);
  // @ts-expect-error: the path declares no "id" param
  ctx.params.id;
  return ctx.params.name;
});

app.get('/posts/:id?', (ctx) => {
  expectType<Equal<typeof ctx.params.id, string | undefined>>(true);
});

app.get(
  '/users/:id',
  async (ctx, next) => {
    ctx.state.user = { id: 1 };
    await next();
  },
  (ctx) => {
    expectType<Equal<typeof ctx.params.id, string>>(true);
    expectType<Equal<typeof ctx.state.user, { id: number } | undefined>>(true);
  },
);

app.post('/upload', { bodyLimitBytes: 10 }, async (ctx) => {
  const body = await ctx.json<{ a: number }>();
  expectType<Equal<typeof body, { a: number }>>(true);
  // @ts-expect-error: state keys the App does not declare do not exist
  ctx.state.other;
});

export function takesContext(ctx: Context<'/a/:b'>): string {
  return ctx.params.b;
}
