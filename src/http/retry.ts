/**
 * The one retry policy of roster: bounded attempts, exponential backoff with full jitter, and a
 * caller-supplied decision of what may be retried and how long the server asked to wait.
 *
 * Waits: when the decision gives a wait (from `Retry-After`, a rate-limit reset, …) that wait is
 * used; otherwise "full jitter": a random wait between 0 and
 * `min(maxDelayMs, baseDelayMs * 2^(attempt-1))`, so many clients that failed together do not
 * retry together. Retrying stops after `maxAttempts` attempts, when the next wait would end
 * later than `maxElapsedMs` after the first attempt, or when the server asks for a wait longer
 * than `maxWaitMs`; the error thrown is then a {@link RetryExhaustedError} whose `cause` is the
 * last error. An error the decision does not retry is thrown as it is.
 *
 * Clock, sleep and randomness are injectable: tests never really wait.
 * @module
 */

import { HttpBodyError, HttpNetworkError, HttpStatusError } from "./errors.ts";
import { parseRetryAfter, rateLimitWaitMs } from "./throttle.ts";

/**
 * What to do after an error: `false` (throw it now), `true` (retry after the backoff wait), or
 * `{ waitMs }` (retry after that wait, the server's own signal).
 */
export type RetryDecision = boolean | { waitMs: number };

/** Why retrying stopped. */
export type GiveUpReason = "attempts" | "elapsed" | "wait-too-long";

/** Passed to `onRetry` before each wait. */
export interface RetryEvent {
  /** The error of the attempt that failed. */
  error: unknown;
  /** The attempt that failed (1 for the first). */
  attempt: number;
  /** How long the retry waits, in milliseconds. */
  delayMs: number;
  /** True when the wait is the server's (`Retry-After`, rate-limit reset), not a backoff. */
  serverAsked: boolean;
}

/** Bounds of the policy. Every field has a default. */
export interface RetryLimits {
  /** Attempts in total, the first included. @default 6 */
  maxAttempts?: number;
  /** No wait may end later than this after the first attempt, in ms. @default 180000 */
  maxElapsedMs?: number;
  /** First backoff cap in ms; doubles per attempt. @default 1000 */
  baseDelayMs?: number;
  /** Largest backoff wait in ms. @default 30000 */
  maxDelayMs?: number;
  /** A server-asked wait longer than this (ms) is not waited for: retrying stops. @default 120000 */
  maxWaitMs?: number;
}

/** Options of {@link retry}. */
export interface RetryOptions extends RetryLimits {
  /** Decides whether `error` (thrown by attempt `attempt`) is retried, and how long to wait. */
  isRetriable: (error: unknown, attempt: number) => RetryDecision;
  /** Called before each wait (progress, logs). */
  onRetry?: (event: RetryEvent) => void;
  /** Stops retrying: the pending wait ends and the last error is thrown. */
  signal?: AbortSignal;
  /** Clock in ms. @default `Date.now` */
  now?: () => number;
  /** Waits `ms` (resolving early when `signal` aborts). @default {@link sleep} */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Randomness in [0, 1) for the jitter. @default `Math.random` */
  random?: () => number;
}

/** The default limits. */
export const DEFAULT_RETRY_LIMITS: Required<RetryLimits> = {
  maxAttempts: 6,
  maxElapsedMs: 180_000,
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  maxWaitMs: 120_000,
};

