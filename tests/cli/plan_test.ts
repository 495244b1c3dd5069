import assert from "node:assert/strict";
import { doc, syncEnv, users } from "./_sync_env.ts";

Deno.test("plan --output json lists what a sync would change, in a stable schema", async () => {
  await using env = await syncEnv({
    users: [
      { id: "u01", email: "user01@example.com" },
      { id: "u02", email: "Linked.Later@example.com" },
      { id: "u03", email: "gone@example.com", deleted: true },
    ],
    groups: [{ id: "g1", name: "Staff", members: ["u01", "u02"] }],
    fake: {
      members: [
        { email: "owner@example.com", type: 0 },
        { email: "linked.later@example.com" },
        { email: "gone@example.com", externalId: "u03" },
      ],
    },
  });
  await env.login();
  const result = await env.run(["plan", "--output", "json"]);
  assert.equal(result.code, 0, result.stderr);
  const plan = doc(result.stdout);
  const members = env.fake.state().members;
  const id = (email: string) => members.find((m) => m.email === email)?.id ?? null;
  assert.deepEqual(Object.keys(plan), [
    "object",
    "organizationId",
    "server",
    "read",
    "requests",
    "hashUnchanged",
    "pending",
    "orgView",
    "invite",
    "link",
    "remove",
    "unchanged",
    "upsert",
    "skipped",
    "protectedOwners",
    "groups",
    "warnings",
    "refusals",
    "guard",
    "notices",
    "summary",
  ]);
  assert.equal(plan["object"], "plan");
  assert.equal(plan["orgView"], true);
  assert.equal(plan["pending"], true);
  assert.deepEqual(plan["read"], { users: 3, groups: 1 });
  assert.deepEqual(plan["invite"], [{ id: null, email: "user01@example.com", externalId: "u01" }]);
  assert.deepEqual(plan["link"], [{
    id: id("linked.later@example.com"),
    email: "linked.later@example.com",
    externalId: "u02",
  }]);
  assert.deepEqual(plan["remove"], [{
    id: id("gone@example.com"),
    email: "gone@example.com",
    externalId: "u03",
    reason: "deleted",
  }]);
  assert.deepEqual(plan["groups"], [{
    id: null,
    externalId: "g1",
    name: "Staff",
    action: "create",
    previousName: null,
    add: [
      { id: id("linked.later@example.com"), email: "linked.later@example.com", externalId: "u02" },
      { id: null, email: "user01@example.com", externalId: "u01" },
    ],
    remove: [],
  }]);
  assert.deepEqual(plan["refusals"], []);
  const { checks, ...guard } = doc(JSON.stringify(plan["guard"]));
  assert.deepEqual(guard, {
    allowed: true,
    removals: 1,
    limit: 10,
    removalsUnknown: false,
    maxRemovals: 10,
    maxRemovalsPercent: 10,
    allowRemovals: null,
  });
  assert.ok(Array.isArray(checks));
  assert.deepEqual(
    checks.map((c) => {
      const check = doc(JSON.stringify(c));
      return [check["kind"], check["count"], check["limit"], check["allowed"]];
    }),
    [
      ["memberRemovals", 1, 10, true],
      ["membershipRemovals", 0, 25, true],
      ["groupDeletions", 0, 5, true],
      ["userShrink", 0, 10, true],
      ["groupShrink", 0, 10, true],
    ],
  );
  const summary = doc(JSON.stringify(plan["summary"]));
  assert.equal(summary["invite"], 1);
  assert.equal(summary["link"], 1);
  assert.equal(summary["remove"], 1);
  assert.equal(summary["groupsCreate"], 1);
  assert.equal(summary["changes"], 6);
  assert.equal(env.imports().length, 0, "plan sends nothing");
});

Deno.test("plan --detailed-exitcode exits 3 with changes pending and 0 when in sync", async () => {
  await using env = await syncEnv({ users: users(2) });
  await env.login();
  const pending = await env.run(["plan", "--detailed-exitcode"]);
  assert.equal(pending.code, 3, pending.stderr);
  assert.match(pending.stdout, /A sync would change the organization; nothing was sent\.\n$/);
  assert.equal((await env.run(["plan"])).code, 0, "without the flag, pending is exit 0");
  assert.equal((await env.run(["sync"])).code, 0);
  const clean = await env.run(["plan", "--detailed-exitcode"]);
  assert.equal(clean.code, 0, clean.stderr);
  assert.match(clean.stdout, /Nothing to do; nothing was sent\.\n$/);
  const history = doc((await env.run(["history", "--output", "json"])).stdout)["runs"];
  assert.ok(Array.isArray(history));
  const latest = doc(JSON.stringify(history[0]));
  assert.equal(latest["command"], "plan");
  assert.equal(latest["outcome"], "no-change");
});

Deno.test("plan lists what the server and the guard would refuse", async () => {
  const long = "N".repeat(101);
  await using env = await syncEnv({
    users: users(12),
    groups: [{ id: "g-long", name: long, members: ["u01"] }, {
      id: "x".repeat(301),
      name: "Wide",
    }],
  });
  await env.login();
  assert.equal((await env.run(["sync"])).code, 7, "the server would refuse: sync sends nothing");
  assert.equal(env.imports().length, 0);
  await env.writeDirectory(users(12).map((u) => ({ ...u, deleted: true })));
  const result = await env.run(["plan", "--output", "json"]);
  assert.equal(result.code, 0, result.stderr);
  const plan = doc(result.stdout);
  assert.deepEqual(plan["refusals"], []);
  env.fake.addMember({ email: "user01@example.com", externalId: "u01" });
  for (let i = 2; i <= 12; i++) {
    env.fake.addMember({
      email: `user${String(i).padStart(2, "0")}@example.com`,
      externalId: `u${String(i).padStart(2, "0")}`,
    });
  }
  const refused = doc((await env.run(["plan", "--output", "json"])).stdout);
  assert.deepEqual(refused["refusals"], [{
    code: "removal_guard",
    subject: "memberRemovals 12",
    message:
      "the deletion guard would refuse: it would remove 12 members, more than the limit of 10 (sync.maxRemovals 10, or sync.maxRemovalsPercent 10% of 13 members)",
  }]);
  await env.writeDirectory(users(1), [{ id: "g-long", name: long, members: ["u01"] }]);
  const table = await env.run(["plan"]);
  assert.match(
    table.stdout,
    /Refusals \(1\)\n {2}- group "N+" \(externalId g-long\) has a name of 101 characters; Bitwarden accepts at most 100\n/,
  );
});

Deno.test("plan against Vaultwarden says there is no organization view", async () => {
  await using env = await syncEnv({ users: users(2), fake: { mode: "vaultwarden" } });
  await env.login();
  const result = await env.run(["plan", "--output", "json", "--detailed-exitcode"]);
  assert.equal(result.code, 3, result.stderr);
  const plan = doc(result.stdout);
  assert.equal(plan["orgView"], false);
  assert.deepEqual(plan["notices"], [
    "No organization view: the server has no read API (Vaultwarden), so this plan lists what a sync would send, not what it would change",
  ]);
  assert.deepEqual(plan["upsert"], [
    { id: null, email: "user01@example.com", externalId: "u01" },
    { id: null, email: "user02@example.com", externalId: "u02" },
  ]);
  const table = await env.run(["plan"]);
  assert.match(table.stdout, /no organization view/);
  assert.match(table.stdout, /^notice: No organization view/m);
  assert.equal((await env.run(["sync"])).code, 0);
  const after = await env.run(["plan", "--detailed-exitcode"]);
  assert.equal(after.code, 0, "the hash says a sync would send nothing");
});
