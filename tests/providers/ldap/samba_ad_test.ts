/**
 * The `ldap` provider in Active Directory mode against a real Samba AD DC (scripts/samba.sh),
 * provisioned and loaded once for this file: objectGUID externalIds, userAccountControl,
 * tombstones in CN=Deleted Objects, ranged retrieval of a 3,000-member group, nested groups
 * with a cycle, users without mail, paging, LDAPS and StartTLS, UPN and DN binds, primary
 * groups (primaryGroupID, Domain Users), contacts and computers left out, objectCategory.
 *
 * Samba's LDAP ports are fixed (389/636), so the DC needs root and free ports. When it cannot
 * run, every test here is registered with `ignore: true` and one line says why: ignored, never
 * passed. `deno task test` installs Samba first when it runs as root with apt.
 * @module
 */

import assert from "node:assert/strict";
import { Attribute, Change, Client } from "ldapts";
import { configSchema } from "../../../src/config/schema.ts";
import { buildSyncData } from "../../../src/engine/mod.ts";
import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../../../src/engine/types.ts";
import { DirectoryError } from "../../../src/errors.ts";
import { createLdapProvider, type LdapSettings } from "../../../src/providers/ldap/mod.ts";
import type {
  DirectoryPage,
  ProviderContext,
  ReadOptions,
} from "../../../src/providers/provider.ts";
import { killSambaSync, type SambaInstance, startSamba, unicodePwd } from "./_samba.ts";

const BULK = 3000;
const ALICE_PW = "Alice!Pass123";
const BOB_PW = "Bob!Pass12345";

const bulkName = (i: number) => `bulk${String(i).padStart(4, "0")}`;

/** The seed directory: OU=Staff (4 people + OU=Bulk with 3,000 users) and OU=Teams. */
function seedLdif(base: string): string {
  const domain = base.replace(/DC=/gi, "").replace(/,/g, ".").toLowerCase();
  const out: string[] = [];
  const add = (lines: string[]) => out.push(lines.join("\n") + "\n");
  add(["dn: OU=Staff," + base, "objectClass: organizationalUnit"]);
  add(["dn: OU=Bulk,OU=Staff," + base, "objectClass: organizationalUnit"]);
  add(["dn: OU=Teams," + base, "objectClass: organizationalUnit"]);
  // 512 = NORMAL_ACCOUNT, 514 = NORMAL_ACCOUNT + ACCOUNTDISABLE, 544 = NORMAL_ACCOUNT +
  // PASSWD_NOTREQD (enabled, no password: bulk users need none).
  add([
    `dn: CN=Alice Smith,OU=Staff,${base}`,
    "objectClass: user",
    "sAMAccountName: alice",
    `userPrincipalName: alice@${domain}`,
    `mail: Alice@${domain}`,
    "userAccountControl: 512",
    `unicodePwd:: ${unicodePwd(ALICE_PW)}`,
  ]);
  add([
    `dn: CN=Bob Jones,OU=Staff,${base}`,
    "objectClass: user",
    "sAMAccountName: bob",
    `userPrincipalName: bob@${domain}`,
    `mail: bob@${domain}`,
    "userAccountControl: 514",
    `unicodePwd:: ${unicodePwd(BOB_PW)}`,
  ]);
  add([
    `dn: CN=Carol,OU=Staff,${base}`,
    "objectClass: user",
    "sAMAccountName: carol",
    "userAccountControl: 544",
  ]);
  add([
    `dn: CN=Dave,OU=Staff,${base}`,
    "objectClass: user",
    "sAMAccountName: dave",
    `mail: dave@${domain}`,
    "userAccountControl: 544",
  ]);
  for (let i = 1; i <= BULK; i++) {
    add([
      `dn: CN=${bulkName(i)},OU=Bulk,OU=Staff,${base}`,
      "objectClass: user",
      `sAMAccountName: ${bulkName(i)}`,
      `mail: ${bulkName(i)}@${domain}`,
      "userAccountControl: 544",
    ]);
  }
  // Members must exist before the group that lists them.
  const big = [`dn: CN=Big,OU=Teams,${base}`, "objectClass: group", "sAMAccountName: big"];
  for (let i = 1; i <= BULK; i++) big.push(`member: CN=${bulkName(i)},OU=Bulk,OU=Staff,${base}`);
  add(big);
  add([
    `dn: CN=Platform,OU=Teams,${base}`,
    "objectClass: group",
    "sAMAccountName: platform",
    `member: CN=Carol,OU=Staff,${base}`,
  ]);
  add([
    `dn: CN=Engineering,OU=Teams,${base}`,
    "objectClass: group",
    "sAMAccountName: engineering",
    `member: CN=Alice Smith,OU=Staff,${base}`,
    `member: CN=Bob Jones,OU=Staff,${base}`,
    `member: CN=Platform,OU=Teams,${base}`,
  ]);
  add([`dn: CN=Empty,OU=Teams,${base}`, "objectClass: group", "sAMAccountName: empty"]);
  return out.join("\n");
}

