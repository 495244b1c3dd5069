import assert from "node:assert/strict";
import { checkRemovalGuard } from "../../src/engine/guard.ts";
import {
  type OrgGroup,
  type OrgMember,
  type OrgView,
  type Plan,
  planSync,
} from "../../src/engine/plan.ts";
import type { ImportGroup, ImportMember, ImportRequest } from "../../src/engine/types.ts";

function member(
  id: string,
  email: string,
  externalId: string | null,
  extra: Partial<OrgMember> = {},
): OrgMember {
  return { id, email, externalId, status: 2, type: 2, ...extra };
}

function orgGroup(
  id: string,
  name: string,
  externalId: string | null,
  memberIds: string[],
): OrgGroup {
  return { id, name, externalId, memberIds };
}

function send(email: string | null, externalId: string, deleted = false): ImportMember {
  return { email, externalId, deleted };
}

function request(
  members: ImportMember[],
  groups: ImportGroup[] = [],
  extra: Partial<ImportRequest> = {},
): ImportRequest {
  return {
    groups,
    members,
    overwriteExisting: false,
    largeImport: false,
    inviteUsersAfterProvisioning: true,
    ...extra,
  };
}

function org(members: OrgMember[], groups: OrgGroup[] = []): OrgView {
  return { members, groups };
}

function ids(list: { id: string | null; externalId: string | null }[]): (string | null)[] {
  return list.map((m) => m.id ?? m.externalId);
}

Deno.test("planSync() invites members whose externalId and email are new", () => {
  const plan = planSync(
    [request([send("new@x.com", "e-new")])],
    org([member("m1", "old@x.com", "e-old")]),
  );
  assert.deepEqual(plan.invite, [{ id: null, email: "new@x.com", externalId: "e-new" }]);
  assert.deepEqual(plan.unchanged, []);
  assert.equal(plan.summary.invite, 1);
  assert.equal(plan.orgView, true);
});

Deno.test("planSync() links an unlinked member with the same email and then uses it in groups", () => {
  const plan = planSync(
    [request([send("ann@x.com", "e-ann")], [{
      name: "Eng",
      externalId: "g-eng",
      memberExternalIds: ["e-ann"],
    }])],
    org([member("m-ann", "ann@x.com", null)]),
  );
  assert.deepEqual(plan.link, [{ id: "m-ann", email: "ann@x.com", externalId: "e-ann" }]);
  assert.deepEqual(plan.invite, []);
  assert.deepEqual(plan.groups, [{
    id: null,
    externalId: "g-eng",
    name: "Eng",
    action: "create",
    previousName: null,
    add: [{ id: "m-ann", email: "ann@x.com", externalId: "e-ann" }],
    remove: [],
  }]);
});

Deno.test("planSync() reports an email the server skips because another externalId has it", () => {
  const plan = planSync(
    [request([send("ann@x.com", "e-new")], [{
      name: "Eng",
      externalId: "g",
      memberExternalIds: ["e-new"],
    }])],
    org([member("m-ann", "Ann@x.com", "e-old")]),
  );
  assert.deepEqual(plan.invite, []);
  assert.equal(plan.skipped.length, 1);
  assert.deepEqual(plan.skipped[0]?.existing, {
    id: "m-ann",
    email: "Ann@x.com",
    externalId: "e-old",
  });
  assert.match(
    plan.skipped[0]?.reason ?? "",
    /linked to externalId "e-old".*drops its group memberships/,
  );
  // The group is created, but the skipped externalId resolves to nobody.
  assert.deepEqual(plan.groups[0]?.add, []);
});

Deno.test("planSync() does not link an unlinked member whose stored email differs in case", () => {
  const plan = planSync(
    [request([send("ann@x.com", "e-ann")])],
    org([member("m-ann", "Ann@X.com", null)]),
  );
  assert.deepEqual(plan.link, []);
  assert.deepEqual(plan.invite, []);
  assert.match(plan.skipped[0]?.reason ?? "", /different letter case \(Ann@X\.com\)/);
});

Deno.test("planSync() removes deleted entries by externalId and protects owners", () => {
  const plan = planSync(
    [request([
      send(null, "e-bob", true),
      send("whatever@x.com", "e-own", true),
      send(null, "e-none", true),
    ])],
    org([
      member("m-bob", "bob@x.com", "e-bob", { type: 1 }),
      member("m-own", "own@x.com", "e-own", { type: 0 }),
    ]),
  );
  assert.deepEqual(plan.remove, [{
    id: "m-bob",
    email: "bob@x.com",
    externalId: "e-bob",
    reason: "deleted",
  }]);
  assert.deepEqual(plan.protectedOwners, [{
    id: "m-own",
    email: "own@x.com",
    externalId: "e-own",
    reason: "deleted",
  }]);
  assert.equal(plan.summary.remove, 1);
});

