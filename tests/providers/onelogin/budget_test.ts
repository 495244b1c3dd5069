import assert from "node:assert/strict";
import {
  BudgetExhaustedError,
  BudgetGate,
  estimateCalls,
  formatIn,
  formatReset,
} from "../../../src/providers/onelogin/budget.ts";
import type { RateLimitState } from "../../../src/http/mod.ts";
import { virtualClock } from "../../fakes/_clock.ts";

function headers(remaining: number, resetSeconds: number, limit = 5000): Headers {
  return new Headers({
    "x-ratelimit-limit": String(limit),
    "x-ratelimit-remaining": String(remaining),
    "x-ratelimit-reset": String(resetSeconds),
  });
}

Deno.test("estimateCalls() counts started pages of users, roles and each role's members", () => {
  assert.equal(estimateCalls({ users: 0, roles: null }), 1);
  assert.equal(estimateCalls({ users: 10_000, roles: null }), 100);
  assert.equal(estimateCalls({ users: 10_001, roles: 0 }), 101 + 1);
  assert.equal(estimateCalls({ users: 250, roles: 3 }), 3 + 1 + 3);
  assert.equal(estimateCalls({ users: 250, roles: 3, roleMembers: [0, 100, 1001] }), 3 + 1 + 13);
});

Deno.test("formatReset() and formatIn() give the reset time in UTC and the time until it", () => {
  const now = Date.UTC(2026, 0, 2, 10, 17, 30);
  assert.equal(formatReset(Date.UTC(2026, 0, 2, 11)), "2026-01-02 11:00:00 UTC");
  assert.equal(formatIn(now + 42_000, now), "42 s");
  assert.equal(formatIn(now + 42 * 60_000, now), "42 min");
  assert.equal(formatIn(now + 60 * 60_000, now), "1 h");
  assert.equal(formatIn(now + 65 * 60_000, now), "1 h 5 min");
});

Deno.test("BudgetGate lets calls start while the budget has calls left, counting those in flight", async () => {
  const clock = virtualClock();
  const gate = new BudgetGate({
    wait: false,
    refresh: () => Promise.resolve(null),
    now: clock.now,
    sleep: clock.sleep,
  });
  await gate.acquire();
  gate.update(headers(2, 600));
  await gate.acquire();
  await gate.acquire();
  assert.equal(gate.available(), 0);
  await assert.rejects(
    () => gate.acquire(),
    (error) => error instanceof BudgetExhaustedError && error.state.remaining === 2,
  );
  assert.deepEqual(clock.sleeps, []);
});

Deno.test("BudgetGate waits for the reset and reads the budget afresh when waiting is on", async () => {
  const clock = virtualClock();
  const fresh: RateLimitState[] = [];
  const gate = new BudgetGate({
    wait: true,
    refresh: () => {
      const state = { limit: 5000, remaining: 5000, resetAt: clock.now() + 3_600_000 };
      fresh.push(state);
      return Promise.resolve(state);
    },
    now: clock.now,
    sleep: clock.sleep,
  });
  await gate.acquire();
  gate.update(headers(0, 600));
  await gate.acquire();
  assert.deepEqual(clock.sleeps, [601_000]);
  assert.equal(fresh.length, 1);
  assert.equal(gate.waits, 1);
});

Deno.test("BudgetGate reads the budget afresh after a 429 and goes on when calls are left", async () => {
  const clock = virtualClock();
  let refreshes = 0;
  const gate = new BudgetGate({
    wait: false,
    refresh: () => {
      refreshes++;
      return Promise.resolve({ limit: 5000, remaining: 4000, resetAt: clock.now() + 600_000 });
    },
    now: clock.now,
    sleep: clock.sleep,
  });
  await gate.acquire();
  gate.update(headers(0, 600));
  gate.markStale();
  await gate.acquire();
  assert.equal(refreshes, 1);
  assert.equal(gate.available(), 3999);
});

Deno.test("BudgetGate keeps the lowest remaining of answers from the same window and takes a newer window", () => {
  const clock = virtualClock();
  const gate = new BudgetGate({
    wait: false,
    refresh: () => Promise.resolve(null),
    now: clock.now,
    sleep: clock.sleep,
  });
  gate.update(headers(100, 600));
  gate.update(headers(105, 600));
  assert.equal(gate.state?.remaining, 100);
  clock.advance(601_000);
  gate.update(headers(4999, 3599));
  assert.equal(gate.state?.remaining, 4999);
});
