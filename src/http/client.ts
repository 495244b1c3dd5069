/**
 * The HTTP client every roster component uses (the Bitwarden client and every directory
 * source): `fetch` with per-request timeouts, connection reuse (keep-alive), gzip, an extra CA
 * file, `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` (see `./proxy.ts`), a user agent, and JSON
 * decoding that keeps the raw body of error answers.
 *
 * It sends each request once: retrying is the caller's decision (`./retry.ts`), and throttling
 * is `./throttle.ts`. It throws only the neutral errors of `./errors.ts`; callers map them to
 * their own errors.
 *
 * Transport details:
 * - gzip and deflate: `fetch` asks for them (`Accept-Encoding`) and decodes them; a body that
 *   fails to decode is an {@link HttpBodyError} `truncated`.
 * - proxies: `./proxy.ts` decides. One limit of Deno's fetch: a direct `https://` request is
 *   made by Deno's own proxy handling, which proxies loopback hosts too when `HTTPS_PROXY` is set
 *   and `NO_PROXY` is not; list them in `NO_PROXY` for an `https://` service on loopback.
 * - keep-alive: connections are pooled per host and reused; `freshConnection: true` sends a
 *   request on a connection that is never reused (Deno's fetch silently resends a request, a
 *   POST too, when a reused connection closes before the answer; a non-idempotent request that
 *   must not be resent behind the caller's back uses this).
 * - Redirects are not followed unless the request says `redirect: "follow"`: a 3xx is returned
 *   by {@link HttpClient.request} and thrown as an {@link HttpStatusError} (with `location`) by
 *   {@link HttpClient.json}, so a moved endpoint is reported, never silently re-sent elsewhere.
 * @module
 */

import { VERSION } from "../version.ts";
import {
  HttpBodyError,
  HttpCaFileError,
  HttpNetworkError,
  HttpStatusError,
  messageOf,
  type NetworkPhase,
} from "./errors.ts";
import { type EnvReader, proxyFor } from "./proxy.ts";

/** One request. */
export interface HttpRequest {
  /** The method. @default "GET" */
  method?: string;
  /** The absolute URL. */
  url: string | URL;
  /** Request headers; they override the client's default headers of the same name. */
  headers?: Record<string, string>;
  /** The body (a JSON text, a form, …); set `Content-Type` in `headers`. */
  body?: string;
  /** Timeout of this attempt in milliseconds, covering the whole body. @default the client's */
  timeoutMs?: number;
  /** Aborts the request; it then fails with {@link HttpNetworkError} phase `aborted`. */
  signal?: AbortSignal;
  /** Send on a connection that is not kept for reuse (see the module documentation). */
  freshConnection?: boolean;
  /** `manual` returns 3xx answers as they are; `follow` follows them. @default "manual" */
  redirect?: "manual" | "follow";
}

/** An answer, its body read as text. */
export interface HttpResponse {
  /** The HTTP status. */
  status: number;
  /** The response headers. */
  headers: Headers;
  /** The URL that answered (after redirects when they are followed). */
  url: string;
  /** The whole body, decoded (gzip) and read as UTF-8 text. */
  bodyText: string;
}

/** A 2xx answer with its body parsed as JSON (`null` for an empty body). */
export interface JsonResponse extends HttpResponse {
  /** The parsed body: check its shape with a type guard before use. */
  body: unknown;
}

/** What happened to one request, for counters, progress and debug logs. */
export interface RequestEvent {
  method: string;
  url: string;
  /** The status, or null when there was no answer. */
  status: number | null;
  /** Where it failed when there was no answer, else null. */
  phase: NetworkPhase | null;
  /** Milliseconds from sending to the end of the body (or the failure). */
  durationMs: number;
}

/** Counters of a client. */
export interface HttpStats {
  /** Requests sent (each attempt counts). */
  requests: number;
  /** Answers with status 429. */
  rateLimited: number;
  /** Requests without an answer. */
  networkErrors: number;
}

/** Options of {@link createHttpClient}. */
export interface HttpClientOptions {
  /** The `User-Agent` header. @default `roster/<version>` */
  userAgent?: string;
  /** Default timeout of each request in milliseconds, body included. @default 120000 */
  timeoutMs?: number;
  /** Headers sent with every request (e.g. `Accept`). @default {} */
  headers?: Record<string, string>;
  /**
   * Path of a PEM file of extra CA certificates, trusted besides the system's (e.g.
   * `server.caFile`, `directory.<type>.caFile`). Read on the first request.
   */
  caFile?: string;
  /** Reads the proxy variables. @default `Deno.env.get` (undefined without env permission) */
  env?: EnvReader;
  /** The fetch to use (tests). @default the global `fetch` */
  fetch?: typeof fetch;
  /** Clock in milliseconds, for {@link RequestEvent.durationMs}. @default `Date.now` */
  now?: () => number;
  /** Called after every request, answered or not. */
  onRequest?: (event: RequestEvent) => void;
}

