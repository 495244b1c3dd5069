import assert from "node:assert/strict";
import {
  checkGuard,
  type GuardLimits,
  hash53,
  mergeSnapshot,
  snapshotCounts,
  snapshotOfRequests,
} from "../../src/engine/guard.ts";
import { planSync } from "../../src/engine/plan.ts";
import type { ImportRequest } from "../../src/engine/types.ts";
import { decodeSnapshot, encodeSnapshot } from "../../src/state/sent.ts";

const LIMITS: GuardLimits = {
  maxRemovals: 10,
  maxRemovalsPercent: 10,
  maxMembershipRemovals: 25,
  maxMembershipRemovalsPercent: 10,
  maxGroupDeletions: 5,
  maxGroupDeletionsPercent: 10,
  maxShrink: 10,
  maxShrinkPercent: 10,
};

function request(groups: Record<string, string[]>): ImportRequest {
  return {
    groups: Object.entries(groups).map(([id, members]) => ({
      name: `Group ${id}`,
      externalId: id,
      memberExternalIds: members,
    })),
    members: [],
    overwriteExisting: false,
    largeImport: false,
    inviteUsersAfterProvisioning: false,
  };
}

function ids(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

function input(before: Record<string, string[]> | null, after: Record<string, string[]>) {
  const requests = [request(after)];
  return {
    plan: planSync(requests, null),
    sent: snapshotOfRequests(requests),
    previous: before === null ? null : snapshotOfRequests([request(before)]),
    fullRead: true,
    read: { users: 100, groups: Object.keys(after).length },
    lastFullRead: { users: 100, groups: before === null ? 0 : Object.keys(before).length },
    syncing: { users: true, groups: true },
  };
}

function kinds(verdict: ReturnType<typeof checkGuard>) {
  return verdict.checks.map((c) => [c.kind, c.count, c.limit, c.allowed]);
}

Deno.test("hash53() is a deterministic safe integer that tells near ids apart", () => {
  assert.equal(hash53("uid=alice,ou=people"), hash53("uid=alice,ou=people"));
  assert.ok(Number.isSafeInteger(hash53("x".repeat(300))));
  const seen = new Set(ids("user", 100_000).map(hash53));
  assert.equal(seen.size, 100_000);
});

Deno.test("checkGuard() counts membership removals against the last sent record", () => {
  // 300 memberships sent before; now 40 are taken out of group a: limit max(25, 30) = 30.
  const before = { a: ids("u", 200), b: ids("u", 100) };
  const verdict = checkGuard(input(before, { a: ids("u", 160), b: ids("u", 100) }), LIMITS);
  assert.deepEqual(kinds(verdict), [
    ["memberRemovals", 0, 10, true],
    ["membershipRemovals", 40, 30, false],
    ["groupDeletions", 0, 5, true],
    ["userShrink", 0, 10, true],
    ["groupShrink", 0, 10, true],
  ]);
  assert.equal(verdict.allowed, false);
  assert.deepEqual(verdict.checks[1]?.items, [{
    subject: 'group "Group a" (externalId a)',
    detail: "40 of 200 members taken out (160 left)",
  }]);
  const allowed = checkGuard(input(before, { a: ids("u", 160), b: ids("u", 100) }), LIMITS, {
    membershipRemovals: 40,
  });
  assert.equal(allowed.allowed, true);
  assert.equal(
    checkGuard(input(before, { a: ids("u", 160), b: ids("u", 100) }), LIMITS, {
      membershipRemovals: 39,
    }).allowed,
    false,
  );
  assert.equal(
    checkGuard(input(before, { a: ids("u", 170), b: ids("u", 100) }), LIMITS).allowed,
    true,
    "30 is within the limit",
  );
});

Deno.test("checkGuard() counts added members as no removal, and a first sync as none", () => {
  const verdict = checkGuard(
    input({ a: ids("u", 5) }, { a: ids("v", 50).concat(ids("u", 5)) }),
    LIMITS,
  );
  assert.equal(verdict.checks[1]?.count, 0);
  assert.equal(checkGuard(input(null, { a: ids("u", 5) }), LIMITS).checks[1]?.count, 0);
});

Deno.test("checkGuard() counts vanished groups on full reads only", () => {
  const before = Object.fromEntries(ids("g", 40).map((g) => [g, ["u1"]]));
  const after = Object.fromEntries(ids("g", 34).map((g) => [g, ["u1"]]));
  const full = checkGuard(input(before, after), LIMITS);
  assert.deepEqual(full.checks[2] && [full.checks[2].count, full.checks[2].limit], [6, 5]);
  assert.equal(full.checks[2]?.allowed, false);
  assert.equal(
    full.checks[2]?.items[0]?.detail,
    "no longer in the directory (the last sync sent it with 1 members)",
  );
  const incremental = checkGuard({ ...input(before, after), fullRead: false }, LIMITS);
  assert.equal(incremental.checks[2]?.count, 0);
  assert.equal(incremental.allowed, true);
});

Deno.test("checkGuard() refuses a read smaller than the last complete one beyond the limit", () => {
  const base = input(null, { a: [] });
  const verdict = checkGuard({
    ...base,
    read: { users: 79, groups: 1 },
    lastFullRead: { users: 100, groups: 1 },
  }, LIMITS);
  assert.deepEqual(
    verdict.checks[3] &&
      [verdict.checks[3].count, verdict.checks[3].limit, verdict.checks[3].allowed],
    [21, 10, false],
  );
  assert.equal(
    checkGuard(
      { ...base, read: { users: 90, groups: 1 }, lastFullRead: { users: 100, groups: 1 } },
      LIMITS,
    ).allowed,
    true,
  );
  assert.equal(
    checkGuard(
      { ...base, read: { users: 79, groups: 1 }, lastFullRead: { users: 100, groups: 1 } },
      {
        ...LIMITS,
        maxShrink: 0,
      },
    ).allowed,
    true,
    "maxShrink 0 turns the check off",
  );
  assert.equal(
    checkGuard(
      { ...base, read: { users: 79, groups: 1 }, lastFullRead: { users: 100, groups: 1 } },
      LIMITS,
      { shrink: 21 },
    ).allowed,
    true,
  );
});

Deno.test("mergeSnapshot() replaces the sent groups on an incremental read and everything on a full one", () => {
  const previous = snapshotOfRequests([request({ a: ["1", "2"], b: ["3"] })]);
  const sent = snapshotOfRequests([request({ b: ["3", "4"] })]);
  const incremental = mergeSnapshot(previous, sent, { fullRead: false });
  assert.deepEqual([...incremental.groups.keys()].sort(), ["a", "b"]);
  assert.deepEqual(snapshotCounts(incremental), { groups: 2, memberships: 4 });
  assert.deepEqual(snapshotCounts(mergeSnapshot(previous, sent, { fullRead: true })), {
    groups: 1,
    memberships: 2,
  });
});

Deno.test("encodeSnapshot() round-trips, and damaged bytes decode to null", () => {
  const snapshot = snapshotOfRequests([request({ "cn=É,dc=x": ids("u", 1000), empty: [] })]);
  const bytes = encodeSnapshot(snapshot);
  // Header, then per group 12 bytes of lengths, the UTF-8 id and name, 8 bytes per member.
  assert.equal(bytes.length, 8 + (12 + 10 + 16 + 8000) + (12 + 5 + 11));
  const decoded = decodeSnapshot(bytes);
  assert.ok(decoded !== null);
  assert.deepEqual([...decoded.groups.keys()], ["cn=É,dc=x", "empty"]);
  assert.deepEqual(
    decoded.groups.get("cn=É,dc=x")?.members,
    snapshot.groups.get("cn=É,dc=x")?.members,
  );
  assert.equal(decodeSnapshot(bytes.subarray(0, bytes.length - 3)), null);
  assert.equal(decodeSnapshot(new TextEncoder().encode("garbage")), null);
});
