/**
 * OAuth 2.0 access tokens (RFC 6749 §5.1): reading a token answer, and caching the token until a
 * margin before it expires, with one token request at a time however many callers wait. The
 * grant itself (client credentials, a signed JWT assertion) and the mapping of its errors stay
 * with each source.
 * @module
 */

import { isRecord } from "../guards.ts";

/** A token answer's `access_token` and lifetime. */
export interface AccessToken {
  /** The bearer token. */
  token: string;
  /** Its lifetime (`expires_in`), in milliseconds. */
  lifetimeMs: number;
}

/**
 * Reads a token answer `{access_token, expires_in, …}`. `expires_in` is a whole number of
 * seconds (a number, or a string of digits). Returns null when `access_token` is missing or
 * empty, or when `expires_in` is missing or not positive and no `defaultLifetimeMs` is given.
 */
export function readAccessToken(
  body: unknown,
  options: { defaultLifetimeMs?: number } = {},
): AccessToken | null {
  if (!isRecord(body)) return null;
  const token = body["access_token"];
  if (typeof token !== "string" || token === "") return null;
  const expiresIn = body["expires_in"];
  const seconds = typeof expiresIn === "number"
    ? expiresIn
    : typeof expiresIn === "string" && /^\d+$/.test(expiresIn)
    ? Number(expiresIn)
    : NaN;
  if (seconds > 0) return { token, lifetimeMs: seconds * 1000 };
  if (options.defaultLifetimeMs === undefined) return null;
  return { token, lifetimeMs: options.defaultLifetimeMs };
}

/** Options of {@link TokenCache}. */
export interface TokenCacheOptions {
  /** Renew this long before expiry, in milliseconds. */
  marginMs: number;
  /**
   * The margin is at most this fraction of the token's lifetime (so a short-lived token is
   * still used). @default 0.5
   */
  maxMarginFraction?: number;
  /** Clock in milliseconds. @default `Date.now` */
  now?: () => number;
}

/** What a {@link TokenCache}'s fetch returns. */
export interface FetchedToken extends AccessToken {
  /** When the lifetime started (ms since the epoch): when the request was sent, or answered. */
  issuedAt: number;
}

/**
 * Caches an access token from `fetch` and renews it `marginMs` (at most `maxMarginFraction` of
 * its lifetime) before it expires. Concurrent {@link get} calls share one `fetch`; a failed
 * fetch caches nothing, and its error reaches every caller.
 */
export class TokenCache {
  readonly #fetch: () => Promise<FetchedToken>;
  readonly #marginMs: number;
  readonly #fraction: number;
  readonly #now: () => number;
  #current: { token: string; renewAt: number } | null = null;
  #pending: Promise<string> | null = null;

  constructor(fetch: () => Promise<FetchedToken>, options: TokenCacheOptions) {
    this.#fetch = fetch;
    this.#marginMs = options.marginMs;
    this.#fraction = options.maxMarginFraction ?? 0.5;
    this.#now = options.now ?? Date.now;
  }

  /** A valid token: the cached one, or a new one when none is cached or it is due. */
  get(): Promise<string> {
    const current = this.#current;
    if (current !== null && this.#now() < current.renewAt) return Promise.resolve(current.token);
    this.#pending ??= this.#renew().finally(() => {
      this.#pending = null;
    });
    return this.#pending;
  }

  /** Forgets the cached token (the API refused it); the next {@link get} fetches one. */
  invalidate(): void {
    this.#current = null;
  }

  async #renew(): Promise<string> {
    const { token, lifetimeMs, issuedAt } = await this.#fetch();
    const margin = Math.min(this.#marginMs, lifetimeMs * this.#fraction);
    this.#current = { token, renewAt: issuedAt + lifetimeMs - margin };
    return token;
  }
}
