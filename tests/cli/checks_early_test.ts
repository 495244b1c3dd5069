import assert from "node:assert/strict";
import { join } from "node:path";
import { seedConfig, tempDataDir } from "../_helpers.ts";
import { doc, syncEnv, users } from "./_sync_env.ts";

Deno.test("config set refuses a broken LDAP filter or DN at once (exit 2, nothing saved)", async () => {
  await using dir = await tempDataDir();
  assert.equal((await dir.run(["config", "set", "directory.type", "ldap"])).code, 0);
  const filter = await dir.run(["config", "set", "sync.userFilter", "(uid=user00001*"]);
  assert.equal(filter.code, 2);
  assert.match(
    filter.stderr,
    /error: Invalid LDAP filter in sync\.userFilter: Missing "\)" after the value at character 16\n/,
  );
  const dn = await dir.run(["config", "set", "sync.groupPath", "ou=groups,,dc=example"]);
  assert.equal(dn.code, 2);
  assert.match(
    dn.stderr,
    /error: Invalid DN in sync\.groupPath: "ou=groups,,dc=example": Expected an attribute type at character 11\n/,
  );
  const config = doc(await Deno.readTextFile(join(dir.dataDir, "config.json")));
  assert.equal(config["sync"], undefined, "nothing was saved");
  assert.equal((await dir.run(["config", "set", "sync.userFilter", "(uid=user1*)"])).code, 0);
});

Deno.test("config validate reports a broken filter that is already in config.json", async () => {
  await using dir = await tempDataDir();
  await seedConfig(dir, {
    directory: { type: "file", file: { path: "/x.ldif", rootPath: "dc=example,dc=com" } },
    sync: { groupFilter: "(&(cn=a)" },
  });
  const result = await dir.run(["config", "validate"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /error: Invalid LDAP filter in sync\.groupFilter: /);
});

Deno.test("config.json with a UTF-8 byte order mark is read", async () => {
  await using dir = await tempDataDir();
  await Deno.mkdir(dir.dataDir, { recursive: true });
  await Deno.writeTextFile(
    join(dir.dataDir, "config.json"),
    '\uFEFF{"directory":{"type":"file"}}',
  );
  const result = await dir.run(["config", "get", "directory.type"]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "file\n");
});

Deno.test("test reports every object the import would refuse and exits 7", async () => {
  await using env = await syncEnv({
    users: [...users(2), { id: "x".repeat(301), email: "long@example.com" }],
    groups: [
      { id: "g-long", name: "N".repeat(300), members: ["u01"] },
      { id: "g-ok", name: "Staff", members: ["u02"] },
    ],
  });
  const result = await env.run(["test"]);
  assert.equal(result.code, 7, result.stderr);
  assert.ok(
    result.stdout.includes(
      `Refused by Bitwarden's import: 2 (a sync would send nothing)\n  - member long@example.com has an externalId of 301 characters; Bitwarden accepts at most 300\n  - group "${
        "N".repeat(300)
      }" (externalId g-long) has a name of 300 characters; Bitwarden accepts at most 100\n`,
    ),
    result.stdout,
  );
  const json = await env.run(["test", "--output", "json"]);
  assert.equal(json.code, 7);
  const report = doc(json.stdout);
  assert.equal(doc(JSON.stringify(report["summary"]))["refused"], 2);
  const refusals = report["refusals"];
  assert.ok(Array.isArray(refusals));
  assert.deepEqual(refusals.map((r) => doc(JSON.stringify(r))["code"]), [
    "external_id_too_long",
    "group_name_too_long",
  ]);
  await env.login();
  const sync = await env.run(["sync"]);
  assert.equal(sync.code, 7, "sync refuses the same objects");
  assert.equal(env.imports().length, 0);
});
