import assert from "node:assert/strict";
import { type FakeBitwarden, startFakeBitwarden } from "../fakes/bitwarden.ts";
import { virtualClock } from "../fakes/_clock.ts";

async function token(fake: FakeBitwarden, extra: Record<string, string> = {}): Promise<string> {
  const response = await fetch(`${fake.identityUrl}/connect/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      scope: "api.organization",
      client_id: fake.credentials.clientId,
      client_secret: fake.credentials.clientSecret,
      deviceType: "8",
      deviceIdentifier: "d1",
      deviceName: "linux",
      ...extra,
    }),
  });
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  return body.access_token;
}

async function post(
  fake: FakeBitwarden,
  body: unknown,
  options: { token?: string; contentType?: string; raw?: string } = {},
): Promise<{ status: number; body: string; json: unknown }> {
  const response = await fetch(`${fake.apiUrl}/public/organization/import`, {
    method: "POST",
    headers: {
      "content-type": options.contentType ?? "application/json; charset=utf-8",
      authorization: `Bearer ${options.token ?? await token(fake)}`,
    },
    body: options.raw ?? JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch { /* empty or HTML */ }
  return { status: response.status, body: text, json };
}

function request(
  members: { email: string | null; externalId: string; deleted?: boolean }[],
  groups: { name: string; externalId: string; memberExternalIds: string[] }[] = [],
  flags: { overwriteExisting?: boolean; largeImport?: boolean } = {},
) {
  return {
    groups,
    members: members.map((m) => ({ deleted: false, ...m })),
    overwriteExisting: flags.overwriteExisting ?? false,
    largeImport: flags.largeImport ?? false,
    inviteUsersAfterProvisioning: true,
  };
}

function emails(fake: FakeBitwarden): string[] {
  return fake.state().members.map((m) => m.email).sort();
}

Deno.test("fake token endpoint issues a bearer token and refuses a bad key with invalid_client", async () => {
  const fake = await startFakeBitwarden();
  try {
    const ok = await fetch(`${fake.identityUrl}/connect/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        scope: "api.organization",
        client_id: fake.credentials.clientId,
        client_secret: fake.credentials.clientSecret,
      }),
    });
    const body = await ok.json();
    assert.equal(ok.status, 200);
    assert.deepEqual(Object.keys(body).sort(), [
      "access_token",
      "expires_in",
      "scope",
      "token_type",
    ]);
    assert.equal(body.expires_in, 3600);
    assert.equal(body.token_type, "Bearer");
    for (
      const [fields, error] of [
        [{ client_secret: "wrong" }, "invalid_client"],
        [{ client_id: "organization.not-a-guid" }, "invalid_client"],
        [{ client_id: `organization.${crypto.randomUUID()}` }, "invalid_client"],
        [{ scope: "api" }, "invalid_scope"],
        [{ grant_type: "password" }, "unauthorized_client"],
        [{ grant_type: "magic" }, "unsupported_grant_type"],
      ] as const
    ) {
      const response = await fetch(`${fake.identityUrl}/connect/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "client_credentials",
          scope: "api.organization",
          client_id: fake.credentials.clientId,
          client_secret: fake.credentials.clientSecret,
          ...fields,
        }),
      });
      assert.equal(response.status, 400);
      assert.deepEqual(await response.json(), { error });
    }
    fake.updateOrg({ useApi: false });
    const disabled = await fetch(`${fake.identityUrl}/connect/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: fake.credentials.clientId,
        client_secret: fake.credentials.clientSecret,
      }),
    });
    assert.deepEqual(await disabled.json(), { error: "invalid_client" });
  } finally {
    await fake.close();
  }
});

Deno.test("fake API answers 401 without or with an expired token and 403 for another scope", async () => {
  const fake = await startFakeBitwarden();
  try {
    const none = await fetch(`${fake.apiUrl}/public/members`);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get("www-authenticate"), "Bearer");
    assert.equal(await none.text(), "");
    const t = await token(fake);
    fake.expireTokens();
    const expired = await fetch(`${fake.apiUrl}/public/members`, {
      headers: { authorization: `Bearer ${t}` },
    });
    assert.equal(expired.status, 401);
    await expired.body?.cancel();
    const other = await fetch(`${fake.apiUrl}/public/members`, {
      headers: { authorization: `Bearer ${fake.mintToken({ scope: "api" })}` },
    });
    assert.equal(other.status, 403);
    assert.equal(await other.text(), "");
  } finally {
    await fake.close();
  }
});

