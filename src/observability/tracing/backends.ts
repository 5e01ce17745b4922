/**
 * Spans of weir's backends, made from their tracing channels: database queries, scripts and
 * transactions (`weir:db.query`), cache calls (`weir:cache.call`), jobs added (`weir:queue.add`) and
 * attempts of jobs (`weir:queue.process`). Each span starts on its record's `start`, in the caller's
 * active context (so it nests under the request or job that made it), and ends on `asyncEnd`, or on
 * `end` when the operation threw before it could return a promise.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { type CacheRecord, cacheChannel } from '../../cache/observe.ts';
import { type QueryRecord, type QueryTarget, queryChannel } from '../../db/observe.ts';
import type { TraceCarrier, TraceGetter } from '../../internal/trace.ts';
import { type AddRecord, addChannel, type ProcessRecord, processChannel } from '../../queue/observe.ts';
import type { Api, Attributes, Context, Span, TextMapGetter, TextMapSetter, Tracer } from './api.ts';
import { recordError, suppressKey } from './api.ts';

/** Which backends are traced, and how. */
export interface BackendSettings {
  readonly tracer: Tracer;
  readonly db: boolean;
  readonly cache: boolean;
  readonly jobs: boolean;
  /** The longest `db.query.text` kept; 0 keeps none. */
  readonly maxQueryTextLength: number;
}

/** The kinds of operation traced, each with what its outcome adds to its span. */
type Kind = 'db' | 'cache' | 'add' | 'process';

/** A traced operation's span, the context user code inside it runs in, and its kind. */
interface Traced {
  readonly span: Span;
  readonly context: Context;
  readonly kind: Kind;
}

const carrierSetter: TextMapSetter<TraceCarrier> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};
const jobGetter: TextMapGetter<TraceGetter> = {
  keys: () => [],
  get: (read, key) => read(key),
};

/** A channel, by its name. */
interface Named {
  readonly name: string | symbol;
}

/** The channels of a tracing channel that spans are made and ended on. */
interface Channels {
  readonly start: Named;
  readonly end: Named;
  readonly error: Named;
  readonly asyncEnd: Named;
}

/** The first keyword of a statement: its operation (`SELECT`, `INSERT`, `WITH` …). */
const KEYWORD = /^\s*(?:--[^\n]*\n\s*|\/\*[\s\S]*?\*\/\s*)*([A-Za-z]+)/;

export class BackendSpans {
  readonly #api: Api;
  readonly #settings: BackendSettings;
  readonly #suppress: symbol;
  readonly #traced = new WeakMap<object, Traced>();
  readonly #targets = new WeakMap<QueryTarget, Attributes>();
  readonly #subscriptions: [string | symbol, (message: unknown) => void][] = [];

  constructor(api: Api, settings: BackendSettings) {
    this.#api = api;
    this.#settings = settings;
    this.#suppress = suppressKey(api);
  }

  /** Subscribes to the backends' channels. */
  install(): void {
    if (this.#settings.db) this.#on(queryChannel, this.#query);
    if (this.#settings.cache) this.#on(cacheChannel, this.#cache);
    if (this.#settings.jobs) {
      this.#on(addChannel, this.#add);
      this.#on(processChannel, this.#process);
    }
  }

  /** Subscribes to a tracing channel: `start` makes the span, the others end it. */
  #on(channels: Channels, start: (record: never) => void): void {
    const listeners: [Named, (message: unknown) => void][] = [
      [channels.start, start as (message: unknown) => void],
      [channels.end, this.#endSync],
      [channels.error, this.#error],
      [channels.asyncEnd, this.#end],
    ];
    for (const [channel, listener] of listeners) {
      subscribe(channel.name, listener);
      this.#subscriptions.push([channel.name, listener]);
    }
  }

  uninstall(): void {
    for (const [name, listener] of this.#subscriptions) unsubscribe(name, listener);
    this.#subscriptions.length = 0;
  }

  /** Runs `fn` with the span of `record` active (the `around` hook of internal/trace.ts). */
  readonly around = <T>(record: object, fn: () => T): T => {
    const traced = this.#traced.get(record);
    return traced === undefined ? fn() : this.#api.context.with(traced.context, fn);
  };

  /** The caller's context, or `undefined` inside an ignored route. */
  #parent(): Context | undefined {
    const active = this.#api.context.active();
    return active.getValue(this.#suppress) === true ? undefined : active;
  }

  #begin(
    record: object,
    kind: Kind,
    name: string,
    spanKind: number,
    attributes: Attributes,
    parent: Context,
  ): Span {
    const span = this.#settings.tracer.startSpan(name, { kind: spanKind, attributes }, parent);
    this.#traced.set(record, { span, context: this.#api.trace.setSpan(parent, span), kind });
    return span;
  }

  readonly #query = (record: QueryRecord): void => {
    const parent = this.#parent();
    if (parent === undefined) return;
    const api = this.#api;
    const attributes = { ...this.#targetAttributes(record.target) };
    if (record.operation === 'transaction') {
      this.#begin(record, 'db', 'transaction', api.SpanKind.INTERNAL, attributes, parent);
      return;
    }
    // A script's keyword is looked for in its first 2,048 characters: past a longer comment, none.
    const keyword = KEYWORD.exec(record.sql.slice(0, 2048))?.[1]?.toUpperCase();
    if (keyword !== undefined) attributes['db.operation.name'] = keyword;
    const max = this.#settings.maxQueryTextLength;
    if (max > 0) {
      attributes['db.query.text'] = record.sql.length > max ? `${record.sql.slice(0, max)}…` : record.sql;
    }
    const name = keyword ?? (attributes['db.system.name'] as string);
    this.#begin(record, 'db', name, api.SpanKind.CLIENT, attributes, parent);
  };

  /** A database's attributes, made once per database. */
  #targetAttributes(target: QueryTarget): Attributes {
    let attributes = this.#targets.get(target);
    if (attributes === undefined) {
      attributes = {
        'db.system.name': target.engine === 'postgres' ? 'postgresql' : 'sqlite',
        'db.namespace': target.namespace,
      };
      if (target.host !== undefined) attributes['server.address'] = target.host;
      if (target.port !== undefined) attributes['server.port'] = target.port;
      this.#targets.set(target, attributes);
    }
    return attributes;
  }

  readonly #cache = (record: CacheRecord): void => {
    const parent = this.#parent();
    if (parent === undefined) return;
    const { cache } = record;
    const api = this.#api;
    const attributes: Attributes = {
      'weir.cache.backend': cache.backend,
      'weir.cache.namespace': cache.namespace,
    };
    const kind = cache.backend === 'memory' ? api.SpanKind.INTERNAL : api.SpanKind.CLIENT;
    this.#begin(record, 'cache', `cache ${record.operation}`, kind, attributes, parent);
  };

  readonly #add = (record: AddRecord): void => {
    const parent = this.#parent();
    if (parent === undefined) return;
    const api = this.#api;
    const span = this.#begin(
      record,
      'add',
      `send ${record.queue}`,
      api.SpanKind.PRODUCER,
      {
        'messaging.system': record.system,
        'messaging.destination.name': record.queue,
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'send',
        'messaging.message.id': record.id,
      },
      parent,
    );
    api.propagation.inject(api.trace.setSpan(parent, span), record.carrier, carrierSetter);
  };