const started = Date.now();
const sambaOrReason = await startSamba(seedLdif);
const samba: SambaInstance | undefined = typeof sambaOrReason === "string"
  ? undefined
  : sambaOrReason;
const ignore = samba === undefined;
if (typeof sambaOrReason === "string") {
  // The one line that says why; the tests below are reported as ignored.
  Deno.stderr.writeSync(new TextEncoder().encode(`Samba AD tests ignored: ${sambaOrReason}\n`));
} else {
  globalThis.addEventListener("unload", () => killSambaSync(sambaOrReason.dir));
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      `Samba AD DC provisioned, loaded and started in ${
        ((Date.now() - started) / 1000).toFixed(1)
      } s\n`,
    ),
  );
}

/** The instance; only called inside tests, which are ignored when there is none. */
function dc(): SambaInstance {
  if (samba === undefined) throw new Error("Samba is not running");
  return samba;
}

const dn = (rdns: string) => `${rdns},${dc().baseDn}`;
const ALICE = () => dn("CN=Alice Smith,OU=Staff");
const BOB = () => dn("CN=Bob Jones,OU=Staff");
const CAROL = () => dn("CN=Carol,OU=Staff");
const DAVE = () => dn("CN=Dave,OU=Staff");
const TEAM = (name: string) => dn(`CN=${name},OU=Teams`);

interface Setup {
  ldap?: Record<string, unknown>;
  sync?: Record<string, unknown>;
  password?: string;
}

function context(setup: Setup = {}): ProviderContext<LdapSettings> {
  const s = dc();
  const config = configSchema.parse({
    directory: {
      type: "ldap",
      ldap: {
        hostname: s.host,
        port: 636,
        ssl: true,
        sslCaPath: s.caFile,
        ad: true,
        rootPath: s.baseDn,
        username: s.adminUpn,
        connectTimeout: 5,
        timeout: 60,
        ...setup.ldap,
      },
    },
    sync: { userPath: "OU=Staff", groupPath: "OU=Teams", ...setup.sync },
  });
  const password = setup.password ?? s.adminPassword;
  return {
    settings: { ldap: config.directory.ldap, sync: config.sync },
    secret: (key) => Promise.resolve(key === "directory.ldap.password" ? password : undefined),
    log: () => {},
  };
}

interface ReadResult {
  users: DirectoryUser[];
  groups: DirectoryGroup[];
  skipped: SkippedEntry[];
  notices: string[];
  userPages: number;
}

async function read(setup: Setup = {}, options: Partial<ReadOptions> = {}): Promise<ReadResult> {
  const provider = createLdapProvider(context(setup));
  const r: ReadResult = { users: [], groups: [], skipped: [], notices: [], userPages: 0 };
  let done: DirectoryPage | undefined;
  for await (
    const page of provider.read({ users: true, groups: true, mode: "full", ...options })
  ) {
    assert.equal(done, undefined, "no page may follow done");
    if (page.kind === "users") {
      r.userPages++;
      r.users.push(...page.users);
    } else if (page.kind === "groups") r.groups.push(...page.groups);
    else if (page.kind === "skipped") r.skipped.push(...page.entries);
    else if (page.kind === "notice") r.notices.push(`${page.level}: ${page.message}`);
    else done = page;
  }
  assert.equal(done?.kind, "done");
  return r;
}

