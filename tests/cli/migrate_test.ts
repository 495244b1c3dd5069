/**
 * `roster migrate bwdc` end to end: dry runs, the written configuration and state, repeat runs,
 * the bwdc file left alone, default locations; then, against a real slapd and the Bitwarden
 * fake, a migrated LDAP configuration reads like a hand-typed one and a migrated change hash
 * makes the first sync send nothing.
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openStateStore } from "../../src/state/store.ts";
import { startFakeBitwarden } from "../fakes/bitwarden.ts";
import { REPO_ROOT, seedConfig, type TempDataDir, tempDataDir } from "../_helpers.ts";
import { killSlapdSync, startSlapd } from "../providers/ldap/_slapd.ts";
import { doc } from "./_sync_env.ts";

const TESTDATA = join(REPO_ROOT, "tests", "migrate", "testdata");
const ORG = "6f1d2c3b-4a59-4e8f-9b21-0c7d5e3a9f10";
const STAFF_LDIF = fileURLToPath(
  new URL("../providers/ldap/testdata/staff.ldif", import.meta.url),
);

const slapd = await startSlapd({ ldif: [STAFF_LDIF] });
globalThis.addEventListener("unload", () => killSlapdSync(slapd.dir));

/** Copies a fixture next to the data directory, as an admin's copy of bwdc's file. */
async function copyFixture(dir: TempDataDir, name: string): Promise<string> {
  const file = join(dir.root, `${name}.json`);
  await Deno.copyFile(join(TESTDATA, `${name}.json`), file);
  return file;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await Deno.readTextFile(path));
}

async function stateOf(dataDir: string) {
  const store = await openStateStore(join(dataDir, "state.kv"));
  try {
    const times = await store.getSyncTimes();
    return {
      secrets: Object.fromEntries(
        await Promise.all(
          ["directory.ldap.password", "directory.entra.key"].map(async (key) => [
            key,
            await store.getSecret(key),
          ]),
        ),
      ),
      users: times.users?.toISOString(),
      groups: times.groups?.toISOString(),
      hash: await store.getLastSyncHash(),
      providerState: await store.getProviderState(),
      auth: await store.getAuth(),
    };
  } finally {
    store.close();
  }
}

