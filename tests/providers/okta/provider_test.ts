import assert from "node:assert/strict";
import { ConfigError, DirectoryError, SourceIncompleteError } from "../../../src/errors.ts";
import { buildSyncData } from "../../../src/engine/mod.ts";
import { generateOktaOrg, type OktaUserInit } from "../../fakes/okta.ts";
import type { ReadCounters } from "../../../src/output/progress.ts";
import { canonical, expectedSnapshot, merged, oktaEnv } from "./_env.ts";

const STATUS_USERS: OktaUserInit[] = [
  { id: "00u01", status: "ACTIVE", login: "active@example.com" },
  { id: "00u02", status: "STAGED", login: "staged@example.com" },
  { id: "00u03", status: "PROVISIONED", login: "provisioned@example.com" },
  { id: "00u04", status: "RECOVERY", login: "recovery@example.com" },
  { id: "00u05", status: "PASSWORD_EXPIRED", login: "expired@example.com" },
  { id: "00u06", status: "LOCKED_OUT", login: "locked@example.com" },
  { id: "00u07", status: "SUSPENDED", login: "suspended@example.com" },
  { id: "00u08", status: "DEPROVISIONED", login: "gone@example.com" },
  { id: "00u09", status: "ACTIVE", login: "nomail", email: null },
  { id: "00u10", status: "DEPROVISIONED", login: "gonenomail", email: null },
];

Deno.test("okta read maps every status, keeps DEPROVISIONED users as deleted and skips users without email", async () => {
  await using env = oktaEnv({
    fake: {
      users: STATUS_USERS,
      groups: [
        { id: "00g1", name: "Staff", members: ["00u01", "00u06", "00u07"] },
        { id: "00g2", name: "Empty" },
      ],
    },
  });
  const read = await env.read();
  assert.equal(read.incremental, false);
  const flags = read.snapshot.users.map((u) => [u.externalId, u.email, u.disabled, u.deleted]);
  assert.deepEqual(flags, [
    ["00u01", "active@example.com", false, false],
    ["00u02", "staged@example.com", false, false],
    ["00u03", "provisioned@example.com", false, false],
    ["00u04", "recovery@example.com", false, false],
    ["00u05", "expired@example.com", false, false],
    ["00u06", "locked@example.com", false, false],
    ["00u07", "suspended@example.com", true, false],
    ["00u08", "gone@example.com", false, true],
    ["00u10", null, false, true],
  ]);
  assert.deepEqual(read.snapshot.skipped, [
    {
      referenceId: "00u09",
      kind: "user",
      reason: "no email address (profile.email is empty; login nomail)",
    },
  ]);
  assert.deepEqual(read.snapshot.groups, [
    {
      referenceId: "00g1",
      externalId: "00g1",
      name: "Staff",
      memberRefs: ["00u01", "00u06", "00u07"],
    },
    { referenceId: "00g2", externalId: "00g2", name: "Empty", memberRefs: [] },
  ]);
  // The requests: users at 200 a page without credentials, the DEPROVISIONED stream, the group
  // listing at 10,000 with stats; the empty group's members are not asked for.
  const requests = env.fake.requests().map((r) => `${r.path}?${decodeURIComponent(r.query)}`);
  assert.deepEqual(
    requests.sort(),
    [
      "/api/v1/groups/00g1/users?limit=1000",
      "/api/v1/groups?limit=10000&expand=stats",
      '/api/v1/users?limit=200&filter=status eq "DEPROVISIONED"',
      "/api/v1/users?limit=200",
    ].sort(),
  );
  for (const request of env.fake.requests()) {
    assert.equal(
      request.headers["content-type"],
      "application/json; okta-response=omitCredentials,omitCredentialsLinks",
    );
  }
});

