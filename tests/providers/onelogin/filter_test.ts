import assert from "node:assert/strict";
import { configErrorOf } from "../../_helpers.ts";
import {
  parseOneLoginFilter,
  validateOneLoginFilters,
} from "../../../src/providers/onelogin/filter.ts";

Deno.test("parseOneLoginFilter() reads the set part and the native query parameters in order", () => {
  assert.deepEqual(
    parseOneLoginFilter(
      "exclude:bot@x.com|email=*%40x.com&updated_since=2026-01-01T00:00:00Z&custom_attributes.dept=Eng",
      "sync.userFilter",
    ),
    {
      set: { mode: "exclude", values: new Set(["bot@x.com"]) },
      params: [
        ["email", "*@x.com"],
        ["updated_since", "2026-01-01T00:00:00Z"],
        ["custom_attributes.dept", "Eng"],
      ],
    },
  );
  assert.deepEqual(parseOneLoginFilter("|?name=Sales*", "sync.groupFilter"), {
    set: null,
    params: [["name", "Sales*"]],
  });
  assert.deepEqual(parseOneLoginFilter("include:Sales", "sync.groupFilter"), {
    set: { mode: "include", values: new Set(["sales"]) },
    params: [],
  });
  assert.deepEqual(parseOneLoginFilter(undefined, "sync.userFilter"), { set: null, params: [] });
});

Deno.test("parseOneLoginFilter() refuses unknown, reserved, repeated, empty and undated parameters, naming setting and clause", () => {
  const cases: [string, "sync.userFilter" | "sync.groupFilter", string][] = [
    [
      "|department=Eng",
      "sync.userFilter",
      'Invalid OneLogin query in sync.userFilter: unknown parameter "department" for the users listing',
    ],
    [
      "|email=a@x.com",
      "sync.groupFilter",
      'Invalid OneLogin query in sync.groupFilter: unknown parameter "email" for the roles listing',
    ],
    [
      "|limit=10",
      "sync.userFilter",
      "Invalid OneLogin query in sync.userFilter: limit is set by roster",
    ],
    [
      "|cursor=abc",
      "sync.groupFilter",
      "Invalid OneLogin query in sync.groupFilter: cursor is set by roster",
    ],
    [
      "|email=a@x.com&email=b@x.com",
      "sync.userFilter",
      "Invalid OneLogin query in sync.userFilter: email is given twice",
    ],
    [
      "|username=",
      "sync.userFilter",
      "Invalid OneLogin query in sync.userFilter: username has no value",
    ],
    [
      "|updated_since=last week",
      "sync.userFilter",
      "Invalid OneLogin query in sync.userFilter: updated_since=last week is not a date",
    ],
  ];
  for (const [text, setting, message] of cases) {
    const error = configErrorOf(() => parseOneLoginFilter(text, setting));
    assert.equal(error.message, message);
    assert.deepEqual(error.details, { setting, clause: text.slice(1) });
  }
  const hint = configErrorOf(() => parseOneLoginFilter("|department=Eng", "sync.userFilter")).hint;
  assert.match(hint ?? "", /names from: created_since, .*, custom_attributes\.<name>$/);
});

Deno.test("validateOneLoginFilters() checks both settings and refuses a set part without a keyword", () => {
  assert.doesNotThrow(() =>
    validateOneLoginFilters({ userFilter: "|email=*@x.com", groupFilter: "exclude:Default" })
  );
  const error = configErrorOf(() => validateOneLoginFilters({ groupFilter: "Sales,Ops" }));
  assert.equal(
    error.message,
    'Invalid sync.groupFilter: "Sales,Ops" is not include:… or exclude:…',
  );
});
