import assert from "node:assert/strict";
import {
  type FakeOneLogin,
  type FakeOneLoginOptions,
  startFakeOneLogin,
} from "../fakes/onelogin.ts";
import { doc, type SyncEnv, syncEnv } from "./_sync_env.ts";

/** A day ago: the account's objects are older than any read. */
const DAY_AGO = Date.now() - 86_400_000;

/** A small OneLogin account: four users (one suspended, one without an address), two roles. */
const ACCOUNT: FakeOneLoginOptions = {
  users: [
    { id: 1001, username: "ann@example.com", status: 1, updatedAt: DAY_AGO },
    { id: 1002, username: "bob@example.com", status: 2, updatedAt: DAY_AGO },
    { id: 1003, username: "carol", email: null, updatedAt: DAY_AGO },
    { id: 1004, username: "dan@example.com", updatedAt: DAY_AGO },
  ],
  roles: [
    { id: 501, name: "Engineering", users: [1001, 1004] },
    { id: 502, name: "Sales", users: [1002, 1003] },
  ],
};

interface Env {
  env: SyncEnv;
  onelogin: FakeOneLogin;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The Bitwarden fake, a data directory configured for `directory.type onelogin`, logged in. */
async function oneLoginSyncEnv(
  options: FakeOneLoginOptions = ACCOUNT,
  sync: Record<string, unknown> = {},
  secret?: string,
): Promise<Env> {
  const onelogin = startFakeOneLogin(options);
  const env = await syncEnv();
  await env.writeConfig({
    directory: {
      type: "onelogin",
      onelogin: { clientId: onelogin.clientId, apiUrl: onelogin.apiUrl },
    },
    sync,
  });
  const set = await env.run(
    ["config", "set", "directory.onelogin.clientSecret", "--secret-env", "OL_SECRET"],
    { env: { OL_SECRET: secret ?? onelogin.clientSecret } },
  );
  assert.equal(set.code, 0, set.stderr);
  await env.login();
  return {
    env,
    onelogin,
    async [Symbol.asyncDispose]() {
      await env[Symbol.asyncDispose]();
      await onelogin.close();
    },
  };
}

function groupMembers(env: SyncEnv): Record<string, string[]> {
  const state = env.fake.state();
  const emailOf = new Map(state.members.map((m) => [m.id, m.email]));
  return Object.fromEntries(
    state.groups.map((g) => [g.name, g.memberIds.map((id) => emailOf.get(id) ?? id).sort()]),
  );
}

Deno.test("roster test reads a OneLogin account: roles as groups, status 2 disabled, users without an address skipped", async () => {
  await using t = await oneLoginSyncEnv();
  const result = await t.env.run(["test", "--output", "json"]);
  assert.equal(result.code, 0, result.stderr);
  const report = doc(result.stdout);
  assert.deepEqual(report["groups"], [
    { externalId: "501", name: "Engineering", memberExternalIds: ["1001", "1004"] },
    { externalId: "502", name: "Sales", memberExternalIds: ["1002"] },
  ]);
  assert.deepEqual(report["users"], {
    enabled: [
      { externalId: "1001", email: "ann@example.com" },
      { externalId: "1004", email: "dan@example.com" },
    ],
    disabled: [{ externalId: "1002", email: "bob@example.com" }],
    deleted: [],
  });
  assert.deepEqual(report["skipped"], [
    { referenceId: "1003", kind: "user", reason: 'no email address (no email, username "carol")' },
  ]);
});

Deno.test("roster sync sends a OneLogin account to Bitwarden, then only the change on the next run", async () => {
  await using t = await oneLoginSyncEnv();
  const first = await t.env.run(["sync", "--output", "json"]);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(t.env.emails(), [
    "ann@example.com",
    "bob@example.com",
    "dan@example.com",
    "owner@example.com",
  ]);
  assert.deepEqual(groupMembers(t.env), {
    Engineering: ["ann@example.com", "dan@example.com"],
    Sales: ["bob@example.com"],
  });
  t.onelogin.addUser({ id: 1005, username: "erin@example.com" });
  t.onelogin.assignRole(502, 1005);
  const second = await t.env.run(["sync", "--output", "json"]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(doc(second.stdout)["outcome"], "synced");
  assert.deepEqual(groupMembers(t.env)["Sales"], ["bob@example.com", "erin@example.com"]);
  assert.ok(
    t.onelogin.requests().some((r) => r.query.includes("updated_since=")),
    "the second run read only the changed users",
  );
});

Deno.test("roster test of groups only gives OneLogin roles with their members", async () => {
  await using t = await oneLoginSyncEnv(ACCOUNT, { users: false });
  const result = await t.env.run(["test", "--output", "json"]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(doc(result.stdout)["groups"], [
    { externalId: "501", name: "Engineering", memberExternalIds: ["1001", "1004"] },
    { externalId: "502", name: "Sales", memberExternalIds: ["1002"] },
  ]);
});

Deno.test("roster sync stops with exit 5 and sends nothing when a OneLogin page keeps failing", async () => {
  await using t = await oneLoginSyncEnv({ ...ACCOUNT, retryAfterSeconds: 0 });
  t.onelogin.failAlways("503", { path: "/api/2/roles/502/users" });
  const result = await t.env.run(["sync"]);
  assert.equal(result.code, 5, result.stderr);
  assert.match(
    result.stderr,
    /OneLogin read incomplete: GET \/api\/2\/roles\/502\/users answered 503 Service Unavailable/,
  );
  assert.deepEqual(t.env.imports(), []);
});

Deno.test("roster test stops with exit 6 naming the settings when OneLogin refuses the credential", async () => {
  await using t = await oneLoginSyncEnv(ACCOUNT, {}, "wrong-secret");
  const result = await t.env.run(["test"]);
  assert.equal(result.code, 6);
  assert.match(
    result.stderr,
    /OneLogin refused the API credential: POST \/auth\/oauth2\/v2\/token answered 401 Unauthorized/,
  );
  assert.match(
    result.stderr,
    /directory\.onelogin\.clientId and directory\.onelogin\.clientSecret/,
  );
});

Deno.test("roster sync stops with exit 6 and the reset time, sending nothing, when the hourly budget cannot cover the read", async () => {
  await using t = await oneLoginSyncEnv();
  t.onelogin.setRemaining(4);
  const result = await t.env.run(["sync"]);
  assert.equal(result.code, 6, result.stderr);
  assert.match(
    result.stderr,
    /OneLogin's hourly API budget cannot cover this read: it needs about 4 API calls and 2 of 5000 are left until the reset at \d{4}-\d\d-\d\d \d\d:00:00 UTC/,
  );
  assert.deepEqual(t.env.imports(), []);
  assert.deepEqual(
    t.onelogin.requests().filter((r) =>
      r.path.startsWith("/api/") && !r.query.startsWith("limit=1&")
    ),
    [],
  );
});

Deno.test("roster test stops with exit 6 naming the Read users scope when the credential cannot list users", async () => {
  await using t = await oneLoginSyncEnv({ ...ACCOUNT, scope: "Authentication Only" });
  const result = await t.env.run(["test"]);
  assert.equal(result.code, 6);
  assert.match(
    result.stderr,
    /error: OneLogin refused to list users with this API credential: GET \/api\/2\/users answered 401 Unauthorized/,
  );
  assert.match(
    result.stderr,
    /hint: The API credential needs the Read users \(or Manage users, Read All, Manage All\) scope/,
  );
});
