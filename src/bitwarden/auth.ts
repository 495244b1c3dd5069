/**
 * The organization API key and the access token it buys, requested as the Bitwarden Directory
 * Connector (bwdc) requests it.
 *
 * The token is a `client_credentials` grant with `scope=api.organization`, plus the device
 * fields Vaultwarden requires. It is cached in memory and fetched again a minute before it
 * expires (there is no refresh token), or when the API answers 401.
 * @module
 */

import { BitwardenAuthError, BitwardenUnavailableError, ConfigError } from "../errors.ts";
import { allMessages, describeServerError, parseErrorBody, withoutPeriod } from "./errors.ts";
import type { HttpTransport } from "./http.ts";

/** The organization API key (Admin Console → Settings → Organization info → API key). */
export interface ApiKey {
  /** `organization.<organization id>`. */
  clientId: string;
  /** The 30-character secret. */
  clientSecret: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Returns the organization id of an API key's client id (`organization.<uuid>` → `<uuid>`,
 * lowercased).
 *
 * @throws {ConfigError} naming the value when it is not `organization.<uuid>`.
 */
export function organizationIdOf(clientId: string): string {
  const trimmed = clientId.trim();
  const match = /^organization\.(.+)$/i.exec(trimmed);
  const id = match?.[1];
  if (id === undefined || !GUID.test(id)) {
    throw new ConfigError(
      `Invalid Bitwarden client id "${trimmed}": expected organization.<organization id>`,
      {
        hint:
          "Copy the organization API key's client_id from the Admin Console (Settings → Organization info → View API key); it looks like organization.1c2d3e4f-…",
      },
    );
  }
  return id.toLowerCase();
}

/**
 * Checks an API key: the client id (see {@link organizationIdOf}) and a non-blank secret.
 *
 * @throws {ConfigError} naming the bad value.
 */
export function validateApiKey(apiKey: ApiKey): void {
  organizationIdOf(apiKey.clientId);
  if (apiKey.clientSecret.trim() === "") {
    throw new ConfigError("Invalid Bitwarden client secret: it is empty", {
      hint: "Copy the organization API key's client_secret from the Admin Console",
    });
  }
}

/** A token and when it stops being valid (ms since the epoch). */
export interface AccessToken {
  value: string;
  expiresAt: number;
}

/** Dependencies of {@link TokenManager}. */
export interface TokenManagerOptions {
  transport: HttpTransport;
  identityUrl: string;
  apiKey: ApiKey;
  deviceIdentifier: string;
  headers: Record<string, string>;
  now: () => number;
  timeoutMs: number;
}

/** bwdc's device types: 6 Windows, 7 macOS, 8 Linux (the default). */
function device(): { type: string; name: string } {
  switch (Deno.build.os) {
    case "windows":
      return { type: "6", name: "windows" };
    case "darwin":
      return { type: "7", name: "macos" };
    default:
      return { type: "8", name: "linux" };
  }
}

/** A cached token with its renewal margin. */
interface StoredToken extends AccessToken {
  margin: number;
}

/** Gets, caches and renews the access token. Concurrent callers share one request. */
export class TokenManager {
  readonly #options: TokenManagerOptions;
  #token: StoredToken | null = null;
  #pending: Promise<AccessToken> | null = null;

  constructor(options: TokenManagerOptions) {
    this.#options = options;
  }

  /** The cached token if it has more than a minute left (half its life if shorter), else a new one. */
  async token(): Promise<AccessToken> {
    const token = this.#token;
    if (token !== null && this.#options.now() < token.expiresAt - token.margin) {
      return { value: token.value, expiresAt: token.expiresAt };
    }
    return await this.fresh();
  }

