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
import { isLoopbackHost } from "../http/proxy.ts";

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
 * A value without a scheme gets `https://`. Plain `http://` is accepted only for a loopback host
 * (`localhost`, `127.0.0.0/8`, `::1`: a local test server), as for the cloud sources' endpoint
 * URLs, so the organization's API key and member data never cross a network in clear text.
 * @throws {ConfigError} naming the setting (also in `details.setting`) when a URL cannot be
 *   parsed, is not http(s), is plain `http://` to a host that is not loopback, or has a query or
 *   fragment.
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
  if (parsed.protocol === "http:" && !isLoopbackHost(parsed.hostname)) {
    throw new ConfigError(
      `Invalid ${setting}: plain http:// is only allowed for a loopback host, not ${parsed.hostname}`,
      {
        hint:
          `Use https:// in ${setting} (or a loopback address such as http://127.0.0.1:8080 for a local test server)`,
        details: { setting },
      },
    );
  }
  if (parsed.search !== "" || parsed.hash !== "") {
    throw new ConfigError(`Invalid ${setting}: "${value}" has a query or fragment`, {
      hint: `Set ${setting} to the server's base URL only`,
    });
  }
  return text;
}