Deno.test("okta read follows Link rel=next through a 2,500-member group and 2,500 users", async () => {
  const users: OktaUserInit[] = Array.from({ length: 2500 }, (_, i) => ({
    id: `00u${String(i).padStart(5, "0")}`,
    login: `u${i}@example.com`,
  }));
  await using env = oktaEnv({
    fake: { users, groups: [{ id: "00gbig", name: "Big", members: users.map((u) => u.id ?? "") }] },
  });
  const read = await env.read();
  assert.equal(read.snapshot.users.length, 2500);
  assert.deepEqual(read.snapshot.groups[0]?.memberRefs, users.map((u) => u.id));
  const pages = env.fake.requests().filter((r) => r.path === "/api/v1/groups/00gbig/users");
  assert.equal(pages.length, 3);
  assert.equal(env.fake.requests().filter((r) => r.path === "/api/v1/users").length, 13 + 1);
});

Deno.test("okta read sends a native user filter or search and a native group filter or search", async () => {
  const fake = {
    users: STATUS_USERS,
    groups: [
      { id: "00g1", name: "Staff", members: ["00u01"] },
      { id: "00g2", name: "Apps", type: "APP_GROUP" as const, members: ["00u02"] },
    ],
  };
  const cases: [string, string, string[], string[]][] = [
    ['|status eq "SUSPENDED" or status eq "DEPROVISIONED"', "", ["00u07", "00u08", "00u10"], [
      "00g1",
      "00g2",
    ]],
    ['|search:profile.login sw "s"', '|type eq "APP_GROUP"', ["00u02", "00u07"], ["00g2"]],
    ["", '|search:profile.name sw "St"', [
      "00u01",
      "00u02",
      "00u03",
      "00u04",
      "00u05",
      "00u06",
      "00u07",
      "00u08",
      "00u10",
    ], ["00g1"]],
  ];
  for (const [userFilter, groupFilter, userIds, groupIds] of cases) {
    await using env = oktaEnv({
      fake,
      sync: {
        ...(userFilter === "" ? {} : { userFilter }),
        ...(groupFilter === "" ? {} : { groupFilter }),
      },
    });
    const read = await env.read();
    assert.deepEqual(read.snapshot.users.map((u) => u.externalId), userIds, userFilter);
    assert.deepEqual(read.snapshot.groups.map((g) => g.externalId), groupIds, groupFilter);
    const queries = env.fake.requests().filter((r) => r.path === "/api/v1/users").map((r) =>
      new URLSearchParams(r.query)
    );
    if (userFilter.startsWith("|search:")) {
      assert.deepEqual(queries.map((q) => q.get("search")), ['profile.login sw "s"']);
    } else if (userFilter !== "") {
      assert.deepEqual(queries.map((q) => q.get("filter")), [userFilter.slice(1)]);
    }
  }
});

Deno.test("okta include and exclude sets are left to the engine and applied to emails and group names", async () => {
  await using env = oktaEnv({
    fake: {
      users: STATUS_USERS,
      groups: [
        { id: "00g1", name: "Staff", members: ["00u01", "00u06"] },
        { id: "00g2", name: "Other", members: ["00u07"] },
      ],
    },
    sync: {
      userFilter: "exclude:locked@example.com",
      groupFilter: 'include:staff|type eq "OKTA_GROUP"',
    },
  });
  assert.equal(env.settings.sync.userFilter, "exclude:locked@example.com");
  const read = await env.read();
  const data = buildSyncData(read.snapshot, {
    syncUsers: true,
    syncGroups: true,
    removeDisabled: false,
    setFilters: {
      users: "exclude:locked@example.com",
      groups: 'include:staff|type eq "OKTA_GROUP"',
    },
  });
  assert.deepEqual(data.groups.map((g) => g.name), ["Staff"]);
  assert.equal(data.users.some((u) => u.email === "locked@example.com"), false);
  assert.equal(data.users.some((u) => u.email === "active@example.com"), true);
});