/** The client made by {@link createHttpClient}. Call {@link HttpClient.close} when done. */
export interface HttpClient {
  /**
   * Sends one request and returns its answer whatever the status (3xx included).
   *
   * @throws {HttpNetworkError} when there is no answer (DNS, refused, TLS, timeout, reset,
   *   aborted).
   * @throws {HttpBodyError} `truncated` when the body ends early or cannot be decoded.
   * @throws {HttpCaFileError} when `caFile` cannot be read or holds no certificate.
   */
  request(request: HttpRequest): Promise<HttpResponse>;
  /**
   * Sends one request (with `Accept: application/json` unless the request sets it) and parses a
   * 2xx body as JSON.
   *
   * @throws {HttpStatusError} for any status outside 2xx (its body text and parsed JSON kept).
   * @throws {HttpBodyError} `invalid-json` when a 2xx body is not JSON; and everything
   *   {@link HttpClient.request} throws.
   */
  json(request: HttpRequest): Promise<JsonResponse>;
  /** A copy of the counters. */
  stats(): HttpStats;
  /** Releases pooled connections. Requests after this fail. */
  close(): void;
}

const defaultEnv: EnvReader = (name) => {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
};

/**
 * Reads and checks a PEM file of CA certificates.
 *
 * @returns the file's text
 * @throws {HttpCaFileError} `unreadable` (missing, no permission) or `invalid` (no
 *   `-----BEGIN CERTIFICATE-----` block).
 */
export async function readCaFile(path: string): Promise<string> {
  let pem: string;
  try {
    pem = await Deno.readTextFile(path);
  } catch (error) {
    throw new HttpCaFileError(path, "unreadable", messageOf(error), { cause: error });
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new HttpCaFileError(path, "invalid", "it holds no PEM certificate");
  }
  return pem;
}

/**
 * Classifies a thrown `fetch` or body-read error into a {@link NetworkPhase}.
 *
 * @param error what `fetch` threw
 * @param state whether the request's timeout fired, or the caller aborted it
 * @returns the phase and the innermost message
 */
