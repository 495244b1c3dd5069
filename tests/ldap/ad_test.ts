/**
 * AD's object model and LDAP attribute syntaxes, without a server: SIDs and primary groups,
 * objectCategory short names, which classes are accounts, ranged values, uniqueMember's
 * optional UID, multi-valued mail, and text values that are not UTF-8.
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../src/config/schema.ts";
import { buildSyncData } from "../../src/engine/mod.ts";
import { DirectoryDataError, SourceIncompleteError } from "../../src/errors.ts";
import {
  excludedClasses,
  formatSid,
  groupPrimaryGroupRefs,
  objectCategoryMatches,
  sidDomain,
  sidRid,
  userPrimaryGroupRef,
} from "../../src/ldap/ad.ts";
import {
  entryToGroup,
  entryToUser,
  joinRanges,
  type LdapEntry,
  ldapMappingSettings,
  userSearchFilter,
} from "../../src/ldap/entry.ts";
import { matchesFilter, parseLdapFilter, splitOptionalUid } from "../../src/ldap/filter.ts";
import { readLdif } from "../../src/ldap/ldif.ts";

function entry(dn: string, attrs: Record<string, (string | Uint8Array)[]>): LdapEntry {
  return {
    dn,
    attributes: new Map(Object.entries(attrs).map(([k, v]) => [k.toLowerCase(), v])),
  };
}

const b64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const DOMAIN = "S-1-5-21-1111111111-2222222222-3333333333";
/** objectSid of a user, RID 1001, and of groups with RID 1105 and 513 (Domain Users). */
const SID_1001 = b64("AQUAAAAAAAUVAAAAxzU6Qo5rdIRVoa7G6QMAAA==");
const SID_1105 = b64("AQUAAAAAAAUVAAAAxzU6Qo5rdIRVoa7GUQQAAA==");
const SID_513 = b64("AQUAAAAAAAUVAAAAxzU6Qo5rdIRVoa7GAQIAAA==");

const AD = ldapMappingSettings(defaultConfig().sync, { ad: true });
const LDAP = ldapMappingSettings(defaultConfig().sync, { ad: false });

Deno.test("formatSid() formats binary and text SIDs and refuses anything else", () => {
  assert.equal(formatSid(SID_1001), `${DOMAIN}-1001`);
  assert.equal(formatSid(SID_513), `${DOMAIN}-513`);
  assert.equal(formatSid("s-1-5-32-544"), "S-1-5-32-544");
  assert.equal(formatSid(new Uint8Array([1, 1, 0, 0, 0, 0, 0, 5])), undefined); // too short
  assert.equal(formatSid(new Uint8Array(16)), undefined);
  assert.equal(formatSid("CN=x"), undefined);
  assert.equal(sidRid(`${DOMAIN}-1105`), "1105");
  assert.equal(sidDomain(`${DOMAIN}-1105`), DOMAIN);
});

Deno.test("userPrimaryGroupRef() and groupPrimaryGroupRefs() meet on the group's SID or RID", () => {
  assert.equal(userPrimaryGroupRef("1105", SID_1001), `primarygroup:${DOMAIN}-1105`);
  assert.equal(userPrimaryGroupRef(" 513 ", SID_1001), `primarygroup:${DOMAIN}-513`);
  assert.equal(userPrimaryGroupRef("1105", undefined), "primarygroup:rid:1105");
  assert.equal(userPrimaryGroupRef("x", SID_1001), undefined);
  assert.equal(userPrimaryGroupRef(undefined, SID_1001), undefined);
  assert.deepEqual(groupPrimaryGroupRefs(SID_1105, undefined), [
    `primarygroup:${DOMAIN}-1105`,
    "primarygroup:rid:1105",
  ]);
  assert.deepEqual(groupPrimaryGroupRefs(undefined, "1105"), ["primarygroup:rid:1105"]);
  assert.deepEqual(groupPrimaryGroupRefs(undefined, undefined), []);
});

