import assert from "node:assert/strict";
import { configSchema } from "../../../src/config/schema.ts";
import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../../../src/engine/types.ts";
import {
  ConfigError,
  DirectoryDataError,
  DirectoryError,
  RosterError,
} from "../../../src/errors.ts";
import { createFileProvider, FILE_PAGE_SIZE } from "../../../src/providers/file/mod.ts";
import type { DirectoryPage, ReadOptions } from "../../../src/providers/provider.ts";

const DATA = new URL("./testdata/", import.meta.url).pathname;

interface Result {
  users: DirectoryUser[];
  groups: DirectoryGroup[];
  skipped: SkippedEntry[];
  notices: string[];
  pages: DirectoryPage["kind"][];
  largestPage: number;
  done: boolean;
}

function provider(file: Record<string, unknown>, sync: Record<string, unknown> = {}) {
  const config = configSchema.parse({ directory: { type: "file", file }, sync });
  return createFileProvider({
    settings: { file: config.directory.file, sync: config.sync },
    secret: () => Promise.resolve(undefined),
    log: () => {},
  });
}

async function read(
  file: Record<string, unknown>,
  sync: Record<string, unknown> = {},
  options: Partial<ReadOptions> = {},
): Promise<Result> {
  const result: Result = {
    users: [],
    groups: [],
    skipped: [],
    notices: [],
    pages: [],
    largestPage: 0,
    done: false,
  };
  const p = provider(file, sync);
  assert.equal(p.name, "file");
  for await (
    const page of p.read({ users: true, groups: true, mode: "full", ...options })
  ) {
    assert.equal(result.done, false, "nothing after done");
    result.pages.push(page.kind);
    if (page.kind === "users") {
      result.users.push(...page.users);
      result.largestPage = Math.max(result.largestPage, page.users.length);
    } else if (page.kind === "groups") {
      result.groups.push(...page.groups);
      result.largestPage = Math.max(result.largestPage, page.groups.length);
    } else if (page.kind === "skipped") result.skipped.push(...page.entries);
    else if (page.kind === "notice") result.notices.push(`${page.level}: ${page.message}`);
    else {
      assert.deepEqual(page, { kind: "done", incremental: false });
      result.done = true;
    }
  }
  assert.equal(result.done, true);
  return result;
}

async function withFile(name: string, content: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "roster-file-test-" });
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, content);
  return path;
}

