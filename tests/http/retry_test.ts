import assert from "node:assert/strict";
import {
  HttpBodyError,
  HttpNetworkError,
  HttpStatusError,
  type NetworkPhase,
} from "../../src/http/errors.ts";
import {
  backoffDelay,
  httpRetryDecision,
  isThrottled,
  retry,
  RetryExhaustedError,
} from "../../src/http/retry.ts";
import { virtualClock } from "../fakes/_clock.ts";

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const where = { method: "GET", url: "https://api.example.test/v1/users?page=2" };

function status(code: number, headers: Record<string, string> = {}, body = ""): HttpStatusError {
  return new HttpStatusError(where, {
    status: code,
    headers: new Headers(headers),
    bodyText: body,
  });
}

function network(phase: NetworkPhase): HttpNetworkError {
  return new HttpNetworkError(where, phase, "detail");
}

Deno.test("backoffDelay() is full jitter under a doubling cap", () => {
  assert.equal(backoffDelay(1, {}, () => 0.5), 500);
  assert.equal(backoffDelay(2, {}, () => 0.5), 1_000);
  assert.equal(backoffDelay(3, {}, () => 0.999), 3_996);
  assert.equal(backoffDelay(10, {}, () => 1), 30_000);
  assert.equal(backoffDelay(4, { baseDelayMs: 100, maxDelayMs: 500 }, () => 1), 500);
  assert.equal(backoffDelay(4, {}, () => 0), 0);
});

Deno.test("retry() returns the first success and waits the backoff between attempts", async () => {
  const clock = virtualClock(NOW);
  const attempts: number[] = [];
  const events: string[] = [];
  const result = await retry((n) => {
    attempts.push(n);
    return n < 3 ? Promise.reject(network("reset")) : Promise.resolve("done");
  }, {
    isRetriable: () => true,
    now: clock.now,
    sleep: clock.sleep,
    random: () => 0.5,
    onRetry: (e) => events.push(`${e.attempt}:${e.delayMs}:${e.serverAsked}`),
  });
  assert.equal(result, "done");
  assert.deepEqual(attempts, [1, 2, 3]);
  assert.deepEqual(clock.sleeps, [500, 1_000]);
  assert.deepEqual(events, ["1:500:false", "2:1000:false"]);
});

Deno.test("retry() gives up after maxAttempts with the last error as cause", async () => {
  const clock = virtualClock(NOW);
  const errors = [status(503), status(502), status(504, {}, "last")];
  const error = await retry((n) => Promise.reject(errors[n - 1]), {
    maxAttempts: 3,
    isRetriable: () => true,
    now: clock.now,
    sleep: clock.sleep,
    random: () => 1,
  }).then(() => null, (e) => e);
  assert.ok(error instanceof RetryExhaustedError);
  assert.equal(error.reason, "attempts");
  assert.equal(error.attempts, 3);
  assert.equal(error.elapsedMs, 3_000);
  assert.equal(error.lastError, errors[2]);
  assert.equal(error.cause, errors[2]);
  assert.equal(
    error.message,
    "Gave up after 3 attempts in 3.0 s: GET https://api.example.test/v1/users?page=2 answered 504",
  );
});

Deno.test("retry() uses the server's wait, and gives up when it is longer than maxWaitMs", async () => {
  const clock = virtualClock(NOW);
  let calls = 0;
  const value = await retry(() => {
    calls++;
    return calls === 1 ? Promise.reject(status(429)) : Promise.resolve(calls);
  }, { isRetriable: () => ({ waitMs: 2_128 }), now: clock.now, sleep: clock.sleep });
  assert.equal(value, 2);
  assert.deepEqual(clock.sleeps, [2_128]);

  const error = await retry(() => Promise.reject(status(429)), {
    maxWaitMs: 60_000,
    isRetriable: () => ({ waitMs: 3_600_000 }),
    now: clock.now,
    sleep: clock.sleep,
  }).then(() => null, (e) => e);
  assert.ok(error instanceof RetryExhaustedError);
  assert.equal(error.reason, "wait-too-long");
  assert.equal(error.requestedWaitMs, 3_600_000);
  assert.equal(error.attempts, 1);
  assert.deepEqual(clock.sleeps, [2_128]);
});

Deno.test("retry() stops when the next wait would end past maxElapsedMs", async () => {
  const clock = virtualClock(NOW);
  const error = await retry(() => Promise.reject(status(503)), {
    maxAttempts: 100,
    maxElapsedMs: 10_000,
    isRetriable: () => ({ waitMs: 4_000 }),
    now: clock.now,
    sleep: clock.sleep,
  }).then(() => null, (e) => e);
  assert.ok(error instanceof RetryExhaustedError);
  assert.equal(error.reason, "elapsed");
  assert.equal(error.attempts, 3);
  assert.deepEqual(clock.sleeps, [4_000, 4_000]);
});

