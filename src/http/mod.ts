/**
 * roster's provider-neutral HTTP layer: one client on `fetch` (`./client.ts`), one retry policy
 * (`./retry.ts`), throttling by the server's signals (`./throttle.ts`), paging helpers
 * (`./paging.ts`), sessions that put them together (`./session.ts`), and OAuth access tokens
 * read and cached until shortly before they expire (`./oauth.ts`). Errors are neutral
 * (`./errors.ts`, described by `./describe.ts`); each caller maps them to its own RosterError.
 * @module
 */

export * from "./client.ts";
export * from "./describe.ts";
export * from "./errors.ts";
export * from "./paging.ts";
export * from "./proxy.ts";
export * from "./retry.ts";
export * from "./session.ts";
export * from "./throttle.ts";
export * from "./oauth.ts";
