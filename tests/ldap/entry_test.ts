import assert from "node:assert/strict";
import { defaultConfig } from "../../src/config/schema.ts";
import { DnSyntaxError } from "../../src/ldap/dn.ts";
import {
  classifyEntry,
  copyText,
  entryToGroup,
  entryToUser,
  formatGuid,
  groupAttributes,
  groupSearchFilter,
  type LdapEntry,
  ldapMappingSettings,
  RefPool,
  searchBase,
  userAttributes,
  userSearchFilter,
} from "../../src/ldap/entry.ts";

function entry(dn: string, attrs: Record<string, (string | Uint8Array)[]>): LdapEntry {
  return {
    dn,
    attributes: new Map(Object.entries(attrs).map(([k, v]) => [k.toLowerCase(), v])),
  };
}

const GUID_BYTES = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);

Deno.test("formatGuid() reverses the first three groups (little-endian)", () => {
  assert.equal(formatGuid(GUID_BYTES), "03020100-0504-0706-0809-0a0b0c0d0e0f");
  assert.throws(() => formatGuid(new Uint8Array(4)), RangeError);
});

Deno.test("ldapMappingSettings() applies AD defaults at read time", () => {
  const sync = defaultConfig().sync;
  assert.deepEqual(ldapMappingSettings(sync, { ad: true }), {
    ad: true,
    userObjectClass: "person",
    groupObjectClass: "group",
    userEmailAttribute: "mail",
    groupNameAttribute: "name",
    memberAttribute: "member",
    useEmailPrefixSuffix: false,
    emailPrefixAttribute: "sAMAccountName",
    emailSuffix: undefined,
    revisionDateAttribute: "whenChanged",
    userPath: "CN=Users",
    groupPath: "CN=Users",
    userFilter: undefined,
    groupFilter: undefined,
  });
  assert.equal(sync.userObjectClass, undefined, "the config is not changed");
});

Deno.test("ldapMappingSettings() applies generic LDAP defaults; explicit settings win", () => {
  const sync = {
    ...defaultConfig().sync,
    groupObjectClass: "posixGroup",
    memberAttribute: "memberUid",
    userPath: "ou=People",
  };
  const s = ldapMappingSettings(sync, { ad: false });
  assert.equal(s.userObjectClass, "person");
  assert.equal(s.groupObjectClass, "posixGroup");
  assert.equal(s.groupNameAttribute, "cn");
  assert.equal(s.memberAttribute, "memberUid");
  assert.equal(s.emailPrefixAttribute, "uid");
  assert.equal(s.revisionDateAttribute, "modifyTimestamp");
  assert.equal(s.userPath, "ou=People");
  assert.equal(s.groupPath, undefined);
  const ad = ldapMappingSettings({ ...defaultConfig().sync, groupObjectClass: "groupOfNames" }, {
    ad: true,
  });
  assert.equal(ad.groupObjectClass, "groupOfNames");
});

Deno.test("searchBase() keeps OUs in rootPath and prefixes the path", () => {
  assert.equal(
    searchBase("OU=Corp,DC=example,DC=com", "CN=Users"),
    "CN=Users,OU=Corp,DC=example,DC=com",
  );
  assert.equal(searchBase("dc=example,dc=com", undefined), "dc=example,dc=com");
  assert.equal(searchBase(undefined, "ou=People,dc=x"), "ou=People,dc=x");
  assert.equal(searchBase(undefined, undefined), "");
});

Deno.test("userSearchFilter() and groupSearchFilter() AND the sub-filter verbatim", () => {
  const s = ldapMappingSettings({ ...defaultConfig().sync, userFilter: "(mail=*)" }, { ad: true });
  // AD mode leaves out contacts and computers under the broad person class.
  assert.equal(
    userSearchFilter(s),
    "(&(objectClass=person)(!(objectClass=computer))(!(objectClass=contact))(mail=*))",
  );
  assert.equal(groupSearchFilter(s), "(&(objectClass=group))");
});

