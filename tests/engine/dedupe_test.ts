import assert from "node:assert/strict";
import { dedupeGroups, dedupeUsers, duplicatesError } from "../../src/engine/dedupe.ts";
import { normalizeUsers } from "../../src/engine/normalize.ts";
import { DirectoryDataError, ExitCode } from "../../src/errors.ts";
import type { DirectoryGroup, DirectoryUser } from "../../src/engine/types.ts";

function user(
  referenceId: string,
  email: string | null,
  extra: Partial<DirectoryUser> = {},
): DirectoryUser {
  return {
    referenceId,
    externalId: referenceId,
    email,
    disabled: false,
    deleted: false,
    ...extra,
  };
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  const out: T[][] = [];
  items.forEach((item, i) => {
    for (const rest of permutations([...items.slice(0, i), ...items.slice(i + 1)])) {
      out.push([item, ...rest]);
    }
  });
  return out;
}

function dedupe(users: DirectoryUser[]) {
  return dedupeUsers(normalizeUsers(users).users);
}

function survivors(users: DirectoryUser[]): string[] {
  return dedupe(users).users.map((u) => u.user.referenceId).sort();
}

Deno.test("dedupeUsers() reports two active users with one email in every input order", () => {
  const users = [
    user("cn=b", "Dup@x.com"),
    user("cn=a", "dup@x.com"),
    user("cn=c", "other@x.com"),
  ];
  for (const order of permutations(users)) {
    const result = dedupe(order);
    assert.deepEqual(result.duplicateEmails, [{
      email: "dup@x.com",
      referenceIds: ["cn=a", "cn=b"],
    }]);
  }
});

Deno.test("dedupeUsers() drops a deleted user sharing an active user's email, whichever comes first", () => {
  const users = [user("active", "p@x.com"), user("tomb", "P@x.com", { deleted: true })];
  for (const order of permutations(users)) {
    const result = dedupe(order);
    assert.deepEqual(result.duplicateEmails, []);
    assert.deepEqual(result.duplicateExternalIds, []);
    assert.deepEqual(result.users.map((u) => u.user.referenceId), ["active"]);
  }
});

Deno.test("dedupeUsers() keeps every deleted user sharing an email with other deleted users", () => {
  const users = [
    user("t1", "p@x.com", { deleted: true }),
    user("t2", "p@x.com", { deleted: true }),
    user("t3", "p@x.com", { deleted: true }),
  ];
  for (const order of permutations(users)) {
    assert.deepEqual(survivors(order), ["t1", "t2", "t3"]);
  }
});

Deno.test("dedupeUsers() collapses identical records to the first and keeps input order", () => {
  const users = [
    user("cn=a", "a@x.com"),
    user("cn=b", "b@x.com"),
    user("cn=a", " A@X.com "),
    user("cn=b", "b@x.com"),
  ];
  const result = dedupe(users);
  assert.deepEqual(result.users.map((u) => u.user.referenceId), ["cn=a", "cn=b"]);
  assert.deepEqual(result.duplicateEmails, []);
});

Deno.test("dedupeUsers() treats records differing only in disabled as duplicates", () => {
  const users = [user("cn=a", "a@x.com"), user("cn=a", "a@x.com", { disabled: true })];
  for (const order of permutations(users)) {
    assert.deepEqual(dedupe(order).duplicateEmails, [{
      email: "a@x.com",
      referenceIds: ["cn=a", "cn=a"],
    }]);
  }
});

Deno.test("dedupeUsers() resolves a mix of identical, tombstone and distinct records the same in all 120 orders", () => {
  const users = [
    user("cn=a", "a@x.com"),
    user("cn=a", "a@x.com"),
    user("tomb-a", "a@x.com", { deleted: true }),
    user("t1", null, { deleted: true }),
    user("t2", null, { deleted: true }),
  ];
  for (const order of permutations(users)) {
    const result = dedupe(order);
    assert.deepEqual(result.users.map((u) => u.user.referenceId).sort(), ["cn=a", "t1", "t2"]);
    assert.deepEqual(result.duplicateEmails, []);
    assert.deepEqual(result.duplicateExternalIds, []);
  }
});

Deno.test("dedupeUsers() reports different records sharing an externalId", () => {
  const users = [
    user("cn=a", "a@x.com", { externalId: "guid-1" }),
    user("cn=b", "b@x.com", { externalId: "guid-1" }),
    user("cn=c", null, { externalId: "guid-2", deleted: true }),
    user("cn=d", null, { externalId: "guid-2", deleted: true }),
  ];
  for (const order of permutations(users)) {
    assert.deepEqual(dedupe(order).duplicateExternalIds, [
      { externalId: "guid-1", referenceIds: ["cn=a", "cn=b"] },
      { externalId: "guid-2", referenceIds: ["cn=c", "cn=d"] },
    ]);
  }
});