/** Retrying ran out; `cause` is the last error, `attempts` how many were made. */
export class RetryExhaustedError extends Error {
  /** Attempts made, the first included. */
  readonly attempts: number;
  /** Milliseconds from the first attempt to giving up. */
  readonly elapsedMs: number;
  /** Why retrying stopped. */
  readonly reason: GiveUpReason;
  /** With `wait-too-long`: the wait the server asked for, in ms; else null. */
  readonly requestedWaitMs: number | null;
  /** The last attempt's error (also `cause`). */
  readonly lastError: unknown;
  constructor(
    lastError: unknown,
    detail: {
      attempts: number;
      elapsedMs: number;
      reason: GiveUpReason;
      requestedWaitMs?: number;
    },
  ) {
    const last = lastError instanceof Error ? lastError.message : String(lastError);
    super(
      `Gave up after ${detail.attempts} ${detail.attempts === 1 ? "attempt" : "attempts"} in ${
        formatDuration(detail.elapsedMs)
      }: ${last}`,
      { cause: lastError },
    );
    this.name = "RetryExhaustedError";
    this.attempts = detail.attempts;
    this.elapsedMs = detail.elapsedMs;
    this.reason = detail.reason;
    this.requestedWaitMs = detail.requestedWaitMs ?? null;
    this.lastError = lastError;
  }
}

/** `850 ms` or `2.5 s`. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Waits `ms` milliseconds; resolves early (without error) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * The full-jitter backoff wait before retry number `attempt` (1 for the wait after the first
 * failure): `random() * min(maxDelayMs, baseDelayMs * 2^(attempt-1))`, rounded, in ms.
 */
export function backoffDelay(
  attempt: number,
  limits: { baseDelayMs?: number; maxDelayMs?: number } = {},
  random: () => number = Math.random,
): number {
  const base = limits.baseDelayMs ?? DEFAULT_RETRY_LIMITS.baseDelayMs;
  const max = limits.maxDelayMs ?? DEFAULT_RETRY_LIMITS.maxDelayMs;
  return Math.round(random() * Math.min(max, base * 2 ** Math.max(0, attempt - 1)));
}

/**
 * Runs `attempt` until it succeeds, the decision refuses to retry, or the limits are reached.
 *
 * @param attempt the work; receives the attempt number (1 for the first)
 * @returns what the first successful attempt returned
 * @throws the attempt's error as it is when `isRetriable` returns false or `signal` aborted;
 *   {@link RetryExhaustedError} (cause: the last error) when the limits are reached.
 */
export async function retry<T>(
  attempt: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const limits = { ...DEFAULT_RETRY_LIMITS, ...definedOnly(options) };
  const maxAttempts = Math.max(1, Math.floor(limits.maxAttempts));
  const now = options.now ?? Date.now;
  const wait = options.sleep ?? sleep;
  const random = options.random ?? Math.random;
  const started = now();
  for (let n = 1;; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (options.signal?.aborted === true) throw error;
      const decision = options.isRetriable(error, n);
      if (decision === false) throw error;
      const elapsed = () => now() - started;
      const serverAsked = decision !== true;
      const delayMs = serverAsked
        ? Math.max(0, Math.round(decision.waitMs))
        : backoffDelay(n, limits, random);
      if (serverAsked && delayMs > limits.maxWaitMs) {
        throw new RetryExhaustedError(error, {
          attempts: n,
          elapsedMs: elapsed(),
          reason: "wait-too-long",
          requestedWaitMs: delayMs,
        });
      }
      if (n >= maxAttempts) {
        throw new RetryExhaustedError(error, {
          attempts: n,
          elapsedMs: elapsed(),
          reason: "attempts",
        });
      }
      if (elapsed() + delayMs > limits.maxElapsedMs) {
        throw new RetryExhaustedError(error, {
          attempts: n,
          elapsedMs: elapsed(),
          reason: "elapsed",
        });
      }
      options.onRetry?.({ error, attempt: n, delayMs, serverAsked });
      await wait(delayMs, options.signal);
      if (isAborted(options.signal)) throw error;
    }
  }
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function definedOnly(limits: RetryLimits): RetryLimits {
  const out: RetryLimits = {};
  if (limits.maxAttempts !== undefined) out.maxAttempts = limits.maxAttempts;
  if (limits.maxElapsedMs !== undefined) out.maxElapsedMs = limits.maxElapsedMs;
  if (limits.baseDelayMs !== undefined) out.baseDelayMs = limits.baseDelayMs;
  if (limits.maxDelayMs !== undefined) out.maxDelayMs = limits.maxDelayMs;
  if (limits.maxWaitMs !== undefined) out.maxWaitMs = limits.maxWaitMs;
  return out;
}