  readonly #process = (record: ProcessRecord): void => {
    const api = this.#api;
    const root = api.ROOT_CONTEXT;
    // The job's own context, not the consumer loop's: a job's parent is the span that added it.
    const extracted =
      record.context === undefined ? root : api.propagation.extract(root, record.context, jobGetter);
    const sent = api.trace.getSpanContext(extracted);
    const valid = sent !== undefined && api.isSpanContextValid(sent);
    const { job } = record;
    const span = this.#settings.tracer.startSpan(
      `process ${record.queue}`,
      {
        kind: api.SpanKind.CONSUMER,
        attributes: {
          'messaging.system': record.system,
          'messaging.destination.name': record.queue,
          'messaging.operation.type': 'process',
          'messaging.operation.name': 'process',
          'messaging.message.id': job.id,
          'weir.job.attempt': job.attempt,
          'weir.job.max_attempts': job.maxAttempts,
        },
        links: valid ? [{ context: sent }] : undefined,
      },
      valid ? extracted : root,
    );
    this.#traced.set(record, {
      span,
      context: api.trace.setSpan(valid ? extracted : root, span),
      kind: 'process',
    });
  };

  readonly #error = (message: unknown): void => {
    const record = message as { error?: unknown };
    const traced = this.#traced.get(record);
    if (traced !== undefined) recordError(this.#api, traced.span, record.error);
  };

  /** `end`: the operation threw synchronously (its error came first), so no `asyncEnd` follows. */
  readonly #endSync = (message: unknown): void => {
    const record = message as { error?: unknown };
    if (record.error !== undefined && this.#traced.has(record)) this.#end(record);
  };

  readonly #end = (message: unknown): void => {
    const record = message as object;
    const traced = this.#traced.get(record);
    if (traced === undefined) return;
    this.#traced.delete(record);
    finish(this.#api, traced, record);
    traced.span.end();
  };
}

/** What an operation's outcome adds to its span before it ends. */
function finish(api: Api, { span, kind }: Traced, record: object): void {
  if (kind === 'cache') {
    const call = record as CacheRecord;
    if (call.operation === 'wrap' && call.hit !== undefined) {
      span.setAttribute('weir.cache.hit', call.hit);
      if (call.stale === true) span.setAttribute('weir.cache.stale', true);
    } else if (call.operation === 'get' && call.error === undefined) {
      span.setAttribute('weir.cache.hit', call.result !== undefined);
    } else if (call.operation === 'getMany' && Array.isArray(call.result)) {
      span.setAttribute('weir.cache.keys', call.result.length);
      span.setAttribute('weir.cache.hits', call.result.filter((v) => v !== undefined).length);
    }
  } else if (kind === 'add') {
    const added = (record as AddRecord).result;
    if (added !== undefined) {
      span.setAttribute('messaging.message.id', added.id);
      if (added.duplicate) span.setAttribute('weir.job.duplicate', true);
    }
  } else if (kind === 'process') {
    const { outcome, error } = record as ProcessRecord;
    if (outcome !== undefined) span.setAttribute('weir.job.outcome', outcome);
    // A failed attempt whose error was not thrown (past its jobTimeoutMs), or not recorded.
    if (error === undefined && outcome !== undefined && FAILED.has(outcome)) {
      span.setAttribute('error.type', outcome);
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: `job attempt ${outcome}` });
    }
  }
}

const FAILED = new Set(['retried', 'dead', 'timed-out', 'unrecorded']);