Deno.test("retry() throws an error the decision refuses as it is, without waiting", async () => {
  const clock = virtualClock(NOW);
  const refused = status(404);
  let calls = 0;
  const error = await retry(() => {
    calls++;
    return Promise.reject(refused);
  }, { isRetriable: () => false, now: clock.now, sleep: clock.sleep }).then(() => null, (e) => e);
  assert.equal(error, refused);
  assert.equal(calls, 1);
  assert.deepEqual(clock.sleeps, []);
});

Deno.test("retry() stops at once when its signal aborts during a wait", async () => {
  const controller = new AbortController();
  const last = status(503);
  let calls = 0;
  const error = await retry(() => {
    calls++;
    return Promise.reject(last);
  }, {
    isRetriable: () => true,
    signal: controller.signal,
    sleep: () => {
      controller.abort();
      return Promise.resolve();
    },
  }).then(() => null, (e) => e);
  assert.equal(error, last);
  assert.equal(calls, 1);
});

Deno.test("httpRetryDecision() retries network failures by phase and idempotency", () => {
  const decide = (phase: NetworkPhase, idempotent: boolean) =>
    httpRetryDecision(network(phase), { idempotent });
  assert.equal(decide("connect", false), true);
  assert.equal(decide("connect", true), true);
  assert.equal(decide("reset", true), true);
  assert.equal(decide("timeout", true), true);
  assert.equal(decide("reset", false), false);
  assert.equal(decide("timeout", false), false);
  assert.equal(decide("dns", true), false);
  assert.equal(decide("tls", true), false);
  assert.equal(decide("aborted", true), false);
  const truncated = new HttpBodyError(where, "truncated", {
    status: 200,
    excerpt: "",
    message: "x",
  });
  const invalid = new HttpBodyError(where, "invalid-json", {
    status: 200,
    excerpt: "",
    message: "x",
  });
  assert.equal(httpRetryDecision(truncated), true);
  assert.equal(httpRetryDecision(truncated, { idempotent: false }), false);
  assert.equal(httpRetryDecision(invalid), false);
  assert.equal(httpRetryDecision(new Error("bug")), false);
});

Deno.test("httpRetryDecision() retries throttling and transient statuses with the server's wait", () => {
  const now = () => NOW;
  assert.deepEqual(httpRetryDecision(status(429, { "Retry-After": "2.5" }), { now }), {
    waitMs: 2_500,
  });
  assert.deepEqual(
    httpRetryDecision(
      status(429, { "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": String(NOW / 1000 + 4) }),
      { now },
    ),
    { waitMs: 5_000 },
  );
  assert.equal(httpRetryDecision(status(429), { now }), true);
  assert.deepEqual(httpRetryDecision(status(503, { "Retry-After": "10" }), { now }), {
    waitMs: 10_000,
  });
  assert.equal(httpRetryDecision(status(502), { idempotent: false }), true);
  assert.equal(httpRetryDecision(status(504)), true);
  assert.equal(httpRetryDecision(status(504), { idempotent: false }), false);
  assert.equal(httpRetryDecision(status(500)), true);
  assert.equal(httpRetryDecision(status(500), { idempotent: false }), false);
  for (const code of [400, 401, 403, 404, 409, 410, 301]) {
    assert.equal(httpRetryDecision(status(code)), false, String(code));
  }
});

Deno.test("isThrottled() knows 429, Google's rate-limit 403s, and a 503 with Retry-After", () => {
  const google = (reason: string) =>
    status(
      403,
      {},
      JSON.stringify({ error: { code: 403, errors: [{ domain: "usageLimits", reason }] } }),
    );
  assert.equal(isThrottled(status(429)), true);
  assert.equal(isThrottled(google("userRateLimitExceeded")), true);
  assert.equal(isThrottled(google("rateLimitExceeded")), true);
  assert.equal(isThrottled(google("quotaExceeded")), true);
  assert.equal(isThrottled(google("forbidden")), false);
  assert.equal(isThrottled(status(403, {}, "not json")), false);
  assert.equal(isThrottled(status(503, { "Retry-After": "1" })), true);
  assert.equal(isThrottled(status(503)), false);
  assert.equal(isThrottled(network("reset")), false);
  assert.equal(httpRetryDecision(google("userRateLimitExceeded")), true);
  assert.equal(httpRetryDecision(google("dailyLimitExceeded")), false);
});
