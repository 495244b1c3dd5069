import assert from "node:assert/strict";
import {
  DnSyntaxError,
  isDnLike,
  isDnWithin,
  isNormalizedDn,
  normalizeDn,
  normalizeRdns,
  parseDn,
} from "../../src/ldap/dn.ts";

Deno.test("normalizeDn() equates DNs differing in case and spaces around separators", () => {
  assert.equal(
    normalizeDn("CN=Foo Bar, OU=X,DC=Example ,DC=com"),
    "cn=foo bar,ou=x,dc=example,dc=com",
  );
  assert.equal(
    normalizeDn("cn=foo bar,ou=x,dc=example,dc=com"),
    normalizeDn("  CN = Foo Bar ,  OU = X , DC = Example , DC = com  "),
  );
});

Deno.test("normalizeDn() decodes escapes and re-encodes them one way", () => {
  assert.equal(normalizeDn("CN=Smith\\, John,DC=x"), "cn=smith\\, john,dc=x");
  assert.equal(normalizeDn("CN=Smith\\2C John,DC=x"), "cn=smith\\, john,dc=x");
  assert.equal(normalizeDn('CN="Smith, John",DC=x'), "cn=smith\\, john,dc=x");
  assert.equal(normalizeDn("CN=M\\C3\\BCller,DC=x"), "cn=müller,dc=x");
  assert.equal(normalizeDn("CN=Müller,DC=x"), "cn=müller,dc=x");
  assert.equal(normalizeDn("CN=Victor\\0ADEL:1234,DC=x"), "cn=victor\\0adel:1234,dc=x");
  assert.equal(normalizeDn("CN=\\ lead\\ ,DC=x"), "cn=\\ lead\\ ,dc=x");
  assert.equal(normalizeDn("CN=a\\+b\\=c,DC=x"), "cn=a\\+b\\=c,dc=x");
  assert.equal(normalizeDn("CN=\\#tag,DC=x"), "cn=\\#tag,dc=x");
});

Deno.test("normalizeDn() sorts the values of a multi-valued RDN", () => {
  assert.equal(normalizeDn("UID=jdoe+CN=John Doe,DC=x"), "cn=john doe+uid=jdoe,dc=x");
  assert.equal(normalizeDn("cn=John Doe + uid=JDoe,dc=x"), "cn=john doe+uid=jdoe,dc=x");
});

Deno.test("normalizeDn() keeps #hex values and OID types, and accepts ';' separators", () => {
  assert.equal(
    normalizeDn("1.3.6.1.4.1.1466.0=#04024869,DC=X"),
    "1.3.6.1.4.1.1466.0=#04024869,dc=x",
  );
  assert.equal(normalizeDn("OID.2.5.4.3=Foo;DC=x"), "2.5.4.3=foo,dc=x");
  assert.equal(normalizeDn(""), "");
});

Deno.test("normalizeRdns() returns canonical RDNs leftmost first", () => {
  assert.deepEqual(normalizeRdns("CN=A\\,B, OU=X"), ["cn=a\\,b", "ou=x"]);
});

Deno.test("parseDn() rejects malformed DNs with the position", () => {
  const cases: [string, number][] = [
    ["cn", 3],
    ["cn=a,", 6],
    ["cn=a,,dc=x", 6],
    ["=a", 1],
    ["c n=a", 1],
    ["cn=a\\", 5],
    ['cn="abc', 4],
    ["cn=a<b", 5],
    ["cn=#abc", 4],
  ];
  for (const [dn, column] of cases) {
    assert.throws(() => parseDn(dn), (e: unknown) => {
      assert.ok(e instanceof DnSyntaxError, dn);
      assert.equal(e.column, column, dn);
      return true;
    });
  }
});

Deno.test("isDnLike() needs '=' and at least one parseable RDN", () => {
  assert.equal(isDnLike("cn=a,dc=x"), true);
  assert.equal(isDnLike("uid=jdoe"), true);
  assert.equal(isDnLike("jdoe"), false);
  assert.equal(isDnLike("De LosJ"), false);
  assert.equal(isDnLike("a=b=c"), true);
  assert.equal(isDnLike("=oops"), false);
  assert.equal(isDnLike(""), false);
});

