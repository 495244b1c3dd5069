import assert from "node:assert/strict";
import { type FakeOkta, generateOktaOrg, OKTA_STATUSES, startFakeOkta } from "./okta.ts";
import { virtualClock } from "./_clock.ts";
import { isRecord } from "../../src/guards.ts";

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

async function get(
  okta: FakeOkta,
  pathOrUrl: string,
  options: { token?: string; scheme?: string; contentType?: string } = {},
): Promise<Answer> {
  const url = pathOrUrl.startsWith("http") ? pathOrUrl : `${okta.orgUrl}${pathOrUrl}`;
  const headers: Record<string, string> = {
    authorization: `${options.scheme ?? "SSWS"} ${options.token ?? okta.token}`,
    accept: "application/json",
  };
  if (options.contentType !== undefined) headers["content-type"] = options.contentType;
  const response = await fetch(url, { headers });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: response.status, headers: response.headers, text, json };
}

/** The objects of a JSON array body (fails the test for anything else). */
function items(json: unknown): Record<string, unknown>[] {
  assert.ok(
    Array.isArray(json) && json.every(isRecord),
    `expected objects: ${JSON.stringify(json)}`,
  );
  return json.filter(isRecord);
}

/** The value at a path of nested objects, or undefined. */
function at(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) current = isRecord(current) ? current[key] : undefined;
  return current;
}

function links(headers: Headers): Record<string, string> {
  const result: Record<string, string> = {};
  for (const part of (headers.get("link") ?? "").split(/,(?=\s*<)/)) {
    const match = /<([^>]+)>;\s*rel="([^"]+)"/.exec(part);
    if (match !== null) result[match[2] ?? ""] = match[1] ?? "";
  }
  return result;
}

function ids(json: unknown): string[] {
  return items(json).map((item) => String(item.id));
}

/** Follows `rel="next"` from `path`; returns every page's ids. */
async function all(okta: FakeOkta, path: string): Promise<string[][]> {
  const pages: string[][] = [];
  let next: string | undefined = `${okta.orgUrl}${path}`;
  while (next !== undefined) {
    const answer = await get(okta, next);
    assert.equal(answer.status, 200, answer.text);
    pages.push(ids(answer.json));
    next = links(answer.headers).next;
  }
  return pages;
}

const q = (expression: string) => encodeURIComponent(expression);

Deno.test("fake okta refuses a bad token with 401 E0000011 and a token without permission with 403 E0000006", async () => {
  const okta = startFakeOkta({ users: [{ login: "a@example.com" }] });
  try {
    const bad = await get(okta, "/api/v1/users", { token: "wrong" });
    assert.equal(bad.status, 401);
    assert.deepEqual(
      [Reflect.get(Object(bad.json), "errorCode"), Reflect.get(Object(bad.json), "errorSummary")],
      ["E0000011", "Invalid token provided"],
    );
    const none = await fetch(`${okta.orgUrl}/api/v1/users`);
    assert.equal(none.status, 401);
    await none.body?.cancel();
    const forbidden = await get(okta, "/api/v1/users", { token: okta.noPermissionToken });
    assert.equal(forbidden.status, 403);
    assert.equal(Reflect.get(Object(forbidden.json), "errorCode"), "E0000006");
    assert.deepEqual(Reflect.get(Object(forbidden.json), "errorCauses"), []);
    const bearer = await get(okta, "/api/v1/users", { scheme: "Bearer" });
    assert.equal(bearer.status, 200);
  } finally {
    await okta.close();
  }
});

Deno.test("fake okta pages users 200 at most with absolute self and next links and no next on the last page", async () => {
  const org = generateOktaOrg({ users: 450, groups: 0 });
  const okta = startFakeOkta({ users: org.users });
  try {
    const first = await get(okta, "/api/v1/users?limit=500");
    assert.equal(first.status, 200);
    assert.equal(ids(first.json).length, 200);
    const link = links(first.headers);
    assert.equal(link.self, `${okta.orgUrl}/api/v1/users?limit=500`);
    assert.ok(link.next?.startsWith(`${okta.orgUrl}/api/v1/users?limit=200&after=`));
    const pages = await all(okta, "/api/v1/users");
    const visible = org.users.filter((u) => u.status !== "DEPROVISIONED").map((u) => u.id);
    assert.deepEqual(pages.map((p) => p.length), [200, 200, visible.length - 400]);
    assert.deepEqual(pages.flat(), visible);
  } finally {
    await okta.close();
  }
});

