import assert from "node:assert/strict";
import { ConfigError } from "../../src/errors.ts";
import type { LdapEntry } from "../../src/ldap/entry.ts";
import {
  filterAttributes,
  LdapFilterSyntaxError,
  matchesFilter,
  parseLdapFilter,
  unsupportedMatchingRules,
  validateLdapFilter,
} from "../../src/ldap/filter.ts";

function entry(dn: string, attrs: Record<string, (string | Uint8Array)[]>): LdapEntry {
  return {
    dn,
    attributes: new Map(Object.entries(attrs).map(([k, v]) => [k.toLowerCase(), v])),
  };
}

const alice = entry("CN=Alice Nguyen,OU=Engineering,DC=example,DC=com", {
  objectClass: ["top", "person", "organizationalPerson", "user"],
  cn: ["Alice Nguyen"],
  mail: ["Alice.Nguyen@example.com"],
  department: ["Engineering"],
  userAccountControl: ["66050"],
  employeeNumber: ["1042"],
  whenChanged: ["20250601093000.0Z"],
  manager: ["CN=Bob Boss,OU=Engineering,DC=example,DC=com"],
  objectGUID: [new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])],
});

function matches(filter: string, e: LdapEntry = alice): boolean {
  return matchesFilter(parseLdapFilter(filter), e);
}

Deno.test("parseLdapFilter() parses every RFC 4515 filter type", () => {
  assert.deepEqual(parseLdapFilter("(&(objectClass=person)(!(mail=*))(|(cn=a*b*c)(uid>=5)))"), {
    type: "and",
    filters: [
      {
        type: "equality",
        attribute: "objectClass",
        value: { text: "person", bytes: new TextEncoder().encode("person") },
      },
      { type: "not", filter: { type: "present", attribute: "mail" } },
      {
        type: "or",
        filters: [
          { type: "substrings", attribute: "cn", initial: "a", any: ["b"], final: "c" },
          {
            type: "greaterOrEqual",
            attribute: "uid",
            value: { text: "5", bytes: new Uint8Array([0x35]) },
          },
        ],
      },
    ],
  });
  assert.deepEqual(parseLdapFilter("(cn:dn:2.5.13.5:=Foo)"), {
    type: "extensible",
    attribute: "cn",
    matchingRule: "2.5.13.5",
    dnAttributes: true,
    value: { text: "Foo", bytes: new TextEncoder().encode("Foo") },
  });
  assert.deepEqual(parseLdapFilter("(cn=*\\2a\\28x\\29*)"), {
    type: "substrings",
    attribute: "cn",
    initial: undefined,
    any: ["*(x)"],
    final: undefined,
  });
  assert.equal(parseLdapFilter("  (cn=a)  ").type, "equality");
  assert.deepEqual(parseLdapFilter("(&)"), { type: "and", filters: [] });
});

Deno.test("parseLdapFilter() reports syntax errors with the character position", () => {
  const cases: [string, number, string][] = [
    ["", 1, "The filter is empty"],
    ["cn=a", 1, 'Expected "(" to start the filter'],
    ["(cn=a", 6, 'Missing ")" after the value'],
    ["(cn=a))", 7, 'Unexpected ")" after the end of the filter'],
    ["(=a)", 2, "Expected an attribute name"],
    ["(cn~a)", 5, 'Expected "=" after "~"'],
    ["(cn=a(b)", 6, 'Unescaped "(" in a value (use \\28)'],
    ["(cn>=a*)", 7, 'Unescaped "*" in a value (use \\2a)'],
    ["(cn=a\\zz)", 6, "A backslash must be followed by two hex digits"],
    ["(c n=a)", 2, 'Invalid attribute name "c n"'],
    ["(&(cn=a)x)", 9, 'Expected ")" but found "x"'],
    ["(!)", 3, 'Expected "(" but found ")"'],
    ["(cn=a**b)", 8, 'Two "*" in a row in a substring filter'],
  ];
  for (const [text, column, detail] of cases) {
    assert.throws(() => parseLdapFilter(text), (e: unknown) => {
      assert.ok(e instanceof LdapFilterSyntaxError, text);
      assert.equal(e.column, column, text);
      assert.ok(e.detail.startsWith(detail), `${text}: ${e.detail}`);
      return true;
    });
  }
});