async function admin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const s = dc();
  const client = new Client({
    url: `ldaps://${s.host}:636`,
    tlsOptions: { ca: [await Deno.readTextFile(s.caFile)] },
  });
  try {
    await client.bind(s.adminDn, s.adminPassword);
    return await fn(client);
  } finally {
    await client.unbind();
  }
}

async function command(program: string, args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(program, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(output.stdout);
  assert.ok(output.success, `${program} failed: ${new TextDecoder().decode(output.stderr)}`);
  return text;
}

/** The objectGUID of `entryDn` as ldapsearch prints it (base64 of the 16 raw bytes). */
async function guidBytesByLdapsearch(entryDn: string): Promise<Uint8Array> {
  const s = dc();
  const text = await command("ldapsearch", [
    "-x",
    "-LLL",
    "-o",
    "ldif-wrap=no",
    "-H",
    `ldaps://${s.host}:636`,
    "-D",
    s.adminDn,
    "-w",
    s.adminPassword,
    "-b",
    entryDn,
    "-s",
    "base",
    "(objectClass=*)",
    "objectGUID",
  ], { LDAPTLS_CACERT: s.caFile });
  const b64 = /^objectGUID:: (\S+)$/m.exec(text)?.[1];
  assert.ok(b64 !== undefined, `no objectGUID for ${entryDn} in:\n${text}`);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** The objectGUID of `entryDn` as Samba's own ldbsearch formats it. */
async function guidByLdbsearch(entryDn: string): Promise<string> {
  const text = await command("ldbsearch", [
    "-H",
    dc().samLdb,
    "-b",
    entryDn,
    "-s",
    "base",
    "objectGUID",
  ]);
  const guid = /^objectGUID: (\S+)$/m.exec(text)?.[1];
  assert.ok(guid !== undefined, `no objectGUID for ${entryDn} in:\n${text}`);
  return guid;
}

/**
 * Formats 16 objectGUID bytes the Windows way, written here independently of the provider:
 * the first three fields are little-endian integers, the last two plain bytes.
 */
function windowsGuid(bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");
  const tail = [...bytes.slice(8)].map((b) => hex(b, 2)).join("");
  return `${hex(view.getUint32(0, true), 8)}-${hex(view.getUint16(4, true), 4)}-` +
    `${hex(view.getUint16(6, true), 4)}-${tail.slice(0, 4)}-${tail.slice(4)}`;
}

/** A group's member references from its `member` attribute (not its primary-group ones). */
function memberDns(group: DirectoryGroup): string[] {
  return group.memberRefs.filter((ref) => !ref.startsWith("primarygroup:"));
}

function byRef<T extends { referenceId: string }>(items: T[], ref: string): T {
  const found = items.find((i) => i.referenceId.toLowerCase() === ref.toLowerCase());
  assert.ok(found !== undefined, `no ${ref}`);
  return found;
}

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore, sanitizeResources: false, sanitizeOps: false, fn });

// --- connection, binds, GUIDs ----------------------------------------------------------------

