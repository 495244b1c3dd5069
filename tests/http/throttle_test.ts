import assert from "node:assert/strict";
import {
  AdaptiveLimiter,
  parseRateLimitHeaders,
  parseRetryAfter,
  RateLimitBucket,
  rateLimitWaitMs,
} from "../../src/http/throttle.ts";
import { virtualClock } from "../fakes/_clock.ts";

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

Deno.test("parseRetryAfter() reads delta-seconds, fractional seconds and HTTP dates", () => {
  assert.equal(parseRetryAfter("120", NOW), 120_000);
  assert.equal(parseRetryAfter(" 7 ", NOW), 7_000);
  assert.equal(parseRetryAfter("2.128", NOW), 2_128);
  assert.equal(parseRetryAfter("0", NOW), 0);
  assert.equal(parseRetryAfter("Thu, 01 Jan 2026 12:00:30 GMT", NOW), 30_000);
  assert.equal(parseRetryAfter("Thu, 01 Jan 2026 11:59:00 GMT", NOW), 0);
});

Deno.test("parseRetryAfter() answers null when absent or unreadable", () => {
  assert.equal(parseRetryAfter(null, NOW), null);
  assert.equal(parseRetryAfter("", NOW), null);
  assert.equal(parseRetryAfter("-5", NOW), null);
  assert.equal(parseRetryAfter("soon", NOW), null);
  assert.equal(parseRetryAfter("1e3", NOW), null);
});

Deno.test("parseRateLimitHeaders() reads Okta's epoch reset and OneLogin's seconds-remaining reset", () => {
  const okta = new Headers({
    "X-Rate-Limit-Limit": "600",
    "X-Rate-Limit-Remaining": "598",
    "X-Rate-Limit-Reset": String(NOW / 1000 + 42),
  });
  assert.deepEqual(parseRateLimitHeaders(okta, NOW), {
    limit: 600,
    remaining: 598,
    resetAt: NOW + 42_000,
  });
  const oneLogin = new Headers({
    "X-RateLimit-Limit": "5000",
    "X-RateLimit-Remaining": "4988",
    "X-RateLimit-Reset": "832",
  });
  assert.deepEqual(parseRateLimitHeaders(oneLogin, NOW), {
    limit: 5000,
    remaining: 4988,
    resetAt: NOW + 832_000,
  });
  assert.equal(parseRateLimitHeaders(new Headers({ "X-Rate-Limit-Limit": "600" }), NOW), null);
  // Two values in one header (repeated header lines) are not trusted.
  const doubled = new Headers();
  doubled.append("X-Rate-Limit-Remaining", "5");
  doubled.append("X-Rate-Limit-Remaining", "6");
  doubled.set("X-Rate-Limit-Reset", String(NOW / 1000));
  assert.equal(parseRateLimitHeaders(doubled, NOW), null);
});

Deno.test("rateLimitWaitMs() waits until the reset plus one second", () => {
  const headers = new Headers({
    "X-Rate-Limit-Remaining": "0",
    "X-Rate-Limit-Reset": String(NOW / 1000 + 10),
  });
  assert.equal(rateLimitWaitMs(headers, NOW), 11_000);
  assert.equal(rateLimitWaitMs(new Headers(), NOW), null);
});

function oktaHeaders(limit: number, remaining: number, resetAt: number): Headers {
  return new Headers({
    "X-Rate-Limit-Limit": String(limit),
    "X-Rate-Limit-Remaining": String(remaining),
    "X-Rate-Limit-Reset": String(Math.round(resetAt / 1000)),
  });
}

Deno.test("RateLimitBucket spends only its share of the limit, then waits for the reset", async () => {
  const clock = virtualClock(NOW);
  const bucket = new RateLimitBucket({ sharePercent: 50, now: clock.now, sleep: clock.sleep });
  const resetAt = NOW + 60_000;
  // The first answer: limit 10, 9 left. A 50% share keeps 5 for the others: 4 more may start.
  await bucket.acquire();
  bucket.update(oktaHeaders(10, 9, resetAt));
  assert.equal(bucket.available(), 4);
  for (let i = 0; i < 4; i++) await bucket.acquire();
  assert.equal(bucket.available(), 0);
  assert.deepEqual(clock.sleeps, []);
  for (let remaining = 8; remaining >= 5; remaining--) {
    bucket.update(oktaHeaders(10, remaining, resetAt));
  }
  await bucket.acquire();
  assert.deepEqual(clock.sleeps, [61_000]);
  assert.equal(bucket.waits, 1);
  // After the reset the bucket is refilled until an answer says otherwise.
  bucket.update(oktaHeaders(10, 9, resetAt + 60_000));
  assert.equal(bucket.available(), 4);
});

