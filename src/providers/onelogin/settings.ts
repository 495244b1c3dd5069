/**
 * The `onelogin` source's settings slice and the checks made before any request: which host
 * the API is on, and the API credential.
 *
 * The API base (what `/auth/oauth2/v2/token` and `/api/2/…` are appended to) is, in order:
 * 1. `directory.onelogin.apiUrl` when set (`https://…`; `http://` only for a loopback host);
 * 2. `https://<subdomain>.onelogin.com` when `directory.onelogin.subdomain` is set (the current
 *    OneLogin hosts);
 * 3. `https://api.<region>.onelogin.com` (`directory.onelogin.region`, `us` or `eu`: the legacy
 *    region hosts, the only ones bwdc knows).
 * @module
 */

import type { Config } from "../../config/schema.ts";
import { ConfigError } from "../../errors.ts";
import { baseUrlString, checkBaseUrl } from "../cloud/base_url.ts";

/** The settings the `onelogin` provider gets: `directory.onelogin` and `sync`. */
export interface OneLoginSettings {
  onelogin: Config["directory"]["onelogin"];
  sync: Config["sync"];
}

/** The secret setting holding the API credential's client secret. */
export const ONELOGIN_SECRET_KEY = "directory.onelogin.clientSecret";

/** `acme`, or `acme.onelogin.com` written in full. */
const SUBDOMAIN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/**
 * The API base URL of `settings`, without a trailing `/` (see the module documentation).
 *
 * @throws {ConfigError} naming `directory.onelogin.apiUrl` for a URL that is not `https://`
 *   (or `http://` on a loopback host), or `directory.onelogin.subdomain` for a subdomain that
 *   is not a host label.
 */
export function oneLoginBaseUrl(settings: OneLoginSettings["onelogin"]): string {
  if (settings.apiUrl !== undefined) {
    const url = checkBaseUrl(settings.apiUrl, "directory.onelogin.apiUrl", {
      example: "https://acme.onelogin.com",
      notUrlHint:
        "Set directory.onelogin.apiUrl to the API base, e.g. https://acme.onelogin.com, " +
        "or unset it and set directory.onelogin.subdomain",
    });
    return baseUrlString(url);
  }
  if (settings.subdomain !== undefined) {
    const label = settings.subdomain.toLowerCase().replace(/^https?:\/\//, "").replace(
      /\.onelogin\.com\/?$/,
      "",
    );
    if (!SUBDOMAIN.test(label)) {
      throw new ConfigError(
        `Invalid directory.onelogin.subdomain: ${
          JSON.stringify(settings.subdomain)
        } is not a subdomain`,
        {
          hint: "Set directory.onelogin.subdomain to the first part of your OneLogin address: " +
            "acme for https://acme.onelogin.com",
          details: { key: "directory.onelogin.subdomain", value: settings.subdomain },
        },
      );
    }
    return `https://${label}.onelogin.com`;
  }
  return `https://api.${settings.region}.onelogin.com`;
}

/** What `status` shows as the source: the API base, or null without a client id. */
export function describeOneLogin(settings: OneLoginSettings): string | null {
  if (settings.onelogin.clientId === undefined) return null;
  try {
    return oneLoginBaseUrl(settings.onelogin);
  } catch {
    return settings.onelogin.apiUrl ?? settings.onelogin.subdomain ?? null;
  }
}