Deno.test("userAttributes() and groupAttributes() list only what mapping needs", () => {
  const ad = ldapMappingSettings({ ...defaultConfig().sync, useEmailPrefixSuffix: true }, {
    ad: true,
  });
  assert.deepEqual(userAttributes(ad), [
    "objectClass",
    "mail",
    "sAMAccountName",
    "uid",
    "objectGUID",
    "userAccountControl",
    "isDeleted",
    "primaryGroupID",
    "objectSid",
    "whenChanged",
  ]);
  assert.deepEqual(groupAttributes(ad), [
    "objectClass",
    "name",
    "cn",
    "member",
    "objectGUID",
    "objectSid",
  ]);
  const ldap = ldapMappingSettings(defaultConfig().sync, { ad: false });
  assert.deepEqual(userAttributes(ldap), ["objectClass", "mail", "uid", "modifyTimestamp"]);
  assert.deepEqual(groupAttributes(ldap), ["objectClass", "cn", "member"]);
});

Deno.test("entryToUser() maps an AD user: GUID, disabled bit, raw email, refs", () => {
  const s = ldapMappingSettings(defaultConfig().sync, { ad: true });
  const user = entryToUser(
    entry("CN=Quinn Murphy,OU=Staff,DC=example,DC=com", {
      objectClass: ["top", "person", "user"],
      mail: [" Quinn.Murphy@Example.com "],
      userAccountControl: ["514"],
      objectGUID: [GUID_BYTES],
      uid: ["QMurphy"],
    }),
    s,
  );
  assert.deepEqual(user, {
    referenceId: "CN=Quinn Murphy,OU=Staff,DC=example,DC=com",
    externalId: "03020100-0504-0706-0809-0a0b0c0d0e0f",
    email: " Quinn.Murphy@Example.com ",
    disabled: true,
    deleted: false,
    refs: ["cn=quinn murphy,ou=staff,dc=example,dc=com", "uid:qmurphy"],
  });
  const deleted = entryToUser(
    entry("CN=X\\0ADEL:1,CN=Deleted Objects,DC=x", { userAccountControl: ["512"] }),
    s,
    { deleted: true },
  );
  assert.equal(deleted.deleted, true);
  assert.equal(deleted.disabled, false);
  assert.equal(deleted.externalId, "CN=X\\0ADEL:1,CN=Deleted Objects,DC=x");
  assert.equal(deleted.email, null);
});

Deno.test("entryToUser() uses the DN as externalId outside AD and builds prefix+suffix emails", () => {
  const s = ldapMappingSettings(
    { ...defaultConfig().sync, useEmailPrefixSuffix: true, emailSuffix: "@example.com" },
    { ad: false },
  );
  const user = entryToUser(
    entry("uid=jdoe,ou=People,dc=example,dc=com", {
      uid: ["jdoe"],
      userAccountControl: ["514"],
      objectGUID: [GUID_BYTES],
    }),
    s,
  );
  assert.equal(user.externalId, "uid=jdoe,ou=People,dc=example,dc=com");
  assert.equal(user.email, "jdoe@example.com");
  assert.equal(user.disabled, false, "userAccountControl means nothing outside AD");
  const noSuffix = ldapMappingSettings({ ...defaultConfig().sync, useEmailPrefixSuffix: true }, {
    ad: false,
  });
  assert.equal(entryToUser(entry("uid=a,dc=x", { uid: ["a"] }), noSuffix).email, null);
});

Deno.test("entryToGroup() normalises DN members and lowercases uids", () => {
  const s = ldapMappingSettings({ ...defaultConfig().sync, memberAttribute: "memberUid" }, {
    ad: false,
  });
  const group = entryToGroup(
    entry("cn=Blue Team,ou=Groups,dc=bitwarden, dc=com", {
      cn: ["Blue Team"],
      memberuid: [
        "cn=Roland Dely,ou=Peons, dc=bitwarden, dc=com",
        "CN=Roland Dely,OU=Peons,DC=bitwarden,DC=com",
        "MikiP",
        " De LosJ ",
        "",
      ],
    }),
    s,
  );
  assert.deepEqual(group, {
    referenceId: "cn=Blue Team,ou=Groups,dc=bitwarden, dc=com",
    externalId: "cn=Blue Team,ou=Groups,dc=bitwarden, dc=com",
    name: "Blue Team",
    memberRefs: ["cn=roland dely,ou=peons,dc=bitwarden,dc=com", "uid:mikip", "uid:de losj"],
    refs: ["cn=blue team,ou=groups,dc=bitwarden,dc=com"],
  });
});