Deno.test("fake okta leaves DEPROVISIONED users out unless a filter or search is present", async () => {
  const okta = startFakeOkta({
    users: [
      { id: "00u1", status: "ACTIVE" },
      { id: "00u2", status: "DEPROVISIONED" },
      { id: "00u3", status: "SUSPENDED" },
    ],
  });
  try {
    assert.deepEqual(ids((await get(okta, "/api/v1/users")).json), ["00u1", "00u3"]);
    assert.deepEqual(ids((await get(okta, "/api/v1/users?filter=")).json), ["00u1", "00u3"]);
    assert.deepEqual(
      ids((await get(okta, `/api/v1/users?filter=${q('status eq "DEPROVISIONED"')}`)).json),
      ["00u2"],
    );
    assert.deepEqual(
      ids(
        (await get(okta, `/api/v1/users?filter=${q('lastUpdated gt "2000-01-01T00:00:00.000Z"')}`))
          .json,
      ),
      ["00u1", "00u2", "00u3"],
    );
    assert.deepEqual(
      ids((await get(okta, `/api/v1/users?search=${q('id sw "00u"')}`)).json),
      ["00u1", "00u2", "00u3"],
    );
  } finally {
    await okta.close();
  }
});

Deno.test("fake okta filter evaluates and, or and parentheses on status and lastUpdated, case-sensitively", async () => {
  const clock = virtualClock();
  const okta = startFakeOkta({
    now: clock.now,
    users: OKTA_STATUSES.map((status, i) => ({
      id: `00u${i}`,
      status,
      login: `u${i}@example.com`,
      lastUpdated: Date.UTC(2026, 0, 1 + i),
    })),
  });
  try {
    const expression =
      '(status eq "SUSPENDED" or status eq "LOCKED_OUT" or status eq "ACTIVE") and lastUpdated gt "2026-01-03T00:00:00.000Z"';
    assert.deepEqual(
      ids((await get(okta, `/api/v1/users?filter=${q(expression)}`)).json),
      ["00u5", "00u6"],
    );
    assert.deepEqual(
      ids((await get(okta, `/api/v1/users?filter=${q('status eq "active"')}`)).json),
      [],
    );
    assert.deepEqual(
      ids((await get(okta, `/api/v1/users?filter=${q('profile.email eq "u3@example.com"')}`)).json),
      ["00u3"],
    );
  } finally {
    await okta.close();
  }
});

Deno.test("fake okta rejects ne, not, an unknown attribute and sw in filter with 400 E0000001", async () => {
  const okta = startFakeOkta();
  try {
    for (
      const expression of [
        'status ne "ACTIVE"',
        'not status eq "ACTIVE"',
        'department eq "x"',
        'profile.login sw "a"',
        'status eq "ACTIVE" and',
        'status eq "ACTIVE',
      ]
    ) {
      const answer = await get(okta, `/api/v1/users?filter=${q(expression)}`);
      assert.equal(answer.status, 400, expression);
      assert.equal(Reflect.get(Object(answer.json), "errorCode"), "E0000001", expression);
    }
    const search = await get(okta, `/api/v1/users?search=${q('status ne "ACTIVE"')}`);
    assert.equal(search.status, 400);
  } finally {
    await okta.close();
  }
});

