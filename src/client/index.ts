/**
 * weir/client: a typed client of a weir app, over `fetch`.
 * @module
 */
export { type ClientOptions, createClient, DEFAULT_TIMEOUT_MS } from './client.ts';
export type {
  Call,
  CallOptions,
  CallSettings,
  Client,
  ClientResponse,
  ErrorBody,
  ErrorStatus,
  HeadersInput,
  PathsWith,
  QueryInput,
  QueryValue,
  ResponseOf,
  RoutesOf,
  SuccessStatus,
} from './types.ts';
