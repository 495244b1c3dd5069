/**
 * The `ldap` provider against a real OpenLDAP server (scripts/slapd.sh), started once for this
 * file. Without slapd installed this file fails: it never skips.
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Attribute, Change, Client } from "ldapts";
import { configSchema } from "../../../src/config/schema.ts";
import { buildSyncData } from "../../../src/engine/mod.ts";
import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../../../src/engine/types.ts";
import { ConfigError, DirectoryError, SourceIncompleteError } from "../../../src/errors.ts";
import {
  createLdapProvider,
  generalizedTime,
  type LdapSettings,
} from "../../../src/providers/ldap/mod.ts";
import type {
  DirectoryPage,
  ProviderContext,
  ReadOptions,
} from "../../../src/providers/provider.ts";
import { killSlapdSync, startSlapd } from "./_slapd.ts";

const STAFF_LDIF = fileURLToPath(new URL("./testdata/staff.ldif", import.meta.url));
const BULK_USERS = 130;

// The certificate names IP:127.0.0.1 and DNS:ldap.roster.test, so "localhost" is a mismatch.
const slapd = await startSlapd({
  ldif: [STAFF_LDIF],
  generate: { users: BULK_USERS, groups: 6, nestedPct: 20, seed: 7, memberOf: true },
  sizeLimit: 50,
  san: "IP:127.0.0.1,DNS:ldap.roster.test",
});
globalThis.addEventListener("unload", () => killSlapdSync(slapd.dir));

const BASE = slapd.baseDn;
const dn = (rdns: string) => `${rdns},${BASE}`;
const norm = (rdns: string) => dn(rdns).toLowerCase();

interface Setup {
  ldap?: Record<string, unknown>;
  sync?: Record<string, unknown>;
  password?: string | undefined;
  logs?: string[];
}

function context(setup: Setup = {}): ProviderContext<LdapSettings> {
  const config = configSchema.parse({
    directory: {
      type: "ldap",
      ldap: {
        hostname: slapd.host,
        port: slapd.port,
        rootPath: BASE,
        username: slapd.adminDn,
        connectTimeout: 5,
        timeout: 30,
        ...setup.ldap,
      },
    },
    sync: { userPath: "ou=staff", groupPath: "ou=teams", ...setup.sync },
  });
  const password = "password" in setup ? setup.password : slapd.adminPassword;
  return {
    settings: { ldap: config.directory.ldap, sync: config.sync },
    secret: (key) => Promise.resolve(key === "directory.ldap.password" ? password : undefined),
    log: (level, message) => setup.logs?.push(`${level}: ${message}`),
  };
}

interface ReadResult {
  users: DirectoryUser[];
  groups: DirectoryGroup[];
  skipped: SkippedEntry[];
  notices: string[];
  pages: number;
  done: Extract<DirectoryPage, { kind: "done" }> | undefined;
}

async function read(setup: Setup = {}, options: Partial<ReadOptions> = {}): Promise<ReadResult> {
  const provider = createLdapProvider(context(setup));
  const result: ReadResult = {
    users: [],
    groups: [],
    skipped: [],
    notices: [],
    pages: 0,
    done: undefined,
  };
  for await (
    const page of provider.read({ users: true, groups: true, mode: "full", ...options })
  ) {
    assert.equal(result.done, undefined, "no page may follow done");
    result.pages++;
    if (page.kind === "users") result.users.push(...page.users);
    else if (page.kind === "groups") result.groups.push(...page.groups);
    else if (page.kind === "skipped") result.skipped.push(...page.entries);
    else if (page.kind === "notice") result.notices.push(`${page.level}: ${page.message}`);
    else result.done = page;
  }
  return result;
}

async function rejects(
  promise: Promise<unknown>,
  type: typeof DirectoryError | typeof ConfigError | typeof SourceIncompleteError,
): Promise<InstanceType<typeof type>> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof type) return error;
    throw error;
  }
  throw new assert.AssertionError({ message: `expected a ${type.name}` });
}

async function admin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ url: `ldap://${slapd.host}:${slapd.port}` });
  try {
    await client.bind(slapd.adminDn, slapd.adminPassword);
    return await fn(client);
  } finally {
    await client.unbind();
  }
}

const ALICE = dn("uid=alice,ou=Engineering,ou=staff");
const BOB = dn("uid=bob,ou=Engineering,ou=staff");
const CAROL = dn("uid=carol,ou=Sales,ou=staff");
const DAVE = dn("uid=dave,ou=Sales,ou=staff");
const FRANK = dn("uid=Frank Ng,ou=Sales,ou=staff");

const STAFF_USERS: DirectoryUser[] = ([
  [ALICE, "Alice@Example.com", "alice"],
  [BOB, "bob@example.com", "bob"],
  [CAROL, "carol@example.com", "carol"],
  [DAVE, null, "dave"],
  [FRANK, "frank@example.com", "frank ng"],
] as [string, string | null, string][]).map(([ref, email, uid]) => ({
  referenceId: ref,
  externalId: ref,
  email,
  disabled: false,
  deleted: false,
  refs: [ref.toLowerCase(), `uid:${uid}`],
}));

const TEAM_GROUPS: DirectoryGroup[] = [
  ["Engineering", [ALICE, BOB, dn("cn=Platform,ou=teams")]],
  ["Platform", [CAROL, dn("cn=Engineering,ou=teams")]],
  ["Sales", [CAROL, DAVE]],
  ["Empty", ["cn=nobody"]],
].map(([name, members]) => ({
  referenceId: dn(`cn=${name},ou=teams`),
  externalId: dn(`cn=${name},ou=teams`),
  name: name as string,
  memberRefs: (members as string[]).map((m) => m.toLowerCase()),
  refs: [norm(`cn=${name},ou=teams`)],
}));

// --- connection and TLS -----------------------------------------------------------------------

Deno.test("ldap read() returns users and groups over plain LDAP", async () => {
  const r = await read();
  assert.deepEqual(r.users, STAFF_USERS);
  assert.deepEqual(r.groups, TEAM_GROUPS);
  assert.deepEqual(r.skipped, []);
  assert.deepEqual(r.notices, []);
  assert.equal(r.done?.incremental, false);
});

Deno.test("ldap read() uses StartTLS with ssl+startTls and tlsCaPath", async () => {
  const r = await read({ ldap: { ssl: true, startTls: true, tlsCaPath: slapd.caFile } });
  assert.deepEqual(r.users, STAFF_USERS);
  assert.deepEqual(r.groups, TEAM_GROUPS);
});

Deno.test("ldap read() with startTls alone uses StartTLS, never plaintext", async () => {
  const ok = await read({ ldap: { startTls: true, tlsCaPath: slapd.caFile } });
  assert.equal(ok.users.length, STAFF_USERS.length);
  // Plaintext would have succeeded; StartTLS verifies the certificate and fails.
  const error = await rejects(
    read({ ldap: { startTls: true, tlsCaPath: slapd.otherCaFile } }),
    DirectoryError,
  );
  assert.equal(error.code, "ldap_tls_untrusted");
  assert.match(error.hint ?? "", /directory\.ldap\.tlsCaPath/);
  assert.match(error.hint ?? "", /sslAllowUnauthorized/);
});

Deno.test("ldap read() uses LDAPS with ssl and sslCaPath (or tlsCaPath)", async () => {
  const viaSsl = await read({
    ldap: { ssl: true, port: slapd.ldapsPort, sslCaPath: slapd.caFile },
  });
  assert.deepEqual(viaSsl.users, STAFF_USERS);
  const viaTls = await read({
    ldap: { ssl: true, port: slapd.ldapsPort, tlsCaPath: slapd.caFile },
  });
  assert.deepEqual(viaTls.groups, TEAM_GROUPS);
});

Deno.test("ldap read() fails with ldap_tls_untrusted naming sslCaPath for a wrong CA", async () => {
  const error = await rejects(
    read({ ldap: { ssl: true, port: slapd.ldapsPort, sslCaPath: slapd.otherCaFile } }),
    DirectoryError,
  );
  assert.equal(error.code, "ldap_tls_untrusted");
  assert.equal(error.exitCode, 6);
  assert.match(error.message, /^TLS certificate of 127\.0\.0\.1:\d+ is not trusted: /);
  assert.match(error.hint ?? "", /^Set directory\.ldap\.sslCaPath to the PEM file/);
});

Deno.test("ldap read() fails with ldap_tls_name_mismatch when the host is not in the certificate", async () => {
  const error = await rejects(
    read({
      ldap: { hostname: "localhost", ssl: true, port: slapd.ldapsPort, sslCaPath: slapd.caFile },
    }),
    DirectoryError,
  );
  assert.equal(error.code, "ldap_tls_name_mismatch");
  assert.match(error.message, /does not match the host name localhost/);
  assert.match(error.hint ?? "", /directory\.ldap\.hostname/);
});

Deno.test("ldap read() accepts any certificate with sslAllowUnauthorized and warns", async () => {
  const logs: string[] = [];
  const r = await read({
    ldap: {
      ssl: true,
      port: slapd.ldapsPort,
      sslCaPath: slapd.otherCaFile,
      sslAllowUnauthorized: true,
    },
    logs,
  });
  assert.equal(r.users.length, STAFF_USERS.length);
  assert.equal(logs.length, 1);
  assert.match(logs[0]!, /^warn: directory\.ldap\.sslAllowUnauthorized is on/);
});

Deno.test("ldap read() throws ConfigError naming a missing certificate file", async () => {
  const error = await rejects(
    read({ ldap: { ssl: true, port: slapd.ldapsPort, sslCaPath: "/nonexistent/ca.pem" } }),
    ConfigError,
  );
  assert.equal(
    error.message,
    "Cannot read directory.ldap.sslCaPath: /nonexistent/ca.pem: the file does not exist",
  );
  const half = await rejects(
    read({ ldap: { startTls: true, sslCertPath: slapd.caFile } }),
    ConfigError,
  );
  assert.match(
    half.message,
    /directory\.ldap\.sslCertPath is set without directory\.ldap\.sslKeyPath/,
  );
});

Deno.test("ldap read() throws DirectoryError naming the credentials on a bad password", async () => {
  const error = await rejects(read({ password: "wrong" }), DirectoryError);
  assert.equal(error.code, "ldap_bind_failed");
  assert.equal(error.message, `LDAP bind failed for ${slapd.adminDn}: invalid credentials`);
  assert.match(error.hint ?? "", /directory\.ldap\.username/);
  assert.match(error.hint ?? "", /directory\.ldap\.password/);
});

Deno.test("ldap read() throws DirectoryError naming hostname and port when unreachable", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const error = await rejects(read({ ldap: { port } }), DirectoryError);
  assert.equal(error.code, "ldap_unreachable");
  assert.equal(
    error.message,
    `Cannot connect to LDAP server 127.0.0.1:${port}: connection refused`,
  );
  assert.match(error.hint ?? "", /directory\.ldap\.hostname and directory\.ldap\.port/);
});

Deno.test("ldap read() throws ConfigError naming missing settings", async () => {
  const noHost = await rejects(read({ ldap: { hostname: undefined } }), ConfigError);
  assert.equal(noHost.message, "LDAP setting missing: directory.ldap.hostname");
  const noRoot = await rejects(read({ ldap: { rootPath: undefined } }), ConfigError);
  assert.equal(noRoot.message, "LDAP setting missing: directory.ldap.rootPath");
  const noUser = await rejects(read({ ldap: { username: undefined } }), ConfigError);
  assert.equal(noUser.message, "LDAP setting missing: directory.ldap.username");
  const noPassword = await rejects(read({ password: undefined }), ConfigError);
  assert.equal(noPassword.message, "LDAP setting missing: directory.ldap.password");
  const badFilter = await rejects(read({ sync: { userFilter: "(uid=alice" } }), ConfigError);
  assert.match(badFilter.message, /^Invalid LDAP filter in sync\.userFilter: /);
});

// --- search bases, filters and layouts ---------------------------------------------------------

Deno.test("ldap read() honours userPath, userFilter, groupPath and groupFilter", async () => {
  const sales = await read({ sync: { userPath: "ou=Sales,ou=staff" } }, { groups: false });
  assert.deepEqual(sales.users.map((u) => u.referenceId), [CAROL, DAVE, FRANK]);
  assert.deepEqual(sales.groups, []);
  const filtered = await read({ sync: { userFilter: "(|(title=Engineer)(title=Manager))" } }, {
    groups: false,
  });
  assert.deepEqual(filtered.users.map((u) => u.referenceId), [ALICE, CAROL]);
  const groups = await read({ sync: { groupFilter: "(cn=Sales)" } }, { users: false });
  assert.deepEqual(groups.users, []);
  assert.deepEqual(groups.groups.map((g) => g.name), ["Sales"]);
});

Deno.test("ldap read() maps uniqueMember groups", async () => {
  const r = await read({
    sync: {
      groupPath: "ou=uteams",
      groupObjectClass: "groupOfUniqueNames",
      memberAttribute: "uniqueMember",
    },
  }, { users: false });
  assert.deepEqual(r.groups.map((g) => [g.name, g.memberRefs]), [
    ["Red Team", [ALICE.toLowerCase(), CAROL.toLowerCase()]],
  ]);
});

Deno.test("ldap read() maps memberUid values, bare uids and DNs with spaces and case", async () => {
  const setup = {
    sync: { groupPath: "ou=posix", groupObjectClass: "posixGroup", memberAttribute: "memberUid" },
  };
  const r = await read(setup);
  assert.deepEqual(r.groups.map((g) => [g.name, g.memberRefs]), [
    ["DevOps", ["uid:alice", "uid:bob", CAROL.toLowerCase(), "uid:frank ng", "uid:ghost"]],
  ]);
  const data = buildSyncData(
    { users: r.users, groups: r.groups, skipped: r.skipped },
    { syncUsers: true, syncGroups: true, removeDisabled: false },
  );
  assert.deepEqual(data.groups.map((g) => [g.name, [...g.memberExternalIds].sort()]), [
    ["DevOps", [ALICE, BOB, CAROL, FRANK].sort()],
  ]);
  assert.deepEqual(data.unresolved, [
    { groupReferenceId: dn("cn=DevOps,ou=posix"), memberRef: "uid:ghost" },
  ]);
});

Deno.test("ldap read() feeds nested groups with a cycle and users without email to the engine", async () => {
  const r = await read();
  const data = buildSyncData(
    { users: r.users, groups: r.groups, skipped: r.skipped },
    { syncUsers: true, syncGroups: true, removeDisabled: false },
  );
  const members = Object.fromEntries(
    data.groups.map((g) => [g.name, [...g.memberExternalIds].sort()]),
  );
  assert.deepEqual(members, {
    Engineering: [ALICE, BOB, CAROL].sort(),
    Platform: [ALICE, BOB, CAROL].sort(),
    Sales: [CAROL],
    Empty: [],
  });
  assert.deepEqual(data.users.map((u) => u.email), [
    "alice@example.com",
    "bob@example.com",
    "carol@example.com",
    "frank@example.com",
  ]);
  assert.deepEqual(data.skipped.map((s) => [s.referenceId, s.kind]), [[DAVE, "user"]]);
});

// --- paging and limits -------------------------------------------------------------------------

Deno.test("ldap read() pages past the server size limit with a non-admin account", async () => {
  const setup = {
    ldap: { username: slapd.readerDn, pageSize: 20 },
    sync: { userPath: "ou=people", groupPath: "ou=groups" },
    password: slapd.readerPassword,
  };
  const r = await read(setup);
  assert.equal(r.users.length, BULK_USERS);
  assert.ok(BULK_USERS > slapd.sizeLimit);
  assert.equal(new Set(r.users.map((u) => u.referenceId)).size, BULK_USERS);
  assert.equal(r.groups.length, 6);
  const everyone = r.groups.find((g) => g.name === "everyone");
  assert.equal(everyone?.memberRefs.length, BULK_USERS);
  // One page per 20 users: the users arrive in more than one page.
  assert.ok(r.pages >= Math.ceil(BULK_USERS / 20) + 2);
});

Deno.test("ldap read() throws SourceIncompleteError at the size limit when paging is off", async () => {
  const error = await rejects(
    read({
      ldap: { username: slapd.readerDn, pagedSearch: false },
      sync: { userPath: "ou=people", groupPath: "ou=groups" },
      password: slapd.readerPassword,
    }, { groups: false }),
    SourceIncompleteError,
  );
  assert.equal(error.exitCode, 5);
  assert.equal(
    error.message,
    `LDAP users search under ou=people,${BASE} was incomplete: size limit exceeded after 0 entries`,
  );
  assert.match(error.hint ?? "", /directory\.ldap\.pagedSearch/);
});

Deno.test("ldap read() throws SourceIncompleteError when the connection drops mid-read", async () => {
  // A TCP proxy that cuts the connection after the first 20 kB from the server.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const pumps: Promise<void>[] = [];
  const serve = (async () => {
    for await (const downstream of listener) {
      const upstream = await Deno.connect({ hostname: slapd.host, port: slapd.port });
      conns.push(downstream, upstream);
      const close = () => {
        for (const c of [downstream, upstream]) {
          try {
            c.close();
          } catch {
            // already closed
          }
        }
      };
      pumps.push((async () => {
        const buf = new Uint8Array(4096);
        try {
          for (;;) {
            const n = await downstream.read(buf);
            if (n === null) break;
            await upstream.write(buf.subarray(0, n));
          }
        } catch {
          // closed
        }
        close();
      })());
      pumps.push((async () => {
        const buf = new Uint8Array(1024);
        let sent = 0;
        try {
          while (sent < 20_000) {
            const n = await upstream.read(buf);
            if (n === null) break;
            await downstream.write(buf.subarray(0, n));
            sent += n;
          }
        } catch {
          // closed
        }
        close();
      })());
    }
  })();
  try {
    const error = await rejects(
      read({
        ldap: { port: listener.addr.port, pageSize: 10 },
        sync: { userPath: "ou=people", groupPath: "ou=groups" },
      }, { groups: false }),
      SourceIncompleteError,
    );
    assert.match(
      error.message,
      new RegExp(
        `^LDAP users search under ou=people,${BASE} was incomplete: the connection was lost ` +
          "after \\d+ entries$",
      ),
    );
    const read_ = Number(/after (\d+) entries/.exec(error.message)?.[1]);
    assert.ok(read_ > 0 && read_ < BULK_USERS, `read ${read_} entries before the drop`);
  } finally {
    listener.close();
    await serve.catch(() => {});
    await Promise.all(pumps);
  }
});

// --- incremental -------------------------------------------------------------------------------

const INC = { sync: { userPath: "ou=people,ou=inc", groupPath: "ou=groups,ou=inc" } };
const IVY = dn("uid=ivy,ou=people,ou=inc");
const JON = dn("uid=jon,ou=people,ou=inc");
const KIM = dn("uid=kim,ou=people,ou=inc");
const LEO = dn("uid=leo,ou=people,ou=inc");
const OPS = dn("cn=Ops,ou=groups,ou=inc");

Deno.test("ldap read() incremental: nothing changed, then adds, removals and membership changes", async () => {
  const first = await read(INC, { mode: "incremental" });
  assert.equal(first.done?.incremental, false);
  assert.deepEqual(first.notices, [
    "info: LDAP: reading the whole directory (no state from an earlier read with these settings)",
  ]);
  assert.deepEqual(first.users.map((u) => u.referenceId), [IVY, JON, KIM]);
  let state = first.done?.state ?? {};
  const now = () => new Date();

  // Nothing changed since: no users or groups, incremental.
  const quiet = await read(INC, {
    mode: "incremental",
    since: { users: now(), groups: now() },
    state,
  });
  assert.equal(quiet.done?.incremental, true);
  assert.deepEqual([quiet.users, quiet.groups], [[], []]);
  assert.deepEqual(quiet.notices, ["info: LDAP: no users or groups changed since the last sync"]);
  assert.deepEqual(quiet.done?.state, state);

  // An added user: a full read that contains it.
  await admin((c) =>
    c.add(LEO, {
      objectClass: "inetOrgPerson",
      uid: "leo",
      cn: "Leo Lopez",
      sn: "Lopez",
      mail: "leo@example.com",
    })
  );
  const since = new Date(Date.now() + 6 * 60_000); // later than the skew allowance covers
  const added = await read(INC, {
    mode: "incremental",
    since: { users: now(), groups: since },
    state,
  });
  assert.equal(added.done?.incremental, false);
  assert.match(
    added.notices[0]!,
    /^info: LDAP: reading the whole directory \(users changed since /,
  );
  assert.deepEqual(added.users.map((u) => u.referenceId), [IVY, JON, KIM, LEO]);
  state = added.done?.state ?? {};

  // A removed user that is in no group leaves no changed entry: the DN digest catches it.
  await admin((c) => c.del(KIM));
  const removed = await read(INC, {
    mode: "incremental",
    since: { users: since, groups: since },
    state,
  });
  assert.equal(removed.done?.incremental, false);
  assert.deepEqual(removed.notices, [
    "info: LDAP: reading the whole directory (users were added, renamed or removed)",
  ]);
  assert.deepEqual(removed.users.map((u) => u.referenceId), [IVY, JON, LEO]);
  state = removed.done?.state ?? {};

  // A membership-only change updates the group's modifyTimestamp, not the user's.
  await admin((c) =>
    c.modify(
      OPS,
      new Change({
        operation: "add",
        modification: new Attribute({ type: "member", values: [JON] }),
      }),
    )
  );
  const membership = await read(INC, {
    mode: "incremental",
    since: { users: since, groups: now() },
    state,
  });
  assert.equal(membership.done?.incremental, false);
  assert.match(
    membership.notices[0]!,
    /^info: LDAP: reading the whole directory \(groups changed since /,
  );
  assert.deepEqual(membership.groups.map((g) => g.memberRefs), [[
    IVY.toLowerCase(),
    JON.toLowerCase(),
  ]]);

  // bwdc's bug: the group check must use the group time, not the user time.
  const userTimeOnly = await read(INC, {
    mode: "incremental",
    since: { users: since, groups: since },
    state: membership.done?.state ?? {},
  });
  assert.equal(userTimeOnly.done?.incremental, true);
});

Deno.test("generalizedTime() formats UTC whole seconds", () => {
  assert.equal(generalizedTime(new Date("2024-01-02T03:04:05.678Z")), "20240102030405Z");
});

Deno.test("ldap provider: in AD mode an unreadable CN=Deleted Objects is the typed notice deletedObjectsUnreadable", async () => {
  const provider = createLdapProvider(context({ ldap: { ad: true } }));
  const notices: DirectoryPage[] = [];
  let done = false;
  for await (const page of provider.read({ users: true, groups: false, mode: "full" })) {
    if (page.kind === "notice") notices.push(page);
    if (page.kind === "done") done = true;
  }
  assert.equal(done, true);
  assert.deepEqual(notices.map((n) => n.kind === "notice" ? [n.code, n.level] : []), [
    ["deletedObjectsUnreadable", "warn"],
  ]);
  const message = notices[0]?.kind === "notice" ? notices[0].message : "";
  assert.ok(
    message.startsWith(`Cannot query deleted users in CN=Deleted Objects,${BASE}: `),
    message,
  );
});

Deno.test("ldap test slapd stops", async () => {
  await slapd.stop();
});
