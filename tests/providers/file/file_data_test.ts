/**
 * The file provider on directory data as it really is: AD exports (primary groups,
 * objectCategory filters, contacts and computers, ranged values) and exports that are not
 * UTF-8 (Windows-1252 CSV, Latin-1 LDIF, Windows-1252 JSON, UTF-16 with a BOM), read through
 * the provider and the engine to the groups a sync would send.
 */
import assert from "node:assert/strict";
import { configSchema } from "../../../src/config/schema.ts";
import { buildSyncData } from "../../../src/engine/mod.ts";
import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../../../src/engine/types.ts";
import {
  ConfigError,
  DirectoryDataError,
  RosterError,
  SourceIncompleteError,
} from "../../../src/errors.ts";
import { createFileProvider } from "../../../src/providers/file/mod.ts";

const DATA = new URL("./testdata/data/", import.meta.url).pathname;

interface Read {
  users: DirectoryUser[];
  groups: DirectoryGroup[];
  skipped: SkippedEntry[];
  notices: string[];
}

async function read(
  file: Record<string, unknown>,
  sync: Record<string, unknown> = {},
): Promise<Read> {
  const config = configSchema.parse({ directory: { type: "file", file }, sync });
  const provider = createFileProvider({
    settings: { file: config.directory.file, sync: config.sync },
    secret: () => Promise.resolve(undefined),
    log: () => {},
  });
  const r: Read = { users: [], groups: [], skipped: [], notices: [] };
  for await (const page of provider.read({ users: true, groups: true, mode: "full" })) {
    if (page.kind === "users") r.users.push(...page.users);
    else if (page.kind === "groups") r.groups.push(...page.groups);
    else if (page.kind === "skipped") r.skipped.push(...page.entries);
    else if (page.kind === "notice") r.notices.push(`${page.level}: ${page.message}`);
  }
  return r;
}

/** What a sync would send: group name → member externalIds, and the unresolved count. */
function synced(r: Read): { groups: Record<string, string[]>; unresolved: number } {
  const data = buildSyncData(
    { users: r.users, groups: r.groups, skipped: r.skipped },
    { syncUsers: true, syncGroups: true, removeDisabled: false },
  );
  return {
    groups: Object.fromEntries(data.groups.map((g) => [g.name, g.memberExternalIds])),
    unresolved: data.unresolved.length,
  };
}

async function refused<T extends RosterError>(
  promise: Promise<unknown>,
  type: new (...args: never[]) => T,
): Promise<T> {
  const error = await promise.then(() => assert.fail("expected an error"), (e: unknown) => e);
  assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
  return error;
}

async function tempFile(name: string, bytes: Uint8Array): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "roster-file-data-" });
  await Deno.writeFile(`${dir}/${name}`, bytes);
  return `${dir}/${name}`;
}

const guid = (last: string) => `00000000-0000-0000-0000-${last.padStart(12, "0")}`;
const MIA = guid("1");
const NED = guid("2");
const OZ = guid("3");

// --- AD: primary groups -----------------------------------------------------------------------

Deno.test("file provider counts AD primary-group members (primaryGroupID against the group's RID)", async () => {
  const r = await read({ path: `${DATA}ad-primary-group.ldif`, ad: true });
  assert.deepEqual(r.users.map((u) => u.externalId), [MIA, NED, OZ]);
  // Mia and Ned have primaryGroupID 1105 = Contractors; Oz is a `member` and has 513.
  assert.deepEqual(synced(r), {
    groups: { Contractors: [OZ, MIA, NED], "Domain Users": [OZ] },
    unresolved: 0,
  });
});

Deno.test("file provider without AD mode knows no primary groups", async () => {
  const r = await read({ path: `${DATA}ad-primary-group.ldif` }, { groupObjectClass: "group" });
  assert.deepEqual(synced(r), {
    groups: { Contractors: ["CN=Oz Pratt,CN=Users,DC=acme,DC=test"], "Domain Users": [] },
    unresolved: 0,
  });
});

// --- AD: objectCategory, contacts, computers --------------------------------------------------

Deno.test("file provider matches (objectCategory=person) on an AD export as a live AD does", async () => {
  const r = await read(
    { path: `${DATA}ad-objectcategory.ldif`, ad: true },
    { userFilter: "(&(objectCategory=person)(objectClass=user))" },
  );
  assert.deepEqual(r.users.map((u) => u.email), ["wes.xu@acme.test", "zia.abe@acme.test"]);
  assert.deepEqual(synced(r), {
    groups: { "Project Z": [guid("1"), guid("4")] },
    unresolved: 0,
  });
});

