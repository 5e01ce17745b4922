/**
 * The Standard Schema interface (https://standardschema.dev, v1), which zod 4, valibot, arktype, TypeBox
 * (through its adapter) and others implement: weir validates through it and never imports a validator.
 * Copied here as the spec invites, so that weir's types need no extra package.
 */

/** A schema any Standard Schema library made. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

export declare namespace StandardSchemaV1 {
  export interface Props<Input = unknown, Output = Input> {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    readonly types?: Types<Input, Output> | undefined;
  }
  export type Result<Output> = SuccessResult<Output> | FailureResult;
  export interface SuccessResult<Output> {
    readonly value: Output;
    readonly issues?: undefined;
  }
  export interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }
  export interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  export interface PathSegment {
    readonly key: PropertyKey;
  }
  export interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
    readonly output: Output;
  }
  export type InferInput<Schema extends StandardSchemaV1> = NonNullable<
    Schema['~standard']['types']
  >['input'];
  export type InferOutput<Schema extends StandardSchemaV1> = NonNullable<
    Schema['~standard']['types']
  >['output'];
}

/**
 * Where a schema may keep a second Standard Schema that stops at the first issue (weir/schema/typebox's
 * ajv without `allErrors`). weir runs it first, and the full check only for a value small enough that
 * listing every issue is cheap: a large hostile body must not make the validator build an issue per element.
 */
export const kFirstIssue: unique symbol = Symbol.for('weir.schema.firstIssue');

/**
 * Where a schema may keep a second Standard Schema for a handler's answer, one that checks a value without
 * changing it (weir/schema/typebox's validator fills defaults and coerces in place, right for a parsed
 * request, wrong for an object a handler may share, such as a cached one). weir uses it for response
 * schemas whose answer is written by a compiled serialiser (declared keys only).
 */
export const kCheckAnswer: unique symbol = Symbol.for('weir.schema.checkAnswer');

/** Whether `value` is a Standard Schema (version 1). */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  const props = (value as { '~standard'?: unknown })['~standard'];
  return (
    typeof props === 'object' &&
    props !== null &&
    (props as { version?: unknown }).version === 1 &&
    typeof (props as { validate?: unknown }).validate === 'function'
  );
}