Deno.test("planSync() does not remove a deleted entry also listed as non-deleted", () => {
  const plan = planSync(
    [request([send("bob@x.com", "e-bob"), send(null, "e-bob", true)])],
    org([member("m-bob", "bob@x.com", "e-bob")]),
  );
  assert.deepEqual(plan.remove, []);
  assert.deepEqual(ids(plan.unchanged), ["m-bob"]);
});

Deno.test("planSync() with overwriteExisting removes linked members not listed, never unlinked ones or owners", () => {
  const plan = planSync(
    [request([send("a@x.com", "e-a")], [], { overwriteExisting: true })],
    org([
      member("m-a", "a@x.com", "e-a"),
      member("m-b", "b@x.com", "e-b"),
      member("m-c", "c@x.com", null),
      member("m-o", "o@x.com", "e-o", { type: 0 }),
      member("m-blank", "d@x.com", "  "),
    ]),
  );
  assert.deepEqual(plan.remove, [{
    id: "m-b",
    email: "b@x.com",
    externalId: "e-b",
    reason: "overwrite",
  }]);
  assert.deepEqual(ids(plan.protectedOwners), ["m-o"]);
  assert.deepEqual(ids(plan.unchanged), ["m-a"]);
});

Deno.test("planSync() with overwriteExisting removes and re-invites a member whose externalId changed", () => {
  const plan = planSync(
    [request([send("a@x.com", "e-new")], [], { overwriteExisting: true })],
    org([member("m-a", "a@x.com", "e-old")]),
  );
  assert.deepEqual(ids(plan.remove), ["m-a"]);
  assert.deepEqual(plan.invite, [{ id: null, email: "a@x.com", externalId: "e-new" }]);
  assert.deepEqual(plan.skipped, []);
});

Deno.test("planSync() renames groups and replaces membership with resolvable members only", () => {
  const view = org(
    [
      member("m-a", "a@x.com", "e-a"),
      member("m-b", "b@x.com", "e-b"),
      member("m-u", "u@x.com", null),
    ],
    [
      orgGroup("G1", "Old name", "g1", ["m-a", "m-u", "ghost-id"]),
      orgGroup("G2", "Same", "g2", ["m-a", "m-b"]),
      orgGroup("G3", "Manual", null, ["m-a"]),
    ],
  );
  const plan = planSync(
    [
      request([send("a@x.com", "e-a"), send("b@x.com", "e-b")], [
        { name: "New name", externalId: "g1", memberExternalIds: ["e-a", "e-b", "e-unknown"] },
        { name: "Same", externalId: "g2", memberExternalIds: ["e-b", "e-a"] },
      ]),
    ],
    view,
  );
  assert.deepEqual(plan.groups, [{
    id: "G1",
    externalId: "g1",
    name: "New name",
    action: "rename",
    previousName: "Old name",
    add: [{ id: "m-b", email: "b@x.com", externalId: "e-b" }],
    remove: [{ id: "m-u", email: "u@x.com", externalId: null }],
  }]);
  assert.equal(plan.summary.groupsUnchanged, 1);
  assert.equal(plan.summary.groupsRename, 1);
  assert.equal(plan.summary.membershipAdds, 1);
  assert.equal(plan.summary.membershipRemoves, 1);
});

Deno.test("planSync() reports a membership-only change as update", () => {
  const plan = planSync(
    [request([], [{ name: "G", externalId: "g", memberExternalIds: [] }])],
    org([member("m-a", "a@x.com", "e-a")], [orgGroup("G", "G", "g", ["m-a"])]),
  );
  assert.equal(plan.groups[0]?.action, "update");
  assert.deepEqual(ids(plan.groups[0]?.remove ?? []), ["m-a"]);
});

Deno.test("planSync() replays batches in order, so group batches see members invited earlier", () => {
  const plan = planSync(
    [
      request([send("n1@x.com", "e1"), send("n2@x.com", "e2")], [], { largeImport: true }),
      request([], [{ name: "G", externalId: "g", memberExternalIds: ["e2", "e1"] }], {
        largeImport: true,
      }),
    ],
    org([]),
  );
  assert.deepEqual(plan.groups[0]?.add, [
    { id: null, email: "n1@x.com", externalId: "e1" },
    { id: null, email: "n2@x.com", externalId: "e2" },
  ]);
});