Deno.test("validateLdapFilter() throws a ConfigError naming the setting", () => {
  validateLdapFilter("(mail=*)", "sync.userFilter");
  assert.throws(() => validateLdapFilter("(mail=*", "sync.userFilter"), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(
      e.message,
      'Invalid LDAP filter in sync.userFilter: Missing ")" after the value at character 8',
    );
    assert.ok(e.hint?.startsWith("Fix sync.userFilter: an RFC 4515 filter is wrapped"));
    assert.deepEqual(e.details, { setting: "sync.userFilter", filter: "(mail=*", column: 8 });
    return true;
  });
});

Deno.test("matchesFilter() compares equality case-insensitively, objectClass included", () => {
  assert.equal(matches("(objectClass=PERSON)"), true);
  assert.equal(matches("(OBJECTCLASS=user)"), true);
  assert.equal(matches("(objectClass=group)"), false);
  assert.equal(matches("(mail=alice.nguyen@EXAMPLE.com)"), true);
  assert.equal(matches("(cn=Alice  Nguyen )"), true);
  assert.equal(matches("(cn~=alice nguyen)"), true);
  assert.equal(matches("(title=Engineer)"), false);
});

Deno.test("matchesFilter() compares DN-valued attributes as DNs", () => {
  assert.equal(matches("(manager=cn=bob boss, ou=engineering, dc=example, dc=com)"), true);
  assert.equal(matches("(manager=cn=bob,ou=engineering,dc=example,dc=com)"), false);
});

Deno.test("matchesFilter() evaluates and, or, not and presence", () => {
  assert.equal(matches("(&(objectClass=person)(mail=*))"), true);
  assert.equal(matches("(&(objectClass=person)(!(mail=*)))"), false);
  assert.equal(matches("(|(department=Sales)(department=Engineering))"), true);
  assert.equal(matches("(!(department=Sales))"), true);
  assert.equal(matches("(telephoneNumber=*)"), false);
  assert.equal(matches("(!(telephoneNumber=x))"), true);
  assert.equal(matches("(objectClass=*)", entry("cn=x", {})), true);
  assert.equal(matches("(&)"), true);
  assert.equal(matches("(|)"), false);
});

Deno.test("matchesFilter() evaluates substrings", () => {
  assert.equal(matches("(cn=ali*)"), true);
  assert.equal(matches("(cn=*NGUYEN)"), true);
  assert.equal(matches("(cn=*ce*gu*)"), true);
  assert.equal(matches("(cn=a*e*n)"), true);
  assert.equal(matches("(cn=*gu*ce*)"), false);
  assert.equal(matches("(cn=Alice N*Nguyen)"), false);
  assert.equal(matches("(mail=*@example.com)"), true);
});

Deno.test("matchesFilter() orders integers, GeneralizedTime and text", () => {
  assert.equal(matches("(employeeNumber>=999)"), true);
  assert.equal(matches("(employeeNumber<=999)"), false);
  assert.equal(matches("(whenChanged>=20250101000000.0Z)"), true);
  assert.equal(matches("(whenChanged>=20250601093001Z)"), false);
  assert.equal(matches("(whenChanged<=20250601113000+0200)"), true);
  assert.equal(matches("(cn>=alice)"), true);
  assert.equal(matches("(cn<=albert)"), false);
});

Deno.test("matchesFilter() evaluates AD bitwise rules and binary values", () => {
  // 66050 = 0x10202: ACCOUNTDISABLE (2) set
  assert.equal(matches("(userAccountControl:1.2.840.113556.1.4.803:=2)"), true);
  assert.equal(matches("(!(userAccountControl:1.2.840.113556.1.4.803:=2))"), false);
  assert.equal(matches("(userAccountControl:1.2.840.113556.1.4.803:=3)"), false);
  assert.equal(matches("(userAccountControl:1.2.840.113556.1.4.804:=3)"), true);
  assert.equal(
    matches("(objectGUID=\\00\\01\\02\\03\\04\\05\\06\\07\\08\\09\\0a\\0b\\0c\\0d\\0e\\0f)"),
    true,
  );
  assert.equal(matches("(objectGUID=\\00\\01)"), false);
  assert.equal(matches("(cn:caseExactMatch:=alice nguyen)"), false);
  assert.equal(matches("(cn:caseExactMatch:=Alice Nguyen)"), true);
  assert.equal(matches("(ou:dn:=engineering)"), true);
  assert.equal(matches("(ou=engineering)"), false);
});