Deno.test("fake okta search matches profile attributes with sw and co case-insensitively; q matches name or email prefixes without paging", async () => {
  const okta = startFakeOkta({
    users: [
      { id: "00u1", login: "Ann@example.com", firstName: "Ann", lastName: "Lee" },
      { id: "00u2", login: "bob@example.com", firstName: "Bob", lastName: "Annan" },
      { id: "00u3", login: "cy@example.com", firstName: "Cy", status: "DEPROVISIONED" },
      { id: "00u4", login: "annie@example.com", firstName: "X", status: "DEPROVISIONED" },
    ],
  });
  try {
    assert.deepEqual(
      ids((await get(okta, `/api/v1/users?search=${q('profile.login sw "ann"')}`)).json),
      ["00u1", "00u4"],
    );
    assert.deepEqual(
      ids((await get(okta, `/api/v1/users?search=${q('profile.lastName co "NNA"')}`)).json),
      ["00u2"],
    );
    const prefix = await get(okta, "/api/v1/users?q=ann");
    assert.deepEqual(ids(prefix.json), ["00u1", "00u2"]);
    assert.equal(links(prefix.headers).next, undefined);
  } finally {
    await okta.close();
  }
});

Deno.test("fake okta q defaults to 10 users", async () => {
  const okta = startFakeOkta({ users: generateOktaOrg({ users: 30, groups: 0 }).users });
  try {
    const answer = await get(okta, "/api/v1/users?q=user");
    assert.equal(ids(answer.json).length, 10);
    assert.equal(links(answer.headers).next, undefined);
  } finally {
    await okta.close();
  }
});

Deno.test("fake okta leaves profile.email out for a user without email, and credentials out on omitCredentials", async () => {
  const okta = startFakeOkta({ users: [{ id: "00u1", login: "svc-build", email: null }] });
  try {
    const plain = await get(okta, "/api/v1/users");
    const [user] = items(plain.json);
    assert.deepEqual(user?.profile, {
      firstName: "User",
      lastName: "1",
      mobilePhone: null,
      secondEmail: null,
      login: "svc-build",
    });
    assert.ok(user !== undefined && "credentials" in user);
    const slim = await get(okta, "/api/v1/users", {
      contentType:
        "application/json; okta-response=omitCredentials,omitCredentialsLinks,omitTransitioningToStatus",
    });
    const [lean] = items(slim.json);
    assert.ok(lean !== undefined && !("credentials" in lean));
    assert.equal(
      okta.requests()[1]?.headers["content-type"]?.includes("omitCredentials"),
      true,
    );
  } finally {
    await okta.close();
  }
});

Deno.test("fake okta lists groups with types, stats and filters on lastMembershipUpdated", async () => {
  const clock = virtualClock(Date.UTC(2026, 0, 1));
  const okta = startFakeOkta({
    now: clock.now,
    users: [{ id: "00u1" }, { id: "00u2" }],
    groups: [
      { id: "00g1", name: "Everyone", type: "BUILT_IN", members: ["00u1", "00u2"] },
      { id: "00g2", name: "Sales", members: ["00u1"] },
      { id: "00g3", name: "App Users", type: "APP_GROUP" },
    ],
  });
  try {
    const listed = await get(okta, "/api/v1/groups?expand=stats");
    assert.deepEqual(
      items(listed.json).map((g) => [
        g.id,
        g.type,
        at(g, "profile", "name"),
        at(g, "_embedded", "stats", "usersCount"),
      ]),
      [
        ["00g1", "BUILT_IN", "Everyone", 2],
        ["00g2", "OKTA_GROUP", "Sales", 1],
        ["00g3", "APP_GROUP", "App Users", 0],
      ],
    );
    const plain = await get(okta, "/api/v1/groups");
    assert.ok(!("_embedded" in (items(plain.json)[0] ?? {})));

    clock.advance(60_000);
    okta.addMember("00g2", "00u2");
    const sales = okta.groups().find((g) => g.id === "00g2");
    assert.equal(sales?.lastUpdated, Date.UTC(2026, 0, 1));
    assert.equal(sales?.lastMembershipUpdated, Date.UTC(2026, 0, 1) + 60_000);
    const since = '"2026-01-01T00:00:30.000Z"';
    assert.deepEqual(
      ids((await get(okta, `/api/v1/groups?filter=${q(`lastUpdated gt ${since}`)}`)).json),
      [],
    );
    assert.deepEqual(
      ids(
        (await get(okta, `/api/v1/groups?filter=${q(`lastMembershipUpdated gt ${since}`)}`)).json,
      ),
      ["00g2"],
    );
    assert.deepEqual(
      ids((await get(okta, `/api/v1/groups?filter=${q('type eq "APP_GROUP"')}`)).json),
      ["00g3"],
    );
    assert.deepEqual(
      ids((await get(okta, `/api/v1/groups?search=${q('profile.name sw "s"')}`)).json),
      ["00g2"],
    );
    assert.deepEqual(ids((await get(okta, "/api/v1/groups?q=app")).json), ["00g3"]);
    clock.advance(60_000);
    okta.renameGroup("00g3", "Apps");
    assert.equal(okta.groups()[2]?.lastUpdated, Date.UTC(2026, 0, 1) + 120_000);
  } finally {
    await okta.close();
  }
});

