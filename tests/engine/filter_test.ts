import assert from "node:assert/strict";
import {
  applySetFilters,
  nativeQuery,
  parseSetFilter,
  passesSetFilter,
} from "../../src/engine/filter.ts";
import type { DirectoryGroup, DirectoryUser } from "../../src/engine/types.ts";

function user(id: string, email: string | null, extra: Partial<DirectoryUser> = {}): DirectoryUser {
  return { referenceId: id, externalId: id, email, disabled: false, deleted: false, ...extra };
}

function group(id: string, name: string, memberRefs: string[]): DirectoryGroup {
  return { referenceId: id, externalId: id, name, memberRefs };
}

Deno.test("parseSetFilter() reads include and exclude with trimmed, lowercased values", () => {
  assert.deepEqual(parseSetFilter("include: Ann@X.com , bob@x.com"), {
    mode: "include",
    values: new Set(["ann@x.com", "bob@x.com"]),
  });
  assert.deepEqual(parseSetFilter("  EXCLUDE :Sales,,  "), {
    mode: "exclude",
    values: new Set(["sales"]),
  });
});

Deno.test("parseSetFilter() splits at the first colon only, so values may contain colons", () => {
  assert.deepEqual(parseSetFilter("include:Team: Red,ops:oncall|type eq 1"), {
    mode: "include",
    values: new Set(["team: red", "ops:oncall"]),
  });
});

Deno.test("parseSetFilter() gives no filter without a keyword it knows", () => {
  assert.equal(parseSetFilter(undefined), null);
  assert.equal(parseSetFilter(null), null);
  assert.equal(parseSetFilter(""), null);
  assert.equal(parseSetFilter("|name:foo"), null);
  assert.equal(parseSetFilter("ann@x.com"), null);
  assert.equal(parseSetFilter("includes:a"), null);
});

Deno.test("nativeQuery() returns the trimmed text after the first bar, keeping later bars", () => {
  assert.equal(nativeQuery("include:a| name:Eng* "), "name:Eng*");
  assert.equal(nativeQuery("|a | b"), "a | b");
  assert.equal(nativeQuery("include:a"), null);
  assert.equal(nativeQuery("include:a|   "), null);
  assert.equal(nativeQuery(undefined), null);
});

Deno.test("passesSetFilter() compares case-insensitively and treats null as --", () => {
  const include = parseSetFilter("include:ann@x.com,--");
  const exclude = parseSetFilter("exclude:ann@x.com");
  assert.equal(passesSetFilter(include, " ANN@x.com"), true);
  assert.equal(passesSetFilter(include, "bob@x.com"), false);
  assert.equal(passesSetFilter(include, null), true);
  assert.equal(passesSetFilter(exclude, "Ann@X.com"), false);
  assert.equal(passesSetFilter(exclude, null), true);
  assert.equal(passesSetFilter(null, "anything"), true);
});

Deno.test("applySetFilters() filters users by email and groups by name", () => {
  const users = [user("a", "a@x.com"), user("b", "B@x.com"), user("c", null, { deleted: true })];
  const groups = [group("g1", "Sales", []), group("g2", "Ops", [])];
  const result = applySetFilters(users, groups, {
    users: "exclude:b@x.com",
    groups: "include:ops",
    removeDisabled: false,
  });
  assert.deepEqual(result.groups.map((g) => g.referenceId), ["g2"]);
  // The group filter then keeps only deleted users and direct members of kept groups.
  assert.deepEqual(result.users.map((u) => u.referenceId), ["c"]);
});

Deno.test("applySetFilters() keeps direct members of kept groups, deleted users and disabled users with removeDisabled", () => {
  const users = [
    user("direct", "d@x.com"),
    user("nested", "n@x.com"),
    user("other", "o@x.com"),
    user("disabled", "x@x.com", { disabled: true }),
    user("gone", "g@x.com", { deleted: true }),
    user("viaRef", "v@x.com", { refs: ["uid:v"] }),
  ];
  const groups = [
    group("g1", "Eng", ["direct", "g2", "uid:v"]),
    group("g2", "Platform", ["nested"]),
    group("g3", "Sales", ["other"]),
  ];
  const keep = (removeDisabled: boolean) =>
    applySetFilters(users, groups, { groups: "include:eng", removeDisabled }).users.map((u) =>
      u.referenceId
    );
  assert.deepEqual(keep(false), ["direct", "gone", "viaRef"]);
  assert.deepEqual(keep(true), ["direct", "disabled", "gone", "viaRef"]);
});

Deno.test("applySetFilters() leaves everything when no filter is set", () => {
  const users = [user("a", "a@x.com")];
  const groups = [group("g", "G", [])];
  assert.deepEqual(applySetFilters(users, groups, { removeDisabled: false }), { users, groups });
});