Deno.test("entryToUser() and entryToGroup() make primary-group members resolve in the engine", () => {
  const users = [
    entryToUser(
      entry("CN=Mia,CN=Users,DC=acme,DC=test", {
        mail: ["mia@acme.test"],
        primaryGroupID: ["1105"],
        objectSid: [SID_1001],
      }),
      AD,
    ),
    entryToUser(
      entry("CN=Oz,CN=Users,DC=acme,DC=test", { mail: ["oz@acme.test"], primaryGroupID: ["513"] }),
      AD,
    ),
  ];
  assert.deepEqual(users[0]?.refs, [
    "cn=mia,cn=users,dc=acme,dc=test",
    `primarygroup:${DOMAIN}-1105`,
  ]);
  // Without its objectSid the user is tied to its primary group by RID.
  assert.deepEqual(users[1]?.refs, ["cn=oz,cn=users,dc=acme,dc=test", "primarygroup:rid:513"]);
  const contractors = entryToGroup(
    entry("CN=Contractors,CN=Users,DC=acme,DC=test", {
      name: ["Contractors"],
      objectSid: [SID_1105],
      member: ["CN=Oz,CN=Users,DC=acme,DC=test"],
    }),
    AD,
  );
  const domainUsers = entryToGroup(
    entry("CN=Domain Users,CN=Users,DC=acme,DC=test", {
      name: ["Domain Users"],
      objectSid: [SID_513],
    }),
    AD,
  );
  const empty = entryToGroup(
    entry("CN=Nobody,CN=Users,DC=acme,DC=test", { name: ["Nobody"], objectSid: [SID_1001] }),
    AD,
  );
  assert.ok("memberRefs" in contractors && "memberRefs" in domainUsers && "memberRefs" in empty);
  assert.deepEqual(contractors.memberRefs, [
    "cn=oz,cn=users,dc=acme,dc=test",
    `primarygroup:${DOMAIN}-1105`,
    "primarygroup:rid:1105",
  ]);
  const data = buildSyncData(
    { users, groups: [contractors, domainUsers, empty], skipped: [] },
    { syncUsers: true, syncGroups: true, removeDisabled: false },
  );
  const members = Object.fromEntries(data.groups.map((g) => [g.name, g.memberExternalIds]));
  assert.deepEqual(members, {
    Contractors: ["CN=Oz,CN=Users,DC=acme,DC=test", "CN=Mia,CN=Users,DC=acme,DC=test"],
    "Domain Users": ["CN=Oz,CN=Users,DC=acme,DC=test"],
    Nobody: [],
  });
  // A group that is nobody's primary group reports nothing unresolved.
  assert.deepEqual(data.unresolved, []);
  // Outside AD mode there are no primary groups.
  const plain = entryToGroup(
    entry("cn=g,dc=x", { cn: ["g"], objectSid: [SID_1105], member: [] }),
    LDAP,
  );
  assert.ok("memberRefs" in plain);
  assert.deepEqual([plain.memberRefs, plain.refs], [[], ["cn=g,dc=x"]]);
});

Deno.test("objectCategoryMatches() matches AD short names against category DNs", () => {
  const person = "CN=Person,CN=Schema,CN=Configuration,DC=acme,DC=test";
  const computer = "CN=Computer,CN=Schema,CN=Configuration,DC=acme,DC=test";
  assert.equal(objectCategoryMatches(person, "person"), true);
  assert.equal(objectCategoryMatches(person, "Person"), true);
  // user, contact and inetOrgPerson are filed under Person, as in AD's schema.
  assert.equal(objectCategoryMatches(person, "user"), true);
  assert.equal(objectCategoryMatches(person, "contact"), true);
  assert.equal(objectCategoryMatches(person, "computer"), false);
  assert.equal(objectCategoryMatches(computer, "computer"), true);
  assert.equal(objectCategoryMatches(computer, "person"), false);
  assert.equal(
    objectCategoryMatches(
      "CN=ms-DS-Managed-Service-Account,CN=Schema,CN=Configuration,DC=acme,DC=test",
      "msDS-ManagedServiceAccount",
    ),
    true,
  );
  assert.equal(
    objectCategoryMatches("CN=Organizational-Unit,CN=Schema,DC=x", "organizationalUnit"),
    true,
  );
  assert.equal(objectCategoryMatches("not a dn", "person"), false);
});

