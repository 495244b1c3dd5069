/**
 * The Google fake's contract: token exchange checks, the Directory API's scope, paging, query,
 * fields, members, quota and fault behaviour, over real HTTP.
 */
import assert from "node:assert/strict";
import { virtualClock } from "./_clock.ts";
import {
  type FakeGoogle,
  type FakeGoogleOptions,
  generateGoogleDirectory,
  GOOGLE_READONLY_SCOPES,
  GOOGLE_TOKEN_AUDIENCE,
  makeServiceAccountKey,
  signJwt,
  startFakeGoogle,
} from "./google.ts";

const API = "/admin/directory/v1";

async function withFake(
  options: FakeGoogleOptions,
  body: (fake: FakeGoogle) => Promise<void>,
): Promise<void> {
  const fake = await startFakeGoogle(options);
  try {
    await body(fake);
  } finally {
    await fake.stop();
  }
}

interface Claims {
  iss?: string;
  sub?: string;
  scope?: string;
  aud?: string;
  iat?: number;
  exp?: number;
}

async function assertion(
  fake: FakeGoogle,
  claims: Claims = {},
  options: { key?: string; now?: number } = {},
): Promise<string> {
  const iat = Math.floor((options.now ?? Date.now()) / 1000);
  return await signJwt({
    iss: fake.serviceAccount.clientEmail,
    scope: GOOGLE_READONLY_SCOPES.join(" "),
    aud: GOOGLE_TOKEN_AUDIENCE,
    iat,
    exp: iat + 3600,
    sub: fake.adminUser,
    ...claims,
  }, options.key ?? fake.serviceAccount.privateKey);
}

async function postToken(
  fake: FakeGoogle,
  form: Record<string, string>,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(fake.tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form),
  });
  return { status: response.status, body: await response.json() };
}

async function exchange(
  fake: FakeGoogle,
  claims: Claims = {},
  options: { key?: string; now?: number } = {},
): Promise<{ status: number; body: unknown }> {
  return await postToken(fake, {
    grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
    assertion: await assertion(fake, claims, options),
  });
}

async function get(
  fake: FakeGoogle,
  path: string,
  params: Record<string, string | number>,
  token?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(`${fake.url}${API}${path}`);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, String(v));
  const bearer = token ?? fake.mintToken({ subject: fake.adminUser });
  const response = await fetch(url, { headers: { authorization: `Bearer ${bearer}` } });
  const body: unknown = await response.json();
  assert.ok(typeof body === "object" && body !== null && !Array.isArray(body));
  return { status: response.status, body: { ...body } };
}

function ids(body: Record<string, unknown>, key: string): string[] {
  const list = body[key];
  if (list === undefined) return [];
  assert.ok(Array.isArray(list));
  return list.map((item: { id: string }) => item.id);
}

function reasonOf(body: Record<string, unknown>): unknown {
  const error = body["error"];
  assert.ok(typeof error === "object" && error !== null && "errors" in error);
  const errors = error.errors;
  assert.ok(Array.isArray(errors));
  return errors[0]?.reason;
}

/** Every page of a listing, following nextPageToken. */
async function all(
  fake: FakeGoogle,
  path: string,
  params: Record<string, string | number>,
  key: string,
): Promise<string[][]> {
  const pages: string[][] = [];
  let pageToken: string | undefined;
  do {
    const { status, body } = await get(fake, path, {
      ...params,
      ...(pageToken === undefined ? {} : { pageToken }),
    });
    assert.equal(status, 200);
    pages.push(ids(body, key));
    const next = body["nextPageToken"];
    pageToken = typeof next === "string" ? next : undefined;
  } while (pageToken !== undefined);
  return pages;
}

// ---------------------------------------------------------------------------------------------
// Token endpoint

Deno.test("fake google token endpoint exchanges a signed service-account JWT for a bearer token", async () => {
  await withFake({}, async (fake) => {
    const { status, body } = await exchange(fake);
    assert.equal(status, 200);
    assert.ok(typeof body === "object" && body !== null && "access_token" in body);
    assert.match(String(body.access_token), /^ya29\./);
    assert.deepEqual({ ...body, access_token: "x" }, {
      access_token: "x",
      expires_in: 3599,
      token_type: "Bearer",
    });
    const users = await get(fake, "/users", { customer: "my_customer" }, String(body.access_token));
    assert.equal(users.status, 200);
  });
});

