import assert from "node:assert/strict";
import { compactOf } from "../../src/engine/compact.ts";
import {
  materializeTestReport,
  sortedMembers,
  sortTestReport,
  toBwdcTestResponse,
  toTestReport,
  writeTestReportJson,
} from "../../src/engine/report.ts";
import type { SyncData, SyncUser } from "../../src/engine/types.ts";

function user(referenceId: string, email: string | null, extra: Partial<SyncUser> = {}): SyncUser {
  return {
    referenceId,
    externalId: `ext-${referenceId}`,
    email,
    disabled: false,
    deleted: false,
    ...extra,
  };
}

function sample(): SyncData {
  return {
    users: [
      user("u10", "user10@x.com"),
      user("u2", "User2@x.com".toLowerCase()),
      user("off", "off@x.com", { disabled: true }),
      user("tomb", null, { deleted: true }),
      user("gone", "gone@x.com", { deleted: true, disabled: true }),
      user("b", "b@x.com", { externalId: "z" }),
      user("b2", "b@x.com", { externalId: "a", deleted: true }),
    ],
    groups: [
      {
        referenceId: "g2",
        externalId: "g2",
        name: "group10",
        memberExternalIds: ["ext-u2", "ext-u10"],
      },
      {
        referenceId: "g1",
        externalId: "g1",
        name: "Group2",
        memberExternalIds: ["ext-u10", "ext-off"],
      },
      { referenceId: "g0", externalId: "g0", name: "", memberExternalIds: [] },
    ],
    skipped: [
      { referenceId: "cn=z", kind: "user", reason: "no email address" },
      { referenceId: "cn=g", kind: "group", reason: "no name" },
      { referenceId: "cn=a", kind: "user", reason: 'invalid email address "a"' },
    ],
    unresolved: [
      { groupReferenceId: "g2", memberRef: "cn=x" },
      { groupReferenceId: "g1", memberRef: "cn=y" },
      { groupReferenceId: "g1", memberRef: "cn=b" },
    ],
  };
}

function shuffled(data: SyncData): SyncData {
  return {
    users: [...data.users].reverse(),
    groups: [...data.groups].reverse().map((g) => ({
      ...g,
      memberExternalIds: [...g.memberExternalIds].reverse(),
    })),
    skipped: [...data.skipped].reverse(),
    unresolved: [...data.unresolved].reverse(),
  };
}

Deno.test("toTestReport() partitions users and sorts every list by code units", () => {
  assert.deepEqual(toTestReport(sample()), {
    object: "test",
    groups: [
      { externalId: "g0", name: "", memberExternalIds: [] },
      { externalId: "g1", name: "Group2", memberExternalIds: ["ext-off", "ext-u10"] },
      { externalId: "g2", name: "group10", memberExternalIds: ["ext-u10", "ext-u2"] },
    ],
    users: {
      enabled: [
        { externalId: "z", email: "b@x.com" },
        { externalId: "ext-u10", email: "user10@x.com" },
        { externalId: "ext-u2", email: "user2@x.com" },
      ],
      disabled: [{ externalId: "ext-off", email: "off@x.com" }],
      deleted: [
        { externalId: "ext-tomb", email: null },
        { externalId: "a", email: "b@x.com" },
        { externalId: "ext-gone", email: "gone@x.com" },
      ],
    },
    skipped: [
      { referenceId: "cn=g", kind: "group", reason: "no name" },
      { referenceId: "cn=a", kind: "user", reason: 'invalid email address "a"' },
      { referenceId: "cn=z", kind: "user", reason: "no email address" },
    ],
    unresolved: [
      { group: "g1", memberRef: "cn=b" },
      { group: "g1", memberRef: "cn=y" },
      { group: "g2", memberRef: "cn=x" },
    ],
    refusals: [{
      code: "group_name_blank",
      subject: "group g0",
      message: "group with externalId g0 has a blank name; Bitwarden requires one",
    }],
    summary: {
      users: 7,
      enabled: 3,
      disabled: 1,
      deleted: 3,
      groups: 3,
      memberships: 4,
      skipped: 3,
      unresolved: 3,
      refused: 1,
    },
  });
});

Deno.test("toTestReport() gives byte-identical JSON whatever the input order", () => {
  assert.equal(
    JSON.stringify(toTestReport(shuffled(sample()))),
    JSON.stringify(toTestReport(sample())),
  );
});

Deno.test("toTestReport() does not modify its input", () => {
  const data = sample();
  const before = JSON.stringify(data);
  toTestReport(data);
  assert.equal(JSON.stringify(data), before);
});

Deno.test("toTestReport() reports an empty directory with zero counts", () => {
  const report = toTestReport({ users: [], groups: [], skipped: [], unresolved: [] });
  assert.deepEqual(report.summary, {
    users: 0,
    enabled: 0,
    disabled: 0,
    deleted: 0,
    groups: 0,
    memberships: 0,
    skipped: 0,
    unresolved: 0,
    refused: 0,
  });
});

