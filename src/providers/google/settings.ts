/**
 * The settings slice of the Google Workspace source and the endpoints it resolves to. Pure: no
 * I/O.
 *
 * - `directory.google.apiUrl` is the root `/admin/directory/v1/...` is appended to (default
 *   `https://admin.googleapis.com`); `directory.google.tokenUrl` is the whole OAuth token
 *   endpoint (default `https://oauth2.googleapis.com/token`). Both take `https://` URLs, and
 *   `http://` only for a loopback host (a local fake or proxy), so the signed assertion, the
 *   access token and directory data never cross a network in clear text.
 * - `customer` alone (default `my_customer`, the impersonated admin's own account) covers every
 *   domain of the account; `domain` narrows the read to that one domain only when it is set.
 * @module
 */

import type { Config } from "../../config/schema.ts";
import { ConfigError } from "../../errors.ts";
import { baseUrlString, checkBaseUrl } from "../cloud/base_url.ts";

/** What the Google provider gets from the configuration. */
export interface GoogleSettings {
  /** `directory.google.*`. */
  google: Config["directory"]["google"];
  /** `sync.*` (the filters). */
  sync: Config["sync"];
}

/** Google's production token endpoint; also the `aud` of every assertion roster signs. */
export const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";
/** Google's production Admin SDK root. */
export const GOOGLE_API_URL = "https://admin.googleapis.com";

/** Where roster gets tokens and reads the directory. */
export interface GoogleEndpoints {
  /** The token endpoint, e.g. `https://oauth2.googleapis.com/token`. */
  tokenUrl: string;
  /** The Directory API root, e.g. `https://admin.googleapis.com/admin/directory/v1`. */
  directoryBase: string;
}

/** Where the listings are scoped: the query parameters every listing carries. */
export interface GoogleScope {
  /** `customer=` value, or null when only `domain=` is sent. */
  customer: string | null;
  /** `domain=` value, or null for every domain of the account. */
  domain: string | null;
}

function checkUrl(value: string, setting: string, example: string): URL {
  return checkBaseUrl(value, setting, {
    example,
    notUrlHint: `Set ${setting} to an https:// URL, e.g. ${example}, or unset it`,
  });
}

/**
 * Resolves the token endpoint and the Directory API root from `directory.google.tokenUrl` and
 * `directory.google.apiUrl` (defaults: Google's production endpoints).
 * @throws {ConfigError} naming the setting when a URL is malformed, not http(s), plain `http://`
 *   to a host that is not loopback, carries a query or fragment, or (`apiUrl`) already ends in
 *   `/admin/directory/v1`.
 */
export function googleEndpoints(google: GoogleSettings["google"]): GoogleEndpoints {
  const tokenUrl = google.tokenUrl === undefined
    ? GOOGLE_TOKEN_URL
    : checkUrl(google.tokenUrl, "directory.google.tokenUrl", GOOGLE_TOKEN_URL).href;
  const api = google.apiUrl === undefined
    ? GOOGLE_API_URL
    : baseUrlString(checkUrl(google.apiUrl, "directory.google.apiUrl", GOOGLE_API_URL));
  if (/\/admin\/directory\/v1$/i.test(api)) {
    throw new ConfigError(
      `Invalid directory.google.apiUrl: ${api} already ends in /admin/directory/v1`,
      {
        hint: `Set directory.google.apiUrl to the root without the API path, e.g. ${
          api.replace(/\/admin\/directory\/v1$/i, "")
        }`,
        details: { setting: "directory.google.apiUrl" },
      },
    );
  }
  return { tokenUrl, directoryBase: `${api}/admin/directory/v1` };
}

/**
 * The `customer` / `domain` parameters of every listing. With no domain, only `customer`
 * (every domain of the account). With a domain, `domain` (Google then lists that domain
 * only), plus `customer` when it is not the default `my_customer`.
 */
export function googleScope(google: GoogleSettings["google"]): GoogleScope {
  const domain = google.domain?.trim().toLowerCase() || null;
  const customer = google.customer.trim() || "my_customer";
  if (domain === null) return { customer, domain: null };
  return { customer: customer === "my_customer" ? null : customer, domain };
}
