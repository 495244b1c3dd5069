import assert from "node:assert/strict";
import { buildSyncData } from "../../../src/engine/pipeline.ts";
import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../../../src/engine/types.ts";
import { DirectoryDataError } from "../../../src/errors.ts";
import {
  GOOGLE_CUSTOMER_REF,
  type GoogleGroupRecord,
  GROUP_FIELDS,
  mapGoogleGroup,
  mapGoogleMember,
  mapGoogleUser,
  MEMBER_FIELDS,
  parseGoogleGroup,
  USER_FIELDS,
} from "../../../src/providers/google/mapping.ts";
import { startFakeGoogle } from "../../fakes/google.ts";

const SALES: GoogleGroupRecord = {
  id: "g1",
  email: "sales@example.com",
  name: "Sales",
  directMembersCount: 3,
};

Deno.test("mapGoogleUser() maps id, primaryEmail, suspended and archived", () => {
  assert.deepEqual(
    mapGoogleUser({ id: "101", primaryEmail: "Alice@Example.com", suspended: false }, {
      deleted: false,
    }),
    {
      kind: "user",
      user: {
        referenceId: "101",
        externalId: "101",
        email: "Alice@Example.com",
        disabled: false,
        deleted: false,
        refs: ["101", GOOGLE_CUSTOMER_REF],
      },
    },
  );
  const disabled = (record: Record<string, unknown>) => {
    const mapped = mapGoogleUser({ id: "1", primaryEmail: "a@x.com", ...record }, {
      deleted: false,
    });
    assert.equal(mapped.kind, "user");
    return mapped.kind === "user" ? mapped.user.disabled : null;
  };
  assert.equal(disabled({ suspended: true }), true);
  assert.equal(disabled({ archived: true }), true);
  assert.equal(disabled({ suspended: false, archived: false }), false);
  assert.equal(disabled({}), false);
});

Deno.test("mapGoogleUser() skips an active user without a primary email and keeps a deleted one", () => {
  const skipped: SkippedEntry = {
    referenceId: "7",
    kind: "user",
    reason: "no primary email address",
  };
  assert.deepEqual(mapGoogleUser({ id: "7" }, { deleted: false }), {
    kind: "skipped",
    entry: skipped,
  });
  assert.deepEqual(mapGoogleUser({ id: "7", primaryEmail: " " }, { deleted: false }), {
    kind: "skipped",
    entry: skipped,
  });
  assert.deepEqual(mapGoogleUser({ id: "7" }, { deleted: true }), {
    kind: "user",
    user: {
      referenceId: "7",
      externalId: "7",
      email: null,
      disabled: false,
      deleted: true,
      refs: ["7", GOOGLE_CUSTOMER_REF],
    },
  });
});

Deno.test("mapGoogleUser() throws DirectoryDataError for a record without id or with a mistyped field", () => {
  for (const raw of [null, [], { primaryEmail: "a@x.com" }, { id: "" }, { id: 5 }]) {
    assert.throws(() => mapGoogleUser(raw, { deleted: false }), (error: unknown) => {
      assert.ok(error instanceof DirectoryDataError);
      assert.equal(error.code, "google_malformed_record");
      return true;
    });
  }
  assert.throws(
    () => mapGoogleUser({ id: "1", primaryEmail: "a@x.com", suspended: "yes" }, { deleted: false }),
    { message: "Google returned a malformed user: suspended is not true or false" },
  );
  assert.throws(
    () => mapGoogleUser({ id: "1", primaryEmail: 3 }, { deleted: false }),
    { message: "Google returned a malformed user: primaryEmail is not a string" },
  );
});

Deno.test("parseGoogleGroup() reads directMembersCount from Google's string", () => {
  assert.deepEqual(
    parseGoogleGroup({
      id: "g1",
      email: "sales@example.com",
      name: "Sales",
      directMembersCount: "12",
    }),
    { id: "g1", email: "sales@example.com", name: "Sales", directMembersCount: 12 },
  );
  assert.deepEqual(parseGoogleGroup({ id: "g2" }), {
    id: "g2",
    email: null,
    name: null,
    directMembersCount: null,
  });
  assert.throws(() => parseGoogleGroup({ id: "g3", directMembersCount: "many" }), {
    message: "Google returned a malformed group: directMembersCount is not a count",
  });
  assert.throws(() => parseGoogleGroup({ name: "x" }), DirectoryDataError);
});

Deno.test("mapGoogleMember() maps ACTIVE users, groups and the customer to member references", () => {
  assert.deepEqual(
    mapGoogleMember({ id: "101", email: "a@x.com", type: "USER", status: "ACTIVE" }, SALES),
    { kind: "ref", ref: "101" },
  );
  assert.deepEqual(
    mapGoogleMember({ id: "g2", email: "eng@x.com", type: "GROUP", status: "ACTIVE" }, SALES),
    { kind: "ref", ref: "g2" },
  );
  assert.deepEqual(mapGoogleMember({ id: "C0abc", type: "CUSTOMER" }, SALES), {
    kind: "ref",
    ref: GOOGLE_CUSTOMER_REF,
  });
});

Deno.test("mapGoogleMember() ignores users whose member status is not ACTIVE", () => {
  for (const status of ["SUSPENDED", "ARCHIVED", "UNDEFINED"]) {
    assert.deepEqual(mapGoogleMember({ id: "102", type: "USER", status }, SALES), {
      kind: "ignored",
      reason: `member status ${status}`,
    });
  }
  assert.deepEqual(mapGoogleMember({ id: "102", type: "USER" }, SALES), {
    kind: "ignored",
    reason: "member status missing",
  });
});

