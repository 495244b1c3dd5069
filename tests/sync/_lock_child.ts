/**
 * A process for the concurrent-lock test: opens a state file, writes `<dir>/ready-<pid>`, waits
 * for `<dir>/go`, then takes the run lock, says `held` on stdout and keeps it until
 * `<dir>/release` exists; a refused run prints its error as JSON and exits with its code (12);
 * any other error exits 1.
 *
 * `deno run -A tests/sync/_lock_child.ts <state.kv> <dir>`
 * @module
 */

import { RosterError } from "../../src/errors.ts";
import { openStateStore } from "../../src/state/store.ts";
import { withLock } from "../../src/sync/lock.ts";

const [state, dir] = Deno.args;
if (state === undefined || dir === undefined) Deno.exit(2);
const release = `${dir}/release`;

async function waitFor(path: string): Promise<void> {
  for (;;) {
    try {
      await Deno.stat(path);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

let code = 0;
try {
  const store = await openStateStore(state);
  await Deno.writeTextFile(`${dir}/ready-${Deno.pid}`, "");
  await waitFor(`${dir}/go`);
  try {
    await withLock(store, "/data", { command: "sync" }, async () => {
      await Deno.stdout.write(new TextEncoder().encode("held\n"));
      await waitFor(release);
    });
  } finally {
    store.close();
  }
} catch (error) {
  code = error instanceof RosterError ? error.exitCode : 1;
  const message = error instanceof Error ? error.message : String(error);
  await Deno.stdout.write(new TextEncoder().encode(JSON.stringify({ code, message }) + "\n"));
}
Deno.exit(code);