Deno.test("migrate bwdc --dry-run prints the JSON document and writes nothing", async () => {
  await using dir = await tempDataDir();
  const file = await copyFixture(dir, "flat-ldap-plaintext");
  const result = await dir.run(["migrate", "bwdc", file, "--dry-run", "--output", "json"]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  assert.equal(await exists(dir.dataDir), false, "a dry run must not create the data directory");
  const document = doc(result.stdout);
  assert.deepEqual(Object.keys(document), [
    "object",
    "dryRun",
    "source",
    "dataDir",
    "directoryType",
    "settings",
    "removed",
    "secrets",
    "state",
    "login",
    "notMigrated",
    "remaining",
  ]);
  assert.equal(document["object"], "migration");
  assert.equal(document["dryRun"], true);
  assert.deepEqual(document["source"], { file, layout: "flat", stateVersion: 8 });
  assert.equal(document["dataDir"], dir.dataDir);
  assert.equal(document["directoryType"], "ldap");
  const settings = document["settings"];
  assert.ok(Array.isArray(settings));
  assert.equal(settings.length, 29);
  assert.deepEqual(settings[0], {
    key: "server.url",
    value: "https://vault.example.test",
    from: "environmentUrls.base",
    bwdcDefault: false,
  });
  assert.deepEqual(document["removed"], []);
  assert.deepEqual(document["secrets"], [
    {
      key: "directory.ldap.password",
      from: "directoryLdap.password",
      source: "plaintext",
      action: "import",
    },
  ]);
  assert.deepEqual(document["state"], [
    { item: "lastUserSync", value: "2026-11-02T08:15:30.123Z", from: "lastUserSync" },
    { item: "lastGroupSync", value: "2026-11-02T08:15:30.123Z", from: "lastGroupSync" },
    {
      item: "lastSyncHash",
      value: "q7cJ0m9r3oXkq2YH1x6oJ0qz1Yb8C2m8sQ3Wf4tP5vE=",
      from: "lastSyncHash",
    },
  ]);
  assert.deepEqual(document["login"], {
    organizationId: ORG,
    clientId: `organization.${ORG}`,
    action: "import",
  });
  const notMigrated = document["notMigrated"];
  assert.ok(Array.isArray(notMigrated));
  assert.equal(notMigrated.length, 3);
  assert.deepEqual(document["remaining"], []);
  assert.equal(result.stdout.includes("s3cret-bind"), false, "no secret is printed");
  assert.equal(result.stdout.includes("Xc9vB2nM4kL7pQ1wE5rT8yU3iO6aS0"), false);
});

Deno.test("migrate bwdc writes config and state, gives the same result twice, and leaves the bwdc file alone", async () => {
  await using dir = await tempDataDir();
  const file = await copyFixture(dir, "flat-ldap-plaintext");
  const bytes = await Deno.readFile(file);
  const modified = (await Deno.stat(file)).mtime?.getTime();

  const first = await dir.run(["migrate", "bwdc", file, "--output", "json"]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(doc(first.stdout)["dryRun"], false);
  const config = await readJson(join(dir.dataDir, "config.json"));
  assert.deepEqual(config, {
    server: { url: "https://vault.example.test" },
    directory: {
      type: "ldap",
      ldap: {
        hostname: "ldap.example.test",
        port: 1389,
        ssl: false,
        startTls: false,
        sslAllowUnauthorized: false,
        rootPath: "dc=example,dc=test",
        username: "cn=admin,dc=example,dc=test",
        ad: false,
        pagedSearch: false,
        currentUser: false,
      },
    },
    sync: {
      users: true,
      groups: true,
      interval: 10,
      removeDisabled: false,
      overwriteExisting: false,
      largeImport: false,
      inviteUsersAfterProvisioning: true,
      userFilter: "(objectClass=inetOrgPerson)",
      groupFilter: "(cn=*)",
      userPath: "ou=People",
      groupPath: "ou=Groups",
      userObjectClass: "inetOrgPerson",
      groupObjectClass: "groupOfNames",
      userEmailAttribute: "mail",
      groupNameAttribute: "cn",
      memberAttribute: "member",
      useEmailPrefixSuffix: false,
    },
  });
  const expectedState = {
    secrets: { "directory.ldap.password": "s3cret-bind", "directory.entra.key": undefined },
    users: "2026-11-02T08:15:30.123Z",
    groups: "2026-11-02T08:15:30.123Z",
    hash: "q7cJ0m9r3oXkq2YH1x6oJ0qz1Yb8C2m8sQ3Wf4tP5vE=",
    providerState: undefined,
    auth: {
      clientId: `organization.${ORG}`,
      clientSecret: "Xc9vB2nM4kL7pQ1wE5rT8yU3iO6aS0",
      organizationId: ORG,
    },
  };
  assert.deepEqual(await stateOf(dir.dataDir), expectedState);
  const configText = await Deno.readTextFile(join(dir.dataDir, "config.json"));

  const second = await dir.run(["migrate", "bwdc", file, "--output", "json"]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout, first.stdout);
  assert.equal(await Deno.readTextFile(join(dir.dataDir, "config.json")), configText);
  assert.deepEqual(await stateOf(dir.dataDir), expectedState);

  assert.deepEqual(await Deno.readFile(file), bytes, "the bwdc file is never changed");
  assert.equal((await Deno.stat(file)).mtime?.getTime(), modified);
});

Deno.test("migrate bwdc lists the commands left for keychain secrets, and notices them once done", async () => {
  await using dir = await tempDataDir();
  const file = await copyFixture(dir, "flat-entra-keychain");
  const first = await dir.run(["migrate", "bwdc", file]);
  assert.equal(first.code, 0, first.stderr);
  const tail = first.stdout.slice(first.stdout.indexOf("Still to do:"));
  assert.equal(
    tail,
    [
      "Still to do:",
      "  roster config set directory.entra.key --secret-env ENTRA_SECRET",
      `  roster login --client-id organization.${ORG}`,
      "",
    ].join("\n"),
  );
  assert.match(
    first.stdout,
    /^ {2}directory\.entra\.key {2}in bwdc's OS keychain: set it by hand$/m,
  );
  const state = await stateOf(dir.dataDir);
  assert.deepEqual(state.providerState, {
    usersDeltaLink:
      "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8",
  });
  assert.equal(state.secrets["directory.entra.key"], undefined);
  assert.equal(state.auth, undefined);

  const set = await dir.run([
    "config",
    "set",
    "directory.entra.key",
    "--secret-env",
    "ENTRA_SECRET",
  ], {
    env: { ENTRA_SECRET: "entra-client-secret" },
  });
  assert.equal(set.code, 0, set.stderr);
  const again = await dir.run(["migrate", "bwdc", file, "--output", "json"]);
  assert.equal(again.code, 0, again.stderr);
  const document = doc(again.stdout);
  assert.deepEqual(document["secrets"], [
    { key: "directory.entra.key", from: "directoryEntra.key", source: "keychain", action: "kept" },
  ]);
  assert.deepEqual(document["remaining"], [`roster login --client-id organization.${ORG}`]);
  assert.equal((await stateOf(dir.dataDir)).secrets["directory.entra.key"], "entra-client-secret");
});

Deno.test("migrate bwdc imports a legacy (state version 4) Azure AD file: secrets, login and delta link", async () => {
  await using dir = await tempDataDir();
  const file = await copyFixture(dir, "legacy-azure-plaintext");
  const result = await dir.run(["migrate", "bwdc", file]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^Nothing left to do: roster test shows what a sync would send$/m);
  assert.deepEqual(await stateOf(dir.dataDir), {
    secrets: { "directory.ldap.password": undefined, "directory.entra.key": "AzUrEkEy~0123456789" },
    users: "2024-02-01T12:00:00.000Z",
    groups: "2024-02-01T12:00:00.000Z",
    hash: "LeGaCyAzUrEhAsH0123456789abcdefghijklmnopq=",
    providerState: {
      usersDeltaLink: "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=LegacyDelta123",
    },
    auth: {
      clientId: `organization.${ORG}`,
      clientSecret: "AzUrEcLiEnTsEcReT7",
      organizationId: ORG,
    },
  });
  const get = await dir.run(["config", "get", "directory.entra.identityAuthority"]);
  assert.equal(get.stdout, "login.microsoftonline.us\n");
});

Deno.test("migrate bwdc replaces the settings bwdc has and keeps roster's own ones", async () => {
  await using dir = await tempDataDir();
  await seedConfig(dir, {
    directory: {
      type: "ldap",
      ldap: { hostname: "old.example.test", sslKeyPath: "/etc/old.key", pageSize: 1000 },
    },
    sync: { maxRemovals: 25, userFilter: "(old=1)" },
  });
  const file = await copyFixture(dir, "legacy-ad-plaintext");
  const result = await dir.run(["migrate", "bwdc", file, "--output", "json"]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(doc(result.stdout)["removed"], [
    "directory.ldap.sslKeyPath",
    "sync.userFilter",
  ]);
  const config = await readJson(join(dir.dataDir, "config.json"));
  assert.ok(typeof config === "object" && config !== null);
  const ldap = doc(JSON.stringify(doc(JSON.stringify(config))["directory"]))["ldap"];
  assert.deepEqual(ldap, {
    hostname: "ad.corp.example.test",
    port: 389,
    ssl: false,
    startTls: false,
    sslAllowUnauthorized: false,
    rootPath: "DC=corp,DC=example,DC=test",
    username: "CORP\\svc-bwdc",
    ad: true,
    pagedSearch: true,
    pageSize: 1000,
    currentUser: false,
    domain: "corp",
  });
  const sync = doc(JSON.stringify(doc(JSON.stringify(config))["sync"]));
  assert.equal(sync["maxRemovals"], 25);
  assert.equal(sync["userFilter"], undefined);
  assert.equal(sync["groupFilter"], "(cn=Vault*)");
});

Deno.test("migrate bwdc finds data.json where bwdc keeps it, and says where it looked", async () => {
  await using dir = await tempDataDir();
  const home = join(dir.root, "home");
  const appData = join(dir.root, "bwdc-appdata");
  await Deno.mkdir(home);
  await Deno.mkdir(appData);
  await Deno.copyFile(join(TESTDATA, "legacy-okta-plaintext.json"), join(appData, "data.json"));
  const env = {
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".xdg"),
    BITWARDENCLI_CONNECTOR_APPDATA_DIR: appData,
  };
  const found = await dir.run(["migrate", "bwdc", "--dry-run", "--output", "json"], { env });
  assert.equal(found.code, 0, found.stderr);
  assert.deepEqual(doc(found.stdout)["source"], {
    file: join(appData, "data.json"),
    layout: "legacy",
    stateVersion: 4,
  });

  const missing = await dir.run(["migrate", "bwdc", "--dry-run"], {
    env: { ...env, BITWARDENCLI_CONNECTOR_APPDATA_DIR: join(dir.root, "none") },
  });
  assert.equal(missing.code, 2);
  assert.equal(missing.stdout, "");
  assert.match(
    missing.stderr,
    new RegExp(
      `Cannot find bwdc's data\\.json: looked in ${join(dir.root, "none")}/data\\.json, ${
        join(home, ".xdg")
      }/Bitwarden Directory Connector/data\\.json, ${home}/\\.config/Bitwarden Directory Connector/data\\.json`,
    ),
  );
});

Deno.test("migrate bwdc reads data.json inside a folder given as its path", async () => {
  await using dir = await tempDataDir();
  const appData = join(dir.root, "bitwarden-connector-appdata");
  await Deno.mkdir(appData);
  await Deno.copyFile(join(TESTDATA, "legacy-okta-plaintext.json"), join(appData, "data.json"));
  const result = await dir.run(["migrate", "bwdc", appData, "--dry-run", "--output", "json"]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(doc(result.stdout)["source"], {
    file: join(appData, "data.json"),
    layout: "legacy",
    stateVersion: 4,
  });
  const empty = join(dir.root, "empty");
  await Deno.mkdir(empty);
  const none = await dir.run(["migrate", "bwdc", empty, "--dry-run", "--output", "json"]);
  assert.equal(none.code, 2);
  assert.deepEqual(doc(none.stdout)["details"], { file: join(empty, "data.json") });
});

Deno.test("migrate bwdc exits 2 on a file that is not bwdc's data.json", async () => {
  await using dir = await tempDataDir();
  const file = join(dir.root, "data.json");
  await Deno.writeTextFile(file, '{"stateVersion": 2}');
  const result = await dir.run(["migrate", "bwdc", file, "--output", "json"]);
  assert.equal(result.code, 2);
  const error = doc(result.stdout);
  assert.equal(
    error["message"],
    `Cannot read the bwdc data file ${file}: state version 2 is older than bwdc can migrate (3)`,
  );
  assert.deepEqual(error["details"], { file });
  assert.equal(await exists(dir.dataDir), false);
});

Deno.test("migrate bwdc --help shows an example", async () => {
  await using dir = await tempDataDir();
  const result = await dir.run(["migrate", "bwdc", "--help"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /Usage: roster migrate bwdc \[options\] \[path\]/);
  assert.match(result.stdout, /^Examples:\n {2}roster migrate bwdc --dry-run/m);
});

// --- against slapd and the Bitwarden fake ---

interface LdapBwdcOptions {
  environmentUrls?: Record<string, string | null>;
  lastSyncHash?: string | null;
  apiKey?: { clientId: string; clientSecret: string; organizationId: string };
}

/** A bwdc data.json (state version 8, plain-text secrets) for the test slapd. */
function ldapDataJson(options: LdapBwdcOptions = {}): string {
  return JSON.stringify({
    stateVersion: 8,
    installedVersion: "2026.6.1",
    environmentUrls: options.environmentUrls ??
      { base: null, api: null, identity: null, webVault: null },
    directoryType: 0,
    directoryLdap: {
      ssl: false,
      startTls: false,
      sslAllowUnauthorized: false,
      port: slapd.port,
      hostname: slapd.host,
      rootPath: slapd.baseDn,
      username: slapd.adminDn,
      password: slapd.adminPassword,
      ad: false,
      pagedSearch: true,
      currentUser: false,
      id: "5d4c3b2a-1908-4766-8544-332211009988",
    },
    sync: {
      users: true,
      groups: true,
      interval: 5,
      userFilter: null,
      groupFilter: null,
      removeDisabled: false,
      overwriteExisting: false,
      largeImport: false,
      userPath: "ou=staff",
      groupPath: "ou=teams",
      userObjectClass: "inetOrgPerson",
      groupObjectClass: "groupOfNames",
      userEmailAttribute: "mail",
      groupNameAttribute: "cn",
      memberAttribute: "member",
      useEmailPrefixSuffix: false,
      inviteUsersAfterProvisioning: false,
    },
    organizationId: options.apiKey?.organizationId ?? ORG,
    lastUserSync: null,
    lastGroupSync: null,
    lastSyncHash: options.lastSyncHash ?? null,
    userDeltaToken: null,
    groupDeltaToken: null,
    ...(options.apiKey === undefined ? {} : {
      apiKeyClientId: options.apiKey.clientId,
      apiKeyClientSecret: options.apiKey.clientSecret,
    }),
  });
}

/** The same LDAP configuration, typed by hand with `roster config set`. */
async function typeByHand(dir: TempDataDir, server?: Record<string, string>): Promise<void> {
  const settings: [string, string][] = [
    ...Object.entries(server ?? {}).map(([key, value]): [string, string] => [
      `server.${key}`,
      value,
    ]),
    ["directory.type", "ldap"],
    ["directory.ldap.hostname", slapd.host],
    ["directory.ldap.port", String(slapd.port)],
    ["directory.ldap.rootPath", slapd.baseDn],
    ["directory.ldap.username", slapd.adminDn],
    ["sync.userPath", "ou=staff"],
    ["sync.groupPath", "ou=teams"],
    ["sync.userObjectClass", "inetOrgPerson"],
    ["sync.groupObjectClass", "groupOfNames"],
    ["sync.userEmailAttribute", "mail"],
    ["sync.groupNameAttribute", "cn"],
    ["sync.memberAttribute", "member"],
  ];
  for (const [key, value] of settings) {
    const result = await dir.run(["config", "set", key, value]);
    assert.equal(result.code, 0, result.stderr);
  }
  const secret = await dir.run(
    ["config", "set", "directory.ldap.password", "--secret-env", "LDAP_PASSWORD"],
    { env: { LDAP_PASSWORD: slapd.adminPassword } },
  );
  assert.equal(secret.code, 0, secret.stderr);
}

Deno.test("a migrated LDAP configuration gives the same roster test answer as one typed by hand", async () => {
  await using byHand = await tempDataDir();
  await typeByHand(byHand);
  const expected = await byHand.run(["test", "--output", "json"]);
  assert.equal(expected.code, 0, expected.stderr);
  const summary = doc(JSON.stringify(doc(expected.stdout)["summary"]));
  assert.ok(Number(summary["users"]) > 0 && Number(summary["groups"]) > 0, expected.stdout);

  await using migrated = await tempDataDir();
  const file = join(migrated.root, "data.json");
  await Deno.writeTextFile(file, ldapDataJson());
  const migration = await migrated.run(["migrate", "bwdc", file]);
  assert.equal(migration.code, 0, migration.stderr);
  const actual = await migrated.run(["test", "--output", "json"]);
  assert.equal(actual.code, 0, actual.stderr);
  assert.equal(actual.stdout, expected.stdout);
});

Deno.test("a migrated change hash makes the first sync send nothing when the directory is unchanged", async () => {
  const fake = await startFakeBitwarden();
  try {
    const imports = () =>
      fake.requests().filter((r) => r.method === "POST" && r.path.endsWith("/organization/import"))
        .length;
    const server = fake.serverConfig;
    const environmentUrls = {
      base: server.url ?? null,
      api: server.api ?? null,
      identity: server.identity ?? null,
      webVault: null,
    };
    const apiKey = {
      ...fake.credentials,
      organizationId: fake.credentials.clientId.slice("organization.".length),
    };

    // What bwdc did: sync the directory into the organization, and keep the hash of that import.
    await using earlier = await tempDataDir();
    await typeByHand(earlier, server);
    const login = await earlier.run(["login", "--client-id", fake.credentials.clientId], {
      env: { ROSTER_CLIENT_SECRET: fake.credentials.clientSecret },
    });
    assert.equal(login.code, 0, login.stderr);
    const bwdcSync = await earlier.run(["sync", "--output", "json"]);
    assert.equal(bwdcSync.code, 0, bwdcSync.stderr);
    assert.equal(doc(bwdcSync.stdout)["outcome"], "synced");
    assert.equal(imports(), 1);
    const hash = (await stateOf(earlier.dataDir)).hash;
    assert.ok(hash !== undefined);

    // roster, migrated from bwdc's file: the first sync recognises the unchanged directory.
    await using migrated = await tempDataDir();
    const file = join(migrated.root, "data.json");
    await Deno.writeTextFile(file, ldapDataJson({ environmentUrls, lastSyncHash: hash, apiKey }));
    const migration = await migrated.run(["migrate", "bwdc", file, "--output", "json"]);
    assert.equal(migration.code, 0, migration.stderr);
    assert.deepEqual(doc(migration.stdout)["remaining"], []);
    const first = await migrated.run(["sync", "--output", "json"]);
    assert.equal(first.code, 0, first.stderr);
    const document = doc(first.stdout);
    assert.equal(document["outcome"], "no-change");
    assert.match(String(document["reason"]), /^unchanged since the last sync/);
    assert.deepEqual(document["sent"], {
      requests: 0,
      members: 0,
      deleted: 0,
      groups: 0,
      batches: [],
    });
    assert.equal(imports(), 1, "the migrated run must not POST an import");

    // Without bwdc's hash, the same first sync sends the import again.
    await using unhashed = await tempDataDir();
    const bare = join(unhashed.root, "data.json");
    await Deno.writeTextFile(bare, ldapDataJson({ environmentUrls, apiKey }));
    assert.equal((await unhashed.run(["migrate", "bwdc", bare])).code, 0);
    const resend = await unhashed.run(["sync", "--output", "json"]);
    assert.equal(resend.code, 0, resend.stderr);
    assert.equal(doc(resend.stdout)["outcome"], "synced");
    assert.equal(imports(), 2);
  } finally {
    await fake.close();
  }
});