Deno.test("fake import validates with C# paths, 415, empty body and 500 for null arrays", async () => {
  const fake = await startFakeBitwarden();
  try {
    const t = await token(fake);
    const bad = await post(fake, {
      Groups: [{ name: "", externalId: "g1", memberExternalIds: [] }],
      MEMBERS: [
        { email: "ok@x.test", externalId: "u1" },
        { email: "not-an-email", externalId: "u2" },
        { email: null, externalId: "u3", deleted: false },
        { email: null, externalId: "u4", deleted: true },
        { email: "a@x.test", externalId: "" },
      ],
    }, { token: t });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json, {
      object: "error",
      message: "The request's model state is invalid.",
      errors: {
        "Groups[0].Name": ["The Name field is required."],
        "Members[1].Email": ["The Email field is not a valid e-mail address."],
        "Members[2].Email": ["Email is required for enabled members."],
        "Members[4].ExternalId": ["The ExternalId field is required."],
        "OverwriteExisting": ["The OverwriteExisting field is required."],
      },
    });
    const long = await post(
      fake,
      request([{ email: "a@x.test", externalId: "x".repeat(301) }], [{
        name: "n".repeat(101),
        externalId: "g",
        memberExternalIds: [],
      }]),
      { token: t },
    );
    assert.deepEqual(long.json, {
      object: "error",
      message: "The request's model state is invalid.",
      errors: {
        "Groups[0].Name": ["The field Name must be a string with a maximum length of 100."],
        "Members[0].ExternalId": [
          "The field ExternalId must be a string with a maximum length of 300.",
        ],
      },
    });
    const wrongType = await post(fake, {}, { token: t, contentType: "text/plain", raw: "{}" });
    assert.equal(wrongType.status, 415);
    assert.equal(wrongType.body, "");
    const emptyBody = await post(fake, {}, { token: t, raw: "" });
    assert.deepEqual(emptyBody.json, {
      object: "error",
      message: "The request's model state is invalid.",
      errors: { "": ["Body is empty."] },
    });
    const typeError = await post(fake, {}, {
      token: t,
      raw:
        '{"groups":[],"members":[{"email":"a@x.test","externalId":"u","deleted":"yes"}],"overwriteExisting":false}',
    });
    assert.equal(typeError.status, 400);
    assert.deepEqual(Object.keys(Reflect.get(Object(typeError.json), "errors")), [
      "$.members[0].deleted",
      "",
    ]);
    const nullGroups = await post(fake, { members: [], overwriteExisting: false }, { token: t });
    assert.equal(nullGroups.status, 500);
    assert.deepEqual(nullGroups.json, {
      object: "error",
      message: "An unhandled server error has occurred.",
      errors: null,
    });
    const nullIds = await post(fake, {
      groups: [{ name: "G", externalId: "g" }],
      members: [],
      overwriteExisting: false,
    }, { token: t });
    assert.equal(nullIds.status, 500);
    // Numbers become strings; a scalar memberExternalIds is a one-item list.
    const permissive = await post(fake, {
      groups: [{ name: "G", externalId: 7, memberExternalIds: 42 }],
      members: [{ email: "N@X.test", externalId: 42 }],
      overwriteExisting: false,
    }, { token: t });
    assert.equal(permissive.status, 200);
    assert.equal(permissive.body, "");
    const state = fake.state();
    const member = state.members.find((m) => m.externalId === "42");
    assert.equal(member?.email, "n@x.test");
    assert.deepEqual(state.groups.map((g) => [g.externalId, g.memberIds]), [["7", [member?.id]]]);
  } finally {
    await fake.close();
  }
});

Deno.test("fake import applies the 2000 rule on the cloud only, counting non-deleted members", async () => {
  const many = Array.from({ length: 2001 }, (_, i) => ({
    email: `u${i}@x.test`,
    externalId: `u${i}`,
  }));
  const cloud = await startFakeBitwarden();
  const selfHosted = await startFakeBitwarden({ selfHosted: true });
  try {
    const tooMany = await post(cloud, request(many));
    assert.equal(tooMany.status, 400);
    assert.deepEqual(tooMany.json, {
      object: "error",
      message: "You cannot import this much data at once.",
      errors: null,
    });
    const oneDeleted = await post(
      cloud,
      request(many.map((m, i) => ({ ...m, deleted: i === 0 }))),
    );
    assert.equal(oneDeleted.status, 200);
    assert.equal(cloud.state().members.length, 2001); // owner + 2000
    const large = await post(cloud, request(many, [], { largeImport: true }));
    assert.equal(large.status, 200);
    const hosted = await post(selfHosted, request(many));
    assert.equal(hosted.status, 200);
    assert.equal(selfHosted.state().members.length, 2002);
  } finally {
    await cloud.close();
    await selfHosted.close();
  }
});

