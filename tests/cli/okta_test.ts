import assert from "node:assert/strict";
import { field, json } from "../_helpers.ts";
import { type FakeOkta, type OktaUserInit, startFakeOkta } from "../fakes/okta.ts";
import { doc, type SyncEnv, syncEnv } from "./_sync_env.ts";

const USERS: OktaUserInit[] = [
  { id: "00u01", login: "ann@example.com" },
  { id: "00u02", login: "bob@example.com", status: "LOCKED_OUT" },
  { id: "00u03", login: "cy@example.com", status: "SUSPENDED" },
  { id: "00u04", login: "dee@example.com", status: "DEPROVISIONED" },
  { id: "00u05", login: "nomail", email: null },
];

async function oktaSyncEnv(
  okta: FakeOkta,
  options: { token?: string; sync?: Record<string, unknown> } = {},
): Promise<SyncEnv> {
  const env = await syncEnv();
  await env.writeConfig({
    directory: { type: "okta", okta: { orgUrl: okta.orgUrl } },
    sync: { users: true, groups: true, ...options.sync },
  });
  const set = await env.run(["-q", "config", "set", "directory.okta.token", "--secret-env", "T"], {
    env: { T: options.token ?? okta.token },
  });
  assert.equal(set.code, 0, set.stderr);
  return env;
}

Deno.test("roster test reads an Okta org: statuses, members, and the user without email skipped", async () => {
  const okta = startFakeOkta({
    users: USERS,
    groups: [{ id: "00g1", name: "Staff", members: ["00u01", "00u02", "00u03"] }],
  });
  try {
    await using env = await oktaSyncEnv(okta);
    const result = await env.run(["test", "--output", "json"]);
    assert.equal(result.code, 0, result.stderr);
    const report = field(json(result.stdout));
    assert.deepEqual(report["groups"], [
      { externalId: "00g1", name: "Staff", memberExternalIds: ["00u01", "00u02", "00u03"] },
    ]);
    assert.deepEqual(report["users"], {
      enabled: [
        { externalId: "00u01", email: "ann@example.com" },
        { externalId: "00u02", email: "bob@example.com" },
      ],
      disabled: [{ externalId: "00u03", email: "cy@example.com" }],
      deleted: [{ externalId: "00u04", email: "dee@example.com" }],
    });
    assert.deepEqual(report["skipped"], [
      {
        referenceId: "00u05",
        kind: "user",
        reason: "no email address (profile.email is empty; login nomail)",
      },
    ]);
  } finally {
    await okta.close();
  }
});

Deno.test("roster sync sends an Okta org, then only a membership-only change on the incremental run", async () => {
  const okta = startFakeOkta({
    users: USERS,
    groups: [{ id: "00g1", name: "Staff", members: ["00u01", "00u02"] }],
  });
  try {
    await using env = await oktaSyncEnv(okta);
    await env.login();
    const first = await env.run(["sync", "--output", "json"]);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(env.emails(), [
      "ann@example.com",
      "bob@example.com",
      "cy@example.com",
      "owner@example.com",
    ]);
    const staff = () => env.fake.state().groups.find((g) => g.externalId === "00g1");
    assert.equal(staff()?.memberIds.length, 2);

    okta.addMember("00g1", "00u03"); // only lastMembershipUpdated moves
    const second = await env.run(["sync", "--output", "json"]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(field(doc(second.stdout), "read")["mode"], "incremental");
    assert.equal(staff()?.memberIds.length, 3);
    const memberReads = okta.requests().filter((r) => r.path === "/api/v1/groups/00g1/users");
    assert.equal(memberReads.length, 2);
  } finally {
    await okta.close();
  }
});

Deno.test("roster test exits 6 naming directory.okta.token when Okta refuses the token", async () => {
  const okta = startFakeOkta({ users: USERS });
  try {
    await using env = await oktaSyncEnv(okta, { token: "revoked" });
    const result = await env.run(["test"]);
    assert.equal(result.code, 6, result.stderr);
    assert.match(
      result.stderr,
      /error: Okta refused the API token: GET \/api\/v1\/users answered 401 Unauthorized: E0000011: Invalid token provided\n/,
    );
    assert.match(result.stderr, /hint: .*roster config set directory\.okta\.token --secret-env/);
  } finally {
    await okta.close();
  }
});

Deno.test("roster sync exits 6 naming the admin role when the token lacks the permission", async () => {
  const okta = startFakeOkta({ users: USERS });
  try {
    await using env = await oktaSyncEnv(okta, { token: okta.noPermissionToken });
    await env.login();
    const result = await env.run(["sync"]);
    assert.equal(result.code, 6, result.stderr);
    assert.match(result.stderr, /Read-only Administrator/);
    assert.equal(env.imports().length, 0);
  } finally {
    await okta.close();
  }
});

Deno.test("roster sync exits 5 and sends nothing when an Okta page cannot be parsed", async () => {
  const okta = startFakeOkta({
    users: USERS,
    groups: [
      { id: "00g1", name: "Staff", members: ["00u01"] },
      { id: "00g2", name: "Ops", members: ["00u02"] },
    ],
  });
  try {
    await using env = await oktaSyncEnv(okta);
    await env.login();
    okta.failAlways("truncated", { path: "/api/v1/groups/00g2/users" });
    const result = await env.run(["sync"]);
    assert.equal(result.code, 5, result.stderr);
    assert.match(
      result.stderr,
      /error: Okta read incomplete: reading the members of group Ops \(00g2\) failed: /,
    );
    assert.equal(env.imports().length, 0);
  } finally {
    await okta.close();
  }
});