Deno.test("planSync() finds nothing to do when the organization matches", () => {
  const plan = planSync(
    [request([send("a@x.com", "e-a")], [{
      name: "G",
      externalId: "g",
      memberExternalIds: ["e-a"],
    }])],
    org([member("m-a", "a@x.com", "e-a")], [orgGroup("G", "G", "g", ["m-a"])]),
  );
  assert.equal(plan.summary.changes, 0);
  assert.deepEqual(plan.groups, []);
  assert.equal(plan.summary.unchanged, 1);
  assert.equal(plan.summary.orgMembers, 1);
});

Deno.test("planSync() warns about externalIds the organization already holds twice", () => {
  const plan = planSync([], org([member("m1", "a@x.com", "dup"), member("m2", "b@x.com", "dup")]));
  assert.equal(plan.warnings.length, 1);
  assert.match(plan.warnings[0] ?? "", /share the externalId "dup"/);
});

Deno.test("planSync() sorts its lists by email then externalId, whatever the request order", () => {
  const members = [send("c@x.com", "3"), send("a@x.com", "1"), send("b@x.com", "2")];
  const forward = planSync([request(members)], org([]));
  const backward = planSync([request([...members].reverse())], org([]));
  assert.deepEqual(forward.invite.map((m) => m.email), ["a@x.com", "b@x.com", "c@x.com"]);
  assert.equal(JSON.stringify(forward), JSON.stringify(backward));
});

Deno.test("planSync() without an org view lists what is sent and counts deleted entries as removals", () => {
  const plan = planSync(
    [
      request(
        [
          send("b@x.com", "e-b"),
          send("a@x.com", "e-a"),
          send(null, "e-gone", true),
          send("x@x.com", "e-a", true),
        ],
        [{ name: "G", externalId: "g", memberExternalIds: ["e-a", "e-unknown", "e-a"] }],
      ),
    ],
    null,
  );
  assert.equal(plan.orgView, false);
  assert.deepEqual(plan.upsert.map((m) => m.email), ["a@x.com", "b@x.com"]);
  assert.deepEqual(plan.remove, [{
    id: null,
    email: null,
    externalId: "e-gone",
    reason: "deleted",
  }]);
  assert.deepEqual(plan.groups, [{
    id: null,
    externalId: "g",
    name: "G",
    action: "upsert",
    previousName: null,
    add: [
      { id: null, email: null, externalId: "e-unknown" },
      { id: null, email: "a@x.com", externalId: "e-a" },
    ],
    remove: [],
  }]);
  assert.equal(plan.removalsUnknown, false);
  assert.equal(plan.summary.remove, 1);
  assert.equal(plan.summary.groupsUpsert, 1);
  assert.equal(plan.warnings.length, 1);
});

Deno.test("planSync() without an org view flags overwriteExisting removals as unknown", () => {
  const plan = planSync([request([send("a@x.com", "e-a")], [], { overwriteExisting: true })], null);
  assert.equal(plan.removalsUnknown, true);
  assert.equal(plan.warnings.length, 2);
});

Deno.test("planSync() of no requests changes nothing", () => {
  const plan = planSync([], org([member("m", "a@x.com", "e")]));
  assert.equal(plan.summary.changes, 0);
  assert.deepEqual(plan.remove, []);
});

function planWithRemovals(removals: number, orgMembers: number, removalsUnknown = false): Plan {
  const members = Array.from(
    { length: orgMembers },
    (_, i) => member(`m${i}`, `u${i}@x.com`, `e${i}`),
  );
  const deleted = members.slice(0, removals).map((m) => send(null, m.externalId ?? "", true));
  const plan = planSync([request(deleted)], org(members));
  return { ...plan, removalsUnknown };
}

Deno.test("checkRemovalGuard() allows removals up to maxRemovals", () => {
  const options = { maxRemovals: 10, maxRemovalsPercent: 10 };
  assert.deepEqual(checkRemovalGuard(planWithRemovals(10, 50), options), {
    allowed: true,
    limit: 10,
    removals: 10,
    removalsUnknown: false,
  });
  assert.equal(checkRemovalGuard(planWithRemovals(11, 50), options).allowed, false);
});

