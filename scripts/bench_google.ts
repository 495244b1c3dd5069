/**
 * Google Workspace benchmark: wall time and peak RSS of `roster test --output json` against the
 * fake Directory API (in a separate process, so roster's memory is measured alone) with 50 ms
 * latency per request, Google's default per-user quota (2,400 requests a minute) and a
 * concurrency cap of 20 requests, over 10,000 users and 1,000 groups (10% nested).
 *
 * ```sh
 * deno run -A scripts/bench_google.ts                    # 10,000 users, 1,000 groups
 * deno run -A scripts/bench_google.ts --users 2000 --groups 200 --runs 3
 * ```
 *
 * The lower bound is the larger of two: the requests at the largest page sizes (users 500,
 * groups and members 200, one token request) divided by the concurrency the fake allows, times
 * the latency; and the quota's: the per-user quota counts requests per minute, so a read that
 * needs more than one minute's 2,400 must wait past a window for each further 2,400 (a read
 * under 2,400 requests is bound by the concurrency alone). Prints
 * one JSON line on stdout: `{case, users, groups, wallSeconds, requests, throttled, peakRssMiB,
 * lowerBoundSeconds, ratio, …}`; progress goes to stderr.
 *
 * The fake runs in its own process (`scripts/fake_google.ts`).
 * @module
 */

import { join } from "node:path";
import {
  concurrencyBound,
  measureRosterTest,
  printJson,
  progressLog,
  startFake,
  writeDataDir,
} from "./_bench_cloud.ts";
import { benchDirectory, LATENCY_MS, MAX_CONCURRENT, QUOTA_PER_MINUTE } from "./fake_google.ts";

interface Options {
  users: number;
  groups: number;
  runs: number;
}

function parseArgs(args: string[]): Options {
  const o: Options = { users: 10_000, groups: 1_000, runs: 1 };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = Number(args[++i]);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${arg} needs a whole number`);
    if (arg === "--users") o.users = value;
    else if (arg === "--groups") o.groups = value;
    else if (arg === "--runs") o.runs = value;
    else throw new Error(`unknown argument ${arg}`);
  }
  return o;
}

const progress = progressLog("bench_google: ");

/** The requests a read needs at the largest page sizes, token included. */
function minimalRequests(o: Options): number {
  const dir = benchDirectory(o.users, o.groups);
  const deleted = dir.users.filter((u) => u.deleted === true).length;
  const active = dir.users.length - deleted;
  const pages = (n: number, size: number) => Math.max(1, Math.ceil(n / size));
  let requests = 1 + pages(active, 500) + pages(deleted, 500) + pages(dir.groups.length, 200);
  for (const group of dir.groups) {
    const members = group.members?.length ?? 0;
    if (members > 0) requests += Math.ceil(members / 200);
  }
  return requests;
}

async function run(o: Options): Promise<void> {
  progress(`generating ${o.users} users and ${o.groups} groups; starting the fake`);
  const fake = await startFake("fake_google.ts", [
    "--users",
    String(o.users),
    "--groups",
    String(o.groups),
  ]);
  const counters = async () => {
    const c = await fake.ask("counters");
    return {
      requests: Number(c.requests),
      throttled: Number(c.throttled),
      peakConcurrency: Number(c.peakConcurrency),
    };
  };
  const dir = await Deno.makeTempDir({ prefix: "roster-bench-google-" });
  try {
    const dataDir = join(dir, "data");
    const keyPath = join(dir, "key.json");
    await Deno.writeTextFile(keyPath, String(fake.hello.keyFile), { mode: 0o600 });
    await writeDataDir(dataDir, {
      config: {
        directory: {
          type: "google",
          google: {
            adminUser: fake.hello.adminUser,
            apiUrl: fake.hello.url,
            tokenUrl: fake.hello.tokenUrl,
          },
        },
      },
      secret: { setting: "directory.google.privateKey", file: keyPath },
    });

    const minimal = minimalRequests(o);
    const concurrencyBoundSeconds = concurrencyBound(minimal, {
      concurrency: MAX_CONCURRENT,
      latencyMs: LATENCY_MS,
    });
    const quotaBound = Math.floor((minimal - 1) / QUOTA_PER_MINUTE) * 60;
    const lowerBound = Math.max(concurrencyBoundSeconds, quotaBound);
    for (let i = 0; i < o.runs; i++) {
      const before = await counters();
      progress(`run ${i + 1} of ${o.runs}: roster test --output json`);
      const result = await measureRosterTest(dataDir);
      const after = await counters();
      if (result.code !== 0) progress(`roster exited ${result.code}: ${result.stderrTail}`);
      const wallSeconds = result.wallMs / 1000;
      printJson({
        case: "google",
        users: o.users,
        groups: o.groups,
        nestedPct: 10,
        latencyMs: LATENCY_MS,
        wallSeconds: +wallSeconds.toFixed(2),
        requests: after.requests - before.requests,
        minimalRequests: minimal,
        throttled: after.throttled - before.throttled,
        peakConcurrency: after.peakConcurrency,
        peakRssMiB: Math.round(result.peakRssMiB),
        concurrencyBoundSeconds: +concurrencyBoundSeconds.toFixed(2),
        quotaBoundSeconds: +quotaBound.toFixed(2),
        lowerBoundSeconds: +lowerBound.toFixed(2),
        ratio: +(wallSeconds / lowerBound).toFixed(2),
        exitCode: result.code,
      });
    }
  } finally {
    await fake.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

await run(parseArgs(Deno.args));
