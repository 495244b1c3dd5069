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

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { measure } from "./_measure.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CONCURRENCY = 8;
const RU_PER_WINDOW = 8_000;
const WINDOW_SECONDS = 10;

const args = [...Deno.args];
const option = (name: string, fallback: number) => {
  const index = args.indexOf(name);
  return index === -1 ? fallback : Number(args[index + 1]);
};
const users = option("--users", 10_000);
const groups = option("--groups", 1_000);
const latencyMs = option("--latency", 50);
const runs = Math.max(1, option("--runs", 3));

const log = (line: string) => Deno.stderr.writeSync(encoder.encode(`${line}\n`));

/** The fake in a child process, driven through its stdin. */
async function startServer() {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      join(ROOT, "scripts", "fake_graph.ts"),
      "--users",
      String(users),
      "--groups",
      String(groups),
      "--latency",
      String(latencyMs),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.getReader();
  let buffer = "";
  const line = async (): Promise<unknown> => {
    for (;;) {
      const newline = buffer.indexOf("\n");
      if (newline !== -1) {
        const text = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        return JSON.parse(text);
      }
      const { value, done } = await reader.read();
      if (done) throw new Error("the fake Graph process ended");
      buffer += decoder.decode(value, { stream: true });
    }
  };
  const send = (command: string) => writer.write(encoder.encode(`${command}\n`));
  const hello = await line();
  return {
    hello: record(hello),
    async counters(): Promise<Record<string, unknown>> {
      await send("counters");
      return record(await line());
    },
    reset: () => send("reset"),
    async stop() {
      await send("quit");
      await writer.close().catch(() => {});
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
      await child.status;
    },
  };
}

function record(value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`not an object: ${JSON.stringify(value)}`);
  }
  return Object.fromEntries(Object.entries(value));
}

const num = (value: unknown) => typeof value === "number" ? value : 0;

async function roster(dataDir: string, rest: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "main.ts"), "--data-dir", dataDir, ...rest],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (output.code !== 0) {
    throw new Error(
      `roster ${rest.join(" ")} exited ${output.code}: ${decoder.decode(output.stderr)}`,
    );
  }
}

log(`entra bench: ${users} users, ${groups} groups, ${latencyMs} ms latency, ${runs} runs`);
const server = await startServer();
const dir = await Deno.makeTempDir({ prefix: "roster-bench-entra-" });
try {
  const dataDir = join(dir, "data");
  await Deno.mkdir(dataDir, { mode: 0o700 });
  const url = String(server.hello.url);
  await Deno.writeTextFile(
    join(dataDir, "config.json"),
    JSON.stringify({
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
    }),
  );
  await roster(dataDir, ["-q", "config", "set", "directory.entra.key", "--secret-env", "KEY"], {
    KEY: String(server.hello.secret),
  });
  // roster's own start-up (loading the CLI), measured alone, for the ratio without it.
  const startup = await measure(
    [Deno.execPath(), "run", "-A", join(ROOT, "main.ts"), "--version"],
    {
      cwd: ROOT,
    },
  );
  const startupSeconds = startup.wallMs / 1000;
  const results = [];
  for (let run = 0; run < runs; run++) {
    await server.reset();
    const m = await measure(
      [
        Deno.execPath(),
        "run",
        "-A",
        join(ROOT, "main.ts"),
        "--data-dir",
        dataDir,
        "-q",
        "test",
        "--output",
        "json",
      ],
      { cwd: ROOT },
    );
    if (m.code !== 0) throw new Error(`roster test exited ${m.code}: ${m.stderrTail}`);
    const counters = await server.counters();
    const requests = num(counters.requests);
    const resourceUnits = num(counters.resourceUnits);
    const userPages = Math.ceil(users / 999);
    const serialChain = 2 + userPages; // token, delta links, user pages
    const byRequests = (requests / CONCURRENCY) * latencyMs / 1000;
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
      startupSeconds: Number(startupSeconds.toFixed(3)),
      ratioWithoutStartup: Number(((wall - startupSeconds) / lowerBound).toFixed(2)),
    };
    log(`run ${run + 1}: ${JSON.stringify(result)}`);
    results.push(result);
  }
  results.sort((a, b) => a.wallSeconds - b.wallSeconds);
  const median = results[Math.floor(results.length / 2)];
  Deno.stdout.writeSync(encoder.encode(`${JSON.stringify(median)}\n`));
} finally {
  await server.stop();
  await Deno.remove(dir, { recursive: true });
}
