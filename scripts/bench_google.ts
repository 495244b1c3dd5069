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
 * the latency; and the requests divided by 40 a second (2,400 a minute spread evenly). Prints
 * one JSON line on stdout: `{case, users, groups, wallSeconds, requests, throttled, peakRssMiB,
 * lowerBoundSeconds, ratio, …}`; progress goes to stderr.
 *
 * `--serve` runs the fake itself (the child process): it prints the fake's URLs, admin and key
 * file as one JSON line, answers each `counters` line on stdin with the fake's counters, and
 * stops when stdin closes.
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateGoogleDirectory, startFakeGoogle } from "../tests/fakes/google.ts";
import { measure } from "./_measure.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const encoder = new TextEncoder();
const LATENCY_MS = 50;
const MAX_CONCURRENT = 20;
const QUOTA_PER_MINUTE = 2400;

interface Options {
  users: number;
  groups: number;
  runs: number;
  serve: boolean;
}

function parseArgs(args: string[]): Options {
  const o: Options = { users: 10_000, groups: 1_000, runs: 1, serve: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--serve") {
      o.serve = true;
      continue;
    }
    const value = Number(args[++i]);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${arg} needs a whole number`);
    if (arg === "--users") o.users = value;
    else if (arg === "--groups") o.groups = value;
    else if (arg === "--runs") o.runs = value;
    else throw new Error(`unknown argument ${arg}`);
  }
  return o;
}

function progress(text: string): void {
  Deno.stderr.writeSync(encoder.encode(`bench_google: ${text}\n`));
}

function directory(o: Options) {
  return generateGoogleDirectory({ users: o.users, groups: o.groups, nestedFraction: 0.1 });
}

/** The requests a read needs at the largest page sizes, token included. */
function minimalRequests(o: Options): number {
  const dir = directory(o);
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

async function serve(o: Options): Promise<void> {
  const fake = await startFakeGoogle({
    directory: directory(o),
    latencyMs: LATENCY_MS,
    maxConcurrent: MAX_CONCURRENT,
    userQuotaPerMinute: QUOTA_PER_MINUTE,
  });
  const line = (value: unknown) =>
    Deno.stdout.writeSync(encoder.encode(JSON.stringify(value) + "\n"));
  line({
    url: fake.url,
    tokenUrl: fake.tokenUrl,
    adminUser: fake.adminUser,
    keyFile: fake.serviceAccount.keyFile,
  });
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of Deno.stdin.readable) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline = buffered.indexOf("\n");
    while (newline !== -1) {
      if (buffered.slice(0, newline).trim() === "counters") line(fake.counters());
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf("\n");
    }
  }
  await fake.stop();
}

/** Reads lines from the fake's stdout. */
function lineReader(stream: ReadableStream<Uint8Array>): () => Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  return async () => {
    for (;;) {
      const newline = buffered.indexOf("\n");
      if (newline !== -1) {
        const text = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        return text;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error("the fake stopped");
      buffered += value;
    }
  };
}

interface Counters {
  requests: number;
  apiRequests: number;
  tokenRequests: number;
  throttled: number;
  peakConcurrency: number;
}

async function run(o: Options): Promise<void> {
  progress(`generating ${o.users} users and ${o.groups} groups; starting the fake`);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      fileURLToPath(import.meta.url),
      "--serve",
      "--users",
      String(o.users),
      "--groups",
      String(o.groups),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const readLine = lineReader(child.stdout);
  const writer = child.stdin.getWriter();
  const counters = async (): Promise<Counters> => {
    await writer.write(encoder.encode("counters\n"));
    return JSON.parse(await readLine());
  };
  const dir = await Deno.makeTempDir({ prefix: "roster-bench-google-" });
  try {
    const fake = JSON.parse(await readLine());
    const dataDir = join(dir, "data");
    await Deno.mkdir(dataDir, { mode: 0o700 });
    await Deno.writeTextFile(
      join(dataDir, "config.json"),
      JSON.stringify({
        directory: {
          type: "google",
          google: { adminUser: fake.adminUser, apiUrl: fake.url, tokenUrl: fake.tokenUrl },
        },
      }),
      { mode: 0o600 },
    );
    const keyPath = join(dir, "key.json");
    await Deno.writeTextFile(keyPath, fake.keyFile, { mode: 0o600 });
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
        "directory.google.privateKey",
        "--secret-file",
        keyPath,
      ],
      cwd: REPO,
      stdout: "null",
      stderr: "inherit",
    }).output();
    if (set.code !== 0) throw new Error("config set directory.google.privateKey failed");

    const minimal = minimalRequests(o);
    const concurrencyBound = minimal / MAX_CONCURRENT * LATENCY_MS / 1000;
    const quotaBound = minimal / (QUOTA_PER_MINUTE / 60);
    const lowerBound = Math.max(concurrencyBound, quotaBound);
    for (let i = 0; i < o.runs; i++) {
      const before = await counters();
      progress(`run ${i + 1} of ${o.runs}: roster test --output json`);
      const result = await measure(
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
        { cwd: REPO },
      );
      const after = await counters();
      if (result.code !== 0) progress(`roster exited ${result.code}: ${result.stderrTail}`);
      const wallSeconds = result.wallMs / 1000;
      Deno.stdout.writeSync(encoder.encode(
        JSON.stringify({
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
          concurrencyBoundSeconds: +concurrencyBound.toFixed(2),
          quotaBoundSeconds: +quotaBound.toFixed(2),
          lowerBoundSeconds: +lowerBound.toFixed(2),
          ratio: +(wallSeconds / lowerBound).toFixed(2),
          exitCode: result.code,
        }) + "\n",
      ));
    }
  } finally {
    await writer.close().catch(() => {});
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

const options = parseArgs(Deno.args);
if (options.serve) await serve(options);
else await run(options);
