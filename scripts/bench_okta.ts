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
import { measure } from "./_measure.ts";

const REPO = new URL("..", import.meta.url).pathname;
const USERS = 10_000;
const GROUPS = 1000;
const LATENCY_MS = 50;
const SHARE = 50;
const CONCURRENCY = 16; // roster's default member-read workers
const LIMITS = { users: 600, groups: 500, groupUsers: 1000 } as const;
const runsAt = Deno.args.indexOf("--runs");
const RUNS = runsAt === -1 ? 2 : Number(Deno.args[runsAt + 1] ?? 2);

const encoder = new TextEncoder();
const say = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));
const progress = (line: string) => Deno.stderr.writeSync(encoder.encode(`bench okta: ${line}\n`));

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

const fake = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    join(REPO, "scripts/fake_okta.ts"),
    "--users",
    String(USERS),
    "--groups",
    String(GROUPS),
    "--latency",
    String(LATENCY_MS),
  ],
  stdin: "piped",
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const writer = fake.stdin.getWriter();
const lines = fake.stdout.pipeThrough(new TextDecoderStream()).getReader();
let pending = "";
async function readLine(): Promise<unknown> {
  for (;;) {
    const newline = pending.indexOf("\n");
    if (newline !== -1) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      return JSON.parse(line);
    }
    const { value, done } = await lines.read();
    if (done) throw new Error("the fake Okta process ended");
    pending += value;
  }
}
async function counters(): Promise<Counters> {
  await writer.write(encoder.encode("counters\n"));
  const value = await readLine();
  if (!isCounters(value)) throw new Error(`unexpected counters: ${JSON.stringify(value)}`);
  return value;
}

const dataDir = await Deno.makeTempDir({ prefix: "roster-bench-okta-" });
try {
  const started = await readLine();
  const orgUrl = typeof started === "object" && started !== null && "orgUrl" in started
    ? String(started.orgUrl)
    : "";
  const token = typeof started === "object" && started !== null && "token" in started
    ? String(started.token)
    : "";
  await Deno.writeTextFile(
    join(dataDir, "config.json"),
    JSON.stringify({
      directory: { type: "okta", okta: { orgUrl, maxRateShare: SHARE } },
      sync: { users: true, groups: true },
    }),
  );
  const set = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      join(REPO, "main.ts"),
      "--data-dir",
      dataDir,
      "-q",
      "config",
      "set",
      "directory.okta.token",
      "--secret-env",
      "BENCH_OKTA_TOKEN",
    ],
    env: { BENCH_OKTA_TOKEN: token },
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (!set.success) throw new Error("cannot store the token");

  for (let run = 1; run <= RUNS; run++) {
    // Start at the beginning of a rate-limit window (the fake's windows are clock minutes), and
    // after the previous run's window has passed.
    const waitMs = 60_000 - (Date.now() % 60_000) + 100;
    progress(`run ${run}/${RUNS}: waiting ${Math.round(waitMs / 1000)} s for a fresh window`);
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    const before = await counters();
    const measured = await measure(
      [
        Deno.execPath(),
        "run",
        "-A",
        join(REPO, "main.ts"),
        "--data-dir",
        dataDir,
        "-q",
        "test",
        "--output",
        "json",
      ],
      { env: { NO_COLOR: "1" } },
    );
    if (measured.code !== 0) {
      throw new Error(`roster test exited ${measured.code}: ${measured.stderrTail}`);
    }
    const after = await counters();
    const served = (bucket: keyof typeof LIMITS) =>
      (after.byBucket[bucket] ?? 0) - (before.byBucket[bucket] ?? 0);
    const requests = after.requests - before.requests;
    const throttled = after.rateLimited - before.rateLimited;
    const latency = LATENCY_MS / 1000;
    let rateBound = 0;
    for (const bucket of Object.keys(LIMITS) as (keyof typeof LIMITS)[]) {
      const allowed = Math.max(1, Math.floor((LIMITS[bucket] * SHARE) / 100));
      const n = served(bucket);
      const windows = Math.ceil(n / allowed);
      const last = n - (windows - 1) * allowed;
      rateBound = Math.max(rateBound, (windows - 1) * 60 + (last * latency) / CONCURRENCY);
    }
    const userPages = served("users");
    const latencyBound = Math.max(userPages * latency, (requests * latency) / CONCURRENCY);
    const lowerBound = Math.max(rateBound, latencyBound);
    const wallSeconds = measured.wallMs / 1000;
    say(JSON.stringify({
      case: "okta",
      users: USERS,
      groups: GROUPS,
      wallSeconds: Math.round(wallSeconds * 10) / 10,
      requests,
      throttled,
      peakRssMiB: Math.round(measured.peakRssMiB),
      lowerBoundSeconds: Math.round(lowerBound * 10) / 10,
      ratio: Math.round((wallSeconds / lowerBound) * 100) / 100,
    }));
  }
} finally {
  await writer.close().catch(() => {});
  await fake.status;
  await Deno.remove(dataDir, { recursive: true });
}
