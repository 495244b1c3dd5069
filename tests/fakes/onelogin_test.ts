import assert from "node:assert/strict";
import { type FakeOneLogin, generateOneLoginAccount, startFakeOneLogin } from "./onelogin.ts";
import { virtualClock } from "./_clock.ts";
import { isRecord } from "../../src/guards.ts";

/** The objects of a JSON array body (fails the test for anything else). */
function items(json: unknown): Record<string, unknown>[] {
  assert.ok(
    Array.isArray(json) && json.every(isRecord),
    `expected objects: ${JSON.stringify(json)}`,
  );
  return json.filter(isRecord);
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

async function read(response: Response): Promise<Answer> {
  const text = await response.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: response.status, headers: response.headers, text, json };
}

function basic(fake: FakeOneLogin): string {
  return `Basic ${btoa(`${fake.clientId}:${fake.clientSecret}`)}`;
}

async function token(fake: FakeOneLogin): Promise<string> {
  const answer = await read(
    await fetch(`${fake.apiUrl}/auth/oauth2/v2/token`, {
      method: "POST",
      headers: { authorization: basic(fake), "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "client_credentials" }),
    }),
  );
  assert.equal(answer.status, 200, answer.text);
  const value = Reflect.get(Object(answer.json), "access_token");
  assert.equal(typeof value, "string");
  return String(value);
}

async function get(
  fake: FakeOneLogin,
  pathOrUrl: string,
  options: { token?: string; style?: "Bearer" | "bearer:" } = {},
): Promise<Answer> {
  const url = pathOrUrl.startsWith("http") ? pathOrUrl : `${fake.apiUrl}${pathOrUrl}`;
  const t = options.token ?? await token(fake);
  const authorization = options.style === "bearer:" ? `bearer:${t}` : `Bearer ${t}`;
  return await read(await fetch(url, { headers: { authorization } }));
}

function ids(json: unknown): number[] {
  return items(json).map((item) => Number(item.id));
}

function pagingHeaders(headers: Headers): (string | null)[] {
  return ["current-page", "page-items", "total-count", "total-pages"].map((h) => headers.get(h));
}

Deno.test("fake onelogin token endpoint takes Basic, legacy and form credentials and returns the same token until expiry", async () => {
  const clock = virtualClock();
  const fake = startFakeOneLogin({ now: clock.now });
  try {
    const first = await read(
      await fetch(`${fake.apiUrl}/auth/oauth2/v2/token`, {
        method: "POST",
        headers: { authorization: basic(fake), "content-type": "application/json" },
        body: JSON.stringify({ grant_type: "client_credentials" }),
      }),
    );
    assert.equal(first.status, 200);
    const body = Object(first.json);
    assert.deepEqual(Object.keys(body), [
      "access_token",
      "created_at",
      "expires_in",
      "refresh_token",
      "token_type",
      "account_id",
    ]);
    assert.deepEqual(
      [Reflect.get(body, "expires_in"), Reflect.get(body, "token_type")],
      [36000, "bearer"],
    );
    const legacy = await read(
      await fetch(`${fake.apiUrl}/auth/oauth2/v2/token`, {
        method: "POST",
        headers: {
          authorization: `client_id:${fake.clientId}, client_secret:${fake.clientSecret}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ grant_type: "client_credentials" }),
      }),
    );
    const form = await read(
      await fetch(`${fake.apiUrl}/auth/oauth2/v2/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "client_credentials",
          client_id: fake.clientId,
          client_secret: fake.clientSecret,
        }),
      }),
    );
    const access = Reflect.get(body, "access_token");
    assert.equal(Reflect.get(Object(legacy.json), "access_token"), access);
    assert.equal(Reflect.get(Object(form.json), "access_token"), access);
    clock.advance(36000 * 1000);
    const renewed = await token(fake);
    assert.notEqual(renewed, access);
    assert.deepEqual(
      [fake.counters().tokenRequests, fake.counters().tokensIssued],
      [4, 2],
    );
  } finally {
    await fake.close();
  }
});