async function rejectsWith(
  promise: Promise<unknown>,
  type: new (...args: never[]) => RosterError,
  message: string,
): Promise<RosterError> {
  let caught: RosterError | undefined;
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`);
    assert.equal(e.message, message);
    caught = e;
    return true;
  });
  assert.ok(caught !== undefined);
  return caught;
}

// --- configuration --------------------------------------------------------------------------

Deno.test("file provider throws a ConfigError naming directory.file.path when it is unset", async () => {
  const e = await rejectsWith(
    read({}),
    ConfigError,
    "Directory file is not configured: directory.file.path is not set",
  );
  assert.deepEqual(e.details, { setting: "directory.file.path" });
});

Deno.test("file provider throws a DirectoryError naming a missing or unreadable path", async () => {
  await rejectsWith(
    read({ path: "/nonexistent/roster/x.csv" }),
    DirectoryError,
    "Cannot read directory file /nonexistent/roster/x.csv: no such file",
  );
  await rejectsWith(
    read({ path: DATA, format: "csv" }),
    DirectoryError,
    `Cannot read directory file ${DATA}: it is a directory`,
  );
});

Deno.test("file provider needs directory.file.format when the extension says nothing", async () => {
  const e = await rejectsWith(
    read({ path: "/tmp/export.txt" }),
    ConfigError,
    "Cannot tell the format of directory file /tmp/export.txt: the extension is not .ldif, .csv or .json",
  );
  assert.equal(e.hint, "Set directory.file.format to ldif, csv or json");
});

Deno.test("file provider validates LDAP filters for LDIF before reading", async () => {
  await rejectsWith(
    read({ path: `${DATA}ad-export.ldif` }, { userFilter: "(mail=*" }),
    ConfigError,
    'Invalid LDAP filter in sync.userFilter: Missing ")" after the value at character 8',
  );
  await rejectsWith(
    read(
      { path: `${DATA}ad-export.ldif` },
      { groupFilter: "(memberOf:1.2.840.113556.1.4.1941:=cn=x,dc=y)" },
    ),
    ConfigError,
    "Unsupported LDAP filter in sync.groupFilter for a file: matching rule 1.2.840.113556.1.4.1941 needs a live directory server",
  );
});

// --- LDIF -----------------------------------------------------------------------------------

const AD_FILE = { path: `${DATA}ad-export.ldif`, rootPath: "OU=Corp,DC=example,DC=com", ad: true };

Deno.test("LDIF AD export: GUIDs, disabled bit, deleted objects and the CN=Users default path", async () => {
  const r = await read(AD_FILE);
  assert.deepEqual(r.users, [
    {
      referenceId: "CN=Ann Lee,CN=Users,OU=Corp,DC=example,DC=com",
      externalId: "03020100-0504-0706-0809-0a0b0c0d0e0f",
      email: "Ann.Lee@Example.com",
      disabled: false,
      deleted: false,
      refs: ["cn=ann lee,cn=users,ou=corp,dc=example,dc=com"],
    },
    {
      referenceId: "CN=Bo Chan,CN=Users,OU=Corp,DC=example,DC=com",
      externalId: "13121110-1514-1716-1819-1a1b1c1d1e1f",
      email: "bo.chan@example.com",
      disabled: true,
      deleted: false,
      refs: ["cn=bo chan,cn=users,ou=corp,dc=example,dc=com"],
    },
    {
      referenceId: "CN=No Mail,CN=Users,OU=Corp,DC=example,DC=com",
      externalId: "CN=No Mail,CN=Users,OU=Corp,DC=example,DC=com",
      email: null,
      disabled: false,
      deleted: false,
      refs: ["cn=no mail,cn=users,ou=corp,dc=example,dc=com"],
    },
    // CN=PC-01 is a computer: not an account a person uses, so not a user in AD mode.
    {
      referenceId:
        "CN=Gone\\0ADEL:0b0a0908-0d0c-0f0e-1011-121314151617,CN=Deleted Objects,DC=example,DC=com",
      externalId: "0b0a0908-0d0c-0f0e-1011-121314151617",
      email: null,
      disabled: false,
      deleted: true,
      refs: [
        "cn=gone\\0adel:0b0a0908-0d0c-0f0e-1011-121314151617,cn=deleted objects,dc=example,dc=com",
      ],
    },
  ]);
  assert.deepEqual(r.groups, [
    {
      referenceId: "CN=Staff,CN=Users,OU=Corp,DC=example,DC=com",
      externalId: "23222120-2524-2726-2829-2a2b2c2d2e2f",
      name: "All Staff",
      memberRefs: [
        "cn=ann lee,cn=users,ou=corp,dc=example,dc=com",
        "cn=bo chan,cn=users,ou=corp,dc=example,dc=com",
        "cn=admins,cn=users,ou=corp,dc=example,dc=com",
      ],
      refs: ["cn=staff,cn=users,ou=corp,dc=example,dc=com"],
    },
    {
      referenceId: "CN=Admins,CN=Users,OU=Corp,DC=example,DC=com",
      externalId: "CN=Admins,CN=Users,OU=Corp,DC=example,DC=com",
      name: "Admins",
      memberRefs: ["cn=ann lee,cn=users,ou=corp,dc=example,dc=com"],
      refs: ["cn=admins,cn=users,ou=corp,dc=example,dc=com"],
    },
  ]);
  assert.deepEqual(r.notices, [
    "info: 1 user entries in " + AD_FILE.path +
    ' are outside the user search base "CN=Users,OU=Corp,DC=example,DC=com" and were left out',
  ]);
});

Deno.test("LDIF member DNs match user refs whatever their case and spacing", async () => {
  const r = await read(AD_FILE);
  const refs = new Set(r.users.flatMap((u) => u.refs ?? []));
  const staff = r.groups.find((g) => g.name === "All Staff");
  assert.ok(staff !== undefined);
  assert.deepEqual(staff.memberRefs.filter((ref) => refs.has(ref)).length, 2);
});

Deno.test("LDIF userFilter and groupFilter are evaluated like a server would", async () => {
  const r = await read(AD_FILE, {
    userFilter: "(&(mail=*)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
    groupFilter: "(member=CN=Admins,CN=Users,OU=Corp,DC=example,DC=com)",
  });
  assert.deepEqual(r.users.map((u) => u.referenceId), [
    "CN=Ann Lee,CN=Users,OU=Corp,DC=example,DC=com",
    // deleted objects are read with the object-class filter only, as bwdc does
    "CN=Gone\\0ADEL:0b0a0908-0d0c-0f0e-1011-121314151617,CN=Deleted Objects,DC=example,DC=com",
  ]);
  assert.deepEqual(r.groups.map((g) => g.name), ["All Staff"]);
});

Deno.test("LDIF paths are relative to rootPath, subtree scope", async () => {
  const r = await read(
    { path: `${DATA}ad-export.ldif`, rootPath: "DC=example,DC=com", ad: true },
    { userPath: "OU=Other", groupPath: "OU=Other" },
  );
  assert.deepEqual(r.users.map((u) => u.referenceId), [
    "CN=Outside,OU=Other,DC=example,DC=com",
    "CN=Gone\\0ADEL:0b0a0908-0d0c-0f0e-1011-121314151617,CN=Deleted Objects,DC=example,DC=com",
  ]);
  assert.deepEqual(r.groups.map((g) => g.name), ["Other Group"]);
});

Deno.test("LDIF without rootPath: AD default paths are not applied, explicit paths are full DNs", async () => {
  const all = await read({ path: `${DATA}ad-export.ldif`, ad: true });
  assert.equal(all.users.length, 5); // the computer CN=PC-01 is not a user
  assert.equal(all.groups.length, 3);
  assert.deepEqual(all.notices, [
    "info: directory.file.rootPath is not set, so the AD default path CN=Users is not applied: users and groups are read from the whole file",
  ]);
  const scoped = await read(
    { path: `${DATA}ad-export.ldif`, ad: true },
    { userPath: "ou=other,dc=example,dc=com", groupPath: "cn=users,ou=corp,dc=example,dc=com" },
  );
  assert.deepEqual(scoped.users.map((u) => u.referenceId), [
    "CN=Outside,OU=Other,DC=example,DC=com",
    "CN=Gone\\0ADEL:0b0a0908-0d0c-0f0e-1011-121314151617,CN=Deleted Objects,DC=example,DC=com",
  ]);
  assert.deepEqual(scoped.groups.map((g) => g.name), ["All Staff", "Admins"]);
});

Deno.test("LDIF outside AD mode: no GUIDs, no disabled bit, tombstones are ordinary entries", async () => {
  const r = await read({ path: `${DATA}ad-export.ldif` }, { groupObjectClass: "group" });
  const bo = r.users.find((u) => u.referenceId.startsWith("CN=Bo Chan"));
  assert.deepEqual(bo, {
    referenceId: "CN=Bo Chan,CN=Users,OU=Corp,DC=example,DC=com",
    externalId: "CN=Bo Chan,CN=Users,OU=Corp,DC=example,DC=com",
    email: "bo.chan@example.com",
    disabled: false,
    deleted: false,
    refs: ["cn=bo chan,cn=users,ou=corp,dc=example,dc=com"],
  });
  assert.equal(r.users.filter((u) => u.deleted).length, 0);
  assert.equal(r.users.length, 7);
  assert.deepEqual(r.groups.map((g) => g.name), ["Staff", "Admins", "Other Group"]);
});

Deno.test("LDIF memberUid mixes DNs and uids, matched case-insensitively", async () => {
  const r = await read(
    { path: `${DATA}openldap-memberuid.ldif`, rootPath: "dc=bitwarden,dc=com" },
    {
      userObjectClass: "inetOrgPerson",
      groupObjectClass: "posixGroup",
      memberAttribute: "memberUid",
    },
  );
  assert.deepEqual(r.users.map((u) => u.refs), [
    ["cn=roland dely,ou=peons,dc=bitwarden,dc=com", "uid:delyr"],
    ["cn=miki pena,ou=peons,dc=bitwarden,dc=com", "uid:mikip"],
    ["cn=jose de los,ou=peons,dc=bitwarden,dc=com", "uid:de losj"],
  ]);
  assert.deepEqual(r.groups.map((g) => [g.name, g.memberRefs]), [
    ["Blue Team", [
      "cn=roland dely,ou=peons,dc=bitwarden,dc=com",
      "cn=miki pena,ou=peons,dc=bitwarden,dc=com",
    ]],
    ["DevOps Team", ["uid:mikip", "uid:delyr", "uid:de losj", "uid:nobody"]],
    ["Cleaners", []],
  ]);
  const refs = new Set(r.users.flatMap((u) => u.refs ?? []));
  assert.deepEqual(
    r.groups.flatMap((g) => g.memberRefs).filter((ref) => !refs.has(ref)),
    ["uid:nobody"],
  );
});

Deno.test("LDIF duplicate DNs are a DirectoryDataError naming both lines", async () => {
  const path = await withFile("dup.ldif", "dn: cn=a,dc=x\ncn: a\n\ndn: CN=A, DC=X\ncn: a\n");
  await rejectsWith(
    read({ path }),
    DirectoryDataError,
    `Duplicate entry in LDIF ${path} at line 4: CN=A, DC=X already appears at line 1`,
  );
});

Deno.test("LDIF errors carry the file and line", async () => {
  const path = await withFile(
    "bad.ldif",
    "dn: cn=a,dc=x\ncn: a\n\ndn: cn=b,dc=x\nchangetype: add\n",
  );
  await rejectsWith(
    read({ path }),
    DirectoryDataError,
    `Unsupported LDIF in ${path} at line 5: the record for cn=b,dc=x is a change record (changetype: add)`,
  );
});

Deno.test("file provider reads only the sides asked for", async () => {
  const usersOnly = await read(AD_FILE, {}, { groups: false });
  assert.equal(usersOnly.groups.length, 0);
  assert.equal(usersOnly.users.length, 4);
  const groupsOnly = await read({ path: `${DATA}directory.csv` }, {}, { users: false });
  assert.equal(groupsOnly.users.length, 0);
  assert.equal(groupsOnly.groups.length, 3);
  assert.equal(groupsOnly.skipped.length, 1);
});

// --- CSV ------------------------------------------------------------------------------------

const EXPECTED_USERS: DirectoryUser[] = [
  {
    referenceId: "u1",
    externalId: "u1",
    email: "Ann.Lee@example.com",
    disabled: false,
    deleted: false,
    refs: ["u1"],
  },
  {
    referenceId: "u2",
    externalId: "u2",
    email: "bo.chan@example.com",
    disabled: true,
    deleted: false,
    refs: ["u2"],
  },
  {
    referenceId: "u3",
    externalId: "u3",
    email: null,
    disabled: false,
    deleted: false,
    refs: ["u3"],
  },
];
const EXPECTED_GROUPS: DirectoryGroup[] = [
  {
    referenceId: "g-all",
    externalId: "g-all",
    name: "All Staff",
    memberRefs: ["g-eng", "u3"],
    refs: ["g-all"],
  },
  {
    referenceId: "g-eng",
    externalId: "g-eng",
    name: "Engineering, Berlin",
    memberRefs: ["u1", "u2", "g-all", "missing"],
    refs: ["g-eng"],
  },
  {
    referenceId: "g-empty",
    externalId: "g-empty",
    name: "Empty",
    memberRefs: [],
    refs: ["g-empty"],
  },
];
const EXPECTED_SKIPPED: SkippedEntry[] = [{
  referenceId: "g-noname",
  kind: "group",
  reason: "no group name",
}];

Deno.test("CSV: users and groups, nested groups, booleans, comments and quoted fields", async () => {
  const r = await read({ path: `${DATA}directory.csv` });
  assert.deepEqual(r.users, [
    ...EXPECTED_USERS,
    {
      referenceId: "u4",
      externalId: "u4",
      email: "gone@example.com",
      disabled: false,
      deleted: true,
      refs: ["u4"],
    },
  ]);
  assert.deepEqual(r.groups, EXPECTED_GROUPS);
  assert.deepEqual(r.skipped, EXPECTED_SKIPPED);
});

Deno.test("CSV: header in any order and case, BOM and CRLF", async () => {
  const path = await withFile(
    "x.csv",
    "\uFEFFID,Type,Members\r\nu1,USER,\r\ng1,group,u1\r\n",
  );
  const r = await read({ path });
  assert.deepEqual(r.users.map((u) => [u.externalId, u.email]), [["u1", null]]);
  assert.deepEqual(r.skipped, [{ referenceId: "g1", kind: "group", reason: "no group name" }]);
});

Deno.test("CSV: bad rows are DirectoryDataErrors naming the line and the fix", async () => {
  const cases: [string, string, string][] = [
    [
      "type,id,emial\n",
      'Invalid CSV header in {path} at line 1: unknown column "emial" (column 3)',
      "Fix the file: the header is type,id,email,name,disabled,deleted,members (type and id required, any order)",
    ],
    [
      "type,id,id\n",
      'Invalid CSV header in {path} at line 1: column "id" appears twice',
      "Fix the file: the header is type,id,email,name,disabled,deleted,members (type and id required, any order)",
    ],
    [
      "type,email\n",
      'Invalid CSV header in {path} at line 1: the "id" column is missing',
      "Fix the file: the header is type,id,email,name,disabled,deleted,members (type and id required, any order)",
    ],
    [
      "type,id\nuser,a\nrobot,b\n",
      'Invalid row in {path} at line 3: type is "robot", not user or group',
      "Set the type column to user or group",
    ],
    [
      "type,id\nuser,a\nuser, \n",
      "Invalid row in {path} at line 3: the id is empty",
      "Give every user and group a unique id",
    ],
    [
      "type,id,disabled\nuser,a,maybe\n",
      'Invalid row in {path} at line 2: disabled is "maybe" for a',
      "Write disabled as true/false, 1/0 or yes/no (empty means false)",
    ],
    [
      "type,id\nuser,a\ngroup,a\n",
      'Duplicate id "a" in {path} at line 3: already used at line 2',
      "Ids must be unique across users and groups (groups list members by id)",
    ],
    [
      "type,id,members\nuser,a,b\n",
      "Invalid row in {path} at line 2: user a has members",
      "Only group rows may have members; list the user's id in its groups' members instead",
    ],
    [
      "type,id,email\ngroup,g,x@y\n",
      "Invalid row in {path} at line 2: group g has a value in the email column",
      "Leave email empty on group rows",
    ],
    [
      "type,id\nuser,a\nuser,b,c\n",
      "Invalid CSV in {path} at line 3: Invalid Record Length: expect 2, got 3 on line 3",
      "Every row needs as many fields as the header; quote fields that contain commas, quotes or line breaks",
    ],
  ];
  for (const [content, message, hint] of cases) {
    const path = await withFile("bad.csv", content);
    const e = await rejectsWith(
      read({ path }),
      DirectoryDataError,
      message.replace("{path}", path),
    );
    assert.equal(e.hint, hint);
  }
});

// --- JSON -----------------------------------------------------------------------------------

Deno.test("JSON: users and groups, numeric ids, unknown top-level keys ignored", async () => {
  const r = await read({ path: `${DATA}directory.json` });
  assert.deepEqual(r.users, [
    ...EXPECTED_USERS,
    {
      referenceId: "4",
      externalId: "4",
      email: "gone@example.com",
      disabled: false,
      deleted: true,
      refs: ["4"],
    },
  ]);
  assert.deepEqual(r.groups, EXPECTED_GROUPS);
  assert.deepEqual(r.skipped, EXPECTED_SKIPPED);
});

Deno.test("JSON: bad records are DirectoryDataErrors naming the record and the fix", async () => {
  const cases: [string, string][] = [
    ['[{"id":"a"}]', "Invalid JSON in {path}: the top level is not an object"],
    ["", "Invalid JSON in {path}: the file is empty"],
    [
      '{"users":[{"id":"a"},',
      "Invalid JSON in {path}: Parser ended in mid-parsing (state: VALUE). Either not all the data was received or the data was invalid.",
    ],
    [
      '{"users":[{"id":"a"}]}{}',
      'Invalid JSON in {path}: Unexpected "{" at chunk position "22" (absolute position "22") in state ENDED',
    ],
    ['{"users":{"a":{"id":"a"}}}', 'Invalid JSON in {path}: "users" is not an array'],
    ['{"users":[{"id":"a"},"b"]}', "Invalid record in {path} at users[1]: it is not an object"],
    ['{"users":[{"email":"a@x"}]}', "Invalid record in {path} at users[0]: id is missing or empty"],
    [
      '{"users":[{"id":"a","mail":"a@x"}]}',
      'Invalid record in {path} at users[0] (id "a"): unknown key "mail"',
    ],
    [
      '{"users":[{"id":"a","disabled":"yes"}]}',
      'Invalid record in {path} at users[0] (id "a"): disabled is "yes", not true or false',
    ],
    [
      '{"users":[{"id":"a","email":5}]}',
      'Invalid record in {path} at users[0] (id "a"): email is not a string',
    ],
    [
      '{"users":[{"id":"a"}],"groups":[{"id":"a","name":"A"}]}',
      'Duplicate id "a" in {path} at groups[0]: already used at users[0]',
    ],
    [
      '{"groups":[{"id":"g","members":"a"}]}',
      'Invalid record in {path} at groups[0] (id "g"): members is not an array',
    ],
    [
      '{"groups":[{"id":"g","members":["a",""]}]}',
      'Invalid record in {path} at groups[0] (id "g"): members[1] is not an id',
    ],
  ];
  for (const [content, message] of cases) {
    const path = await withFile("bad.json", content);
    await rejectsWith(read({ path }), DirectoryDataError, message.replace("{path}", path));
  }
});

// --- streaming ------------------------------------------------------------------------------

const N = 100_000;

async function writeGenerated(name: string, lines: (k: number) => string, head = "", tail = "") {
  const dir = await Deno.makeTempDir({ prefix: "roster-file-big-" });
  const path = `${dir}/${name}`;
  const file = await Deno.open(path, { write: true, create: true });
  const enc = new TextEncoder();
  const writer = file.writable.getWriter();
  await writer.write(enc.encode(head));
  let chunk = "";
  for (let k = 0; k < N; k++) {
    chunk += lines(k);
    if (chunk.length > 1 << 16) {
      await writer.write(enc.encode(chunk));
      chunk = "";
    }
  }
  await writer.write(enc.encode(chunk + tail));
  await writer.close();
  return path;
}

Deno.test("a generated 100,000-user LDIF streams out in pages of at most 1,000", async () => {
  const path = await writeGenerated(
    "big.ldif",
    (k) =>
      `dn: uid=user${k},ou=People,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: user${k}\n` +
      `cn: User ${k}\nmail: user${k}@example.com\n\n`,
    "version: 1\n\n",
    "dn: cn=everyone,ou=Groups,dc=example,dc=com\nobjectClass: groupOfNames\ncn: everyone\n" +
      "member: uid=user0,ou=People,dc=example,dc=com\nmember: uid=user99999,ou=People,dc=example,dc=com\n",
  );
  const r = await read({ path, rootPath: "dc=example,dc=com" }, { userPath: "ou=People" });
  assert.equal(r.users.length, N);
  assert.equal(r.groups.length, 1);
  assert.equal(r.largestPage, FILE_PAGE_SIZE);
  assert.equal(r.pages.filter((k) => k === "users").length, N / FILE_PAGE_SIZE);
  assert.equal(r.users[N - 1]?.email, `user${N - 1}@example.com`);
  await Deno.remove(path);
});

Deno.test("a generated 100,000-user CSV and JSON stream out in pages", async () => {
  const csv = await writeGenerated(
    "big.csv",
    (k) => `user,u${k},user${k}@example.com,,${k % 10 === 0 ? "true" : ""},,\n`,
    "type,id,email,name,disabled,deleted,members\n",
    "group,g,,Everyone,,,u0;u1\n",
  );
  const json = await writeGenerated(
    "big.json",
    (k) =>
      `${k === 0 ? "" : ","}{"id":"u${k}","email":"user${k}@example.com","disabled":${
        k % 10 === 0
      }}\n`,
    '{"users":[\n',
    '],"groups":[{"id":"g","name":"Everyone","members":["u0","u1"]}]}\n',
  );
  for (const path of [csv, json]) {
    const r = await read({ path });
    assert.equal(r.users.length, N, path);
    assert.equal(r.users.filter((u) => u.disabled).length, N / 10, path);
    assert.equal(r.groups.length, 1, path);
    assert.equal(r.largestPage, FILE_PAGE_SIZE, path);
    await Deno.remove(path);
  }
});

Deno.test("the file provider yields pages before the file is fully written (a pipe)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "roster-file-fifo-" });
  const path = `${dir}/pipe.csv`;
  const head = `${dir}/head.csv`;
  let rows = "type,id,email\n";
  for (let k = 0; k < 2 * FILE_PAGE_SIZE; k++) rows += `user,u${k},u${k}@example.com\n`;
  await Deno.writeTextFile(head, rows);
  const mkfifo = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.equal(mkfifo.success, true);
  // Another process writes the head, then waits for a line on stdin before writing the last row.
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'exec 3>"$1"; cat "$2" >&3; read go; echo "user,last,last@example.com" >&3; exec 3>&-',
      "sh",
      path,
      head,
    ],
    stdin: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await stdin.write(new TextEncoder().encode("go\n"));
    await stdin.close();
  };
  // If nothing streamed, the read would wait forever: release the writer after a while anyway.
  const fallback = setTimeout(() => void release(), 20_000);
  let users = 0;
  let pagesBeforeRelease = 0;
  for await (const page of provider({ path }).read({ users: true, groups: true, mode: "full" })) {
    if (page.kind === "users") {
      users += page.users.length;
      if (!released) pagesBeforeRelease++;
      await release();
    }
  }
  clearTimeout(fallback);
  assert.equal((await child.status).success, true);
  assert.ok(pagesBeforeRelease >= 1, "a page arrived before the end of the input");
  assert.equal(users, 2 * FILE_PAGE_SIZE + 1);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the file provider closes the file when the caller stops early", async () => {
  for (const name of ["directory.csv", "directory.json", "ad-export.ldif"]) {
    const pages = provider({ path: `${DATA}${name}` }, { groupObjectClass: "group" }).read({
      users: true,
      groups: true,
      mode: "full",
    });
    for await (const page of pages) {
      assert.ok(page.kind === "users" || page.kind === "notice", name);
      break;
    }
  }
  // Deno's resource sanitizer fails this test if a file handle is left open.
});

Deno.test("LDIF filters read attributes the mapping does not, and every attribute when they name none", async () => {
  const path = await withFile(
    "filters.ldif",
    "dn: uid=ann,dc=x\nobjectClass: inetOrgPerson\nuid: ann\nmail: ann@x.com\n" +
      "departmentNumber: 7\nemployeeType: Staff\n\n" +
      "dn: uid=bob,dc=x\nobjectClass: inetOrgPerson\nuid: bob\nmail: bob@x.com\n" +
      "departmentNumber: 8\nemployeeType: staff\n\n" +
      "dn: cn=g,dc=x\nobjectClass: groupOfNames\ncn: g\nbusinessCategory: Keep\n" +
      "member: uid=ann,dc=x\n",
  );
  const byAttribute = await read({ path }, {
    userFilter: "(departmentNumber=7)",
    groupFilter: "(businessCategory=keep)",
  });
  assert.deepEqual(byAttribute.users.map((u) => u.referenceId), ["uid=ann,dc=x"]);
  assert.deepEqual(byAttribute.groups.map((g) => g.memberRefs), [["uid=ann,dc=x"]]);
  // an extensible match without an attribute type tests every attribute of the entry
  const anyAttribute = await read({ path }, { userFilter: "(:caseExactMatch:=Staff)" });
  assert.deepEqual(anyAttribute.users.map((u) => u.referenceId), ["uid=ann,dc=x"]);
});
