import assert from "node:assert/strict";
import { buildSyncData, type EngineOptions } from "../../src/engine/pipeline.ts";
import { DirectoryDataError } from "../../src/errors.ts";
import type { DirectoryGroup, DirectorySnapshot, DirectoryUser } from "../../src/engine/types.ts";

function user(
  referenceId: string,
  email: string | null,
  extra: Partial<DirectoryUser> = {},
): DirectoryUser {
  return {
    referenceId,
    externalId: `ext-${referenceId}`,
    email,
    disabled: false,
    deleted: false,
    ...extra,
  };
}

function group(
  referenceId: string,
  memberRefs: string[],
  extra: Partial<DirectoryGroup> = {},
): DirectoryGroup {
  return { referenceId, externalId: `ext-${referenceId}`, name: referenceId, memberRefs, ...extra };
}

function snapshot(users: DirectoryUser[], groups: DirectoryGroup[] = []): DirectorySnapshot {
  return { users, groups, skipped: [] };
}

const ALL: EngineOptions = { syncUsers: true, syncGroups: true, removeDisabled: false };

Deno.test("buildSyncData() normalises users, flattens groups and keeps directory order", () => {
  const data = buildSyncData(
    snapshot(
      [user("b", " B@X.com "), user("a", "a@x.com"), user("c", "c@x.com")],
      [group("Eng", ["b", "Ops"]), group("Ops", ["c", "a"])],
    ),
    ALL,
  );
  assert.deepEqual(data, {
    users: [
      { referenceId: "b", externalId: "ext-b", email: "b@x.com", disabled: false, deleted: false },
      { referenceId: "a", externalId: "ext-a", email: "a@x.com", disabled: false, deleted: false },
      { referenceId: "c", externalId: "ext-c", email: "c@x.com", disabled: false, deleted: false },
    ],
    groups: [
      {
        referenceId: "Eng",
        externalId: "ext-Eng",
        name: "Eng",
        memberExternalIds: ["ext-b", "ext-c", "ext-a"],
      },
      {
        referenceId: "Ops",
        externalId: "ext-Ops",
        name: "Ops",
        memberExternalIds: ["ext-c", "ext-a"],
      },
    ],
    skipped: [],
    unresolved: [],
  });
});

Deno.test("buildSyncData() reports users without a usable email after the provider's skipped entries", () => {
  const input = snapshot(
    [
      user("none", null),
      user("bad", "bad@"),
      user("long", `${"x".repeat(251)}@x.com`),
      user("ok", "ok@x.com"),
    ],
    [group("G", ["none", "bad", "long", "ok"])],
  );
  input.skipped.push({ referenceId: "cn=weird", kind: "group", reason: "no name" });
  const data = buildSyncData(input, ALL);
  assert.deepEqual(data.users.map((u) => u.referenceId), ["ok"]);
  assert.deepEqual(data.skipped, [
    { referenceId: "cn=weird", kind: "group", reason: "no name" },
    { referenceId: "none", kind: "user", reason: "no email address" },
    { referenceId: "bad", kind: "user", reason: 'invalid email address "bad@"' },
    { referenceId: "long", kind: "user", reason: "email address longer than 256 characters" },
  ]);
  // Skipped users are no members, and they are not unresolved either.
  assert.deepEqual(data.groups[0]?.memberExternalIds, ["ext-ok"]);
  assert.deepEqual(data.unresolved, []);
});

Deno.test("buildSyncData() keeps a deleted user without email and leaves it out of groups", () => {
  const data = buildSyncData(
    snapshot([user("tomb", null, { deleted: true }), user("a", "a@x.com")], [
      group("G", ["tomb", "a"]),
    ]),
    ALL,
  );
  assert.deepEqual(data.users.map((u) => [u.referenceId, u.email, u.deleted]), [
    ["tomb", null, true],
    ["a", "a@x.com", false],
  ]);
  assert.deepEqual(data.groups[0]?.memberExternalIds, ["ext-a"]);
});

Deno.test("buildSyncData() keeps disabled users as members unless removeDisabled is on", () => {
  const input = snapshot(
    [user("a", "a@x.com"), user("off", "off@x.com", { disabled: true })],
    [group("G", ["off", "a"])],
  );
  assert.deepEqual(buildSyncData(input, ALL).groups[0]?.memberExternalIds, ["ext-off", "ext-a"]);
  const removing = buildSyncData(input, { ...ALL, removeDisabled: true });
  assert.deepEqual(removing.groups[0]?.memberExternalIds, ["ext-a"]);
  // The user itself stays, marked disabled: the request builder turns it into a removal.
  assert.deepEqual(removing.users.map((u) => [u.referenceId, u.disabled, u.deleted]), [
    ["a", false, false],
    ["off", true, false],
  ]);
});

Deno.test("buildSyncData() with users off still resolves group members but returns no users", () => {
  const data = buildSyncData(
    snapshot([user("a", "a@x.com"), user("b", "b@x.com")], [group("G", ["a", "b"])]),
    { ...ALL, syncUsers: false },
  );
  assert.deepEqual(data.users, []);
  assert.deepEqual(data.groups[0]?.memberExternalIds, ["ext-a", "ext-b"]);
});

Deno.test("buildSyncData() with users off does not reject duplicate emails it does not send", () => {
  const data = buildSyncData(
    snapshot([user("a", "same@x.com"), user("b", "same@x.com")], [group("G", ["a", "b"])]),
    { ...ALL, syncUsers: false },
  );
  assert.deepEqual(data.groups[0]?.memberExternalIds, ["ext-a", "ext-b"]);
});