Deno.test("fake onelogin token endpoint errors in the v1 envelope and answers 500 when the owner is deleted", async () => {
  const fake = startFakeOneLogin();
  try {
    const post = async (authorization: string, body: string) =>
      await read(
        await fetch(`${fake.apiUrl}/auth/oauth2/v2/token`, {
          method: "POST",
          headers: { authorization, "content-type": "application/json" },
          body,
        }),
      );
    const wrong = await post(`Basic ${btoa("x:y")}`, '{"grant_type":"client_credentials"}');
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.json, {
      status: { error: true, code: 401, type: "Unauthorized", message: "Authentication Failure" },
    });
    const grant = await post(basic(fake), '{"grant_type":"password"}');
    assert.equal(grant.status, 400);
    assert.deepEqual(grant.json, {
      status: {
        error: true,
        code: 400,
        type: "bad request",
        message: "grant_type is incorrect/absent",
      },
    });
    const v1 = await read(
      await fetch(`${fake.apiUrl}/auth/oauth2/token`, {
        method: "POST",
        headers: { authorization: basic(fake), "content-type": "application/json" },
        body: '{"grant_type":"client_credentials"}',
      }),
    );
    assert.deepEqual(Reflect.get(Object(v1.json), "status"), {
      error: false,
      code: 200,
      type: "success",
      message: "Success",
    });
    assert.equal(Reflect.get(Object(v1.json), "data").length, 1);
    fake.setOwnerDeleted(true);
    assert.equal((await post(basic(fake), '{"grant_type":"client_credentials"}')).status, 500);
  } finally {
    await fake.close();
  }
});

Deno.test("fake onelogin accepts Bearer and bearer: tokens and refuses others in the endpoint version's shape", async () => {
  const fake = startFakeOneLogin({ users: [{ id: 1 }] });
  try {
    const t = await token(fake);
    assert.equal((await get(fake, "/api/2/users", { token: t })).status, 200);
    assert.equal((await get(fake, "/api/2/users", { token: t, style: "bearer:" })).status, 200);
    const v2 = await get(fake, "/api/2/users", { token: "nope" });
    assert.equal(v2.status, 401);
    assert.deepEqual(v2.json, {
      statusCode: 401,
      name: "Unauthorized",
      message: "Authentication Failure",
    });
    const v1 = await get(fake, "/api/1/groups", { token: "nope" });
    assert.deepEqual(v1.json, {
      status: { error: true, code: 401, type: "Unauthorized", message: "Authentication Failure" },
    });
    fake.expireTokens();
    assert.equal((await get(fake, "/api/2/users", { token: t })).status, 401);
  } finally {
    await fake.close();
  }
});

