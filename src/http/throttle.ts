/**
 * Throttling driven by the server's own signals, so a read slows down before the server has to
 * refuse it, and never answers a refusal with a storm of retries.
 *
 * - {@link parseRetryAfter}: `Retry-After` as delta-seconds (`120`), fractional seconds
 *   (`2.128`, sent by Microsoft Graph) or an HTTP date (RFC 9110 §10.2.3).
 * - {@link parseRateLimitHeaders}: the remaining/reset headers of a rate-limit bucket. Okta sends
 *   `X-Rate-Limit-Limit`, `X-Rate-Limit-Remaining`, `X-Rate-Limit-Reset` with the reset as UTC
 *   epoch seconds; OneLogin sends `X-RateLimit-Limit`, `X-RateLimit-Remaining`,
 *   `X-RateLimit-Reset` with the reset as seconds remaining.
 * - {@link RateLimitBucket}: paces requests of one rate-limit bucket so roster spends at most a
 *   share of the limit per window.
 * - {@link AdaptiveLimiter}: bounded concurrency that halves when throttled, pauses every caller
 *   for the server's wait, and grows back by one slot at a time.
 * @module
 */

import pLimit from "p-limit";
import { sleep } from "./retry.ts";

/**
 * Parses a `Retry-After` value.
 *
 * @param value the header value, or null when absent
 * @param now the current time in ms since the epoch (for HTTP dates)
 * @returns the wait in milliseconds (0 for a date in the past), or null when absent or unreadable
 */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (text === "") return null;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  if (!/[a-z]/i.test(text)) return null;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}

/** The state of a rate-limit bucket, as the last answer reported it. */
export interface RateLimitState {
  /** Requests allowed per window. */
  limit: number;
  /** Requests left in the current window. */
  remaining: number;
  /** When the window resets, in ms since the epoch. */
  resetAt: number;
}

function headerNumber(headers: Headers, name: string): number | null {
  const value = headers.get(name);
  if (value === null) return null;
  // A repeated header arrives joined with ", ": only a single value is trusted.
  const text = value.trim();
  if (!/^\d+(\.\d+)?$/.test(text)) return null;
  return Number(text);
}

/**
 * Reads the rate-limit headers of an answer: Okta's `X-Rate-Limit-*` (reset in epoch seconds)
 * or OneLogin's `X-RateLimit-*` (reset in seconds from now).
 *
 * @param now the current time in ms since the epoch
 * @returns the state, or null when the answer has no complete set of headers
 */
export function parseRateLimitHeaders(headers: Headers, now: number): RateLimitState | null {
  const okta = {
    limit: headerNumber(headers, "x-rate-limit-limit"),
    remaining: headerNumber(headers, "x-rate-limit-remaining"),
    reset: headerNumber(headers, "x-rate-limit-reset"),
  };
  if (okta.remaining !== null && okta.reset !== null) {
    return {
      limit: okta.limit ?? okta.remaining,
      remaining: okta.remaining,
      resetAt: okta.reset * 1000,
    };
  }
  const oneLogin = {
    limit: headerNumber(headers, "x-ratelimit-limit"),
    remaining: headerNumber(headers, "x-ratelimit-remaining"),
    reset: headerNumber(headers, "x-ratelimit-reset"),
  };
  if (oneLogin.remaining !== null && oneLogin.reset !== null) {
    return {
      limit: oneLogin.limit ?? oneLogin.remaining,
      remaining: oneLogin.remaining,
      resetAt: now + oneLogin.reset * 1000,
    };
  }
  return null;
}

/**
 * How long to wait for a bucket's reset after a throttled answer: the reset time minus now,
 * plus one second (Okta's `Date` and reset have one-second resolution), or null when the answer
 * has no rate-limit headers.
 */
export function rateLimitWaitMs(headers: Headers, now: number): number | null {
  const state = parseRateLimitHeaders(headers, now);
  if (state === null) return null;
  return Math.max(0, state.resetAt - now) + 1000;
}

/** Injected time. */
export interface Clock {
  /** ms since the epoch. @default `Date.now` */
  now?: () => number;
  /** Waits `ms`. @default a timer */
  sleep?: (ms: number) => Promise<void>;
}

