/**
 * Pacing for the Directory API's per-user quota.
 *
 * Google counts Directory API queries per impersonated user and Cloud project: 2,400 a minute
 * by default, answered with 403 `userRateLimitExceeded` beyond it, with no `Retry-After` and
 * no remaining/reset headers. So the client keeps the count itself: a sliding window that lets
 * at most a budget of requests start in any 60 seconds (95% of the quota, leaving a margin for
 * clock and arrival jitter), and, on a throttled answer (403 `userRateLimitExceeded`,
 * `rateLimitExceeded`, `quotaExceeded`, or 429), a pause of every sender for Google's
 * documented backoff, `min(2^n seconds + random milliseconds, 32 seconds)` for the n-th
 * throttled answer in a row; after a `userRateLimitExceeded` also a smaller budget (the
 * requests the window held when it was refused, less 10%): the quota is evidently shared with
 * another client, or smaller than the default.
 *
 * Clock, sleep and randomness are injected: tests never really wait.
 * @module
 */

import { sleep } from "../../http/mod.ts";

/** Options of {@link QuotaGate}. */
export interface QuotaGateOptions {
  /** The quota, in requests per minute. @default 2400 */
  perMinute?: number;
  /** Percentage of the quota roster spends (1–100). @default 95 */
  sharePercent?: number;
  /** Longest pause after a throttled answer, in ms. @default 32000 */
  maxPauseMs?: number;
  /** Clock in ms. @default `Date.now` */
  now?: () => number;
  /** Waits `ms`. @default a timer */
  sleep?: (ms: number) => Promise<void>;
  /** Randomness in [0, 1). @default `Math.random` */
  random?: () => number;
}

const WINDOW_MS = 60_000;

/** A sliding-window request budget with a shared pause after throttling (see the module). */
export class QuotaGate {
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #maxPause: number;
  #budget: number;
  /** Start times of the requests of the last minute, oldest first (a ring would do too). */
  #sent: number[] = [];
  #head = 0;
  #pausedUntil = 0;
  #streak = 0;
  #waits = 0;
  #waitMs = 0;

  constructor(options: QuotaGateOptions = {}) {
    const perMinute = Math.max(1, options.perMinute ?? 2400);
    const share = Math.min(100, Math.max(1, options.sharePercent ?? 95));
    this.#budget = Math.max(1, Math.floor(perMinute * share / 100));
    this.#maxPause = options.maxPauseMs ?? 32_000;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? sleep;
    this.#random = options.random ?? Math.random;
  }

  /** Requests allowed to start in any 60 seconds now. */
  get budget(): number {
    return this.#budget;
  }

  /** Waits for the quota so far (pauses and a full window). */
  get waits(): number {
    return this.#waits;
  }

  /** Milliseconds of those waits. */
  get waitMs(): number {
    return this.#waitMs;
  }

  #inWindow(now: number): number {
    while (this.#head < this.#sent.length && (this.#sent[this.#head] ?? 0) <= now - WINDOW_MS) {
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#sent.length) {
      this.#sent = this.#sent.slice(this.#head);
      this.#head = 0;
    }
    return this.#sent.length - this.#head;
  }

  async #wait(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
    const before = this.#now();
    this.#waits++;
    this.#waitMs += ms;
    if (signal === undefined) await this.#sleep(ms);
    else {
      let stop = () => {};
      const aborted = new Promise<void>((resolve) => {
        stop = () => resolve();
        signal.addEventListener("abort", stop, { once: true });
      });
      await Promise.race([this.#sleep(ms), aborted]);
      signal.removeEventListener("abort", stop);
      signal.throwIfAborted();
    }
    return this.#now() > before;
  }

  /**
   * Waits until a request may start (no pause active, room in the window), then counts it.
   * Call it once per attempt, right before sending.
   * @param signal Ends a wait early: the signal's reason is thrown.
   */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const now = this.#now();
      const pause = this.#pausedUntil - now;
      if (pause > 0) {
        if (!await this.#wait(pause, signal)) this.#pausedUntil = 0; // a frozen test clock
        continue;
      }
      if (this.#inWindow(now) < this.#budget) {
        this.#sent.push(now);
        return;
      }
      const oldest = this.#sent[this.#head] ?? now;
      if (!await this.#wait(oldest + WINDOW_MS - now + 1, signal)) {
        this.#sent.push(now);
        return;
      }
    }
  }

  /** Records a successful answer: the throttling streak ends. */
  succeeded(): void {
    this.#streak = 0;
  }

  /**
   * Records a throttled answer: pauses every sender for the backoff of the current streak and,
   * for the per-user quota (`kind: "quota"`, 403 `userRateLimitExceeded`), lowers the budget to
   * what the window held, less 10%. A concurrency refusal (429, 403 `quotaExceeded`) pauses
   * without touching the budget: the adaptive concurrency limit answers that one.
   * @returns the pause, in ms from now
   */
  throttled(kind: "quota" | "concurrency"): number {
    const now = this.#now();
    if (kind === "quota") {
      const held = this.#inWindow(now);
      this.#budget = Math.max(1, Math.min(this.#budget, Math.floor(held * 0.9)));
    }
    const pause = Math.min(
      this.#maxPause,
      1000 * 2 ** Math.min(this.#streak, 16) + Math.floor(this.#random() * 1000),
    );
    this.#streak++;
    this.#pausedUntil = Math.max(this.#pausedUntil, now + pause);
    return this.#pausedUntil - now;
  }
}
