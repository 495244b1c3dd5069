import assert from "node:assert/strict";
import { join } from "node:path";
import {
  field,
  json,
  ldifConfig,
  REPO_ROOT,
  roster,
  seedConfig,
  tempDataDir,
} from "../_helpers.ts";
import { syncEnv } from "./_sync_env.ts";

const ALICE = "uid=alice,ou=people,dc=example,dc=com";
const BOB = "uid=bob,ou=people,dc=example,dc=com";
const ADMINS = "cn=admins,ou=groups,dc=example,dc=com";
const STAFF = "cn=staff,ou=groups,dc=example,dc=com";

Deno.test("test --output json prints the engine's report of an LDIF export", async () => {
  await using dir = await tempDataDir();
  await seedConfig(dir, await ldifConfig());
  const result = await dir.run(["test", "--output", "json"]);
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  assert.equal(
    result.stdout,
    JSON.stringify(
      {
        object: "test",
        groups: [
          { externalId: ADMINS, name: "admins", memberExternalIds: [ALICE] },
          { externalId: STAFF, name: "staff", memberExternalIds: [ALICE, BOB] },
        ],
        users: {
          enabled: [
            { externalId: ALICE, email: "alice@example.com" },
            { externalId: BOB, email: "bob@example.com" },
          ],
          disabled: [],
          deleted: [],
        },
        skipped: [{
          referenceId: "uid=nomail,ou=people,dc=example,dc=com",
          kind: "user",
          reason: "no email address",
        }],
        unresolved: [{ group: ADMINS, memberRef: "uid=gone,ou=people,dc=example,dc=com" }],
        refusals: [],
        summary: {
          users: 2,
          enabled: 2,
          disabled: 0,
          deleted: 0,
          groups: 2,
          memberships: 3,
          skipped: 1,
          unresolved: 1,
          refused: 0,
        },
      },
      null,
      2,
    ) + "\n",
  );
});

Deno.test("test --format bwdc prints bwdc's exact test JSON", async () => {
  await using dir = await tempDataDir();
  await seedConfig(dir, await ldifConfig());
  const result = await dir.run(["test", "--format", "bwdc"]);
  assert.equal(result.code, 0);
  assert.equal(
    result.stdout,
    JSON.stringify(
      {
        groups: [
          { externalId: ADMINS, displayName: "admins", userIds: [ALICE] },
          { externalId: STAFF, displayName: "staff", userIds: [BOB, ALICE] },
        ],
        enabledUsers: [
          { externalId: ALICE, displayName: "alice@example.com" },
          { externalId: BOB, displayName: "bob@example.com" },
        ],
        disabledUsers: [],
        deletedUsers: [],
        object: "test",
      },
      null,
      2,
    ) + "\n",
  );
});

Deno.test("test prints four sections readable at 80 columns", async () => {
  await using dir = await tempDataDir();
  await seedConfig(dir, await ldifConfig());
  const result = await dir.run(["test"]);
  assert.equal(result.code, 0);
  assert.equal(
    result.stdout,
    [
      "Groups: 2 (3 memberships)",
      "  NAME    MEMBERS",
      "  admins        1",
      "  staff         2",
      "",
      "Users: 2 (2 enabled, 0 disabled, 0 deleted)",
      "  Enabled (2)",
      "    alice@example.com",
      "    bob@example.com",
      "  Disabled (0)",
      "  Deleted (0)",
      "",
      "Skipped: 1",
      "  KIND  REFERENCE                               REASON",
      "  user  uid=nomail,ou=people,dc=example,dc=com  no email address",
      "",
      "Unresolved members: 1",
      "  GROUP                                  MEMBER",
      "  cn=admins,ou=groups,dc=example,dc=com  uid=gone,ou=people,dc=example,dc=com",
      "",
      "Test only: nothing was sent. A sync would send 2 groups and 2 users.",
      "",
    ].join("\n"),
  );
  for (const line of result.stdout.split("\n")) assert.ok(line.length <= 80, line);
});

Deno.test("test writes only a run record, and --last reads since the last sync", async () => {
  await using dir = await tempDataDir();
  await seedConfig(dir, await ldifConfig());
  const configBefore = await Deno.readTextFile(join(dir.dataDir, "config.json"));
  assert.equal((await dir.run(["test", "--last", "-q"])).code, 0);
  assert.equal(await Deno.readTextFile(join(dir.dataDir, "config.json")), configBefore);
  const history = json((await dir.run(["history", "-o", "json"])).stdout);
  const runs = field(history)["runs"];
  assert.ok(Array.isArray(runs));
  assert.equal(runs.length, 1);
  const run = field(runs[0]);
  assert.deepEqual(Object.keys(run), [
    "id",
    "command",
    "startedAt",
    "endedAt",
    "outcome",
    "exitCode",
    "read",
    "sent",
  ]);
  assert.deepEqual(
    [run["command"], run["outcome"], run["exitCode"], run["read"], run["sent"]],
    ["test", "ok", 0, { users: 3, groups: 2 }, { users: 0, groups: 0 }],
  );
  const lastSync = await dir.run(["last-sync", "-o", "json"]);
  assert.deepEqual(json(lastSync.stdout), { object: "last-sync", users: null, groups: null });
});

