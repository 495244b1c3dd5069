import assert from "node:assert/strict";
import { ConfigError, DirectoryError, SourceIncompleteError } from "../../../src/errors.ts";
import { createHttpClient, type HttpClient } from "../../../src/http/mod.ts";
import type { FakeGoogleDirectory, FakeGoogleMember } from "../../fakes/google.ts";
import { generateGoogleDirectory, GOOGLE_READONLY_SCOPES } from "../../fakes/google.ts";
import { googleEnv, membership } from "./_env.ts";

const SMALL_MEMBERSHIP = {
  Sales: ["alice@example.com", "dave@example.org"],
  Engineering: ["dave@example.org"],
  Everyone: [
    "admin@example.com",
    "alice@example.com",
    "bob@example.com",
    "carol@example.org",
    "dave@example.org",
  ],
};

Deno.test("read() maps users, statuses, groups, nesting, the CUSTOMER member and external members", async () => {
  await using env = await googleEnv();
  const read = await env.read();
  assert.deepEqual(
    read.snapshot.users.map((u) => [u.externalId, u.email, u.disabled, u.deleted]),
    [
      ["100", "admin@example.com", false, false],
      ["101", "alice@example.com", false, false],
      ["102", "bob@example.com", true, false], // suspended
      ["103", "carol@example.org", true, false], // archived
      ["104", "dave@example.org", false, false],
      ["105", "erin@example.com", false, true], // from showDeleted=true
    ],
  );
  assert.deepEqual(read.snapshot.groups.map((g) => [g.externalId, g.name, g.memberRefs]), [
    ["g1", "Sales", ["101", "g2"]], // bob is SUSPENDED: not a membership
    ["g2", "Engineering", ["104"]], // carol is ARCHIVED
    ["g3", "Everyone", ["google:customer"]],
  ]);
  assert.deepEqual(read.snapshot.skipped, [{
    referenceId: "friend@gmail.com",
    kind: "user",
    reason: "member of group sales@example.com from outside the Google Workspace account",
  }]);
  assert.equal(read.incremental, false);
  assert.deepEqual(membership(env.engine(read)), SMALL_MEMBERSHIP);
  assert.deepEqual(env.progress.at(-1), {
    objects: 6 + 3 + 4 + 2 + 1,
    requests: 7,
    throttleWaits: 0,
    done: true,
  });
});

Deno.test("read() sends the largest page sizes, fields= projections and customer alone by default", async () => {
  await using env = await googleEnv();
  await env.read();
  const requests = env.apiRequests();
  const byPath = (path: string) => requests.filter((r) => r.path === path).map((r) => r.params);
  const users = "nextPageToken,users(id,primaryEmail,suspended,archived)";
  assert.deepEqual(byPath("/users"), [
    { customer: "my_customer", maxResults: "500", fields: users },
    { customer: "my_customer", maxResults: "500", showDeleted: "true", fields: users },
  ]);
  assert.deepEqual(byPath("/groups"), [{
    customer: "my_customer",
    maxResults: "200",
    fields: "nextPageToken,groups(id,email,name,directMembersCount)",
  }]);
  const members = requests.filter((r) => r.path.endsWith("/members"));
  assert.deepEqual(members.map((r) => r.path).sort(), [
    "/groups/g1/members",
    "/groups/g2/members",
    "/groups/g3/members",
  ]);
  for (const r of members) {
    assert.deepEqual(r.params, {
      maxResults: "200",
      fields: "nextPageToken,members(id,email,type,status)",
    });
  }
});

Deno.test("read() covers every domain with a customer id, and sends no domain (bwdc lost the secondary ones)", async () => {
  await using env = await googleEnv({ google: { customer: "C0fake00" } });
  const read = await env.read();
  assert.deepEqual(read.snapshot.users.map((u) => u.email), [
    "admin@example.com",
    "alice@example.com",
    "bob@example.com",
    "carol@example.org",
    "dave@example.org",
    "erin@example.com",
  ]);
  assert.deepEqual(read.snapshot.groups.map((g) => g.name), ["Sales", "Engineering", "Everyone"]);
  for (const r of env.apiRequests().filter((r) => !r.path.endsWith("/members"))) {
    assert.equal(r.params["customer"], "C0fake00");
    assert.equal(r.params["domain"], undefined);
  }
});