Deno.test("matchesFilter() evaluates (objectCategory=person) as AD does, and the full DN too", () => {
  const user = entry("CN=Wes,CN=Users,DC=acme,DC=test", {
    objectClass: ["top", "person", "organizationalPerson", "user"],
    objectCategory: ["CN=Person,CN=Schema,CN=Configuration,DC=acme,DC=test"],
  });
  const contact = entry("CN=Yves,CN=Users,DC=acme,DC=test", {
    objectClass: ["top", "person", "organizationalPerson", "contact"],
    objectCategory: ["CN=Person,CN=Schema,CN=Configuration,DC=acme,DC=test"],
  });
  const pc = entry("CN=WS-1,CN=Users,DC=acme,DC=test", {
    objectClass: ["top", "person", "organizationalPerson", "user", "computer"],
    objectCategory: ["CN=Computer,CN=Schema,CN=Configuration,DC=acme,DC=test"],
  });
  const test = (filter: string) =>
    [user, contact, pc].filter((e) => matchesFilter(parseLdapFilter(filter), e)).map((e) =>
      e.dn.slice(3, e.dn.indexOf(","))
    );
  assert.deepEqual(test("(&(objectCategory=person)(objectClass=user))"), ["Wes"]);
  assert.deepEqual(test("(objectCategory=Person)"), ["Wes", "Yves"]);
  assert.deepEqual(test("(objectCategory=computer)"), ["WS-1"]);
  assert.deepEqual(
    test("(objectCategory=cn=person, cn=schema,cn=configuration,dc=ACME,dc=test)"),
    ["Wes", "Yves"],
  );
  assert.deepEqual(test("(!(objectCategory=person))"), ["WS-1"]);
});

Deno.test("userSearchFilter() in AD mode leaves out contacts and computers for broad classes only", () => {
  assert.deepEqual(excludedClasses("person"), ["computer", "contact"]);
  assert.deepEqual(excludedClasses("User"), ["computer", "contact"]);
  assert.deepEqual(excludedClasses("contact"), []);
  assert.deepEqual(excludedClasses("msDS-ManagedServiceAccount"), []);
  const custom = ldapMappingSettings({ ...defaultConfig().sync, userObjectClass: "contact" }, {
    ad: true,
  });
  assert.equal(userSearchFilter(custom), "(&(objectClass=contact))");
  assert.equal(userSearchFilter(LDAP), "(&(objectClass=person))");
  const filter = parseLdapFilter(userSearchFilter(AD));
  const classes = (...objectClass: string[]) => entry("cn=x", { objectClass });
  assert.equal(matchesFilter(filter, classes("top", "person", "user")), true);
  assert.equal(matchesFilter(filter, classes("inetOrgPerson", "user")), true);
  assert.equal(matchesFilter(filter, classes("person", "contact")), false);
  assert.equal(matchesFilter(filter, classes("person", "user", "computer")), false);
  // Managed service accounts are computers.
  assert.equal(matchesFilter(filter, classes("msDS-GroupManagedServiceAccount")), false);
});

Deno.test("joinRanges() joins ranges that run from 0 to * and keeps incomplete ones", () => {
  const complete = joinRanges(
    new Map<string, (string | Uint8Array)[]>([
      ["member;range=2-*", ["c"]],
      ["cn", ["g"]],
      ["member;range=0-1", ["a", "b"]],
    ]),
  );
  assert.deepEqual([...complete], [["cn", ["g"]], ["member", ["a", "b", "c"]]]);
  const gap = new Map<string, (string | Uint8Array)[]>([
    ["member;range=0-1", ["a", "b"]],
    ["member;range=3-*", ["d"]],
  ]);
  assert.deepEqual([...joinRanges(gap).keys()], ["member;range=0-1", "member;range=3-*"]);
});

Deno.test("entryToGroup() refuses a member attribute that holds only a range of its values", () => {
  const group = entry("CN=Big,DC=x", { name: ["Big"], "member;range=0-1499": ["CN=a,DC=x"] });
  assert.throws(() => entryToGroup(group, AD), (error: unknown) => {
    assert.ok(error instanceof SourceIncompleteError);
    assert.equal(
      error.message,
      "Group CN=Big,DC=x holds only values 0-1499 of member: Active Directory sends large " +
        "multi-valued attributes in ranges, and the export stopped after this one",
    );
    return true;
  });
});

Deno.test("readLdif() accepts ranged attribute names, joins complete ranges, keeps objectSid bytes", async () => {
  const text = [
    "dn: CN=Big,DC=x",
    "member;range=0-0: CN=a,DC=x",
    "member;Range=1-*: CN=b,DC=x",
    "objectSid:: AQUAAAAAAAUVAAAAxzU6Qo5rdIRVoa7GUQQAAA==",
    "",
  ].join("\n");
  const entries = [];
  for await (const e of readLdif(ReadableStream.from([new TextEncoder().encode(text)]))) {
    entries.push(e);
  }
  assert.equal(entries.length, 1);
  const e = entries[0]!;
  assert.deepEqual(e.attributes.get("member"), ["CN=a,DC=x", "CN=b,DC=x"]);
  assert.deepEqual(e.attributes.get("objectsid"), [SID_1105]);
});