Deno.test("fake onelogin pages users 50 by default and 100 at most with cursor headers and no After-Cursor on the last page", async () => {
  const account = generateOneLoginAccount({ users: 230, roles: 0 });
  const fake = startFakeOneLogin(account);
  try {
    const t = await token(fake);
    const first = await get(fake, "/api/2/users", { token: t });
    assert.equal(ids(first.json).length, 50);
    assert.deepEqual(pagingHeaders(first.headers), ["1", "50", "230", "5"]);
    assert.equal(first.headers.get("before-cursor"), null);
    const seen: number[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    do {
      const page: Answer = await get(
        fake,
        `/api/2/users?limit=500${cursor === null ? "" : `&cursor=${cursor}`}`,
        { token: t },
      );
      sizes.push(ids(page.json).length);
      seen.push(...ids(page.json));
      cursor = page.headers.get("after-cursor");
      if (cursor !== null) {
        assert.ok((page.headers.get("link") ?? "").includes(`cursor=${cursor}>; rel="next"`));
      }
    } while (cursor !== null);
    assert.deepEqual(sizes, [100, 100, 30]);
    assert.deepEqual(seen, account.users.map((u) => u.id));
    const third = await get(fake, "/api/2/users?limit=100&page=3", { token: t });
    assert.deepEqual(pagingHeaders(third.headers), ["3", "100", "230", "3"]);
    assert.ok(third.headers.get("before-cursor") !== null);
  } finally {
    await fake.close();
  }
});

Deno.test("fake onelogin sends an empty After-Cursor on the last page when asked to", async () => {
  const fake = startFakeOneLogin({ users: [{ id: 1 }], lastPageCursor: "empty" });
  try {
    const page = await get(fake, "/api/2/users");
    assert.equal(page.headers.get("after-cursor"), "");
  } finally {
    await fake.close();
  }
});

Deno.test("fake onelogin page numbers drift when users change between pages; cursors do not", async () => {
  const fake = startFakeOneLogin({ users: generateOneLoginAccount({ users: 6, roles: 0 }).users });
  try {
    const t = await token(fake);
    const first = await get(fake, "/api/2/users?limit=3", { token: t });
    assert.deepEqual(ids(first.json), [1000, 1001, 1002]);
    fake.deleteUser(1000);
    const byPage = await get(fake, "/api/2/users?limit=3&page=2", { token: t });
    assert.deepEqual(ids(byPage.json), [1004, 1005]);
    const byCursor = await get(
      fake,
      `/api/2/users?limit=3&cursor=${first.headers.get("after-cursor")}`,
      { token: t },
    );
    assert.deepEqual(ids(byCursor.json), [1003, 1004, 1005]);
  } finally {
    await fake.close();
  }
});

Deno.test("fake onelogin filters users by updated_since, email wildcard, username, status and user_ids, and projects fields", async () => {
  const clock = virtualClock(Date.UTC(2026, 0, 1));
  const fake = startFakeOneLogin({
    now: clock.now,
    users: [
      { id: 1, email: "ann@example.com", status: 1 },
      { id: 2, email: "bob@corp.example", status: 2 },
      { id: 3, email: null, username: "cy", status: 1 },
    ],
    roles: [{ id: 10, name: "Admins", users: [1, 3] }],
  });
  try {
    const t = await token(fake);
    clock.advance(60_000);
    fake.updateUser(2, { status: 1 });
    const q = (query: string) => get(fake, `/api/2/users?${query}`, { token: t });
    assert.deepEqual(ids((await q("updated_since=2026-01-01T00:00:30Z")).json), [2]);
    assert.deepEqual(ids((await q("email=*@example.com")).json), [1]);
    assert.deepEqual(ids((await q("username=CY")).json), [3]);
    assert.deepEqual(ids((await q("status=1")).json), [1, 2, 3]);
    assert.deepEqual(ids((await q("user_ids=3,1")).json), [1, 3]);
    assert.equal((await q("updated_since=yesterday")).status, 400);
    const full = await q("user_ids=1");
    const [user] = items(full.json);
    assert.equal(user !== undefined && "role_ids" in user, false);
    assert.deepEqual([user?.status, user?.state, user?.group_id], [1, 1, null]);
    assert.deepEqual((await q("fields=email,status,role_ids")).json, [
      { id: 1, email: "ann@example.com", status: 1, role_ids: [10] },
      { id: 2, email: "bob@corp.example", status: 1, role_ids: [] },
      { id: 3, email: null, status: 1, role_ids: [10] },
    ]);
  } finally {
    await fake.close();
  }
});

Deno.test("fake onelogin lists roles and pages a role's 1,500 users 100 at a time; 404 for an unknown role", async () => {
  const account = generateOneLoginAccount({ users: 2000, roles: 2 });
  const fake = startFakeOneLogin(account);
  try {
    const t = await token(fake);
    const roles = await get(fake, "/api/2/roles", { token: t });
    assert.deepEqual(roles.json, [{ id: 200000, name: "Role 0" }, {
      id: 200001,
      name: "Role 1",
    }]);
    const withUsers = await get(fake, "/api/2/roles?fields=name,users&name=*0", { token: t });
    assert.deepEqual(withUsers.json, [{
      id: 200000,
      name: "Role 0",
      users: account.roles[0]?.users,
    }]);
    const seen: number[] = [];
    let pages = 0;
    let cursor: string | null = null;
    do {
      const page: Answer = await get(
        fake,
        `/api/2/roles/200000/users?limit=100${cursor === null ? "" : `&cursor=${cursor}`}`,
        { token: t },
      );
      pages++;
      seen.push(...ids(page.json));
      cursor = page.headers.get("after-cursor");
    } while (cursor !== null);
    assert.equal(pages, 15);
    assert.deepEqual(seen, [...(account.roles[0]?.users ?? [])].sort((a, b) => a - b));
    const member = (await get(fake, "/api/2/roles/200000/users?limit=1", { token: t })).json;
    assert.deepEqual(Object.keys(Object(Array.isArray(member) ? member[0] : null)), [
      "id",
      "name",
      "email",
      "username",
      "assigned",
    ]);
    const unassigned = await get(fake, "/api/2/roles/200001/users?include_unassigned=true", {
      token: t,
    });
    assert.equal(unassigned.headers.get("total-count"), "2000");
    const missing = await get(fake, "/api/2/roles/1/users", { token: t });
    assert.equal(missing.status, 404);
    assert.equal(Reflect.get(Object(missing.json), "statusCode"), 404);
  } finally {
    await fake.close();
  }
});

Deno.test("fake onelogin serves v1 groups in the envelope with pagination.next_link", async () => {
  const account = generateOneLoginAccount({ users: 10, roles: 0, groups: 120 });
  const fake = startFakeOneLogin(account);
  try {
    const t = await token(fake);
    const names: string[] = [];
    const pages: number[] = [];
    let next: string | null = `${fake.apiUrl}/api/1/groups`;
    while (next !== null) {
      const page: Answer = await get(fake, next, { token: t });
      const body = Object(page.json);
      assert.deepEqual(Reflect.get(body, "status"), {
        error: false,
        code: 200,
        type: "success",
        message: "Success",
      });
      const data: { id: number; name: string; reference: null }[] = Reflect.get(body, "data");
      pages.push(data.length);
      names.push(...data.map((g) => g.name));
      const pagination = Reflect.get(body, "pagination");
      next = Reflect.get(pagination, "next_link");
      assert.equal(Reflect.get(pagination, "after_cursor") === null, next === null);
    }
    assert.deepEqual(pages, [50, 50, 20]);
    assert.deepEqual(names, account.groups.map((g) => g.name));
    const users = await get(fake, "/api/2/users?limit=2", { token: t });
    assert.deepEqual(
      items(users.json).map((u) => u.group_id),
      [500, 501],
    );
  } finally {
    await fake.close();
  }
});

Deno.test("fake onelogin spends an hourly budget, reports the reset in seconds remaining and answers 429 per version", async () => {
  const clock = virtualClock(Date.UTC(2026, 0, 1, 0, 59, 0));
  const fake = startFakeOneLogin({ now: clock.now, rateLimit: 3, users: [{ id: 1 }] });
  try {
    const t = await token(fake);
    const first = await get(fake, "/api/2/users", { token: t });
    assert.deepEqual(
      ["limit", "remaining", "reset"].map((k) => first.headers.get(`x-ratelimit-${k}`)),
      ["3", "2", "60"],
    );
    const budget = await get(fake, "/auth/rate_limit", { token: t });
    assert.deepEqual(Reflect.get(Object(budget.json), "data"), {
      "X-RateLimit-Limit": 3,
      "X-RateLimit-Remaining": 2,
      "X-RateLimit-Reset": 60,
    });
    assert.equal((await get(fake, "/api/2/roles", { token: t })).status, 200);
    assert.equal((await get(fake, "/api/1/groups", { token: t })).status, 200);
    const v2 = await get(fake, "/api/2/users", { token: t });
    assert.equal(v2.status, 429);
    assert.equal(Reflect.get(Object(v2.json), "statusCode"), 429);
    const v1 = await get(fake, "/api/1/groups", { token: t });
    assert.equal(v1.status, 429);
    assert.equal(Reflect.get(Reflect.get(Object(v1.json), "status"), "code"), 429);
    assert.equal(v1.headers.get("x-ratelimit-remaining"), "0");
    clock.advance(60_000);
    assert.equal(fake.remaining(), 3);
    fake.setRemaining(1);
    assert.equal((await get(fake, "/api/2/users", { token: t })).status, 200);
    assert.equal((await get(fake, "/api/2/users", { token: t })).status, 429);
    assert.equal(fake.counters().rateLimited, 3);
  } finally {
    await fake.close();
  }
});

Deno.test("fake onelogin injects 500s, truncated and aborted bodies, resets and a page that keeps failing", async () => {
  const fake = startFakeOneLogin({ users: generateOneLoginAccount({ users: 5, roles: 0 }).users });
  try {
    const t = await token(fake);
    fake.failNext(1, "500", { path: "/api/2/users" });
    const failed = await get(fake, "/api/2/users", { token: t });
    assert.equal(failed.status, 500);
    assert.deepEqual(failed.json, {
      statusCode: 500,
      name: "InternalServerError",
      message: "Internal Server Error",
    });
    fake.failNext(1, "truncated");
    const truncated = await get(fake, "/api/2/users", { token: t });
    assert.deepEqual([truncated.status, truncated.json], [200, null]);
    fake.failNext(1, "aborted");
    const aborted = await fetch(`${fake.apiUrl}/api/2/users`, {
      headers: { authorization: `Bearer ${t}` },
    });
    await assert.rejects(aborted.text());
    fake.failNext(1, "reset");
    await assert.rejects(
      fetch(`${fake.apiUrl}/api/2/users`, { headers: { authorization: `Bearer ${t}` } }),
    );
    const first = await get(fake, "/api/2/users?limit=2", { token: t });
    const lift = fake.failAlways("500", { path: "cursor=" });
    const next = `/api/2/users?limit=2&cursor=${first.headers.get("after-cursor")}`;
    for (let i = 0; i < 3; i++) assert.equal((await get(fake, next, { token: t })).status, 500);
    lift();
    assert.deepEqual(ids((await get(fake, next, { token: t })).json), [1002, 1003]);
  } finally {
    await fake.close();
  }
});

Deno.test("generateOneLoginAccount() is deterministic and spreads statuses and email shapes", () => {
  const a = generateOneLoginAccount({ users: 600, roles: 101, seed: 3 });
  assert.deepEqual(a, generateOneLoginAccount({ users: 600, roles: 101, seed: 3 }));
  const suspended = a.users.filter((u) => u.status === 2).length;
  assert.equal(suspended, 15);
  assert.equal(a.users.filter((u) => u.email === null).length, 4);
  assert.equal(a.users.filter((u) => !(u.username ?? "").includes("@")).length, 2);
  assert.equal(a.roles[0]?.users?.length, 600);
  assert.equal(a.roles[100]?.users?.length, 600);
});

Deno.test("fake onelogin holds requests in flight on demand and counts the peak", async () => {
  const fake = startFakeOneLogin({ users: [{ id: 1 }] });
  try {
    const t = await token(fake);
    fake.hold();
    const pending = [1, 2, 3].map(() => get(fake, "/api/2/users", { token: t }));
    while (fake.held() < 3) await new Promise((resolve) => setTimeout(resolve, 1));
    fake.release();
    assert.deepEqual((await Promise.all(pending)).map((a) => a.status), [200, 200, 200]);
    assert.equal(fake.counters().peakConcurrency, 3);
  } finally {
    await fake.close();
  }
});

Deno.test("fake onelogin can scope the budget to v1 calls only", async () => {
  const fake = startFakeOneLogin({ rateLimit: 1, rateLimitScope: "v1", users: [{ id: 1 }] });
  try {
    const t = await token(fake);
    for (let i = 0; i < 3; i++) {
      assert.equal((await get(fake, "/api/2/users", { token: t })).status, 200);
    }
    assert.equal((await get(fake, "/api/1/groups", { token: t })).status, 200);
    assert.equal((await get(fake, "/api/1/groups", { token: t })).status, 429);
    assert.equal(fake.remaining(), 0);
  } finally {
    await fake.close();
  }
});

Deno.test("fake onelogin refuses API calls for an Authentication Only credential, after a working token call", async () => {
  const fake = startFakeOneLogin({ scope: "Authentication Only" });
  try {
    const t = await token(fake);
    const users = await get(fake, "/api/2/users", { token: t });
    assert.equal(users.status, 401);
    assert.deepEqual(users.json, {
      statusCode: 401,
      name: "Unauthorized",
      message: "Authentication Failure",
    });
    assert.equal((await get(fake, "/auth/rate_limit", { token: t })).status, 401);
  } finally {
    await fake.close();
  }
});

Deno.test("fake onelogin ends a listing early once on demand, keeping Total-Count", async () => {
  const fake = startFakeOneLogin({ users: generateOneLoginAccount({ users: 5, roles: 0 }).users });
  try {
    const t = await token(fake);
    fake.endEarly("/api/2/users?limit=2");
    const cut = await get(fake, "/api/2/users?limit=2", { token: t });
    assert.deepEqual(ids(cut.json), [1000, 1001]);
    assert.equal(cut.headers.get("after-cursor"), null);
    assert.equal(cut.headers.get("link"), null);
    assert.equal(cut.headers.get("total-count"), "5");
    const whole = await get(fake, "/api/2/users?limit=2", { token: t });
    assert.notEqual(whole.headers.get("after-cursor"), null);
  } finally {
    await fake.close();
  }
});

Deno.test("fake onelogin deletes roles and sends Retry-After on injected 503s when asked", async () => {
  const data = generateOneLoginAccount({ users: 5, roles: 2 });
  const fake = startFakeOneLogin({ ...data, retryAfterSeconds: 0 });
  try {
    const t = await token(fake);
    const one = await get(fake, "/api/2/roles/200001", { token: t });
    assert.deepEqual([one.status, Reflect.get(Object(one.json), "name")], [200, "Role 1"]);
    fake.deleteRole(200001);
    assert.equal((await get(fake, "/api/2/roles/200001", { token: t })).status, 404);
    assert.deepEqual(ids((await get(fake, "/api/2/roles", { token: t })).json), [200000]);
    assert.equal((await get(fake, "/api/2/roles/200001/users", { token: t })).status, 404);
    fake.failNext(1, "503");
    const failed = await get(fake, "/api/2/users", { token: t });
    assert.deepEqual([failed.status, failed.headers.get("retry-after")], [503, "0"]);
  } finally {
    await fake.close();
  }
});
