import assert from "node:assert/strict";
import { QuotaGate } from "../../../src/providers/google/quota.ts";
import { virtualClock } from "../../fakes/_clock.ts";

Deno.test("QuotaGate lets 95% of the quota start in any 60 seconds, then waits for the window", async () => {
  const clock = virtualClock(0);
  const gate = new QuotaGate({ perMinute: 100, now: clock.now, sleep: clock.sleep });
  assert.equal(gate.budget, 95);
  for (let i = 0; i < 95; i++) {
    await gate.acquire();
    clock.advance(10);
  }
  assert.deepEqual(clock.sleeps, []);
  await gate.acquire();
  // The oldest request started at 0: the 96th waits until it leaves the window.
  assert.deepEqual(clock.sleeps, [60_000 - 950 + 1]);
  assert.equal(gate.waits, 1);
});

Deno.test("QuotaGate pauses every sender with Google's backoff after throttling, growing per streak", async () => {
  const clock = virtualClock(0);
  const gate = new QuotaGate({ now: clock.now, sleep: clock.sleep, random: () => 0.25 });
  assert.equal(gate.throttled("concurrency"), 1250);
  assert.equal(gate.throttled("concurrency"), 2250); // the pause ends at 2250 from now
  await gate.acquire();
  assert.deepEqual(clock.sleeps, [2250]);
  gate.succeeded();
  assert.equal(gate.throttled("concurrency"), 1250);
  assert.equal(gate.budget, 2280);
});

Deno.test("QuotaGate caps the pause at 32 seconds and lowers the budget after a quota refusal", async () => {
  const clock = virtualClock(0);
  const gate = new QuotaGate({ now: clock.now, sleep: clock.sleep, random: () => 0 });
  for (let i = 0; i < 50; i++) await gate.acquire();
  let pause = 0;
  for (let i = 0; i < 10; i++) pause = gate.throttled("quota");
  assert.equal(pause, 32_000);
  assert.equal(gate.budget, 45); // 50 in the window, less 10%
});

Deno.test("QuotaGate.acquire() stops waiting when its signal aborts", async () => {
  // A sleep that never ends: only the signal can end the wait.
  const gate = new QuotaGate({ random: () => 0, sleep: () => new Promise<void>(() => {}) });
  gate.throttled("concurrency");
  const controller = new AbortController();
  const waiting = gate.acquire(controller.signal);
  controller.abort(new Error("stopped"));
  await assert.rejects(waiting, { message: "stopped" });
});
