/**
 * Benchmark of `roster plan` and `roster sync` against the fake Bitwarden server with the
 * cloud's rate limits on: 10,000 users and 500 groups (roster's JSON export format),
 * `sync.largeImport` on so the import is sent in batches of 2000.
 *
 *     deno run -A scripts/bench_sync.ts [--users 10000] [--groups 500] [--populated-plan]
 *
 * Steps, each a `roster` subprocess: `login`, `plan` (empty organization), `sync` (first sync),
 * `sync` again (nothing changed: hash plus one member read), and with `--populated-plan` a
 * `plan` against the populated organization (one GET per group: slow under the GET budget).
 * Prints a JSON summary: wall time, requests by method and path, 429 answers, exit codes.
 * Only 127.0.0.1 is used.
 * @module
 */

import { join } from "node:path";
import { type FakeRequest, startFakeBitwarden } from "../tests/fakes/bitwarden.ts";

const args = [...Deno.args];
function option(name: string, fallback: number): number {
  const index = args.indexOf(name);
  if (index === -1) return fallback;
  const value = Number(args[index + 1]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} needs a whole number`);
  return value;
}
const USERS = option("--users", 10_000);
const GROUPS = option("--groups", 500);
const POPULATED_PLAN = args.includes("--populated-plan");

/** A deterministic pseudo-random generator (mulberry32), so every run has the same data. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The directory as JSON. `changed` is a day's churn: 1% of users deleted (removals within the
 * guard's 10% default) and 1% new users, who join the first groups.
 */
function directory(changed = false): string {
  const next = random(42);
  const churn = Math.floor(USERS / 100);
  const users: { id: string; email: string; name: string; deleted?: boolean }[] = Array.from(
    { length: USERS },
    (_, i) => ({
      id: `u${String(i).padStart(5, "0")}`,
      email: `user${String(i).padStart(5, "0")}@bench.example.com`,
      name: `User ${i}`,
      ...(changed && i < churn ? { deleted: true } : {}),
    }),
  );
  const groups = Array.from({ length: GROUPS }, (_, g) => {
    const size = 5 + Math.floor(next() * 60);
    const members = new Set<string>();
    while (members.size < Math.min(size, USERS)) {
      members.add(users[Math.floor(next() * USERS)]?.id ?? "u00000");
    }
    return { id: `g${String(g).padStart(4, "0")}`, name: `Group ${g}`, members: [...members] };
  });
  if (changed) {
    for (let i = 0; i < churn; i++) {
      const id = `n${String(i).padStart(5, "0")}`;
      users.push({ id, email: `new${String(i).padStart(5, "0")}@bench.example.com`, name: id });
      groups[i % Math.max(1, groups.length)]?.members.push(id);
    }
  }
  return JSON.stringify({ users, groups });
}

const root = await Deno.makeTempDir({ prefix: "roster-bench-sync-" });
const fake = await startFakeBitwarden({ rateLimits: true, layout: "hosts" });
try {
  const dataDir = join(root, "data");
  const directoryPath = join(root, "directory.json");
  await Deno.writeTextFile(directoryPath, directory());
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(
    join(dataDir, "config.json"),
    JSON.stringify({
      server: fake.serverConfig,
      directory: { type: "file", file: { path: directoryPath } },
      sync: { largeImport: true },
    }),
  );
  const main = new URL("../main.ts", import.meta.url).pathname;

  const step = async (name: string, rosterArgs: string[]) => {
    const from = fake.requests().length;
    const started = performance.now();
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", main, "--data-dir", dataDir, ...rosterArgs],
      env: { NO_COLOR: "1", ROSTER_CLIENT_SECRET: fake.credentials.clientSecret },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const wallMs = Math.round(performance.now() - started);
    const requests = fake.requests().slice(from);
    const decoder = new TextDecoder();
    const stderr = decoder.decode(output.stderr).trim();
    return {
      step: name,
      exitCode: output.code,
      wallMs,
      requests: requests.length,
      byRoute: byRoute(requests),
      rateLimited: requests.filter((r) => r.status === 429).length,
      ...(output.code === 0 ? {} : { stderr: stderr.split("\n").slice(-3) }),
      lastLine: decoder.decode(output.stdout).trim().split("\n").at(-1) ?? "",
    };
  };

  const steps = [];
  steps.push(await step("login", ["login", "--client-id", fake.credentials.clientId]));
  steps.push(await step("plan (empty organization)", ["plan"]));
  steps.push(await step("sync (first)", ["sync"]));
  steps.push(await step("sync (unchanged)", ["sync"]));
  await Deno.writeTextFile(directoryPath, directory(true));
  steps.push(await step("sync (1% of users left, 1% joined)", ["sync"]));
  if (POPULATED_PLAN) steps.push(await step("plan (populated organization)", ["plan"]));
  const state = fake.state();
  const summary = {
    object: "bench_sync",
    users: USERS,
    groups: GROUPS,
    rateLimits: "cloud (POST 5/s and 60/min, GET 200/min, token 10/min)",
    steps,
    organization: {
      members: state.members.length,
      groups: state.groups.length,
      memberships: state.groups.reduce((n, g) => n + g.memberIds.length, 0),
    },
    totalRateLimited: fake.requests().filter((r) => r.status === 429).length,
  };
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(summary, null, 2) + "\n"));
} finally {
  await fake.close();
  await Deno.remove(root, { recursive: true });
}

/** Requests counted by `METHOD path`, group ids replaced by `{id}`. */
function byRoute(requests: readonly FakeRequest[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of requests) {
    const path = r.path.replace(/\/groups\/[0-9a-f-]{36}\//, "/groups/{id}/");
    const key = `${r.method} ${path} ${r.status}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : 1)));
}