Deno.test("entryToGroup() names from the name attribute, then cn, else skips", () => {
  const ad = ldapMappingSettings(defaultConfig().sync, { ad: true });
  const named = entryToGroup(
    entry("CN=g,DC=x", { name: ["Sales EMEA"], cn: ["g"], objectGUID: [GUID_BYTES] }),
    ad,
  );
  assert.ok("name" in named);
  assert.equal(named.name, "Sales EMEA");
  assert.equal(named.externalId, "03020100-0504-0706-0809-0a0b0c0d0e0f");
  const cnOnly = entryToGroup(entry("CN=g,DC=x", { cn: ["g"] }), ad);
  assert.ok("name" in cnOnly);
  assert.equal(cnOnly.name, "g");
  assert.deepEqual(entryToGroup(entry("CN=g,DC=x", {}), ad), {
    referenceId: "CN=g,DC=x",
    kind: "group",
    reason: "no group name (name or cn)",
  });
});

Deno.test("classifyEntry() uses objectClass case-insensitively", () => {
  const s = ldapMappingSettings(defaultConfig().sync, { ad: false });
  assert.equal(
    classifyEntry(entry("cn=a", { objectClass: ["inetOrgPerson", "PERSON"] }), s),
    "user",
  );
  assert.equal(classifyEntry(entry("cn=g", { objectclass: ["GroupOfNames"] }), s), "group");
  assert.equal(classifyEntry(entry("ou=x", { objectClass: ["organizationalUnit"] }), s), null);
});

Deno.test("RefPool.dn() gives one string per DN however it is written, with or without the text cache", () => {
  for (const cacheDnText of [false, true]) {
    const pool = new RefPool({ cacheDnText });
    const first = pool.dn("CN=Ann Lee, OU=People,DC=example,DC=com");
    assert.equal(first, "cn=ann lee,ou=people,dc=example,dc=com");
    assert.equal(pool.dn("cn=ann lee,ou=people,dc=example,dc=com"), first);
    assert.equal(pool.dn("CN=Ann Lee, OU=People,DC=example,DC=com"), first);
    assert.equal(pool.intern("cn=ann lee,ou=people,dc=example,dc=com"), first);
    assert.throws(() => pool.dn("uid:ann=x"), DnSyntaxError);
  }
});

Deno.test("entryToUser() and entryToGroup() use the entry's normalised DN when the caller gives it", () => {
  const s = ldapMappingSettings(defaultConfig().sync, { ad: false });
  const pool = new RefPool({ cacheDnText: true });
  const ref = pool.dn("UID=Ann,DC=X");
  const user = entryToUser(entry("UID=Ann,DC=X", { uid: ["Ann"], mail: ["ann@x.com"] }), s, {
    pool,
    ref,
  });
  assert.deepEqual(user.refs, ["uid=ann,dc=x", "uid:ann"]);
  assert.equal(user.refs?.[0], ref);
  const group = entryToGroup(
    entry("CN=G,DC=X", { cn: ["G"], member: ["UID=Ann,DC=X", "uid=ann,dc=x", "bob"] }),
    s,
    { pool, ref: pool.dn("CN=G,DC=X") },
  );
  assert.ok("memberRefs" in group);
  assert.deepEqual(group.memberRefs, ["uid=ann,dc=x", "uid:bob"]);
  assert.equal(group.memberRefs[0], ref);
  assert.deepEqual(group.refs, ["cn=g,dc=x"]);
});

Deno.test("RefPool with copyNew pools equal strings, whether looked up by a copy or a slice", () => {
  const pool = new RefPool({ cacheDnText: true, copyNew: true });
  const text =
    "member: uid=ann,ou=people,dc=example,dc=com\nmember: CN=Bob,OU=People,DC=example,DC=com";
  const ann = pool.dn(text.slice(8, 43));
  assert.equal(ann, "uid=ann,ou=people,dc=example,dc=com");
  assert.equal(pool.dn("uid=ann,ou=people,dc=example,dc=com"), ann);
  const bob = pool.dn(text.slice(52));
  assert.equal(bob, "cn=bob,ou=people,dc=example,dc=com");
  assert.equal(pool.dn("CN=Bob,OU=People,DC=example,DC=com"), bob);
  assert.equal(copyText(text), text);
  assert.equal(copyText("short"), "short");
});

