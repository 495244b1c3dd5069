import assert from "node:assert/strict";
import { ConfigError } from "../../../src/errors.ts";
import { parseGoogleFilter } from "../../../src/providers/google/filter.ts";

function set(mode: "include" | "exclude", ...values: string[]) {
  return { mode, values: new Set(values) };
}

Deno.test("parseGoogleFilter() returns no set and no query for an absent or blank filter", () => {
  assert.deepEqual(parseGoogleFilter(undefined, "sync.userFilter"), { set: null, query: null });
  assert.deepEqual(parseGoogleFilter("  ", "sync.groupFilter"), { set: null, query: null });
});

Deno.test("parseGoogleFilter() reads include and exclude sets, lowercased and trimmed", () => {
  assert.deepEqual(
    parseGoogleFilter("include:Ann@Example.com, bob@example.com", "sync.userFilter"),
    {
      set: set("include", "ann@example.com", "bob@example.com"),
      query: null,
    },
  );
  assert.deepEqual(parseGoogleFilter("EXCLUDE: All Staff ", "sync.groupFilter"), {
    set: set("exclude", "all staff"),
    query: null,
  });
});

Deno.test("parseGoogleFilter() splits the set at the first colon only, so values may hold colons", () => {
  assert.deepEqual(parseGoogleFilter("include:Team: Sales,Ops", "sync.groupFilter"), {
    set: set("include", "team: sales", "ops"),
    query: null,
  });
});

Deno.test("parseGoogleFilter() takes the native query after the first bar, alone or after a set", () => {
  assert.deepEqual(parseGoogleFilter("|orgUnitPath='/Sales'", "sync.userFilter"), {
    set: null,
    query: "orgUnitPath='/Sales'",
  });
  assert.deepEqual(
    parseGoogleFilter("exclude:bob@example.com | isSuspended=false email:a*", "sync.userFilter"),
    { set: set("exclude", "bob@example.com"), query: "isSuspended=false email:a*" },
  );
  assert.deepEqual(
    parseGoogleFilter("|orgUnitPath='/Sales Team' orgTitle:'Head of *'", "sync.userFilter"),
    { set: null, query: "orgUnitPath='/Sales Team' orgTitle:'Head of *'" },
  );
  assert.deepEqual(parseGoogleFilter("|Employee.Level>=3", "sync.userFilter"), {
    set: null,
    query: "Employee.Level>=3",
  });
  assert.deepEqual(parseGoogleFilter("include:Sales|name:Sa*", "sync.groupFilter"), {
    set: set("include", "sales"),
    query: "name:Sa*",
  });
  assert.deepEqual(parseGoogleFilter("|memberKey=ann@example.com", "sync.groupFilter"), {
    set: null,
    query: "memberKey=ann@example.com",
  });
});

function rejects(filter: string, setting: "sync.userFilter" | "sync.groupFilter", message: string) {
  assert.throws(() => parseGoogleFilter(filter, setting), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.message, message);
    assert.equal(error.exitCode, 2);
    assert.match(error.hint ?? "", new RegExp(`^Write ${setting.replace(".", "\\.")} as include:`));
    return true;
  });
}

Deno.test("parseGoogleFilter() refuses a set part without include: or exclude:", () => {
  rejects(
    "only:ann@example.com",
    "sync.userFilter",
    'Invalid sync.userFilter "only:ann@example.com": it does not start with include: or exclude:',
  );
  rejects(
    "ann@example.com|isAdmin=true",
    "sync.userFilter",
    'Invalid sync.userFilter "ann@example.com": it does not start with include: or exclude:',
  );
  rejects(
    "include: , ",
    "sync.groupFilter",
    'Invalid sync.groupFilter "include: ,": include: lists no values',
  );
});

Deno.test("parseGoogleFilter() refuses query clauses Google's search syntax does not have", () => {
  rejects(
    "|colour=blue",
    "sync.userFilter",
    `Invalid sync.userFilter "colour=blue": colour is not a field of Google's user search`,
  );
  rejects(
    "|orgUnitPath='/Sales' department=IT",
    "sync.userFilter",
    `Invalid sync.userFilter "department=IT": department is not a field of Google's user search`,
  );
  rejects(
    "|isSuspended=no",
    "sync.userFilter",
    'Invalid sync.userFilter "isSuspended=no": isSuspended takes true or false',
  );
  rejects(
    "|just words",
    "sync.userFilter",
    'Invalid sync.userFilter "just": not a field:value or field=value clause',
  );
  rejects(
    "|email=",
    "sync.userFilter",
    'Invalid sync.userFilter "email=": the clause has no value',
  );
  rejects(
    "|orgUnitPath='/Sales",
    "sync.userFilter",
    `Invalid sync.userFilter "orgUnitPath='/Sales": the ' quote is not closed`,
  );
  rejects(
    "|orgUnitPath=/Sales",
    "sync.groupFilter",
    `Invalid sync.groupFilter "orgUnitPath=/Sales": orgUnitPath is not a field of Google's group search`,
  );
  rejects(
    "|Schema.field=1",
    "sync.groupFilter",
    `Invalid sync.groupFilter "Schema.field=1": Schema.field is not a field of Google's group search`,
  );
  rejects(
    "include:a@x.com|isAdmin=true|email:b*",
    "sync.userFilter",
    'Invalid sync.userFilter "isAdmin=true|email:b*": a query holds no |; only the first | separates it',
  );
});
