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

const args = [...Deno.args];
const value = (name: string, fallback: number) => {
  const index = args.indexOf(name);
  if (index === -1) return fallback;
  const text = args[index + 1];
  if (text === undefined || Number.isNaN(Number(text))) throw new Error(`${name} needs a number`);
  return Number(text);
};

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
const encoder = new TextEncoder();
const say = (value: unknown) => Deno.stdout.writeSync(encoder.encode(JSON.stringify(value) + "\n"));
say({
  url: graph.url,
  tenantId: graph.tenantId,
  clientId: graph.credentials.clientId,
  secret: graph.credentials.secret,
});

const decoder = new TextDecoder();
let buffer = "";
reading: for await (const chunk of Deno.stdin.readable) {
  buffer += decoder.decode(chunk, { stream: true });
  let newline: number;
  while ((newline = buffer.indexOf("\n")) !== -1) {
    const command = buffer.slice(0, newline).trim();
    buffer = buffer.slice(newline + 1);
    if (command === "counters") {
      say({ ...graph.counters(), peakConcurrency: graph.peakConcurrency() });
    } else if (command === "reset") graph.resetCounters();
    else if (command === "quit") break reading;
  }
}
await graph.close();