Deno.test("RateLimitBucket counts other clients' use: a low remaining waits at once", async () => {
  const clock = virtualClock(NOW);
  const bucket = new RateLimitBucket({ sharePercent: 80, now: clock.now, sleep: clock.sleep });
  await bucket.acquire();
  bucket.update(oktaHeaders(100, 20, NOW + 30_000));
  assert.equal(bucket.available(), 0);
  await bucket.acquire();
  assert.deepEqual(clock.sleeps, [31_000]);
});

Deno.test("RateLimitBucket keeps the lowest remaining of out-of-order answers in one window", async () => {
  const clock = virtualClock(NOW);
  const bucket = new RateLimitBucket({ now: clock.now, sleep: clock.sleep });
  for (let i = 0; i < 3; i++) await bucket.acquire();
  bucket.update(oktaHeaders(50, 40, NOW + 60_000));
  bucket.update(oktaHeaders(50, 42, NOW + 60_000));
  assert.deepEqual(bucket.state, { limit: 50, remaining: 40, resetAt: NOW + 60_000 });
  // One request is still in flight.
  assert.equal(bucket.available(), 39);
});

Deno.test("RateLimitBucket with OneLogin headers paces by the seconds-remaining reset", async () => {
  const clock = virtualClock(NOW);
  const bucket = new RateLimitBucket({ now: clock.now, sleep: clock.sleep, marginMs: 0 });
  await bucket.acquire();
  bucket.update(
    new Headers({
      "X-RateLimit-Limit": "5000",
      "X-RateLimit-Remaining": "0",
      "X-RateLimit-Reset": "832",
    }),
  );
  await bucket.acquire();
  assert.deepEqual(clock.sleeps, [832_000]);
});

class Throttled extends Error {
  readonly status = 429;
  constructor(readonly waitMs: number | null) {
    super("429");
  }
}

Deno.test("AdaptiveLimiter halves on throttling once per burst and grows back one slot at a time", async () => {
  const clock = virtualClock(NOW);
  const limiter = new AdaptiveLimiter({
    maxConcurrency: 8,
    now: clock.now,
    sleep: clock.sleep,
  });
  assert.equal(limiter.concurrency, 8);
  const fail = () => limiter.run(() => Promise.reject(new Throttled(null))).catch(() => {});
  const succeed = () => limiter.run(() => Promise.resolve(1));
  // A burst of four 429s in a row counts as one: 8 → 4.
  await Promise.all([fail(), fail(), fail(), fail()]);
  assert.equal(limiter.concurrency, 4);
  assert.equal(limiter.throttled, 4);
  // Four more finished tasks later, the next 429 halves again: 4 → 2.
  for (let i = 0; i < 4; i++) await succeed();
  assert.equal(limiter.concurrency, 5);
  for (let i = 0; i < 5; i++) await succeed();
  assert.equal(limiter.concurrency, 6);
  await fail();
  assert.equal(limiter.concurrency, 3);
  await fail();
  assert.equal(limiter.concurrency, 3);
  for (let i = 0; i < 3; i++) await fail();
  assert.equal(limiter.concurrency, 1);
  for (let i = 0; i < 10; i++) await fail();
  assert.equal(limiter.concurrency, 1);
});

Deno.test("AdaptiveLimiter never runs more tasks at once than its concurrency", async () => {
  const limiter = new AdaptiveLimiter({ maxConcurrency: 3 });
  let running = 0;
  let peak = 0;
  const task = async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((resolve) => setTimeout(resolve, 1));
    running--;
  };
  await Promise.all(Array.from({ length: 20 }, () => limiter.run(task)));
  assert.equal(peak, 3);
});

Deno.test("AdaptiveLimiter pauses every caller for the server's wait after a throttled task", async () => {
  const clock = virtualClock(NOW);
  const limiter = new AdaptiveLimiter({
    maxConcurrency: 2,
    now: clock.now,
    sleep: clock.sleep,
    waitOf: (error) => error instanceof Throttled ? error.waitMs : null,
  });
  await limiter.run(() => Promise.reject(new Throttled(5_000))).catch(() => {});
  const started: number[] = [];
  await Promise.all(
    [1, 2].map(() => limiter.run(() => Promise.resolve(started.push(clock.now())))),
  );
  assert.deepEqual(started, [NOW + 5_000, NOW + 5_000]);
  assert.deepEqual(clock.sleeps, [5_000]);
});

Deno.test("RateLimitBucket never waits forever when more requests are in flight than the refilled limit", async () => {
  const clock = virtualClock(NOW);
  const bucket = new RateLimitBucket({ now: clock.now, sleep: clock.sleep });
  await bucket.acquire();
  bucket.update(oktaHeaders(2, 0, NOW + 10_000));
  await bucket.acquire(); // waits for the reset
  await bucket.acquire();
  await bucket.acquire(); // three in flight, limit 2, no answer yet
  assert.deepEqual(clock.sleeps, [11_000]);
});
