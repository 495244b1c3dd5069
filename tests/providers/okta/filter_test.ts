import assert from "node:assert/strict";
import { configErrorOf } from "../../_helpers.ts";
import {
  checkOktaExpression,
  oktaGroupQuery,
  oktaUserQueries,
  parseOktaFilter,
  validateOktaFilters,
} from "../../../src/providers/okta/filter.ts";

Deno.test("parseOktaFilter() gives no set and no native part for an absent filter", () => {
  assert.deepEqual(parseOktaFilter(undefined, "sync.userFilter"), { set: null, native: null });
});

Deno.test("parseOktaFilter() reads an include set of emails without a native part", () => {
  assert.deepEqual(parseOktaFilter("include: Ann@X.com ,bob@x.com", "sync.userFilter"), {
    set: { mode: "include", values: new Set(["ann@x.com", "bob@x.com"]) },
    native: null,
  });
});

Deno.test("parseOktaFilter() sends the native part as filter, or as search after search:", () => {
  assert.deepEqual(parseOktaFilter('exclude:Sales|type eq "OKTA_GROUP"', "sync.groupFilter"), {
    set: { mode: "exclude", values: new Set(["sales"]) },
    native: { parameter: "filter", expression: 'type eq "OKTA_GROUP"' },
  });
  assert.deepEqual(
    parseOktaFilter('|SEARCH: profile.department eq "Eng"', "sync.userFilter"),
    { set: null, native: { parameter: "search", expression: 'profile.department eq "Eng"' } },
  );
});

Deno.test("parseOktaFilter() splits the set part at the first colon, so group names may hold colons", () => {
  const parsed = parseOktaFilter('include:Team: Red,ops|type eq "OKTA_GROUP"', "sync.groupFilter");
  assert.deepEqual(parsed.set, { mode: "include", values: new Set(["team: red", "ops"]) });
});

Deno.test("checkOktaExpression() accepts and, or, parentheses and date comparisons in a user filter", () => {
  const expression =
    '(status eq "ACTIVE" or status eq "SUSPENDED") and lastUpdated gt "2026-01-01T00:00:00.000Z"';
  assert.equal(checkOktaExpression(expression, { parameter: "filter", target: "users" }), null);
  assert.equal(
    checkOktaExpression('lastMembershipUpdated ge "2026-01-01T00:00:00Z" OR type eq "APP_GROUP"', {
      parameter: "filter",
      target: "groups",
    }),
    null,
  );
  assert.equal(
    checkOktaExpression('profile.login sw "a" and profile.nickName pr', {
      parameter: "search",
      target: "users",
    }),
    null,
  );
});

Deno.test("checkOktaExpression() names what is wrong with an expression Okta would refuse", () => {
  const users = { parameter: "filter", target: "users" } as const;
  const cases: [string, string][] = [
    ['status ne "ACTIVE"', "Okta does not support ne"],
    ['not status eq "ACTIVE"', "Okta does not support not"],
    [
      'profile.department eq "Eng"',
      "profile.department cannot be used in a users filter (it can in a search: prefix the expression with search:)",
    ],
    [
      'profile.login sw "a"',
      "sw on profile.login is not supported in a filter (use search: for sw, co, pr)",
    ],
    ['status gt "ACTIVE"', "gt on status is not supported in a filter"],
    ["status eq ACTIVE", "the value after status eq must be in double quotes"],
    ['status eq "ACTIVE', 'unterminated string from "ACTIVE'],
    ['(status eq "ACTIVE"', "a ( is not closed"],
    ['status eq "ACTIVE")', "a ) has no matching ("],
    ['status eq "ACTIVE" and', "the expression ends where a comparison should start"],
    ['status eq "A" status eq "B"', "unexpected status (join comparisons with and / or)"],
    [
      'lastUpdated gt "yesterday"',
      '"yesterday" is not a date (use ISO 8601, e.g. "2026-01-31T00:00:00.000Z")',
    ],
    ["status", "status must be followed by an operator (eq, gt, ge, lt, le, sw, co, pr)"],
    ["  ", "the expression is empty"],
  ];
  for (const [expression, problem] of cases) {
    assert.equal(checkOktaExpression(expression, users), problem, expression);
  }
  assert.equal(
    checkOktaExpression('status eq "ACTIVE"', { parameter: "filter", target: "groups" }),
    "status cannot be used in a groups filter",
  );
});

