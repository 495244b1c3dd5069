/**
 * Many small Graph reads through JSON batching (`POST /v1.0/$batch`), for the members of many
 * groups and other per-object reads.
 *
 * Graph's batching rules: at most 20 requests per batch, each with a unique id and a URL
 * relative to the version root; the outer status is 200 whenever the batch parses; responses
 * come in any order and are matched by id; every inner request is throttled on its own (429
 * with its own `Retry-After`), and only the failed items are to be retried, in a new batch,
 * after the longest `Retry-After`. A batch costs as much throttling budget as its requests: it
 * saves round trips, not quota.
 *
 * {@link runBatched} keeps several batches in flight under an {@link AdaptiveLimiter}: a batch
 * with throttled items halves the number in flight and pauses every batch for the largest inner
 * `Retry-After`; from then on it sends per window (as long as that wait) only as many requests
 * as the server answered in the throttled window, a quarter more after each quiet window, so a
 * tight budget is met by pacing instead of a 429 for every other request. An item's answer may
 * ask for more (a next page): those requests go into later batches.
 * @module
 */

import {
  AdaptiveLimiter,
  type ApiSession,
  backoffDelay,
  DEFAULT_RETRY_LIMITS,
  HttpBodyError,
  HttpStatusError,
  parseRetryAfter,
  sleep as timerSleep,
} from "../../http/mod.ts";
import { isRecord } from "../../guards.ts";

/** One inner request: a key for the caller and a URL relative to the version root. */
export interface BatchItem {
  /** The caller's key (e.g. a group id); need not be unique. */
  key: string;
  /** Relative to the version root, e.g. `/groups/{id}/members?$select=id&$top=999`. */
  url: string;
}

/** One inner answer. */
export interface BatchAnswer {
  item: BatchItem;
  status: number;
  headers: Headers;
  body: unknown;
}

/** Options of {@link runBatched}. */
export interface RunBatchedOptions {
  /** The Graph version root, e.g. `https://graph.microsoft.com/v1.0`. */
  graphBase: string;
  /**
   * Handles a 2xx (or non-retried) inner answer; returns the follow-up items (next pages) to
   * queue. Throwing stops the run: batches in flight finish, then the error is thrown.
   */
  onAnswer: (answer: BatchAnswer) => BatchItem[];
  /** Batches in flight at most. @default 8 */
  concurrency?: number;
  /** Requests per batch (1–20). @default 20 */
  batchSize?: number;
  /** Attempts per inner request, the first included. @default 6 */
  maxAttempts?: number;
  /** A longer `Retry-After` (ms) is not waited for: the item fails. @default 120000 */
  maxWaitMs?: number;
  /** Called when throttled batches make everyone wait (ms). */
  onWait?: (ms: number) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  signal?: AbortSignal;
}

/** Inner statuses retried: throttled or transient. */
const RETRIED = new Set([429, 500, 502, 503, 504]);

/** An inner request that kept failing. */
export class BatchItemError extends HttpStatusError {
  /** Attempts made. */
  readonly attempts: number;
  constructor(answer: BatchAnswer, graphBase: string, attempts: number) {
    const headers = answer.headers;
    super({ method: "GET", url: `${graphBase}${answer.item.url}` }, {
      status: answer.status,
      headers,
      bodyText: JSON.stringify(answer.body) ?? "",
    });
    this.attempts = attempts;
  }
}

class InnerThrottle extends Error {
  constructor(readonly answers: BatchAnswer[], readonly waitMs: number) {
    super("inner requests throttled");
  }
}

function headersOf(value: unknown): Headers {
  const headers = new Headers();
  if (isRecord(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === "string" || typeof v === "number") headers.set(k, String(v));
    }
  }
  return headers;
}

/**
 * Runs `items` (and the follow-ups `onAnswer` returns) through `$batch` until every one is
 * answered. Retried inner statuses (429, 500, 502, 503, 504) are retried up to `maxAttempts`
 * times, after the largest inner `Retry-After` of their batch (or a backoff when absent).
 * @throws {BatchItemError} (an `HttpStatusError` for the inner URL) when an item still fails
 *   after its attempts or asks for a wait longer than `maxWaitMs`.
 * @throws what `api.json` throws for the outer request, and what `onAnswer` throws.
 */