Deno.test("read() narrows to one domain only when directory.google.domain is set, and says so", async () => {
  await using env = await googleEnv({ google: { domain: "Example.org" } });
  const read = await env.read();
  assert.deepEqual(read.snapshot.users.map((u) => u.email), [
    "carol@example.org",
    "dave@example.org",
  ]);
  assert.deepEqual(read.snapshot.groups.map((g) => [g.name, g.memberRefs]), [
    ["Engineering", ["104"]],
  ]);
  for (const r of env.apiRequests().filter((r) => !r.path.endsWith("/members"))) {
    assert.equal(r.params["domain"], "example.org");
    assert.equal(r.params["customer"], undefined);
  }
  assert.deepEqual(env.logs, [
    "info: Google: reading only the domain example.org (directory.google.domain); unset it to read every domain of the account",
  ]);
});

Deno.test("read() leaves USER members of other domains to the engine when a domain narrows the read", async () => {
  await using env = await googleEnv({ google: { domain: "example.com" } });
  const read = await env.read();
  // Sales (example.com) lists dave's group eng@example.org, which is outside the read: the
  // engine reports it unresolved rather than roster calling it outside the account.
  assert.deepEqual(read.snapshot.groups.map((g) => [g.name, g.memberRefs]), [
    ["Sales", ["101", "g2"]],
    ["Everyone", ["google:customer"]],
  ]);
  const data = env.engine(read);
  assert.deepEqual(data.unresolved, [{ groupReferenceId: "g1", memberRef: "g2" }]);
});

Deno.test("read() sends the native query of each filter and leaves the sets to the engine", async () => {
  const cases: {
    sync: Record<string, string>;
    users: string[];
    groups: Record<string, string[]>;
    userQuery?: string;
    groupQuery?: string;
  }[] = [
    {
      sync: { userFilter: "include:alice@example.com,dave@example.org" },
      users: ["alice@example.com", "dave@example.org"],
      groups: {
        Sales: ["alice@example.com", "dave@example.org"],
        Engineering: ["dave@example.org"],
        Everyone: ["alice@example.com", "dave@example.org"],
      },
    },
    {
      sync: { userFilter: "exclude:admin@example.com" },
      users: ["alice@example.com", "bob@example.com", "carol@example.org", "dave@example.org"],
      groups: { ...SMALL_MEMBERSHIP, Everyone: SMALL_MEMBERSHIP.Everyone.slice(1) },
    },
    {
      sync: { userFilter: "|orgUnitPath='/Sales'" },
      userQuery: "orgUnitPath='/Sales'",
      users: ["alice@example.com", "dave@example.org"],
      groups: {
        Sales: ["alice@example.com", "dave@example.org"],
        Engineering: ["dave@example.org"],
        Everyone: ["alice@example.com", "dave@example.org"],
      },
    },
    {
      sync: { userFilter: "exclude:alice@example.com|isSuspended=false" },
      userQuery: "isSuspended=false",
      users: ["admin@example.com", "carol@example.org", "dave@example.org"],
      groups: {
        Sales: ["dave@example.org"],
        Engineering: ["dave@example.org"],
        Everyone: ["admin@example.com", "carol@example.org", "dave@example.org"],
      },
    },
    {
      sync: { groupFilter: "include:Engineering" },
      // Users are kept when they are direct members of a kept group (as bwdc does); carol is
      // archived, so her membership is not one.
      users: ["dave@example.org"],
      groups: { Engineering: ["dave@example.org"] },
    },
    {
      sync: { groupFilter: "exclude:Everyone|email:sales*" },
      groupQuery: "email:sales*",
      users: ["alice@example.com"],
      groups: { Sales: ["alice@example.com"] },
    },
  ];
  for (const c of cases) {
    await using env = await googleEnv({ sync: c.sync });
    const read = await env.read();
    const data = env.engine(read);
    const label = JSON.stringify(c.sync);
    assert.deepEqual(data.users.filter((u) => !u.deleted).map((u) => u.email), c.users, label);
    assert.deepEqual(membership(data), c.groups, label);
    const requests = env.apiRequests();
    for (const r of requests.filter((r) => r.path === "/users")) {
      assert.equal(r.params["query"], c.userQuery, label);
    }
    for (const r of requests.filter((r) => r.path === "/groups")) {
      assert.equal(r.params["query"], c.groupQuery, label);
    }
  }
});

Deno.test("read() refuses a malformed filter before any request", async () => {
  for (
    const [sync, message] of [
      [{ userFilter: "include:" }, 'Invalid sync.userFilter "include:": include: lists no values'],
      [
        { userFilter: "|department=Sales" },
        'Invalid sync.userFilter "department=Sales": department is not a field of Google\'s user search',
      ],
      [
        { groupFilter: "only:Sales" },
        'Invalid sync.groupFilter "only:Sales": it does not start with include: or exclude:',
      ],
    ] as const
  ) {
    await using env = await googleEnv({ sync });
    await assert.rejects(env.read(), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, message);
      return true;
    });
    assert.equal(env.fake.counters().requests, 0);
  }
});

