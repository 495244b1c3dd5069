/**
 * Access tokens for the Directory API: the OAuth 2.0 JWT-bearer grant (RFC 7523) of a service
 * account with domain-wide delegation.
 *
 * roster signs the assertion itself with `jose` (RS256 over the service account's PKCS#8 key):
 * header `{"alg":"RS256","typ":"JWT"}` (plus `kid`, the key file's `private_key_id`, when
 * known); claims `iss` = the service account, `sub` = `directory.google.adminUser` (the user
 * impersonated), `scope` = the three read-only Directory API scopes, space-separated, `aud` =
 * `https://oauth2.googleapis.com/token` (what Google's own libraries always send, whichever URL
 * they post to), `iat` = now and `exp` = now + 3600 s (Google accepts at most an hour). It posts
 * `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>` as a form to the
 * token endpoint and gets `{access_token, expires_in, token_type}`.
 *
 * The token is reused until 5 minutes before it expires (the refresh margin of Google's
 * libraries; half its lifetime for a token that lives less than 10 minutes), then fetched
 * again; concurrent callers share one token request. The token POST is
 * retried on network failures, 429 and 5xx with the shared backoff.
 * @module
 */

import { importPKCS8, SignJWT } from "jose";
import {
  type FetchedToken,
  type HttpClient,
  httpRetryDecision,
  readAccessToken,
  retry,
  type RetryLimits,
  TokenCache,
} from "../../http/mod.ts";
import type { ServiceAccountKey } from "./key.ts";
import { GOOGLE_TOKEN_URL } from "./settings.ts";

/** The three read-only Directory API scopes roster asks for, and nothing else. */
export const GOOGLE_SCOPES = [
  "https://www.googleapis.com/auth/admin.directory.user.readonly",
  "https://www.googleapis.com/auth/admin.directory.group.readonly",
  "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
] as const;

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/** Refresh this long before the token expires, in ms. */
const REFRESH_MARGIN_MS = 5 * 60_000;

/** The token endpoint answered without a usable token (any status, or a malformed body). */
export class GoogleTokenError extends Error {
  /** The token endpoint. */
  readonly url: string;
  /** What went wrong: the HTTP layer's error, or null for a malformed 200 answer. */
  override readonly cause: unknown;
  constructor(message: string, url: string, cause: unknown) {
    super(message);
    this.name = "GoogleTokenError";
    this.url = url;
    this.cause = cause;
  }
}

/** Options of {@link createTokenSource}. */
export interface TokenSourceOptions {
  /** The service account. */
  key: ServiceAccountKey;
  /** `directory.google.adminUser`: the `sub` claim. */
  subject: string;
  /** The token endpoint. @default `https://oauth2.googleapis.com/token` */
  tokenUrl?: string;
  /** Retry bounds of the token POST. @default the shared defaults */
  retry?: RetryLimits;
  /** Clock in ms. @default `Date.now` */
  now?: () => number;
  /** Waits `ms`. @default a timer */
  sleep?: (ms: number) => Promise<void>;
  /** Randomness in [0, 1). @default `Math.random` */
  random?: () => number;
}

/** Hands out access tokens. */
export interface TokenSource {
  /**
   * A valid access token: the cached one, or a new one when none is cached or it expires in
   * less than 5 minutes.
   * @throws {GoogleTokenError} when the token endpoint refuses the assertion or keeps failing;
   *   `cause` is the HTTP layer's error.
   */
  token(): Promise<string>;
  /** Drops the cached token (after a 401 from the API), so the next call fetches one. */
  invalidate(): void;
  /** Token requests sent (attempts). */
  readonly requests: number;
}

/**
 * Creates a {@link TokenSource} that signs assertions for `options.key` and posts them to the
 * token endpoint through `http`.
 */
export function createTokenSource(http: HttpClient, options: TokenSourceOptions): TokenSource {
  const now = options.now ?? Date.now;
  const tokenUrl = options.tokenUrl ?? GOOGLE_TOKEN_URL;
  let signingKey: Promise<CryptoKey> | undefined;
  let requests = 0;

  const assertion = async (): Promise<string> => {
    signingKey ??= importPKCS8(options.key.privateKey, "RS256");
    const issuedAt = Math.floor(now() / 1000);
    const header: { alg: "RS256"; typ: "JWT"; kid?: string } = { alg: "RS256", typ: "JWT" };
    if (options.key.privateKeyId !== null) header.kid = options.key.privateKeyId;
    return await new SignJWT({ scope: GOOGLE_SCOPES.join(" ") })
      .setProtectedHeader(header)
      .setIssuer(options.key.clientEmail)
      .setSubject(options.subject)
      .setAudience(GOOGLE_TOKEN_URL)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + 3600)
      .sign(await signingKey);
  };

  const fetchToken = async (): Promise<FetchedToken> => {
    const started = now();
    let response;
    try {
      response = await retry(async () => {
        requests++;
        return await http.json({
          method: "POST",
          url: tokenUrl,
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await assertion() })
            .toString(),
        });
      }, {
        ...options.retry,
        isRetriable: (error) => httpRetryDecision(error, { idempotent: true, now }),
        now,
        ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
        ...(options.random === undefined ? {} : { random: options.random }),
      });
    } catch (error) {
      throw new GoogleTokenError("The token request failed", tokenUrl, error);
    }
    const answer = readAccessToken(response.body, { defaultLifetimeMs: 3600_000 });
    if (answer === null) {
      throw new GoogleTokenError(
        "The token endpoint answered without an access_token",
        tokenUrl,
        null,
      );
    }
    return { ...answer, issuedAt: started };
  };

  const cache = new TokenCache(fetchToken, { marginMs: REFRESH_MARGIN_MS, now });
  return {
    token: () => cache.get(),
    invalidate: () => cache.invalidate(),
    get requests() {
      return requests;
    },
  };
}