Deno.test("toBwdcTestResponse() builds bwdc's test JSON with its key order", () => {
  const data: SyncData = {
    users: [user("a", "a@x.com")],
    groups: [{ referenceId: "g", externalId: "g", name: "G", memberExternalIds: ["ext-a"] }],
    skipped: [],
    unresolved: [],
  };
  assert.equal(
    JSON.stringify(toBwdcTestResponse(data)),
    '{"groups":[{"externalId":"g","displayName":"G","userIds":["ext-a"]}],' +
      '"enabledUsers":[{"externalId":"ext-a","displayName":"a@x.com"}],' +
      '"disabledUsers":[],"deletedUsers":[],"object":"test"}',
  );
});

Deno.test("toBwdcTestResponse() sorts by display name numerically and case-insensitively", () => {
  const response = toBwdcTestResponse(sample());
  assert.deepEqual(response.groups.map((g) => g.displayName), ["g0", "Group2", "group10"]);
  assert.deepEqual(response.enabledUsers.map((u) => u.displayName), [
    "b@x.com",
    "user2@x.com",
    "user10@x.com",
  ]);
  assert.deepEqual(response.disabledUsers, [{ externalId: "ext-off", displayName: "off@x.com" }]);
  // A deleted user without email shows its referenceId.
  assert.deepEqual(response.deletedUsers.map((u) => u.displayName), [
    "b@x.com",
    "gone@x.com",
    "tomb",
  ]);
  // userIds keep the flattened order.
  assert.deepEqual(response.groups[2]?.userIds, ["ext-u2", "ext-u10"]);
});

Deno.test("toBwdcTestResponse() keeps directory order for names the collator ties", () => {
  const data: SyncData = {
    users: [user("1", "ANN@x.com"), user("2", "ann@x.com"), user("3", "Ánn@x.com")],
    groups: [],
    skipped: [],
    unresolved: [],
  };
  assert.deepEqual(toBwdcTestResponse(data).enabledUsers.map((u) => u.externalId), [
    "ext-1",
    "ext-2",
    "ext-3",
  ]);
});

/** The report of a sample with every shape the JSON writer handles specially. */
function awkward(): SyncData {
  const base = sample();
  return {
    ...base,
    users: [
      ...base.users,
      user('q"uote', 'q"uote\\@x.com', { externalId: 'ext-"quote\\' }),
      user("ctl", "c\u0001tl@x.com", { externalId: "ext-\u0007\n\t" }),
      user("sur", "s\ud800ur@x.com", { externalId: "ext-\udc00-\u{1f600}-é" }),
    ],
    groups: [
      ...base.groups,
      {
        referenceId: "gq",
        externalId: 'g"q',
        name: "name \\ with\u2028 odd \ud83d",
        memberExternalIds: ['ext-"quote\\', "ext-\u0007\n\t", "ext-\udc00-\u{1f600}-é", "ext-u2"],
      },
    ],
  };
}

Deno.test("writeTestReportJson() writes exactly JSON.stringify(report, null, 2)", () => {
  const datasets = [sample(), awkward(), { users: [], groups: [], skipped: [], unresolved: [] }];
  for (const data of datasets) {
    const report = sortTestReport(compactOf(data));
    const chunks: string[] = [];
    writeTestReportJson(report, (chunk) => chunks.push(chunk));
    assert.equal(chunks.join(""), JSON.stringify(toTestReport(data), null, 2));
  }
});

Deno.test("writeTestReportJson() passes chunks of about 64 KiB as it goes", () => {
  const users = Array.from({ length: 3000 }, (_, i) => user(`u${i}`, `user${i}@example.com`));
  const data: SyncData = {
    users,
    groups: [{
      referenceId: "all",
      externalId: "all",
      name: "all",
      memberExternalIds: users.map((u) => u.externalId),
    }],
    skipped: [],
    unresolved: [],
  };
  const chunks: string[] = [];
  writeTestReportJson(sortTestReport(compactOf(data)), (chunk) => chunks.push(chunk));
  const text = chunks.join("");
  assert.equal(text, JSON.stringify(toTestReport(data), null, 2));
  assert.ok(chunks.length >= Math.floor(text.length / 65536));
  assert.ok(chunks.slice(0, -1).every((chunk) => chunk.length >= 65536));
  assert.ok(chunks.every((chunk) => chunk.length < 65536 + 200));
});

Deno.test("sortedMembers() sorts a group's members by externalId in code-unit order", () => {
  const data: SyncData = {
    users: [],
    groups: [{
      referenceId: "g",
      externalId: "g",
      name: "g",
      memberExternalIds: ["b", "a", "B", "é", "\u{1f600}", "\uffff", "aa"],
    }],
    skipped: [],
    unresolved: [],
  };
  const compact = compactOf(data);
  const report = sortTestReport(compact);
  assert.deepEqual(
    Array.from(sortedMembers(report, 0), (m) => compact.memberIds[m]),
    ["B", "a", "aa", "b", "é", "\u{1f600}", "\uffff"],
  );
});

Deno.test("materializeTestReport() does not depend on the order groups list their members", () => {
  const data = awkward();
  const reversed = {
    ...data,
    groups: data.groups.map((g) => ({
      ...g,
      memberExternalIds: [...g.memberExternalIds].reverse(),
    })),
  };
  assert.deepEqual(
    materializeTestReport(sortTestReport(compactOf(reversed))),
    materializeTestReport(sortTestReport(compactOf(data))),
  );
});