  /** Always asks the identity server for a new token (shared with concurrent callers). */
  fresh(): Promise<AccessToken> {
    this.#pending ??= this.#request().finally(() => {
      this.#pending = null;
    });
    return this.#pending;
  }

  /** Forgets `value` if it is the cached token (the API refused it). */
  invalidate(value: string): void {
    if (this.#token?.value === value) this.#token = null;
  }

  async #request(): Promise<AccessToken> {
    const { transport, identityUrl, apiKey, deviceIdentifier, headers, now, timeoutMs } =
      this.#options;
    const { type, name } = device();
    const form = new URLSearchParams({
      scope: "api.organization",
      client_id: apiKey.clientId.trim(),
      deviceType: type,
      deviceIdentifier,
      deviceName: name,
      grant_type: "client_credentials",
      client_secret: apiKey.clientSecret.trim(),
    });
    const url = `${identityUrl}/connect/token`;
    const requestedAt = now();
    const response = await transport.send({
      method: "POST",
      url,
      headers: {
        ...headers,
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "Accept": "application/json",
        "Device-Type": type,
      },
      body: form.toString(),
      mode: "idempotent",
      what: "POST /connect/token",
      timeoutMs,
    });
    if (response.status >= 200 && response.status < 300) {
      const token = readToken(response.body);
      if (token === null) {
        throw new BitwardenUnavailableError(
          `Cannot log in to Bitwarden: ${url} did not answer with a token: ${
            describeServerError(parseErrorBody(response.status, response.body))
          }`,
          { hint: "Check server.url or server.identity: it must point at the identity service" },
        );
      }
      const lifetimeMs = token.expiresIn * 1000;
      const stored = {
        value: token.accessToken,
        expiresAt: requestedAt + lifetimeMs,
        margin: Math.min(60_000, lifetimeMs / 2),
      };
      this.#token = stored;
      return { value: stored.value, expiresAt: stored.expiresAt };
    }
    throw tokenError(response.status, response.body, url);
  }
}

function readToken(body: string): { accessToken: string; expiresIn: number } | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return null;
  const accessToken: unknown = Reflect.get(parsed, "access_token");
  const expiresIn: unknown = Reflect.get(parsed, "expires_in");
  if (typeof accessToken !== "string" || accessToken === "") return null;
  const seconds = typeof expiresIn === "number" && expiresIn > 0 ? expiresIn : 3600;
  return { accessToken, expiresIn: seconds };
}

const KEY_HINT =
  "Check the client id and secret of the organization API key (Admin Console → Settings → Organization info → View API key; rotating it invalidates the old secret), that the organization is enabled, and that its plan includes API access";

/** Maps a non-2xx answer of `/connect/token` to an error. */
export function tokenError(status: number, body: string, url: string): Error {
  const parsed = parseErrorBody(status, body);
  const summary = describeServerError(parsed);
  if (status === 400 || status === 401) {
    const vwMessage = parsed.message;
    if (parsed.oauthError === "invalid_client") {
      return new BitwardenAuthError(
        "Cannot log in to Bitwarden: the organization API key was refused (invalid_client)",
        {
          hint: KEY_HINT,
          code: "bitwarden_invalid_client",
          details: { status, error: "invalid_client" },
        },
      );
    }
    if (
      vwMessage !== null &&
      /client_id|client_secret/i.test(vwMessage) && !/cannot be blank/i.test(vwMessage)
    ) {
      return new BitwardenAuthError(
        `Cannot log in to Bitwarden: the organization API key was refused (${
          withoutPeriod(vwMessage)
        })`,
        {
          hint: KEY_HINT,
          code: "bitwarden_invalid_client",
          details: { status, message: vwMessage },
        },
      );
    }
    const what = parsed.oauthError ?? vwMessage ?? summary;
    return new BitwardenAuthError(
      `Cannot log in to Bitwarden: the identity server refused the token request (${
        withoutPeriod(what)
      })`,
      {
        hint: parsed.oauthError === "invalid_scope" || /scope/i.test(allMessages(parsed).join(" "))
          ? "The key must be an organization API key (client id organization.<id>), which has the api.organization scope"
          : `Check server.url or server.identity (${url}) and the API key`,
        details: { status, error: parsed.oauthError, message: vwMessage },
      },
    );
  }
  if (status === 429) {
    return new BitwardenUnavailableError(
      `Cannot log in to Bitwarden: too many login requests: ${summary}`,
      { hint: "Wait a minute and run again; roster caches its token for one hour" },
    );
  }
  if (status === 403) {
    return new BitwardenAuthError(`Cannot log in to Bitwarden: ${url} answered ${summary}`, {
      hint: "A firewall or proxy may be blocking the request; check server.identity",
    });
  }
  return new BitwardenUnavailableError(`Cannot log in to Bitwarden: ${url} answered ${summary}`, {
    hint: status === 404 || status === 405
      ? "Check server.url or server.identity: it must point at the identity service"
      : "Check that the server is up, then run again",
    details: { status },
  });
}
