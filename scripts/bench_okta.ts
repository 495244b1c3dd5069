/**
 * `deno task bench okta`: `roster test --output json` against the fake Okta org (in its own
 * process, `scripts/fake_okta.ts`) with 10,000 users, 1,000 groups, 50 ms latency per request
 * and the fake's default per-minute limits (users 600, groups 500, group members 1,000; 75
 * requests at once), at `directory.okta.maxRateShare` 50 (the default).
 *
 * The lower bound: each rate-limit bucket allows `floor(limit × share / 100)` requests per
 * one-minute window, so `n` requests of a bucket need `ceil(n / allowed)` windows; a run that
 * starts at the beginning of a window (the script waits for one) cannot finish before the
 * start of the last window it needs, plus the latency of that window's requests at roster's
 * concurrency. It is never below the latency bound: the longest serial chain (the user
 * listing's pages) or all requests at roster's concurrency, whichever is longer.
 *
 * Prints one JSON line per run: {case, users, groups, wallSeconds, requests, throttled,
 * peakRssMiB, lowerBoundSeconds, ratio}. `--runs N` (default 2).
 * @module
 */

import { join } from "node:path";
import {
  concurrencyBound,
  measureRosterTest,
  numberOption,
  printJson,
  progressLog,
  startFake,
  writeDataDir,
} from "./_bench_cloud.ts";

const USERS = 10_000;
const GROUPS = 1000;
const LATENCY_MS = 50;
const SHARE = 50;
const CONCURRENCY = 16; // roster's default member-read workers
const LIMITS = { users: 600, groups: 500, groupUsers: 1000 } as const;
const RUNS = numberOption(Deno.args, "--runs", 2);

const progress = progressLog("bench okta: ");

interface Counters {
  requests: number;
  rateLimited: number;
  concurrencyRejected: number;
  byBucket: Record<string, number>;
}

function isCounters(value: unknown): value is Counters {
  return typeof value === "object" && value !== null && "requests" in value &&
    "byBucket" in value;
}

const fake = await startFake("fake_okta.ts", [
  "--users",
  String(USERS),
  "--groups",
  String(GROUPS),
  "--latency",
  String(LATENCY_MS),
]);
async function counters(): Promise<Counters> {
  const value = await fake.ask("counters");
  if (!isCounters(value)) throw new Error(`unexpected counters: ${JSON.stringify(value)}`);
  return value;
}

const dir = await Deno.makeTempDir({ prefix: "roster-bench-okta-" });
try {
  const dataDir = join(dir, "data");
  await writeDataDir(dataDir, {
    config: {
      directory: { type: "okta", okta: { orgUrl: String(fake.hello.orgUrl), maxRateShare: SHARE } },
      sync: { users: true, groups: true },
    },
    secret: { setting: "directory.okta.token", value: String(fake.hello.token) },
  });

  for (let run = 1; run <= RUNS; run++) {
    // Start at the beginning of a rate-limit window (the fake's windows are clock minutes), and
    // after the previous run's window has passed.
    const waitMs = 60_000 - (Date.now() % 60_000) + 100;
    progress(`run ${run}/${RUNS}: waiting ${Math.round(waitMs / 1000)} s for a fresh window`);
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    const before = await counters();
    const measured = await measureRosterTest(dataDir);
    if (measured.code !== 0) {
      throw new Error(`roster test exited ${measured.code}: ${measured.stderrTail}`);
    }
    const after = await counters();
    const served = (bucket: keyof typeof LIMITS) =>
      (after.byBucket[bucket] ?? 0) - (before.byBucket[bucket] ?? 0);
    const requests = after.requests - before.requests;
    const throttled = after.rateLimited - before.rateLimited;
    const latency = { concurrency: CONCURRENCY, latencyMs: LATENCY_MS };
    let rateBound = 0;
    for (const bucket of Object.keys(LIMITS) as (keyof typeof LIMITS)[]) {
      const allowed = Math.max(1, Math.floor((LIMITS[bucket] * SHARE) / 100));
      const n = served(bucket);
      const windows = Math.ceil(n / allowed);
      const last = n - (windows - 1) * allowed;
      rateBound = Math.max(rateBound, (windows - 1) * 60 + concurrencyBound(last, latency));
    }
    const userPages = served("users");
    const latencyBound = Math.max(
      userPages * LATENCY_MS / 1000,
      concurrencyBound(requests, latency),
    );
    const lowerBound = Math.max(rateBound, latencyBound);
    const wallSeconds = measured.wallMs / 1000;
    printJson({
      case: "okta",
      users: USERS,
      groups: GROUPS,
      wallSeconds: Math.round(wallSeconds * 10) / 10,
      requests,
      throttled,
      peakRssMiB: Math.round(measured.peakRssMiB),
      lowerBoundSeconds: Math.round(lowerBound * 10) / 10,
      ratio: Math.round((wallSeconds / lowerBound) * 100) / 100,
    });
  }
} finally {
  await fake.stop();
  await Deno.remove(dir, { recursive: true });
}
