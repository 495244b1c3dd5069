import assert from "node:assert/strict";
import {
  ConfigError,
  DirectoryError,
  ExitCode,
  SourceIncompleteError,
} from "../../../src/errors.ts";
import { applyDelta } from "../../../src/engine/delta.ts";
import type { DirectorySnapshot } from "../../../src/engine/types.ts";
import type { ReadResult } from "../../../src/sync/read.ts";
import {
  generateOneLoginAccount,
  ONELOGIN_STATUSES,
  type OneLoginRoleInit,
  type OneLoginUserInit,
} from "../../fakes/onelogin.ts";
import { emails, memberships, oneLoginEnv } from "./_env.ts";

/** A small account: every status, every email shape, three roles. */
function account(): { users: OneLoginUserInit[]; roles: OneLoginRoleInit[] } {
  const users: OneLoginUserInit[] = ONELOGIN_STATUSES.map((status, i) => ({
    id: 1100 + i,
    username: `s${status}`,
    email: `status${status}@example.com`,
    status,
    updatedAt: Date.UTC(2026, 0, 1),
  }));
  users.push(
    { id: 1010, username: "frank@example.com", email: null, updatedAt: Date.UTC(2026, 0, 1) },
    { id: 1011, username: "grace", email: null, updatedAt: Date.UTC(2026, 0, 1) },
    { id: 1012, username: "heidi@example.com", email: "heidi", updatedAt: Date.UTC(2026, 0, 1) },
    { id: 1013, username: "ivan", email: "Ivan@Example.COM", updatedAt: Date.UTC(2026, 0, 1) },
  );
  return {
    users,
    roles: [
      { id: 501, name: "Engineering", users: [1100, 1101, 1010] },
      { id: 502, name: "Sales", users: [1102, 1013, 1011] },
      { id: 503, name: "Empty", users: [] },
    ],
  };
}

/** The snapshot sorted by id, for comparing reads that may differ in order. */
function sorted(snapshot: DirectorySnapshot): DirectorySnapshot {
  return {
    users: [...snapshot.users].sort((a, b) => a.externalId.localeCompare(b.externalId)),
    groups: [...snapshot.groups]
      .map((g) => ({ ...g, memberRefs: [...g.memberRefs].sort() }))
      .sort((a, b) => a.externalId.localeCompare(b.externalId)),
    skipped: [...snapshot.skipped].sort((a, b) => a.referenceId.localeCompare(b.referenceId)),
  };
}

/** What the pipeline does with a delta read: merges it into the base snapshot. */
function merged(base: ReadResult, delta: ReadResult): DirectorySnapshot {
  assert.equal(delta.delta, true, "expected a delta read");
  return applyDelta(base.snapshot, {
    changed: delta.snapshot,
    removed: delta.removed ?? { users: [], groups: [] },
  });
}

function dataRequests(env: ReturnType<typeof oneLoginEnv>): string[] {
  return env.fake.requests()
    .filter((r) => r.path.startsWith("/api/") && !r.query.includes("limit=1&"))
    .map((r) => `${r.path}?${r.query}`);
}

Deno.test("onelogin read maps every status, each email rule and roles with their members", async () => {
  await using env = oneLoginEnv(account());
  const result = await env.read();
  assert.equal(result.incremental, false);
  assert.deepEqual(
    result.snapshot.users.map((u) => [u.externalId, u.email, u.disabled, u.deleted]),
    [
      ["1010", "frank@example.com", false, false],
      ["1012", "heidi@example.com", false, false],
      ["1013", "Ivan@Example.COM", false, false],
      ["1100", "status0@example.com", false, false],
      ["1101", "status1@example.com", false, false],
      ["1102", "status2@example.com", true, false],
      ["1103", "status3@example.com", false, false],
      ["1104", "status4@example.com", false, false],
      ["1105", "status5@example.com", false, false],
      ["1106", "status7@example.com", false, false],
      ["1107", "status8@example.com", false, false],
    ],
  );
  assert.deepEqual(result.snapshot.skipped, [
    { referenceId: "1011", kind: "user", reason: 'no email address (no email, username "grace")' },
  ]);
  assert.deepEqual(memberships(result), [
    "Empty: ",
    "Engineering: 1010,1100,1101",
    "Sales: 1011,1013,1102",
  ]);
  assert.deepEqual(result.snapshot.groups.map((g) => [g.externalId, g.refs]), [
    ["501", ["role:501"]],
    ["502", ["role:502"]],
    ["503", ["role:503"]],
  ]);
});