Deno.test("fake import removes deleted non-owners by externalId, links by email, invites the rest", async () => {
  const fake = await startFakeBitwarden({
    members: [
      { email: "owner@x.test", type: 0, externalId: "owner" },
      { email: "old@x.test", externalId: "old" },
      { email: "unlinked@x.test" },
      { email: "Mixed@x.test" },
      { email: "revoked@x.test", externalId: "rev", status: -1 },
    ],
  });
  try {
    const result = await post(
      fake,
      request([
        { email: "owner@x.test", externalId: "owner", deleted: true },
        { email: "ignored@x.test", externalId: "old", deleted: true },
        { email: "UNLINKED@x.test", externalId: "u-unlinked" },
        { email: "mixed@x.test", externalId: "u-mixed" },
        { email: "new@x.test", externalId: "u-new" },
        { email: "revoked@x.test", externalId: "rev" },
      ]),
    );
    assert.equal(result.status, 200);
    assert.deepEqual(fake.events(), [
      { type: "member_removed", email: "old@x.test", externalId: "old" },
      { type: "member_linked", email: "unlinked@x.test", externalId: "u-unlinked" },
      { type: "member_invited", email: "new@x.test", externalId: "u-new", status: 0 },
    ]);
    const state = fake.state();
    const byEmail = new Map(state.members.map((m) => [m.email, m]));
    assert.equal(byEmail.get("owner@x.test")?.externalId, "owner"); // owners stay
    // Stored "Mixed@x.test" is not linked (ordinal) and not re-invited (known, case-insensitive).
    assert.equal(byEmail.get("Mixed@x.test")?.externalId, null);
    assert.equal(byEmail.has("mixed@x.test"), false);
    assert.equal(byEmail.get("revoked@x.test")?.status, -1); // never restored
    assert.equal(byEmail.get("new@x.test")?.type, 2);
    assert.equal(byEmail.get("new@x.test")?.userId, null);
  } finally {
    await fake.close();
  }
});

Deno.test("fake import with overwriteExisting removes unlisted linked non-owners, or fails on no-MP users after the removals", async () => {
  const fake = await startFakeBitwarden({
    members: [
      { email: "owner@x.test", type: 0, externalId: "owner" },
      { email: "keep@x.test", externalId: "keep" },
      { email: "gone@x.test", externalId: "gone" },
      { email: "manual@x.test" },
      { email: "sso@x.test", externalId: "sso", hasMasterPassword: false },
      { email: "del@x.test", externalId: "del" },
    ],
  });
  try {
    const failed = await post(
      fake,
      request(
        [{ email: "keep@x.test", externalId: "keep" }, {
          email: "del@x.test",
          externalId: "del",
          deleted: true,
        }],
        [],
        { overwriteExisting: true },
      ),
    );
    assert.equal(failed.status, 400);
    assert.deepEqual(failed.json, {
      object: "error",
      message:
        "Sync failed. To proceed, disable the 'Remove and re-add users during next sync' setting and try again.",
      errors: null,
    });
    // Step 1 (deleted members) was applied before the failure.
    assert.deepEqual(emails(fake), [
      "gone@x.test",
      "keep@x.test",
      "manual@x.test",
      "owner@x.test",
      "sso@x.test",
    ]);
    const ok = await post(
      fake,
      request(
        [{ email: "keep@x.test", externalId: "keep" }, {
          email: "sso@x.test",
          externalId: "sso",
        }],
        [],
        { overwriteExisting: true },
      ),
    );
    assert.equal(ok.status, 200);
    assert.deepEqual(emails(fake), [
      "keep@x.test",
      "manual@x.test",
      "owner@x.test",
      "sso@x.test",
    ]);
  } finally {
    await fake.close();
  }
});

Deno.test("fake import 500s on duplicate emails after applying the removals", async () => {
  const fake = await startFakeBitwarden({
    members: [{ email: "owner@x.test", type: 0 }, { email: "del@x.test", externalId: "del" }],
  });
  try {
    const result = await post(
      fake,
      request([
        { email: "del@x.test", externalId: "del", deleted: true },
        { email: "a@x.test", externalId: "a1" },
        { email: "A@x.test", externalId: "a2" },
      ]),
    );
    assert.equal(result.status, 500);
    assert.deepEqual(emails(fake), ["owner@x.test"]);
  } finally {
    await fake.close();
  }
});

