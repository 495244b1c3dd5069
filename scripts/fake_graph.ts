/**
 * Runs the fake Microsoft Graph (`tests/fakes/graph.ts`) in its own process, for benchmarks
 * (so roster's memory is measured alone) or to try roster by hand:
 *
 *     deno run -A scripts/fake_graph.ts [--users 10000] [--groups 1000] [--nested 0.1]
 *         [--latency 50] [--no-throttle]
 *
 * The tenant is `generateTenant` (deterministic). It prints one JSON line on stdout: `url`,
 * `tenantId`, `clientId`, `secret`. Then it reads commands on stdin, one a line: `counters`
 * prints the fake's counters as one JSON line, `reset` zeroes them, `quit` (or end of input)
 * stops. The throttle is the tenant's resource-unit limit (8,000 per 10 s above 500 users).
 * @module
 */

import { generateTenant, startFakeGraph } from "../tests/fakes/graph.ts";
import { numberOption, serveFake } from "./_bench_cloud.ts";

const args = [...Deno.args];
const value = (name: string, fallback: number) => numberOption(args, name, fallback);

const tenant = generateTenant({
  users: value("--users", 10_000),
  groups: value("--groups", 1_000),
  nestedFraction: value("--nested", 0.1),
});
const graph = await startFakeGraph({
  tenant,
  latencyMs: value("--latency", 50),
  ...(args.includes("--no-throttle") ? { throttle: false } : {}),
});
await serveFake({
  url: graph.url,
  tenantId: graph.tenantId,
  clientId: graph.credentials.clientId,
  secret: graph.credentials.secret,
}, {
  commands: {
    counters: () => ({ ...graph.counters(), peakConcurrency: graph.peakConcurrency() }),
    reset: () => {
      graph.resetCounters();
    },
  },
  stop: () => graph.close(),
});