Deno.test("isDnWithin() is a subtree test on canonical RDNs", () => {
  assert.equal(
    isDnWithin("CN=A,OU=People,DC=Example,DC=com", "ou=people, dc=example,dc=com"),
    true,
  );
  assert.equal(isDnWithin("ou=people,dc=example,dc=com", "OU=People,DC=example,DC=com"), true);
  assert.equal(isDnWithin("cn=a,ou=other,dc=example,dc=com", "ou=people,dc=example,dc=com"), false);
  assert.equal(isDnWithin("dc=com", "dc=example,dc=com"), false);
  assert.equal(isDnWithin("cn=a,dc=x", ""), true);
  // an escaped comma is not an RDN boundary
  assert.equal(isDnWithin("cn=a\\,dc=com", "dc=com"), false);
  assert.equal(isDnWithin("not a dn", "dc=com"), false);
});

Deno.test("normalizeDn() gives the full parser's result on plain and tricky DNs alike", () => {
  const samples = [
    "CN=Foo Bar, OU=X,DC=Example ,DC=com",
    "uid=user000123,ou=people,dc=example,dc=com",
    "  cn = Spaced Out ,  dc = x  ",
    "OID.2.5.4.3=Alias,DC=x",
    "2.5.4.3=Numeric,DC=x",
    "cn=a\\,b,dc=x",
    "cn=Lastname\\, Firstname,ou=Users,dc=x",
    "cn=#41,dc=x",
    "cn=Ünïcödé,dc=x",
    "cn=a+sn=b,dc=x",
    'cn="quoted, value",dc=x',
    "cn=tab\there,dc=x",
    "cn=,dc=x",
    "cn=John Smith,ou=Sales Team,dc=example,dc=com",
    "CN=John  Smith ,DC=x",
    " cn=lead,dc=x",
    "cn=trail,dc=x ",
    "cn=a ,dc=x",
    "cn= a,dc=x",
    "cn=a, dc=x",
    "ou=Mixed-Case-1,DC=Example",
  ];
  for (const dn of samples) {
    assert.equal(normalizeDn(dn), normalizeRdns(dn).join(","), dn);
  }
});

Deno.test("normalizeDn() still rejects invalid DNs that look plain", () => {
  for (const dn of ["cn=a,", "=x,dc=y", "cn=a=b,dc=x", "no equals", "cn=a,,dc=x"]) {
    let plain: string | Error;
    try {
      plain = normalizeDn(dn);
    } catch (error) {
      plain = error instanceof Error ? error : new Error(String(error));
    }
    let full: string | Error;
    try {
      full = normalizeRdns(dn).join(",");
    } catch (error) {
      full = error instanceof Error ? error : new Error(String(error));
    }
    assert.deepEqual(
      typeof plain === "string" ? plain : plain.message,
      typeof full === "string" ? full : full.message,
      dn,
    );
  }
});

Deno.test("isNormalizedDn() is true only for DNs normalizeDn leaves as they are", () => {
  const canonical = [
    "uid=user000123,ou=people,dc=example,dc=com",
    "cn=john smith,ou=sales team,dc=example,dc=com",
    "cn=a-b.c_d@e,dc=x",
    "ou=x",
  ];
  const needsWork = [
    "CN=Foo,DC=x", // capitals
    "cn=Foo,dc=x",
    "cn=a ,dc=x", // spaces at separators
    "cn= a,dc=x",
    "cn=a, dc=x",
    " cn=a",
    "cn=a\\,b,dc=x", // escapes, special characters
    "cn=a+sn=b,dc=x",
    "cn=#41,dc=x",
    'cn="q",dc=x',
    "cn=ü,dc=x", // outside ASCII
    "cn=,dc=x", // empty value
    "2.5.4.3=a,dc=x", // OID type
    "cn=a,,dc=x", // not a DN at all
    "cn",
    "",
  ];
  for (const dn of canonical) {
    assert.equal(isNormalizedDn(dn), true, dn);
    assert.equal(normalizeDn(dn), dn, dn);
  }
  for (const dn of needsWork) assert.equal(isNormalizedDn(dn), false, dn);
});