Deno.test("unsupportedMatchingRules() lists rules only a server can evaluate", () => {
  assert.deepEqual(
    unsupportedMatchingRules(
      parseLdapFilter(
        "(&(memberOf:1.2.840.113556.1.4.1941:=cn=g,dc=x)(uac:1.2.840.113556.1.4.803:=2))",
      ),
    ),
    ["1.2.840.113556.1.4.1941"],
  );
  assert.deepEqual(unsupportedMatchingRules(parseLdapFilter("(cn=a)")), []);
});

Deno.test("matchesFilter() answers each entry on its own when one parsed filter is reused", () => {
  const filter = parseLdapFilter(
    "(&(|(objectClass=person)(objectClass=groupOfNames))(!(mail=bob@example.com))" +
      "(|(mail=*)(objectClass=group)))",
  );
  const person = (mail: string, ...classes: string[]) =>
    entry(`uid=${mail},dc=x`, { objectClass: classes, mail: [mail] });
  const cases: [LdapEntry, boolean][] = [
    [person("ann@example.com", " InetOrgPerson "), true], // person through its superclasses
    [person("bob@example.com", "inetOrgPerson"), false],
    [person("BOB@example.com", "inetOrgPerson"), false], // equality ignores case
    [person("cy@example.com", "device"), false],
    [person("dee@example.com", "device", "residentialPerson"), true],
    [entry("cn=g,dc=x", { objectClass: ["groupOfNames"] }), false], // no mail, not a group
    [entry("cn=g,dc=x", { objectClass: ["groupOfNames", "group"] }), true],
    [entry("cn=g,dc=x", { objectClass: [new TextEncoder().encode("person")] }), false],
    [person("ann@example.com", " InetOrgPerson "), true],
    [person("cy@example.com", "device"), false],
  ];
  for (const [e, expected] of cases) {
    assert.equal(matchesFilter(filter, e), expected, `${e.dn} ${[...e.attributes]}`);
    assert.equal(matchesFilter(filter, e), expected, `${e.dn} asked again`);
  }
});

Deno.test("matchesFilter() matches objectClass values as text, byte values included", () => {
  const bytes = entry("cn=b,dc=x", {
    objectClass: [new TextEncoder().encode("inetOrgPerson")],
    mail: ["b@example.com"],
  });
  assert.equal(matches("(objectClass=person)", bytes), true);
  assert.equal(matches("(objectClass=top)", bytes), true);
  assert.equal(matches("(objectClass=device)", bytes), false);
  assert.equal(matches("(objectClass=organizationalPerson)", bytes), true);
  assert.equal(matches("(!(objectClass=inetOrgPerson))", bytes), false);
});

Deno.test("filterAttributes() lists the attribute types a filter reads, or undefined for all", () => {
  assert.deepEqual(
    filterAttributes(
      parseLdapFilter(
        "(&(objectClass=person)(|(Mail=*)(cn;lang-de=a*))(!(uAC:1.2.840.113556.1.4.803:=2)))",
      ),
    ),
    ["objectclass", "mail", "cn", "uac"],
  );
  assert.deepEqual(filterAttributes(parseLdapFilter("(sn>=b)")), ["objectclass", "sn"]);
  assert.equal(filterAttributes(parseLdapFilter("(&(cn=a)(:caseExactMatch:=x))")), undefined);
});

Deno.test("matchesFilter() answers an objectClass array shared by several entries from its last result", () => {
  const filter = parseLdapFilter("(objectClass=person)");
  const people = ["top", "inetOrgPerson"];
  const groups = ["top", "groupOfNames"];
  const order: [string[], boolean][] = [
    [people, true],
    [people, true],
    [groups, false],
    [people, true],
    [["top", "inetOrgPerson"], true], // equal values in another array
    [groups, false],
  ];
  for (const [classes, expected] of order) {
    assert.equal(matchesFilter(filter, entry("cn=e,dc=x", { objectClass: classes })), expected);
  }
  assert.equal(matchesFilter(filter, entry("cn=e,dc=x", { cn: ["e"] })), false);
});
