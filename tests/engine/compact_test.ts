import assert from "node:assert/strict";
import {
  CompactBuilder,
  compactOf,
  compactSyncData,
  type EngineOptions,
  expandSyncData,
  USER_DELETED,
  USER_DISABLED,
} from "../../src/engine/compact.ts";
import type { DirectorySnapshot, SyncData } from "../../src/engine/types.ts";

const ALL: EngineOptions = { syncUsers: true, syncGroups: true, removeDisabled: false };

function directory(): DirectorySnapshot {
  return {
    users: [
      {
        referenceId: "cn=a",
        externalId: "A",
        email: " Ann@X.com",
        disabled: false,
        deleted: false,
      },
      {
        referenceId: "cn=b",
        externalId: "B",
        email: "b@x.com",
        disabled: true,
        deleted: false,
        refs: ["cn=b", "uid:b"],
      },
      { referenceId: "cn=c", externalId: "C", email: null, disabled: false, deleted: false },
      { referenceId: "cn=d", externalId: "D", email: null, disabled: false, deleted: true },
    ],
    groups: [
      { referenceId: "cn=g1", externalId: "G1", name: "one", memberRefs: ["uid:b", "cn=g2"] },
      { referenceId: "cn=g2", externalId: "G2", name: "two", memberRefs: ["cn=a", "cn=x"] },
    ],
    skipped: [{ referenceId: "cn=z", kind: "group", reason: "no name" }],
  };
}

Deno.test("compactSyncData() keeps users and groups as columns and members as indexes", () => {
  const data = compactSyncData(directory(), ALL);
  assert.deepEqual(data.users.referenceId, ["cn=a", "cn=b", "cn=d"]);
  assert.deepEqual(data.users.externalId, ["A", "B", "D"]);
  assert.deepEqual(data.users.email, ["ann@x.com", "b@x.com", null]);
  assert.deepEqual([...data.users.flags], [0, USER_DISABLED, USER_DELETED]);
  assert.deepEqual(data.groups, {
    referenceId: ["cn=g1", "cn=g2"],
    externalId: ["G1", "G2"],
    name: ["one", "two"],
  });
  assert.deepEqual([...data.memberStart], [0, 2, 3]);
  assert.deepEqual([...data.members].map((m) => data.memberIds[m]), ["B", "A", "A"]);
  assert.deepEqual(data.skipped, [
    { referenceId: "cn=z", kind: "group", reason: "no name" },
    { referenceId: "cn=c", kind: "user", reason: "no email address" },
  ]);
  assert.deepEqual(data.unresolved, [{ groupReferenceId: "cn=g2", memberRef: "cn=x" }]);
});

Deno.test("compactSyncData() holds no record, refs or memberRefs list of the snapshot", () => {
  const snapshot = directory();
  const held = new Set<unknown>([
    snapshot,
    snapshot.users,
    snapshot.groups,
    ...snapshot.users,
    ...snapshot.groups,
    ...snapshot.users.map((u) => u.refs),
    ...snapshot.groups.map((g) => g.memberRefs),
  ]);
  held.delete(undefined);
  const seen = new Set<unknown>();
  const walk = (value: unknown): void => {
    if (typeof value !== "object" || value === null || seen.has(value)) return;
    seen.add(value);
    assert.equal(held.has(value), false);
    for (const child of Object.values(value)) walk(child);
  };
  walk(compactSyncData(snapshot, ALL));
  assert.ok(seen.size > 10);
});

Deno.test("compactSyncData() with groups off returns no groups and no members", () => {
  const data = compactSyncData(directory(), { ...ALL, syncGroups: false });
  assert.deepEqual(data.groups.name, []);
  assert.deepEqual([...data.memberStart], [0]);
  assert.equal(data.members.length, 0);
  assert.deepEqual(data.users.externalId, ["A", "B", "D"]);
});

Deno.test("compactSyncData() with users off returns no users but still lists members", () => {
  const data = compactSyncData(directory(), { ...ALL, syncUsers: false });
  assert.deepEqual(data.users.externalId, []);
  assert.deepEqual([...data.members].map((m) => data.memberIds[m]), ["B", "A", "A"]);
});

Deno.test("CompactBuilder gives compactSyncData()'s result when groups come before users", () => {
  const snapshot = directory();
  const builder = new CompactBuilder(ALL);
  builder.addGroups(snapshot.groups.slice(1));
  builder.addUsers(snapshot.users.slice(0, 2));
  builder.addSkipped(snapshot.skipped);
  builder.addGroups(snapshot.groups.slice(0, 1));
  builder.addUsers(snapshot.users.slice(2));
  const streamed = builder.finish();
  // Groups in the order added: g2 first.
  assert.deepEqual(streamed.groups.name, ["two", "one"]);
  const reordered = { ...snapshot, groups: [...snapshot.groups.slice(1), snapshot.groups[0]!] };
  assert.deepEqual(streamed, compactSyncData(reordered, ALL));
});

Deno.test("CompactBuilder applies a group set filter to direct members like applySetFilters()", () => {
  const options: EngineOptions = { ...ALL, setFilters: { groups: "include:two" } };
  const builder = new CompactBuilder(options);
  const snapshot = directory();
  builder.addUsers(snapshot.users);
  builder.addGroups(snapshot.groups);
  const data = builder.finish();
  // cn=a is a direct member of "two"; cn=b (only in "one") is dropped; cn=d is deleted and stays.
  assert.deepEqual(data.users.referenceId, ["cn=a", "cn=d"]);
  assert.deepEqual(data.groups.name, ["two"]);
  assert.deepEqual([...data.members].map((m) => data.memberIds[m]), ["A"]);
});

Deno.test("CompactBuilder refuses pages and a second finish() once finished", () => {
  const builder = new CompactBuilder(ALL);
  builder.finish();
  assert.throws(() => builder.addUsers([]), {
    name: "TypeError",
    message: "The engine's builder is already finished",
  });
  assert.throws(() => builder.finish(), TypeError);
});

Deno.test("expandSyncData() and compactOf() turn data into columns and back unchanged", () => {
  const data: SyncData = {
    users: [
      { referenceId: "r1", externalId: "e1", email: "a@x.com", disabled: false, deleted: false },
      { referenceId: "r2", externalId: "e2", email: null, disabled: true, deleted: true },
    ],
    groups: [
      { referenceId: "g1", externalId: "G1", name: "one", memberExternalIds: ["e2", "e1", "zz"] },
      { referenceId: "g2", externalId: "G2", name: "two", memberExternalIds: [] },
      { referenceId: "g3", externalId: "G3", name: "three", memberExternalIds: ["zz"] },
    ],
    skipped: [{ referenceId: "x", kind: "user", reason: "no email address" }],
    unresolved: [{ groupReferenceId: "g1", memberRef: "cn=q" }],
  };
  const compact = compactOf(data);
  assert.deepEqual(compact.memberIds, ["e2", "e1", "zz"]);
  assert.deepEqual(expandSyncData(compact), data);
});
