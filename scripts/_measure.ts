/**
 * What every benchmark shares: measuring a command's wall time, CPU time and peak resident
 * memory ({@link measure}), the median run ({@link median}), roster's bundle built once per
 * benchmark run ({@link buildBundle}), and the JSON line a case prints ({@link printJson}).
 *
 * Peak memory and CPU time come from GNU time (`/usr/bin/time -f "%M %U %S"`) when present;
 * without it, peak memory comes from polling the child's `VmHWM` in `/proc` (Linux), the
 * kernel's own high-water mark, and CPU time is not measured (0). CPU time (user + system) is
 * what a busy machine disturbs least, so the benchmarks report it beside wall time.
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { V8_FLAGS } from "./_v8_flags.ts";

/** The repository root, with a trailing slash. */
export const REPO = fileURLToPath(new URL("..", import.meta.url));

const encoder = new TextEncoder();

/** Writes `value` as one JSON line on stdout (a bench's result, a fake's answer). */
export function printJson(value: unknown): void {
  Deno.stdout.writeSync(encoder.encode(`${JSON.stringify(value)}\n`));
}

/** The middle item of `items` by `key` (the upper middle for an even count). */
export function median<T>(items: readonly T[], key: (item: T) => number): T {
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  const middle = sorted[Math.floor(sorted.length / 2)];
  if (middle === undefined) throw new RangeError("Cannot take the median of no runs");
  return middle;
}

/** Mebibytes (what GNU time and `/proc` report, in KiB) as megabytes (10^6 bytes). */
export function megabytes(mebibytes: number): number {
  return Math.round(mebibytes * 1.048576);
}

/** The medians of a command's runs, for a case's JSON line. */
export interface Summary {
  /** Median wall time in seconds. */
  wallSeconds: number;
  /** Median user + system CPU time in seconds (0 without GNU time). */
  cpuSeconds: number;
  /** Median peak resident set size in megabytes (10^6 bytes). */
  peakRssMB: number;
  /** The exit code of the median run (by wall time). */
  exitCode: number;
  /** The median run's last stderr lines, when it failed. */
  stderr?: string;
}

/** The medians of `runs` (wall time, CPU time and peak RSS each taken separately). */
export function summarize(runs: readonly Measurement[]): Summary {
  const byWall = median(runs, (r) => r.wallMs);
  return {
    wallSeconds: +(byWall.wallMs / 1000).toFixed(3),
    cpuSeconds: +(median(runs, (r) => r.cpuMs).cpuMs / 1000).toFixed(3),
    peakRssMB: megabytes(median(runs, (r) => r.peakRssMiB).peakRssMiB),
    exitCode: byWall.code,
    ...(byWall.code === 0 ? {} : { stderr: byWall.stderrTail }),
  };
}

/** A case's target: roster at most `ratio` times its floor, and at most `peakRssMB` at peak. */
export interface Target {
  /** The largest ratio of roster's median wall time to the floor's. */
  ratio: number;
  /** The largest median peak RSS in megabytes (10^6 bytes), when the target bounds it. */
  peakRssMB?: number;
}

/**
 * The verdict part of a case's JSON line: the ratio (roster's median wall time over the
 * floor's), the target, and whether each bound holds; `holds` is true when every bound holds
 * and roster exited 0.
 */
export function verdict(
  roster: Summary,
  options: { floorSeconds: number; target: Target },
): { ratio: number; target: Target; holds: boolean; ratioHolds: boolean; peakRssHolds?: boolean } {
  const { floorSeconds, target } = options;
  const ratio = +(roster.wallSeconds / floorSeconds).toFixed(2);
  const ratioHolds = ratio <= target.ratio;
  const peakRssHolds = target.peakRssMB === undefined
    ? undefined
    : roster.peakRssMB <= target.peakRssMB;
  return {
    ratio,
    target,
    holds: roster.exitCode === 0 && ratioHolds && peakRssHolds !== false,
    ratioHolds,
    ...(peakRssHolds === undefined ? {} : { peakRssHolds }),
  };
}

/** roster as one JavaScript file, the way it ships (see {@link buildBundle}). */
export interface Bundle {
  /** The temporary directory holding `roster.js`; commands run with it as working directory. */
  dir: string;
  /** The command that runs roster from the bundle, without roster's own arguments. */
  command: readonly string[];
  /** Deletes the temporary directory. */
  remove(): Promise<void>;
}

