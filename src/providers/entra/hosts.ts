/**
 * Microsoft's national clouds: where a tenant's token endpoint and Microsoft Graph live.
 *
 * Each cloud has its own sign-in host and Graph host, and a token from one cloud is refused by
 * the others: the global cloud signs in at `login.microsoftonline.com` for
 * `https://graph.microsoft.com`, US Government (GCC High) at `login.microsoftonline.us` for
 * `https://graph.microsoft.us`, and China (21Vianet) at `login.chinacloudapi.cn` for
 * `https://microsoftgraph.chinacloudapi.cn`. The client-credentials token scope is always the
 * cloud's Graph host plus `/.default`, even when `graphUrl` points elsewhere (a proxy or a test
 * fake). bwdc sends every cloud's Graph calls to the global host; this module does not.
 *
 * Pure: no I/O.
 * @module
 */

import { ConfigError } from "../../errors.ts";
import { baseUrlString, checkBaseUrl } from "../cloud/base_url.ts";

/** The sign-in hosts `directory.entra.identityAuthority` accepts. */
export type IdentityAuthority =
  | "login.microsoftonline.com"
  | "login.microsoftonline.us"
  | "login.chinacloudapi.cn";

/** The Graph root (no trailing slash) of each cloud, by sign-in host. */
export const GRAPH_HOSTS: Readonly<Record<IdentityAuthority, string>> = {
  "login.microsoftonline.com": "https://graph.microsoft.com",
  "login.microsoftonline.us": "https://graph.microsoft.us",
  "login.chinacloudapi.cn": "https://microsoftgraph.chinacloudapi.cn",
};

/** Graph hosts that are not a sign-in host's default: the US Government DoD cloud. */
const OTHER_GRAPH_HOSTS: readonly string[] = ["https://dod-graph.microsoft.us"];

/** The Entra settings {@link entraEndpoints} reads (`directory.entra.*`). */
export interface EntraHostSettings {
  /** The sign-in cloud. */
  identityAuthority: IdentityAuthority;
  /** Tenant id (GUID) or a verified domain. */
  tenant: string;
  /** Base that `/<tenant>/oauth2/v2.0/token` is appended to. Default `https://<identityAuthority>`. */
  authorityUrl?: string | undefined;
  /** Root that `/v1.0/...` is appended to. Default: the cloud's Graph host. */
  graphUrl?: string | undefined;
}

/** Where to get a token and where to send Graph calls. */
export interface EntraEndpoints {
  /** The full token endpoint, e.g. `https://login.microsoftonline.com/contoso.com/oauth2/v2.0/token`. */
  tokenUrl: string;
  /** The Graph version root calls are made on, e.g. `https://graph.microsoft.com/v1.0`. */
  graphBase: string;
  /** The client-credentials scope, e.g. `https://graph.microsoft.com/.default`. */
  scope: string;
}

/**
 * Checks an endpoint URL setting and returns it without a trailing slash (see
 * {@link checkBaseUrl}: `https://`, or `http://` for a loopback host; no query or fragment).
 * @throws {ConfigError} naming `setting`.
 */
export function checkEndpointUrl(value: string, setting: string): string {
  return baseUrlString(checkBaseUrl(value, setting, { example: "https://graph.microsoft.com" }));
}

/**
 * Works out the token endpoint, the Graph version root and the token scope for a tenant.
 *
 * `authorityUrl` replaces `https://<identityAuthority>` and `graphUrl` replaces the cloud's
 * Graph host; the scope stays the cloud's Graph host plus `/.default` either way, except for
 * `graphUrl https://dod-graph.microsoft.us` (the US Government DoD cloud), whose scope is that
 * host. A `graphUrl` that already ends in `/v1.0` is refused, since `/v1.0` is appended to it.
 * @throws {ConfigError} for a bad `directory.entra.authorityUrl` or `directory.entra.graphUrl`
 *   (see {@link checkEndpointUrl}), or an empty tenant.
 */
export function entraEndpoints(settings: EntraHostSettings): EntraEndpoints {
  const tenant = settings.tenant.trim();
  if (tenant === "") {
    throw new ConfigError("Invalid directory.entra.tenant: it is empty", {
      hint: "Set directory.entra.tenant to the tenant id (a GUID) or a verified domain",
    });
  }
  const cloudGraph = GRAPH_HOSTS[settings.identityAuthority];
  const authority = settings.authorityUrl === undefined
    ? `https://${settings.identityAuthority}`
    : checkEndpointUrl(settings.authorityUrl, "directory.entra.authorityUrl");
  const graph = settings.graphUrl === undefined
    ? cloudGraph
    : checkEndpointUrl(settings.graphUrl, "directory.entra.graphUrl");
  if (/\/v1\.0$|\/beta$/i.test(graph)) {
    throw new ConfigError(
      `Invalid directory.entra.graphUrl: ${graph} already names an API version`,
      { hint: `Set directory.entra.graphUrl to the root without the version, e.g. ${cloudGraph}` },
    );
  }
  // A Microsoft Graph host of its own (the US Government DoD cloud's `dod-graph.microsoft.us`,
  // which signs in at login.microsoftonline.us) is also the token's resource.
  const scopeHost = OTHER_GRAPH_HOSTS.includes(graph) ? graph : cloudGraph;
  return {
    tokenUrl: `${authority}/${encodeURIComponent(tenant)}/oauth2/v2.0/token`,
    graphBase: `${graph}/v1.0`,
    scope: `${scopeHost}/.default`,
  };
}