Deno.test("checkRemovalGuard() raises the limit to the floor of the percentage of members", () => {
  const result = checkRemovalGuard(planWithRemovals(19, 199), {
    maxRemovals: 10,
    maxRemovalsPercent: 10,
  });
  assert.deepEqual(result, {
    allowed: true,
    limit: 19,
    removals: 19,
    removalsUnknown: false,
  });
  assert.equal(
    checkRemovalGuard(planWithRemovals(20, 199), { maxRemovals: 10, maxRemovalsPercent: 10 })
      .allowed,
    false,
  );
});

Deno.test("checkRemovalGuard() counts protected owners as no removal", () => {
  const plan = planSync(
    [request([send(null, "e-own", true)])],
    org([member("m-own", "own@x.com", "e-own", { type: 0 })]),
  );
  assert.equal(checkRemovalGuard(plan, { maxRemovals: 1, maxRemovalsPercent: 0 }).removals, 0);
});

Deno.test("checkRemovalGuard() is disabled by maxRemovals 0", () => {
  const result = checkRemovalGuard(planWithRemovals(30, 30, true), {
    maxRemovals: 0,
    maxRemovalsPercent: 0,
  });
  assert.equal(result.allowed, true);
  assert.equal(result.removals, 30);
});

Deno.test("checkRemovalGuard() lets an explicit allowance through, up to its number", () => {
  const plan = planWithRemovals(30, 30);
  const guard = { maxRemovals: 5, maxRemovalsPercent: 10 };
  assert.equal(checkRemovalGuard(plan, guard).allowed, false);
  assert.equal(checkRemovalGuard(plan, { ...guard, allowRemovals: 30 }).allowed, true);
  assert.equal(checkRemovalGuard(plan, { ...guard, allowRemovals: 29 }).allowed, false);
  // The allowance also caps below the limit.
  assert.equal(
    checkRemovalGuard(planWithRemovals(3, 30), { ...guard, allowRemovals: 2 }).allowed,
    false,
  );
});

Deno.test("checkRemovalGuard() refuses uncountable removals unless explicitly allowed", () => {
  const plan = planSync([request([send("a@x.com", "e-a")], [], { overwriteExisting: true })], null);
  const guard = { maxRemovals: 10, maxRemovalsPercent: 10 };
  assert.deepEqual(checkRemovalGuard(plan, guard), {
    allowed: false,
    limit: 10,
    removals: 0,
    removalsUnknown: true,
  });
  assert.equal(checkRemovalGuard(plan, { ...guard, allowRemovals: 0 }).allowed, true);
});

Deno.test("planSync() warns that revoked members in the directory stay revoked", () => {
  const plan = planSync(
    [request([send("r@x.com", "e-r"), send("a@x.com", "e-a")])],
    org([member("m-r", "r@x.com", "e-r", { status: -1 }), member("m-a", "a@x.com", "e-a")]),
  );
  assert.deepEqual(plan.warnings, [
    "1 revoked member stays revoked (the import never restores): r@x.com",
  ]);
  assert.equal(plan.summary.unchanged, 2);
});

Deno.test("planSync() with unread group memberships plans removals and renames, not membership", () => {
  const org: OrgView = {
    members: [
      { id: "m1", email: "ann@example.com", externalId: "u1", status: 2, type: 2 },
      { id: "m2", email: "bo@example.com", externalId: "u2", status: 2, type: 2 },
    ],
    groups: [
      { id: "g1", name: "Old name", externalId: "eng", memberIds: null },
      { id: "g2", name: "Ops", externalId: "ops", memberIds: null },
    ],
  };
  const request: ImportRequest = {
    groups: [
      { name: "Engineering", externalId: "eng", memberExternalIds: ["u1"] },
      { name: "Ops", externalId: "ops", memberExternalIds: ["u1"] },
      { name: "New", externalId: "new", memberExternalIds: ["u1"] },
    ],
    members: [
      { email: "ann@example.com", externalId: "u1", deleted: false },
      { email: "bo@example.com", externalId: "u2", deleted: true },
    ],
    overwriteExisting: false,
    largeImport: false,
    inviteUsersAfterProvisioning: false,
  };
  const plan = planSync([request], org);
  assert.deepEqual(plan.remove.map((m) => m.externalId), ["u2"]);
  assert.deepEqual(
    plan.groups.map((g) => [g.externalId, g.action, g.add.length, g.remove.length]),
    [["eng", "rename", 0, 0], ["new", "create", 1, 0], ["ops", "upsert", 0, 0]],
  );
  assert.equal(plan.summary.groupsUpsert, 1);
  assert.equal(plan.summary.membershipAdds, 1);
});
