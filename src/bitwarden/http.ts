/**
 * The Bitwarden transport: one request on roster's HTTP layer (`../http/`), retried by its one
 * retry policy with the decision below, and its failures worded for Bitwarden.
 *
 * Retry decision:
 *
 * | outcome | reads and token (`"idempotent"`) | the import POST (`"import"`) |
 * | --- | --- | --- |
 * | 429 | retry after `Retry-After` (seconds or HTTP date), or backoff | same |
 * | connection refused, nothing sent | retry | retry |
 * | 502, 503 | retry | retry |
 * | 500, 504, 520–524, other 5xx | retry | **no**: returned to the caller |
 * | reset or truncated body after sending, timeout | retry | **no**: the outcome is unknown |
 * | DNS failure, TLS/certificate error | no | no |
 * | 3xx redirect | no: reported with its target | same |
 * | 400 and every other 4xx | no | no |
 * | 2xx, even with an HTML body | returned (a wrong URL, not a glitch) | returned |
 *
 * The import is always sent on a new connection that is not reused: Deno's fetch (hyper)
 * silently resends a request, POSTs included, when a reused keep-alive connection closes before
 * the answer, which would defeat the rules below.
 *
 * Why the import is treated differently: the import is not atomic and the server runs its steps
 * one by one. A 429 is answered by the rate limiter before the controller runs, and a refused
 * connection sent nothing, so both are safe to resend. A 502 or 503 comes from a proxy that
 * could not reach a working server; if the server did run part of the import, resending the
 * same payload converges to the same end state. A 504/524, a timeout or a reset after the body
 * was sent usually means the server is *still running* the import; a second import in parallel
 * could race it (for example invite the same person twice, and duplicated external ids make
 * every later import fail with a 500). Those are reported as {@link BitwardenUnavailableError}
 * saying the outcome is unknown: re-running the sync later converges. A 500 from the import is
 * deterministic (duplicate emails, null arrays) and is not retried either.
 *
 * Waits and bounds are those of `../http/retry.ts` (full jitter, 6 attempts, 180 s).
 * @module
 */

import { BitwardenUnavailableError, ConfigError } from "../errors.ts";
import { createHttpClient, type HttpClient } from "../http/client.ts";
import {
  HttpBodyError,
  HttpCaFileError,
  HttpNetworkError,
  HttpStatusError,
} from "../http/errors.ts";
import {
  DEFAULT_RETRY_LIMITS,
  formatDuration,
  retry,
  RetryExhaustedError,
  type RetryLimits,
} from "../http/retry.ts";
import { parseRetryAfter } from "../http/throttle.ts";
import { describeServerError, parseErrorBody, statusText } from "./errors.ts";

/** Log callback: debug and info lines are progress, warn lines are worth an admin's eye. */
export type LogFn = (level: "debug" | "info" | "warn", msg: string) => void;

/** Bounds on retrying (see `../http/retry.ts`). */
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

/** The default {@link RetryPolicy}: the HTTP layer's defaults. */
export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: DEFAULT_RETRY_LIMITS.maxAttempts,
  maxElapsedMs: DEFAULT_RETRY_LIMITS.maxElapsedMs,
  baseDelayMs: DEFAULT_RETRY_LIMITS.baseDelayMs,
  maxDelayMs: DEFAULT_RETRY_LIMITS.maxDelayMs,
  maxRetryAfterMs: DEFAULT_RETRY_LIMITS.maxWaitMs,
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
  /** Per-attempt timeout in ms, covering the response body too. */
  timeoutMs: number;
  /** Awaited before every attempt (the GETs-per-minute budget). */
  beforeAttempt?: () => Promise<void>;
  /** Send on a new connection that is not kept for reuse (the import: see above). */
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
  /** PEM file of extra CA certificates (`server.caFile`). */
  caFile?: string;
  /** Reads the proxy variables (tests). Default: the process environment. */
  env?: (name: string) => string | undefined;
}

/** A retryable answer, thrown inside the retry loop so the policy sees it. */
class RetryableAnswer extends HttpStatusError {}

/** Sends requests with the retry policy of the module documentation. */
export class HttpTransport {
  readonly #options: HttpTransportOptions;
  readonly #http: HttpClient;
  readonly #stats: HttpStats = { requests: 0, retries: 0, rateLimited: 0 };
  #retryWaits = 0;