Deno.test("fake okta pages a 1,500-member group 1000 at most and answers 404 E0000007 for an unknown group", async () => {
  const org = generateOktaOrg({ users: 2000, groups: 1 });
  const okta = startFakeOkta(org);
  try {
    const members = org.groups[0]?.members ?? [];
    assert.equal(members.length, 1500);
    const pages = await all(okta, `/api/v1/groups/${org.groups[0]?.id}/users?limit=5000`);
    assert.deepEqual(pages.map((p) => p.length), [1000, 500]);
    assert.deepEqual(pages.flat(), [...members].sort());
    const missing = await get(okta, "/api/v1/groups/00gmissing/users");
    assert.equal(missing.status, 404);
    assert.equal(Reflect.get(Object(missing.json), "errorCode"), "E0000007");
  } finally {
    await okta.close();
  }
});

Deno.test("fake okta spends one per-minute window per bucket and answers 429 E0000047 with the epoch reset", async () => {
  const clock = virtualClock(Date.UTC(2026, 0, 1, 0, 0, 10));
  const okta = startFakeOkta({
    now: clock.now,
    rateLimits: { users: 2, groups: 5 },
    users: [{ id: "00u1" }],
  });
  try {
    const first = await get(okta, "/api/v1/users");
    assert.deepEqual(
      ["limit", "remaining", "reset"].map((k) => first.headers.get(`x-rate-limit-${k}`)),
      ["2", "1", String(Date.UTC(2026, 0, 1, 0, 1) / 1000)],
    );
    assert.equal(first.headers.get("date"), new Date(clock.now()).toUTCString());
    assert.ok((first.headers.get("x-okta-request-id") ?? "") !== "");
    assert.equal((await get(okta, "/api/v1/users")).status, 200);
    const limited = await get(okta, "/api/v1/users");
    assert.equal(limited.status, 429);
    assert.deepEqual(Reflect.get(Object(limited.json), "errorCode"), "E0000047");
    assert.equal(
      Reflect.get(Object(limited.json), "errorSummary"),
      "API call exceeded rate limit due to too many requests.",
    );
    assert.equal(limited.headers.get("x-rate-limit-remaining"), "0");
    assert.equal(
      limited.headers.get("x-rate-limit-reset"),
      String(Date.UTC(2026, 0, 1, 0, 1) / 1000),
    );
    const groups = await get(okta, "/api/v1/groups");
    assert.equal(groups.status, 200);
    assert.equal(groups.headers.get("x-rate-limit-remaining"), "4");
    clock.advance(50_000);
    const again = await get(okta, "/api/v1/users");
    assert.equal(again.status, 200);
    assert.equal(again.headers.get("x-rate-limit-remaining"), "1");
    const counters = okta.counters();
    assert.deepEqual(
      [counters.requests, counters.rateLimited, counters.byBucket.users, counters.byBucket.groups],
      [5, 1, 4, 1],
    );
  } finally {
    await okta.close();
  }
});