Deno.test("onelogin read builds username + sync.emailSuffix when sync.useEmailPrefixSuffix is on", async () => {
  await using env = oneLoginEnv(account());
  const result = await env.read({}, {
    sync: { useEmailPrefixSuffix: true, emailSuffix: "@corp.example.com" },
  });
  assert.equal(
    result.snapshot.users.find((u) => u.externalId === "1011")?.email,
    "grace@corp.example.com",
  );
  assert.deepEqual(result.snapshot.skipped, []);
});

Deno.test("onelogin read asks for 100 items a page, only the fields it uses, with a bearer token", async () => {
  await using env = oneLoginEnv(account());
  await env.read();
  const requests = env.fake.requests().map((r) =>
    `${r.method} ${r.path}?${decodeURIComponent(r.query)}`
  );
  assert.deepEqual(requests.slice(0, 5), [
    "POST /auth/oauth2/v2/token?",
    "GET /auth/rate_limit?",
    "GET /api/2/users?limit=1&fields=id",
    "GET /api/2/roles?limit=1&fields=id",
    "GET /api/2/roles?limit=100&fields=id,name,users",
  ]);
  assert.deepEqual(requests.slice(5).sort(), [
    "GET /api/2/roles/501/users?limit=100",
    "GET /api/2/roles/502/users?limit=100",
    "GET /api/2/roles/503/users?limit=100",
    "GET /api/2/users?limit=100&fields=id,username,email,status,updated_at",
  ]);
  assert.equal(env.fake.counters().tokenRequests, 1);
});

Deno.test("onelogin read follows After-Cursor through a 1,000-member role and 1,050 users", async () => {
  const generated = generateOneLoginAccount({ users: 1050, roles: 0 });
  const members = generated.users.slice(0, 1000).map((u) => u.id ?? 0);
  await using env = oneLoginEnv({
    users: generated.users,
    roles: [{ id: 900, name: "Everyone", users: members }],
  });
  const result = await env.read();
  assert.equal(result.snapshot.users.length + result.snapshot.skipped.length, 1050);
  const group = result.snapshot.groups[0];
  assert.equal(group?.memberRefs.length, 1000);
  assert.deepEqual([...group?.memberRefs ?? []].sort(), members.map((id) => `user:${id}`).sort());
  const roleCalls = env.fake.requests().filter((r) => r.path === "/api/2/roles/900/users");
  assert.equal(roleCalls.length, 10);
  assert.equal(roleCalls.filter((r) => r.query.includes("cursor=")).length, 9);
  const userPages = env.fake.requests().filter((r) =>
    r.path === "/api/2/users" && r.query.includes("limit=100")
  );
  assert.equal(userPages.length, 11);
});

Deno.test("onelogin read sends the native part of each filter as query parameters and leaves the sets to the engine", async () => {
  await using env = oneLoginEnv(account());
  const result = await env.read({}, {
    sync: {
      userFilter: "exclude:status0@example.com|email=status*",
      groupFilter: "include:engineering|name=Eng*",
    },
  });
  assert.deepEqual(emails(result), [
    "status0@example.com",
    "status1@example.com",
    "status2@example.com",
    "status3@example.com",
    "status4@example.com",
    "status5@example.com",
    "status7@example.com",
    "status8@example.com",
  ]);
  assert.deepEqual(memberships(result), ["Engineering: 1010,1100,1101"]);
  const queries = env.fake.requests().map((r) => decodeURIComponent(r.query));
  assert.ok(queries.includes("limit=100&fields=id,username,email,status,updated_at&email=status*"));
  assert.ok(queries.includes("limit=100&fields=id,name,users&name=Eng*"));
});