/** Options of {@link RateLimitBucket}. */
export interface RateLimitBucketOptions extends Clock {
  /**
   * Percentage of the bucket's limit roster may spend per window (1–100), leaving the rest to
   * other clients of the same organization. @default 100
   */
  sharePercent?: number;
  /** Added to every wait for a reset, in ms (clock skew, one-second resolution). @default 1000 */
  marginMs?: number;
  /** Called before each wait, with its length in ms (progress: throttle waits). */
  onWait?: (ms: number) => void;
}

/**
 * Paces the requests of one rate-limit bucket (Okta: one per endpoint family, e.g.
 * `/api/v1/users`; OneLogin: one per account).
 *
 * The budget of a window is `floor(limit * sharePercent / 100)` (at least 1). The server's
 * `remaining` counts every client's requests; roster keeps `limit - budget` of them for the
 * others, and counts its own requests in flight. {@link acquire} returns at once while
 * `remaining - inFlight > limit - budget`; otherwise it waits until the window's reset plus
 * `marginMs`, after which the bucket is treated as refilled until an answer says otherwise.
 * Before the first answer nothing is known and requests go out (the first answer teaches the
 * limit). Call {@link update} with every answer's headers (errors included) and {@link release}
 * for a request that got no answer.
 */
export class RateLimitBucket {
  readonly #share: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #margin: number;
  readonly #onWait: ((ms: number) => void) | undefined;
  #state: RateLimitState | null = null;
  #inFlight = 0;
  #waits = 0;

  constructor(options: RateLimitBucketOptions = {}) {
    this.#share = Math.min(100, Math.max(1, options.sharePercent ?? 100));
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? sleep;
    this.#margin = options.marginMs ?? 1000;
    this.#onWait = options.onWait;
  }

  /** The last known state (null before the first answer with rate-limit headers). */
  get state(): RateLimitState | null {
    return this.#state === null ? null : { ...this.#state };
  }

  /** How many times {@link acquire} had to wait. */
  get waits(): number {
    return this.#waits;
  }