Deno.test("fake google token endpoint accepts its own URL as aud and refuses any other", async () => {
  await withFake({}, async (fake) => {
    assert.equal((await exchange(fake, { aud: fake.tokenUrl })).status, 200);
    assert.deepEqual(await exchange(fake, { aud: "https://example.com/token" }), {
      status: 400,
      body: { error: "invalid_grant", error_description: "Invalid JWT: Failed audience check." },
    });
  });
});

Deno.test("fake google token endpoint answers Google's errors for a bad grant, signature, issuer or subject", async () => {
  await withFake({}, async (fake) => {
    assert.deepEqual(
      await postToken(fake, { grant_type: "client_credentials", assertion: "x" }),
      {
        status: 400,
        body: {
          error: "unsupported_grant_type",
          error_description: "Invalid grant_type: client_credentials",
        },
      },
    );
    assert.deepEqual(
      await postToken(fake, { grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer" }),
      {
        status: 400,
        body: {
          error: "invalid_request",
          error_description: "Missing required parameter: assertion",
        },
      },
    );
    const other = await makeServiceAccountKey();
    assert.deepEqual(await exchange(fake, {}, { key: other.privateKey }), {
      status: 400,
      body: { error: "invalid_grant", error_description: "Invalid JWT Signature." },
    });
    assert.deepEqual(await exchange(fake, { iss: "someone@else.iam.gserviceaccount.com" }), {
      status: 400,
      body: { error: "invalid_grant", error_description: "Invalid grant: account not found" },
    });
    assert.deepEqual(await exchange(fake, { sub: "nobody@example.com" }), {
      status: 400,
      body: { error: "invalid_grant", error_description: "Invalid email or User ID" },
    });
    assert.deepEqual(await exchange(fake, { sub: "erin@example.com" }), {
      status: 400,
      body: { error: "invalid_grant", error_description: "Invalid email or User ID" },
    });
    assert.deepEqual(await exchange(fake, { scope: "" }), {
      status: 400,
      body: { error: "invalid_scope", error_description: "Empty or missing scope not allowed." },
    });
  });
});

const UNAUTHORIZED_CLIENT = {
  status: 401,
  body: {
    error: "unauthorized_client",
    error_description:
      "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
  },
};

Deno.test("fake google token endpoint answers unauthorized_client for a scope not delegated to the client id", async () => {
  await withFake({}, async (fake) => {
    const write = [
      ...GOOGLE_READONLY_SCOPES,
      "https://www.googleapis.com/auth/admin.directory.user",
    ]
      .join(" ");
    assert.deepEqual(await exchange(fake, { scope: write }), UNAUTHORIZED_CLIENT);
    // A subset of the delegated scopes is fine.
    assert.equal((await exchange(fake, { scope: GOOGLE_READONLY_SCOPES[0] })).status, 200);
  });
  await withFake({ delegatedScopes: null }, async (fake) => {
    assert.deepEqual(await exchange(fake), UNAUTHORIZED_CLIENT);
  });
  await withFake({ delegatedScopes: [GOOGLE_READONLY_SCOPES[0]] }, async (fake) => {
    assert.deepEqual(await exchange(fake), UNAUTHORIZED_CLIENT);
  });
});

Deno.test("fake google token endpoint refuses a JWT that lives over an hour or is out of its time frame", async () => {
  const clock = virtualClock();
  await withFake({ now: clock.now }, async (fake) => {
    const expected = {
      status: 400,
      body: {
        error: "invalid_grant",
        error_description:
          "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
      },
    };
    const iat = clock.now() / 1000;
    assert.deepEqual(
      await exchange(fake, { iat, exp: iat + 3601 }, { now: clock.now() }),
      expected,
    );
    assert.deepEqual(
      await exchange(fake, { iat: iat + 120, exp: iat + 600 }, { now: clock.now() }),
      expected,
    );
    assert.equal((await exchange(fake, {}, { now: clock.now() })).status, 200);
    const stale = await assertion(fake, {}, { now: clock.now() });
    clock.advance(3 * 3600 * 1000);
    assert.deepEqual(
      await postToken(fake, {
        grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion: stale,
      }),
      expected,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Authorization on the API

Deno.test("fake google API answers 403 forbidden to a subject that is not an administrator", async () => {
  await withFake({}, async (fake) => {
    const { body } = await exchange(fake, { sub: "alice@example.com" });
    assert.ok(typeof body === "object" && body !== null && "access_token" in body);
    const answer = await get(
      fake,
      "/users",
      { customer: "my_customer" },
      String(body.access_token),
    );
    assert.deepEqual(answer, {
      status: 403,
      body: {
        error: {
          code: 403,
          message: "Not Authorized to access this resource/api",
          errors: [{
            message: "Not Authorized to access this resource/api",
            domain: "global",
            reason: "forbidden",
          }],
        },
      },
    });
  });
});

Deno.test("fake google API answers 403 insufficientPermissions without the endpoint's scope, 401 without a valid token", async () => {
  await withFake({}, async (fake) => {
    const usersOnly = fake.mintToken({
      subject: fake.adminUser,
      scopes: [GOOGLE_READONLY_SCOPES[0]],
    });
    assert.equal((await get(fake, "/users", { customer: "my_customer" }, usersOnly)).status, 200);
    const groups = await get(fake, "/groups", { customer: "my_customer" }, usersOnly);
    assert.equal(groups.status, 403);
    assert.equal(reasonOf(groups.body), "insufficientPermissions");
    const members = await get(fake, "/groups/g1/members", {}, usersOnly);
    assert.equal(reasonOf(members.body), "insufficientPermissions");

    const token = fake.mintToken({ subject: fake.adminUser });
    fake.expireTokens();
    const expired = await get(fake, "/users", { customer: "my_customer" }, token);
    assert.equal(expired.status, 401);
    assert.equal(reasonOf(expired.body), "authError");
    const response = await fetch(`${fake.url}${API}/users?customer=my_customer`);
    assert.equal(response.status, 401);
    assert.equal(reasonOf(await response.json()), "required");
  });
});

// ---------------------------------------------------------------------------------------------
// users.list

Deno.test("fake google users.list: customer covers every domain, domain narrows, and domain wins over customer", async () => {
  await withFake({}, async (fake) => {
    const everyone = ["100", "101", "102", "103", "104"];
    assert.deepEqual(
      ids((await get(fake, "/users", { customer: "my_customer" })).body, "users"),
      everyone,
    );
    assert.deepEqual(
      ids((await get(fake, "/users", { customer: fake.customerId })).body, "users"),
      everyone,
    );
    assert.deepEqual(
      ids((await get(fake, "/users", { domain: "example.org" })).body, "users"),
      ["103", "104"],
    );
    assert.deepEqual(
      ids(
        (await get(fake, "/users", { customer: "my_customer", domain: "example.com" })).body,
        "users",
      ),
      ["100", "101", "102"],
    );
    const neither = await get(fake, "/users", {});
    assert.deepEqual(neither, {
      status: 400,
      body: {
        error: {
          code: 400,
          message: "Bad Request",
          errors: [{ message: "Bad Request", domain: "global", reason: "badRequest" }],
        },
      },
    });
    assert.equal((await get(fake, "/users", { customer: "C0other" })).status, 403);
    assert.equal((await get(fake, "/users", { domain: "other.com" })).status, 403);
  });
});

Deno.test("fake google users.list lists only deleted users with showDeleted=true", async () => {
  await withFake({}, async (fake) => {
    const { body } = await get(fake, "/users", { customer: "my_customer", showDeleted: "true" });
    assert.deepEqual(ids(body, "users"), ["105"]);
    const none = await get(fake, "/users", { domain: "example.org", showDeleted: "true" });
    assert.equal(none.status, 200);
    assert.deepEqual(Object.keys(none.body), ["kind", "etag"]);
  });
});

Deno.test("fake google users.list query: orgUnitPath with sub-units, isSuspended, email prefix, and Invalid Input", async () => {
  await withFake({}, async (fake) => {
    const query = async (q: string) =>
      ids((await get(fake, "/users", { customer: "my_customer", query: q })).body, "users");
    assert.deepEqual(await query("orgUnitPath='/Sales'"), ["101", "104"]);
    assert.deepEqual(await query("orgUnitPath=/Sales/EMEA"), ["104"]);
    assert.deepEqual(await query("isSuspended=false"), ["100", "101", "103", "104"]);
    assert.deepEqual(await query("isArchived=true"), ["103"]);
    assert.deepEqual(await query("email:a*"), ["100", "101"]);
    assert.deepEqual(await query("email:a* orgUnitPath='/Sales'"), ["101"]);
    assert.deepEqual(await query("email=BOB@example.com"), ["102"]);
    for (const bad of ["colour=blue", "isSuspended=maybe", "just words", "email:'open"]) {
      const answer = await get(fake, "/users", { customer: "my_customer", query: bad });
      assert.deepEqual(answer, {
        status: 400,
        body: {
          error: {
            code: 400,
            message: "Invalid Input",
            errors: [{ message: "Invalid Input", domain: "global", reason: "invalid" }],
          },
        },
      }, bad);
    }
  });
});

Deno.test("fake google users.list pages by maxResults, omits nextPageToken on the last page, and checks the range", async () => {
  await withFake({}, async (fake) => {
    assert.deepEqual(
      await all(fake, "/users", { customer: "my_customer", maxResults: 2 }, "users"),
      [
        ["100", "101"],
        ["102", "103"],
        ["104"],
      ],
    );
    const last = await get(fake, "/users", { customer: "my_customer", maxResults: 5 });
    assert.equal("nextPageToken" in last.body, false);
    assert.deepEqual(await get(fake, "/users", { customer: "my_customer", maxResults: 501 }), {
      status: 400,
      body: {
        error: {
          code: 400,
          message: "Invalid value '501'. Values must be within the range: [1, 500]",
          errors: [{
            message: "Invalid value '501'. Values must be within the range: [1, 500]",
            domain: "global",
            reason: "invalid",
            location: "maxResults",
            locationType: "parameter",
          }],
        },
      },
    });
    assert.equal(
      (await get(fake, "/users", { customer: "my_customer", maxResults: 0 })).status,
      400,
    );
    assert.equal(
      (await get(fake, "/users", { customer: "my_customer", maxResults: 500 })).status,
      200,
    );
  });
});

Deno.test("fake google users.list orders by email when asked and refuses an unknown order", async () => {
  await withFake({}, async (fake) => {
    const order = { customer: "my_customer", orderBy: "email", sortOrder: "DESCENDING" };
    assert.deepEqual(await all(fake, "/users", { ...order, maxResults: 2 }, "users"), [
      ["104", "103"],
      ["102", "101"],
      ["100"],
    ]);
    const bad = await get(fake, "/users", { customer: "my_customer", orderBy: "colour" });
    assert.equal(bad.status, 400);
    assert.equal(reasonOf(bad.body), "invalid");
  });
});

Deno.test("fake google page tokens are bound to their query and expire after 3 days", async () => {
  const clock = virtualClock();
  await withFake({ now: clock.now }, async (fake) => {
    const first = await get(fake, "/users", { customer: "my_customer", maxResults: 2 });
    const token = String(first.body["nextPageToken"]);
    const reused = await get(fake, "/users", {
      customer: "my_customer",
      maxResults: 2,
      query: "isSuspended=false",
      pageToken: token,
    });
    assert.equal(reused.status, 400);
    assert.equal(reasonOf(reused.body), "invalid");
    assert.equal(
      (await get(fake, "/groups", { customer: "my_customer", pageToken: token })).status,
      400,
    );
    assert.equal(
      (await get(fake, "/users", { customer: "my_customer", pageToken: token + "x" })).status,
      400,
    );
    const same = await get(fake, "/users", {
      customer: "my_customer",
      maxResults: 2,
      pageToken: token,
    });
    assert.deepEqual(ids(same.body, "users"), ["102", "103"]);
    clock.advance(3 * 24 * 3600 * 1000 + 1);
    const late = await get(fake, "/users", {
      customer: "my_customer",
      maxResults: 2,
      pageToken: token,
    });
    assert.equal(late.status, 400);
  });
});

Deno.test("fake google fields= returns only the selected fields and refuses malformed or unknown selections", async () => {
  await withFake({}, async (fake) => {
    const { body } = await get(fake, "/users", {
      customer: "my_customer",
      maxResults: 2,
      fields: "nextPageToken,users(id,primaryEmail,name/fullName,suspended)",
    });
    assert.deepEqual(Object.keys(body), ["users", "nextPageToken"]);
    assert.deepEqual(body["users"], [
      {
        id: "100",
        primaryEmail: "admin@example.com",
        name: { fullName: "Ada Test" },
        suspended: false,
      },
      {
        id: "101",
        primaryEmail: "alice@example.com",
        name: { fullName: "Alice Test" },
        suspended: false,
      },
    ]);
    const groups = await get(fake, "/groups", {
      customer: "my_customer",
      fields: "groups/id,groups/directMembersCount",
    });
    assert.deepEqual(groups.body, {
      groups: [
        { id: "g1", directMembersCount: "4" },
        { id: "g2", directMembersCount: "2" },
        { id: "g3", directMembersCount: "1" },
      ],
    });
    for (const bad of ["users(id", "users(id))", "users(idd)", "nextPageToken,,users", "user"]) {
      const answer = await get(fake, "/users", { customer: "my_customer", fields: bad });
      assert.deepEqual(answer, {
        status: 400,
        body: {
          error: {
            code: 400,
            message: `Invalid field selection ${bad}`,
            errors: [{
              message: `Invalid field selection ${bad}`,
              domain: "global",
              reason: "invalidParameter",
              location: "fields",
              locationType: "parameter",
            }],
          },
        },
      }, bad);
    }
  });
});

Deno.test("fake google users carry Google's fields: suspended, archived, suspensionReason, no primaryEmail", async () => {
  await withFake({
    directory: {
      users: [
        { id: "1", primaryEmail: "admin@example.com", isAdmin: true },
        { id: "2", primaryEmail: null },
        { id: "3", primaryEmail: "s@example.com", suspended: true },
      ],
      groups: [],
    },
  }, async (fake) => {
    const { body } = await get(fake, "/users", {
      customer: "my_customer",
      fields: "users(id,primaryEmail,suspended,suspensionReason,archived)",
    });
    assert.deepEqual(body, {
      users: [
        { id: "1", primaryEmail: "admin@example.com", suspended: false, archived: false },
        { id: "2", suspended: false, archived: false },
        {
          id: "3",
          primaryEmail: "s@example.com",
          suspended: true,
          suspensionReason: "ADMIN",
          archived: false,
        },
      ],
    });
  });
});

// ---------------------------------------------------------------------------------------------
// groups.list and members.list

Deno.test("fake google groups.list: customer, domain, query and the 200 maximum", async () => {
  await withFake({}, async (fake) => {
    const { body } = await get(fake, "/groups", { customer: "my_customer" });
    assert.deepEqual(body["groups"], [
      {
        kind: "admin#directory#group",
        id: "g1",
        etag: '"fake2/g1"',
        email: "sales@example.com",
        name: "Sales",
        description: "",
        directMembersCount: "4",
        adminCreated: true,
      },
      {
        kind: "admin#directory#group",
        id: "g2",
        etag: '"fake2/g2"',
        email: "eng@example.org",
        name: "Engineering",
        description: "",
        directMembersCount: "2",
        adminCreated: true,
      },
      {
        kind: "admin#directory#group",
        id: "g3",
        etag: '"fake2/g3"',
        email: "all@example.com",
        name: "Everyone",
        description: "",
        directMembersCount: "1",
        adminCreated: true,
      },
    ]);
    const list = async (params: Record<string, string | number>) =>
      ids((await get(fake, "/groups", params)).body, "groups");
    assert.deepEqual(await list({ domain: "example.org" }), ["g2"]);
    assert.deepEqual(await list({ customer: "my_customer", domain: "example.com" }), ["g1", "g3"]);
    assert.deepEqual(await list({ customer: "my_customer", query: "name:Eng*" }), ["g2"]);
    assert.deepEqual(await list({ customer: "my_customer", query: "memberKey=dave@example.org" }), [
      "g2",
    ]);
    assert.deepEqual(
      await all(fake, "/groups", { customer: "my_customer", maxResults: 2 }, "groups"),
      [
        ["g1", "g2"],
        ["g3"],
      ],
    );
    assert.equal(
      (await get(fake, "/groups", { customer: "my_customer", maxResults: 201 })).status,
      400,
    );
    assert.equal(
      (await get(fake, "/groups", { customer: "my_customer", query: "owner=x" })).status,
      400,
    );
  });
});

Deno.test("fake google members.list gives roles, types and statuses, by id, encoded email or alias", async () => {
  await withFake({}, async (fake) => {
    const expected = [
      { id: "101", email: "alice@example.com", role: "OWNER", type: "USER", status: "ACTIVE" },
      { id: "102", email: "bob@example.com", role: "MEMBER", type: "USER", status: "SUSPENDED" },
      { id: "g2", email: "eng@example.org", role: "MEMBER", type: "GROUP", status: "ACTIVE" },
      { id: "100000000000000800001", email: "friend@gmail.com", role: "MEMBER", type: "EXTERNAL" },
    ];
    const fields = "members(id,email,role,type,status)";
    for (const key of ["g1", encodeURIComponent("sales@example.com"), "SALES@example.com"]) {
      const { body } = await get(fake, `/groups/${key}/members`, { fields });
      assert.deepEqual(body, { members: expected }, key);
    }
    const customer = await get(fake, "/groups/g3/members", {});
    assert.deepEqual(customer.body["members"], [{
      kind: "admin#directory#member",
      etag: '"fake8/C0fake00"',
      id: "C0fake00",
      role: "MEMBER",
      type: "CUSTOMER",
      status: "ACTIVE",
    }]);
    const owners = await get(fake, "/groups/g1/members", { roles: "OWNER", fields });
    assert.deepEqual(owners.body, { members: [expected[0]] });
    assert.deepEqual(await get(fake, "/groups/nope@example.com/members", {}), {
      status: 404,
      body: {
        error: {
          code: 404,
          message: "Resource Not Found: groupKey",
          errors: [{
            message: "Resource Not Found: groupKey",
            domain: "global",
            reason: "notFound",
          }],
        },
      },
    });
  });
});

Deno.test("fake google members.list includeDerivedMembership adds the members of nested groups", async () => {
  await withFake({}, async (fake) => {
    const { body } = await get(fake, "/groups/g1/members", {
      includeDerivedMembership: "true",
      fields: "members(id,type)",
    });
    assert.deepEqual(body["members"], [
      { id: "101", type: "USER" },
      { id: "102", type: "USER" },
      { id: "g2", type: "GROUP" },
      { id: "104", type: "USER" },
      { id: "103", type: "USER" },
      { id: "100000000000000800001", type: "EXTERNAL" },
    ]);
  });
});

Deno.test("fake google pages a 450-member group by 200 with aliases resolving to the same group", async () => {
  const users = [{ id: "1", primaryEmail: "admin@example.com", isAdmin: true }];
  for (let i = 0; i < 450; i++) {
    users.push({ id: `u${i}`, primaryEmail: `u${i}@example.com`, isAdmin: false });
  }
  await withFake({
    directory: {
      users,
      groups: [{
        id: "big",
        email: "big@example.com",
        name: "Big",
        aliases: ["large@example.com"],
        members: users.slice(1).map((u) => ({ key: u.primaryEmail })),
      }],
    },
  }, async (fake) => {
    const pages = await all(fake, "/groups/large@example.com/members", {}, "members");
    assert.deepEqual(pages.map((p) => p.length), [200, 200, 50]);
    assert.deepEqual(pages.flat(), users.slice(1).map((u) => u.id));
  });
});

// ---------------------------------------------------------------------------------------------
// Quota, concurrency, faults

const USER_RATE_LIMIT = {
  status: 403,
  body: {
    error: {
      code: 403,
      message:
        "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'admin.googleapis.com'.",
      errors: [{
        message:
          "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'admin.googleapis.com'.",
        domain: "usageLimits",
        reason: "userRateLimitExceeded",
      }],
      status: "PERMISSION_DENIED",
    },
  },
};

Deno.test("fake google answers 403 userRateLimitExceeded past the per-subject quota until the minute turns", async () => {
  const clock = virtualClock();
  await withFake({ now: clock.now, userQuotaPerMinute: 3 }, async (fake) => {
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await get(fake, "/users", { customer: "my_customer" })).status);
    }
    assert.deepEqual(statuses, [200, 200, 200]);
    assert.deepEqual(await get(fake, "/users", { customer: "my_customer" }), USER_RATE_LIMIT);
    // Another subject has its own budget (and is refused for not being an admin).
    const alice = fake.mintToken({ subject: "alice@example.com" });
    assert.equal((await get(fake, "/users", { customer: "my_customer" }, alice)).status, 403);
    assert.equal(
      reasonOf((await get(fake, "/users", { customer: "my_customer" }, alice)).body),
      "forbidden",
    );
    clock.advance(60_000);
    assert.equal((await get(fake, "/users", { customer: "my_customer" })).status, 200);
    const counters = fake.counters();
    assert.deepEqual(counters, {
      requests: 7,
      tokenRequests: 0,
      apiRequests: 7,
      throttled: 1,
      faults: 0,
      peakConcurrency: 1,
    });
    assert.deepEqual(
      fake.requests().map((r) => [r.status, r.reason ?? "", r.subject ?? ""]),
      [
        [200, "", "admin@example.com"],
        [200, "", "admin@example.com"],
        [200, "", "admin@example.com"],
        [403, "userRateLimitExceeded", "admin@example.com"],
        [403, "forbidden", "alice@example.com"],
        [403, "forbidden", "alice@example.com"],
        [200, "", "admin@example.com"],
      ],
    );
  });
});

Deno.test("fake google answers 429 rateLimitExceeded past the concurrency cap", async () => {
  await withFake({ maxConcurrent: 1 }, async (fake) => {
    const release = fake.hold();
    const first = get(fake, "/users", { customer: "my_customer" });
    while (fake.counters().peakConcurrency < 1) await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(await get(fake, "/groups", { customer: "my_customer" }), {
      status: 429,
      body: {
        error: {
          code: 429,
          message: "Rate Limit Exceeded",
          errors: [{
            message: "Rate Limit Exceeded",
            domain: "usageLimits",
            reason: "rateLimitExceeded",
          }],
          status: "RESOURCE_EXHAUSTED",
        },
      },
    });
    release();
    assert.equal((await first).status, 200);
    assert.equal(fake.counters().throttled, 1);
    assert.equal(fake.counters().peakConcurrency, 2);
  });
});

Deno.test("fake google injects 500 and 503 backendError, then serves normally", async () => {
  await withFake({}, async (fake) => {
    fake.failNext(1, "500");
    fake.failNext(1, "503", { path: "/groups" });
    assert.deepEqual(await get(fake, "/groups", { customer: "my_customer" }), {
      status: 500,
      body: {
        error: {
          code: 500,
          message: "Backend Error",
          errors: [{ message: "Backend Error", domain: "global", reason: "backendError" }],
          status: "INTERNAL",
        },
      },
    });
    assert.equal((await get(fake, "/users", { customer: "my_customer" })).status, 200);
    const second = await get(fake, "/groups", { customer: "my_customer" });
    assert.equal(second.status, 503);
    assert.equal(reasonOf(second.body), "backendError");
    assert.equal((await get(fake, "/groups", { customer: "my_customer" })).status, 200);
    assert.equal(fake.counters().faults, 2);
  });
});

Deno.test("fake google injects throttling answers: userRateLimitExceeded, quotaExceeded, rateLimitExceeded", async () => {
  await withFake({}, async (fake) => {
    fake.failNext(1, "userRateLimitExceeded");
    fake.failNext(1, "quotaExceeded");
    fake.failNext(1, "rateLimitExceeded");
    const answers = [];
    for (let i = 0; i < 3; i++) {
      const { status, body } = await get(fake, "/users", { customer: "my_customer" });
      answers.push([status, reasonOf(body)]);
    }
    assert.deepEqual(answers, [
      [403, "userRateLimitExceeded"],
      [403, "quotaExceeded"],
      [429, "rateLimitExceeded"],
    ]);
    assert.equal(fake.counters().throttled, 3);
  });
});

Deno.test("fake google resets a connection and truncates a body on demand", async () => {
  await withFake({}, async (fake) => {
    fake.failNext(1, "reset");
    await assert.rejects(get(fake, "/users", { customer: "my_customer" }), TypeError);
    fake.failNext(1, "truncated");
    const response = await fetch(`${fake.url}${API}/users?customer=my_customer`, {
      headers: { authorization: `Bearer ${fake.mintToken({ subject: fake.adminUser })}` },
    });
    assert.equal(response.status, 200);
    await assert.rejects(response.text(), TypeError);
    assert.equal((await get(fake, "/users", { customer: "my_customer" })).status, 200);
    assert.deepEqual(fake.requests().map((r) => r.status), [0, 0, 200]);
  });
});

Deno.test("fake google keeps failing one page of a listing while the others succeed", async () => {
  await withFake({}, async (fake) => {
    fake.failNext(Infinity, "503", { path: "/users", page: 2 });
    const first = await get(fake, "/users", { customer: "my_customer", maxResults: 2 });
    assert.equal(first.status, 200);
    const params = {
      customer: "my_customer",
      maxResults: 2,
      pageToken: String(first.body["nextPageToken"]),
    };
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(fake, "/users", params)).status);
    assert.deepEqual(statuses, [503, 503, 503, 503]);
    assert.equal(
      (await get(fake, "/users", { customer: "my_customer", maxResults: 2 })).status,
      200,
    );
    fake.clearFaults();
    assert.deepEqual(ids((await get(fake, "/users", params)).body, "users"), ["102", "103"]);
  });
});

Deno.test("fake google logs token requests and counts them apart from API requests", async () => {
  await withFake({}, async (fake) => {
    await exchange(fake);
    await exchange(fake, { sub: "nobody@example.com" });
    await get(fake, "/users", { customer: "my_customer" });
    assert.deepEqual(
      fake.requests().map((r) => [r.method, r.path, r.status]),
      [["POST", "/token", 200], ["POST", "/token", 400], ["GET", `${API}/users`, 200]],
    );
    assert.deepEqual(fake.requests()[2]?.params, { customer: "my_customer" });
    const counters = fake.counters();
    assert.equal(counters.tokenRequests, 2);
    assert.equal(counters.apiRequests, 1);
  });
});

Deno.test("fake google serves the service-account JSON key file of its account", async () => {
  await withFake(
    { clientEmail: "sync@proj.iam.gserviceaccount.com", clientId: "1234" },
    async (fake) => {
      const file = JSON.parse(fake.serviceAccount.keyFile);
      assert.equal(file.type, "service_account");
      assert.equal(file.client_email, "sync@proj.iam.gserviceaccount.com");
      assert.equal(file.client_id, "1234");
      assert.equal(file.private_key, fake.serviceAccount.privateKey);
      assert.match(file.private_key, /^-----BEGIN PRIVATE KEY-----\n/);
      assert.equal((await exchange(fake)).status, 200);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// Generator

Deno.test("generateGoogleDirectory() is deterministic and nests the requested fraction without cycles", () => {
  const a = generateGoogleDirectory({ users: 2000, groups: 200, nestedFraction: 0.1, seed: 7 });
  const b = generateGoogleDirectory({ users: 2000, groups: 200, nestedFraction: 0.1, seed: 7 });
  assert.deepEqual(a, b);
  assert.equal(a.users.length, 2000);
  assert.equal(a.groups.length, 200);
  assert.deepEqual(a.users[0], {
    id: "100000000000000000000",
    primaryEmail: "admin@example.com",
    givenName: "User0",
    familyName: "Test",
    isAdmin: true,
    orgUnitPath: "/",
  });
  const nested = a.groups.filter((g) => (g.members ?? []).some((m) => m.key?.startsWith("group")));
  // Each nesting points at the next group, so there is no cycle.
  for (const group of nested) {
    const index = Number(group.id?.slice("group".length, -"id".length));
    assert.equal(group.members?.at(-1)?.key, `group${index + 1}id`);
  }
  assert.ok(nested.length > 5 && nested.length < 40, String(nested.length));
  const deleted = a.users.filter((u) => u.deleted === true).length;
  const suspended = a.users.filter((u) => u.suspended === true).length;
  assert.ok(deleted > 0 && suspended > 0);
  assert.equal(a.groups[0]?.members?.filter((m) => !m.key?.startsWith("group")).length, 20);
});

Deno.test("fake google serves a generated directory in pages of 500 users", async () => {
  const directory = generateGoogleDirectory({ users: 1200, groups: 30 });
  const live = directory.users.filter((u) => u.deleted !== true).map((u) => u.id ?? "");
  await withFake({ directory }, async (fake) => {
    assert.equal(fake.adminUser, "admin@example.com");
    const pages = await all(fake, "/users", { customer: "my_customer", maxResults: 500 }, "users");
    assert.deepEqual(pages.map((p) => p.length), [500, 500, live.length - 1000]);
    assert.deepEqual(pages.flat(), live);
    const groups = await all(fake, "/groups", { customer: "my_customer" }, "groups");
    assert.equal(groups.flat().length, 30);
  });
});