Deno.test("fake import enforces seats: autoscale, max autoscale, self-hosted and Teams Starter rollback", async () => {
  const people = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ email: `p${i}@x.test`, externalId: `p${i}` }));
  const autoscale = await startFakeBitwarden({ org: { seats: 3 } });
  const capped = await startFakeBitwarden({ org: { seats: 3, maxAutoscaleSeats: 4 } });
  const hosted = await startFakeBitwarden({ selfHosted: true, org: { seats: 3 } });
  const starter = await startFakeBitwarden({
    org: { plan: "teams-starter" },
    members: [{ email: "owner@x.test", type: 0 }, { email: "del@x.test", externalId: "del" }],
  });
  try {
    assert.equal((await post(autoscale, request(people(4)))).status, 200);
    assert.equal(autoscale.state().org.seats, 5);
    assert.deepEqual(autoscale.events().filter((e) => e.type === "seats_added"), [
      { type: "seats_added", from: 3, to: 5 },
    ]);

    const limit = await post(capped, request(people(4)));
    assert.deepEqual(limit.json, {
      object: "error",
      message: "Seat limit has been reached.",
      errors: null,
    });
    assert.equal(capped.state().members.length, 1);

    const selfHosted = await post(hosted, request(people(3)));
    assert.deepEqual(selfHosted.json, {
      object: "error",
      message: "Cannot autoscale on self-hosted instance.",
      errors: null,
    });

    // Teams Starter: 10 seats; the owner holds one. del@ is removed first (kept: non-atomic),
    // then 10 invites need 11 seats: the AggregateException 400, invites rolled back.
    const eleven = await post(
      starter,
      request([{ email: "del@x.test", externalId: "del", deleted: true }, ...people(10)]),
    );
    assert.equal(eleven.status, 400);
    assert.deepEqual(eleven.json, {
      object: "error",
      message: "Errors have occurred.",
      errors: { "An error has occurred.": ["Plan does not allow additional seats."] },
    });
    assert.deepEqual(emails(starter), ["owner@x.test"]);
    assert.equal(starter.state().org.seats, 10);
    const nine = await post(starter, request(people(9)));
    assert.equal(nine.status, 200);
    assert.equal(starter.state().members.length, 10);
  } finally {
    await autoscale.close();
    await capped.close();
    await hosted.close();
    await starter.close();
  }
});

Deno.test("fake import creates, renames and re-members groups by externalId and never deletes them", async () => {
  const fake = await startFakeBitwarden({
    members: [
      { email: "owner@x.test", type: 0 },
      { email: "a@x.test", externalId: "a" },
      { email: "b@x.test", externalId: "b" },
    ],
    groups: [
      { name: "Old name", externalId: "g1", memberEmails: ["a@x.test"] },
      { name: "Manual", memberEmails: ["b@x.test"] },
      { name: "Stale", externalId: "g-stale", memberEmails: ["a@x.test"] },
    ],
  });
  try {
    const result = await post(
      fake,
      request([{ email: "a@x.test", externalId: "a" }, { email: "b@x.test", externalId: "b" }], [
        { name: "New name", externalId: "g1", memberExternalIds: ["b", "unknown"] },
        { name: "Fresh", externalId: "g2", memberExternalIds: ["a", "b"] },
      ], { overwriteExisting: true }),
    );
    assert.equal(result.status, 200);
    assert.deepEqual(fake.events(), [
      { type: "group_renamed", from: "Old name", to: "New name", externalId: "g1" },
      { type: "group_members_set", externalId: "g1", memberEmails: ["b@x.test"] },
      { type: "group_created", name: "Fresh", externalId: "g2" },
      { type: "group_members_set", externalId: "g2", memberEmails: ["a@x.test", "b@x.test"] },
    ]);
    const groups = fake.state().groups.map((g) => [g.name, g.externalId, g.memberIds.length]);
    assert.deepEqual(groups, [["New name", "g1", 1], ["Manual", null, 1], ["Stale", "g-stale", 1], [
      "Fresh",
      "g2",
      2,
    ]]);
    const dup = await post(
      fake,
      request([], [{ name: "X", externalId: "g9", memberExternalIds: [] }, {
        name: "Y",
        externalId: "g9",
        memberExternalIds: [],
      }]),
    );
    assert.equal(dup.status, 500);
    fake.updateOrg({ useGroups: false });
    const noGroups = await post(
      fake,
      request([{ email: "c@x.test", externalId: "c" }], [{
        name: "G",
        externalId: "g3",
        memberExternalIds: [],
      }]),
    );
    assert.deepEqual(noGroups.json, {
      object: "error",
      message: "Organization cannot use groups.",
      errors: null,
    });
    assert.equal(fake.state().members.some((m) => m.email === "c@x.test"), true); // members ran
    fake.updateOrg({ useDirectory: false });
    const noDirectory = await post(fake, request([]));
    assert.deepEqual(noDirectory.json, {
      object: "error",
      message: "Organization cannot use directory syncing.",
      errors: null,
    });
  } finally {
    await fake.close();
  }
});

