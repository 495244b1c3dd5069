/**
 * An API session: the HTTP client, the retry policy, the adaptive concurrency limiter and the
 * rate-limit buckets put together, so a directory source reads a throttled, paged API with one
 * call per page. Every request of a session goes:
 *
 * 1. through its rate-limit bucket ({@link RateLimitBucket}, one per `bucketOf(url)`), which
 *    waits when the server's remaining/reset headers say the share is spent;
 * 2. through the {@link AdaptiveLimiter} (bounded concurrency, halved on throttling, a pause for
 *    every caller while the server's `Retry-After` runs);
 * 3. to {@link HttpClient.json}, once per attempt, with fresh headers (`headers()`, e.g. a token);
 * 4. and is retried by {@link retry} under `isRetriable` (default {@link httpRetryDecision}).
 * @module
 */

import type { HttpClient, HttpRequest, JsonResponse } from "./client.ts";
import { HttpStatusError } from "./errors.ts";
import {
  httpRetryDecision,
  isThrottled,
  retry,
  type RetryDecision,
  type RetryEvent,
  type RetryLimits,
  sleep as timerSleep,
} from "./retry.ts";
import { AdaptiveLimiter, parseRetryAfter, RateLimitBucket, rateLimitWaitMs } from "./throttle.ts";

/** Counters of a session, for progress and `--verbose`. */
export interface SessionStats {
  /** Attempts sent. */
  requests: number;
  /** Attempts that were retries. */
  retries: number;
  /** Throttled answers (429, Google rate-limit 403s). */
  throttled: number;
  /** Waits for the server (`Retry-After`, rate-limit resets, pauses). */
  throttleWaits: number;
  /** Total of those waits, in ms. */
  throttleWaitMs: number;
}

/** Options of {@link createApiSession}. */
export interface ApiSessionOptions {
  /** Most requests in flight. @default 4 */
  concurrency?: number;
  /** Percentage of each rate-limit bucket's limit roster may spend (1–100). @default 100 */
  rateLimitShare?: number;
  /**
   * The rate-limit bucket of a URL. @default the path with id-like segments (8+ characters
   * holding a digit) replaced by `*`, e.g. `/api/v1/groups/* /users`
   */
  bucketOf?: (url: URL) => string;
  /** Retry bounds (see `./retry.ts` for the defaults). */
  retry?: RetryLimits;
  /**
   * Decides retries. @default `httpRetryDecision(error, { idempotent })`. A custom one may
   * handle a 401 (renew the token, return true) and defer to {@link httpRetryDecision}.
   */
  isRetriable?: (error: unknown, attempt: number, idempotent: boolean) => RetryDecision;
  /** Headers added to every attempt (a bearer token), computed per attempt. */
  headers?: () => Promise<Record<string, string>> | Record<string, string>;
  /** Called before each retry wait. */
  onRetry?: (event: RetryEvent) => void;
  /** Called after every attempt and every throttle wait with the counters. */
  onProgress?: (stats: SessionStats) => void;
  /** Clock in ms. @default `Date.now` */
  now?: () => number;
  /** Waits `ms`. @default a timer */
  sleep?: (ms: number) => Promise<void>;
  /** Randomness in [0, 1). @default `Math.random` */
  random?: () => number;
}

/** A request of a session: an {@link HttpRequest}, and whether it may run twice. */
export interface SessionRequest extends HttpRequest {
  /** @default true for GET, HEAD, PUT, DELETE and OPTIONS; false otherwise */
  idempotent?: boolean;
}

/** What {@link createApiSession} returns. */
export interface ApiSession {
  /**
   * Sends a request with the session's pacing and retries and returns the 2xx answer, parsed.
   *
   * @throws {HttpStatusError} a status that is not retried (401, 403, 404, …) as it is.
   * @throws {RetryExhaustedError} when retries ran out; `cause` is the last error
   *   ({@link HttpStatusError}, {@link HttpNetworkError} or {@link HttpBodyError}).
   * @throws {HttpNetworkError} or {@link HttpBodyError} that are not retried, as they are.
   */
  json(request: SessionRequest): Promise<JsonResponse>;
  /** `json({ url })`: a {@link PageGetter} for the paging helpers. */
  get(url: string): Promise<JsonResponse>;
  /** A copy of the counters. */
  stats(): SessionStats;
}