Deno.test("fake okta answers 429 with the concurrent values when more requests are in flight than the cap", async () => {
  const clock = virtualClock(Date.UTC(2026, 0, 1));
  const okta = startFakeOkta({ now: clock.now, concurrencyLimit: 2, users: [{ id: "00u1" }] });
  try {
    okta.hold();
    const a = get(okta, "/api/v1/users");
    const b = get(okta, "/api/v1/users");
    while (okta.held() < 2) await new Promise((resolve) => setTimeout(resolve, 1));
    const c = await get(okta, "/api/v1/groups");
    assert.equal(c.status, 429);
    assert.equal(Reflect.get(Object(c.json), "errorCode"), "E0000047");
    assert.deepEqual(
      ["limit", "remaining", "reset"].map((k) => c.headers.get(`x-rate-limit-${k}`)),
      ["2", "0", String(Date.UTC(2026, 0, 1) / 1000 + 1)],
    );
    okta.release();
    assert.deepEqual([(await a).status, (await b).status], [200, 200]);
    assert.equal((await get(okta, "/api/v1/groups")).status, 200);
    const counters = okta.counters();
    assert.deepEqual(
      [counters.peakConcurrency, counters.concurrencyRejected, counters.rateLimited],
      [3, 1, 1],
    );
  } finally {
    await okta.close();
  }
});

Deno.test("fake okta injects 500, 503, 429, truncated and aborted bodies and connection resets", async () => {
  const okta = startFakeOkta({ users: [{ id: "00u1" }] });
  try {
    okta.failNext(1, "500");
    okta.failNext(1, "503");
    okta.failNext(1, "429");
    okta.failNext(1, "truncated");
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await get(okta, "/api/v1/users")).status);
    assert.deepEqual(statuses, [500, 503, 429]);
    const truncated = await get(okta, "/api/v1/users");
    assert.equal(truncated.status, 200);
    assert.equal(truncated.json, null);
    assert.ok(truncated.text.length > 0);
    okta.failNext(1, "aborted");
    const aborted = await fetch(`${okta.orgUrl}/api/v1/users`, {
      headers: { authorization: `SSWS ${okta.token}` },
    });
    assert.equal(aborted.status, 200);
    await assert.rejects(aborted.text());
    okta.failNext(1, "reset");
    await assert.rejects(fetch(`${okta.orgUrl}/api/v1/users`, {
      headers: { authorization: `SSWS ${okta.token}` },
    }));
    assert.equal((await get(okta, "/api/v1/users")).status, 200);
    assert.deepEqual(okta.requests().map((r) => r.status), [500, 503, 429, 200, 200, 0, 200]);
  } finally {
    await okta.close();
  }
});

Deno.test("fake okta keeps failing one page until the fault is lifted", async () => {
  const okta = startFakeOkta({ users: generateOktaOrg({ users: 5, groups: 0 }).users });
  try {
    const first = await get(okta, "/api/v1/users?limit=2");
    const next = links(first.headers).next ?? "";
    const lift = okta.failAlways("500", { path: "after=" });
    for (let i = 0; i < 4; i++) assert.equal((await get(okta, next)).status, 500);
    lift();
    assert.equal((await get(okta, next)).status, 200);
  } finally {
    await okta.close();
  }
});

Deno.test("fake okta cursors resume after the last id served while users change, and expire on demand", async () => {
  const okta = startFakeOkta({ users: generateOktaOrg({ users: 6, groups: 0 }).users });
  try {
    const first = await get(okta, "/api/v1/users?limit=3");
    const served = ids(first.json);
    okta.deleteUser(served[0] ?? "");
    okta.addUser({ id: "00u0000000000000000", login: "early@example.com" });
    const second = await get(okta, links(first.headers).next ?? "");
    assert.deepEqual(ids(second.json), okta.users().map((u) => u.id).slice(-3));
    okta.expireCursors();
    const stale = await get(okta, links(first.headers).next ?? "");
    assert.equal(stale.status, 400);
    assert.equal(Reflect.get(Object(stale.json), "errorCode"), "E0000001");
  } finally {
    await okta.close();
  }
});