export async function runBatched(
  api: ApiSession,
  items: Iterable<BatchItem>,
  options: RunBatchedOptions,
): Promise<void> {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const size = Math.min(20, Math.max(1, options.batchSize ?? 20));
  const maxAttempts = options.maxAttempts ?? DEFAULT_RETRY_LIMITS.maxAttempts;
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_RETRY_LIMITS.maxWaitMs;
  const limiter = new AdaptiveLimiter({
    maxConcurrency: options.concurrency ?? 8,
    isThrottled: (error) => error instanceof InnerThrottle,
    waitOf: (error) => error instanceof InnerThrottle ? error.waitMs : null,
    ...(options.onWait === undefined ? {} : { onWait: options.onWait }),
    now,
    ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
  });
  const queue: { item: BatchItem; attempt: number }[] = [];
  for (const item of items) queue.push({ item, attempt: 1 });
  const inFlight = new Set<Promise<void>>();
  const failures: unknown[] = [];
  const sleep = options.sleep ?? timerSleep;
  // Pacing learned from throttling: after the first throttled batch of a window, at most
  // `budget` items (those the server answered in that window) are sent per window, the window
  // being as long as the server's wait; the budget grows by a quarter per quiet window.
  const pace: Pace = {
    budget: null,
    windowMs: 0,
    windowStart: 0,
    sent: 0,
    reserved: 0,
    answered: 0,
  };
  // Slow start: two batches in flight, one more per batch answered without throttling (the
  // number doubles per round trip), up to the limiter's concurrency.
  let started = 2;
  const allowance = () => pace.budget === null ? Infinity : pace.budget - pace.sent - pace.reserved;

  const send = async (entries: { item: BatchItem; attempt: number }[]): Promise<void> => {
    let answers: BatchAnswer[] | null;
    try {
      answers = await limiter.run(async () => {
        // A batch queued before a throttle taught the budget waits for room in the window.
        pace.reserved -= entries.length;
        if (pace.budget !== null && pace.sent + entries.length > pace.budget) return null;
        pace.sent += entries.length;
        const response = await api.json({
          method: "POST",
          url: `${options.graphBase}/$batch`,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            requests: entries.map((e, i) => ({
              id: String(i + 1),
              method: "GET",
              url: e.item.url,
            })),
          }),
          idempotent: true,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
        const parsed = parseBatch(response.body, entries.map((e) => e.item), options.graphBase);
        let waitMs = 0;
        let throttled = false;
        for (const [i, answer] of parsed.entries()) {
          if (!RETRIED.has(answer.status)) continue;
          const entry = entries[i];
          const ask = parseRetryAfter(answer.headers.get("retry-after"), now()) ??
            backoffDelay(entry?.attempt ?? 1, {}, random);
          waitMs = Math.max(waitMs, ask);
          if (answer.status === 429 || answer.headers.has("retry-after")) throttled = true;
        }
        if (throttled) throw new InnerThrottle(parsed, waitMs);
        if (waitMs > 0) await sleep(waitMs);
        return parsed;
      });
    } catch (error) {
      if (!(error instanceof InnerThrottle)) throw error;
      answers = error.answers;
      const at = now();
      pace.answered += answers.filter((a) => !RETRIED.has(a.status)).length;
      if (at >= pace.windowStart) {
        // The first throttle of this window: what was answered since it began is the budget.
        pace.budget = Math.max(1, pace.answered);
        pace.windowMs = Math.max(error.waitMs, pace.windowMs, 1);
        pace.windowStart = at + error.waitMs;
        pace.sent = 0;
        pace.answered = 0;
      }
    }
    if (answers === null) {
      queue.unshift(...entries);
      return;
    }
    if (!answers.some((a) => RETRIED.has(a.status))) {
      pace.answered += answers.length;
      started++;
    }
    const retried: { item: BatchItem; attempt: number }[] = [];
    for (const [i, answer] of answers.entries()) {
      const entry = entries[i];
      if (entry === undefined) continue;
      if (RETRIED.has(answer.status)) {
        const ask = parseRetryAfter(answer.headers.get("retry-after"), now());
        if (entry.attempt >= maxAttempts || (ask !== null && ask > maxWaitMs)) {
          throw new BatchItemError(answer, options.graphBase, entry.attempt);
        }
        retried.push({ item: entry.item, attempt: entry.attempt + 1 });
        continue;
      }
      for (const next of options.onAnswer(answer)) queue.push({ item: next, attempt: 1 });
    }
    // Retried items go first, so a throttled item is not starved by later pages.
    queue.unshift(...retried);
  };

  while ((queue.length > 0 && failures.length === 0) || inFlight.size > 0) {
    while (
      failures.length === 0 && queue.length > 0 &&
      inFlight.size < Math.min(limiter.concurrency, started) &&
      options.signal?.aborted !== true && allowance() > 0
    ) {
      const entries = queue.splice(0, Math.min(size, allowance()));
      pace.reserved += entries.length;
      const task: Promise<void> = send(entries).catch((error: unknown) => {
        failures.push(error);
      }).finally(() => {
        inFlight.delete(task);
      });
      inFlight.add(task);
    }
    if (inFlight.size > 0) {
      await Promise.race(inFlight);
      continue;
    }
    if (
      failures.length > 0 || queue.length === 0 || options.signal?.aborted === true ||
      pace.budget === null
    ) break;
    // This window's budget is spent: wait for the next window, then allow a quarter more.
    const next = pace.windowStart + pace.windowMs;
    const wait = next - now();
    if (wait > 0) {
      options.onWait?.(wait);
      await sleep(wait);
    }
    pace.windowStart = Math.max(next, now());
    pace.sent = 0;
    pace.answered = 0;
    pace.budget += Math.max(1, Math.ceil(pace.budget / 4));
  }
  if (failures.length > 0) throw failures[0];
  options.signal?.throwIfAborted();
}