Deno.test("onelogin read takes a set-only filter and a native-only filter", async () => {
  await using env = oneLoginEnv(account());
  const setOnly = await env.read({}, { sync: { userFilter: "include:status1@example.com" } });
  assert.equal(setOnly.snapshot.users.length, 11, "the engine applies the set, not the provider");
  const nativeOnly = await env.read({}, { sync: { userFilter: "|user_ids=1100,1101" } });
  assert.deepEqual(emails(nativeOnly), ["status0@example.com", "status1@example.com"]);
});

Deno.test("onelogin read refuses a malformed filter with a ConfigError before any request", async () => {
  await using env = oneLoginEnv(account());
  for (
    const [setting, value] of [
      ["userFilter", "|limit=5"],
      ["userFilter", "|colour=blue"],
      ["groupFilter", "|email=a@b.c"],
      ["userFilter", "only:a@b.c"],
      ["userFilter", "|updated_since=yesterday"],
    ]
  ) {
    await assert.rejects(
      () => env.read({}, { sync: { [setting ?? ""]: value } }),
      (error) =>
        error instanceof ConfigError && error.exitCode === ExitCode.Usage &&
        error.message.includes(`sync.${setting}`),
    );
  }
  assert.equal(env.fake.counters().requests, 0);
});

Deno.test("onelogin read refuses an http:// API base that is not loopback, and builds hosts from subdomain and region", async () => {
  const { oneLoginBaseUrl } = await import("../../../src/providers/onelogin/settings.ts");
  const base = { region: "us" as const, waitForRateLimit: false };
  assert.equal(oneLoginBaseUrl({ ...base }), "https://api.us.onelogin.com");
  assert.equal(oneLoginBaseUrl({ ...base, region: "eu" }), "https://api.eu.onelogin.com");
  assert.equal(oneLoginBaseUrl({ ...base, subdomain: "acme" }), "https://acme.onelogin.com");
  assert.equal(
    oneLoginBaseUrl({ ...base, subdomain: "https://Acme.onelogin.com" }),
    "https://acme.onelogin.com",
  );
  assert.equal(
    oneLoginBaseUrl({ ...base, subdomain: "acme", apiUrl: "http://127.0.0.1:8080/" }),
    "http://127.0.0.1:8080",
  );
  assert.throws(
    () => oneLoginBaseUrl({ ...base, apiUrl: "http://onelogin.example.com" }),
    (error) => error instanceof ConfigError && error.message.includes("directory.onelogin.apiUrl"),
  );
  assert.throws(
    () => oneLoginBaseUrl({ ...base, subdomain: "acme corp" }),
    (error) =>
      error instanceof ConfigError && error.message.includes("directory.onelogin.subdomain"),
  );
});

Deno.test("onelogin read stops with exit 6 naming clientId and clientSecret when the credential is refused", async () => {
  await using env = oneLoginEnv(account());
  await assert.rejects(
    () => env.read({}, { secret: "wrong" }),
    (error) =>
      error instanceof DirectoryError && error.exitCode === ExitCode.DirectoryUnavailable &&
      error.message ===
        "OneLogin refused the API credential: POST /auth/oauth2/v2/token answered 401 Unauthorized: Unauthorized: Authentication Failure" &&
      (error.hint ?? "").includes(
        "directory.onelogin.clientId and directory.onelogin.clientSecret",
      ),
  );
  assert.equal(env.fake.requests().filter((r) => r.path.startsWith("/api/")).length, 0);
});

Deno.test("onelogin read explains a 500 from the token call as a deleted credential owner", async () => {
  await using env = oneLoginEnv(account());
  env.fake.setOwnerDeleted(true);
  await assert.rejects(
    () => env.read(),
    (error) =>
      error instanceof DirectoryError && error.exitCode === ExitCode.DirectoryUnavailable &&
      (error.hint ?? "").includes("user who created the API credential was deleted"),
  );
  assert.equal(env.fake.counters().tokenRequests, 1, "a 500 from the token call is not retried");
});