Deno.test("okta read refuses a malformed filter with a ConfigError before any request", async () => {
  for (
    const [setting, value] of [
      ["userFilter", '|status ne "ACTIVE"'],
      ["userFilter", "includes:a@example.com"],
      ["groupFilter", '|profile.name eq "x"'],
    ] as const
  ) {
    await using env = oktaEnv({ fake: { users: STATUS_USERS }, sync: { [setting]: value } });
    await assert.rejects(env.read(), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, new RegExp(`sync\\.${setting}`));
      return true;
    });
    assert.equal(env.fake.counters().requests, 0);
  }
});

Deno.test("okta read stops with exit 6 naming directory.okta.token for a refused token", async () => {
  await using env = oktaEnv({ fake: { users: STATUS_USERS }, token: "wrong" });
  await assert.rejects(env.read(), (error: unknown) => {
    assert.ok(error instanceof DirectoryError);
    assert.equal(error.exitCode, 6);
    assert.equal(
      error.message,
      "Okta refused the API token: GET /api/v1/users answered 401 Unauthorized: E0000011: Invalid token provided",
    );
    assert.match(error.hint ?? "", /roster config set directory\.okta\.token/);
    return true;
  });
  assert.equal(env.fake.counters().requests, 1);
});

Deno.test("okta read stops with exit 6 naming the admin role for a token without permission", async () => {
  await using env = oktaEnv({ fake: { users: STATUS_USERS }, token: "okta-no-permission" });
  await assert.rejects(env.read(), (error: unknown) => {
    assert.ok(error instanceof DirectoryError);
    assert.equal(error.exitCode, 6);
    assert.match(error.message, /^Okta denied reading users: GET \/api\/v1\/users answered 403/);
    assert.match(error.hint ?? "", /Read-only Administrator/);
    return true;
  });
});

Deno.test("okta read accepts any port and refuses plain http to a remote host", async () => {
  await using env = oktaEnv({ fake: { users: STATUS_USERS } });
  assert.match(env.fake.orgUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  await using remote = oktaEnv({ okta: { orgUrl: "http://acme.okta.com:8443" } });
  await assert.rejects(remote.read(), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(
      error.message,
      "Invalid directory.okta.orgUrl: plain http:// is only allowed for a loopback host, not acme.okta.com",
    );
    return true;
  });
});

Deno.test("okta read waits for the reset when a bucket's share runs out mid-read and never gets a 429", async () => {
  const org = generateOktaOrg({ users: 300, groups: 30 });
  await using env = oktaEnv({
    fake: { ...org, rateLimits: { groupUsers: 10 } },
    okta: { maxRateShare: 50 },
  });
  const read = await env.read();
  assert.deepEqual(canonical(read.snapshot), expectedSnapshot(env.fake));
  assert.equal(env.fake.counters().rateLimited, 0);
  // At most 5 (50% of 10) member requests in any one-minute window.
  const perWindow = new Map<number, number>();
  for (const r of env.fake.requests()) {
    if (!r.path.startsWith("/api/v1/groups/")) continue;
    const window = Math.floor(r.at / 60_000);
    perWindow.set(window, (perWindow.get(window) ?? 0) + 1);
  }
  const memberReads = org.groups.filter((g) => (g.members ?? []).length > 0).length;
  assert.equal([...perWindow.values()].reduce((a, b) => a + b, 0), memberReads);
  assert.ok([...perWindow.values()].every((n) => n <= 5), JSON.stringify([...perWindow]));
  assert.equal(perWindow.size, Math.ceil(memberReads / 5));
});