  /** Requests this window may still start: `remaining - inFlight - (limit - budget)`. */
  available(): number {
    const state = this.#state;
    if (state === null) return Infinity;
    if (this.#now() >= state.resetAt) return Infinity;
    const budget = Math.max(1, Math.floor((state.limit * this.#share) / 100));
    return state.remaining - this.#inFlight - (state.limit - budget);
  }

  /** Waits until a request may start within the share, then counts it in flight. */
  async acquire(): Promise<void> {
    for (;;) {
      const state = this.#state;
      if (state !== null && this.#now() >= state.resetAt) {
        // The window has reset: assume it refilled until an answer says otherwise.
        this.#state = { ...state, remaining: state.limit, resetAt: Infinity };
      }
      if (this.available() > 0) {
        this.#inFlight++;
        return;
      }
      const current = this.#state;
      if (current === null || current.resetAt === Infinity) {
        // The window is unknown since the reset: go, and let the next answer tell.
        this.#inFlight++;
        return;
      }
      const before = this.#now();
      const waitMs = Math.max(0, current.resetAt - before) + this.#margin;
      this.#waits++;
      this.#onWait?.(waitMs);
      await this.#sleep(waitMs);
      if (this.#now() <= before) {
        // A clock that does not move (a frozen test clock) would wait forever: go on.
        this.#state = { ...current, remaining: current.limit, resetAt: Infinity };
      }
    }
  }

  /** Records an answer's headers (if it has rate-limit headers) and ends one request in flight. */
  update(headers: Headers): void {
    this.release();
    const parsed = parseRateLimitHeaders(headers, this.#now());
    if (parsed === null) return;
    const state = this.#state;
    if (state === null || state.resetAt === Infinity || parsed.resetAt > state.resetAt + 500) {
      this.#state = parsed; // a newer window
    } else if (Math.abs(parsed.resetAt - state.resetAt) <= 500) {
      // The same window; answers may arrive out of order: the lowest remaining is the newest.
      this.#state = { ...parsed, remaining: Math.min(parsed.remaining, state.remaining) };
    }
  }

  /** Ends one request in flight that got no answer. */
  release(): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
  }
}

/** Options of {@link AdaptiveLimiter}. */
export interface AdaptiveLimiterOptions extends Clock {
  /** Most requests at a time. @default 4 */
  maxConcurrency?: number;
  /** Fewest requests at a time when throttled. @default 1 */
  minConcurrency?: number;
  /** Successes in a row, per slot, before one slot is added back. @default 1 (= concurrency) */
  growAfter?: number;
  /** Whether an error is throttling. @default {@link isThrottledDefault} (any 429) */
  isThrottled?: (error: unknown) => boolean;
  /** The server's wait for a throttled error, in ms, or null. @default none */
  waitOf?: (error: unknown) => number | null;
  /** Called before a pause, with its length in ms. */
  onWait?: (ms: number) => void;
}

function isThrottledDefault(error: unknown): boolean {
  return typeof error === "object" && error !== null && Reflect.get(error, "status") === 429;
}

/**
 * Bounded concurrency that backs off when the server throttles (additive increase,
 * multiplicative decrease, as TCP congestion control does):
 * - at most `concurrency` tasks run at once (starting at `maxConcurrency`);
 * - a throttled task halves `concurrency` (not below `minConcurrency`), at most once per
 *   `concurrency` tasks finished, so one burst of 429s counts once;
 * - when the throttled error carries a wait (`waitOf`), no task starts before it has passed:
 *   every caller pauses, not only the one that was refused;
 * - after `concurrency * growAfter` successes in a row, one slot is added back, up to
 *   `maxConcurrency`.
 * Tasks are single attempts: wrap retries around {@link run}, not inside it, so a task waiting
 * to retry does not hold a slot.
 */
export class AdaptiveLimiter {
  readonly #limit: ReturnType<typeof pLimit>;
  readonly #max: number;
  readonly #min: number;
  readonly #growAfter: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #isThrottled: (error: unknown) => boolean;
  readonly #waitOf: (error: unknown) => number | null;
  readonly #onWait: ((ms: number) => void) | undefined;
  #successes = 0;
  #finishedSinceShrink = Infinity;
  #pausedUntil = 0;
  #throttledCount = 0;

  constructor(options: AdaptiveLimiterOptions = {}) {
    this.#max = Math.max(1, Math.floor(options.maxConcurrency ?? 4));
    this.#min = Math.min(this.#max, Math.max(1, Math.floor(options.minConcurrency ?? 1)));
    this.#growAfter = Math.max(1, options.growAfter ?? 1);
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? sleep;
    this.#isThrottled = options.isThrottled ?? isThrottledDefault;
    this.#waitOf = options.waitOf ?? (() => null);
    this.#onWait = options.onWait;
    this.#limit = pLimit(this.#max);
  }

  /** Tasks allowed at once right now. */
  get concurrency(): number {
    return this.#limit.concurrency;
  }

  /** Throttled answers seen. */
  get throttled(): number {
    return this.#throttledCount;
  }

  /** Runs `task` when a slot is free and no pause is active; rethrows its error. */
  run<T>(task: () => Promise<T>): Promise<T> {
    return this.#limit(async () => {
      for (;;) {
        const wait = this.#pausedUntil - this.#now();
        if (wait <= 0) break;
        this.#onWait?.(wait);
        const before = this.#now();
        await this.#sleep(wait);
        if (this.#now() <= before) break; // a frozen test clock
      }
      try {
        const result = await task();
        this.#succeeded();
        return result;
      } catch (error) {
        if (this.#isThrottled(error)) this.#throttle(error);
        else this.#finishedSinceShrink++;
        throw error;
      }
    });
  }

  #succeeded(): void {
    this.#finishedSinceShrink++;
    this.#successes++;
    const current = this.#limit.concurrency;
    if (current < this.#max && this.#successes >= current * this.#growAfter) {
      this.#limit.concurrency = current + 1;
      this.#successes = 0;
    }
  }

  #throttle(error: unknown): void {
    this.#throttledCount++;
    this.#successes = 0;
    const wait = this.#waitOf(error);
    if (wait !== null && wait > 0) {
      this.#pausedUntil = Math.max(this.#pausedUntil, this.#now() + wait);
    }
    const current = this.#limit.concurrency;
    if (this.#finishedSinceShrink >= current) {
      this.#limit.concurrency = Math.max(this.#min, Math.floor(current / 2));
      this.#finishedSinceShrink = 0;
    } else {
      this.#finishedSinceShrink++;
    }
  }
}