Deno.test("onelogin read stops with exit 6 naming the Read users scope for an Authentication Only credential", async () => {
  await using env = oneLoginEnv({ ...account(), scope: "Authentication Only" });
  await assert.rejects(
    () => env.read(),
    (error) =>
      error instanceof DirectoryError && error.exitCode === ExitCode.DirectoryUnavailable &&
      error.message.startsWith(
        "OneLogin refused to list users with this API credential: GET /api/2/users answered 401",
      ) &&
      (error.hint ?? "").includes("Read users (or Manage users, Read All, Manage All)"),
  );
});

Deno.test("onelogin read renews an expired token mid-read and ends with the exact directory", async () => {
  await using env = oneLoginEnv(generateOneLoginAccount({ users: 450, roles: 20 }));
  const expected = sorted((await env.read()).snapshot);
  const issued = env.fake.counters().tokensIssued;
  env.onProgress(6, () => env.fake.expireTokens());
  const result = await env.read();
  assert.deepEqual(sorted(result.snapshot), expected);
  assert.equal(env.fake.counters().tokensIssued, issued + 1);
  assert.ok(env.fake.requests().some((r) => r.status === 401), "the old token was refused");
});

Deno.test("onelogin read renews the token before it expires, without a refused call", async () => {
  await using env = oneLoginEnv({ ...account(), tokenLifetimeSeconds: 600 }, {
    onelogin: { waitForRateLimit: true },
  });
  env.fake.setRemaining(3);
  const result = await env.read();
  assert.equal(result.snapshot.groups.length, 3);
  assert.equal(env.fake.counters().tokensIssued, 2, "a new token after the hour's wait");
  assert.deepEqual(env.fake.requests().filter((r) => r.status === 401), []);
});

Deno.test("onelogin read rides out a storm of 429s and ends with the exact directory", async () => {
  await using env = oneLoginEnv(generateOneLoginAccount({ users: 450, roles: 30 }));
  const expected = sorted((await env.read()).snapshot);
  const before = env.fake.requests().length;
  env.fake.failNext(12, "429", { path: "/users?limit=100" });
  const result = await env.read();
  assert.deepEqual(sorted(result.snapshot), expected);
  assert.equal(env.fake.counters().rateLimited, 12);
  const last = env.progress.at(-1);
  assert.equal(last?.done, true);
  const sent = env.fake.requests().slice(before).filter((r) => r.path !== "/auth/oauth2/v2/token");
  assert.equal(last?.requests, sent.length, "progress counts every call of the read");
  assert.ok(sent.filter((r) => r.path === "/auth/rate_limit").length > 1, "the budget re-read");
});

Deno.test("onelogin read stops with exit 6 and the reset time before any data request when the budget cannot cover it", async () => {
  await using env = oneLoginEnv(generateOneLoginAccount({ users: 450, roles: 30 }));
  env.fake.setRemaining(20);
  await assert.rejects(
    () => env.read(),
    (error) =>
      error instanceof DirectoryError && error.exitCode === ExitCode.DirectoryUnavailable &&
      error.code === "directory_rate_limit" &&
      error.message ===
        "OneLogin's hourly API budget cannot cover this read: it needs about 36 API calls and 18 of 5000 are left until the reset at 2026-01-02 01:00:00 UTC (in 1 h)",
  );
  assert.deepEqual(dataRequests(env), []);
});

Deno.test("onelogin read waits for the reset on the injected clock with waitForRateLimit and completes", async () => {
  await using env = oneLoginEnv(generateOneLoginAccount({ users: 450, roles: 30 }), {
    onelogin: { waitForRateLimit: true },
  });
  const expected = sorted((await env.read()).snapshot);
  const start = env.clock.now();
  env.fake.setRemaining(20);
  const result = await env.read();
  assert.deepEqual(sorted(result.snapshot), expected);
  assert.ok(env.clock.now() - start >= 3_600_000 - 1000, "the read waited for the reset");
  assert.ok(
    env.logs.some((line) => line.includes("waiting for the reset at 2026-01-02 01:00:00 UTC")),
  );
  assert.equal(env.fake.counters().rateLimited, 0);
});