Deno.test("dedupeUsers() does not count a dropped tombstone's externalId", () => {
  const users = [
    user("cn=a", "a@x.com", { externalId: "e" }),
    user("cn=a-old", "a@x.com", { externalId: "e", deleted: true }),
  ];
  for (const order of permutations(users)) {
    assert.deepEqual(dedupe(order).duplicateExternalIds, []);
  }
});

Deno.test("dedupeGroups() collapses identical groups and reports groups sharing an externalId", () => {
  const g = (referenceId: string, externalId: string, name: string): DirectoryGroup => ({
    referenceId,
    externalId,
    name,
    memberRefs: ["u"],
  });
  const groups = [
    g("cn=g1", "x", "One"),
    g("cn=g1", "x", "One"),
    g("cn=g2", "x", "Two"),
    g("cn=g3", "y", "Three"),
  ];
  for (const order of permutations(groups)) {
    const result = dedupeGroups(order);
    assert.equal(result.groups.length, 3);
    assert.deepEqual(result.duplicateExternalIds, [{
      externalId: "x",
      referenceIds: ["cn=g1", "cn=g2"],
    }]);
  }
});

Deno.test("duplicatesError() returns null when there is nothing to report", () => {
  assert.equal(duplicatesError({ emails: [], userExternalIds: [], groupExternalIds: [] }), null);
});

Deno.test("duplicatesError() names every duplicate email with its referenceIds, sorted", () => {
  const users = [
    user("cn=e2", "e@x.com"),
    user("cn=e1", "e@x.com"),
    user("cn=d1", "d@x.com"),
    user("cn=d2", "d@x.com"),
    user("cn=c1", "c@x.com"),
    user("cn=c2", "c@x.com"),
    user("cn=b1", "b@x.com"),
    user("cn=b2", "b@x.com"),
    user("cn=b3", "b@x.com"),
  ];
  const result = dedupe(users);
  const error = duplicatesError({
    emails: result.duplicateEmails,
    userExternalIds: result.duplicateExternalIds,
    groupExternalIds: [],
  });
  assert.ok(error instanceof DirectoryDataError);
  assert.equal(error.code, "duplicate_email");
  assert.equal(error.exitCode, ExitCode.DirectoryData);
  assert.equal(
    error.message,
    [
      "Cannot sync the directory: 4 email addresses are used by more than one user",
      '  email b@x.com: "cn=b1", "cn=b2", "cn=b3"',
      '  email c@x.com: "cn=c1", "cn=c2"',
      '  email d@x.com: "cn=d1", "cn=d2"',
      '  email e@x.com: "cn=e1", "cn=e2"',
    ].join("\n"),
  );
  assert.equal(
    error.hint,
    "Fix the directory (give each user its own email address) or narrow sync.userFilter to leave the duplicates out",
  );
  assert.deepEqual(error.details, {
    duplicateEmails: [
      { email: "b@x.com", referenceIds: ["cn=b1", "cn=b2", "cn=b3"] },
      { email: "c@x.com", referenceIds: ["cn=c1", "cn=c2"] },
      { email: "d@x.com", referenceIds: ["cn=d1", "cn=d2"] },
      { email: "e@x.com", referenceIds: ["cn=e1", "cn=e2"] },
    ],
    duplicateUserExternalIds: [],
    duplicateGroupExternalIds: [],
  });
});

Deno.test("duplicatesError() uses duplicate_external_id when only externalIds collide", () => {
  const error = duplicatesError({
    emails: [],
    userExternalIds: [{ externalId: "1", referenceIds: ["a", "b"] }],
    groupExternalIds: [{ externalId: "g", referenceIds: ["cn=x", "cn=y"] }],
  });
  assert.equal(error?.code, "duplicate_external_id");
  assert.equal(
    error?.message,
    [
      "Cannot sync the directory: 1 externalId is used by more than one user; 1 externalId is used by more than one group",
      '  user externalId "1": "a", "b"',
      '  group externalId "g": "cn=x", "cn=y"',
    ].join("\n"),
  );
  assert.equal(
    error?.hint,
    "Fix the directory (give each user its own externalId) or narrow sync.userFilter to leave the duplicates out; for groups, fix the directory (give each group its own externalId) or narrow sync.groupFilter to leave the duplicates out",
  );
});
