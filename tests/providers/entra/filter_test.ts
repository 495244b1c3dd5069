import assert from "node:assert/strict";
import { ConfigError } from "../../../src/errors.ts";
import {
  groupPassesFilter,
  parseEntraGroupFilter,
  parseEntraUserFilter,
  userPassesFilter,
} from "../../../src/providers/entra/filter.ts";

const G1 = "aaaaaaaa-0000-4000-8000-000000000001";
const G2 = "aaaaaaaa-0000-4000-8000-000000000002";

function configError(message: string) {
  return (e: unknown) => e instanceof ConfigError && e.exitCode === 2 && e.message === message;
}

Deno.test("parseEntraUserFilter() returns null for no filter", () => {
  assert.equal(parseEntraUserFilter(undefined), null);
  assert.equal(parseEntraUserFilter("  "), null);
});

Deno.test("parseEntraUserFilter() reads every clause, merging repeats, splitting at the first colon", () => {
  const filter = parseEntraUserFilter(
    `includeGroup:${G1.toUpperCase()}, ${G2}|Exclude: A@x.com ,b:c@x.com|EXCLUDEGROUP:${G2}|exclude:d@x.com`,
  );
  assert.deepEqual(filter, {
    includeEmails: new Set(),
    excludeEmails: new Set(["a@x.com", "b:c@x.com", "d@x.com"]),
    includeGroups: new Set([G1, G2]),
    excludeGroups: new Set([G2]),
  });
});

Deno.test("parseEntraUserFilter() names the malformed clause and the setting", () => {
  assert.throws(
    () => parseEntraUserFilter("include:a@x.com|bob@x.com"),
    configError('Malformed clause in sync.userFilter: "bob@x.com" has no keyword'),
  );
  assert.throws(
    () => parseEntraUserFilter("includeGroups:abc"),
    configError(
      'Malformed clause in sync.userFilter: "includeGroups:abc" has the unknown keyword "includeGroups"',
    ),
  );
  assert.throws(
    () => parseEntraUserFilter("include: , "),
    configError('Malformed clause in sync.userFilter: "include: ," lists no values'),
  );
  assert.throws(
    () => parseEntraUserFilter("includeGroup:Sales"),
    configError(
      'Malformed clause in sync.userFilter: "includeGroup:Sales" has "sales", which is not an object id',
    ),
  );
  assert.throws(
    () => parseEntraUserFilter("include:a@x.com|"),
    configError('Malformed sync.userFilter: an empty clause in "include:a@x.com|"'),
  );
  assert.throws(
    () => parseEntraUserFilter("includeAdministrativeUnit:" + G1),
    configError(
      `Malformed clause in sync.userFilter: "includeAdministrativeUnit:${G1}" has the unknown keyword "includeAdministrativeUnit"`,
    ),
  );
});

Deno.test("parseEntraGroupFilter() reads names and administrative units, and rejects user keywords", () => {
  assert.deepEqual(parseEntraGroupFilter(`include:Sales, R:D|excludeAdministrativeUnit:${G1}`), {
    includeNames: new Set(["sales", "r:d"]),
    excludeNames: new Set(),
    includeAdministrativeUnits: new Set(),
    excludeAdministrativeUnits: new Set([G1]),
  });
  assert.throws(
    () => parseEntraGroupFilter(`includeGroup:${G1}`),
    configError(
      `Malformed clause in sync.groupFilter: "includeGroup:${G1}" has the unknown keyword "includeGroup"`,
    ),
  );
});

Deno.test("userPassesFilter() applies email clauses case-insensitively", () => {
  const include = parseEntraUserFilter("include:Alice@x.com");
  const exclude = parseEntraUserFilter("exclude:alice@x.com");
  const alice = { externalId: "u1", email: " ALICE@x.com", deleted: false };
  const bob = { externalId: "u2", email: "bob@x.com", deleted: false };
  assert.deepEqual(
    [
      userPassesFilter(include, alice),
      userPassesFilter(include, bob),
      userPassesFilter(exclude, alice),
      userPassesFilter(exclude, bob),
    ],
    [true, false, false, true],
  );
  assert.equal(userPassesFilter(null, bob), true);
});

Deno.test("userPassesFilter() keeps only included group members minus excluded ones", () => {
  const filter = parseEntraUserFilter(`includeGroup:${G1}|excludeGroup:${G2}|exclude:c@x.com`);
  const memberships = {
    includedByGroup: new Set(["u1", "u2", "u3"]),
    excludedByGroup: new Set(["u2"]),
  };
  const users = [
    { externalId: "U1", email: "a@x.com", deleted: false },
    { externalId: "u2", email: "b@x.com", deleted: false },
    { externalId: "u3", email: "c@x.com", deleted: false },
    { externalId: "u4", email: "d@x.com", deleted: false },
    { externalId: "u5", email: null, deleted: true },
  ];
  assert.deepEqual(users.map((u) => userPassesFilter(filter, u, memberships)), [
    true,
    false,
    false,
    false,
    true,
  ]);
  assert.throws(() => userPassesFilter(filter, users[0]!), TypeError);
});

Deno.test("userPassesFilter() applies email clauses to deleted users that have an email", () => {
  const include = parseEntraUserFilter("include:a@x.com");
  assert.deepEqual(
    [
      userPassesFilter(include, { externalId: "u1", email: "b@x.com", deleted: true }),
      userPassesFilter(include, { externalId: "u1", email: null, deleted: true }),
      userPassesFilter(include, { externalId: "u1", email: null, deleted: false }),
    ],
    [false, true, false],
  );
});

Deno.test("groupPassesFilter() applies names and administrative units", () => {
  const filter = parseEntraGroupFilter(`exclude:Temp|includeAdministrativeUnit:${G1}`);
  const units = { included: new Set(["g1", "g2"]) };
  assert.deepEqual(
    [
      groupPassesFilter(filter, { externalId: "G1", name: "Sales" }, units),
      groupPassesFilter(filter, { externalId: "g2", name: " temp " }, units),
      groupPassesFilter(filter, { externalId: "g3", name: "Ops" }, units),
    ],
    [true, false, false],
  );
  assert.equal(
    groupPassesFilter(parseEntraGroupFilter("include:sales"), { externalId: "g", name: "SALES" }),
    true,
  );
  assert.throws(() => groupPassesFilter(filter, { externalId: "g1", name: "Sales" }), TypeError);
});

Deno.test("parseEntraUserFilter() hints at the syntax of the setting it names", () => {
  try {
    parseEntraUserFilter("bob@x.com");
    assert.fail("no error");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.equal(
      error.hint,
      'Write sync.userFilter as clauses joined by "|", each one of include:, exclude:, ' +
        "includeGroup:, excludeGroup: followed by comma-separated values, e.g. " +
        '"includeGroup:<group id>|exclude:alice@example.com"',
    );
  }
});
