/**
 * The HTTP transport: one request, retried with bounded exponential backoff.
 *
 * Retry policy (see `bitwarden-api.md` §4 and the client checklist):
 *
 * | outcome | reads and token (`"idempotent"`) | the import POST (`"import"`) |
 * | --- | --- | --- |
 * | 429 | retry after `Retry-After` (seconds or HTTP date), or backoff | same |
 * | connection refused, nothing sent | retry | retry |
 * | 502, 503 | retry | retry |
 * | 500, 504, 520–524, other 5xx | retry | **no**: returned to the caller |
 * | reset after sending, timeout | retry | **no**: the outcome is unknown |
 * | DNS failure, TLS/certificate error | no | no |
 * | 400 and every other 4xx | no | no |
 * | 2xx, even with an HTML body | returned (a wrong URL, not a glitch) | returned |
 *
 * The import is always sent on a new connection that is not reused: Deno's fetch (hyper)
 * silently resends a request, POSTs included, when a reused keep-alive connection closes before
 * the answer, which would defeat the rules below.
 *
 * Why the import is treated differently: the import is not atomic and runs its steps one by one
 * on the server (`bitwarden-api.md` §2). A 429 is answered by the rate limiter before the
 * controller runs, and a refused connection sent nothing, so both are safe to resend. A 502 or
 * 503 comes from a proxy that could not reach a working server; if the server did run part of
 * the import, resending the same payload converges to the same end state. A 504/524, a timeout
 * or a reset after the body was sent usually means the server is *still running* the import; a
 * second import in parallel could race it (for example invite the same person twice, and
 * duplicated external ids make every later import fail with a 500). Those are reported as
 * {@link BitwardenUnavailableError} saying the outcome is unknown: re-running the sync later
 * converges. A 500 from the import is deterministic (duplicate emails, null arrays) and is not
 * retried either.
 *
 * Delays use "full jitter": a random wait between 0 and `baseDelayMs * 2^(attempt-1)`, capped at
 * `maxDelayMs`. Retrying stops after `maxAttempts` attempts, or when the next wait would end past
 * `maxElapsedMs` after the first attempt. Clock, sleep and randomness are injected.
 * @module
 */

import { BitwardenUnavailableError, errorMessage } from "../errors.ts";
import { describeServerError, parseErrorBody, statusText } from "./errors.ts";

/** Log callback: debug and info lines are progress, warn lines are worth an admin's eye. */
export type LogFn = (level: "debug" | "info" | "warn", msg: string) => void;

/** Bounds on retrying. */
export interface RetryPolicy {
  /** Attempts in total, the first included. Default 6. */
  maxAttempts: number;
  /** No wait may end later than this after the first attempt. Default 180 000 ms. */
  maxElapsedMs: number;
  /** First backoff cap; doubles per attempt. Default 1000 ms. */
  baseDelayMs: number;
  /** Largest backoff wait. Default 30 000 ms. */
  maxDelayMs: number;
  /** A `Retry-After` longer than this is not waited for. Default 120 000 ms. */
  maxRetryAfterMs: number;
}

/** The default {@link RetryPolicy}. */
export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 6,
  maxElapsedMs: 180_000,
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
};

/** How a request may be retried: see the module documentation. */
export type RetryMode = "idempotent" | "import";

/** One request to send. */
export interface HttpRequest {
  method: "GET" | "POST";
  url: string;
  headers: Record<string, string>;
  body?: string;
  mode: RetryMode;
  /** How the request is named in messages, e.g. `GET /public/members`. */
  what: string;
  /** Per-attempt timeout, covering the response body too. */
  timeoutMs: number;
  /** Awaited before every attempt (the GETs-per-minute budget). */
  beforeAttempt?: () => Promise<void>;
  /**
   * Send on a new connection that is not kept for reuse. Deno's fetch (hyper) silently resends
   * a request, POSTs included, when a reused keep-alive connection closes before the answer;
   * the import must not be resent behind roster's back, so it never rides a reused connection.
   */
  freshConnection?: boolean;
}

/** A response, its body read as text. */
export interface HttpResponse {
  status: number;
  headers: Headers;
  body: string;
}