/** Pacing state of {@link runBatched}. */
interface Pace {
  /** Items per window, learned from the last throttle; null until throttled. */
  budget: number | null;
  /** The window's length in ms (the longest server wait seen). */
  windowMs: number;
  /** When the current window began (ms). */
  windowStart: number;
  /** Items sent in the current window. */
  sent: number;
  /** Items in batches handed to the limiter, not sent yet. */
  reserved: number;
  /** Items answered (not throttled) in the current window. */
  answered: number;
}

function shapeError(graphBase: string, body: unknown, message: string): HttpBodyError {
  return new HttpBodyError({ method: "POST", url: `${graphBase}/$batch` }, "unexpected-shape", {
    status: 200,
    excerpt: JSON.stringify(body)?.slice(0, 200) ?? "",
    message,
  });
}

/**
 * Matches a `$batch` answer to its items by id (answers come in any order).
 * @throws {HttpBodyError} `unexpected-shape` when the body lacks `responses` or an item's answer.
 */
function parseBatch(body: unknown, items: BatchItem[], graphBase: string): BatchAnswer[] {
  const responses = isRecord(body) ? body.responses : undefined;
  if (!Array.isArray(responses)) {
    throw shapeError(graphBase, body, "the answer has no responses array");
  }
  const byId = new Map<string, Record<string, unknown>>();
  for (const r of responses) {
    if (isRecord(r) && (typeof r.id === "string" || typeof r.id === "number")) {
      byId.set(String(r.id), r);
    }
  }
  return items.map((item, i) => {
    const r = byId.get(String(i + 1));
    if (r === undefined || typeof r.status !== "number") {
      throw shapeError(graphBase, body, `no answer for request ${i + 1} (${item.url})`);
    }
    return { item, status: r.status, headers: headersOf(r.headers), body: r.body };
  });
}
