/**
 * The registry of every error code weir itself produces, with the HTTP status each answers with and a
 * one-line summary; `docs/errors.md` documents each one, and a test keeps the two in step. The error
 * classes are in errors.ts, which re-exports this.
 */

/** Every error code weir produces, with the HTTP status it answers with (when it reaches a client). */
export const errorCodes = {
  WEIR_ERR_INVALID_OPTION: { status: 500, summary: 'An option or argument has the wrong type or value.' },
  WEIR_ERR_APP_FROZEN: {
    status: 500,
    summary: 'A route, middleware or hook was added after the app started.',
  },
  WEIR_ERR_ROUTE_INVALID: { status: 500, summary: 'A route path is malformed.' },
  WEIR_ERR_ROUTE_CONFLICT: { status: 500, summary: 'Two routes claim the same method and path.' },
  WEIR_ERR_NEXT_TWICE: { status: 500, summary: 'A middleware called next() more than once.' },
  WEIR_ERR_APP_STOP_FAILED: { status: 500, summary: 'One or more onStop hooks failed.' },
  WEIR_ERR_LISTEN: { status: 500, summary: 'The server could not bind its host and port.' },
  WEIR_ERR_PID_FILE_TAKEN: {
    status: 500,
    summary: 'The pid file of `weir serve --workers` names another running primary.',
  },
  WEIR_ERR_INTERNAL: { status: 500, summary: 'A handler threw something that is not an HttpError.' },
  WEIR_ERR_BAD_REQUEST: {
    status: 400,
    summary: 'The request line, target, URL or Host header is malformed.',
  },
  WEIR_ERR_HTTP_VERSION: { status: 505, summary: 'The request is not HTTP/1.0 or HTTP/1.1.' },
  WEIR_ERR_INVALID_HEADER: {
    status: 500,
    summary: 'A response header set by the app has a name or value that cannot be sent.',
  },
  WEIR_ERR_HEADERS_TOO_LARGE: { status: 431, summary: 'The request head is larger than maxHeaderSizeBytes.' },
  WEIR_ERR_NOT_FOUND: { status: 404, summary: 'No route matches the path.' },
  WEIR_ERR_METHOD_NOT_ALLOWED: { status: 405, summary: 'A route matches the path, but not the method.' },
  WEIR_ERR_BODY_TOO_LARGE: { status: 413, summary: 'The request body is larger than the route allows.' },
  WEIR_ERR_BODY_TOO_SLOW: {
    status: 408,
    summary: 'The request body arrived slower than minBodyRateBytesPerSecond once its grace period passed.',
  },
  WEIR_ERR_BODY_UNSUPPORTED_TYPE: {
    status: 415,
    summary: 'The request body has a Content-Type or Content-Encoding the parser does not accept.',
  },
  WEIR_ERR_BODY_INVALID_JSON: { status: 400, summary: 'The request body is not valid JSON.' },
  WEIR_ERR_BODY_FORBIDDEN_KEY: {
    status: 400,
    summary: 'The JSON body contains a `__proto__` or `constructor.prototype` key.',
  },
  WEIR_ERR_BODY_TOO_DEEP: {
    status: 400,
    summary: 'The JSON body nests arrays and objects deeper than maxJsonDepth.',
  },
  WEIR_ERR_BODY_EMPTY: { status: 400, summary: 'A JSON body was expected, but the request has none.' },
  WEIR_ERR_BODY_ABORTED: { status: 400, summary: 'The client stopped sending the body before it ended.' },
  WEIR_ERR_BODY_BAD_ENCODING: {
    status: 400,
    summary: 'A compressed request body (gzip, deflate, br) is corrupt or truncated.',
  },
  WEIR_ERR_BODY_CONSUMED: { status: 500, summary: 'The request body was already read in another form.' },
  WEIR_ERR_UPLOAD_TOO_LARGE: {
    status: 413,
    summary:
      'A multipart upload passes a size limit: a file (`maxFileBytes`), a field value, a field name or the whole body (`maxTotalBytes`).',
  },
  WEIR_ERR_UPLOAD_TOO_MANY: {
    status: 413,
    summary: 'A multipart upload has more files, fields or parts than `maxFiles`, `maxFields` or `maxParts`.',
  },
  WEIR_ERR_UPLOAD_TYPE: {
    status: 415,
    summary:
      "An uploaded file's first bytes are not of an allowed type, or are not the type its Content-Type claims.",
  },
  WEIR_ERR_UPLOAD_MALFORMED: {
    status: 400,
    summary:
      'A multipart body has no boundary, ends before its closing boundary, or has a part that cannot be read.',
  },
  WEIR_ERR_UPLOAD_NO_SPACE: {
    status: 507,
    summary:
      "Storing an upload would leave less free disk than `minFreeBytes`, or pass the upload folder's quota.",
  },
  WEIR_ERR_FORBIDDEN_PATH: { status: 403, summary: 'A static file path tries to leave its folder.' },
  WEIR_ERR_RANGE_NOT_SATISFIABLE: {
    status: 416,
    summary: 'A Range header asks for bytes the file does not have.',
  },
  WEIR_ERR_REQUEST_TIMEOUT: { status: 503, summary: 'The route did not answer within its timeout.' },
  WEIR_ERR_SHUTTING_DOWN: {
    status: 503,
    summary: 'The server was stopping and the request was still running at the drain deadline.',
  },
  WEIR_ERR_DEADLINE_EXCEEDED: {
    status: 503,
    summary: "A deadline (a request's, or one passed as `deadline`) passed before the work could finish.",
  },
  WEIR_ERR_BACKGROUND_FULL: {
    status: 503,
    summary: '`app.background()` was called past `maxTasks` running tasks, or while the app stops.',
  },
  WEIR_ERR_UPGRADE_REQUIRED: {
    status: 426,
    summary: 'A plain request reached a WebSocket-only path: it must ask for `Upgrade: websocket`.',
  },
  WEIR_ERR_WS_HANDSHAKE: {
    status: 400,
    summary: 'A WebSocket upgrade request has a missing or malformed Sec-WebSocket-Key or -Version.',
  },
  WEIR_ERR_WS_ORIGIN: {
    status: 403,
    summary: "A WebSocket upgrade came from an Origin the route's `origins` option does not allow.",
  },
  WEIR_ERR_WS_FULL: {
    status: 503,
    summary: 'A WebSocket route already holds its `maxConnections` sockets.',
  },
  WEIR_ERR_WS_HANDSHAKE_TIMEOUT: {
    status: 408,
    summary: "The upgrade's middleware did not finish within the route's `handshakeTimeoutMs`.",
  },
  WEIR_ERR_WS_ROOMS_URL: {
    status: 500,
    summary: '`rooms()` was given a URL whose scheme it does not know (memory:, redis://, rediss://).',
  },
  WEIR_ERR_WS_ROOMS_DRIVER_MISSING: {
    status: 500,
    summary: '`rooms()` with a redis:// URL needs the `ioredis` package, which is not installed.',
  },
  WEIR_ERR_WS_ROOMS_UNAVAILABLE: {
    status: 503,
    summary: "The rooms hub's Redis could not be reached when it opened, or refused a broadcast.",
  },
  WEIR_ERR_PASSWORD_TOO_LONG: { status: 400, summary: 'A password is longer than 1,024 UTF-8 bytes.' },
  WEIR_ERR_PASSWORD_BUSY: {
    status: 503,
    summary: 'More password hashes wait for their turn than `configurePasswords({ maxWaiting })` allows.',
  },
  WEIR_ERR_PASSWORD_HASH: {
    status: 500,
    summary: 'A stored password hash is not a scrypt hash weir can read.',
  },
  WEIR_ERR_SESSION_STORE: {
    status: 503,
    summary: 'The session store (Redis, the SQL database) did not answer, failed, or was closed.',
  },
  WEIR_ERR_SESSION_DATA: {
    status: 500,
    summary: 'Session data is not JSON, or is larger than `session({ maxDataBytes })`.',
  },
  WEIR_ERR_NO_SESSION: {
    status: 500,
    summary:
      '`ctx.session` was read, or `requireAuth()` without `token` or `jwt` ran, on a route that the `session()` middleware does not wrap.',
  },
  WEIR_ERR_UNAUTHENTICATED: {
    status: 401,
    summary: 'A route behind `requireAuth()` was called with no session user and no bearer token.',
  },
  WEIR_ERR_INVALID_TOKEN: {
    status: 401,
    summary:
      'A bearer token is malformed, expired, badly signed, signed with a refused algorithm, or unknown.',
  },
  WEIR_ERR_JWKS_UNAVAILABLE: {
    status: 503,
    summary:
      'The JWKS endpoint of `requireAuth({ jwt })` could not be read, so a bearer token was not checked.',
  },
  WEIR_ERR_FORBIDDEN: {
    status: 403,
    summary: 'The authenticated user lacks a role or scope that `requireAuth()` requires.',
  },
  WEIR_ERR_CSRF: {
    status: 403,
    summary: 'An unsafe request with cookies came from another site, or without the CSRF token it needed.',
  },
  WEIR_ERR_RATE_LIMITED: {
    status: 429,
    summary:
      'The client spent its allowance of a `rateLimit()` policy; `Retry-After` says when to come back.',
  },
  WEIR_ERR_RATE_LIMIT_UNAVAILABLE: {
    status: 503,
    summary: 'A rate limit failing closed (`onStoreError: "closed"`) could not reach its store.',
  },
  WEIR_ERR_VALIDATION: {
    status: 400,
    summary: "A request's params, query, headers or body break the route's schema.",
  },
  WEIR_ERR_RESPONSE_SCHEMA: {
    status: 500,
    summary: "A route's response breaks its `schema.response` (with `responseSchemas: 'error'`).",
  },
  WEIR_ERR_BAD_DEADLINE: {
    status: 400,
    summary: 'A trusted deadline header (`X-Request-Deadline`, `grpc-timeout`) is malformed.',
  },
  WEIR_ERR_OVERLOADED: { status: 503, summary: 'The server is past capacity and shed the request.' },
  WEIR_ERR_TIMEOUT: { status: 503, summary: 'timeout() ran out before the work finished.' },
  WEIR_ERR_QUEUE_CLOSED: { status: 500, summary: 'A closed Queue was put to, or read after it drained.' },
  WEIR_ERR_QUEUE_FULL: { status: 500, summary: 'putNowait() on a full Queue.' },
  WEIR_ERR_QUEUE_EMPTY: { status: 500, summary: 'getNowait() on an empty Queue.' },
  WEIR_ERR_SEMAPHORE_FULL: { status: 503, summary: 'More callers wait for a Semaphore than its maxWaiting.' },
  WEIR_ERR_TASKGROUP_CLOSED: { status: 500, summary: 'spawn() on a TaskGroup that has been left.' },
  WEIR_ERR_WORKER_QUEUE_FULL: {
    status: 503,
    summary: 'The worker pool queue is full; runInWorker() refused the task.',
  },
  WEIR_ERR_DB_URL: {
    status: 500,
    summary: 'DATABASE_URL is malformed or names an engine weir does not support.',
  },
  WEIR_ERR_DB_DRIVER_MISSING: {
    status: 500,
    summary: 'The driver package for the database engine is not installed.',
  },
  WEIR_ERR_DB_UNAVAILABLE: {
    status: 503,
    summary: 'The database cannot be reached, or no connection came free in time.',
  },
  WEIR_ERR_DB_RETRY: {
    status: 503,
    summary: 'A transient conflict (deadlock, serialization failure, lock or statement timeout, busy file).',
  },
  WEIR_ERR_DB_UNIQUE_VIOLATION: { status: 409, summary: 'A row with the same unique key already exists.' },
  WEIR_ERR_DB_FOREIGN_KEY_VIOLATION: {
    status: 422,
    summary: 'A row refers to a row that does not exist, or is still referred to.',
  },
  WEIR_ERR_DB_CONSTRAINT_VIOLATION: {
    status: 422,
    summary: 'A NOT NULL or CHECK constraint refused a value.',
  },
  WEIR_ERR_DB_NOT_FOUND: { status: 404, summary: 'one() found no row.' },
  WEIR_ERR_DB_TOO_MANY_ROWS: { status: 500, summary: 'one() or maybeOne() found more than one row.' },
  WEIR_ERR_DB_QUERY: { status: 500, summary: 'The database rejected a query (syntax, missing table, type).' },
  WEIR_ERR_DB_INTEGER_OVERFLOW: {
    status: 500,
    summary: 'An int8 value is beyond ±(2^53 - 1), which a JavaScript number cannot hold exactly.',
  },
  WEIR_ERR_DB_PARAM: { status: 500, summary: 'A query parameter has a type no engine can store.' },
  WEIR_ERR_DB_CLOSED: { status: 500, summary: 'A query was made after the database was closed.' },
  WEIR_ERR_DB_MIGRATION: { status: 500, summary: 'A migration file failed; nothing of it was applied.' },
  WEIR_ERR_CACHE_URL: {
    status: 500,
    summary: 'CACHE_URL is malformed or names a backend weir does not support.',
  },
  WEIR_ERR_CACHE_DRIVER_MISSING: {
    status: 500,
    summary: 'The Redis cache needs the ioredis package, which is not installed.',
  },
  WEIR_ERR_CACHE_CLOSED: { status: 500, summary: 'The cache was used after close().' },
  WEIR_ERR_CACHE_UNAVAILABLE: {
    status: 503,
    summary: 'cache.add() could not reach the backend, so it cannot say whether the key was claimed.',
  },
  WEIR_ERR_IDEMPOTENCY_KEY_MISSING: {
    status: 400,
    summary: 'idempotency({ required: true }) and the request has no Idempotency-Key header.',
  },
  WEIR_ERR_IDEMPOTENCY_KEY_INVALID: {
    status: 400,
    summary: 'The Idempotency-Key header is empty, too long, or not printable ASCII.',
  },
  WEIR_ERR_IDEMPOTENCY_IN_PROGRESS: {
    status: 409,
    summary: 'A request with the same Idempotency-Key is still running; Retry-After says when to retry.',
  },
  WEIR_ERR_IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    summary: 'The Idempotency-Key was already used for a request with another body.',
  },
  WEIR_ERR_IDEMPOTENCY_NOT_REPLAYABLE: {
    status: 409,
    summary: 'The request with this Idempotency-Key ran, but its response was too large or streamed to keep.',
  },
  WEIR_ERR_IDEMPOTENCY_UNAVAILABLE: {
    status: 503,
    summary: 'The cache that holds idempotency keys does not answer, so no key can be checked.',
  },
  WEIR_ERR_JOBS_URL: {
    status: 500,
    summary: 'QUEUE_URL is malformed or names a backend weir does not support.',
  },
  WEIR_ERR_JOBS_DRIVER_MISSING: {
    status: 500,
    summary: 'The client package for the job queue backend is not installed.',
  },
  WEIR_ERR_JOBS_UNAVAILABLE: {
    status: 503,
    summary: 'The job queue backend cannot be reached, or did not confirm a job in time.',
  },
  WEIR_ERR_JOBS_DATA: { status: 500, summary: 'Job data is not JSON, or larger than maxDataBytes.' },
  WEIR_ERR_JOBS_CLOSED: { status: 500, summary: 'A job queue or consumer was used after close().' },
  WEIR_ERR_JOBS_TIMEOUT: {
    status: 500,
    summary: "A job's attempt ran past its jobTimeoutMs; its handler's signal aborted with this reason.",
  },
  WEIR_ERR_JOBS_NAME_TAKEN: {
    status: 500,
    summary: "A broker resource the queue's name maps to exists and belongs to something else.",
  },
  WEIR_ERR_CLIENT_NETWORK: {
    status: 502,
    summary: 'A call of weir/client got no response: the connection was refused, reset or failed.',
  },
  WEIR_ERR_CLIENT_TIMEOUT: {
    status: 504,
    summary: 'A call of weir/client had no complete response within its `timeoutMs`.',
  },
  WEIR_ERR_CLIENT_RESPONSE: {
    status: 502,
    summary: 'A response to weir/client says its body is JSON, and the body is not JSON.',
  },
  WEIR_ERR_UPSTREAM_TIMEOUT: {
    status: 504,
    summary:
      'A call of weir/http-client had no complete response in time (connect, headers, body or total timeout), or the upstream answered 504.',
  },
  WEIR_ERR_UPSTREAM_UNAVAILABLE: {
    status: 502,
    summary:
      'A call of weir/http-client found the upstream refusing or resetting connections, answering 502 or 503, or behind an open circuit breaker.',
  },
  WEIR_ERR_UPSTREAM_STATUS: {
    status: 502,
    summary: 'A JSON call of weir/http-client got a status that is not 2xx (`details.status` says which).',
  },
  WEIR_ERR_UPSTREAM_TOO_LARGE: {
    status: 502,
    summary: "A response to weir/http-client has a body larger than the client's `maxBodyBytes`.",
  },
  WEIR_ERR_UPSTREAM_INVALID: {
    status: 502,
    summary: 'A JSON call of weir/http-client got a body that is not JSON, or that breaks its schema.',
  },
  WEIR_ERR_BENCH_ENGINE: {
    status: 500,
    summary: 'weir bench has no load generator (wrk, autocannon), or the one it ran failed.',
  },
  WEIR_ERR_TRACING_API_MISSING: {
    status: 500,
    summary: 'tracing() needs the @opentelemetry/api package, which is not installed.',
  },
  WEIR_ERR_DASHBOARD_UNGUARDED: {
    status: 500,
    summary: 'dashboard() was called without a guard while NODE_ENV is production.',
  },
  WEIR_ERR_DASHBOARD_FULL: {
    status: 503,
    summary: "The dashboard's event stream has maxClients pages watching already.",
  },
  WEIR_ERR_DOCS_RENDERER_MISSING: {
    status: 500,
    summary: 'docsPage() needs the swagger-ui-dist package, which is not installed or lacks a file.',
  },
} as const satisfies Record<string, { status: number; summary: string }>;

/** A code from {@link errorCodes}. */
export type ErrorCode = keyof typeof errorCodes;
