/**
 * Shared test helpers: run `roster` as a subprocess against a temporary data directory.
 * @module
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import assert from "node:assert/strict";
import { ConfigError } from "../src/errors.ts";

/** The repository root. */
export const REPO_ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** What a `roster` run printed and returned. */
export interface RosterResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link roster}. */
export interface RosterOptions {
  /** Written to stdin; when absent stdin is closed (`null`). */
  stdin?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory. @default REPO_ROOT */
  cwd?: string;
}

/** Runs `deno run -A main.ts <args>` in the repository and collects its output. */
export async function roster(
  args: readonly string[],
  options: RosterOptions = {},
): Promise<RosterResult> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", join(REPO_ROOT, "main.ts"), ...args],
    cwd: options.cwd ?? REPO_ROOT,
    env: { NO_COLOR: "1", ...(options.env ?? {}) },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = command.spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A temporary directory holding a data directory that does not exist yet. */
export interface TempDataDir extends AsyncDisposable {
  /** The temporary parent directory. */
  root: string;
  /** `<root>/data`: created by roster on first use. */
  dataDir: string;
  /** Runs roster with `--data-dir <dataDir>` first. */
  run(args: readonly string[], options?: RosterOptions): Promise<RosterResult>;
}

/** Creates a temporary data directory; dispose it (`await using`) to remove it. */
export async function tempDataDir(): Promise<TempDataDir> {
  const root = await Deno.makeTempDir({ prefix: "roster-test-" });
  const dataDir = join(root, "data");
  return {
    root,
    dataDir,
    run: (args, options) => roster(["--data-dir", dataDir, ...args], options),
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true });
    },
  };
}

/** Parses JSON output, failing with the raw text when it is not JSON. */
export function json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`not JSON: ${text}`);
  }
}

/** The permission bits of a file. */
export async function modeOf(path: string): Promise<number> {
  const info = await Deno.stat(path);
  return (info.mode ?? 0) & 0o777;
}

/** Creates the data directory (0700) with this `config.json`, as `roster config set` would. */
export async function seedConfig(dir: TempDataDir, config: unknown): Promise<void> {
  await Deno.mkdir(dir.dataDir, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(join(dir.dataDir, "config.json"), JSON.stringify(config, null, 2));
}

/** The LDIF test fixture's configuration (`tests/cli/testdata/ldif-config.json`). */
export async function ldifConfig(): Promise<unknown> {
  return JSON.parse(
    await Deno.readTextFile(join(REPO_ROOT, "tests", "cli", "testdata", "ldif-config.json")),
  );
}

/** Follows `path` through nested JSON objects, failing when a step is not an object. */
export function field(value: unknown, ...path: string[]): Record<string, unknown> {
  let node = value;
  for (const key of path) {
    if (typeof node !== "object" || node === null || Array.isArray(node)) {
      throw new Error(`not an object at ${key}`);
    }
    node = Object.entries(node).find(([name]) => name === key)?.[1];
  }
  if (typeof node !== "object" || node === null || Array.isArray(node)) {
    throw new Error(`not an object at ${path.join(".")}`);
  }
  return Object.fromEntries(Object.entries(node));
}

/** The ConfigError `fn` throws; fails the test when it returns or throws anything else. */
export function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected a ConfigError");
}

/**
 * The error of class `type` that `promise` rejects with; fails the test when it resolves, and
 * rethrows any other error.
 */
export async function fails<T extends Error>(
  promise: Promise<unknown>,
  type: new (...args: never[]) => T,
): Promise<T> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof type) return error;
    throw error;
  }
  throw new assert.AssertionError({ message: `expected a ${type.name}` });
}
