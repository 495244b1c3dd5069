/**
 * The `okta` source's settings: its slice of the configuration, the org URL check and the
 * filters.
 * @module
 */

import type { Config } from "../../config/schema.ts";
import { ConfigError } from "../../errors.ts";
import { baseUrlString, checkBaseUrl } from "../cloud/base_url.ts";
import { type OktaFilter, parseOktaFilter } from "./filter.ts";

/** The settings slice the `okta` provider gets. */
export interface OktaSettings {
  okta: Config["directory"]["okta"];
  sync: Config["sync"];
}

/** The secret setting holding the API token. */
export const OKTA_TOKEN_KEY = "directory.okta.token";

/**
 * Checks `directory.okta.orgUrl` and returns its origin plus path without a trailing slash, the
 * base that `/api/v1/...` is appended to. Any port is accepted (bwdc always uses 443); `http://`
 * only for a loopback host (a local test server), so the API token never crosses a network in
 * clear text.
 *
 * @throws {ConfigError} naming `directory.okta.orgUrl` when it is unset, not a URL, not
 *   http(s), plain http to another host, or carries a query, fragment or `/api/...` path.
 */
export function oktaBaseUrl(value: string | undefined): string {
  const setting = "directory.okta.orgUrl";
  if (value === undefined) {
    throw new ConfigError(`Missing ${setting}`, {
      hint: `roster config set ${setting} https://<your-org>.okta.com`,
      details: { setting },
    });
  }
  const url = checkBaseUrl(value, setting, {
    example: "https://acme.okta.com",
    notUrlHint: `Set ${setting} to your org's base URL, e.g. https://acme.okta.com`,
  });
  const base = baseUrlString(url);
  if (/\/api(\/|$)/.test(url.pathname)) {
    throw new ConfigError(`Invalid ${setting}: ${base} includes the API path`, {
      hint: `Set ${setting} to the org's base URL without /api/v1, e.g. ${url.origin}`,
      details: { setting },
    });
  }
  return base;
}

/** Both filters, parsed. */
export interface OktaFilters {
  users: OktaFilter;
  groups: OktaFilter;
}

/**
 * Parses `sync.userFilter` and `sync.groupFilter` (see `./filter.ts`).
 *
 * @throws {ConfigError} naming the setting and the clause.
 */
export function oktaFilters(sync: Config["sync"]): OktaFilters {
  return {
    users: parseOktaFilter(sync.userFilter, "sync.userFilter"),
    groups: parseOktaFilter(sync.groupFilter, "sync.groupFilter"),
  };
}
