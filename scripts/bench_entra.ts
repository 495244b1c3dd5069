/**
 * Entra ID benchmark: wall time, requests, throttled answers and peak RSS of
 * `roster test --output json` against the fake Graph in its own process
 * (`scripts/fake_graph.ts`), with 50 ms latency per request and the tenant's resource-unit
 * limit (8,000 per 10 s), next to the lower bound those allow.
 *
 * ```sh
 * deno run -A scripts/bench_entra.ts [--users 10000] [--groups 1000] [--latency 50] [--runs 3]
 * ```
 *
 * The lower bound is the larger of:
 * - requests ÷ concurrency × latency: the HTTP requests the read needs at the largest page
 *   sizes (999) with `$batch` (20 groups per batch), spread over roster's 8 requests in flight;
 * - the serial chain × latency: the token, the delta links, then the user listing, whose pages
 *   follow one another (one next link at a time);
 * - the resource-unit bound: units spent beyond one window's quota wait for the next window.
 * `startupSeconds` is `roster --version` (loading the CLI) measured alone, and
 * `ratioWithoutStartup` the ratio once it is taken off the wall time.
 * Prints one JSON line (the median run) on stdout; progress on stderr.
 * @module
 */

import { join } from "node:path";
import {
  concurrencyBound,
  measureRosterTest,
  median,
  num,
  numberOption,
  printJson,
  progressLog,
  startFake,
  startupSeconds,
  writeDataDir,
} from "./_bench_cloud.ts";

const CONCURRENCY = 8;
const RU_PER_WINDOW = 8_000;
const WINDOW_SECONDS = 10;

const users = numberOption(Deno.args, "--users", 10_000);
const groups = numberOption(Deno.args, "--groups", 1_000);
const latencyMs = numberOption(Deno.args, "--latency", 50);
const runs = Math.max(1, numberOption(Deno.args, "--runs", 3));
const log = progressLog("");

log(`entra bench: ${users} users, ${groups} groups, ${latencyMs} ms latency, ${runs} runs`);
const server = await startFake("fake_graph.ts", [
  "--users",
  String(users),
  "--groups",
  String(groups),
  "--latency",
  String(latencyMs),
]);
const dir = await Deno.makeTempDir({ prefix: "roster-bench-entra-" });
try {
  const dataDir = join(dir, "data");
  const url = String(server.hello.url);
  await writeDataDir(dataDir, {
    config: {
      directory: {
        type: "entra",
        entra: {
          tenant: String(server.hello.tenantId),
          applicationId: String(server.hello.clientId),
          authorityUrl: url,
          graphUrl: url,
        },
      },
      sync: { users: true, groups: true },
    },
    secret: { setting: "directory.entra.key", value: String(server.hello.secret) },
  });
  // roster's own start-up (loading the CLI), measured alone, for the ratio without it.
  const startup = await startupSeconds();
  const results = [];
  for (let run = 0; run < runs; run++) {
    await server.tell("reset");
    const m = await measureRosterTest(dataDir);
    if (m.code !== 0) throw new Error(`roster test exited ${m.code}: ${m.stderrTail}`);
    const counters = await server.ask("counters");
    const requests = num(counters.requests);
    const resourceUnits = num(counters.resourceUnits);
    const userPages = Math.ceil(users / 999);
    const serialChain = 2 + userPages; // token, delta links, user pages
    const byRequests = concurrencyBound(requests, { concurrency: CONCURRENCY, latencyMs });
    const bySerial = serialChain * latencyMs / 1000;
    const byUnits = Math.max(0, Math.ceil(resourceUnits / RU_PER_WINDOW) - 1) * WINDOW_SECONDS;
    const lowerBound = Math.max(byRequests, bySerial, byUnits);
    const wall = m.wallMs / 1000;
    const result = {
      case: "entra",
      users,
      groups,
      wallSeconds: Number(wall.toFixed(3)),
      requests,
      batchItems: num(counters.batchItems),
      throttled: num(counters.throttled),
      resourceUnits,
      peakRssMiB: Number(m.peakRssMiB.toFixed(1)),
      lowerBoundSeconds: Number(lowerBound.toFixed(3)),
      bounds: {
        requestsOverConcurrency: Number(byRequests.toFixed(3)),
        serialChain: Number(bySerial.toFixed(3)),
        resourceUnits: byUnits,
      },
      ratio: Number((wall / lowerBound).toFixed(2)),
      startupSeconds: Number(startup.toFixed(3)),
      ratioWithoutStartup: Number(((wall - startup) / lowerBound).toFixed(2)),
    };
    log(`run ${run + 1}: ${JSON.stringify(result)}`);
    results.push(result);
  }
  printJson(median(results, (r) => r.wallSeconds));
} finally {
  await server.stop();
  await Deno.remove(dir, { recursive: true });
}