Deno.test("read() turns Google's refusal of a query into a ConfigError naming the filter", async () => {
  await using env = await googleEnv({ sync: { userFilter: "|externalId=42" } });
  await assert.rejects(env.read(), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(
      error.message,
      /^Google refused the query of sync\.userFilter "externalId=42": GET \/admin\/directory\/v1\/users answered 400 Bad Request: invalid: Invalid Input/,
    );
    return true;
  });
});

function bigGroup(size: number): FakeGoogleDirectory {
  const users = Array.from({ length: size }, (_, i) => ({
    id: String(5000 + i),
    primaryEmail: `u${i}@example.com`,
  }));
  return {
    users: [{ id: "1", primaryEmail: "admin@example.com", isAdmin: true }, ...users],
    groups: [{
      id: "big",
      email: "big@example.com",
      name: "Big",
      members: users.map((u) => ({ key: u.id })),
    }],
  };
}

Deno.test("read() follows page tokens through a 2,000-member group and 2,001 users", async () => {
  await using env = await googleEnv({ fake: { directory: bigGroup(2000) } });
  const read = await env.read();
  assert.equal(read.snapshot.users.length, 2001);
  const group = read.snapshot.groups[0];
  assert.equal(group?.memberRefs.length, 2000);
  assert.deepEqual(group?.memberRefs.slice(0, 2), ["5000", "5001"]);
  assert.equal(group?.memberRefs.at(-1), "6999");
  const requests = env.apiRequests();
  assert.equal(requests.filter((r) => r.path === "/groups/big/members").length, 10);
  assert.equal(requests.filter((r) => r.path === "/users" && !r.params["showDeleted"]).length, 5);
});

Deno.test("read() skips members.list for groups whose directMembersCount is 0", async () => {
  await using env = await googleEnv({
    fake: {
      directory: {
        users: [{ id: "1", primaryEmail: "admin@example.com", isAdmin: true }],
        groups: [{ id: "empty", email: "empty@example.com", name: "Empty" }],
      },
    },
  });
  const read = await env.read();
  assert.deepEqual(read.snapshot.groups, [
    { referenceId: "empty", externalId: "empty", name: "Empty", memberRefs: [] },
  ]);
  assert.equal(env.apiRequests().filter((r) => r.path.endsWith("/members")).length, 0);
});

Deno.test("read() leaves nested groups with a cycle to the engine, which flattens them", async () => {
  const member = (key: string): FakeGoogleMember => ({ key });
  await using env = await googleEnv({
    fake: {
      directory: {
        users: [
          { id: "1", primaryEmail: "admin@example.com", isAdmin: true },
          { id: "2", primaryEmail: "ann@example.com" },
          { id: "3", primaryEmail: "ben@example.com" },
          { id: "4", primaryEmail: "cid@example.com" },
        ],
        groups: [
          {
            id: "ga",
            email: "a@example.com",
            name: "A",
            members: [member("2"), member("b@example.com")],
          },
          {
            id: "gb",
            email: "b@example.com",
            name: "B",
            members: [member("3"), member("c@example.com")],
          },
          {
            id: "gc",
            email: "c@example.com",
            name: "C",
            members: [member("4"), member("a@example.com")],
          },
        ],
      },
    },
  });
  const read = await env.read();
  assert.deepEqual(read.snapshot.groups.map((g) => [g.name, g.memberRefs]), [
    ["A", ["2", "gb"]],
    ["B", ["3", "gc"]],
    ["C", ["4", "ga"]],
  ]);
  const all = ["ann@example.com", "ben@example.com", "cid@example.com"];
  assert.deepEqual(membership(env.engine(read)), { A: all, B: all, C: all });
  for (const r of env.apiRequests()) assert.equal(r.params["includeDerivedMembership"], undefined);
});

Deno.test("read() skips users without a primary email and external USER members, with reasons", async () => {
  await using env = await googleEnv({
    fake: {
      directory: {
        users: [
          { id: "1", primaryEmail: "admin@example.com", isAdmin: true },
          { id: "2", primaryEmail: null },
        ],
        groups: [{
          id: "g",
          email: "g@example.com",
          name: "G",
          members: [{ key: "1" }, { key: "guest@other.net" }, { key: "x@y.org", type: "EXTERNAL" }],
        }],
      },
    },
  });
  const read = await env.read();
  assert.deepEqual(read.snapshot.users.map((u) => u.externalId), ["1"]);
  assert.deepEqual(read.snapshot.groups[0]?.memberRefs, ["1"]);
  assert.deepEqual(read.snapshot.skipped, [
    { referenceId: "2", kind: "user", reason: "no primary email address" },
    {
      referenceId: "guest@other.net",
      kind: "user",
      reason: "member of group g@example.com from outside the Google Workspace account",
    },
    {
      referenceId: "x@y.org",
      kind: "user",
      reason: "member of group g@example.com from outside the Google Workspace account",
    },
  ]);
});