Deno.test("okta read rides out a storm of 429s, waiting for each reset, and returns the exact directory", async () => {
  const org = generateOktaOrg({ users: 1000, groups: 40 });
  await using env = oktaEnv({ fake: org, concurrency: 8 });
  env.fake.failNext(12, "429", { path: "/api/v1/groups/" });
  env.fake.failNext(3, "429", { path: "/api/v1/users" });
  const read = await env.read();
  assert.deepEqual(canonical(read.snapshot), expectedSnapshot(env.fake));
  // Only the injected 429s: the retries waited for the reset instead of storming.
  assert.equal(env.fake.counters().rateLimited, 15);
  const log = env.fake.requests();
  for (const [i, r] of log.entries()) {
    if (r.status !== 429) continue;
    const retry = log.slice(i + 1).find((x) => x.path === r.path && x.query === r.query);
    assert.ok(retry !== undefined);
    assert.ok(retry.at >= Math.floor(r.at / 60_000) * 60_000 + 60_000, `${r.path} retried early`);
  }
});

Deno.test("okta read uses fewer workers when Okta answers 429 for its concurrent limit", async () => {
  const org = generateOktaOrg({ users: 200, groups: 40 });
  await using env = oktaEnv({
    fake: { ...org, concurrencyLimit: 2, latencyMs: 2 },
    concurrency: 8,
  });
  const read = await env.read();
  assert.deepEqual(canonical(read.snapshot), expectedSnapshot(env.fake));
  const counters = env.fake.counters();
  assert.equal(counters.rateLimited, counters.concurrencyRejected);
  assert.ok(counters.concurrencyRejected < 40, `${counters.concurrencyRejected} rejected`);
});

Deno.test("okta read throws SourceIncompleteError when a member page keeps failing", async () => {
  const org = generateOktaOrg({ users: 100, groups: 5 });
  await using env = oktaEnv({ fake: org });
  const target = org.groups.find((g) => (g.members ?? []).length > 0)?.id ?? "";
  env.fake.failAlways("500", { path: `/api/v1/groups/${target}/users` });
  await assert.rejects(env.read(), (error: unknown) => {
    assert.ok(error instanceof SourceIncompleteError);
    assert.equal(error.exitCode, 5);
    assert.match(
      error.message,
      new RegExp(
        `^Okta read incomplete: reading the members of group Group \\d+ \\(${target}\\) failed: GET /api/v1/groups/${target}/users answered 500`,
      ),
    );
    return true;
  });
  assert.equal(
    env.fake.requests().filter((r) => r.path === `/api/v1/groups/${target}/users`).length,
    6,
  );
});

Deno.test("okta read throws SourceIncompleteError for an unparsable page after the first", async () => {
  const users: OktaUserInit[] = Array.from({ length: 450 }, (_, i) => ({ login: `u${i}@x.com` }));
  await using env = oktaEnv({ fake: { users } });
  env.fake.failAlways("truncated", { path: "after=" });
  await assert.rejects(env.read(), SourceIncompleteError);
});

Deno.test("okta read stops with exit 6 when the org cannot be read at all", async () => {
  await using env = oktaEnv({ fake: { users: STATUS_USERS } });
  env.fake.failAlways("503", { path: "/api/v1/users" });
  await assert.rejects(env.read(), (error: unknown) => {
    assert.ok(error instanceof DirectoryError);
    assert.match(error.message, /^Cannot read users from Okta: GET \/api\/v1\/users answered 503/);
    return true;
  });
});

Deno.test("okta incremental read re-reads only groups whose members or name changed, and merges exactly", async () => {
  const org = generateOktaOrg({ users: 500, groups: 30 });
  await using env = oktaEnv({ fake: org });
  const base = await env.read();
  env.clock.advance(120_000);
  const [g1, g2, g3] = env.fake.groups().filter((g) => g.members.length > 1);
  assert.ok(g1 !== undefined && g2 !== undefined && g3 !== undefined);
  const newcomer = env.fake.addUser({ login: "new@example.com" });
  env.fake.addMember(g1.id, newcomer.id); // membership-only change
  env.fake.removeMember(g2.id, g2.members[0] ?? ""); // membership-only change
  env.fake.renameGroup(g3.id, "Renamed");
  env.fake.updateUser(env.fake.users()[3]?.id ?? "", { status: "SUSPENDED" });
  const added = env.fake.addGroup({ name: "Added", members: [newcomer.id] });
  env.clock.advance(1000);
  const before = env.fake.counters().requests;
  const delta = await env.read({
    mode: "incremental",
    ...(base.state ? { state: base.state } : {}),
  });
  assert.equal(delta.incremental, true);
  assert.equal(delta.delta, true);
  assert.deepEqual(
    delta.snapshot.groups.map((g) => g.externalId).sort(),
    [g1.id, g2.id, g3.id, added.id].sort(),
  );
  const memberReads = env.fake.requests().slice(before).filter((r) =>
    r.path.startsWith("/api/v1/groups/")
  );
  assert.deepEqual(
    memberReads.map((r) => r.path.split("/")[4]).sort(),
    [g1.id, g2.id, g3.id, added.id].sort(),
  );
  assert.deepEqual(canonical(merged(base.snapshot, delta)), expectedSnapshot(env.fake));
});