Deno.test("fake reads list members and groups with integer enums and member-ids", async () => {
  const fake = await startFakeBitwarden({
    members: [
      { email: "owner@x.test", type: 0 },
      { email: "inv@x.test", externalId: "i", status: 0 },
    ],
    groups: [{ name: "G", externalId: "g", memberEmails: ["inv@x.test"] }],
  });
  try {
    const t = await token(fake);
    const get = async (path: string) => {
      const response = await fetch(`${fake.apiUrl}${path}`, {
        headers: { authorization: `Bearer ${t}` },
      });
      const text = await response.text();
      return { status: response.status, body: text === "" ? null : JSON.parse(text) };
    };
    const members = await get("/public/members");
    assert.equal(members.status, 200);
    assert.equal(members.body.object, "list");
    const invited = members.body.data[1];
    assert.deepEqual(
      [invited.object, invited.email, invited.status, invited.type, invited.userId, invited.name],
      ["member", "inv@x.test", 0, 2, null, null],
    );
    assert.equal(members.body.data[0].externalId, null);
    const groups = await get("/public/groups");
    const group = groups.body.data[0];
    assert.deepEqual([group.name, group.externalId], ["G", "g"]);
    const ids = await get(`/public/groups/${group.id}/member-ids`);
    assert.deepEqual(ids.body, [invited.id]);
    assert.deepEqual(await get(`/public/groups/${crypto.randomUUID()}/member-ids`), {
      status: 404,
      body: null,
    });
    assert.equal((await get(`/public/members/${invited.id}`)).body.email, "inv@x.test");
  } finally {
    await fake.close();
  }
});

