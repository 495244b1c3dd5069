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
 * The fake runs in a child process (this script with `--serve`), so the peak memory measured is
 * roster's alone; the child prints its URL, answers `counters` on stdin with its request
 * counters, refills the budget on `refill`, and exits on `close`. OneLogin has no nested roles, so none are nested.
 *
 * Lower bound: the calls a read needs at the largest page size (100: users pages, role listing
 * pages, and each role's member pages) divided by the concurrency roster allows itself (4), times
 * the latency. The hourly budget bounds a read only when it needs more calls than the budget
 * (then each further 5,000 calls cost an hour); the summary says whether it did. Prints one JSON
 * line; progress goes to stderr. Only 127.0.0.1 is used.
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateOneLoginAccount, startFakeOneLogin } from "../tests/fakes/onelogin.ts";
import { measure } from "./_measure.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CONCURRENCY = 4;
const PAGE = 100;
const HOURLY_LIMIT = 5000;

interface Options {
  users: number;
  roles: number;
  latency: number;
  runs: number;
  serve: boolean;
}

function parseArgs(args: string[]): Options {
  const o: Options = { users: 10_000, roles: 1_000, latency: 50, runs: 1, serve: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--serve") {
      o.serve = true;
      continue;
    }
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

function progress(text: string): void {
  Deno.stderr.writeSync(encoder.encode(`bench_onelogin: ${text}\n`));
}

/** The child: serves the fake until `close` arrives on stdin. */
async function serve(o: Options): Promise<void> {
  const fake = startFakeOneLogin({
    ...generateOneLoginAccount({ users: o.users, roles: o.roles, seed: 42 }),
    latencyMs: o.latency,
    rateLimit: HOURLY_LIMIT,
  });
  const say = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));
  say(JSON.stringify({ url: fake.apiUrl, clientId: fake.clientId, secret: fake.clientSecret }));
  let buffer = "";
  for await (const chunk of Deno.stdin.readable) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline;
    while ((newline = buffer.indexOf("\n")) !== -1) {
      const command = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (command === "counters") say(JSON.stringify(fake.counters()));
      if (command === "refill") {
        fake.setRemaining(HOURLY_LIMIT);
        say("{}");
      }
      if (command === "close") {
        await fake.close();
        return;
      }
    }
  }
  await fake.close();
}

/** Reads JSON lines from the child's stdout. */
class Lines {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buffer = "";
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }
  async next(): Promise<Record<string, unknown>> {
    for (;;) {
      const newline = this.#buffer.indexOf("\n");
      if (newline !== -1) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        return JSON.parse(line);
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("the fake OneLogin process ended");
      this.#buffer += decoder.decode(value, { stream: true });
    }
  }
}

/** The calls a full read needs at 100 items a page, from the generated account. */
function callsNeeded(o: Options): number {
  const { users, roles } = generateOneLoginAccount({ users: o.users, roles: o.roles, seed: 42 });
  const pages = (n: number) => Math.max(1, Math.ceil(n / PAGE));
  return pages(users.length) + pages(roles.length) +
    roles.reduce((sum, role) => sum + pages(role.users?.length ?? 0), 0);
}

async function main(): Promise<void> {
  const o = parseArgs(Deno.args);
  if (o.serve) return await serve(o);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      fileURLToPath(import.meta.url),
      "--serve",
      "--users",
      String(o.users),
      "--roles",
      String(o.roles),
      "--latency",
      String(o.latency),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const lines = new Lines(child.stdout);
  const tmp = await Deno.makeTempDir({ prefix: "roster-bench-onelogin-" });
  try {
    const fake = await lines.next();
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
      await Deno.mkdir(dataDir, { mode: 0o700 });
      const config = {
        directory: {
          type: "onelogin",
          onelogin: { clientId: fake["clientId"], apiUrl: fake["url"] },
        },
      };
      await Deno.writeTextFile(join(dataDir, "config.json"), JSON.stringify(config), {
        mode: 0o600,
      });
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
          "directory.onelogin.clientSecret",
          "--secret-env",
          "OL_SECRET",
        ],
        env: { OL_SECRET: String(fake["secret"]) },
        stdout: "null",
        stderr: "inherit",
      }).output();
      if (set.code !== 0) throw new Error("config set failed");
      // Each run starts with the whole hourly budget, as a first read of the hour would.
      await writer.write(encoder.encode("refill\n"));
      await lines.next();
      progress(`run ${run + 1}: roster test on ${o.users} users, ${o.roles} roles`);
      const result = await measure([
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
      ], { cwd: REPO });
      if (result.code !== 0) progress(`roster exited ${result.code}: ${result.stderrTail}`);
      await writer.write(encoder.encode("counters\n"));
      const counters = await lines.next();
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
    runs.sort((a, b) => a.wallMs - b.wallMs);
    const median = runs[Math.floor(runs.length / 2)];
    if (median === undefined) throw new Error("no run");
    const lowerBoundSeconds = (needed / CONCURRENCY) * (o.latency / 1000);
    const wallSeconds = median.wallMs / 1000;
    Deno.stdout.writeSync(encoder.encode(
      JSON.stringify({
        case: "onelogin",
        users: o.users,
        groups: o.roles,
        wallSeconds: +wallSeconds.toFixed(2),
        requests: median.requests,
        throttled: median.throttled,
        peakRssMiB: Math.round(median.peakRssMiB),
        lowerBoundSeconds: +lowerBoundSeconds.toFixed(2),
        ratio: +(wallSeconds / lowerBoundSeconds).toFixed(2),
        callsNeeded: needed,
        peakConcurrency: median.peakConcurrency,
        hourlyLimit: HOURLY_LIMIT,
        budgetBinds: needed > HOURLY_LIMIT,
        exitCode: median.code,
        runs: runs.map((r) => +(r.wallMs / 1000).toFixed(2)),
      }) + "\n",
    ));
  } finally {
    await writer.write(encoder.encode("close\n")).catch(() => {});
    await writer.close().catch(() => {});
    await child.status;
    await Deno.remove(tmp, { recursive: true });
  }
}

await main();