  constructor(options: HttpTransportOptions) {
    this.#options = options;
    this.#http = createHttpClient({
      fetch: options.fetch,
      now: options.now,
      ...(options.caFile === undefined ? {} : { caFile: options.caFile }),
      ...(options.env === undefined ? {} : { env: options.env }),
      onRequest: (event) => {
        this.#stats.requests++;
        if (event.status === 429) this.#stats.rateLimited++;
      },
    });
  }

  /** A copy of the counters. */
  stats(): HttpStats {
    return { ...this.#stats };
  }

  /** Waits before a retry so far (backoffs and `Retry-After`). */
  retryWaits(): number {
    return this.#retryWaits;
  }

  /** Releases the pooled connections. */
  close(): void {
    this.#http.close();
  }

  /**
   * Sends `request`, retrying per its mode. Returns the first response that is not retried
   * (any status except 3xx, 2xx or not).
   *
   * @throws {BitwardenUnavailableError} when the server cannot be reached, keeps failing,
   *   redirects, or the outcome of an import is unknown.
   * @throws {ConfigError} when `server.caFile` cannot be used.
   */
  async send(request: HttpRequest): Promise<HttpResponse> {
    const { now, sleep, random, log, retry: policy } = this.#options;
    const limits: RetryLimits = {
      maxAttempts: policy.maxAttempts,
      maxElapsedMs: policy.maxElapsedMs,
      baseDelayMs: policy.baseDelayMs,
      maxDelayMs: policy.maxDelayMs,
      maxWaitMs: policy.maxRetryAfterMs,
    };
    try {
      return await retry(async (attempt) => {
        if (attempt > 1) this.#stats.retries++;
        await request.beforeAttempt?.();
        const started = now();
        let response;
        try {
          response = await this.#http.request({
            method: request.method,
            url: request.url,
            headers: request.headers,
            ...(request.body === undefined ? {} : { body: request.body }),
            timeoutMs: request.timeoutMs,
            ...(request.freshConnection === true ? { freshConnection: true } : {}),
          });
        } catch (error) {
          if (error instanceof HttpNetworkError) {
            log("debug", `${request.what} → ${error.phase}: ${error.detail}`);
          }
          throw error;
        }
        log(
          "debug",
          `${request.what} → ${statusText(response.status)} (${formatDuration(now() - started)})`,
        );
        const { status } = response;
        const retryable = status === 429 || status === 502 || status === 503 ||
          (request.mode === "idempotent" && status >= 500);
        if (retryable || (status >= 300 && status < 400)) {
          throw new RetryableAnswer({ method: request.method, url: request.url }, response);
        }
        return { status, headers: response.headers, body: response.bodyText };
      }, {
        ...limits,
        now,
        sleep,
        random,
        isRetriable: (error) => {
          if (error instanceof RetryableAnswer) {
            if (error.status >= 300 && error.status < 400) return false;
            const wait = parseRetryAfter(error.headers.get("retry-after"), now());
            return wait === null ? true : { waitMs: wait };
          }
          if (error instanceof HttpNetworkError) {
            if (error.phase === "connect") return true;
            return request.mode === "idempotent" &&
              (error.phase === "reset" || error.phase === "timeout");
          }
          if (error instanceof HttpBodyError) return request.mode === "idempotent";
          return false;
        },
        onRetry: ({ error, attempt, delayMs, serverAsked }) => {
          this.#retryWaits++;
          log(
            serverAsked ? "info" : "warn",
            `${reasonOf(request, error)}; retrying in ${formatDuration(delayMs)} (attempt ${
              attempt + 1
            } of ${policy.maxAttempts})`,
          );
        },
      });
    } catch (error) {
      throw this.#mapError(request, error);
    }
  }

  #mapError(request: HttpRequest, error: unknown): Error {
    if (error instanceof HttpCaFileError) {
      return new ConfigError(
        error.problem === "unreadable"
          ? `Cannot read server.caFile "${error.path}": ${error.detail}`
          : `Invalid server.caFile "${error.path}": ${error.detail}`,
        {
          hint: error.problem === "unreadable"
            ? "Set server.caFile to a readable PEM file of the CA that signed the server's certificate"
            : "Set server.caFile to a PEM file (-----BEGIN CERTIFICATE-----)",
          cause: error,
        },
      );
    }
    if (error instanceof RetryableAnswer && error.status >= 300 && error.status < 400) {
      const target = error.location;
      return new BitwardenUnavailableError(
        `Bitwarden answered ${request.what} with a redirect: ${statusText(error.status)} to ${
          target ?? "no Location"
        }`,
        {
          hint: target === null
            ? "Check server.url (or server.api and server.identity): roster does not follow redirects"
            : `roster does not follow redirects: if ${target} is the server's real address, set server.url (or server.api and server.identity) to it`,
          details: { status: error.status, location: target },
        },
      );
    }
    if (error instanceof HttpNetworkError) {
      if (error.phase === "tls") {
        return new BitwardenUnavailableError(
          `Cannot reach Bitwarden: TLS failed for ${request.url}: ${error.detail}`,
          {
            hint:
              "If the server uses a private certificate authority, set server.caFile to its PEM file",
            cause: error,
          },
        );
      }
      if (error.phase === "dns") {
        return new BitwardenUnavailableError(
          `Cannot reach Bitwarden: the host of ${request.url} is unknown: ${error.detail}`,
          { hint: "Check server.url (or server.api and server.identity)", cause: error },
        );
      }
    }
    if (
      request.mode === "import" &&
      ((error instanceof HttpNetworkError && error.phase !== "connect") ||
        error instanceof HttpBodyError)
    ) {
      const detail = error instanceof HttpNetworkError ? error.detail : error.message;
      return new BitwardenUnavailableError(
        `Bitwarden import outcome unknown: ${request.what} failed after the request was sent: ${detail}`,
        {
          hint:
            "The server may have applied part or all of the import. Run the sync again in a few minutes: re-sending the same data converges",
          cause: error,
          details: {
            failure: error instanceof HttpNetworkError ? error.phase : "truncated",
          },
        },
      );
    }
    if (error instanceof RetryExhaustedError) return this.#giveUp(request, error);
    if (error instanceof HttpNetworkError || error instanceof HttpBodyError) {
      return this.#giveUp(
        request,
        new RetryExhaustedError(error, { attempts: 1, elapsedMs: 0, reason: "attempts" }),
      );
    }
    return error instanceof Error ? error : new Error(String(error));
  }

  #giveUp(request: HttpRequest, exhausted: RetryExhaustedError): BitwardenUnavailableError {
    const last = exhausted.lastError;
    const { attempts, elapsedMs } = exhausted;
    let reason = reasonOf(request, last);
    const status = last instanceof HttpStatusError ? last.status : null;
    let hint: string;
    if (exhausted.reason === "wait-too-long" && exhausted.requestedWaitMs !== null) {
      reason += `, and asks to wait ${formatDuration(exhausted.requestedWaitMs)}`;
      hint = `Bitwarden asked roster to wait longer than ${
        formatDuration(this.#options.retry.maxRetryAfterMs)
      }: run again later`;
    } else if (status === 429) {
      hint =
        "Bitwarden kept answering 429 Too Many Requests: another client may share the organization's rate limit. Run again in a few minutes, or lower server.maxRequestsPerMinute";
    } else if (status !== null) {
      hint =
        "The server kept failing: check its status (and its logs, if self-hosted), then run again";
    } else {
      hint =
        "Check that the server is up and reachable (proxy, firewall, HTTPS_PROXY), then run again";
    }
    return new BitwardenUnavailableError(
      `Bitwarden is unavailable: ${reason} (${attempts} ${
        attempts === 1 ? "attempt" : "attempts"
      } in ${formatDuration(elapsedMs)})`,
      { hint, details: { attempts, elapsedMs, ...(status === null ? {} : { status }) } },
    );
  }
}

