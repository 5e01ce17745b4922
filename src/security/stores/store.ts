/**
 * What a session store keeps: one record per session, under a key that is the SHA-256 of the session id
 * (base64url, 43 characters), so a leaked store holds no usable session ids. Stores never see the id
 * itself, never parse the data (it is JSON text, opaque to them) and drop a record at its `expiresAt`.
 */

/** One session as a store keeps it. */
export interface SessionRecord {
  /** The session's data as JSON text. */
  readonly data: string;
  /** When the session was created (epoch ms); its absolute lifetime counts from here. */
  readonly createdAt: number;
  /** When the record expires unless touched (epoch ms). */
  readonly expiresAt: number;
}

/**
 * A place to keep sessions: `memory:` (one process), Redis, or the SQL database. Every method rejects
 * with a `WeirError` (`WEIR_ERR_SESSION_STORE`) when the backend cannot answer, never with a driver's
 * error, and never answers "no session" for a backend that is down.
 */
export interface SessionStore {
  /** `memory`, `redis`, `sqlite` or `postgres`. */
  readonly backend: string;
  /** Where the sessions live, password redacted. */
  readonly url: string;
  /** The record under `key`, or `undefined` when there is none or it has expired. */
  get(key: string): Promise<SessionRecord | undefined>;
  /** Creates or replaces the record under `key`; it expires at `record.expiresAt`. */
  set(key: string, record: SessionRecord): Promise<void>;
  /**
   * Replaces the record under `key` only if a live one is there, atomically; resolves `false` (and writes
   * nothing) when there is none. What saves a session that a request loaded: a logout that deleted it
   * meanwhile must not be undone by that request's save.
   */
  replace(key: string, record: SessionRecord): Promise<boolean>;
  /** Moves the expiry of the record under `key`, if there is one, to `expiresAt`. */
  touch(key: string, expiresAt: number): Promise<void>;
  /** Removes the record under `key`; no error when there is none. */
  delete(key: string): Promise<void>;
  /** How many live records the store holds (SQL and memory: exact; Redis: the keys under its prefix). */
  size(): Promise<number>;
  /** Releases the connection (a store opened on a `Database` the caller owns leaves it open). */
  close(): Promise<void>;
}
