/**
 * The OneLogin access token: OAuth 2.0 client credentials at `POST /auth/oauth2/v2/token`.
 *
 * The request sends the API credential as `Authorization: Basic base64(client_id:client_secret)`
 * (RFC 6749 §2.3.1; OneLogin also accepts its older `client_id:…, client_secret:…` form) and the
 * JSON body `{"grant_type":"client_credentials"}`, as bwdc does. OneLogin answers
 * `{"access_token", "expires_in": 36000, …}` (ten hours) and returns the same token for the
 * same credential until it expires. The token is fetched once, renewed five minutes (or a tenth
 * of its lifetime, whichever is shorter) before it expires, and again whenever the API refuses
 * it (`invalidate`). Errors come in OneLogin's v1 envelope
 * (`{"status":{"error":true,"code":401,"type":"Unauthorized","message":"Authentication Failure"}}`)
 * and are named in the message.
 * @module
 */

import { DirectoryError, type RosterError } from "../../errors.ts";
import {
  apiErrorInfo,
  describeHttpError,
  type FetchedToken,
  HttpCaFileError,
  type HttpClient,
  httpRetryDecision,
  HttpStatusError,
  readAccessToken,
  retry,
  type RetryLimits,
  TokenCache,
} from "../../http/mod.ts";
import { caFileError } from "../cloud/errors.ts";

/** Options of {@link OneLoginToken}. */
export interface OneLoginTokenOptions {
  /** The HTTP client (not the gated API session: the token call is not part of the budget). */
  http: HttpClient;
  /** The API base, e.g. `https://acme.onelogin.com`. */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** Clock in ms. @default `Date.now` */
  now?: () => number;
  /** Waits `ms` between retries. @default a timer */
  sleep?: (ms: number) => Promise<void>;
  /** Randomness for the retry jitter. @default `Math.random` */
  random?: () => number;
  /** Retry bounds of the token call. @default the HTTP layer's defaults */
  retry?: RetryLimits;
}

/** Where to manage the API credential, for hints. */
export const ONELOGIN_CREDENTIAL_PLACE =
  "OneLogin admin portal > Developers > API Credentials (or Administration > Developers)";

/** Holds the current token and renews it. */
export class OneLoginToken {
  readonly #options: OneLoginTokenOptions;
  readonly #now: () => number;
  readonly #cache: TokenCache;
  #fetched = 0;

  constructor(options: OneLoginTokenOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#cache = new TokenCache(() => this.#fetch(), {
      marginMs: 300_000,
      maxMarginFraction: 0.1,
      now: this.#now,
    });
  }

  /** How many token calls succeeded. */
  get fetched(): number {
    return this.#fetched;
  }

  /**
   * The current token, fetched or renewed when needed (one call at a time).
   *
   * @throws {DirectoryError} when OneLogin refuses the credential (400, 401), its owner was
   *   deleted (500), or the token endpoint cannot be reached after retries.
   */
  get(): Promise<string> {
    return this.#cache.get();
  }

  /** Forgets the current token (the API refused it); the next {@link get} fetches one. */
  invalidate(): void {
    this.#cache.invalidate();
  }

  async #fetch(): Promise<FetchedToken> {
    const { http, baseUrl, clientId, clientSecret } = this.#options;
    const url = `${baseUrl}/auth/oauth2/v2/token`;
    const started = this.#now();
    let response;
    try {
      response = await retry(
        () =>
          http.json({
            method: "POST",
            url,
            headers: {
              Authorization: `Basic ${btoa(`${clientId}:${clientSecret}`)}`,
              "Content-Type": "application/json",
            },
            body: JSON.stringify({ grant_type: "client_credentials" }),
          }),
        {
          ...this.#options.retry,
          // A token call changes nothing: it may be resent. A 500 is OneLogin's answer for a
          // credential whose owner was deleted: not retried.
          isRetriable: (error) =>
            error instanceof HttpStatusError && error.status === 500
              ? false
              : httpRetryDecision(error, { idempotent: true, now: this.#now }),
          now: this.#now,
          ...(this.#options.sleep === undefined ? {} : { sleep: this.#options.sleep }),
          ...(this.#options.random === undefined ? {} : { random: this.#options.random }),
        },
      );
    } catch (error) {
      throw tokenError(error);
    }
    const answer = readAccessToken(response.body, { defaultLifetimeMs: 36_000_000 });
    if (answer === null) {
      throw new DirectoryError(
        "OneLogin token call failed: POST /auth/oauth2/v2/token answered without an access_token",
        {
          hint: "Check directory.onelogin.apiUrl (or subdomain and region): it must be the " +
            "OneLogin API base, e.g. https://acme.onelogin.com",
          details: { endpoint: "POST /auth/oauth2/v2/token" },
        },
      );
    }
    this.#fetched++;
    return { ...answer, issuedAt: started };
  }
}

/**
 * Maps a failed token call to a {@link DirectoryError} naming the endpoint and the fix (a
 * {@link ConfigError} for an unusable `directory.onelogin.caFile`).
 */
function tokenError(error: unknown): RosterError {
  if (error instanceof HttpCaFileError) {
    return caFileError(error, "onelogin");
  }
  const last = error instanceof Error && error.cause instanceof HttpStatusError
    ? error.cause
    : error;
  const described = describeHttpError(error);
  if (last instanceof HttpStatusError && (last.status === 400 || last.status === 401)) {
    const info = apiErrorInfo(last.body);
    return new DirectoryError(`OneLogin refused the API credential: ${described}`, {
      code: "directory_auth",
      hint: "Check directory.onelogin.clientId and directory.onelogin.clientSecret against the " +
        `credential in the ${ONELOGIN_CREDENTIAL_PLACE}; set the secret with ` +
        "roster config set directory.onelogin.clientSecret --secret-env <VAR>",
      details: {
        endpoint: "POST /auth/oauth2/v2/token",
        status: last.status,
        ...(info.message === null ? {} : { message: info.message }),
      },
      cause: error,
    });
  }
  if (last instanceof HttpStatusError && last.status === 500) {
    return new DirectoryError(`OneLogin token call failed: ${described}`, {
      code: "directory_auth",
      hint: "OneLogin answers 500 when the user who created the API credential was deleted: " +
        `create a new credential in the ${ONELOGIN_CREDENTIAL_PLACE} and set ` +
        "directory.onelogin.clientId and directory.onelogin.clientSecret",
      details: { endpoint: "POST /auth/oauth2/v2/token", status: 500 },
      cause: error,
    });
  }
  return new DirectoryError(`Cannot reach OneLogin: ${described}`, {
    hint: "Check directory.onelogin.subdomain (or region, or apiUrl), the network and any " +
      "proxy (HTTPS_PROXY); set directory.onelogin.caFile for a TLS-inspecting proxy",
    details: { endpoint: "POST /auth/oauth2/v2/token" },
    cause: error,
  });
}