/** The reasons in a Google-style error body (`error.errors[].reason`) and its `error.status`. */
function googleReasons(body: unknown): string[] {
  if (typeof body !== "object" || body === null) return [];
  const error: unknown = Reflect.get(body, "error");
  if (typeof error !== "object" || error === null) return [];
  const out: string[] = [];
  const status: unknown = Reflect.get(error, "status");
  if (typeof status === "string") out.push(status);
  const errors: unknown = Reflect.get(error, "errors");
  if (Array.isArray(errors)) {
    for (const item of errors) {
      const reason: unknown = typeof item === "object" && item !== null
        ? Reflect.get(item, "reason")
        : undefined;
      if (typeof reason === "string") out.push(reason);
    }
  }
  return out;
}

const THROTTLE_REASONS = new Set([
  "rateLimitExceeded",
  "userRateLimitExceeded",
  "quotaExceeded",
  "RESOURCE_EXHAUSTED",
]);

/**
 * True when an error is the server throttling roster: a 429 (any API), or Google's 403 whose
 * reason is `rateLimitExceeded`, `userRateLimitExceeded` or `quotaExceeded` (Google's 429
 * `RESOURCE_EXHAUSTED` is a 429 too). Graph's 503 is transient but is not counted as
 * throttling unless it carries `Retry-After`.
 */
export function isThrottled(error: unknown): boolean {
  if (!(error instanceof HttpStatusError)) return false;
  if (error.status === 429) return true;
  if (error.status === 403) return googleReasons(error.body).some((r) => THROTTLE_REASONS.has(r));
  if (error.status === 503) return error.headers.get("retry-after") !== null;
  return false;
}

/** Options of {@link httpRetryDecision}. */
export interface HttpRetryDecisionOptions {
  /**
   * Whether the request may run twice without harm (every GET; a POST only when the API says
   * so). Non-idempotent requests are retried only when nothing was sent (`connect`) or the
   * server refused before running it (429, 502, 503). @default true
   */
  idempotent?: boolean;
  /** Clock in ms, for HTTP-date `Retry-After` and reset headers. @default `Date.now` */
  now?: () => number;
}

/**
 * The standard decision for the errors of `./client.ts`, usable as `isRetriable`:
 * - {@link HttpNetworkError}: `connect` always; `timeout` and `reset` when idempotent;
 *   `dns`, `tls` and `aborted` never.
 * - {@link HttpBodyError} `truncated` when idempotent; other body errors never.
 * - {@link HttpStatusError}: 429 and throttling 403s ({@link isThrottled}), 502 and 503 always;
 *   500, 504 and 520–524 when idempotent; every other status never.
 * The wait is the server's `Retry-After` when present, else the rate-limit reset of a throttled
 * answer (`X-Rate-Limit-Reset`, `X-RateLimit-Reset`), else the backoff.
 */
export function httpRetryDecision(
  error: unknown,
  options: HttpRetryDecisionOptions = {},
): RetryDecision {
  const idempotent = options.idempotent ?? true;
  const now = (options.now ?? Date.now)();
  if (error instanceof HttpNetworkError) {
    if (error.phase === "connect") return true;
    return idempotent && (error.phase === "timeout" || error.phase === "reset");
  }
  if (error instanceof HttpBodyError) return idempotent && error.problem === "truncated";
  if (!(error instanceof HttpStatusError)) return false;
  const status = error.status;
  const throttled = isThrottled(error);
  const retriable = throttled || status === 502 || status === 503 ||
    (idempotent && (status === 500 || status === 504 || (status >= 520 && status <= 524)));
  if (!retriable) return false;
  const retryAfter = parseRetryAfter(error.headers.get("retry-after"), now);
  if (retryAfter !== null) return { waitMs: retryAfter };
  if (throttled) {
    const reset = rateLimitWaitMs(error.headers, now);
    if (reset !== null) return { waitMs: reset };
  }
  return true;
}