Deno.test("parseOktaFilter() throws a ConfigError naming the setting and the clause", () => {
  const error = configErrorOf(() =>
    parseOktaFilter('include:a@x.com|status ne "ACTIVE"', "sync.userFilter")
  );
  assert.equal(error.message, "Invalid Okta filter in sync.userFilter: Okta does not support ne");
  assert.deepEqual(error.details, { setting: "sync.userFilter", clause: 'status ne "ACTIVE"' });
  assert.match(error.hint ?? "", /^Fix the part after \| in sync\.userFilter/);
  const search = configErrorOf(() => parseOktaFilter("|search:status", "sync.userFilter"));
  assert.equal(
    search.message,
    "Invalid Okta search in sync.userFilter: status must be followed by an operator (eq, gt, ge, lt, le, sw, co, pr)",
  );
});

Deno.test("parseOktaFilter() refuses a set part that is not include: or exclude:, and an empty list", () => {
  const keyword = configErrorOf(() => parseOktaFilter("only:a@x.com", "sync.userFilter"));
  assert.equal(
    keyword.message,
    'Invalid sync.userFilter: "only:a@x.com" is not include:… or exclude:…',
  );
  assert.deepEqual(keyword.details, { setting: "sync.userFilter", clause: "only:a@x.com" });
  const bare = configErrorOf(() => parseOktaFilter("Sales", "sync.groupFilter"));
  assert.equal(bare.message, 'Invalid sync.groupFilter: "Sales" is not include:… or exclude:…');
  const empty = configErrorOf(() =>
    parseOktaFilter('include: , |status eq "ACTIVE"', "sync.userFilter")
  );
  assert.equal(empty.message, 'Invalid sync.userFilter: "include: ," lists no emails');
});

Deno.test("validateOktaFilters() checks the group filter against the group attributes", () => {
  assert.doesNotThrow(() =>
    validateOktaFilters({ userFilter: '|status eq "ACTIVE"', groupFilter: "include:Sales" })
  );
  const error = configErrorOf(() => validateOktaFilters({ groupFilter: '|status eq "ACTIVE"' }));
  assert.equal(
    error.message,
    "Invalid Okta filter in sync.groupFilter: status cannot be used in a groups filter",
  );
});

Deno.test("oktaUserQueries() adds a DEPROVISIONED pass only to a plain listing", () => {
  const since = new Date("2026-02-01T10:00:00Z");
  assert.deepEqual(oktaUserQueries(null), [{}, { filter: 'status eq "DEPROVISIONED"' }]);
  assert.deepEqual(oktaUserQueries(null, { since }), [
    { filter: 'lastUpdated gt "2026-02-01T10:00:00.000Z"' },
  ]);
  const native = {
    parameter: "filter",
    expression: 'status eq "ACTIVE" or status eq "SUSPENDED"',
  } as const;
  assert.deepEqual(oktaUserQueries(native), [{ filter: native.expression }]);
  assert.deepEqual(oktaUserQueries(native, { since }), [
    { filter: `(${native.expression}) and lastUpdated gt "2026-02-01T10:00:00.000Z"` },
  ]);
  assert.deepEqual(
    oktaUserQueries({ parameter: "search", expression: 'profile.department eq "Eng"' }, { since }),
    [{ search: '(profile.department eq "Eng") and lastUpdated gt "2026-02-01T10:00:00.000Z"' }],
  );
});

Deno.test("oktaGroupQuery() asks for groups whose lastUpdated or lastMembershipUpdated moved", () => {
  const since = new Date("2026-02-01T10:00:00Z");
  assert.deepEqual(oktaGroupQuery(null), {});
  const clause =
    '(lastUpdated gt "2026-02-01T10:00:00.000Z" or lastMembershipUpdated gt "2026-02-01T10:00:00.000Z")';
  assert.deepEqual(oktaGroupQuery(null, { since }), { filter: clause });
  assert.deepEqual(
    oktaGroupQuery({ parameter: "filter", expression: 'type eq "OKTA_GROUP"' }, { since }),
    { filter: `(type eq "OKTA_GROUP") and ${clause}` },
  );
  assert.equal(checkOktaExpression(clause, { parameter: "filter", target: "groups" }), null);
});