Deno.test("file provider in AD mode reads no contacts or computers under the person default", async () => {
  const r = await read({ path: `${DATA}ad-objectcategory.ldif`, ad: true });
  assert.deepEqual(r.users.map((u) => u.referenceId), [
    "CN=Wes Xu,CN=Users,DC=acme,DC=test",
    "CN=Zia Abe,CN=Users,DC=acme,DC=test",
  ]);
  // Named on purpose, contacts are read.
  const contacts = await read(
    { path: `${DATA}ad-objectcategory.ldif`, ad: true },
    { userObjectClass: "contact" },
  );
  assert.deepEqual(contacts.users.map((u) => u.email), ["yves@partner-example.test"]);
  // Outside AD mode the class is taken literally, as bwdc did.
  const plain = await read({ path: `${DATA}ad-objectcategory.ldif` });
  assert.equal(plain.users.length, 4);
});

// --- AD: ranged values --------------------------------------------------------------------------

const RANGED_HEAD = [
  "dn: CN=Ann,CN=Users,DC=acme,DC=test",
  "objectClass: user",
  "mail: ann@acme.test",
  "",
  "dn: CN=Bo,CN=Users,DC=acme,DC=test",
  "objectClass: user",
  "mail: bo@acme.test",
  "",
  "dn: CN=Big,CN=Users,DC=acme,DC=test",
  "objectClass: group",
  "name: Big",
  "member;range=0-0: CN=Ann,CN=Users,DC=acme,DC=test",
];

Deno.test("file provider joins ranged member values that an export holds from 0 to *", async () => {
  const text = [...RANGED_HEAD, "member;range=1-*: CN=Bo,CN=Users,DC=acme,DC=test", ""];
  const path = await tempFile("ranged.ldif", new TextEncoder().encode(text.join("\n")));
  const r = await read({ path, ad: true });
  assert.deepEqual(synced(r), {
    groups: { Big: ["CN=Ann,CN=Users,DC=acme,DC=test", "CN=Bo,CN=Users,DC=acme,DC=test"] },
    unresolved: 0,
  });
});

Deno.test("file provider refuses an export that holds only the first range of a group's members", async () => {
  const path = await tempFile("cut.ldif", new TextEncoder().encode(RANGED_HEAD.join("\n") + "\n"));
  const error = await refused(read({ path, ad: true }), SourceIncompleteError);
  assert.equal(error.exitCode, 5);
  assert.equal(
    error.message,
    "Group CN=Big,CN=Users,DC=acme,DC=test (LDIF line 9) holds only values 0-0 of member: " +
      "Active Directory sends large multi-valued attributes in ranges, and the export stopped " +
      "after this one",
  );
});

// --- encodings ----------------------------------------------------------------------------------

Deno.test("file provider refuses a Windows-1252 CSV in auto mode, naming the line and the fix", async () => {
  const path = `${DATA}ansi.csv`;
  const error = await refused(read({ path }), DirectoryDataError);
  assert.equal(error.exitCode, 7);
  assert.equal(
    error.message,
    `Cannot read ${path} at line 3: byte 0xE4 is not valid UTF-8, so the file is not UTF-8`,
  );
  assert.equal(
    error.hint,
    "Save the file as UTF-8, or name its encoding: roster config set directory.file.encoding " +
      "windows-1252",
  );
});

Deno.test("file provider names the line of a byte that is not UTF-8 deep in a large LDIF", async () => {
  // 4,000 records of 5 lines (about 400 KB, several chunks of the file): the bad byte is in
  // the cn line of record 3,500, line 3,499 * 5 + 3 = 17,498.
  const records: string[] = [];
  for (let k = 1; k <= 4000; k++) {
    const cn = k === 3500 ? "Eink\xe4ufer" : `user ${k} with a longish common name`;
    records.push(
      `dn: uid=u${k},ou=people,dc=x\nobjectClass: inetOrgPerson\ncn: ${cn}\nuid: u${k}\n`,
    );
  }
  const text = records.join("\n");
  const path = await tempFile("big.ldif", Uint8Array.from(text, (c) => c.charCodeAt(0)));
  const error = await refused(read({ path }), DirectoryDataError);
  assert.equal(
    error.message,
    `Cannot read ${path} at line 17498: byte 0xE4 is not valid UTF-8, so the file is not UTF-8`,
  );
});

