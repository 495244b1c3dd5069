/**
 * Where roster keeps its files: the data directory and what is inside it.
 *
 * Resolution order: `--data-dir`, then `ROSTER_DATA_DIR`, then `$XDG_CONFIG_HOME/roster`, then
 * `~/.config/roster`. The directory is created with mode 0700.
 * @module
 */

import { isAbsolute, join, resolve } from "node:path";
import { UsageError } from "../errors.ts";
import type { Io } from "../output/render.ts";

/** The files of a data directory. */
export interface DataPaths {
  /** The data directory itself. */
  dir: string;
  /** `config.json`: the settings, without secrets (mode 0600). */
  config: string;
  /** `state.kv`: the Deno KV state store (secrets, sync times, history, lock; mode 0600). */
  state: string;
}

/** Returns the paths of the files in a data directory. */
export function dataPaths(dir: string): DataPaths {
  return { dir, config: join(dir, "config.json"), state: join(dir, "state.kv") };
}

/**
 * Resolves the data directory from `--data-dir` (`flag`), `ROSTER_DATA_DIR`,
 * `XDG_CONFIG_HOME` or `HOME`, as an absolute path.
 */
export function resolveDataDir(flag: string | undefined, io: Io): string {
  const cwd = io.cwd();
  const chosen = nonEmpty(flag) ?? nonEmpty(io.env("ROSTER_DATA_DIR"));
  if (chosen !== undefined) return isAbsolute(chosen) ? chosen : resolve(cwd, chosen);
  const xdg = nonEmpty(io.env("XDG_CONFIG_HOME"));
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, "roster");
  const home = nonEmpty(io.env("HOME")) ?? nonEmpty(io.env("USERPROFILE"));
  if (home === undefined) {
    throw new UsageError("Cannot choose a data directory: HOME is not set", {
      hint: "Pass --data-dir DIR or set ROSTER_DATA_DIR",
    });
  }
  return join(home, ".config", "roster");
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

/**
 * Creates the data directory with mode 0700 when it does not exist. An existing directory is
 * left as it is; the returned warning says when other users can read it.
 */
export async function ensureDataDir(dir: string): Promise<string | undefined> {
  try {
    const info = await Deno.stat(dir);
    if (!info.isDirectory) {
      throw new UsageError(`Cannot use the data directory ${dir}: it is not a directory`, {
        hint: "Pass --data-dir DIR with a directory path",
      });
    }
    const mode = info.mode;
    if (mode !== null && (mode & 0o077) !== 0 && Deno.build.os !== "windows") {
      return `The data directory ${dir} is accessible to other users (mode ${
        (mode & 0o777).toString(8)
      }): run chmod 700 ${dir}`;
    }
    return undefined;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  if (Deno.build.os !== "windows") await Deno.chmod(dir, 0o700);
  return undefined;
}