/** Counters for `--verbose` output and tests. */
export interface HttpStats {
  /** HTTP attempts sent (token requests included). */
  requests: number;
  /** Attempts that were retries of an earlier one. */
  retries: number;
  /** 429 answers received. */
  rateLimited: number;
}

/** Dependencies of {@link HttpTransport}. */
export interface HttpTransportOptions {
  fetch: typeof fetch;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  log: LogFn;
  retry: RetryPolicy;
  /**
   * The Deno HTTP client to use (extra CA certificates, no connection reuse), or undefined for
   * the default one. Created lazily.
   */
  httpClient: (freshConnection: boolean) => Promise<Deno.HttpClient | undefined>;
}

type FailureKind = "connect" | "dns" | "tls" | "timeout" | "reset";

interface NetworkFailure {
  kind: FailureKind;
  detail: string;
  cause: unknown;
}

/** Classifies a thrown fetch or body-read error. */
export function classifyNetworkError(error: unknown, timedOut: boolean): NetworkFailure {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    parts.push(errorMessage(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  const text = parts.join(" | ");
  const detail = parts.at(-1) ?? "unknown error";
  if (timedOut) return { kind: "timeout", detail: "no answer in time", cause: error };
  if (/certificate|tls|ssl|handshake/i.test(text)) return { kind: "tls", detail, cause: error };
  if (/dns error|failed to lookup|name or service not known|no such host|nodename/i.test(text)) {
    return { kind: "dns", detail, cause: error };
  }
  if (/\(Connect\)|connection refused|os error 111|ECONNREFUSED|tcp connect error/i.test(text)) {
    return { kind: "connect", detail, cause: error };
  }
  return { kind: "reset", detail, cause: error };
}

/**
 * Parses `Retry-After`: delta seconds or an HTTP date. Returns milliseconds from `nowMs`, or null
 * when the header is absent or unreadable.
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Sends requests with the retry policy of the module documentation. */
export class HttpTransport {
  readonly #options: HttpTransportOptions;
  readonly #stats: HttpStats = { requests: 0, retries: 0, rateLimited: 0 };

  constructor(options: HttpTransportOptions) {
    this.#options = options;
  }

  /** A copy of the counters. */
  stats(): HttpStats {
    return { ...this.#stats };
  }

  /**
   * Sends `request`, retrying per its mode. Returns the first response that is not retried
   * (any status, 2xx or not).
   *
   * @throws {BitwardenUnavailableError} when the server cannot be reached, keeps failing, or
   *   the outcome of an import is unknown.
   */
  async send(request: HttpRequest): Promise<HttpResponse> {
    const { now, sleep, random, log, retry } = this.#options;
    const started = now();
    for (let attempt = 1;; attempt++) {
      if (attempt > 1) this.#stats.retries++;
      await request.beforeAttempt?.();
      this.#stats.requests++;
      const outcome = await this.#attempt(request);
      let reason: string;
      let retryAfterMs: number | null = null;
      if ("failure" in outcome) {
        const { failure } = outcome;
        reason = `${request.what} failed: ${failure.detail}`;
        if (failure.kind === "tls") {
          throw new BitwardenUnavailableError(
            `Cannot reach Bitwarden: TLS failed for ${request.url}: ${failure.detail}`,
            {
              hint:
                "If the server uses a private certificate authority, set server.caFile to its PEM file",
              cause: failure.cause,
            },
          );
        }
        if (failure.kind === "dns") {
          throw new BitwardenUnavailableError(
            `Cannot reach Bitwarden: the host of ${request.url} is unknown: ${failure.detail}`,
            { hint: "Check server.url (or server.api and server.identity)", cause: failure.cause },
          );
        }
        if (request.mode === "import" && failure.kind !== "connect") {
          throw new BitwardenUnavailableError(
            `Bitwarden import outcome unknown: ${request.what} failed after the request was sent: ${failure.detail}`,
            {
              hint:
                "The server may have applied part or all of the import. Run the sync again in a few minutes: re-sending the same data converges",
              cause: failure.cause,
              details: { failure: failure.kind },
            },
          );
        }
      } else {
        const { response } = outcome;
        const status = response.status;
        if (status === 429) this.#stats.rateLimited++;
        const retryable = status === 429 || status === 502 || status === 503 ||
          (request.mode === "idempotent" && status >= 500);
        if (!retryable) return response;
        reason = `${request.what} answered ${
          describeServerError(parseErrorBody(status, response.body))
        }`;
        retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), now());
        if (retryAfterMs !== null && retryAfterMs > retry.maxRetryAfterMs) {
          throw this.#giveUp(
            `${reason}, and asks to wait ${formatMs(retryAfterMs)}`,
            attempt,
            started,
            `Bitwarden asked roster to wait longer than ${
              formatMs(retry.maxRetryAfterMs)
            }: run again later`,
          );
        }
      }
      const backoffCap = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
      const delay = retryAfterMs ?? Math.round(random() * backoffCap);
      if (attempt >= retry.maxAttempts) throw this.#giveUp(reason, attempt, started);
      if (now() - started + delay > retry.maxElapsedMs) {
        throw this.#giveUp(reason, attempt, started);
      }
      log(
        retryAfterMs === null ? "warn" : "info",
        `${reason}; retrying in ${formatMs(delay)} (attempt ${
          attempt + 1
        } of ${retry.maxAttempts})`,
      );
      await sleep(delay);
    }
  }

  #giveUp(
    reason: string,
    attempts: number,
    started: number,
    hint?: string,
  ): BitwardenUnavailableError {
    const elapsed = this.#options.now() - started;
    return new BitwardenUnavailableError(
      `Bitwarden is unavailable: ${reason} (${attempts} ${
        attempts === 1 ? "attempt" : "attempts"
      } in ${formatMs(elapsed)})`,
      {
        hint: hint ??
          "Check that the server is up and reachable (proxy, firewall, HTTPS_PROXY), then run again",
        details: { attempts, elapsedMs: elapsed },
      },
    );
  }

  async #attempt(
    request: HttpRequest,
  ): Promise<{ response: HttpResponse } | { failure: NetworkFailure }> {
    // Outside the try: a bad server.caFile is a ConfigError, not a network failure.
    const client = await this.#options.httpClient(request.freshConnection === true);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, request.timeoutMs);
    const started = this.#options.now();
    try {
      const init: RequestInit & { client?: Deno.HttpClient } = {
        method: request.method,
        headers: request.headers,
        signal: controller.signal,
        cache: "no-store",
        redirect: "manual",
      };
      if (request.body !== undefined) init.body = request.body;
      if (client !== undefined) init.client = client;
      const response = await this.#options.fetch(request.url, init);
      const body = await response.text();
      this.#options.log(
        "debug",
        `${request.what} → ${statusText(response.status)} (${
          formatMs(this.#options.now() - started)
        })`,
      );
      return { response: { status: response.status, headers: response.headers, body } };
    } catch (error) {
      const failure = classifyNetworkError(error, timedOut);
      this.#options.log("debug", `${request.what} → ${failure.kind}: ${failure.detail}`);
      return { failure };
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * A sliding-window budget: at most `perMinute` acquisitions in any 60 s. {@link acquire} waits
 * (with the injected sleep) until one is free.
 */
export class RequestBudget {
  readonly #perMinute: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #stamps: number[] = [];

  constructor(
    perMinute: number,
    clock: { now: () => number; sleep: (ms: number) => Promise<void> },
  ) {
    this.#perMinute = Math.max(1, Math.floor(perMinute));
    this.#now = clock.now;
    this.#sleep = clock.sleep;
  }

  /** Waits until a request may start, and books it. */
  async acquire(): Promise<void> {
    for (;;) {
      const t = this.#now();
      while (this.#stamps.length > 0 && (this.#stamps[0] ?? 0) <= t - 60_000) this.#stamps.shift();
      const oldest = this.#stamps[0];
      if (this.#stamps.length < this.#perMinute || oldest === undefined) {
        this.#stamps.push(t);
        return;
      }
      await this.#sleep(oldest + 60_000 - t);
      if (this.#now() <= t) {
        // A clock that does not move (a test's frozen clock) would wait forever: go on.
        this.#stamps.push(this.#now());
        return;
      }
    }
  }
}
