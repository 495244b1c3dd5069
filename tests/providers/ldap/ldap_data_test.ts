/**
 * Attribute syntaxes on a real OpenLDAP server (scripts/slapd.sh): multi-valued `mail` (the
 * first valid value), `uniqueMember`'s name-and-optional-UID form, `memberUid` holding uids and
 * DNs, DN-valued attributes compared as DNs, and a text value that is not UTF-8. Each read is
 * also done on the same entries as an LDIF file, which must give the same result. Without slapd
 * installed this file fails: it never skips.
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { configSchema } from "../../../src/config/schema.ts";
import { buildSyncData } from "../../../src/engine/mod.ts";
import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../../../src/engine/types.ts";
import { DirectoryDataError } from "../../../src/errors.ts";
import { createFileProvider } from "../../../src/providers/file/mod.ts";
import { createLdapProvider } from "../../../src/providers/ldap/mod.ts";
import type { DirectoryProvider, ProviderContext } from "../../../src/providers/provider.ts";
import { killSlapdSync, startSlapd } from "./_slapd.ts";

const SYNTAXES_LDIF = fileURLToPath(new URL("./testdata/syntaxes.ldif", import.meta.url));

const slapd = await startSlapd({ ldif: [SYNTAXES_LDIF] });
globalThis.addEventListener("unload", () => killSlapdSync(slapd.dir));

const BASE = slapd.baseDn;
const ANN = `uid=ann,ou=data,${BASE}`;
const BO = `uid=bo,ou=data,${BASE}`;
const CY = `uid=cy,ou=data,${BASE}`;

interface Read {
  users: DirectoryUser[];
  groups: DirectoryGroup[];
  skipped: SkippedEntry[];
}

function parse(directory: Record<string, unknown>, sync: Record<string, unknown>) {
  return configSchema.parse({
    directory,
    sync: { userPath: "ou=data", groupPath: "ou=data", ...sync },
  });
}

/** The provider context of the live server, with these `sync.*` settings. */
function ldapContext(sync: Record<string, unknown>) {
  const config = parse({
    type: "ldap",
    ldap: {
      hostname: slapd.host,
      port: slapd.port,
      rootPath: BASE,
      username: slapd.adminDn,
      connectTimeout: 5,
      timeout: 30,
    },
  }, sync);
  return context({ ldap: config.directory.ldap, sync: config.sync });
}

function fileContext(directory: Record<string, unknown>, sync: Record<string, unknown>) {
  const config = parse(directory, sync);
  return context({ file: config.directory.file, sync: config.sync });
}

function context<S>(settings: S): ProviderContext<S> {
  return {
    settings,
    secret: (key) =>
      Promise.resolve(key === "directory.ldap.password" ? slapd.adminPassword : undefined),
    log: () => {},
  };
}

async function collect(provider: DirectoryProvider): Promise<Read> {
  const r: Read = { users: [], groups: [], skipped: [] };
  for await (const page of provider.read({ users: true, groups: true, mode: "full" })) {
    if (page.kind === "users") r.users.push(...page.users);
    else if (page.kind === "groups") r.groups.push(...page.groups);
    else if (page.kind === "skipped") r.skipped.push(...page.entries);
  }
  return r;
}

/** Reads the live server and the same entries as an LDIF file; both must agree. */
async function readBoth(sync: Record<string, unknown> = {}): Promise<Read> {
  const live = await collect(createLdapProvider(ldapContext(sync)));
  const file = await collect(createFileProvider(fileContext({
    type: "file",
    file: { path: SYNTAXES_LDIF, rootPath: BASE },
  }, sync)));
  const summary = (r: Read) => ({
    users: r.users.map((u) => [u.referenceId.toLowerCase(), u.email]),
    groups: r.groups.map((g) => [g.name, g.memberRefs]),
  });
  assert.deepEqual(summary(file), summary(live), "the LDIF export and the server disagree");
  return live;
}

function members(r: Read): Record<string, string[]> {
  const data = buildSyncData(
    { users: r.users, groups: r.groups, skipped: r.skipped },
    { syncUsers: true, syncGroups: true, removeDisabled: false },
  );
  assert.deepEqual(data.unresolved, []);
  return Object.fromEntries(data.groups.map((g) => [g.name, g.memberExternalIds]));
}

Deno.test("ldap read() takes the first valid value of a multi-valued mail", async () => {
  const r = await readBoth();
  assert.deepEqual(r.users.map((u) => [u.referenceId, u.email]), [
    [ANN, "Ann.Lee@example.com"],
    [BO, "bo@example.com"],
    [CY, "cy@example.com"],
  ]);
});

Deno.test("ldap read() resolves uniqueMember values with an optional UID and other spelling", async () => {
  const r = await readBoth({
    groupObjectClass: "groupOfUniqueNames",
    memberAttribute: "uniqueMember",
  });
  assert.deepEqual(members(r), { reviewers: [ANN, BO] });
});

Deno.test("ldap read() resolves memberUid values that are uids or DNs", async () => {
  const r = await readBoth({ groupObjectClass: "posixGroup", memberAttribute: "memberUid" });
  assert.deepEqual(members(r), { shell: [ANN, CY] });
});

Deno.test("ldap read() and an export compare DN-valued attributes as DNs in filters", async () => {
  // bo's manager is stored as "UID=Ann , OU=Data,DC=Example,DC=com".
  const byManager = await readBoth({ userFilter: `(manager=uid=ann,ou=data,${BASE})` });
  assert.deepEqual(byManager.users.map((u) => u.referenceId), [BO]);
  const byMember = await readBoth({
    groupFilter: `(member=UID=ANN, OU=DATA,${BASE.toUpperCase()})`,
  });
  assert.deepEqual(byMember.groups.map((g) => g.name), ["team"]);
  assert.deepEqual(members(byMember), { team: [ANN, BO] });
  const byUnique = await readBoth({
    groupObjectClass: "groupOfUniqueNames",
    memberAttribute: "uniqueMember",
    groupFilter: `(uniqueMember=uid=bo,ou=data,${BASE})`,
  });
  assert.deepEqual(byUnique.groups.map((g) => g.name), ["reviewers"]);
});

Deno.test("ldap read() refuses a text value that is not UTF-8, naming the DN and the attribute", async () => {
  // cy's audio attribute (an octet string) holds "Müller" in Latin-1.
  const provider = createLdapProvider(ldapContext({
    useEmailPrefixSuffix: true,
    emailPrefixAttribute: "audio",
    emailSuffix: "@x.test",
    userEmailAttribute: "description",
  }));
  const error = await collect(provider).then(
    () => assert.fail("expected the read to be refused"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof DirectoryDataError, String(error));
  assert.equal(error.exitCode, 7);
  assert.equal(
    error.message,
    `Cannot read attribute audio of ${CY}: the value is not valid UTF-8 text`,
  );
  assert.deepEqual(error.details, { dn: CY, attribute: "audio" });
});

Deno.test("ldap data: stop slapd", async () => {
  await slapd.stop();
});