Deno.test("file provider decodes the Windows-1252 CSV with directory.file.encoding", async () => {
  const r = await read({ path: `${DATA}ansi.csv`, encoding: "windows-1252" });
  assert.deepEqual(r.groups.map((g) => g.name), ["Einkäufer München"]);
  assert.deepEqual(synced(r).groups, { "Einkäufer München": ["u1"] });
});

Deno.test("file provider refuses, then decodes, a Latin-1 LDIF", async () => {
  const path = `${DATA}latin1.ldif`;
  const error = await refused(read({ path }), DirectoryDataError);
  assert.equal(
    error.message,
    `Cannot read ${path} at line 8: byte 0xE4 is not valid UTF-8, so the file is not UTF-8`,
  );
  const r = await read({ path, encoding: "ISO-8859-1" });
  assert.deepEqual(
    r.groups.map((g) => [g.name, g.externalId]),
    [["Einkäufer", "cn=Einkäufer,ou=groups,dc=acme,dc=test"]],
  );
});

Deno.test("file provider reads JSON in a named encoding and refuses it in auto mode", async () => {
  const json = '{"users":[{"id":"u1","email":"a@b.test"}],\n"groups":[{"id":"g1","name":"Eink' +
    "\xe4" + 'ufer","members":["u1"]}]}';
  const path = await tempFile("dir.json", Uint8Array.from(json, (c) => c.charCodeAt(0)));
  const error = await refused(read({ path }), DirectoryDataError);
  assert.equal(
    error.message,
    `Cannot read ${path} at line 2: byte 0xE4 is not valid UTF-8, so the file is not UTF-8`,
  );
  const r = await read({ path, encoding: "windows-1252" });
  assert.deepEqual(r.groups.map((g) => g.name), ["Einkäufer"]);
});

Deno.test("file provider reads a UTF-16LE CSV with a BOM in auto mode", async () => {
  const text = "type,id,email,name\r\nuser,u1,ann@acme.test,\r\ngroup,g1,,Zoë\r\n";
  const bytes = new Uint8Array(2 + text.length * 2);
  bytes.set([0xff, 0xfe]);
  for (let i = 0; i < text.length; i++) {
    bytes[2 + 2 * i] = text.charCodeAt(i) & 0xff;
    bytes[3 + 2 * i] = text.charCodeAt(i) >> 8;
  }
  const path = await tempFile("utf16.csv", bytes);
  const r = await read({ path });
  assert.deepEqual(r.users.map((u) => u.email), ["ann@acme.test"]);
  assert.deepEqual(r.groups.map((g) => g.name), ["Zoë"]);
});

Deno.test("file provider refuses an unknown encoding before reading the file", async () => {
  const error = await refused(
    read({ path: "/nonexistent/x.csv", encoding: "cp-nope" }),
    ConfigError,
  );
  assert.equal(error.message, 'Unknown character encoding in directory.file.encoding: "cp-nope"');
});

Deno.test("file provider refuses a base64 LDIF value that is not UTF-8, naming DN, attribute, line", async () => {
  const ldif = [
    "dn: cn=g,ou=groups,dc=x",
    "objectClass: groupOfNames",
    `cn:: ${btoa("Eink\xe4ufer")}`,
    "",
  ].join("\n");
  const path = await tempFile("bad.ldif", new TextEncoder().encode(ldif));
  const error = await refused(read({ path }), DirectoryDataError);
  assert.equal(
    error.message,
    "Cannot read attribute cn of cn=g,ou=groups,dc=x (LDIF line 1): the value is not valid " +
      "UTF-8 text",
  );
});

Deno.test("file provider refuses a CSV that already holds U+FFFD, and an LDIF name that does", async () => {
  const csv = await tempFile(
    "damaged.csv",
    new TextEncoder().encode("type,id,name\ngroup,g1,Eink\uFFFDufer\n"),
  );
  const error = await refused(read({ path: csv }), DirectoryDataError);
  assert.equal(
    error.message,
    `Cannot read ${csv} at line 2: the file contains U+FFFD, the replacement character, so ` +
      "characters were already lost when it was written",
  );
  const ldif = await tempFile(
    "damaged.ldif",
    new TextEncoder().encode("dn: cn=g,dc=x\nobjectClass: groupOfNames\ncn: Eink\uFFFDufer\n"),
  );
  const ldifError = await refused(read({ path: ldif }), DirectoryDataError);
  assert.equal(
    ldifError.message,
    "Cannot use attribute cn of cn=g,dc=x (LDIF line 1): the value contains U+FFFD, the " +
      "replacement character, so characters were already lost when it was written",
  );
});