/**
 * Bundles `<source>/main.ts` with `deno bundle --platform deno` into a new temporary
 * directory, outside any checkout (so no `deno.json` applies), and returns how to run it the
 * way the README says: `deno run -A --unstable-kv --v8-flags=<V8_FLAGS> <dir>/roster.js`, with
 * roster's V8 flags (`_v8_flags.ts`: a young generation capped for Deno's V8, which has no
 * pointer compression; the release binary has them built in). `source` is the checkout to bundle (default:
 * this repository); pointing it at another checkout measures that version. Throws with
 * `deno bundle`'s stderr when bundling fails.
 */
export async function buildBundle(source: string = REPO): Promise<Bundle> {
  const dir = await Deno.makeTempDir({ prefix: "roster-bench-bundle-" });
  const file = join(dir, "roster.js");
  const built = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "-o", file, "main.ts"],
    cwd: source,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!built.success) {
    await Deno.remove(dir, { recursive: true });
    throw new Error(`deno bundle failed in ${source}: ${new TextDecoder().decode(built.stderr)}`);
  }
  return {
    dir,
    command: [Deno.execPath(), "run", "-A", "--unstable-kv", `--v8-flags=${V8_FLAGS}`, file],
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}

/** What one measured run gives. */
export interface Measurement {
  /** Wall-clock time in milliseconds. */
  wallMs: number;
  /** Peak resident set size in MiB (including child processes for GNU time). */
  peakRssMiB: number;
  /** User + system CPU time in milliseconds (0 without GNU time). */
  cpuMs: number;
  /** Exit code of the command. */
  code: number;
  /** Bytes the command wrote to stdout (0 unless `countStdout` or `onStdout`). */
  stdoutBytes: number;
  /** The last lines the command wrote to stderr. */
  stderrTail: string;
}

/** Options for {@link measure}. */
export interface MeasureOptions {
  /** Working directory. */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /**
   * Reads stdout through a pipe and counts its bytes. Without it (or `onStdout`), stdout goes
   * to `/dev/null`: reading a large output through a pipe slows the command down (ldapsearch's
   * 40 MB of users take up to twice as long), so measured runs discard it and a separate run
   * checks what the command prints. @default false
   */
  countStdout?: boolean;
  /** Sees each chunk of stdout (implies `countStdout`). */
  onStdout?: (chunk: Uint8Array) => void;
}

async function hasGnuTime(): Promise<boolean> {
  try {
    await Deno.stat("/usr/bin/time");
    return true;
  } catch {
    return false;
  }
}

async function drain(
  stream: ReadableStream<Uint8Array>,
  onChunk?: (chunk: Uint8Array) => void,
): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) {
    bytes += chunk.byteLength;
    onChunk?.(chunk);
  }
  return bytes;
}

async function tail(stream: ReadableStream<Uint8Array>, lines: number): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    text = (text + decoder.decode(chunk, { stream: true })).slice(-16384);
  }
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Runs `command args…` and measures it (stdout: see {@link MeasureOptions.countStdout}). */
export async function measure(
  command: string[],
  options: MeasureOptions = {},
): Promise<Measurement> {
  const [program, ...args] = command;
  if (program === undefined) throw new TypeError("Cannot measure: the command is empty");
  const gnu = await hasGnuTime();
  const piped = options.countStdout === true || options.onStdout !== undefined;
  const statsFile = await Deno.makeTempFile({ prefix: "roster-measure-" });
  const argv = gnu ? ["-f", "%M %U %S", "-o", statsFile, program, ...args] : args;
  const started = performance.now();
  const child = new Deno.Command(gnu ? "/usr/bin/time" : program, {
    args: argv,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
    stdout: piped ? "piped" : "null",
    stderr: "piped",
  }).spawn();
  let polledKiB = 0;
  const poll = gnu ? undefined : setInterval(() => {
    try {
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      const match = /VmHWM:\s+(\d+) kB/.exec(status);
      if (match?.[1]) polledKiB = Math.max(polledKiB, Number(match[1]));
    } catch {
      // the process has exited
    }
  }, 20);
  const [stdoutBytes, stderrTail] = await Promise.all([
    piped ? drain(child.stdout, options.onStdout) : 0,
    tail(child.stderr, 5),
  ]);
  const { code } = await child.status;
  const wallMs = performance.now() - started;
  if (poll !== undefined) clearInterval(poll);
  let peakKiB = polledKiB;
  let cpuMs = 0;
  if (gnu) {
    const text = (await Deno.readTextFile(statsFile)).trim().split("\n").pop() ?? "0";
    const [rss = "0", user = "0", system = "0"] = text.split(" ");
    peakKiB = Number(rss) || 0;
    cpuMs = Math.round(((Number(user) || 0) + (Number(system) || 0)) * 1000);
  }
  await Deno.remove(statsFile);
  return { wallMs, peakRssMiB: peakKiB / 1024, cpuMs, code, stdoutBytes, stderrTail };
}
