/** The LDIF reader's base test on normalised DNs gives the same answers as isDnWithin. */
import assert from "node:assert/strict";
import { isDnWithin, normalizeDn } from "../../../src/ldap/dn.ts";
import { normalizedDnWithin } from "../../../src/providers/file/ldif.ts";

const CASES: [string, string, boolean][] = [
  ["uid=a,ou=People,dc=example,dc=com", "ou=people,dc=example,dc=com", true],
  ["ou=People,dc=example,dc=com", "OU=People, DC=example, DC=com", true],
  ["uid=a,ou=People,dc=example,dc=com", "", true],
  ["uid=a,ou=OtherPeople,dc=example,dc=com", "ou=People,dc=example,dc=com", false],
  ["cn=a\\,ou=People,dc=example,dc=com", "ou=People,dc=example,dc=com", false],
  ["cn=a\\\\,ou=People,dc=example,dc=com", "ou=People,dc=example,dc=com", true],
  ["cn=x+uid=y,ou=People,dc=example,dc=com", "ou=people,dc=EXAMPLE,dc=com", true],
  ["dc=com", "dc=example,dc=com", false],
  ["cn=Müller,ou=Leute,dc=example,dc=com", "ou=leute,dc=example,dc=com", true],
];

Deno.test("normalizedDnWithin() answers as isDnWithin() on the raw DNs", () => {
  for (const [dn, base, expected] of CASES) {
    assert.equal(isDnWithin(dn, base), expected, `isDnWithin(${dn}, ${base})`);
    assert.equal(
      normalizedDnWithin(normalizeDn(dn), normalizeDn(base)),
      expected,
      `normalizedDnWithin(${dn}, ${base})`,
    );
  }
});
