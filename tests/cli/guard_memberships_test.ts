import assert from "node:assert/strict";
import { join } from "node:path";
import { writeLdif } from "../../scripts/gen_ldif.ts";
import { doc, type SyncEnv, syncEnv } from "./_sync_env.ts";

/** Syncs an LDIF of 200 users in 20 groups (gen_ldif seed 1) into the fake organization. */
async function syncedLdif(env: SyncEnv): Promise<void> {
  await env.login();
  const path = join(env.root, "directory.ldif");
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    await writeLdif(file, { users: 200, groups: 20, seed: 1, withBase: true });
  } finally {
    file.close();
  }
  await env.writeConfig({
    directory: { type: "file", file: { path, rootPath: "dc=example,dc=com" } },
    sync: {
      userObjectClass: "inetOrgPerson",
      groupObjectClass: "groupOfNames",
      userEmailAttribute: "mail",
      memberAttribute: "member",
      groupNameAttribute: "cn",
    },
  });
  const first = await env.run(["sync"]);
  assert.equal(first.code, 0, first.stderr);
}

function memberships(env: SyncEnv): number {
  return env.fake.state().groups.reduce((n, g) => n + g.memberIds.length, 0);
}

Deno.test("a userFilter typo that empties the groups is refused by plan and sync (exit 4, nothing sent)", async () => {
  await using env = await syncEnv();
  await syncedLdif(env);
  assert.equal(env.imports().length, 1);
  assert.equal(env.fake.state().groups.length, 20);
  assert.equal(memberships(env), 578);

  assert.equal((await env.run(["config", "set", "sync.userFilter", "(uid=user00001*)"])).code, 0);

  const plan = doc((await env.run(["plan", "--output", "json"])).stdout);
  const guard = doc(JSON.stringify(plan["guard"]));
  assert.equal(guard["allowed"], false);
  const checks = guard["checks"];
  assert.ok(Array.isArray(checks));
  const summary = checks.map((c) => {
    const check = doc(JSON.stringify(c));
    return [check["kind"], check["count"], check["base"], check["limit"], check["allowed"]];
  });
  assert.deepEqual(summary, [
    ["memberRemovals", 0, 193, 19, true],
    ["membershipRemovals", 544, 578, 57, false],
    ["groupDeletions", 0, 20, 5, true],
    ["userShrink", 190, 200, 20, false],
    ["groupShrink", 0, 20, 10, true],
  ]);
  assert.deepEqual(doc(JSON.stringify(plan["summary"]))["membershipRemoves"], 544);
  const refusals = plan["refusals"];
  assert.ok(Array.isArray(refusals));
  assert.deepEqual(refusals.map((r) => doc(JSON.stringify(r))["message"]), [
    "the deletion guard would refuse: it would take 544 members out of groups (group memberships), more than the limit of 57 (sync.maxMembershipRemovals 25, or sync.maxMembershipRemovalsPercent 10% of 578 memberships the last sync sent)",
    "the deletion guard would refuse: it would follow a directory read with 190 fewer users, more than the limit of 20 (sync.maxShrink 10, or sync.maxShrinkPercent 10% of 200 users in the last complete read)",
  ]);
  const table = await env.run(["plan"]);
  assert.match(table.stdout, /\nDeletion guard: REFUSED\n/);
  assert.match(table.stdout, /\n {2}group membership removals\s+544\s+limit 57\s+REFUSED\n/);

  const refused = await env.run(["sync"]);
  assert.equal(refused.code, 4, refused.stderr);
  assert.match(
    refused.stderr,
    /error: Deletion guard refused the sync: it would take 544 members out of groups \(group memberships\), more than the limit of 57 .*; it would follow a directory read with 190 fewer users, more than the limit of 20 /,
  );
  assert.match(
    refused.stderr,
    /\n {2}- group "everyone" \(externalId cn=everyone,ou=groups,dc=example,dc=com\): 182 of 192 members taken out \(10 left\)\n/,
  );
  assert.match(refused.stderr, /\n {2}- users: 10 read, 200 in the last complete read\n/);
  assert.match(
    refused.stderr,
    /hint: Nothing was sent\. If these changes are intended, run roster sync --allow-membership-removals 544 --allow-shrink 190 once/,
  );
  assert.equal(env.imports().length, 1, "nothing was sent");
  assert.equal(memberships(env), 578);

  const partly = await env.run(["sync", "--allow-membership-removals", "544"]);
  assert.equal(partly.code, 4, "the shrink still needs its own allowance");
  assert.equal(env.imports().length, 1);

  const allowed = await env.run([
    "sync",
    "--allow-membership-removals",
    "544",
    "--allow-shrink",
    "190",
  ]);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal(env.imports().length, 2);
  assert.equal(memberships(env), 34);

  // The record now holds what was just sent: the same typo is no change for the guard.
  const again = doc((await env.run(["plan", "--output", "json"])).stdout);
  assert.equal(doc(JSON.stringify(again["guard"]))["allowed"], true);
});

Deno.test("groups gone from the directory are counted against what the last sync sent", async () => {
  await using env = await syncEnv();
  await syncedLdif(env);
  assert.equal(
    (await env.run(["config", "set", "sync.groupFilter", "(cn=group0000*)"])).code,
    0,
  );
  const refused = await env.run(["sync", "--output", "json"]);
  assert.equal(refused.code, 4, refused.stderr);
  const details = doc(JSON.stringify(doc(refused.stdout)["details"]));
  const checks = details["checks"];
  assert.ok(Array.isArray(checks));
  const deletions = doc(JSON.stringify(checks[2]));
  assert.equal(deletions["kind"], "groupDeletions");
  assert.equal(deletions["count"], 12);
  assert.equal(deletions["limit"], 5);
  assert.equal(deletions["allowed"], false);
  const items = deletions["items"];
  assert.ok(Array.isArray(items));
  assert.deepEqual(doc(JSON.stringify(items[0])), {
    subject: 'group "everyone" (externalId cn=everyone,ou=groups,dc=example,dc=com)',
    detail: "no longer in the directory (the last sync sent it with 192 members)",
  });
  assert.equal(env.imports().length, 1, "nothing was sent");
});