Deno.test("onelogin read larger than a whole hour's budget stops with exit 6, or spans resets with waitForRateLimit", async () => {
  const data = generateOneLoginAccount({ users: 450, roles: 30 });
  await using env = oneLoginEnv({ ...data, rateLimit: 20 });
  await assert.rejects(
    () => env.read(),
    (error) =>
      error instanceof DirectoryError && error.code === "directory_rate_limit" &&
      error.message ===
        "OneLogin's hourly API budget cannot cover this read: it needs about 36 API calls and the limit is 20 an hour" &&
      (error.hint ?? "").includes("directory.onelogin.waitForRateLimit true"),
  );
  assert.deepEqual(dataRequests(env), []);
  const result = await env.read({}, { onelogin: { waitForRateLimit: true } });
  assert.equal(result.counts.groups, 30);
  assert.equal(env.fake.counters().rateLimited, 0, "no call was sent into a spent budget");
});

Deno.test("onelogin read stops with exit 5 when another client spends the budget mid-read, or waits with waitForRateLimit", async () => {
  const data = generateOneLoginAccount({ users: 450, roles: 30 });
  await using env = oneLoginEnv(data);
  const expected = sorted((await env.read()).snapshot);
  env.onProgress(10, () => env.fake.setRemaining(0));
  await assert.rejects(
    () => env.read(),
    (error) =>
      error instanceof SourceIncompleteError && error.exitCode === ExitCode.SourceIncomplete &&
      error.message.startsWith(
        "OneLogin read incomplete: the hourly API budget ran out mid-read (another client of the account may be spending it); it resets at 2026-01-02 01:00:00 UTC",
      ),
  );
  env.onProgress(10, () => env.fake.setRemaining(0));
  const waited = await env.read({}, { onelogin: { waitForRateLimit: true } });
  assert.deepEqual(sorted(waited.snapshot), expected);
});

Deno.test("onelogin read stops with exit 5 when a page keeps failing, is truncated or a listing ends early", async () => {
  await using env = oneLoginEnv(generateOneLoginAccount({ users: 450, roles: 30 }));
  const stop = env.fake.failAlways("500", { path: "/api/2/roles/200007/users" });
  await assert.rejects(
    () => env.read(),
    (error) =>
      error instanceof SourceIncompleteError &&
      error.message.startsWith(
        "OneLogin read incomplete: GET /api/2/roles/200007/users answered 500 Internal Server Error",
      ),
  );
  stop();
  const truncated = env.fake.failAlways("truncated", { path: "cursor=" });
  await assert.rejects(
    () => env.read(),
    (error) => error instanceof SourceIncompleteError && error.message.includes("/api/2/users"),
  );
  truncated();
  env.fake.endEarly("/api/2/users?limit=100");
  await assert.rejects(
    () => env.read(),
    (error) =>
      error instanceof SourceIncompleteError &&
      error.message.includes("OneLogin reported 450 items but the listing ended after 100"),
  );
});

Deno.test("onelogin read leaves out a role deleted after the role listing, once OneLogin confirms it is gone", async () => {
  await using env = oneLoginEnv(generateOneLoginAccount({ users: 450, roles: 30 }));
  env.onProgress(3, () => env.fake.deleteRole(200017));
  const result = await env.read();
  assert.equal(result.counts.groups, 29);
  assert.ok(!result.snapshot.groups.some((g) => g.externalId === "200017"));
  assert.ok(!(result.state?.["onelogin.roleIds"] ?? "").split(",").includes("200017"));
  assert.deepEqual(
    env.fake.requests().filter((r) => r.path.startsWith("/api/2/roles/200017")).map((r) =>
      `${r.path} ${r.status}`
    ),
    ["/api/2/roles/200017/users 404", "/api/2/roles/200017 404"],
  );
});

