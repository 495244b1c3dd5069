/**
 * Which proxy a request goes through, from `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (each
 * also in lower case; the lower-case name wins, as curl reads it).
 *
 * Rules:
 * - `https://` URLs use `HTTPS_PROXY`, `http://` URLs use `HTTP_PROXY`; when the variable is
 *   unset or empty the request is direct.
 * - `NO_PROXY` is a comma- or space-separated list: `*` (no proxy at all), a host name that
 *   matches itself and its subdomains (`example.com` and `.example.com` both match
 *   `api.example.com`), an IP address, an IPv4 CIDR range (`10.0.0.0/8`), each optionally with
 *   `:port`.
 * - Loopback hosts (`localhost`, `*.localhost`, `127.0.0.0/8`, `::1`) are direct when `NO_PROXY`
 *   is unset. When `NO_PROXY` is set (even to an empty string), its list alone decides, so a
 *   proxy in front of a loopback service can still be used.
 * @module
 */

/** The decision for one URL: direct, or through the proxy at `url`. */
export type ProxyDecision = { kind: "direct" } | { kind: "proxy"; url: string };

/** Reads an environment variable; `undefined` when unset. */
export type EnvReader = (name: string) => string | undefined;

function envValue(env: EnvReader, name: string): string | undefined {
  return env(name.toLowerCase()) ?? env(name);
}

/** True for `localhost`, `*.localhost`, `127.0.0.0/8` and `::1`. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (host === "::1" || host === "0:0:0:0:0:0:0:1") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function ipv4ToNumber(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

function matchesNoProxyEntry(entry: string, host: string, port: string): boolean {
  let pattern = entry.trim().toLowerCase();
  if (pattern === "") return false;
  if (pattern === "*") return true;
  // An optional :port (not for bare IPv6 addresses).
  const portMatch = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(pattern);
  if (portMatch !== null) {
    if (portMatch[2] !== port) return false;
    pattern = portMatch[1] ?? pattern;
  }
  pattern = pattern.replace(/^\[|\]$/g, "");
  const cidr = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(pattern);
  if (cidr !== null) {
    const base = ipv4ToNumber(cidr[1] ?? "");
    const address = ipv4ToNumber(host);
    const bits = Number(cidr[2]);
    if (base === null || address === null || bits > 32) return false;
    const size = 2 ** (32 - bits);
    return Math.floor(address / size) === Math.floor(base / size);
  }
  const name = pattern.replace(/^\*?\./, "");
  return host === name || host.endsWith(`.${name}`);
}

/**
 * Decides whether `url` goes through a proxy, by the rules of the module documentation.
 *
 * @param url an absolute `http://` or `https://` URL
 * @param env reads the environment (tests pass a record's lookup)
 * @returns `{ kind: "direct" }` or `{ kind: "proxy", url }` with the proxy URL as configured
 */
export function proxyFor(url: string | URL, env: EnvReader): ProxyDecision {
  const target = typeof url === "string" ? new URL(url) : url;
  const proxy = target.protocol === "https:"
    ? envValue(env, "HTTPS_PROXY")
    : target.protocol === "http:"
    ? envValue(env, "HTTP_PROXY")
    : undefined;
  if (proxy === undefined || proxy.trim() === "") return { kind: "direct" };
  const host = target.hostname.toLowerCase().replace(/^\[|\]$/g, "");
  const port = target.port !== "" ? target.port : target.protocol === "https:" ? "443" : "80";
  const noProxy = envValue(env, "NO_PROXY");
  if (noProxy === undefined) {
    if (isLoopbackHost(host)) return { kind: "direct" };
  } else if (noProxy.split(/[\s,]+/).some((entry) => matchesNoProxyEntry(entry, host, port))) {
    return { kind: "direct" };
  }
  return { kind: "proxy", url: proxy.trim() };
}