Deno.test("okta incremental read with nothing changed re-reads no members and says so", async () => {
  await using env = oktaEnv({ fake: generateOktaOrg({ users: 300, groups: 20 }) });
  const base = await env.read();
  env.clock.advance(300_000);
  const before = env.fake.counters().requests;
  const delta = await env.read({
    mode: "incremental",
    ...(base.state ? { state: base.state } : {}),
  });
  assert.equal(delta.delta, true);
  assert.deepEqual(delta.snapshot.groups, []);
  assert.deepEqual(delta.notices.map((n) => n.code), ["noChanges"]);
  assert.equal(
    env.fake.requests().slice(before).filter((r) => r.path.startsWith("/api/v1/groups/")).length,
    0,
  );
  assert.deepEqual(canonical(merged(base.snapshot, delta)), expectedSnapshot(env.fake));
});

Deno.test("okta incremental read reads in full when a group or a user was deleted", async () => {
  for (const remove of ["group", "user"] as const) {
    await using env = oktaEnv({ fake: generateOktaOrg({ users: 300, groups: 20 }) });
    const base = await env.read();
    env.clock.advance(60_000);
    if (remove === "group") env.fake.deleteGroup(env.fake.groups()[2]?.id ?? "");
    else {
      const gone = env.fake.users().find((u) => u.status === "DEPROVISIONED");
      env.fake.deleteUser(gone?.id ?? "");
    }
    const read = await env.read({
      mode: "incremental",
      ...(base.state ? { state: base.state } : {}),
    });
    assert.equal(read.incremental, false, remove);
    assert.deepEqual(read.notices.map((n) => n.code), ["fullReadInstead"]);
    assert.match(read.notices[0]?.message ?? "", new RegExp(`${remove}s were deleted`));
    assert.deepEqual(canonical(read.snapshot), expectedSnapshot(env.fake));
  }
});

Deno.test("okta incremental read reads in full when the native filter changed", async () => {
  await using env = oktaEnv({ fake: generateOktaOrg({ users: 50, groups: 3 }) });
  const base = await env.read();
  await using other = oktaEnv({
    fake: generateOktaOrg({ users: 50, groups: 3 }),
    sync: { userFilter: '|status eq "ACTIVE"' },
  });
  const read = await other.read({
    mode: "incremental",
    ...(base.state ? { state: base.state } : {}),
  });
  assert.equal(read.incremental, false);
  assert.match(read.notices[0]?.message ?? "", /native filter changed/);
});

Deno.test("okta read reports its progress and ends with done", async () => {
  const reports: ReadCounters[] = [];
  await using env = oktaEnv({
    fake: generateOktaOrg({ users: 450, groups: 6 }),
    progress: (counters) => reports.push(counters),
  });
  await env.read();
  const last = reports.at(-1);
  assert.deepEqual(last, {
    objects: 456,
    requests: env.fake.counters().requests,
    throttleWaits: 0,
    done: true,
  });
  assert.equal(reports.filter((r) => r.done === true).length, 1);
});
