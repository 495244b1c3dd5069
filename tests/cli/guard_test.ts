import assert from "node:assert/strict";
import { join } from "node:path";
import { doc, syncEnv, users } from "./_sync_env.ts";

Deno.test("sync refuses removals beyond the guard (exit 4, nothing sent) until --allow-removals", async () => {
  await using env = await syncEnv({ users: users(12) });
  await env.login();
  assert.equal((await env.run(["sync"])).code, 0);
  assert.equal(env.fake.state().members.length, 13);

  // 11 users deleted in the directory: the limit is max(10, 10% of 13) = 10.
  const deleted = users(12).map((u, i) => (i < 11 ? { ...u, deleted: true } : u));
  await env.writeDirectory(deleted);
  const refused = await env.run(["sync"]);
  assert.equal(refused.code, 4, refused.stderr);
  assert.match(
    refused.stderr,
    /\nerror: Deletion guard refused the sync: it would remove 11 members, more than the limit of 10 \(sync\.maxRemovals 10, or sync\.maxRemovalsPercent 10% of 13 members\)\n/,
  );
  for (const user of users(11)) {
    assert.ok(
      refused.stderr.includes(
        `  - ${user.email} (externalId ${user.id}): deleted in the directory\n`,
      ),
      `${user.email} is listed`,
    );
  }
  assert.match(refused.stderr, /hint: Nothing was sent\. .*roster sync --allow-removals 11 once/);
  assert.equal(env.imports().length, 1, "nothing sent");
  assert.equal(env.fake.state().members.length, 13);

  const json = await env.run(["sync", "--output", "json"]);
  assert.equal(json.code, 4);
  const error = doc(json.stdout);
  assert.equal(error["code"], "removal_guard");
  const details = doc(JSON.stringify(error["details"]));
  assert.equal(details["count"], 11);
  assert.equal(details["limit"], 10);

  const tooFew = await env.run(["sync", "--allow-removals", "5"]);
  assert.equal(tooFew.code, 4);
  assert.match(tooFew.stderr, /more than the 5 allowed by --allow-removals/);
  assert.equal(env.imports().length, 1);

  const allowed = await env.run(["sync", "--allow-removals", "11", "--output", "json"]);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal(doc(allowed.stdout)["outcome"], "synced");
  assert.deepEqual(env.emails(), ["owner@example.com", "user12@example.com"]);

  const history = doc((await env.run(["history", "--output", "json"])).stdout)["runs"];
  assert.ok(Array.isArray(history));
  const outcomes = history.map((r) => doc(JSON.stringify(r))["outcome"]);
  assert.deepEqual(outcomes.slice(0, 4), ["ok", "refused", "refused", "refused"]);
});

Deno.test("sync.maxRemovals 0 turns the guard off", async () => {
  await using env = await syncEnv({ users: users(12), config: { maxRemovals: 0 } });
  await env.login();
  assert.equal((await env.run(["sync"])).code, 0);
  await env.writeDirectory(users(12).map((u) => ({ ...u, deleted: true })));
  const result = await env.run(["sync"]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(env.emails(), ["owner@example.com"]);
});

Deno.test("sync sends nothing and exits 5 when an LDIF export is truncated", async () => {
  await using env = await syncEnv();
  await env.login();
  const ldif = join(env.root, "people.ldif");
  await Deno.writeTextFile(
    ldif,
    [
      "version: 1",
      "",
      "dn: uid=alice,ou=people,dc=example,dc=com",
      "objectClass: inetOrgPerson",
      "uid: alice",
      "mail: alice@example.com",
      "",
      "# search result",
      "search: 2",
      "result: 4 Size limit exceeded",
      "",
    ].join("\n"),
  );
  await env.writeConfig({
    directory: { type: "file", file: { path: ldif, rootPath: "dc=example,dc=com" } },
    sync: {
      userObjectClass: "inetOrgPerson",
      groupObjectClass: "groupOfNames",
      userEmailAttribute: "mail",
      memberAttribute: "member",
      groupNameAttribute: "cn",
    },
  });
  const result = await env.run(["sync"]);
  assert.equal(result.code, 5, result.stderr);
  assert.match(result.stderr, /incomplete: ldapsearch reported "result: 4 Size limit exceeded"/);
  assert.equal(env.imports().length, 0);
  assert.deepEqual(env.emails(), ["owner@example.com"]);
  const lastSync = await env.run(["last-sync", "users"]);
  assert.equal(lastSync.stdout, "never\n", "no sync time was recorded");
});

Deno.test("sync exits 5 on an empty directory after a populated run, unless --allow-empty", async () => {
  await using env = await syncEnv({ users: users(6) });
  await env.login();
  assert.equal((await env.run(["sync"])).code, 0);
  await env.writeDirectory([]);
  const result = await env.run(["sync"]);
  assert.equal(result.code, 5, result.stderr);
  assert.match(
    result.stderr,
    /Cannot trust the directory read: it returned 0 users \(the last successful read had 6\)/,
  );
  assert.equal(env.imports().length, 1);

  const allowed = await env.run(["sync", "--allow-empty", "--output", "json"]);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal(doc(allowed.stdout)["outcome"], "no-change");
  assert.equal(env.imports().length, 1);
});
