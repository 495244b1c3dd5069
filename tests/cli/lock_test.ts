import assert from "node:assert/strict";
import { doc, syncEnv, users } from "./_sync_env.ts";

Deno.test("two syncs started at once never both send: one exits 12 naming the holder", async () => {
  await using env = await syncEnv({ users: users(3) });
  await env.login();
  // Hold up the lock holder's token request so both runs overlap.
  env.fake.failNext(1, "slow", { path: "/connect/token", ms: 3000 });
  const [a, b] = await Promise.all([env.run(["sync"]), env.run(["sync"])]);
  const codes = [a.code, b.code].sort((x, y) => x - y);
  assert.deepEqual(codes, [0, 12], `${a.stderr}\n---\n${b.stderr}`);
  const refused = a.code === 12 ? a : b;
  assert.match(
    refused.stderr,
    /^error: Cannot start: another roster run holds the lock on .*: sync \(pid \d+ on .+\) since \d{4}-\d\d-\d\dT[^ ]+, until \d{4}-\d\d-\d\dT[^ ]+ unless renewed\n/,
  );
  assert.match(
    refused.stderr,
    /hint: Wait for that run to finish \(roster status shows the lock\)/,
  );
  assert.equal(env.imports().length, 1, "exactly one import was sent");
  assert.equal(env.fake.state().members.length, 4);
  const status = doc((await env.run(["status", "--output", "json"])).stdout);
  assert.equal(status["lock"], null, "the winner released the lock");
  const history = doc((await env.run(["history", "--output", "json"])).stdout)["runs"];
  assert.ok(Array.isArray(history));
  const exits = history.map((r) => doc(JSON.stringify(r))["exitCode"]).sort();
  assert.deepEqual(exits, [0, 12]);
});

Deno.test("sync runs started at the same instant: each exits 0 or 12 naming the holder, never 1", async () => {
  await using env = await syncEnv({ users: users(30) });
  await env.login();
  const results = await Promise.all(Array.from({ length: 6 }, () => env.run(["sync"])));
  const codes = results.map((r) => r.code).sort();
  assert.ok(codes.every((code) => code === 0 || code === 12), JSON.stringify(results));
  assert.ok(codes.includes(0));
  for (const result of results.filter((r) => r.code === 12)) {
    assert.match(
      result.stderr,
      /^error: Cannot start: another roster run holds the lock on .*: sync \(pid \d+ on .*\) since /,
    );
  }
  for (const result of results) assert.doesNotMatch(result.stderr, /database is locked|bug/);
  const history = doc((await env.run(["history", "--output", "json"])).stdout)["runs"];
  assert.ok(Array.isArray(history));
  assert.equal(history.length, 6, "every run is recorded");
});