Deno.test("entryToGroup() reads uniqueMember's optional UID form (RFC 4517 NameAndOptionalUID)", () => {
  assert.deepEqual(splitOptionalUid("uid=ann,dc=x#'0101'B"), { dn: "uid=ann,dc=x", uid: "0101" });
  assert.deepEqual(splitOptionalUid("cn=a#b,dc=x"), { dn: "cn=a#b,dc=x", uid: undefined });
  const s = ldapMappingSettings(
    { ...defaultConfig().sync, memberAttribute: "uniqueMember", groupObjectClass: "x" },
    { ad: false },
  );
  const group = entryToGroup(
    entry("cn=g,dc=x", {
      cn: ["g"],
      uniqueMember: ["uid=Ann,dc=x#'0101'B", "uid=bo, dc=x", "uid=ann,dc=x"],
    }),
    s,
  );
  assert.ok("memberRefs" in group);
  assert.deepEqual(group.memberRefs, ["uid=ann,dc=x", "uid=bo,dc=x"]);
  const byFilter = (f: string) =>
    matchesFilter(
      parseLdapFilter(f),
      entry("cn=g,dc=x", { uniqueMember: ["uid=Ann,dc=x#'0101'B"] }),
    );
  assert.equal(byFilter("(uniqueMember=uid=ann,dc=x)"), true);
  assert.equal(byFilter("(uniqueMember=uid=ann,dc=x#'0101'B)"), true);
  assert.equal(byFilter("(uniqueMember=uid=ann,dc=x#'1111'B)"), false);
  assert.equal(byFilter("(uniqueMember=uid=bo,dc=x)"), false);
});

Deno.test("entryToUser() takes the first valid value of a multi-valued mail", () => {
  const user = (mail: string[]) => entryToUser(entry("uid=a,dc=x", { mail }), LDAP).email;
  assert.equal(user(["", "not-an-address", "Ann@Example.com", "b@example.com"]), "Ann@Example.com");
  assert.equal(user(["not-an-address", "also bad"]), "not-an-address");
  assert.equal(user([]), null);
});

Deno.test("entryToUser() and entryToGroup() refuse text values that are not UTF-8, naming DN and attribute", () => {
  const latin1 = new Uint8Array([0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72]); // "Müller" in Latin-1
  assert.throws(
    () => entryToUser(entry("uid=m,dc=x", { mail: [latin1] }), LDAP),
    (error: unknown) => {
      assert.ok(error instanceof DirectoryDataError);
      assert.equal(
        error.message,
        "Cannot read attribute mail of uid=m,dc=x: the value is not valid UTF-8 text",
      );
      assert.deepEqual(error.details, { dn: "uid=m,dc=x", attribute: "mail" });
      return true;
    },
  );
  const ldifEntry = { ...entry("cn=g,dc=x", { cn: [latin1] }), line: 12 };
  assert.throws(() => entryToGroup(ldifEntry, LDAP), {
    message: "Cannot read attribute cn of cn=g,dc=x (LDIF line 12): the value is not valid " +
      "UTF-8 text",
  });
  assert.throws(
    () => entryToGroup(entry("cn=g,dc=x", { cn: ["Eink\uFFFDufer"] }), LDAP),
    {
      message: "Cannot use attribute cn of cn=g,dc=x: the value contains U+FFFD, the " +
        "replacement character, so characters were already lost when it was written",
    },
  );
  // Valid UTF-8 bytes (a base64 LDIF value) are text.
  const group = entryToGroup(
    entry("cn=g,dc=x", { cn: [new TextEncoder().encode("Einkäufer")] }),
    LDAP,
  );
  assert.ok("name" in group);
  assert.equal(group.name, "Einkäufer");
});

Deno.test("entryToUser() refuses a DN with U+FFFD when the DN is the externalId", () => {
  const damaged = entry("uid=m\uFFFDller,dc=x", { mail: ["m@x.test"] });
  assert.throws(() => entryToUser(damaged, LDAP), {
    message: "Cannot use the DN uid=m\uFFFDller,dc=x: the value contains U+FFFD, the " +
      "replacement character, so characters were already lost when it was written",
  });
  // In AD mode the objectGUID is sent, not the DN.
  const guid = new Uint8Array(16).fill(1);
  assert.equal(
    entryToUser({ ...damaged, attributes: new Map([["objectguid", [guid]]]) }, AD).externalId,
    "01010101-0101-0101-0101-010101010101",
  );
});