Deno.test("read() with incremental mode reads in full and says why", async () => {
  await using env = await googleEnv();
  const read = await env.read("incremental");
  assert.equal(read.incremental, false);
  assert.deepEqual(read.notices, [{
    kind: "notice",
    code: "fullReadInstead",
    level: "info",
    message:
      "Google: reading the whole directory (the Directory API has no change feed for groups and memberships)",
  }]);
  assert.equal(read.snapshot.users.length, 6);
});

const MEDIUM = generateGoogleDirectory({ users: 1200, groups: 120, membersPerGroup: 30 });

Deno.test("read() rides out a per-user quota storm (403 userRateLimitExceeded) to the exact directory", async () => {
  await using reference = await googleEnv({ fake: { directory: MEDIUM } });
  const expected = await reference.read();
  await using env = await googleEnv({ fake: { directory: MEDIUM, userQuotaPerMinute: 40 } });
  const read = await env.read();
  assert.deepEqual(read.snapshot, expected.snapshot);
  const counters = env.fake.counters();
  assert.ok(counters.throttled >= 1, "the quota must have been hit");
  // After the first refusal the budget follows the quota: a few refusals, not a storm.
  assert.ok(counters.throttled <= 20, `throttled ${counters.throttled} times`);
  const requests = env.apiRequests();
  // Every listing page was read once: as many answered requests as without the quota.
  assert.equal(
    requests.filter((r) => r.status === 200).length,
    reference.apiRequests().length,
  );
  assert.deepEqual(
    [...new Set(requests.filter((r) => r.status !== 200).map((r) => r.status))],
    [403],
  );
});

Deno.test("read() halves its concurrency on 429 rateLimitExceeded and still ends in the exact directory", async () => {
  await using reference = await googleEnv({ fake: { directory: MEDIUM } });
  const expected = await reference.read();
  await using env = await googleEnv({
    fake: { directory: MEDIUM, maxConcurrent: 3, latencyMs: 2 },
  });
  const read = await env.read();
  assert.deepEqual(read.snapshot, expected.snapshot);
  const counters = env.fake.counters();
  assert.ok(counters.throttled >= 1, "the concurrency cap must have been hit");
  assert.ok(counters.throttled <= 40, `throttled ${counters.throttled} times`);
});

Deno.test("read() retries injected 500/503, resets, truncated bodies and quota answers", async () => {
  await using env = await googleEnv();
  env.fake.failNext(1, "500", { path: "/users" });
  env.fake.failNext(1, "reset", { path: "/groups/g1/members" });
  env.fake.failNext(1, "truncated", { path: "/groups" });
  env.fake.failNext(1, "503", { path: "/groups/g3/members" });
  env.fake.failNext(1, "quotaExceeded", { path: "/groups/g2/members" });
  const read = await env.read();
  assert.deepEqual(membership(env.engine(read)), SMALL_MEMBERSHIP);
  assert.equal(env.fake.counters().faults, 5);
});

Deno.test("read() throws SourceIncompleteError when a later page keeps failing", async () => {
  await using env = await googleEnv({ fake: { directory: bigGroup(700) } });
  env.fake.failNext(Infinity, "503", { path: "/users", page: 2 });
  await assert.rejects(env.read(), (error: unknown) => {
    assert.ok(error instanceof SourceIncompleteError);
    assert.match(
      error.message,
      /^Google directory read incomplete: listing (users|deleted users) failed: GET \/admin\/directory\/v1\/users answered 503 Service Unavailable: backendError: The service is currently unavailable \(8 attempts in [\d.]+ s\)$/,
    );
    assert.match(error.hint ?? "", /^Nothing was sent/);
    return true;
  });
});

Deno.test("read() throws DirectoryError when Google keeps failing before any data", async () => {
  await using env = await googleEnv();
  env.fake.failNext(Infinity, "503", { path: "/admin/directory/v1/" });
  await assert.rejects(env.read(), (error: unknown) => {
    assert.ok(error instanceof DirectoryError);
    assert.match(
      error.message,
      /^Cannot read the Google directory: GET \/admin\/directory\/v1\/users answered 503/,
    );
    return true;
  });
});