test("samba ad read() over LDAPS as the admin UPN maps users with objectGUID externalIds", async () => {
  const r = await read();
  assert.equal(r.users.length, 4 + BULK);
  assert.equal(new Set(r.users.map((u) => u.externalId)).size, 4 + BULK);
  assert.equal(r.users.filter((u) => u.deleted).length, 0);
  for (const ref of [ALICE(), BOB(), CAROL(), dn(`CN=${bulkName(1234)},OU=Bulk,OU=Staff`)]) {
    const user = byRef(r.users, ref);
    const expected = windowsGuid(await guidBytesByLdapsearch(ref));
    assert.match(expected, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(user.externalId, expected);
    assert.equal(user.externalId, (await guidByLdbsearch(ref)).toLowerCase());
    // The DN, and the reference of the primary group (Domain Users, RID 513) by SID.
    assert.equal(user.refs?.length, 2);
    assert.equal(user.refs?.[0], ref.toLowerCase());
    assert.match(user.refs?.[1] ?? "", /^primarygroup:S-1-5-21-\d+-\d+-\d+-513$/);
  }
  const engineering = byRef(r.groups, TEAM("Engineering"));
  assert.equal(
    engineering.externalId,
    windowsGuid(await guidBytesByLdapsearch(TEAM("Engineering"))),
  );
  assert.deepEqual(r.notices, []);
});

test("samba ad read() uses StartTLS with tlsCaPath and binds with the admin DN", async () => {
  const r = await read({
    ldap: { port: 389, ssl: false, startTls: true, sslCaPath: undefined, tlsCaPath: dc().caFile },
    sync: { userPath: "OU=Staff", userFilter: "(!(sAMAccountName=bulk*))" },
  }, {});
  assert.deepEqual(
    r.users.map((u) => u.referenceId).sort(),
    [ALICE(), BOB(), CAROL(), DAVE()].sort(),
  );
  assert.equal(r.groups.length, 4);
});

test("samba ad read() binds as a non-admin user (UPN) and reports AD bind reasons", async () => {
  const s = dc();
  const asAlice = await read({
    ldap: { username: `alice@${s.dnsDomain}` },
    sync: { userFilter: "(!(sAMAccountName=bulk*))" },
    password: ALICE_PW,
  }, { groups: false });
  assert.equal(asAlice.users.length, 4);
  const wrong = await read({ password: "wrong" }).then(
    () => assert.fail("expected a bind failure"),
    (error: unknown) => error,
  );
  assert.ok(wrong instanceof DirectoryError);
  assert.equal(wrong.code, "ldap_bind_failed");
  assert.equal(wrong.message, `LDAP bind failed for ${s.adminUpn}: invalid credentials`);
  const disabled = await read({ ldap: { username: `bob@${s.dnsDomain}` }, password: BOB_PW })
    .then(() => assert.fail("expected a bind failure"), (error: unknown) => error);
  assert.ok(disabled instanceof DirectoryError);
  assert.equal(disabled.message, `LDAP bind failed for bob@${s.dnsDomain}: account disabled`);
});

// --- userAccountControl, missing mail ----------------------------------------------------------

test("samba ad read() marks userAccountControl 514 users disabled and the engine removes them", async () => {
  const r = await read({ sync: { userFilter: "(!(sAMAccountName=bulk*))" } });
  const state = r.users.map((u) => [u.referenceId, u.email, u.disabled, u.deleted]);
  assert.deepEqual(
    state.sort(),
    [
      [ALICE(), `Alice@${dc().dnsDomain}`, false, false],
      [BOB(), `bob@${dc().dnsDomain}`, true, false],
      [CAROL(), null, false, false],
      [DAVE(), `dave@${dc().dnsDomain}`, false, false],
    ].sort(),
  );
  const data = buildSyncData(
    { users: r.users, groups: r.groups, skipped: r.skipped },
    { syncUsers: true, syncGroups: true, removeDisabled: true },
  );
  const engineering = data.groups.find((g) => g.name === "Engineering");
  const aliceId = byRef(r.users, ALICE()).externalId;
  const carolId = byRef(r.users, CAROL()).externalId;
  // Bob is disabled (removed), Carol comes in through Platform but has no email (skipped).
  assert.deepEqual([...engineering?.memberExternalIds ?? []].sort(), [aliceId].sort());
  assert.deepEqual(data.skipped.map((s) => [s.referenceId, s.kind]), [[CAROL(), "user"]]);
  assert.ok(!data.users.some((u) => u.externalId === carolId));
});

test("samba ad read() builds sAMAccountName + emailSuffix for users without mail", async () => {
  const r = await read({
    sync: {
      userFilter: "(!(sAMAccountName=bulk*))",
      useEmailPrefixSuffix: true,
      emailSuffix: "@samdom.example.com",
    },
  }, { groups: false });
  assert.equal(byRef(r.users, CAROL()).email, "carol@samdom.example.com");
  assert.equal(byRef(r.users, ALICE()).email, `Alice@${dc().dnsDomain}`);
});

// --- ranged retrieval, paging -------------------------------------------------------------------

test("samba ad read() completes a 3,000-member group with ranged retrieval and all members resolve", async () => {
  const r = await read({ ldap: { pageSize: 500 } });
  const big = byRef(r.groups, TEAM("Big"));
  assert.equal(memberDns(big).length, BULK);
  const expected = Array.from(
    { length: BULK },
    (_, i) => dn(`CN=${bulkName(i + 1)},OU=Bulk,OU=Staff`).toLowerCase(),
  );
  assert.deepEqual([...memberDns(big)].sort(), expected.sort());
  const data = buildSyncData(
    { users: r.users, groups: r.groups, skipped: r.skipped },
    { syncUsers: true, syncGroups: true, removeDisabled: false },
  );
  const synced = data.groups.find((g) => g.name === "Big");
  const bulkIds = r.users.filter((u) => /^CN=bulk/i.test(u.referenceId)).map((u) => u.externalId);
  assert.equal(bulkIds.length, BULK);
  assert.deepEqual([...synced?.memberExternalIds ?? []].sort(), bulkIds.sort());
  assert.deepEqual(data.unresolved, []);
  // Users came in pages of at most 500 (3,004 users: at least 7 pages).
  assert.ok(r.userPages >= 7, `${r.userPages} user pages`);
  assert.equal(memberDns(byRef(r.groups, TEAM("Empty"))).length, 0);
});

test("samba ad read() pages through every user with small pages, without duplicates", async () => {
  const r = await read({ ldap: { pageSize: 97 } }, { groups: false });
  assert.equal(r.users.length, 4 + BULK);
  assert.equal(new Set(r.users.map((u) => u.referenceId.toLowerCase())).size, 4 + BULK);
  assert.ok(r.userPages >= Math.ceil((4 + BULK) / 97));
});

test("samba ad read() from the domain root notes the continuation references AD returns", async () => {
  // rootPath above the domain and userPath naming it: the search base is the domain root.
  const r = await read({
    ldap: { rootPath: "DC=example,DC=com" },
    sync: { userPath: "DC=samdom", groupPath: "DC=samdom", userFilter: "(sAMAccountName=alice)" },
  });
  assert.deepEqual(r.users.map((u) => u.referenceId), [ALICE()]);
  assert.ok(r.groups.length > 4, "the domain's built-in groups are read too");
  // Samba refers to the configuration partition only; it holds no users or groups, so the read
  // is complete and the reference is an info notice (any other reference would be exit 5).
  assert.deepEqual(r.notices, [
    `info: LDAP: 1 continuation reference(s) to Active Directory's DNS and configuration partitions not followed (they hold no users or groups): ldaps://${dc().dnsDomain}/CN=Configuration,DC=samdom,DC=example,DC=com`,
  ]);
});

// --- nesting ------------------------------------------------------------------------------------

test("samba ad read() feeds nested groups with a cycle (AD allows one) to the engine", async () => {
  await admin((client) =>
    client.modify(
      TEAM("Platform"),
      new Change({
        operation: "add",
        modification: new Attribute({ type: "member", values: [TEAM("Engineering")] }),
      }),
    )
  );
  try {
    const r = await read({ sync: { userFilter: "(!(sAMAccountName=bulk*))" } });
    assert.deepEqual(
      [...memberDns(byRef(r.groups, TEAM("Platform")))].sort(),
      [CAROL().toLowerCase(), TEAM("Engineering").toLowerCase()].sort(),
    );
    const data = buildSyncData(
      { users: r.users, groups: r.groups, skipped: r.skipped },
      { syncUsers: true, syncGroups: true, removeDisabled: false },
    );
    const id = (ref: string) => byRef(r.users, ref).externalId;
    const members = Object.fromEntries(
      data.groups.map((g) => [g.name, [...g.memberExternalIds].sort()]),
    );
    // Carol has no email, so she is skipped and belongs to no group.
    assert.deepEqual(members["Engineering"], [id(ALICE()), id(BOB())].sort());
    assert.deepEqual(members["Platform"], [id(ALICE()), id(BOB())].sort());
    assert.deepEqual(members["Empty"], []);
  } finally {
    await admin((client) =>
      client.modify(
        TEAM("Platform"),
        new Change({
          operation: "delete",
          modification: new Attribute({ type: "member", values: [TEAM("Engineering")] }),
        }),
      )
    );
  }
});

// --- AD object model: primary groups, contacts and computers, objectCategory ------------------

const STAFF_ONLY = "(!(sAMAccountName=bulk*))";

test("samba ad read() fills Domain Users with the users whose primary group it is (primaryGroupID 513)", async () => {
  const r = await read({
    sync: { userFilter: STAFF_ONLY, groupPath: "CN=Users", groupFilter: "(cn=Domain Users)" },
  });
  assert.deepEqual(r.groups.map((g) => g.name), ["Domain Users"]);
  const data = buildSyncData(
    { users: r.users, groups: r.groups, skipped: r.skipped },
    { syncUsers: true, syncGroups: true, removeDisabled: false },
  );
  const id = (ref: string) => byRef(r.users, ref).externalId;
  // Carol has no email, so she is skipped; Domain Users lists nobody in `member`.
  assert.deepEqual(
    [...data.groups[0]?.memberExternalIds ?? []].sort(),
    [id(ALICE()), id(BOB()), id(DAVE())].sort(),
  );
  assert.deepEqual(data.unresolved, []);
});

/** A group's primaryGroupToken (its RID), as AD computes it. */
async function primaryGroupToken(group: string): Promise<string> {
  const result = await admin((client) =>
    client.search(group, { scope: "base", attributes: ["primaryGroupToken"] })
  );
  const token = result.searchEntries[0]?.["primaryGroupToken"];
  assert.ok(typeof token === "string", `no primaryGroupToken on ${group}`);
  return token;
}

async function setPrimaryGroup(user: string, rid: string): Promise<void> {
  await admin((client) =>
    client.modify(
      user,
      new Change({
        operation: "replace",
        modification: new Attribute({ type: "primaryGroupID", values: [rid] }),
      }),
    )
  );
}

async function membership(group: string, user: string, operation: "add" | "delete") {
  await admin((client) =>
    client.modify(
      group,
      new Change({ operation, modification: new Attribute({ type: "member", values: [user] }) }),
    )
  );
}

test("samba ad read() counts a user whose primaryGroupID names a group as its member", async () => {
  const rid = await primaryGroupToken(TEAM("Platform"));
  // AD only lets a group become a user's primary group once the user is a member of it; it
  // then drops the user from the group's `member` attribute.
  await membership(TEAM("Platform"), ALICE(), "add");
  await setPrimaryGroup(ALICE(), rid);
  try {
    const listed = await admin((client) =>
      client.search(TEAM("Platform"), { scope: "base", attributes: ["member"] })
    );
    const memberValues = [listed.searchEntries[0]?.["member"] ?? []].flat().map(String);
    assert.ok(
      !memberValues.some((m) => m.toLowerCase() === ALICE().toLowerCase()),
      "AD keeps a primary group out of `member`",
    );
    const r = await read({ sync: { userFilter: STAFF_ONLY } });
    const data = buildSyncData(
      { users: r.users, groups: r.groups, skipped: r.skipped },
      { syncUsers: true, syncGroups: true, removeDisabled: false },
    );
    const id = (ref: string) => byRef(r.users, ref).externalId;
    const members = Object.fromEntries(
      data.groups.map((g) => [g.name, [...g.memberExternalIds].sort()]),
    );
    // Platform: Carol (member, no email: skipped) and Alice (primary group).
    assert.deepEqual(members["Platform"], [id(ALICE())]);
    assert.deepEqual(members["Engineering"], [id(ALICE()), id(BOB())].sort());
    // Only Big's bulk members, left out by the filter, are unresolved: no primary-group reference.
    assert.deepEqual(
      data.unresolved.filter((u) => u.groupReferenceId !== TEAM("Big")),
      [],
    );
  } finally {
    // AD made Alice a `member` of her old primary group, Domain Users, so she may return to it;
    // Platform then lists her in `member`, which is removed.
    await setPrimaryGroup(ALICE(), "513");
    await membership(TEAM("Platform"), ALICE(), "delete");
  }
});

test("samba ad read() leaves out contacts and computers under the person default", async () => {
  const contact = dn("CN=Partner Yves,OU=Staff");
  const computer = dn("CN=WS0042,OU=Staff");
  await admin(async (client) => {
    await client.add(contact, {
      objectClass: ["top", "person", "organizationalPerson", "contact"],
      mail: "yves@partner.example",
    });
    await client.add(computer, {
      objectClass: ["top", "person", "organizationalPerson", "user", "computer"],
      sAMAccountName: "WS0042$",
      userAccountControl: "4096",
    });
  });
  try {
    const staff = [ALICE(), BOB(), CAROL(), DAVE()].sort();
    const r = await read({ sync: { userFilter: STAFF_ONLY } }, { groups: false });
    assert.deepEqual(r.users.map((u) => u.referenceId).sort(), staff);
    // The filter every AD admin uses, evaluated by the server.
    const byCategory = await read({
      sync: { userFilter: `(&(objectCategory=person)(objectClass=user)${STAFF_ONLY})` },
    }, { groups: false });
    assert.deepEqual(byCategory.users.map((u) => u.referenceId).sort(), staff);
    // Named on purpose, contacts are read.
    const contacts = await read({ sync: { userObjectClass: "contact" } }, { groups: false });
    assert.deepEqual(contacts.users.map((u) => [u.referenceId, u.email]), [
      [contact, "yves@partner.example"],
    ]);
  } finally {
    await admin(async (client) => {
      await client.del(contact);
      await client.del(computer);
    });
  }
});

// --- deleted objects ------------------------------------------------------------------------------

test("samba ad read() reports a deleted user from CN=Deleted Objects with its objectGUID", async () => {
  const before = await read({ sync: { userFilter: "(!(sAMAccountName=bulk*))" } }, {
    groups: false,
  });
  const daveId = byRef(before.users, DAVE()).externalId;
  assert.equal(daveId, windowsGuid(await guidBytesByLdapsearch(DAVE())));
  await admin((client) => client.del(DAVE()));
  // A user filter on mail: tombstones have no mail, and must be found all the same.
  const after = await read({ sync: { userFilter: "(&(!(sAMAccountName=bulk*))(mail=*))" } }, {
    groups: false,
  });
  const deleted = after.users.filter((u) => u.deleted);
  assert.equal(deleted.length, 1);
  const tombstone = deleted[0]!;
  assert.equal(tombstone.externalId, daveId);
  assert.match(tombstone.referenceId, /^CN=Dave\\0ADEL:[0-9a-f-]{36},CN=Deleted Objects,DC=/i);
  // AD strips mail from tombstones; the engine keeps the deletion (Bitwarden removes by id).
  assert.equal(tombstone.email, null);
  assert.deepEqual(
    after.users.filter((u) => !u.deleted).map((u) => u.referenceId).sort(),
    [ALICE(), BOB()].sort(),
  );
  const data = buildSyncData(
    { users: after.users, groups: [], skipped: after.skipped },
    { syncUsers: true, syncGroups: false, removeDisabled: false },
  );
  const sent = data.users.find((u) => u.externalId === daveId);
  assert.deepEqual([sent?.deleted, sent?.email], [true, null]);
});

if (samba !== undefined) {
  Deno.test({
    name: "samba ad: stop the DC",
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () => dc().stop(),
  });
}
