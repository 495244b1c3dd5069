import assert from "node:assert/strict";
import { constants, createHash, randomUUID, sign } from "node:crypto";
import {
  type FakeGraph,
  type FakeGraphOptions,
  generateTenant,
  type GraphUserInit,
  startFakeGraph,
} from "./graph.ts";
import { virtualClock } from "./_clock.ts";
import { makeCertificate } from "./_front.ts";

// ---- helpers

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

function record(value: unknown): Record<string, unknown> {
  assert.ok(typeof value === "object" && value !== null && !Array.isArray(value));
  return Object.fromEntries(Object.entries(value));
}

function list(value: unknown): Record<string, unknown>[] {
  assert.ok(Array.isArray(value));
  return value.map(record);
}

async function post(url: string, form: Record<string, string>): Promise<Answer> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: record(await response.json()),
  };
}

async function token(fake: FakeGraph): Promise<string> {
  const answer = await post(fake.tokenUrl, {
    grant_type: "client_credentials",
    client_id: fake.credentials.clientId,
    client_secret: fake.credentials.secret,
    scope: fake.scope,
  });
  assert.equal(answer.status, 200);
  const value = answer.body.access_token;
  assert.ok(typeof value === "string");
  return value;
}

async function get(
  url: string,
  bearer: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${bearer}`, ...headers } });
  return {
    status: response.status,
    headers: response.headers,
    body: record(await response.json()),
  };
}

async function batch(fake: FakeGraph, bearer: string, requests: unknown[]): Promise<Answer> {
  const response = await fetch(`${fake.url}/v1.0/$batch`, {
    method: "POST",
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
    body: JSON.stringify({ requests }),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: record(await response.json()),
  };
}

function errorOf(answer: Answer): { code: unknown; message: unknown } {
  const error = record(answer.body.error);
  return { code: error.code, message: error.message };
}

async function withGraph(options: FakeGraphOptions, run: (fake: FakeGraph) => Promise<void>) {
  const fake = await startFakeGraph(options);
  try {
    await run(fake);
  } finally {
    await fake.close();
  }
}

const ids = (items: Record<string, unknown>[]) => items.map((i) => i.id);

function users(n: number, prefix = "user") {
  return Array.from({ length: n }, (_, i) => ({
    id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    userPrincipalName: `${prefix}${i}@contoso.com`,
    mail: `${prefix}${i}@contoso.com`,
  }));
}

// ---- token endpoint

Deno.test("fake graph token endpoint issues a bearer token for the client secret", async () => {
  await withGraph({ tenant: { domains: ["contoso.com"] } }, async (fake) => {
    const answer = await post(`${fake.url}/contoso.com/oauth2/v2.0/token`, {
      grant_type: "client_credentials",
      client_id: fake.credentials.clientId,
      client_secret: fake.credentials.secret,
      scope: "https://graph.microsoft.com/.default",
    });
    assert.equal(answer.status, 200);
    assert.deepEqual(Object.keys(answer.body), [
      "token_type",
      "expires_in",
      "ext_expires_in",
      "access_token",
    ]);
    assert.equal(answer.body.token_type, "Bearer");
    assert.equal(answer.body.expires_in, 3599);
    assert.equal(fake.counters().tokenRequests, 1);
  });
});

Deno.test("fake graph token endpoint answers AADSTS errors for a bad tenant, client, secret and scope", async () => {
  await withGraph({ cloud: "usgov" }, async (fake) => {
    const good = {
      "grant_type": "client_credentials",
      "client_id": fake.credentials.clientId,
      "client_secret": fake.credentials.secret,
      scope: "https://graph.microsoft.us/.default",
    };
    const cases: [string, Record<string, string>, number, string, number][] = [
      [`${fake.url}/nope.example/oauth2/v2.0/token`, good, 400, "invalid_request", 90002],
      [fake.tokenUrl, { ...good, client_id: randomUUID() }, 400, "unauthorized_client", 700016],
      [fake.tokenUrl, { ...good, client_secret: "wrong" }, 401, "invalid_client", 7000215],
      [
        fake.tokenUrl,
        { ...good, scope: "https://graph.microsoft.us/User.Read.All" },
        400,
        "invalid_scope",
        1002012,
      ],
      [
        fake.tokenUrl,
        { ...good, scope: "https://graph.microsoft.com/.default" },
        400,
        "invalid_resource",
        500011,
      ],
      [fake.tokenUrl, { ...good, grant_type: "password" }, 400, "unsupported_grant_type", 70003],
    ];
    for (const [url, form, status, error, code] of cases) {
      const answer = await post(url, form);
      assert.equal(answer.status, status, `AADSTS${code}`);
      assert.equal(answer.body.error, error);
      assert.deepEqual(answer.body.error_codes, [code]);
      const description = answer.body.error_description;
      assert.ok(typeof description === "string" && description.startsWith(`AADSTS${code}: `));
      assert.match(
        description,
        /\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: /,
      );
      for (const key of ["timestamp", "trace_id", "correlation_id", "error_uri"]) {
        assert.ok(key in answer.body);
      }
    }
    assert.equal(fake.scope, "https://graph.microsoft.us/.default");
  });
});

function b64url(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(
    /=+$/,
    "",
  );
}

function assertion(
  pair: { cert: string; key: string },
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const der = Uint8Array.from(
    atob(pair.cert.replace(/-----[^-]+-----/g, "").replace(/\s/g, "")),
    (c) => c.charCodeAt(0),
  );
  const head = {
    alg: "RS256",
    typ: "JWT",
    "x5t#S256": b64url(createHash("sha256").update(der).digest()),
    ...header,
  };
  const input = `${b64url(JSON.stringify(head))}.${b64url(JSON.stringify(claims))}`;
  const data = new TextEncoder().encode(input);
  const signature = head.alg === "PS256"
    ? sign("sha256", data, {
      key: pair.key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    })
    : sign("RSA-SHA256", data, pair.key);
  return `${input}.${b64url(signature)}`;
}

Deno.test("fake graph token endpoint verifies a signed client assertion against the app's certificate", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const registered = await makeCertificate(dir, "app");
    const stranger = await makeCertificate(dir, "other");
    const clock = virtualClock();
    await withGraph({ app: { certificates: [registered.cert] }, now: clock.now }, async (fake) => {
      const id = fake.credentials.clientId;
      const claims = {
        aud: fake.tokenUrl,
        iss: id,
        sub: id,
        jti: randomUUID(),
        nbf: clock.now() / 1000,
        exp: clock.now() / 1000 + 600,
      };
      const form = (jwt: string) => ({
        grant_type: "client_credentials",
        client_id: id,
        scope: fake.scope,
        client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion: jwt,
      });
      const ok = await post(fake.tokenUrl, form(assertion(registered, claims)));
      assert.equal(ok.status, 200);
      const sha1 = Uint8Array.from(
        atob(registered.cert.replace(/-----[^-]+-----/g, "").replace(/\s/g, "")),
        (c) => c.charCodeAt(0),
      );
      const x5t = b64url(createHash("sha1").update(sha1).digest());
      assert.equal(
        (await post(
          fake.tokenUrl,
          form(assertion(registered, claims, { "x5t#S256": undefined, x5t })),
        )).status,
        200,
      );
      const pss = await post(fake.tokenUrl, form(assertion(registered, claims, { alg: "PS256" })));
      assert.equal(pss.status, 200);
      const failures: [string, number, number][] = [];
      for (
        const jwt of [
          assertion(stranger, claims),
          assertion(registered, claims).replace(/\.[^.]+$/, ".AAAA"),
          assertion(registered, { ...claims, exp: clock.now() / 1000 - 1 }),
          assertion(registered, {
            ...claims,
            aud: "https://login.microsoftonline.com/x/oauth2/v2.0/token",
          }),
          "not-a-jwt",
        ]
      ) {
        const answer = await post(fake.tokenUrl, form(jwt));
        const codes = answer.body.error_codes;
        assert.ok(Array.isArray(codes));
        failures.push([String(answer.body.error), answer.status, Number(codes[0])]);
      }
      assert.deepEqual(failures, [
        ["invalid_client", 401, 700027],
        ["invalid_client", 401, 700027],
        ["invalid_client", 401, 700024],
        ["invalid_client", 401, 700212],
        ["invalid_request", 400, 50027],
      ]);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fake graph refuses a missing, unknown or expired bearer token with 401 InvalidAuthenticationToken", async () => {
  const clock = virtualClock();
  await withGraph({ now: clock.now }, async (fake) => {
    const bearer = await token(fake);
    assert.equal((await get(`${fake.url}/v1.0/users`, bearer)).status, 200);
    const missing = await fetch(`${fake.url}/v1.0/users`);
    assert.equal(missing.status, 401);
    assert.deepEqual(
      errorOf({ status: 401, headers: missing.headers, body: record(await missing.json()) }),
      {
        code: "InvalidAuthenticationToken",
        message: "Access token is empty.",
      },
    );
    assert.equal(
      errorOf(await get(`${fake.url}/v1.0/users`, "forged")).code,
      "InvalidAuthenticationToken",
    );
    clock.advance(3599 * 1000);
    assert.deepEqual(errorOf(await get(`${fake.url}/v1.0/users`, bearer)), {
      code: "InvalidAuthenticationToken",
      message: "Lifetime validation failed, the token is expired.",
    });
  });
});

// ---- listings

Deno.test("fake graph pages /users with absolute nextLinks and omits the link on the last page", async () => {
  const all = users(250);
  await withGraph({ tenant: { users: all } }, async (fake) => {
    const bearer = await token(fake);
    let url: string | undefined = `${fake.url}/v1.0/users?$select=id,mail&$top=100`;
    const sizes: number[] = [];
    const seen: unknown[] = [];
    while (url !== undefined) {
      const page = await get(url, bearer);
      assert.equal(page.status, 200);
      const value = list(page.body.value);
      sizes.push(value.length);
      seen.push(...ids(value));
      const next = page.body["@odata.nextLink"];
      if (next !== undefined) {
        assert.ok(typeof next === "string" && next.startsWith(`${fake.url}/v1.0/users?`));
        assert.match(next, /\$skiptoken=/);
      }
      url = typeof next === "string" ? next : undefined;
    }
    assert.deepEqual(sizes, [100, 100, 50]);
    assert.deepEqual(seen, all.map((u) => u.id));
    const defaultPage = await get(`${fake.url}/v1.0/users`, bearer);
    assert.equal(list(defaultPage.body.value).length, 100);
  });
});

Deno.test("fake graph binds a skiptoken to its query and refuses it elsewhere", async () => {
  await withGraph({ tenant: { users: users(5) } }, async (fake) => {
    const bearer = await token(fake);
    const first = await get(`${fake.url}/v1.0/users?$top=2`, bearer);
    const next = String(first.body["@odata.nextLink"]);
    const skiptoken = new URL(next).searchParams.get("$skiptoken") ?? "";
    const other = await get(
      `${fake.url}/v1.0/users?$top=3&$skiptoken=${encodeURIComponent(skiptoken)}`,
      bearer,
    );
    assert.equal(other.status, 400);
    assert.equal(errorOf(other).code, "Request_BadRequest");
    const replay = await get(next, bearer);
    assert.deepEqual(ids(list(replay.body.value)), [users(5)[2]?.id, users(5)[3]?.id]);
  });
});

Deno.test("fake graph expires replayed nextLinks after nextLinkLifetimeMs", async () => {
  const clock = virtualClock();
  await withGraph(
    { tenant: { users: users(3) }, now: clock.now, nextLinkLifetimeMs: 60_000 },
    async (fake) => {
      const bearer = await token(fake);
      const next = String(
        (await get(`${fake.url}/v1.0/users?$top=1`, bearer)).body["@odata.nextLink"],
      );
      clock.advance(60_001);
      const late = await get(next, bearer);
      assert.equal(late.status, 400);
      assert.equal(errorOf(late).code, "Directory_ExpiredPageToken");
    },
  );
});

Deno.test("fake graph checks $top and $select like Graph", async () => {
  await withGraph({ tenant: { users: users(2) } }, async (fake) => {
    const bearer = await token(fake);
    const big = await get(`${fake.url}/v1.0/users?$top=1000`, bearer);
    assert.equal(big.status, 400);
    assert.deepEqual(errorOf(big), {
      code: "Request_BadRequest",
      message: "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive.",
    });
    assert.equal((await get(`${fake.url}/v1.0/users?$top=999`, bearer)).status, 200);
    const unknown = await get(`${fake.url}/v1.0/users?$select=id,emailAddress`, bearer);
    assert.equal(unknown.status, 400);
    assert.deepEqual(errorOf(unknown), {
      code: "Request_BadRequest",
      message: "Could not find a property named 'emailAddress' on type 'microsoft.graph.user'.",
    });
    const selected = list(
      (await get(`${fake.url}/v1.0/users?$select=id,accountEnabled`, bearer)).body.value,
    );
    assert.deepEqual(selected[0], { id: users(2)[0]?.id, accountEnabled: true });
    const plain = list((await get(`${fake.url}/v1.0/users`, bearer)).body.value)[0];
    assert.ok(
      plain !== undefined && !("accountEnabled" in plain) && plain.mail === "user0@contoso.com",
    );
  });
});

Deno.test("fake graph filters users and refuses advanced operators without ConsistencyLevel", async () => {
  const all: GraphUserInit[] = [
    ...users(2),
    { userPrincipalName: "off@contoso.com", accountEnabled: false },
  ];
  await withGraph({ tenant: { users: all } }, async (fake) => {
    const bearer = await token(fake);
    const enabled = await get(
      `${fake.url}/v1.0/users?$filter=accountEnabled eq false&$select=userPrincipalName`,
      bearer,
    );
    assert.deepEqual(list(enabled.body.value), [{
      userPrincipalName: "off@contoso.com",
      id: list(enabled.body.value)[0]?.id,
    }]);
    const starts = await get(
      `${fake.url}/v1.0/users?$filter=startswith(userPrincipalName,'user1')&$select=id`,
      bearer,
    );
    assert.deepEqual(ids(list(starts.body.value)), [all[1]?.id]);
    const advanced = await get(
      `${fake.url}/v1.0/users?$filter=endswith(mail,'contoso.com')`,
      bearer,
    );
    assert.equal(advanced.status, 400);
    assert.equal(errorOf(advanced).code, "Request_UnsupportedQuery");
    const eventual = await get(
      `${fake.url}/v1.0/users?$filter=endswith(mail,'0@contoso.com')&$count=true`,
      bearer,
      {
        ConsistencyLevel: "eventual",
      },
    );
    assert.deepEqual(ids(list(eventual.body.value)), [all[0]?.id]);
  });
});

const U1 = "10000000-0000-4000-8000-000000000001";
const U2 = "10000000-0000-4000-8000-000000000002";
const G1 = "20000000-0000-4000-8000-000000000001";
const G2 = "20000000-0000-4000-8000-000000000002";
const G3 = "20000000-0000-4000-8000-000000000003";
const C1 = "30000000-0000-4000-8000-000000000001";
const D1 = "40000000-0000-4000-8000-000000000001";
const AU = "50000000-0000-4000-8000-000000000001";

const tenant = {
  users: [
    { id: U1, userPrincipalName: "ann@contoso.com", mail: "ann@contoso.com" },
    { id: U2, userPrincipalName: "bo_example.org#EXT#@contoso.onmicrosoft.com", mail: null },
  ],
  contacts: [{ id: C1, displayName: "Vendor", mail: "v@vendor.example" }],
  devices: [{ id: D1, displayName: "Laptop" }],
  groups: [
    { id: G1, displayName: "Outer", members: [U1, G2, C1, D1] },
    { id: G2, displayName: "Inner", members: [U2, G3] },
    { id: G3, displayName: "Cycle", members: [G1] },
  ],
  deletedUsers: [{
    id: "60000000-0000-4000-8000-000000000001",
    userPrincipalName: "gone@contoso.com",
    mail: "gone@contoso.com",
  }],
  administrativeUnits: [{ id: AU, displayName: "Europe", members: [G2, U1] }],
};

Deno.test("fake graph lists direct members with @odata.type, casts and transitive members through a cycle", async () => {
  await withGraph({ tenant }, async (fake) => {
    const bearer = await token(fake);
    const direct = list(
      (await get(`${fake.url}/v1.0/groups/${G1}/members?$select=id`, bearer)).body.value,
    );
    assert.deepEqual(direct, [
      { "@odata.type": "#microsoft.graph.user", id: U1 },
      { "@odata.type": "#microsoft.graph.group", id: G2 },
      { "@odata.type": "#microsoft.graph.orgContact", id: C1 },
      { "@odata.type": "#microsoft.graph.device", id: D1 },
    ]);
    const cast = list(
      (await get(`${fake.url}/v1.0/groups/${G1}/members/microsoft.graph.user?$select=id`, bearer))
        .body.value,
    );
    assert.deepEqual(ids(cast), [U1]);
    const transitive = list(
      (await get(`${fake.url}/v1.0/groups/${G1}/transitiveMembers?$select=id`, bearer)).body.value,
    );
    assert.deepEqual(ids(transitive), [U1, G2, C1, D1, U2, G3]);
    const missing = await get(`${fake.url}/v1.0/groups/${U1}/members`, bearer);
    assert.equal(missing.status, 404);
    assert.equal(errorOf(missing).code, "Request_ResourceNotFound");
  });
});

Deno.test("fake graph serves the recycle bin and administrative-unit members", async () => {
  await withGraph({ tenant }, async (fake) => {
    const bearer = await token(fake);
    const bin = list(
      (await get(
        `${fake.url}/v1.0/directory/deletedItems/microsoft.graph.user?$select=id,mail,userPrincipalName`,
        bearer,
      ))
        .body.value,
    );
    assert.deepEqual(bin, [{
      "@odata.type": "#microsoft.graph.user",
      id: "60000000-0000-4000-8000-000000000001",
      mail: "gone@contoso.com",
      userPrincipalName: "60000000000040008000000000000001gone@contoso.com",
    }]);
    const unit = list(
      (await get(`${fake.url}/v1.0/directory/administrativeUnits/${AU}/members?$select=id`, bearer))
        .body.value,
    );
    assert.deepEqual(unit, [
      { "@odata.type": "#microsoft.graph.group", id: G2 },
      { "@odata.type": "#microsoft.graph.user", id: U1 },
    ]);
  });
});

Deno.test("fake graph answers 403 Authorization_RequestDenied for a missing permission", async () => {
  await withGraph({ tenant, app: { permissions: ["User.Read.All"] } }, async (fake) => {
    const bearer = await token(fake);
    assert.equal((await get(`${fake.url}/v1.0/users`, bearer)).status, 200);
    const denied = await get(`${fake.url}/v1.0/groups`, bearer);
    assert.equal(denied.status, 403);
    assert.equal(errorOf(denied).code, "Authorization_RequestDenied");
    assert.match(String(errorOf(denied).message), /GroupMember\.Read\.All/);
  });
});

// ---- $batch

Deno.test("fake graph $batch enforces 20 requests and unique ids, and answers each item by id", async () => {
  await withGraph({ tenant }, async (fake) => {
    const bearer = await token(fake);
    const many = Array.from(
      { length: 21 },
      (_, i) => ({ id: String(i), method: "GET", url: "/users" }),
    );
    const tooMany = await batch(fake, bearer, many);
    assert.equal(tooMany.status, 400);
    assert.equal(errorOf(tooMany).message, "The number of batch requests exceeds the limit of 20.");
    const duplicate = await batch(fake, bearer, [
      { id: "a", method: "GET", url: "/users" },
      { id: "A", method: "GET", url: "/groups" },
    ]);
    assert.equal(duplicate.status, 400);
    const twenty = Array.from({ length: 20 }, (_, i) => ({
      id: `r${i}`,
      method: "GET",
      url: i % 2 === 0 ? `/groups/${G1}/members?$select=id` : `groups/${G2}/members?$select=id`,
    }));
    const ok = await batch(fake, bearer, twenty);
    assert.equal(ok.status, 200);
    const responses = list(ok.body.responses);
    assert.notDeepEqual(responses.map((r) => r.id), twenty.map((r) => r.id));
    assert.deepEqual(responses.map((r) => r.id).sort(), twenty.map((r) => r.id).sort());
    for (const response of responses) {
      assert.equal(response.status, 200);
      const expected = Number(String(response.id).slice(1)) % 2 === 0 ? [U1, G2, C1, D1] : [U2, G3];
      assert.deepEqual(ids(list(record(response.body).value)), expected);
    }
    assert.equal(fake.counters().batchItems, 20);
    assert.equal(fake.counters().byRoute.members, 20);
  });
});

Deno.test("fake graph $batch answers 424 to dependants of a failed request and 400 to absolute urls", async () => {
  await withGraph({ tenant }, async (fake) => {
    const bearer = await token(fake);
    const answer = await batch(fake, bearer, [
      { id: "1", method: "GET", url: "/groups/00000000-0000-4000-8000-00000000dead/members" },
      { id: "2", method: "GET", url: "/users", dependsOn: ["1"] },
      { id: "3", method: "GET", url: `${fake.url}/v1.0/users` },
    ]);
    assert.equal(answer.status, 200);
    const byId = new Map(list(answer.body.responses).map((r) => [r.id, r.status]));
    assert.deepEqual([byId.get("1"), byId.get("2"), byId.get("3")], [404, 424, 400]);
    const unknownDependency = await batch(fake, bearer, [{
      id: "1",
      method: "GET",
      url: "/users",
      dependsOn: ["9"],
    }]);
    assert.equal(unknownDependency.status, 400);
  });
});

// ---- throttling

Deno.test("fake graph throttles by resource units with 429 and Retry-After, outside and inside $batch", async () => {
  const clock = virtualClock();
  await withGraph(
    { tenant, now: clock.now, throttle: { resourceUnits: 6, windowMs: 10_000 } },
    async (fake) => {
      const bearer = await token(fake);
      const first = await get(`${fake.url}/v1.0/users`, bearer); // 2 RU
      assert.equal(first.headers.get("x-ms-resource-unit"), "2");
      const second = await get(`${fake.url}/v1.0/groups/${G1}/members?$select=id`, bearer); // 3-1 = 2 RU
      assert.equal(second.headers.get("x-ms-resource-unit"), "2");
      const third = await get(`${fake.url}/v1.0/users?$select=id&$top=5`, bearer); // 2-1-1 = 1 RU
      assert.equal(third.headers.get("x-ms-resource-unit"), "1");
      assert.equal(third.headers.get("x-ms-throttle-limit-percentage"), "0.8");
      clock.advance(2_500);
      const throttled = await get(`${fake.url}/v1.0/users`, bearer);
      assert.equal(throttled.status, 429);
      assert.equal(throttled.headers.get("retry-after"), "7.5");
      assert.equal(throttled.headers.get("x-ms-throttle-information"), "ResourceUnitLimitExceeded");
      assert.equal(errorOf(throttled).code, "TooManyRequests");
      const inner = await batch(fake, bearer, [
        { id: "1", method: "GET", url: "/users?$select=id&$top=5" },
        { id: "2", method: "GET", url: "/users" },
      ]);
      assert.equal(inner.status, 200);
      const byId = new Map(list(inner.body.responses).map((r) => [r.id, r]));
      assert.equal(byId.get("1")?.status, 200);
      assert.equal(byId.get("2")?.status, 429);
      assert.equal(record(byId.get("2")?.headers)["retry-after"], "7.5");
      clock.advance(7_500);
      assert.equal((await get(`${fake.url}/v1.0/users`, bearer)).status, 200);
      assert.equal(fake.counters().throttled, 2);
      assert.equal(fake.counters().resourceUnits, 2 + 2 + 1 + 1 + 2);
    },
  );
});

Deno.test("fake graph writes Retry-After as whole seconds or leaves it out when told", async () => {
  const clock = virtualClock();
  for (const [style, expected] of [["integer", "8"], ["absent", null]] as const) {
    await withGraph(
      { now: clock.now, throttle: { resourceUnits: 1, retryAfter: style } },
      async (fake) => {
        const bearer = await token(fake);
        await get(`${fake.url}/v1.0/groups`, bearer);
        clock.advance(2_500);
        const throttled = await get(`${fake.url}/v1.0/groups`, bearer);
        assert.equal(throttled.status, 429);
        assert.equal(throttled.headers.get("retry-after"), expected);
      },
    );
  }
});

Deno.test("fake graph defaults the resource-unit quota to the tenant size", async () => {
  const clock = virtualClock();
  await withGraph({ tenant: { users: users(3) }, now: clock.now }, async (fake) => {
    const bearer = await token(fake);
    const requests = Array.from({ length: 20 }, (_, i) => ({
      id: String(i),
      method: "GET",
      url: "/groups?$top=5", // 1 RU each
    }));
    const statuses: number[] = [];
    for (let b = 0; b < 176; b++) {
      const answer = await batch(fake, bearer, requests);
      statuses.push(...list(answer.body.responses).map((r) => Number(r.status)));
    }
    assert.equal(statuses.filter((s) => s === 200).length, 3500);
    assert.equal(statuses.filter((s) => s === 429).length, 20);
    assert.equal(fake.counters().requests, 177);
    assert.equal(fake.counters().throttled, 20);
  });
});

// ---- delta

Deno.test("fake graph users/delta: an empty first page, a deltaLink, then adds, changes and removals", async () => {
  const start = users(3);
  await withGraph({ tenant: { users: start }, deltaPageSize: 2 }, async (fake) => {
    const bearer = await token(fake);
    const round = async (url: string) => {
      const pages: unknown[][] = [];
      let next: string | undefined = url;
      let deltaLink = "";
      while (next !== undefined) {
        const page = await get(next, bearer);
        assert.equal(page.status, 200);
        assert.ok(!("@odata.nextLink" in page.body && "@odata.deltaLink" in page.body));
        pages.push(list(page.body.value));
        const n = page.body["@odata.nextLink"];
        next = typeof n === "string" ? n : undefined;
        if (next === undefined) deltaLink = String(page.body["@odata.deltaLink"]);
      }
      return { pages, deltaLink };
    };
    const first = await round(`${fake.url}/v1.0/users/delta?$select=id,mail,accountEnabled`);
    assert.deepEqual(first.pages.map((p) => p.length), [0, 2, 1]);
    assert.deepEqual(
      first.pages.flat(),
      start.map((u) => ({ id: u.id, mail: u.mail, accountEnabled: true })),
    );
    assert.ok(first.deltaLink.startsWith(`${fake.url}/v1.0/users/delta?$deltatoken=`));

    const added = fake.addUser({
      id: "90000000-0000-4000-8000-000000000001",
      userPrincipalName: "new@contoso.com",
      mail: "new@contoso.com",
    });
    fake.updateUser(start[0]?.id ?? "", { accountEnabled: false });
    fake.softDeleteUser(start[1]?.id ?? "");
    fake.purgeUser(start[2]?.id ?? "");
    const second = await round(first.deltaLink);
    assert.deepEqual(second.pages.flat(), [
      { id: start[0]?.id, mail: "user0@contoso.com", accountEnabled: false },
      { id: added, mail: "new@contoso.com", accountEnabled: true },
      { id: start[1]?.id, "@removed": { reason: "changed" } },
      { id: start[2]?.id, "@removed": { reason: "deleted" } },
    ]);
    const third = await round(second.deltaLink);
    assert.deepEqual(third.pages, [[]]);
  });
});

Deno.test("fake graph groups/delta splits members@delta across pages and reports membership-only changes", async () => {
  const members = users(5);
  const group = { id: G1, displayName: "Big", members: members.map((u) => u.id) };
  const small = { id: G2, displayName: "Small", members: [] };
  await withGraph(
    {
      tenant: { users: members, groups: [group, small] },
      deltaMembersPerSlice: 2,
      deltaPageSize: 2,
    },
    async (fake) => {
      const bearer = await token(fake);
      const items: Record<string, unknown>[] = [];
      let next: string | undefined = `${fake.url}/v1.0/groups/delta?$select=id,displayName,members`;
      let deltaLink = "";
      while (next !== undefined) {
        const page = await get(next, bearer);
        items.push(...list(page.body.value));
        const n = page.body["@odata.nextLink"];
        next = typeof n === "string" ? n : undefined;
        if (next === undefined) deltaLink = String(page.body["@odata.deltaLink"]);
      }
      const ref = (id: string | undefined) => ({ "@odata.type": "#microsoft.graph.user", id });
      assert.deepEqual(items, [
        { id: G1, displayName: "Big", "members@delta": [ref(members[0]?.id), ref(members[1]?.id)] },
        { id: G2, displayName: "Small" },
        { id: G1, displayName: "Big", "members@delta": [ref(members[2]?.id), ref(members[3]?.id)] },
        { id: G1, displayName: "Big", "members@delta": [ref(members[4]?.id)] },
      ]);
      fake.removeMember(G1, members[0]?.id ?? "");
      fake.addMember(G2, members[1]?.id ?? "");
      const changes = await get(deltaLink, bearer);
      const more = changes.body["@odata.nextLink"];
      const rest = typeof more === "string" ? list((await get(more, bearer)).body.value) : [];
      assert.deepEqual([...list(changes.body.value), ...rest], [
        {
          id: G1,
          "members@delta": [{ ...ref(members[0]?.id), "@removed": { reason: "deleted" } }],
        },
        { id: G2, "members@delta": [ref(members[1]?.id)] },
      ]);
    },
  );
});

Deno.test("fake graph answers syncStateNotFound for an expired delta link, and serves $deltatoken=latest", async () => {
  const clock = virtualClock();
  for (const status of [400, 410] as const) {
    await withGraph(
      { tenant: { users: users(1) }, now: clock.now, deltaExpiredStatus: status },
      async (fake) => {
        const bearer = await token(fake);
        const latest = await get(`${fake.url}/v1.0/users/delta?$deltatoken=latest`, bearer);
        assert.deepEqual(list(latest.body.value), []);
        const link = String(latest.body["@odata.deltaLink"]);
        assert.equal((await get(link, bearer)).status, 200);
        clock.advance(7 * 24 * 3600 * 1000 + 1);
        const bearer2 = await token(fake);
        const expired = await get(link, bearer2);
        assert.equal(expired.status, status);
        assert.equal(errorOf(expired).code, "syncStateNotFound");
        const fresh = await get(`${fake.url}/v1.0/users/delta`, bearer2);
        fake.expireDeltaLinks();
        let next = String(fresh.body["@odata.nextLink"]);
        let page = await get(next, bearer2);
        while (typeof page.body["@odata.nextLink"] === "string") {
          next = page.body["@odata.nextLink"];
          page = await get(next, bearer2);
        }
        assert.equal((await get(String(page.body["@odata.deltaLink"]), bearer2)).status, 200);
      },
    );
  }
});

Deno.test("fake graph users/delta refuses $top", async () => {
  await withGraph({}, async (fake) => {
    const answer = await get(`${fake.url}/v1.0/users/delta?$top=10`, await token(fake));
    assert.equal(answer.status, 400);
    assert.equal(errorOf(answer).code, "Request_UnsupportedQuery");
  });
});

// ---- faults

Deno.test("fake graph injects 503 with Retry-After, 504, drops, truncated bodies and a page that keeps failing", async () => {
  await withGraph({ tenant: { users: users(3) } }, async (fake) => {
    const bearer = await token(fake);
    fake.failNext(1, "503", { path: "/v1.0/users", retryAfter: "3" });
    const unavailable = await get(`${fake.url}/v1.0/users`, bearer);
    assert.equal(unavailable.status, 503);
    assert.equal(unavailable.headers.get("retry-after"), "3");
    fake.failNext(1, "504");
    assert.equal((await get(`${fake.url}/v1.0/users`, bearer)).status, 504);
    fake.failNext(1, "drop", { path: "/v1.0/users" });
    // A connection that is not reused: Deno would resend on a reused one.
    const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    await assert.rejects(
      fetch(`${fake.url}/v1.0/users`, { client, headers: { authorization: `Bearer ${bearer}` } }),
      TypeError,
    );
    client.close();
    fake.failNext(1, "truncate", { path: "/v1.0/users" });
    const truncated = await fetch(`${fake.url}/v1.0/users`, {
      headers: { authorization: `Bearer ${bearer}` },
    });
    assert.equal(truncated.status, 200);
    await assert.rejects(truncated.json());
    fake.failNext(Infinity, "503", { path: /\$skiptoken=/ });
    const first = await get(`${fake.url}/v1.0/users?$top=1`, bearer);
    const next = String(first.body["@odata.nextLink"]);
    for (let i = 0; i < 5; i++) assert.equal((await get(next, bearer)).status, 503);
    fake.clearFaults();
    assert.equal((await get(next, bearer)).status, 200);
    const statuses = fake.requests().filter((r) => r.path.startsWith("/v1.0/users")).map((r) =>
      r.status
    );
    assert.deepEqual(statuses, [503, 504, 0, 200, 200, 503, 503, 503, 503, 503, 200]);
  });
});

Deno.test("fake graph injects per-item faults inside $batch", async () => {
  await withGraph({ tenant }, async (fake) => {
    const bearer = await token(fake);
    fake.failNext(1, "429", { path: `/groups/${G2}/`, retryAfter: "4" });
    const answer = await batch(fake, bearer, [
      { id: "1", method: "GET", url: `/groups/${G1}/members` },
      { id: "2", method: "GET", url: `/groups/${G2}/members` },
    ]);
    const byId = new Map(list(answer.body.responses).map((r) => [r.id, r]));
    assert.equal(byId.get("1")?.status, 200);
    assert.equal(byId.get("2")?.status, 429);
    assert.deepEqual(record(byId.get("2")?.headers)["retry-after"], "4");
    assert.equal(fake.counters().throttled, 1);
  });
});

// ---- generator

Deno.test("generateTenant() is deterministic and builds the asked-for sizes", () => {
  const a = generateTenant({
    users: 1000,
    groups: 50,
    nestedFraction: 0.2,
    hugeGroups: 1,
    hugeGroupSize: 600,
    seed: 7,
  });
  const b = generateTenant({
    users: 1000,
    groups: 50,
    nestedFraction: 0.2,
    hugeGroups: 1,
    hugeGroupSize: 600,
    seed: 7,
  });
  assert.deepEqual(a, b);
  assert.equal(a.users?.length, 1000);
  assert.equal(a.groups?.length, 50);
  assert.equal(a.groups?.[0]?.members?.filter((m) => a.users?.some((u) => u.id === m)).length, 600);
  const groupIds = new Set(a.groups?.map((g) => g.id));
  const nested = a.groups?.filter((g) => g.members?.some((m) => groupIds.has(m))).length ?? 0;
  assert.ok(nested > 0 && nested < 50);
  assert.ok(a.users?.some((u) => u.userPrincipalName.includes("#EXT#")));
  assert.ok(a.users?.some((u) => u.accountEnabled === false));
});

Deno.test("generateTenant() output starts as a fake tenant", async () => {
  const init = generateTenant({ users: 120, groups: 10, seed: 3 });
  await withGraph({ tenant: init }, async (fake) => {
    const bearer = await token(fake);
    const page = await get(`${fake.url}/v1.0/users?$select=id&$top=999`, bearer);
    assert.equal(list(page.body.value).length, 120);
    assert.equal(fake.tenantId, init.tenantId);
  });
});

Deno.test("fake graph listings are live: users added after a page appear later, deleted ones vanish", async () => {
  const start = users(4);
  await withGraph({ tenant: { users: start } }, async (fake) => {
    const bearer = await token(fake);
    const first = await get(`${fake.url}/v1.0/users?$select=id&$top=2`, bearer);
    const added = fake.addUser({
      id: "90000000-0000-4000-8000-000000000009",
      userPrincipalName: "late@contoso.com",
    });
    fake.purgeUser(start[3]?.id ?? "");
    const second = await get(String(first.body["@odata.nextLink"]), bearer);
    assert.deepEqual(ids(list(first.body.value)), [start[0]?.id, start[1]?.id]);
    assert.deepEqual(ids(list(second.body.value)), [start[2]?.id, added]);
    assert.equal(second.body["@odata.nextLink"], undefined);
  });
});

Deno.test("fake graph hides member users' properties from an app without User.Read.All", async () => {
  await withGraph({ tenant, app: { permissions: ["GroupMember.Read.All"] } }, async (fake) => {
    const bearer = await token(fake);
    const direct = list(
      (await get(`${fake.url}/v1.0/groups/${G2}/members?$select=id,userPrincipalName`, bearer)).body
        .value,
    );
    assert.deepEqual(direct, [
      { "@odata.type": "#microsoft.graph.user", id: U2, userPrincipalName: null },
      { "@odata.type": "#microsoft.graph.group", id: G3 },
    ]);
  });
});

Deno.test("fake graph counts requests per route and the peak concurrency", async () => {
  await withGraph({ tenant }, async (fake) => {
    const bearer = await token(fake);
    await Promise.all([
      get(`${fake.url}/v1.0/users`, bearer),
      get(`${fake.url}/v1.0/groups`, bearer),
      get(`${fake.url}/v1.0/groups/${G1}/transitiveMembers`, bearer),
    ]);
    const counters = fake.counters();
    assert.equal(counters.requests, 4);
    assert.equal(counters.tokenRequests, 1);
    assert.deepEqual(counters.byRoute, { users: 1, groups: 1, transitiveMembers: 1 });
    assert.equal(counters.resourceUnits, 2 + 1 + 5);
    assert.ok(fake.peakConcurrency() >= 1);
    fake.resetCounters();
    assert.deepEqual(fake.counters().byRoute, {});
    assert.deepEqual(fake.requests(), []);
  });
});