Deno.test("fake rate limits answer 429 with Retry-After and the internal error shape", async () => {
  const clock = virtualClock();
  const fake = await startFakeBitwarden({ rateLimits: true, now: clock.now });
  try {
    const t = await token(fake);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const result = await post(fake, request([]), { token: t });
      statuses.push(result.status);
      if (result.status === 429) {
        assert.deepEqual(result.json, {
          object: "error",
          message: "Slow down! Too many requests. Try again in 1s.",
          validationErrors: null,
          exceptionMessage: null,
          exceptionStackTrace: null,
          innerExceptionMessage: null,
        });
      }
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
    clock.advance(1000);
    assert.equal((await post(fake, request([]), { token: t })).status, 200);
    // Tokens: 10 per minute.
    for (let i = 0; i < 9; i++) clock.advance(250), await token(fake);
    const eleventh = await fetch(`${fake.identityUrl}/connect/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials",
    });
    assert.equal(eleventh.status, 429);
    assert.equal(eleventh.headers.get("retry-after"), "57");
    await eleventh.body?.cancel();
  } finally {
    await fake.close();
  }
});

Deno.test("fake fault injection answers HTML 502, JSON 500 and drops connections", async () => {
  const fake = await startFakeBitwarden();
  try {
    fake.failNext(1, "html502");
    fake.failNext(1, "json500");
    fake.failNext(1, "reset");
    const first = await fetch(`${fake.apiUrl}/public/members`);
    assert.equal(first.status, 502);
    assert.match(await first.text(), /<title>502 Bad Gateway<\/title>/);
    const second = await fetch(`${fake.apiUrl}/public/members`);
    assert.equal(second.status, 500);
    assert.deepEqual(await second.json(), {
      object: "error",
      message: "An unhandled server error has occurred.",
      errors: null,
    });
    // A connection that is not reused: Deno would resend on a reused one.
    const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    await assert.rejects(fetch(`${fake.apiUrl}/public/members`, { client }), TypeError);
    client.close();
    const after = await fetch(`${fake.apiUrl}/public/members`);
    assert.equal(after.status, 401);
    await after.body?.cancel();
    assert.deepEqual(fake.requests().map((r) => r.status), [502, 500, 0, 401]);
  } finally {
    await fake.close();
  }
});

Deno.test("fake in vaultwarden mode needs device fields, matches by email, revokes and restores", async () => {
  const fake = await startFakeBitwarden({
    mode: "vaultwarden",
    members: [
      { email: "owner@x.test", type: 0 },
      { email: "a@x.test", externalId: "old-a" },
      { email: "b@x.test" },
      { email: "c@x.test", externalId: "c" },
    ],
  });
  try {
    const noDevice = await fetch(`${fake.identityUrl}/connect/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        scope: "api.organization",
        client_id: fake.credentials.clientId,
        client_secret: fake.credentials.clientSecret,
      }),
    });
    assert.equal(noDevice.status, 400);
    assert.equal((await noDevice.json()).message, "device_identifier cannot be blank");
    const badSecret = await fetch(`${fake.identityUrl}/connect/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        scope: "api.organization",
        client_id: fake.credentials.clientId,
        client_secret: "nope",
        device_identifier: "d",
        device_name: "linux",
        device_type: "8",
      }),
    });
    const badBody = await badSecret.json();
    assert.deepEqual(
      [badBody.message, badBody.errorModel.message, badBody.validationErrors[""]],
      ["Incorrect client_secret", "Incorrect client_secret", ["Incorrect client_secret"]],
    );
    const t = await token(fake);
    const reads = await fetch(`${fake.apiUrl}/public/members`, {
      headers: { authorization: `Bearer ${t}`, accept: "application/json" },
    });
    assert.equal(reads.status, 404);
    assert.deepEqual(await reads.json(), {
      error: {
        code: 404,
        reason: "Not Found",
        description: "The requested resource could not be found.",
      },
    });
    const pascal = await post(fake, {
      Groups: [],
      Members: [],
      OverwriteExisting: false,
    }, { token: t });
    assert.equal(pascal.status, 422);
    const nullEmail = await post(fake, request([{ email: null, externalId: "x", deleted: true }]), {
      token: t,
    });
    assert.equal(nullEmail.status, 422);
    const ok = await post(
      fake,
      request([
        { email: "A@x.test", externalId: "a" },
        { email: "b@x.test", externalId: "b", deleted: true },
        { email: "new@x.test", externalId: "n" },
      ], [{ name: "G", externalId: "g", memberExternalIds: ["a"] }]),
      { token: t },
    );
    assert.equal(ok.status, 200);
    assert.deepEqual(fake.events(), [
      { type: "member_external_id_set", email: "a@x.test", externalId: "a" },
      { type: "member_revoked", email: "b@x.test" },
      { type: "member_external_id_set", email: "b@x.test", externalId: "b" },
      { type: "member_invited", email: "new@x.test", externalId: "n", status: 0 },
    ]);
    assert.deepEqual(fake.state().groups, []); // ORG_GROUPS_ENABLED defaults to false
    const restore = await post(fake, request([{ email: "b@x.test", externalId: "b" }]), {
      token: t,
    });
    assert.equal(restore.status, 200);
    assert.equal(fake.state().members.find((m) => m.email === "b@x.test")?.status, 2);
    const overwrite = await post(
      fake,
      request([{ email: "a@x.test", externalId: "a" }], [], { overwriteExisting: true }),
      { token: t },
    );
    assert.equal(overwrite.status, 200);
    assert.deepEqual(emails(fake), ["a@x.test", "owner@x.test"]);
  } finally {
    await fake.close();
  }
});

Deno.test("fake hosts layout serves identity and API on separate servers", async () => {
  const fake = await startFakeBitwarden({ layout: "hosts" });
  try {
    assert.notEqual(new URL(fake.apiUrl).port, new URL(fake.identityUrl).port);
    assert.deepEqual(fake.serverConfig, { api: fake.apiUrl, identity: fake.identityUrl });
    const t = await token(fake);
    const members = await fetch(`${fake.apiUrl}/public/members`, {
      headers: { authorization: `Bearer ${t}` },
    });
    assert.equal(members.status, 200);
    await members.body?.cancel();
    const wrongHost = await fetch(`${fake.identityUrl}/public/members`, {
      headers: { authorization: `Bearer ${t}` },
    });
    assert.equal(wrongHost.status, 404);
    await wrongHost.body?.cancel();
    assert.deepEqual(fake.requests().map((r) => [r.server, r.path]), [
      ["identity", "/connect/token"],
      ["api", "/public/members"],
      ["identity", "/public/members"],
    ]);
  } finally {
    await fake.close();
  }
});
