/**
 * What the cloud-source benchmarks (`scripts/bench_{entra,google,okta,onelogin}.ts`) share: the
 * fake in its own process (`scripts/fake_<type>.ts`, so the peak memory measured is roster's
 * alone) driven by one-line commands on its stdin, a data directory with the source's config and
 * secret, the measured `roster test --output json`, the latency bounds, and the JSON line.
 * Each bench keeps only what differs: its settings, its counters and its lower bound.
 * @module
 */

import { join } from "node:path";
import { measure, type Measurement, printJson, REPO } from "./_measure.ts";

export { median, printJson, REPO } from "./_measure.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A progress logger: each line goes to stderr behind `prefix`. */
export function progressLog(prefix: string): (line: string) => void {
  return (line) => Deno.stderr.writeSync(encoder.encode(`${prefix}${line}\n`));
}

/**
 * The number after `name` in `args` (e.g. `--users 2000`), or `fallback` when `name` is absent.
 * Throws a TypeError when the value is missing or not a number.
 */
export function numberOption(args: readonly string[], name: string, fallback: number): number {
  const index = args.indexOf(name);
  if (index === -1) return fallback;
  const text = args[index + 1];
  if (text === undefined || Number.isNaN(Number(text))) {
    throw new TypeError(`${name} needs a number`);
  }
  return Number(text);
}

/** A JSON object read from a fake, or an error naming what came instead. */
export function record(value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`not an object: ${JSON.stringify(value)}`);
  }
  return Object.fromEntries(Object.entries(value));
}

/** `value` when it is a number, else 0 (a counter the fake did not report). */
export const num = (value: unknown): number => typeof value === "number" ? value : 0;

/**
 * The child side (`scripts/fake_<type>.ts`): prints `hello` as one JSON line, then runs the
 * handler named by each line read on stdin and prints what it returns as one JSON line (nothing
 * when it returns `undefined`). `quit` or the end of input stops reading; `stop` runs last.
 */
export async function serveFake(
  hello: unknown,
  options: {
    commands: Record<string, () => unknown>;
    stop: () => unknown;
  },
): Promise<void> {
  printJson(hello);
  let buffer = "";
  reading: for await (const chunk of Deno.stdin.readable) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf("\n")) !== -1) {
      const command = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (command === "quit") break reading;
      const handler = options.commands[command];
      if (handler === undefined) continue;
      const answer = await handler();
      if (answer !== undefined) printJson(answer);
    }
  }
  await options.stop();
}

/** The parent's handle on a fake started by {@link startFake}. */
export interface FakeProcess {
  /** The fake's first line: its URLs and credentials. */
  hello: Record<string, unknown>;
  /** Sends a command that the fake answers with one JSON line, and returns that line. */
  ask(command: string): Promise<Record<string, unknown>>;
  /** Sends a command that the fake does not answer. */
  tell(command: string): Promise<void>;
  /** Sends `quit`, closes stdin and waits for the process to end. */
  stop(): Promise<void>;
}

/**
 * Starts `deno run -A scripts/<script> …args` and reads its first line. Throws when the
 * process ends before answering.
 */
export async function startFake(script: string, args: string[]): Promise<FakeProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(REPO, "scripts", script), ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.getReader();
  let buffer = "";
  const line = async (): Promise<Record<string, unknown>> => {
    for (;;) {
      const newline = buffer.indexOf("\n");
      if (newline !== -1) {
        const text = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        return record(JSON.parse(text));
      }
      const { value, done } = await reader.read();
      if (done) throw new Error(`the fake process (${script}) ended`);
      buffer += decoder.decode(value, { stream: true });
    }
  };
  const tell = (command: string) => writer.write(encoder.encode(`${command}\n`));
  const hello = await line();
  return {
    hello,
    tell,
    async ask(command) {
      await tell(command);
      return await line();
    },
    async stop() {
      await tell("quit").catch(() => {});
      await writer.close().catch(() => {});
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
      await child.status;
    },
  };
}

/** Runs `roster --data-dir <dataDir> …rest`; throws with roster's stderr when it fails. */
async function roster(dataDir: string, rest: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(REPO, "main.ts"), "--data-dir", dataDir, ...rest],
    cwd: REPO,
    env,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (output.code !== 0) {
    throw new Error(
      `roster ${rest.join(" ")} exited ${output.code}: ${decoder.decode(output.stderr)}`,
    );
  }
}

/**
 * Creates `dataDir` (mode 0700) with `config` as its config.json (mode 0600), and stores the
 * source's secret with `roster config set <secret.setting>`: from `secret.value` (passed through
 * an environment variable) or from the file `secret.file`.
 */
export async function writeDataDir(
  dataDir: string,
  options: {
    config: unknown;
    secret: { setting: string; value: string } | { setting: string; file: string };
  },
): Promise<void> {
  await Deno.mkdir(dataDir, { mode: 0o700, recursive: true });
  await Deno.writeTextFile(join(dataDir, "config.json"), JSON.stringify(options.config), {
    mode: 0o600,
  });
  const { secret } = options;
  if ("file" in secret) {
    await roster(dataDir, ["-q", "config", "set", secret.setting, "--secret-file", secret.file]);
  } else {
    await roster(dataDir, ["-q", "config", "set", secret.setting, "--secret-env", "BENCH_SECRET"], {
      BENCH_SECRET: secret.value,
    });
  }
}

/** Measures `roster --data-dir <dataDir> -q test --output json` (stdout discarded). */
export function measureRosterTest(dataDir: string): Promise<Measurement> {
  return measure(
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
    { cwd: REPO, env: { NO_COLOR: "1" } },
  );
}

/** Measures `roster --version` alone: loading the CLI, in seconds. */
export async function startupSeconds(): Promise<number> {
  const m = await measure([Deno.execPath(), "run", "-A", join(REPO, "main.ts"), "--version"], {
    cwd: REPO,
  });
  return m.wallMs / 1000;
}

/**
 * The latency bound in seconds: `requests` spread over `concurrency` requests in flight, each
 * taking `latencyMs` milliseconds.
 */
export function concurrencyBound(
  requests: number,
  options: { concurrency: number; latencyMs: number },
): number {
  return (requests / options.concurrency) * options.latencyMs / 1000;
}
