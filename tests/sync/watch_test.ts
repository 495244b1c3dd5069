import assert from "node:assert/strict";
import { nextDelay, watch, type WatchRunResult } from "../../src/sync/watch.ts";

function recorder() {
  const sleeps: number[] = [];
  const lines: string[] = [];
  return {
    sleeps,
    lines,
    sleep: (ms: number) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    log: (line: string) => lines.push(line),
  };
}

Deno.test("watch() runs at the interval until maxRuns", async () => {
  const r = recorder();
  const result = await watch({
    intervalMs: 300_000,
    maxRuns: 3,
    signal: new AbortController().signal,
    runOnce: () => Promise.resolve({ ok: true, summary: "in sync" }),
    sleep: r.sleep,
    log: r.log,
  });
  assert.deepEqual(result, { runs: 3, failures: 0, stoppedBy: "max-runs" });
  assert.deepEqual(r.sleeps, [300_000, 300_000]);
  assert.deepEqual(r.lines, [
    "run 1: in sync; next run in 5 min",
    "run 2: in sync; next run in 5 min",
    "run 3: in sync",
  ]);
});

Deno.test("watch() survives a failed run and backs off, then returns to the interval", async () => {
  const r = recorder();
  const outcomes: (WatchRunResult | Error)[] = [
    { ok: true, summary: "synced" },
    new Error("Cannot reach the directory: connection refused"),
    { ok: false, summary: "Bitwarden unavailable" },
    { ok: true, summary: "synced" },
  ];
  const result = await watch({
    intervalMs: 60_000,
    maxRuns: 4,
    signal: new AbortController().signal,
    runOnce: (n) => {
      const outcome = outcomes[n - 1];
      if (outcome instanceof Error) return Promise.reject(outcome);
      return Promise.resolve(outcome ?? { ok: true, summary: "?" });
    },
    sleep: r.sleep,
    log: r.log,
  });
  assert.deepEqual(result, { runs: 4, failures: 2, stoppedBy: "max-runs" });
  assert.deepEqual(r.sleeps, [60_000, 30_000, 60_000]);
  assert.equal(
    r.lines[1],
    "run 2: run failed: Cannot reach the directory: connection refused; retrying in 30 s (failure 1 in a row)",
  );
});

Deno.test("watch() stops when the signal aborts during the wait", async () => {
  const controller = new AbortController();
  let runs = 0;
  const result = await watch({
    intervalMs: 3_600_000,
    signal: controller.signal,
    runOnce: () => {
      runs++;
      queueMicrotask(() => controller.abort());
      return Promise.resolve({ ok: true, summary: "in sync" });
    },
    log: () => {},
  });
  assert.equal(runs, 1);
  assert.deepEqual(result, { runs: 1, failures: 0, stoppedBy: "signal" });
});

Deno.test("nextDelay() doubles after consecutive failures up to four intervals", () => {
  const opts = { intervalMs: 300_000 };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7].map((k) => nextDelay(k, opts)),
    [300_000, 30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_200_000],
  );
});
