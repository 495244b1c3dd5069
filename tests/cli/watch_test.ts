import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "../_helpers.ts";
import { doc, type SyncEnv, syncEnv, users } from "./_sync_env.ts";

/** Starts `roster` without waiting, so the test can watch its output and signal it. */
function spawn(env: SyncEnv, args: readonly string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", join(REPO_ROOT, "main.ts"), "--data-dir", env.dataDir, ...args],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1", ROSTER_CLIENT_SECRET: env.fake.credentials.clientSecret },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Collects a stream's text as it arrives. */
function collect(stream: ReadableStream<Uint8Array>): { text: () => string; done: Promise<void> } {
  let text = "";
  const decoder = new TextDecoder();
  const done = (async () => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  })();
  return { text: () => text, done };
}

Deno.test("sync --watch survives a failed run and converges on the next", async () => {
  await using env = await syncEnv({ users: users(2) });
  await env.login();
  const child = spawn(env, [
    "sync",
    "--watch",
    "--interval",
    "1s",
    "--max-runs",
    "3",
    "--output",
    "json",
  ]);
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  await waitFor(() => env.imports().length === 1, "the first import");
  // Between run 1 and run 2: the directory changes, and the server fails the next import.
  env.fake.failNext(1, "json500", { path: "/organization/import" });
  await env.writeDirectory(users(3));
  const status = await child.status;
  await Promise.all([stdout.done, stderr.done]);
  assert.equal(status.code, 0, stderr.text());

  const lines = stdout.text().trimEnd().split("\n").map(doc);
  assert.deepEqual(lines.map((l) => [l["run"], l["outcome"], l["exitCode"]]), [
    [1, "synced", 0],
    [2, "error", 9],
    [3, "synced", 0],
  ]);
  const runLines = stderr.text().split("\n").filter((l) => / run \d: /.test(l));
  assert.equal(runLines.length, 3, stderr.text());
  assert.match(runLines[0] ?? "", /run 1: synced: 2 members .*; next run in 1 s$/);
  assert.match(
    runLines[1] ?? "",
    /run 2: failed, exit 9: Bitwarden rejected the import: An unhandled server error has occurred; retrying in 1 s \(failure 1 in a row\)$/,
  );
  assert.match(runLines[2] ?? "", /run 3: synced: 3 members /);
  assert.deepEqual(env.imports().map((r) => r.status), [200, 500, 200]);
  assert.deepEqual(env.emails(), [
    "owner@example.com",
    "user01@example.com",
    "user02@example.com",
    "user03@example.com",
  ]);
  const after = doc((await env.run(["status", "--output", "json"])).stdout);
  assert.equal(after["lock"], null);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`daemon stops cleanly on ${signal} and releases the lock`, async () => {
    await using env = await syncEnv({ users: users(2) });
    await env.login();
    const child = spawn(env, ["daemon", "--interval", "1s"]);
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    await waitFor(() => / run 1: /.test(stderr.text()), "the first run");
    child.kill(signal);
    const status = await child.status;
    await Promise.all([stdout.done, stderr.done]);
    assert.equal(status.code, 0, stderr.text());
    assert.match(stderr.text(), /Stopping: a signal was received/);
    assert.match(stderr.text(), /Stopped after \d+ runs? \(0 failed\) on a signal\n$/);
    const after = doc((await env.run(["status", "--output", "json"])).stdout);
    assert.equal(after["lock"], null);
  });
}
