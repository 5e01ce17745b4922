/**
 * weir/client: a typed client of a weir app, over `fetch`.
 * @module
 */
export {};