Deno.test("fake okta search lags writes while frozen; filter does not", async () => {
  const okta = startFakeOkta({ users: [{ id: "00u1", login: "a@example.com" }] });
  try {
    okta.freezeSearch();
    okta.addUser({ id: "00u2", login: "b@example.com" });
    const search = `/api/v1/users?search=${q('profile.login co "@"')}`;
    assert.deepEqual(ids((await get(okta, search)).json), ["00u1"]);
    assert.deepEqual(
      ids((await get(okta, `/api/v1/users?filter=${q('status eq "ACTIVE"')}`)).json),
      ["00u1", "00u2"],
    );
    okta.thawSearch();
    assert.deepEqual(ids((await get(okta, search)).json), ["00u1", "00u2"]);
  } finally {
    await okta.close();
  }
});

Deno.test("fake okta mutation helpers move lastUpdated for user changes and lastMembershipUpdated for membership", async () => {
  const clock = virtualClock(Date.UTC(2026, 0, 1));
  const okta = startFakeOkta({
    now: clock.now,
    users: [{ id: "00u1" }, { id: "00u2" }],
    groups: [{ id: "00g1", name: "A", members: ["00u1", "00u2"] }],
  });
  try {
    clock.advance(1000);
    okta.updateUser("00u1", { status: "SUSPENDED", email: null });
    const [u1] = okta.users();
    assert.deepEqual(
      [u1?.status, u1?.lastUpdated, u1?.statusChanged, "email" in (u1?.profile ?? {})],
      ["SUSPENDED", clock.now(), clock.now(), false],
    );
    clock.advance(1000);
    okta.removeMember("00g1", "00u1");
    clock.advance(1000);
    okta.deleteUser("00u2");
    const [g] = okta.groups();
    assert.deepEqual(
      [g?.members, g?.lastUpdated, g?.lastMembershipUpdated],
      [[], Date.UTC(2026, 0, 1), clock.now()],
    );
    assert.throws(() => okta.addMember("00g1", "00u9"));
  } finally {
    await okta.close();
  }
});

Deno.test("generateOktaOrg() is deterministic and spreads statuses, missing emails and group sizes", () => {
  const a = generateOktaOrg({ users: 1000, groups: 200, seed: 7, everyone: true });
  const b = generateOktaOrg({ users: 1000, groups: 200, seed: 7, everyone: true });
  assert.deepEqual(a, b);
  const count = (status: string) => a.users.filter((u) => u.status === status).length;
  assert.equal(count("DEPROVISIONED"), 20);
  // Every 40th is SUSPENDED (25), except the 5 that are also every 50th (n ≡ 199 mod 200).
  assert.equal(count("SUSPENDED"), 20);
  assert.equal(a.users.filter((u) => u.email === null).length, 5);
  assert.equal(a.groups.length, 201);
  assert.deepEqual(a.groups[0]?.members?.length, 1000);
  assert.equal(a.groups[200]?.type, "BUILT_IN");
  assert.equal(a.groups[200]?.members?.length, 1000);
  assert.equal(a.groups.filter((g) => g.type === "APP_GROUP").length, 20);
  for (const group of a.groups) {
    assert.equal(new Set(group.members).size, group.members?.length);
  }
});

Deno.test("fake okta logs each request with its retry headers and status", async () => {
  const clock = virtualClock(Date.UTC(2026, 0, 1));
  const okta = startFakeOkta({ now: clock.now });
  try {
    const response = await fetch(`${okta.orgUrl}/api/v1/groups?limit=5`, {
      headers: {
        authorization: `SSWS ${okta.token}`,
        "x-okta-retry-count": "1",
        "x-okta-retry-for": "fake-1",
      },
    });
    await response.body?.cancel();
    assert.deepEqual(okta.requests(), [{
      method: "GET",
      path: "/api/v1/groups",
      query: "limit=5",
      status: 200,
      at: Date.UTC(2026, 0, 1),
      headers: { "x-okta-retry-count": "1", "x-okta-retry-for": "fake-1" },
    }]);
  } finally {
    await okta.close();
  }
});
