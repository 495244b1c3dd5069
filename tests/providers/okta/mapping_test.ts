import assert from "node:assert/strict";
import { DirectoryDataError } from "../../../src/errors.ts";
import {
  mapOktaGroup,
  mapOktaUser,
  oktaGroupChangedSince,
  type OktaGroupRecord,
  parseOktaGroup,
  parseOktaUser,
} from "../../../src/providers/okta/mapping.ts";
import { generateOktaOrg, OKTA_STATUSES, startFakeOkta } from "../../fakes/okta.ts";

function user(status: string, email: string | null = "a@example.com") {
  return parseOktaUser({
    id: "00u1",
    status,
    lastUpdated: "2026-01-01T00:00:00.000Z",
    profile: { login: "a@example.com", ...(email === null ? {} : { email }) },
  });
}

Deno.test("mapOktaUser() marks DEPROVISIONED deleted and only SUSPENDED disabled", () => {
  const flags = OKTA_STATUSES.map((status) => {
    const mapped = mapOktaUser(user(status));
    assert.equal(mapped.kind, "mapped");
    return mapped.kind === "mapped"
      ? [status, mapped.value.disabled, mapped.value.deleted]
      : [status];
  });
  assert.deepEqual(flags, [
    ["ACTIVE", false, false],
    ["STAGED", false, false],
    ["PROVISIONED", false, false],
    ["RECOVERY", false, false],
    ["PASSWORD_EXPIRED", false, false],
    ["LOCKED_OUT", false, false],
    ["SUSPENDED", true, false],
    ["DEPROVISIONED", false, true],
  ]);
});

Deno.test("mapOktaUser() uses the Okta id as externalId and referenceId and profile.email as read", () => {
  assert.deepEqual(mapOktaUser(user("ACTIVE", "Ann.Lee@Example.com")), {
    kind: "mapped",
    value: {
      referenceId: "00u1",
      externalId: "00u1",
      email: "Ann.Lee@Example.com",
      disabled: false,
      deleted: false,
    },
  });
});

Deno.test("mapOktaUser() skips a user without profile.email with the reason, except a DEPROVISIONED one", () => {
  assert.deepEqual(mapOktaUser(user("ACTIVE", null)), {
    kind: "skipped",
    entry: {
      referenceId: "00u1",
      kind: "user",
      reason: "no email address (profile.email is empty; login a@example.com)",
    },
  });
  assert.deepEqual(mapOktaUser(user("ACTIVE", "  ")).kind, "skipped");
  assert.deepEqual(mapOktaUser(user("DEPROVISIONED", null)), {
    kind: "mapped",
    value: { referenceId: "00u1", externalId: "00u1", email: null, disabled: false, deleted: true },
  });
});

Deno.test("parseOktaUser() and parseOktaGroup() refuse objects without an id with a DirectoryDataError", () => {
  assert.throws(() => parseOktaUser({ status: "ACTIVE" }), DirectoryDataError);
  assert.throws(() => parseOktaUser({ id: "00u1" }), DirectoryDataError);
  assert.throws(() => parseOktaUser("00u1"), DirectoryDataError);
  assert.throws(() => parseOktaGroup({ profile: { name: "x" } }), DirectoryDataError);
  assert.throws(
    () => parseOktaUser([]),
    (error: unknown) =>
      error instanceof DirectoryDataError &&
      error.message === "Okta returned a malformed user (no id): []",
  );
});

Deno.test("parseOktaGroup() reads the name, type, both times and the stats count", () => {
  assert.deepEqual(
    parseOktaGroup({
      id: "00g1",
      type: "APP_GROUP",
      lastUpdated: "2026-01-01T00:00:00.000Z",
      lastMembershipUpdated: "2026-01-02T00:00:00.000Z",
      profile: { name: "Sales", description: null },
      _embedded: { stats: { usersCount: 12 } },
    }),
    {
      id: "00g1",
      name: "Sales",
      type: "APP_GROUP",
      created: null,
      lastUpdated: "2026-01-01T00:00:00.000Z",
      lastMembershipUpdated: "2026-01-02T00:00:00.000Z",
      usersCount: 12,
    },
  );
});