Deno.test("onelogin read retries a page that fails once or arrives truncated once", async () => {
  await using env = oneLoginEnv(generateOneLoginAccount({ users: 450, roles: 30 }));
  const expected = sorted((await env.read()).snapshot);
  env.fake.failNext(1, "truncated", { path: "cursor=" });
  env.fake.failNext(1, "500", { path: "/api/2/roles/200003/users" });
  env.fake.failNext(1, "reset", { path: "/api/2/roles/200004/users" });
  const result = await env.read();
  assert.deepEqual(sorted(result.snapshot), expected);
});

Deno.test("onelogin incremental read merges to the exact directory after adds, changes and membership-only changes", async () => {
  await using env = oneLoginEnv(account());
  const base = await env.read({ mode: "incremental" });
  assert.equal(base.incremental, false, "no state yet: a full read");
  env.clock.advance(600_000);
  env.fake.addUser({ id: 1500, username: "new@example.com" });
  env.fake.updateUser(1103, { status: 2 });
  env.fake.updateUser(1012, { email: null, username: "heidi" });
  env.fake.assignRole(503, 1101);
  env.fake.unassignRole(501, 1010);
  env.fake.addRole({ id: 504, name: "Support", users: [1500] });
  const delta = await env.read({ mode: "incremental", state: base.state ?? {} });
  assert.equal(delta.incremental, true);
  assert.deepEqual(delta.snapshot.users.map((u) => u.externalId).sort(), ["1103", "1500"]);
  assert.deepEqual(delta.removed, { users: ["1012"], groups: [] });
  const full = await env.read();
  assert.deepEqual(sorted(merged(base, delta)), sorted(full.snapshot));
  const calls = env.fake.requests().filter((r) =>
    r.path === "/api/2/users" && r.query.includes("updated_since=")
  );
  assert.equal(calls.length, 2, "one counting call and one page of changed users");
});

Deno.test("onelogin incremental read drops roles deleted since, as removed ids", async () => {
  await using env = oneLoginEnv(account());
  const base = await env.read();
  env.clock.advance(600_000);
  env.fake.deleteRole(502);
  const delta = await env.read({ mode: "incremental", state: base.state ?? {} });
  assert.deepEqual(delta.removed, { users: [], groups: ["502"] });
  assert.deepEqual(delta.snapshot.users, []);
  assert.deepEqual(sorted(merged(base, delta)), sorted((await env.read()).snapshot));
});

Deno.test("onelogin incremental read reads in full with a notice when users were deleted", async () => {
  await using env = oneLoginEnv(account());
  const base = await env.read();
  env.clock.advance(600_000);
  env.fake.deleteUser(1104);
  env.fake.addUser({ id: 1501, username: "other@example.com" });
  const result = await env.read({ mode: "incremental", state: base.state ?? {} });
  assert.equal(result.incremental, false);
  assert.deepEqual(result.notices.map((n) => [n.code, n.message]), [[
    "fullReadInstead",
    "Reading the whole OneLogin account: the user counts show deletions since the last read (or users created just before it), and OneLogin cannot list deleted users",
  ]]);
  assert.ok(!result.snapshot.users.some((u) => u.externalId === "1104"));
  assert.ok(result.snapshot.users.some((u) => u.externalId === "1501"));
});

Deno.test("onelogin incremental read reads in full when the filters or email settings changed, or with a native user filter", async () => {
  await using env = oneLoginEnv(account());
  const base = await env.read();
  env.clock.advance(600_000);
  const changed = await env.read({ mode: "incremental", state: base.state ?? {} }, {
    sync: { useEmailPrefixSuffix: true, emailSuffix: "@corp.example.com" },
  });
  assert.equal(changed.incremental, false);
  assert.equal(
    changed.notices[0]?.message,
    "Reading the whole OneLogin account: the OneLogin settings, filters or email settings changed",
  );
  const filtered = { sync: { userFilter: "|email=status*" } };
  const first = await env.read({}, filtered);
  const second = await env.read({ mode: "incremental", state: first.state ?? {} }, filtered);
  assert.equal(second.incremental, false);
  assert.match(second.notices[0]?.message ?? "", /a native user filter/);
});