/** The default {@link ApiSessionOptions.bucketOf}. */
export function defaultBucketOf(url: URL): string {
  return url.pathname.split("/").map((s) => s.length >= 8 && /\d/.test(s) ? "*" : s).join("/");
}

/**
 * Creates an {@link ApiSession} on `http`.
 *
 * @example
 * const api = createApiSession(http, { concurrency: 8, rateLimitShare: 50, headers: auth });
 * for await (const page of pagesByLinkHeader(`${org}/api/v1/users?limit=200`, { get: api.get })) {}
 */
export function createApiSession(http: HttpClient, options: ApiSessionOptions = {}): ApiSession {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? timerSleep;
  const stats: SessionStats = {
    requests: 0,
    retries: 0,
    throttled: 0,
    throttleWaits: 0,
    throttleWaitMs: 0,
  };
  const progress = () => options.onProgress?.({ ...stats });
  const onWait = (ms: number) => {
    stats.throttleWaits++;
    stats.throttleWaitMs += ms;
    progress();
  };
  const waitOf = (error: unknown): number | null => {
    if (!(error instanceof HttpStatusError)) return null;
    return parseRetryAfter(error.headers.get("retry-after"), now()) ??
      rateLimitWaitMs(error.headers, now());
  };
  const limiter = new AdaptiveLimiter({
    maxConcurrency: options.concurrency ?? 4,
    isThrottled,
    waitOf,
    onWait,
    now,
    sleep,
  });
  const buckets = new Map<string, RateLimitBucket>();
  const bucketOf = options.bucketOf ?? defaultBucketOf;
  const bucketFor = (url: URL) => {
    const key = `${url.origin} ${bucketOf(url)}`;
    let bucket = buckets.get(key);
    if (bucket === undefined) {
      bucket = new RateLimitBucket({
        sharePercent: options.rateLimitShare ?? 100,
        now,
        sleep,
        onWait,
      });
      buckets.set(key, bucket);
    }
    return bucket;
  };

  async function json(request: SessionRequest): Promise<JsonResponse> {
    const method = (request.method ?? "GET").toUpperCase();
    const idempotent = request.idempotent ??
      ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"].includes(method);
    const url = typeof request.url === "string" ? new URL(request.url) : request.url;
    const bucket = bucketFor(url);
    const decide = options.isRetriable ??
      ((error: unknown) => httpRetryDecision(error, { idempotent, now }));
    return await retry(async (attempt) => {
      if (attempt > 1) stats.retries++;
      await bucket.acquire();
      return await limiter.run(async () => {
        const extra = options.headers === undefined ? {} : await options.headers();
        stats.requests++;
        try {
          const response = await http.json({
            ...request,
            headers: { ...request.headers, ...extra },
          });
          bucket.update(response.headers);
          return response;
        } catch (error) {
          if (error instanceof HttpStatusError) {
            bucket.update(error.headers);
            if (isThrottled(error)) stats.throttled++;
          } else {
            bucket.release();
          }
          throw error;
        } finally {
          progress();
        }
      });
    }, {
      ...options.retry,
      isRetriable: (error, attempt) => decide(error, attempt, idempotent),
      onRetry: (event) => {
        if (event.serverAsked) onWait(event.delayMs);
        options.onRetry?.(event);
      },
      ...(request.signal === undefined ? {} : { signal: request.signal }),
      now,
      sleep: (ms) => sleep(ms),
      ...(options.random === undefined ? {} : { random: options.random }),
    });
  }

  return {
    json,
    get: (url) => json({ url }),
    stats: () => ({ ...stats }),
  };
}
