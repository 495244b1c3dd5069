import assert from "node:assert/strict";
import { join } from "node:path";
import { doc, syncEnv, users } from "./_sync_env.ts";

for (
  const [name, damage] of [
    ["truncated", async (path: string) => {
      const bytes = await Deno.readFile(path);
      await Deno.writeFile(path, bytes.subarray(0, 3000));
    }],
    ["garbage", async (path: string) => {
      await Deno.writeFile(path, new TextEncoder().encode("not a database at all\n".repeat(50)));
    }],
  ] as const
) {
  Deno.test(`a ${name} state.kv: exit 13 naming the file; status, config and test still work`, async () => {
    await using env = await syncEnv({ users: users(3) });
    await env.login();
    assert.equal((await env.run(["sync"])).code, 0);
    const state = join(env.dataDir, "state.kv");
    for (const extra of ["-wal", "-shm"]) {
      await Deno.remove(state + extra).catch(() => {});
    }
    await damage(state);
    const config = await Deno.readTextFile(join(env.dataDir, "config.json"));

    const sync = await env.run(["sync"]);
    assert.equal(sync.code, 13, sync.stderr);
    assert.match(sync.stderr, new RegExp(`error: The state store ${state} is damaged: `));
    assert.ok(
      sync.stderr.includes(
        `hint: Move it aside (mv ${state} ${state}.damaged, and any ${state}-wal and ${state}-shm next to it), then run roster login and set the secrets again`,
      ),
      sync.stderr,
    );
    assert.doesNotMatch(sync.stderr, /bug in roster/);
    assert.equal(env.imports().length, 1, "nothing sent");
    const json = await env.run(["sync", "--output", "json"]);
    assert.equal(json.code, 13);
    assert.equal(doc(json.stdout)["code"], "state_damaged");
    assert.equal((await env.run(["history"])).code, 13);

    const status = await env.run(["status", "--output", "json"]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stderr, /warning: The state store .* is damaged: .*Running without it/);
    const document = doc(status.stdout);
    assert.equal(doc(JSON.stringify(document["state"]))["path"], state);
    assert.match(String(doc(JSON.stringify(document["state"]))["damaged"]), /is damaged/);
    assert.equal(doc(JSON.stringify(document["auth"]))["loggedIn"], false);

    const list = await env.run(["config", "list"]);
    assert.equal(list.code, 0, list.stderr);
    const set = await env.run(["config", "set", "sync.maxRemovals", "12"]);
    assert.equal(set.code, 0, set.stderr);
    const saved = doc(await Deno.readTextFile(join(env.dataDir, "config.json")));
    assert.equal(doc(JSON.stringify(saved["sync"]))["maxRemovals"], 12);
    assert.deepEqual(
      doc(JSON.stringify(doc(config)["directory"])),
      doc(JSON.stringify(saved["directory"])),
      "the config is kept",
    );
    const secret = await env.run(["config", "set", "directory.ldap.password"], {
      stdin: "s3cret\n",
    });
    assert.equal(secret.code, 13, secret.stderr);
    assert.match(secret.stderr, /error: Cannot store the secret directory\.ldap\.password: /);

    const test = await env.run(["test", "--output", "json"]);
    assert.equal(test.code, 0, test.stderr);
    assert.equal(doc(JSON.stringify(doc(test.stdout)["summary"]))["users"], 3);

    // Moving it aside as the hint says gives a fresh store.
    await Deno.rename(state, `${state}.damaged`);
    assert.equal((await env.run(["status"])).code, 0);
    await env.login();
    assert.equal((await env.run(["sync"])).code, 0);
  });
}
