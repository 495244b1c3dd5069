/**
 * Where the Bitwarden API and identity servers are, from the `server.*` settings.
 *
 * The rules are bwdc's: an explicit `server.api` or
 * `server.identity` wins; otherwise `<server.url>/api` and `<server.url>/identity`; otherwise the
 * US cloud. `bitwarden.com` means the US cloud and `eu` the EU cloud.
 * @module
 */

import type { Config } from "../config/schema.ts";
import { ConfigError } from "../errors.ts";

/** The two base URLs a client talks to, without trailing slashes. */
export interface ServerUrls {
  /** API base: `https://api.bitwarden.com` or `<server>/api`; `/public/...` is appended. */
  api: string;
  /** Identity base: `https://identity.bitwarden.com` or `<server>/identity`. */
  identity: string;
}

/** The US cloud's API base. */
export const US_API_URL = "https://api.bitwarden.com";
/** The US cloud's identity base. */
export const US_IDENTITY_URL = "https://identity.bitwarden.com";
/** The EU cloud's base, as bwdc configures it. */
export const EU_BASE_URL = "https://vault.bitwarden.eu";

const US_ALIASES = new Set(["bitwarden.com", "https://bitwarden.com", "us", "vault.bitwarden.com"]);
const EU_ALIASES = new Set(["eu", "bitwarden.eu", "https://bitwarden.eu", "vault.bitwarden.eu"]);

/**
 * Resolves the API and identity base URLs from the `server` settings.
 *
 * @throws {ConfigError} when a URL cannot be parsed, naming the setting.
 */
export function resolveServerUrls(server: Config["server"]): ServerUrls {
  const base = normaliseBase(server.url);
  const api = server.api === undefined
    ? base === null ? US_API_URL : `${base}/api`
    : normaliseUrl(server.api, "server.api");
  const identity = server.identity === undefined
    ? base === null ? US_IDENTITY_URL : `${base}/identity`
    : normaliseUrl(server.identity, "server.identity");
  return { api, identity };
}

/** True when the URLs point at Bitwarden's cloud, where the 2000 rule and rate limits apply. */
export function isBitwardenCloud(urls: ServerUrls): boolean {
  return [urls.api, urls.identity].every((url) => {
    const host = new URL(url).hostname.toLowerCase();
    return /(^|\.)bitwarden\.(com|eu)$/.test(host) || /(^|\.)bitwarden-gov\.com$/.test(host);
  });
}

function normaliseBase(value: string | undefined): string | null {
  if (value === undefined) return null;
  const trimmed = value.trim().replace(/\/+$/, "");
  if (trimmed === "") return null;
  const lower = trimmed.toLowerCase();
  if (US_ALIASES.has(lower)) return null;
  if (EU_ALIASES.has(lower) || lower === EU_BASE_URL) return EU_BASE_URL;
  return normaliseUrl(trimmed, "server.url");
}

function normaliseUrl(value: string, setting: string): string {
  let text = value.trim().replace(/\/+$/, "");
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = `https://${text}`;
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch (error) {
    throw new ConfigError(`Invalid ${setting}: "${value}" is not a URL`, {
      hint: `Set ${setting} to a URL such as https://vault.example.com`,
      cause: error,
    });
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new ConfigError(`Invalid ${setting}: "${value}" is not an http(s) URL`, {
      hint: `Set ${setting} to a URL such as https://vault.example.com`,
    });
  }
  if (parsed.search !== "" || parsed.hash !== "") {
    throw new ConfigError(`Invalid ${setting}: "${value}" has a query or fragment`, {
      hint: `Set ${setting} to the server's base URL only`,
    });
  }
  return text;
}