Deno.test("test exits 7 on duplicate emails and records the failed run", async () => {
  await using dir = await tempDataDir();
  const config = field(await ldifConfig());
  await seedConfig(dir, {
    ...config,
    directory: {
      type: "file",
      file: { path: "tests/cli/testdata/duplicate.ldif", rootPath: "dc=example,dc=com" },
    },
  });
  const result = await dir.run(["test", "-o", "json"]);
  assert.equal(result.code, 7);
  const error = field(json(result.stdout));
  assert.equal(error["object"], "error");
  assert.equal(error["code"], "duplicate_email");
  assert.deepEqual(field(error, "details")["duplicateEmails"], [
    { email: "alice@example.com", referenceIds: [ALICE, "uid=alice2,ou=people,dc=example,dc=com"] },
  ]);
  const runs = field(json((await dir.run(["history", "-o", "json"])).stdout))["runs"];
  assert.ok(Array.isArray(runs));
  const run = field(runs[0]);
  assert.deepEqual([run["outcome"], run["exitCode"], run["read"]], ["error", 7, {
    users: 2,
    groups: 0,
  }]);
});

Deno.test("test exits 2 when no directory is configured", async () => {
  await using dir = await tempDataDir();
  const result = await dir.run(["test"]);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, "");
  assert.equal(
    result.stderr,
    "error: No directory configured: directory.type is not set\n" +
      "hint: roster config set directory.type <ldap|entra|google|okta|onelogin|file>, then its settings\n",
  );
});

Deno.test("test exits 2 naming the missing secret of a cloud directory, before any request", async () => {
  await using dir = await tempDataDir();
  await seedConfig(dir, { directory: { type: "onelogin", onelogin: { clientId: "id" } } });
  const result = await dir.run(["test", "-o", "json"]);
  assert.equal(result.code, 2);
  const error = field(json(result.stdout));
  assert.equal(
    error["message"],
    "Directory configuration incomplete: directory.onelogin.clientSecret is not set",
  );
  assert.equal(
    error["hint"],
    "roster config set directory.onelogin.clientSecret --secret-env VAR (or --secret-file FILE, or stdin)",
  );
});

Deno.test("test exits 6 when the directory file is missing", async () => {
  await using dir = await tempDataDir();
  await seedConfig(dir, { directory: { type: "file", file: { path: join(dir.root, "no.ldif") } } });
  const result = await dir.run(["test", "-o", "json"]);
  assert.equal(result.code, 6);
  assert.equal(field(json(result.stdout))["code"], "directory_unavailable");
});

Deno.test("test reads a CSV export and applies sync.userFilter as a set filter", async () => {
  await using dir = await tempDataDir();
  await seedConfig(dir, {
    directory: { type: "file", file: { path: join(REPO_ROOT, "tests/cli/testdata/small.csv") } },
    sync: { userFilter: "exclude:Bob@example.com" },
  });
  const result = await dir.run(["test", "--format", "bwdc"]);
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  assert.deepEqual(json(result.stdout), {
    groups: [
      { externalId: "g1", displayName: "Engineering", userIds: ["u1"] },
      { externalId: "g2", displayName: "Everyone", userIds: ["u1"] },
    ],
    enabledUsers: [{ externalId: "u1", displayName: "alice@example.com" }],
    disabledUsers: [],
    deletedUsers: [{ externalId: "u3", displayName: "carol@example.com" }],
    object: "test",
  });
});

Deno.test("test's summary line says 1 group and 1 user in the singular", async () => {
  await using env = await syncEnv({
    users: [{ id: "u01", email: "user01@example.com" }],
    groups: [{ id: "g1", name: "Staff", members: ["u01"] }],
  });
  const result = await env.run(["test"]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout.trimEnd().split("\n").at(-1),
    "Test only: nothing was sent. A sync would send 1 group and 1 user.",
  );
});

Deno.test("test --help and history --help read without doubled words", async () => {
  const test = await roster(["test", "--help"]);
  assert.ok(
    test.stdout.replace(/\s+/g, " ").includes(
      "skipped objects with the reason, group members that match nothing, and every object",
    ),
    test.stdout,
  );
  const root = await roster(["--help"]);
  assert.match(root.stdout.replace(/\s+/g, " "), /list the last runs \(test, plan, sync\) with/);
});