Deno.test("read() names the client id and the three scopes when delegation is not granted", async () => {
  await using env = await googleEnv({ fake: { delegatedScopes: null, clientId: "1170001" } });
  await assert.rejects(env.read(), (error: unknown) => {
    assert.ok(error instanceof DirectoryError);
    assert.equal(error.code, "google_delegation");
    assert.equal(
      error.message,
      "Google refused domain-wide delegation for roster-sync@roster-test.iam.gserviceaccount.com: POST /token answered 401 Unauthorized: unauthorized_client: Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested",
    );
    assert.equal(
      error.hint,
      "In the Google Admin console (admin.google.com): Security > Access and data control > API controls > Domain-wide delegation, add or edit client ID 1170001 (service account roster-sync@roster-test.iam.gserviceaccount.com) with exactly these OAuth scopes: " +
        GOOGLE_READONLY_SCOPES.join(","),
    );
    return true;
  });
  assert.equal(env.fake.counters().apiRequests, 0);
});

Deno.test("read() reports a scope missing from the delegation as a delegation error naming the scopes", async () => {
  await using env = await googleEnv({
    fake: { delegatedScopes: GOOGLE_READONLY_SCOPES.slice(0, 2) },
  });
  await assert.rejects(env.read(), (error: unknown) => {
    assert.ok(error instanceof DirectoryError);
    assert.equal(error.code, "google_delegation");
    assert.match(error.hint ?? "", /admin\.directory\.group\.member\.readonly$/);
    return true;
  });
});

Deno.test("read() explains a non-admin subject and an unknown one", async () => {
  {
    await using env = await googleEnv({ google: { adminUser: "alice@example.com" } });
    await assert.rejects(env.read(), (error: unknown) => {
      assert.ok(error instanceof DirectoryError);
      assert.equal(error.code, "google_forbidden");
      assert.match(
        error.message,
        /^Google refused to list (users|deleted users|groups) as alice@example\.com: GET \/admin\/directory\/v1\/(users|groups) answered 403 Forbidden: forbidden: Not Authorized to access this resource\/api$/,
      );
      assert.match(
        error.hint ?? "",
        /^Set directory\.google\.adminUser to a super administrator's email \(it is alice@example\.com\)/,
      );
      return true;
    });
  }
  {
    await using env = await googleEnv({ google: { adminUser: "nobody@example.com" } });
    await assert.rejects(env.read(), (error: unknown) => {
      assert.ok(error instanceof DirectoryError);
      assert.equal(error.code, "google_admin_user");
      assert.equal(
        error.message,
        "Google does not know the admin user nobody@example.com: POST /token answered 400 Bad Request: invalid_grant: Invalid email or User ID",
      );
      return true;
    });
  }
});

Deno.test("read() accepts the bare PEM with clientEmail, and refuses it without", async () => {
  {
    await using env = await googleEnv({ secret: "pem" });
    assert.equal((await env.read()).snapshot.users.length, 6);
  }
  {
    await using env = await googleEnv({ secret: "pem", google: { clientEmail: null } });
    await assert.rejects(env.read(), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(
        error.message,
        "Google service account incomplete: directory.google.clientEmail is not set",
      );
      return true;
    });
    assert.equal(env.fake.counters().requests, 0);
  }
});

Deno.test("read() refuses plain http:// to a host that is not loopback", async () => {
  await using env = await googleEnv({ google: { apiUrl: "http://admin.example.net" } });
  await assert.rejects(env.read(), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(
      error.message,
      "Invalid directory.google.apiUrl: plain http:// is only allowed for a loopback host, not admin.example.net",
    );
    return true;
  });
});

Deno.test("read() fetches a new token once when the API refuses the current one (401)", async () => {
  const http = createHttpClient();
  let spoiled = 0;
  const spoiling: HttpClient = {
    ...http,
    json: (request) => {
      const url = String(request.url);
      if (url.includes("/admin/directory/v1/users") && spoiled === 0) {
        spoiled++;
        return http.json({
          ...request,
          headers: { ...request.headers, authorization: "Bearer ya29.revoked" },
        });
      }
      return http.json(request);
    },
  };
  await using env = await googleEnv({ tuning: { http: spoiling } });
  const read = await env.read();
  http.close();
  assert.equal(read.snapshot.users.length, 6);
  assert.equal(env.fake.counters().tokenRequests, 2);
  assert.equal(env.apiRequests().filter((r) => r.status === 401).length, 1);
});
