import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "../_helpers.ts";
import { openStateStore } from "../../src/state/store.ts";
import { doc, syncEnv } from "./_sync_env.ts";

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`sync stopped by ${signal}: exit 130, recorded in the history, lock released`, async () => {
    await using env = await syncEnv();
    await env.login();
    // A named pipe: the read blocks until the test writes to it, so the signal arrives while
    // the run holds the lock.
    const fifo = join(env.root, "directory.fifo");
    const mkfifo = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.equal(mkfifo.code, 0);
    await env.writeConfig({ directory: { type: "file", file: { path: fifo, format: "json" } } });
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", join(REPO_ROOT, "main.ts"), "--data-dir", env.dataDir, "sync"],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    for (;;) {
      const status = doc((await env.run(["status", "--output", "json"])).stdout);
      if (status["lock"] !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill(signal);
    const output = await child.output();
    assert.equal(output.code, 130);
    assert.match(
      new TextDecoder().decode(output.stderr),
      new RegExp(`error: Stopped by ${signal}: the run was interrupted\\n`),
    );
    const status = doc((await env.run(["status", "--output", "json"])).stdout);
    assert.equal(status["lock"], null, "the lock was released");
    const runs = doc((await env.run(["history", "--output", "json"])).stdout)["runs"];
    assert.ok(Array.isArray(runs));
    const last = doc(JSON.stringify(runs[0]));
    assert.equal(last["command"], "sync");
    assert.equal(last["outcome"], "error");
    assert.equal(last["exitCode"], 130);
    assert.equal(last["error"], `Stopped by ${signal}: the run was interrupted`);
    assert.equal(env.imports().length, 0);
  });
}

Deno.test("status says when the lock's holder process is gone", async () => {
  await using env = await syncEnv();
  const done = new Deno.Command("true").spawn();
  await done.status;
  const store = await openStateStore(join(env.dataDir, "state.kv"));
  try {
    const taken = await store.acquireLock(
      { pid: done.pid, host: Deno.hostname(), command: "sync" },
      60_000,
    );
    assert.ok(taken.acquired);
  } finally {
    store.close();
  }
  const json = doc((await env.run(["status", "--output", "json"])).stdout);
  assert.equal(doc(JSON.stringify(json["lock"]))["holderGone"], true);
  const table = await env.run(["status"]);
  assert.match(
    table.stdout.replace(/\s+/g, " "),
    new RegExp(
      `lock sync \\(pid ${done.pid} on .*\\) until .* \\(its process is gone: the next run takes it over\\)`,
    ),
  );
});