Deno.test("RefPool.dnEntry() gives one entry per DN however it is written, with the text cache", () => {
  const pool = new RefPool({ cacheDnText: true });
  assert.equal(pool.cachesDnText, true);
  const first = pool.dnEntry("CN=Ann Lee, OU=People,DC=example,DC=com");
  assert.deepEqual(first, { ref: "cn=ann lee,ou=people,dc=example,dc=com", mark: 0, line: 0 });
  first.line = 7;
  assert.equal(pool.dnEntry("cn=ann lee,ou=people,dc=example,dc=com"), first);
  assert.equal(pool.dnEntry("cn=Ann Lee,ou=People,dc=example,dc=com"), first);
  assert.equal(pool.dn("CN=ANN LEE,OU=PEOPLE,DC=EXAMPLE,DC=COM"), first.ref);
  assert.equal(pool.dnEntry("CN=ANN LEE,OU=PEOPLE,DC=EXAMPLE,DC=COM").line, 7);
  assert.notEqual(pool.dnEntry("cn=bob,dc=example,dc=com"), first);
  assert.throws(() => pool.dnEntry("uid:ann=x"), DnSyntaxError);
  assert.equal(pool.nextMark(), 1);
  assert.equal(pool.nextMark(), 2);
});

Deno.test("RefPool with the text cache pools a DN interned before or after it is looked up as a DN", () => {
  const pool = new RefPool({ cacheDnText: true });
  assert.equal(pool.intern("cn=ann,dc=x"), "cn=ann,dc=x");
  assert.equal(pool.dnEntry("CN=Ann,DC=X").ref, "cn=ann,dc=x");
  assert.equal(pool.dn("cn=bob,dc=x"), "cn=bob,dc=x");
  assert.equal(pool.intern("cn=bob,dc=x"), "cn=bob,dc=x");
  // intern() pools a text as it is, even a DN text the cache knows in another form
  assert.equal(pool.intern("CN=Bob,DC=X"), "CN=Bob,DC=X");
  assert.equal(pool.dn("CN=Bob,DC=X"), "cn=bob,dc=x");
});

Deno.test("RefPool.dnEntry() without the text cache gives a new entry each time", () => {
  const pool = new RefPool();
  assert.equal(pool.cachesDnText, false);
  const first = pool.dnEntry("CN=Ann,DC=X");
  assert.deepEqual(first, { ref: "cn=ann,dc=x", mark: 0, line: 0 });
  assert.notEqual(pool.dnEntry("cn=ann,dc=x"), first);
  assert.equal(pool.dnEntry("cn=ann,dc=x").ref, first.ref);
});

Deno.test("entryToGroup() lists each member once per group, with and without the pool's text cache", () => {
  const s = ldapMappingSettings({ ...defaultConfig().sync, memberAttribute: "memberUid" }, {
    ad: false,
  });
  const members = [
    "cn=Roland Dely,ou=Peons, dc=bitwarden, dc=com",
    "CN=Roland Dely,OU=Peons,DC=bitwarden,DC=com",
    "cn=roland dely,ou=peons,dc=bitwarden,dc=com",
    "MikiP",
    "mikip",
    "cn=Ann,dc=bitwarden,dc=com",
    " De LosJ ",
    "x=",
  ];
  for (const pool of [undefined, new RefPool(), new RefPool({ cacheDnText: true })]) {
    for (const name of ["Blue", "Red"]) {
      const group = entryToGroup(
        entry(`cn=${name},dc=bitwarden,dc=com`, { cn: [name], memberuid: members }),
        s,
        pool === undefined ? {} : { pool },
      );
      assert.ok("memberRefs" in group);
      assert.deepEqual(group.memberRefs, [
        "cn=roland dely,ou=peons,dc=bitwarden,dc=com",
        "uid:mikip",
        "cn=ann,dc=bitwarden,dc=com",
        "uid:de losj",
        "x=",
      ]);
    }
  }
});