/** `GET /public/members answered 502 Bad Gateway: …` or `… failed: Connection refused`. */
function reasonOf(request: HttpRequest, error: unknown): string {
  if (error instanceof HttpStatusError) {
    return `${request.what} answered ${
      describeServerError(parseErrorBody(error.status, error.bodyText))
    }`;
  }
  if (error instanceof HttpNetworkError) return `${request.what} failed: ${error.detail}`;
  if (error instanceof Error) return `${request.what} failed: ${error.message}`;
  return `${request.what} failed`;
}

/**
 * A sliding-window budget: at most `perMinute` acquisitions in any 60 s. {@link acquire} waits
 * (with the injected sleep) until one is free. `perMinute: null` means no budget.
 */
export class RequestBudget {
  readonly #perMinute: number | null;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #stamps: number[] = [];
  #waits = 0;

  constructor(
    perMinute: number | null,
    clock: { now: () => number; sleep: (ms: number) => Promise<void> },
  ) {
    this.#perMinute = perMinute === null ? null : Math.max(1, Math.floor(perMinute));
    this.#now = clock.now;
    this.#sleep = clock.sleep;
  }

  /** How many times {@link acquire} had to wait. */
  get waits(): number {
    return this.#waits;
  }

  /** Waits until a request may start, and books it. */
  async acquire(): Promise<void> {
    const perMinute = this.#perMinute;
    if (perMinute === null) return;
    for (;;) {
      const t = this.#now();
      while (this.#stamps.length > 0 && (this.#stamps[0] ?? 0) <= t - 60_000) this.#stamps.shift();
      const oldest = this.#stamps[0];
      if (this.#stamps.length < perMinute || oldest === undefined) {
        this.#stamps.push(t);
        return;
      }
      this.#waits++;
      await this.#sleep(oldest + 60_000 - t);
      if (this.#now() <= t) {
        // A clock that does not move (a test's frozen clock) would wait forever: go on.
        this.#stamps.push(this.#now());
        return;
      }
    }
  }
}