export function classifyNetworkError(
  error: unknown,
  state: { timedOut: boolean; aborted: boolean },
): { phase: NetworkPhase; detail: string } {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    parts.push(messageOf(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  const text = parts.join(" | ");
  const detail = parts.at(-1) ?? "unknown error";
  if (state.timedOut) return { phase: "timeout", detail: "no answer in time" };
  if (state.aborted) return { phase: "aborted", detail: "the request was aborted" };
  if (/certificate|tls|ssl|handshake/i.test(text)) return { phase: "tls", detail };
  if (/dns error|failed to lookup|name or service not known|no such host|nodename/i.test(text)) {
    return { phase: "dns", detail };
  }
  if (/\(Connect\)|connection refused|os error 111|ECONNREFUSED|tcp connect error/i.test(text)) {
    return { phase: "connect", detail };
  }
  return { phase: "reset", detail };
}

/**
 * Creates an {@link HttpClient}. Nothing is read or connected before the first request.
 *
 * @example
 * const http = createHttpClient({ caFile: config.caFile, timeoutMs: 60_000 });
 * const { body } = await http.json({ url: "https://graph.microsoft.com/v1.0/users" });
 */
export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const fetchFn = options.fetch ?? fetch;
  const env = options.env ?? defaultEnv;
  const now = options.now ?? Date.now;
  const defaultTimeout = options.timeoutMs ?? 120_000;
  const baseHeaders: Record<string, string> = {
    "User-Agent": options.userAgent ?? `roster/${VERSION}`,
    ...options.headers,
  };
  const stats: HttpStats = { requests: 0, rateLimited: 0, networkErrors: 0 };
  const clients = new Map<string, Promise<Deno.HttpClient>>();
  let caPem: Promise<string> | undefined;
  let closed = false;

  const anyProxyVariable = () =>
    ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY", "all_proxy"].some(
      (name) => (env(name) ?? "") !== "",
    );

  /** The Deno client for a URL, or undefined for fetch's default one. */
  function denoClient(url: URL, fresh: boolean): Promise<Deno.HttpClient> | undefined {
    const decision = proxyFor(url, env);
    const base: Deno.CreateHttpClientOptions = fresh ? { poolMaxIdlePerHost: 0 } : {};
    let key: string;
    if (decision.kind === "proxy") {
      base.proxy = { url: decision.url };
      key = `proxy ${decision.url}`;
    } else if (url.protocol === "http:" && anyProxyVariable()) {
      // Deno's fetch applies the proxy variables itself (loopback included): a direct plain-HTTP
      // connection is made explicit by pinning the transport to the target's host and port.
      // (A pinned transport carries no TLS, so a direct https:// request is left to Deno's own
      // handling of the same variables, which also honours NO_PROXY.)
      const port = Number(url.port !== "" ? url.port : 80);
      const hostname = url.hostname.replace(/^\[|\]$/g, "");
      base.proxy = { transport: "tcp", hostname, port };
      key = `direct ${hostname}:${port}`;
    } else {
      if (options.caFile === undefined && !fresh) return undefined;
      key = "default";
    }
    key += fresh ? " fresh" : "";
    let pending = clients.get(key);
    if (pending === undefined) {
      pending = (async () => {
        if (options.caFile !== undefined) {
          caPem ??= readCaFile(options.caFile);
          base.caCerts = [await caPem];
        }
        try {
          return Deno.createHttpClient(base);
        } catch (error) {
          if (options.caFile !== undefined && /cert|pem/i.test(messageOf(error))) {
            throw new HttpCaFileError(options.caFile, "invalid", messageOf(error), {
              cause: error,
            });
          }
          throw error;
        }
      })();
      // A failed creation (bad CA file) is not cached as a client, but fails again next time.
      pending.catch(() => clients.delete(key));
      clients.set(key, pending);
    }
    return pending;
  }

  async function request(req: HttpRequest): Promise<HttpResponse> {
    const method = (req.method ?? "GET").toUpperCase();
    const url = typeof req.url === "string" ? new URL(req.url) : req.url;
    const where = { method, url: url.href };
    if (closed) throw new HttpNetworkError(where, "aborted", "the HTTP client is closed");
    const client = await denoClient(url, req.freshConnection === true);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, req.timeoutMs ?? defaultTimeout);
    const onAbort = () => controller.abort();
    req.signal?.addEventListener("abort", onAbort, { once: true });
    if (req.signal?.aborted === true) controller.abort();
    const started = now();
    stats.requests++;
    const report = (status: number | null, phase: NetworkPhase | null) =>
      options.onRequest?.({ method, url: url.href, status, phase, durationMs: now() - started });
    const networkError = (error: unknown) => {
      const { phase, detail } = classifyNetworkError(error, {
        timedOut,
        aborted: req.signal?.aborted === true,
      });
      stats.networkErrors++;
      report(null, phase);
      return new HttpNetworkError(where, phase, detail, { cause: error });
    };
    try {
      const init: RequestInit & { client?: Deno.HttpClient } = {
        method,
        headers: { ...baseHeaders, ...req.headers },
        signal: controller.signal,
        cache: "no-store",
        redirect: req.redirect ?? "manual",
      };
      if (req.body !== undefined) init.body = req.body;
      if (client !== undefined) init.client = await client;
      let response: Response;
      try {
        response = await fetchFn(url.href, init);
      } catch (error) {
        throw networkError(error);
      }
      let bodyText: string;
      try {
        bodyText = await response.text();
      } catch (error) {
        if (timedOut || req.signal?.aborted === true) throw networkError(error);
        stats.networkErrors++;
        report(response.status, "reset");
        throw new HttpBodyError(where, "truncated", {
          status: response.status,
          excerpt: "",
          message: `the body of the ${response.status} answer was cut short: ${
            classifyNetworkError(error, { timedOut: false, aborted: false }).detail
          }`,
          cause: error,
        });
      }
      if (response.status === 429) stats.rateLimited++;
      report(response.status, null);
      return {
        status: response.status,
        headers: response.headers,
        url: response.url === "" ? url.href : response.url,
        bodyText,
      };
    } finally {
      clearTimeout(timer);
      req.signal?.removeEventListener("abort", onAbort);
    }
  }

  async function json(req: HttpRequest): Promise<JsonResponse> {
    const headers = { Accept: "application/json", ...req.headers };
    const response = await request({ ...req, headers });
    const where = {
      method: (req.method ?? "GET").toUpperCase(),
      url: typeof req.url === "string" ? new URL(req.url).href : req.url.href,
    };
    if (response.status < 200 || response.status >= 300) {
      throw new HttpStatusError(where, response);
    }
    if (response.bodyText.trim() === "") return { ...response, body: null };
    try {
      return { ...response, body: JSON.parse(response.bodyText) };
    } catch (error) {
      throw new HttpBodyError(where, "invalid-json", {
        status: response.status,
        excerpt: response.bodyText,
        message: `the ${response.status} answer is not JSON: ${messageOf(error)}`,
        cause: error,
      });
    }
  }

  return {
    request,
    json,
    stats: () => ({ ...stats }),
    close() {
      closed = true;
      for (const pending of clients.values()) pending.then((c) => c.close(), () => {});
      clients.clear();
    },
  };
}
