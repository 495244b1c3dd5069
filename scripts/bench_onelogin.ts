/**
 * OneLogin benchmark: wall time and peak RSS of `roster test --output json` against the fake
 * OneLogin account (`tests/fakes/onelogin.ts`) with 50 ms latency per request and OneLogin's
 * documented budget of 5,000 calls an hour, beside the lower bound the limits allow.
 *
 * ```sh
 * deno run -A scripts/bench_onelogin.ts                       # 10,000 users, 1,000 roles
 * deno run -A scripts/bench_onelogin.ts --users 10000 --roles 1000 --latency 50 --runs 3
 * ```
 *
 * The fake runs in its own process (`scripts/fake_onelogin.ts`), so the peak memory measured is
 * roster's alone; each run starts with the whole hourly budget. OneLogin has no nested roles,
 * so none are nested.
 *
 * Lower bound: the calls a read needs at the largest page size (100: users pages, role listing
 * pages, and each role's member pages) divided by the concurrency roster allows itself (4), times
 * the latency. The hourly budget bounds a read only when it needs more calls than the budget
 * (then each further 5,000 calls cost an hour); the summary says whether it did. Prints one JSON
 * line; progress goes to stderr. Only 127.0.0.1 is used.
 * @module
 */

import { join } from "node:path";
import {
  concurrencyBound,
  measureRosterTest,
  median,
  printJson,
  progressLog,
  startFake,
  writeDataDir,
} from "./_bench_cloud.ts";
import { benchAccount, HOURLY_LIMIT } from "./fake_onelogin.ts";

const CONCURRENCY = 4;
const PAGE = 100;

interface Options {
  users: number;
  roles: number;
  latency: number;
  runs: number;
}

function parseArgs(args: string[]): Options {
  const o: Options = { users: 10_000, roles: 1_000, latency: 50, runs: 1 };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = Number(args[++i]);
    if (!Number.isInteger(value) || value < 0) throw new Error(`${arg} needs a whole number`);
    if (arg === "--users") o.users = value;
    else if (arg === "--roles") o.roles = value;
    else if (arg === "--latency") o.latency = value;
    else if (arg === "--runs") o.runs = Math.max(1, value);
    else throw new Error(`unknown argument ${arg}`);
  }
  return o;
}

const progress = progressLog("bench_onelogin: ");

/** The calls a full read needs at 100 items a page, from the generated account. */
function callsNeeded(o: Options): number {
  const { users, roles } = benchAccount(o.users, o.roles);
  const pages = (n: number) => Math.max(1, Math.ceil(n / PAGE));
  return pages(users.length) + pages(roles.length) +
    roles.reduce((sum, role) => sum + pages(role.users?.length ?? 0), 0);
}

async function main(): Promise<void> {
  const o = parseArgs(Deno.args);
  const fake = await startFake("fake_onelogin.ts", [
    "--users",
    String(o.users),
    "--roles",
    String(o.roles),
    "--latency",
    String(o.latency),
  ]);
  const tmp = await Deno.makeTempDir({ prefix: "roster-bench-onelogin-" });
  try {
    const needed = callsNeeded(o);
    const runs: {
      wallMs: number;
      peakRssMiB: number;
      code: number;
      requests: number;
      throttled: number;
      peakConcurrency: number;
    }[] = [];
    let before = { requests: 0, rateLimited: 0 };
    for (let run = 0; run < o.runs; run++) {
      const dataDir = join(tmp, `data${run}`);
      await writeDataDir(dataDir, {
        config: {
          directory: {
            type: "onelogin",
            onelogin: { clientId: fake.hello["clientId"], apiUrl: fake.hello["url"] },
          },
        },
        secret: { setting: "directory.onelogin.clientSecret", value: String(fake.hello["secret"]) },
      });
      // Each run starts with the whole hourly budget, as a first read of the hour would.
      await fake.ask("refill");
      progress(`run ${run + 1}: roster test on ${o.users} users, ${o.roles} roles`);
      const result = await measureRosterTest(dataDir);
      if (result.code !== 0) progress(`roster exited ${result.code}: ${result.stderrTail}`);
      const counters = await fake.ask("counters");
      const requests = Number(counters["requests"]) - before.requests;
      const throttled = Number(counters["rateLimited"]) - before.rateLimited;
      before = {
        requests: Number(counters["requests"]),
        rateLimited: Number(counters["rateLimited"]),
      };
      runs.push({
        wallMs: result.wallMs,
        peakRssMiB: result.peakRssMiB,
        code: result.code,
        requests,
        throttled,
        peakConcurrency: Number(counters["peakConcurrency"]),
      });
    }
    const middle = median(runs, (r) => r.wallMs);
    const lowerBoundSeconds = concurrencyBound(needed, {
      concurrency: CONCURRENCY,
      latencyMs: o.latency,
    });
    const wallSeconds = middle.wallMs / 1000;
    printJson({
      case: "onelogin",
      users: o.users,
      groups: o.roles,
      wallSeconds: +wallSeconds.toFixed(2),
      requests: middle.requests,
      throttled: middle.throttled,
      peakRssMiB: Math.round(middle.peakRssMiB),
      lowerBoundSeconds: +lowerBoundSeconds.toFixed(2),
      ratio: +(wallSeconds / lowerBoundSeconds).toFixed(2),
      callsNeeded: needed,
      peakConcurrency: middle.peakConcurrency,
      hourlyLimit: HOURLY_LIMIT,
      budgetBinds: needed > HOURLY_LIMIT,
      exitCode: middle.code,
      runs: [...runs].sort((a, b) => a.wallMs - b.wallMs).map((r) => +(r.wallMs / 1000).toFixed(2)),
    });
  } finally {
    await fake.stop();
    await Deno.remove(tmp, { recursive: true });
  }
}

await main();
