/**
 * The check every cloud source (Entra ID, Google Workspace, Okta, OneLogin) makes of an
 * endpoint URL setting before any request: what `/v1.0/…`, `/api/v1/…` or a token path is
 * appended to. Pure: no I/O.
 * @module
 */

import { ConfigError } from "../../errors.ts";
import { isLoopbackHost } from "../../http/mod.ts";

/** Options for {@link checkBaseUrl}. */
export interface BaseUrlOptions {
  /** A correct value for the hints, e.g. `https://acme.okta.com`. */
  example: string;
  /**
   * The hint when the value is not a URL at all. Default: `Set <setting> to an https:// URL,
   * e.g. <example>`.
   */
  notUrlHint?: string;
}

/**
 * Checks the endpoint URL setting `setting` (e.g. `directory.okta.orgUrl`) and returns it parsed.
 *
 * Accepts `https://` URLs, and `http://` only for a loopback host (`localhost`, `127.0.0.0/8`,
 * `::1`: a local fake or proxy), so credentials, tokens and directory data never cross a network
 * in clear text. Query strings and fragments are refused, since paths are appended to the value.
 * Leading and trailing white space is ignored.
 * @throws {ConfigError} naming `setting` (also in `details.setting`) when the value is not a
 *   URL, not http(s), plain `http://` to a host that is not loopback, or carries a query or
 *   fragment.
 */
export function checkBaseUrl(value: string, setting: string, options: BaseUrlOptions): URL {
  const details = { setting };
  const httpsHint = `Set ${setting} to an https:// URL, e.g. ${options.example}`;
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new ConfigError(`Invalid ${setting}: ${JSON.stringify(value)} is not a URL`, {
      hint: options.notUrlHint ?? httpsHint,
      details,
    });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ConfigError(`Invalid ${setting}: ${url.protocol} URLs are not supported`, {
      hint: httpsHint,
      details,
    });
  }
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
    throw new ConfigError(
      `Invalid ${setting}: plain http:// is only allowed for a loopback host, not ${url.hostname}`,
      { hint: `Use https:// in ${setting}`, details },
    );
  }
  if (url.search !== "" || url.hash !== "") {
    throw new ConfigError(`Invalid ${setting}: the URL has a query or fragment`, {
      hint: `Set ${setting} to the base URL only, e.g. ${baseUrlString(url)}`,
      details,
    });
  }
  return url;
}

/** `url` without query, fragment or trailing slashes: the base paths are appended to. */
export function baseUrlString(url: URL): string {
  const base = new URL(url.href);
  base.search = "";
  base.hash = "";
  return base.href.replace(/\/+$/, "");
}