Deno.test("mapGoogleMember() skips external members and users outside the account with a reason", () => {
  const reason = "member of group sales@example.com from outside the Google Workspace account";
  assert.deepEqual(
    mapGoogleMember({ id: "9", email: "friend@gmail.com", type: "EXTERNAL" }, SALES),
    { kind: "skipped", entry: { referenceId: "friend@gmail.com", kind: "user", reason } },
  );
  const accountUserIds = new Set(["101"]);
  assert.deepEqual(
    mapGoogleMember(
      { id: "555", email: "guest@gmail.com", type: "USER", status: "ACTIVE" },
      SALES,
      {
        accountUserIds,
      },
    ),
    { kind: "skipped", entry: { referenceId: "guest@gmail.com", kind: "user", reason } },
  );
  assert.deepEqual(
    mapGoogleMember({ id: "101", type: "USER", status: "ACTIVE" }, SALES, { accountUserIds }),
    { kind: "ref", ref: "101" },
  );
  assert.deepEqual(mapGoogleMember({ id: "8", type: "ROBOT" }, SALES), {
    kind: "skipped",
    entry: {
      referenceId: "8",
      kind: "user",
      reason: "member of group sales@example.com of unsupported type ROBOT",
    },
  });
  assert.throws(() => mapGoogleMember({ type: "USER", status: "ACTIVE" }, SALES), {
    message: "Google returned a malformed member: a USER member of g1 has no id",
  });
});

Deno.test("mapGoogleGroup() builds the group and skips one without a name", () => {
  assert.deepEqual(mapGoogleGroup(SALES, ["101", "g2"]), {
    kind: "group",
    group: { referenceId: "g1", externalId: "g1", name: "Sales", memberRefs: ["101", "g2"] },
  });
  assert.deepEqual(mapGoogleGroup({ ...SALES, name: null }, []), {
    kind: "skipped",
    entry: { referenceId: "g1", kind: "group", reason: "no group name" },
  });
});

Deno.test("a CUSTOMER member resolves to every synced user in the engine, nested groups to their members", () => {
  const users: DirectoryUser[] = [];
  for (const [id, extra] of [["1", {}], ["2", { suspended: true }], ["3", {}]] as const) {
    const mapped = mapGoogleUser({ id, primaryEmail: `u${id}@example.com`, ...extra }, {
      deleted: false,
    });
    if (mapped.kind === "user") users.push(mapped.user);
  }
  const deleted = mapGoogleUser({ id: "4", primaryEmail: "gone@example.com" }, { deleted: true });
  if (deleted.kind === "user") users.push(deleted.user);
  const all: DirectoryGroup[] = [];
  const everyone = mapGoogleGroup({ ...SALES, id: "all", name: "Everyone" }, [GOOGLE_CUSTOMER_REF]);
  const parent = mapGoogleGroup({ ...SALES, id: "p", name: "Parent" }, ["3", "all"]);
  for (const g of [everyone, parent]) if (g.kind === "group") all.push(g.group);
  const data = buildSyncData({ users, groups: all, skipped: [] }, {
    syncUsers: true,
    syncGroups: true,
    removeDisabled: true,
  });
  assert.deepEqual(data.groups.map((g) => [g.name, g.memberExternalIds]), [
    ["Everyone", ["1", "3"]],
    ["Parent", ["3", "1"]],
  ]);
  assert.deepEqual(data.unresolved, []);
});

Deno.test("the fields= projections carry every field the mapping reads from the fake", async () => {
  const fake = await startFakeGoogle();
  try {
    const token = fake.mintToken({ subject: fake.adminUser });
    const read = async (path: string, params: Record<string, string>) => {
      const url = new URL(`${fake.url}/admin/directory/v1${path}`);
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(response.status, 200);
      return await response.json();
    };
    const users = await read("/users", { customer: "my_customer", fields: USER_FIELDS });
    assert.deepEqual(
      users.users.map((u: unknown) => mapGoogleUser(u, { deleted: false })).map((
        m: { kind: string; user?: DirectoryUser },
      ) => m.user === undefined ? null : [m.user.externalId, m.user.email, m.user.disabled]),
      [
        ["100", "admin@example.com", false],
        ["101", "alice@example.com", false],
        ["102", "bob@example.com", true],
        ["103", "carol@example.org", true],
        ["104", "dave@example.org", false],
      ],
    );
    const groups = await read("/groups", { customer: "my_customer", fields: GROUP_FIELDS });
    const sales = parseGoogleGroup(groups.groups[0]);
    assert.deepEqual(sales, {
      id: "g1",
      email: "sales@example.com",
      name: "Sales",
      directMembersCount: 4,
    });
    const members = await read("/groups/g1/members", { fields: MEMBER_FIELDS });
    assert.deepEqual(members.members.map((m: unknown) => mapGoogleMember(m, sales)), [
      { kind: "ref", ref: "101" },
      { kind: "ignored", reason: "member status SUSPENDED" },
      { kind: "ref", ref: "g2" },
      {
        kind: "skipped",
        entry: {
          referenceId: "friend@gmail.com",
          kind: "user",
          reason: "member of group sales@example.com from outside the Google Workspace account",
        },
      },
    ]);
  } finally {
    await fake.stop();
  }
});