Deno.test("buildSyncData() with groups off returns no groups and no unresolved references", () => {
  const data = buildSyncData(
    snapshot([user("a", "a@x.com")], [group("G", ["a", "ghost"]), group("G", ["x"])]),
    { ...ALL, syncGroups: false },
  );
  assert.deepEqual(data.groups, []);
  assert.deepEqual(data.unresolved, []);
  assert.equal(data.users.length, 1);
});

Deno.test("buildSyncData() reports unresolved member references", () => {
  const data = buildSyncData(
    snapshot([user("a", "a@x.com")], [group("G", ["a", "cn=ghost"])]),
    ALL,
  );
  assert.deepEqual(data.unresolved, [{ groupReferenceId: "G", memberRef: "cn=ghost" }]);
});

Deno.test("buildSyncData() throws duplicate_email naming both users", () => {
  assert.throws(
    () => buildSyncData(snapshot([user("cn=2", "d@x.com"), user("cn=1", "D@x.com")]), ALL),
    (error: unknown) => {
      assert.ok(error instanceof DirectoryDataError);
      assert.equal(error.code, "duplicate_email");
      assert.equal(
        error.message,
        'Cannot sync the directory: 1 email address is used by more than one user\n  email d@x.com: "cn=1", "cn=2"',
      );
      return true;
    },
  );
});

Deno.test("buildSyncData() throws duplicate_external_id for groups sharing an externalId", () => {
  assert.throws(
    () =>
      buildSyncData(
        snapshot([], [
          group("g1", [], { externalId: "same" }),
          group("g2", [], { externalId: "same" }),
        ]),
        ALL,
      ),
    (error: unknown) =>
      error instanceof DirectoryDataError && error.code === "duplicate_external_id",
  );
});

Deno.test("buildSyncData() applies set filters: users by email, groups by name", () => {
  const input = snapshot(
    [user("a", "a@x.com"), user("b", "b@x.com"), user("c", "c@x.com")],
    [group("Eng", ["a", "b", "Ops"]), group("Ops", ["c"]), group("Sales", ["c"])],
  );
  const data = buildSyncData(input, {
    ...ALL,
    setFilters: { users: "exclude:B@x.com", groups: "include:eng,sales" },
  });
  // Ops is filtered out: its members do not flow into Eng, and its reference is not unresolved.
  assert.deepEqual(data.groups.map((g) => [g.name, g.memberExternalIds]), [
    ["Eng", ["ext-a"]],
    ["Sales", ["ext-c"]],
  ]);
  assert.deepEqual(data.users.map((u) => u.referenceId), ["a", "c"]);
  assert.deepEqual(data.unresolved, []);
});

Deno.test("buildSyncData() limits users to direct members of filtered groups", () => {
  const input = snapshot(
    [user("a", "a@x.com"), user("b", "b@x.com"), user("gone", null, { deleted: true })],
    [group("Eng", ["a"]), group("Ops", ["b"])],
  );
  const data = buildSyncData(input, { ...ALL, setFilters: { groups: "include:Eng" } });
  assert.deepEqual(data.users.map((u) => u.referenceId), ["a", "gone"]);
});

Deno.test("buildSyncData() ignores the group filter's user limit when groups are off", () => {
  const input = snapshot([user("a", "a@x.com"), user("b", "b@x.com")], [group("Eng", ["a"])]);
  const data = buildSyncData(input, {
    ...ALL,
    syncGroups: false,
    setFilters: { groups: "include:Eng", users: undefined },
  });
  assert.deepEqual(data.users.map((u) => u.referenceId), ["a", "b"]);
});

Deno.test("buildSyncData() filters on values containing a colon", () => {
  const input = snapshot([user("a", "a@x.com")], [group("Team: Red", ["a"]), group("Team", ["a"])]);
  const data = buildSyncData(input, { ...ALL, setFilters: { groups: "include:team: red" } });
  assert.deepEqual(data.groups.map((g) => g.name), ["Team: Red"]);
});

Deno.test("buildSyncData() resolves members through provider refs", () => {
  const input = snapshot(
    [user("cn=ann,dc=x", "ann@x.com", {
      externalId: "guid-ann",
      refs: ["cn=ann,dc=x", "uid:ann"],
    })],
    [
      group("cn=g,dc=x", ["uid:ann"], { refs: ["cn=g,dc=x", "gid:g"] }),
      group("cn=all,dc=x", ["gid:g"]),
    ],
  );
  const data = buildSyncData(input, ALL);
  assert.deepEqual(data.groups.map((g) => g.memberExternalIds), [["guid-ann"], ["guid-ann"]]);
});

Deno.test("buildSyncData() gives the same result for identical duplicate records read twice", () => {
  const a = user("a", "a@x.com");
  const g = group("G", ["a"]);
  const data = buildSyncData(snapshot([a, { ...a }], [g, { ...g, memberRefs: ["a"] }]), ALL);
  assert.deepEqual(data.users.map((u) => u.referenceId), ["a"]);
  assert.deepEqual(data.groups.map((x) => x.memberExternalIds), [["ext-a"]]);
});

Deno.test("buildSyncData() gives the same users whichever of an account and its tombstone comes first", () => {
  const active = user("cn=ann", "ann@x.com", { externalId: "guid-new" });
  const tomb = user("cn=ann-old", "ANN@x.com", { externalId: "guid-old", deleted: true });
  const forward = buildSyncData(snapshot([active, tomb]), ALL);
  const backward = buildSyncData(snapshot([tomb, active]), ALL);
  assert.deepEqual(forward.users.map((u) => u.externalId), ["guid-new"]);
  assert.deepEqual(backward.users, forward.users);
});
