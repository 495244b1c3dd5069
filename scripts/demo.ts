/**
 * `deno task demo`: `roster test` on the built-in demo directory (`demo/`), in a throwaway
 * data directory. Extra arguments are passed to `roster test` (e.g. `--output json`).
 *
 * Works from any working directory: paths in `demo/config.json` are resolved against the
 * repository root.
 * @module
 */

import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../main.ts";
import { dataPaths, ensureDataDir } from "../src/config/paths.ts";
import { getStored, readStoredConfig, saveConfig, setStored } from "../src/config/store.ts";
import { PATH_SETTINGS } from "../src/commands/config.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const temporary = await Deno.makeTempDir({ prefix: "roster-demo-" });
try {
  const dataDir = join(temporary, "data");
  await ensureDataDir(dataDir);
  let stored = await readStoredConfig(join(root, "demo", "config.json"));
  for (const key of PATH_SETTINGS) {
    const value = getStored(stored, key);
    if (typeof value === "string" && !isAbsolute(value)) {
      stored = setStored(stored, key, resolve(root, value));
    }
  }
  await saveConfig(dataPaths(dataDir).config, stored);
  Deno.exitCode = await main(["--data-dir", dataDir, "test", ...Deno.args]);
} finally {
  await Deno.remove(temporary, { recursive: true });
}