Deno.test("mapOktaGroup() uses profile.name and the member ids, and skips a group without a name", () => {
  const record: OktaGroupRecord = {
    id: "00g1",
    name: "Sales",
    type: "OKTA_GROUP",
    created: null,
    lastUpdated: null,
    lastMembershipUpdated: null,
    usersCount: undefined,
  };
  assert.deepEqual(mapOktaGroup(record, ["00u2", "00u1"]), {
    kind: "mapped",
    value: { referenceId: "00g1", externalId: "00g1", name: "Sales", memberRefs: ["00u2", "00u1"] },
  });
  assert.deepEqual(mapOktaGroup({ ...record, name: null }, []), {
    kind: "skipped",
    entry: { referenceId: "00g1", kind: "group", reason: "no group name (profile.name)" },
  });
});

Deno.test("oktaGroupChangedSince() sees a membership-only change and cannot prove a group without times unchanged", () => {
  const since = new Date("2026-01-10T00:00:00.000Z");
  const record: OktaGroupRecord = {
    id: "00g1",
    name: "Sales",
    type: "OKTA_GROUP",
    created: null,
    lastUpdated: "2026-01-01T00:00:00.000Z",
    lastMembershipUpdated: "2026-01-05T00:00:00.000Z",
    usersCount: undefined,
  };
  assert.equal(oktaGroupChangedSince(record, since), false);
  assert.equal(
    oktaGroupChangedSince({ ...record, lastMembershipUpdated: "2026-01-11T00:00:00.000Z" }, since),
    true,
  );
  assert.equal(
    oktaGroupChangedSince({ ...record, lastUpdated: "2026-01-10T00:00:00.001Z" }, since),
    true,
  );
  assert.equal(oktaGroupChangedSince({ ...record, lastMembershipUpdated: null }, since), true);
});

Deno.test("mapping the fake org's users read over HTTP keeps every user with an email or a deprovisioned status", async () => {
  const org = generateOktaOrg({ users: 600, groups: 0 });
  const okta = startFakeOkta(org);
  try {
    const mapped = [];
    for (const query of ["", `filter=${encodeURIComponent('status eq "DEPROVISIONED"')}`]) {
      let next: string | undefined = `${okta.orgUrl}/api/v1/users?limit=200&${query}`;
      while (next !== undefined) {
        const response: Response = await fetch(next, {
          headers: { authorization: `SSWS ${okta.token}` },
        });
        const page: unknown[] = await response.json();
        mapped.push(...page.map((item) => mapOktaUser(parseOktaUser(item))));
        next = /<([^>]+)>; rel="next"/.exec(response.headers.get("link") ?? "")?.[1];
      }
    }
    const users = mapped.flatMap((m) => (m.kind === "mapped" ? [m.value] : []));
    const skipped = mapped.flatMap((m) => (m.kind === "skipped" ? [m.entry.referenceId] : []));
    const expectedSkipped = org.users.filter((u) =>
      u.email === null && u.status !== "DEPROVISIONED"
    )
      .map((u) => u.id);
    assert.deepEqual(skipped, expectedSkipped);
    assert.equal(users.length, org.users.length - expectedSkipped.length);
    assert.deepEqual(
      users.filter((u) => u.deleted).map((u) => u.externalId),
      org.users.filter((u) => u.status === "DEPROVISIONED").map((u) => u.id),
    );
    assert.deepEqual(
      users.filter((u) => u.disabled).map((u) => u.externalId).sort(),
      org.users.filter((u) => u.status === "SUSPENDED").map((u) => u.id ?? "").sort(),
    );
  } finally {
    await okta.close();
  }
});
