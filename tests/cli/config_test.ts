import assert from "node:assert/strict";
import { join } from "node:path";
import {
  field,
  json,
  ldifConfig,
  modeOf,
  REPO_ROOT,
  roster,
  seedConfig,
  tempDataDir,
} from "../_helpers.ts";
import { openStateStore } from "../../src/state/store.ts";

Deno.test("config set creates the data directory 0700 and config.json 0600", async () => {
  await using dir = await tempDataDir();
  const result = await dir.run(["config", "set", "sync.interval", "15"]);
  assert.equal(result.stderr, "");
  assert.equal(result.stdout, "Saved setting sync.interval: 15\n");
  assert.equal(result.code, 0);
  assert.equal(await modeOf(dir.dataDir), 0o700);
  assert.equal(await modeOf(join(dir.dataDir, "config.json")), 0o600);
  assert.equal(
    await Deno.readTextFile(join(dir.dataDir, "config.json")),
    '{\n  "sync": {\n    "interval": 15\n  }\n}\n',
  );
  for (const file of await Array.fromAsync(Deno.readDir(dir.dataDir))) {
    if (file.name.startsWith("state.kv")) {
      assert.equal(await modeOf(join(dir.dataDir, file.name)), 0o600, file.name);
    }
    assert.ok(!file.name.endsWith(".tmp"), `leftover ${file.name}`);
  }
});

Deno.test("config set coerces booleans, integers and enums from strings", async () => {
  await using dir = await tempDataDir();
  assert.equal((await dir.run(["-q", "config", "set", "sync.removeDisabled", "TRUE"])).code, 0);
  assert.equal((await dir.run(["-q", "config", "set", "directory.type", "LDAP"])).code, 0);
  assert.equal((await dir.run(["-q", "config", "set", "directory.ldap.port", "636"])).code, 0);
  assert.equal((await dir.run(["-q", "config", "set", "sync.maxRemovalsPercent", "2.5"])).code, 0);
  const got = await dir.run(["config", "get", "directory.type", "--output", "json"]);
  assert.deepEqual(json(got.stdout), {
    object: "setting",
    key: "directory.type",
    value: "ldap",
    source: "set",
  });
  assert.deepEqual(json(await Deno.readTextFile(join(dir.dataDir, "config.json"))), {
    directory: { type: "ldap", ldap: { port: 636 } },
    sync: { removeDisabled: true, maxRemovalsPercent: 2.5 },
  });
});

Deno.test("config set refuses an invalid value, names it, and saves nothing", async () => {
  await using dir = await tempDataDir();
  await dir.run(["-q", "config", "set", "sync.interval", "30"]);
  const before = await Deno.readTextFile(join(dir.dataDir, "config.json"));
  const cases: [string[], string][] = [
    [
      ["sync.interval", "3"],
      'error: Invalid value for sync.interval: "3" is not an integer from 5 to 525600\n' +
      "hint: Give an integer from 5 to 525600, e.g. roster config set sync.interval 5\n",
    ],
    [
      ["sync.users", "yes"],
      'error: Invalid value for sync.users: "yes" is not true or false\n' +
      "hint: Give true or false, e.g. roster config set sync.users true\n",
    ],
    [
      ["directory.type", "ad"],
      'error: Invalid value for directory.type: "ad" is not one of ldap, entra, google, okta, onelogin, file\n' +
      "hint: Give one of ldap, entra, google, okta, onelogin, file, e.g. roster config set directory.type ldap\n",
    ],
    [
      ["directory.ldap.port", "70000"],
      'error: Invalid value for directory.ldap.port: "70000" is not an integer from 1 to 65535\n' +
      "hint: Give an integer from 1 to 65535, e.g. roster config set directory.ldap.port 389\n",
    ],
  ];
  for (const [args, stderr] of cases) {
    const result = await dir.run(["config", "set", ...args]);
    assert.equal(result.code, 2, args.join(" "));
    assert.equal(result.stdout, "");
    assert.equal(result.stderr, stderr);
  }
  assert.equal(await Deno.readTextFile(join(dir.dataDir, "config.json")), before);
});

Deno.test("config set --output json reports an invalid value as an error document on stdout", async () => {
  await using dir = await tempDataDir();
  const result = await dir.run(["config", "set", "sync.interval", "abc", "--output", "json"]);
  assert.equal(result.code, 2);
  assert.equal(result.stderr, "");
  assert.equal(
    result.stdout,
    JSON.stringify(
      {
        object: "error",
        code: "config_invalid",
        message: 'Invalid value for sync.interval: "abc" is not an integer from 5 to 525600',
        hint: "Give an integer from 5 to 525600, e.g. roster config set sync.interval 5",
        details: { key: "sync.interval", value: "abc", allowed: "an integer from 5 to 525600" },
      },
      null,
      2,
    ) + "\n",
  );
});

Deno.test("config set names close matches for an unknown setting", async () => {
  await using dir = await tempDataDir();
  const result = await dir.run(["config", "set", "sync.intervall", "10"]);
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    "error: Unknown setting: sync.intervall\n" +
      "hint: Did you mean sync.interval? roster config list --all shows every setting\n",
  );
});

Deno.test("config set accepts bwdc's form and aliases", async () => {
  await using dir = await tempDataDir();
  const server = await dir.run(["config", "server", "vault.example.com/"]);
  assert.equal(server.stdout, "Saved setting server.url: https://vault.example.com\n");
  const type = await dir.run(["config", "set", "directory", "0"]);
  assert.equal(type.stdout, "Saved setting directory.type: ldap\n");
});

Deno.test("config set refuses a plain http:// server URL to a host that is not loopback", async () => {
  await using dir = await tempDataDir();
  for (const key of ["server.url", "server.api", "server.identity"]) {
    const result = await dir.run(["config", "set", key, "http://vault.example.com"]);
    assert.equal(result.code, 2, key);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `error: Invalid ${key}: plain http:// is only allowed for a loopback host, not vault.example.com\n` +
        `hint: Use https:// in ${key} (or a loopback address such as http://127.0.0.1:8080 for a local test server)\n`,
    );
  }
  assert.equal((await dir.run(["config", "get", "server.url"])).stdout, "(not set)\n");
  const loopback = await dir.run(["config", "set", "server.url", "http://127.0.0.1:8080"]);
  assert.equal(loopback.stdout, "Saved setting server.url: http://127.0.0.1:8080\n");
});

Deno.test("config validate, status and login refuse a hand-edited plain http:// server URL", async () => {
  await using dir = await tempDataDir();
  await seedConfig(dir, {
    ...field(await ldifConfig()),
    server: { url: "http://vault.example.com" },
  });
  const expected =
    "error: Invalid server.url: plain http:// is only allowed for a loopback host, not vault.example.com\n" +
    "hint: Use https:// in server.url (or a loopback address such as http://127.0.0.1:8080 for a local test server)\n";
  const runs: string[][] = [
    ["config", "validate"],
    ["status"],
    ["login", "--client-id", "organization.4f0b0c5e-2a9e-4a76-9d2c-0d1c1e6c9e11"],
  ];
  for (const args of runs) {
    const result = await dir.run(args, { env: { ROSTER_CLIENT_SECRET: "not-sent" } });
    assert.equal(result.code, 2, args.join(" "));
    assert.equal(result.stderr, expected, args.join(" "));
  }
});

Deno.test("config set saves relative file paths as absolute paths", async () => {
  await using dir = await tempDataDir();
  const result = await dir.run(["config", "set", "directory.file.path", "people.ldif"], {
    cwd: dir.root,
  });
  assert.equal(
    result.stdout,
    `Saved setting directory.file.path: ${join(dir.root, "people.ldif")}\n`,
  );
});

const SECRET = "s3cr3t-Pa55w0rd";

async function assertSecretNowhere(dataDir: string, outputs: string[]): Promise<void> {
  for (const output of outputs) assert.ok(!output.includes(SECRET), output);
  const config = await Deno.readTextFile(join(dataDir, "config.json")).catch(() => "");
  assert.ok(!config.includes(SECRET));
}

Deno.test("config set refuses a secret given on the command line", async () => {
  await using dir = await tempDataDir();
  const result = await dir.run(["config", "set", "directory.ldap.password", SECRET]);
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    "error: Refusing to read secret directory.ldap.password from the command line: it would be visible in the process list and shell history\n" +
      `hint: Use --secret-env VAR, --secret-file FILE, or pipe it on stdin (printf '%s' "$SECRET" | roster config set directory.ldap.password)\n`,
  );
  await assertSecretNowhere(dir.dataDir, [result.stdout, result.stderr]);
});

Deno.test("config set reads secrets from env, file and stdin and never shows them", async () => {
  await using dir = await tempDataDir();
  const outputs: string[] = [];
  const record = (r: { stdout: string; stderr: string; code: number }) => {
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const fromEnv = record(
    await dir.run(["config", "set", "directory.ldap.password", "--secret-env", "PW"], {
      env: { PW: SECRET },
    }),
  );
  assert.equal(fromEnv.code, 0);
  assert.equal(fromEnv.stdout, "Saved setting directory.ldap.password: ********\n");

  const file = join(dir.root, "token");
  await Deno.writeTextFile(file, `${SECRET}\nsecond line\n`);
  const fromFile = record(
    await dir.run(["config", "set", "directory.okta.token", "--secret-file", file, "-o", "json"]),
  );
  assert.deepEqual(json(fromFile.stdout), {
    object: "setting",
    key: "directory.okta.token",
    value: "********",
    source: "set",
  });

  const fromStdin = record(
    await dir.run(["config", "set", "directory.entra.key", "--verbose"], { stdin: `${SECRET}\n` }),
  );
  assert.equal(fromStdin.code, 0);

  const get = record(await dir.run(["config", "get", "directory.ldap.password"]));
  assert.equal(get.stdout, "********\n");
  const unsetSecret = record(await dir.run(["config", "get", "directory.onelogin.clientSecret"]));
  assert.equal(unsetSecret.stdout, "(not set)\n");
  const list = record(await dir.run(["config", "list", "--all"]));
  assert.match(list.stdout, /^directory\.ldap\.password +\*{8} +set$/m);
  const listJson = record(await dir.run(["config", "list", "-o", "json"]));
  assert.deepEqual(field(json(listJson.stdout), "directory", "okta"), {
    orgUrl: null,
    maxRateShare: 50,
    caFile: null,
    token: "********",
  });
  await assertSecretNowhere(dir.dataDir, outputs);
  assert.equal(await modeOf(join(dir.dataDir, "state.kv")), 0o600);

  const unset = record(await dir.run(["config", "unset", "directory.ldap.password"]));
  assert.equal(unset.stdout, "Removed setting directory.ldap.password: (not set)\n");
  assert.equal((await dir.run(["config", "get", "directory.ldap.password"])).stdout, "(not set)\n");
});

Deno.test("config list --output json gives the whole config, defaults applied, secrets masked", async () => {
  await using dir = await tempDataDir();
  await dir.run(["-q", "config", "set", "directory.type", "file"]);
  const result = await dir.run(["config", "list", "--output", "json"]);
  assert.equal(result.code, 0);
  const doc = json(result.stdout);
  assert.deepEqual(Object.keys(field(doc)), ["server", "directory", "sync"]);
  assert.deepEqual(field(doc, "server"), {
    url: null,
    api: null,
    identity: null,
    caFile: null,
    maxRequestsPerMinute: null,
  });
  assert.deepEqual(Object.keys(field(doc, "directory")), [
    "type",
    "ldap",
    "entra",
    "google",
    "okta",
    "onelogin",
    "file",
  ]);
  assert.deepEqual(field(doc, "directory", "file"), {
    path: null,
    format: "auto",
    rootPath: null,
    ad: false,
    encoding: "auto",
  });
  assert.deepEqual(field(doc, "directory", "onelogin"), {
    clientId: null,
    region: "us",
    subdomain: null,
    apiUrl: null,
    waitForRateLimit: false,
    caFile: null,
    clientSecret: null,
  });
  assert.deepEqual(field(doc, "sync"), {
    users: true,
    groups: true,
    interval: 5,
    removeDisabled: false,
    overwriteExisting: false,
    largeImport: false,
    inviteUsersAfterProvisioning: false,
    userFilter: null,
    groupFilter: null,
    userPath: null,
    groupPath: null,
    userObjectClass: null,
    groupObjectClass: null,
    userEmailAttribute: null,
    groupNameAttribute: null,
    memberAttribute: null,
    useEmailPrefixSuffix: false,
    emailPrefixAttribute: null,
    emailSuffix: null,
    revisionDateAttribute: null,
    creationDateAttribute: null,
    maxRemovals: 10,
    maxRemovalsPercent: 10,
    maxMembershipRemovals: 25,
    maxMembershipRemovalsPercent: 10,
    maxGroupDeletions: 5,
    maxGroupDeletionsPercent: 10,
    maxShrink: 10,
    maxShrinkPercent: 10,
  });
});

Deno.test("config get and unset report the source of a value", async () => {
  await using dir = await tempDataDir();
  await dir.run(["-q", "config", "set", "sync.interval", "60"]);
  const get = await dir.run(["config", "get", "sync.interval", "-o", "json"]);
  assert.deepEqual(json(get.stdout), {
    object: "setting",
    key: "sync.interval",
    value: 60,
    source: "set",
  });
  const unset = await dir.run(["config", "unset", "sync.interval"]);
  assert.equal(unset.stdout, "Removed setting sync.interval: 5 (default)\n");
  const after = await dir.run(["config", "get", "sync.interval", "-o", "json"]);
  assert.deepEqual(json(after.stdout), {
    object: "setting",
    key: "sync.interval",
    value: 5,
    source: "default",
  });
  assert.equal(await Deno.readTextFile(join(dir.dataDir, "config.json")), "{}\n");
  const notSet = await dir.run(["config", "get", "server.url"]);
  assert.equal(notSet.stdout, "(not set)\n");
});

Deno.test("config validate names the missing settings of the directory type", async () => {
  await using dir = await tempDataDir();
  const none = await dir.run(["config", "validate"]);
  assert.equal(none.code, 2);
  assert.equal(
    none.stderr,
    "error: No directory configured: directory.type is not set\n" +
      "hint: roster config set directory.type <ldap|entra|google|okta|onelogin|file>, then its settings\n",
  );
  await dir.run(["-q", "config", "set", "directory.type", "ldap"]);
  await dir.run(["-q", "config", "set", "directory.ldap.hostname", "ldap.example.com"]);
  const ldap = await dir.run(["config", "validate", "-o", "json"]);
  assert.equal(ldap.code, 2);
  assert.deepEqual(json(ldap.stdout), {
    object: "error",
    code: "config_invalid",
    message:
      "Directory configuration incomplete: directory.ldap.rootPath, directory.ldap.username, directory.ldap.password are not set",
    hint: "roster config set directory.ldap.rootPath <value>; " +
      "roster config set directory.ldap.username <value>; " +
      "roster config set directory.ldap.password --secret-env VAR (or --secret-file FILE, or stdin)",
    details: {
      directoryType: "ldap",
      missing: ["directory.ldap.rootPath", "directory.ldap.username", "directory.ldap.password"],
    },
  });
  await dir.run(["-q", "config", "set", "directory.type", "file"]);
  await dir.run([
    "-q",
    "config",
    "set",
    "directory.file.path",
    join(REPO_ROOT, "demo", "example-ad.ldif"),
  ]);
  const file = await dir.run(["config", "validate", "-o", "json"]);
  assert.equal(file.code, 0);
  assert.deepEqual(json(file.stdout), {
    object: "validation",
    valid: true,
    directoryType: "file",
    warnings: [],
  });
});

Deno.test("config commands name the file and key of an invalid config.json", async () => {
  await using dir = await tempDataDir();
  await Deno.mkdir(dir.dataDir, { mode: 0o700 });
  const file = join(dir.dataDir, "config.json");
  await Deno.writeTextFile(file, '{"sync":{"interval":2}}');
  const invalid = await dir.run(["config", "get", "sync.users"]);
  assert.equal(invalid.code, 2);
  assert.equal(
    invalid.stderr,
    `error: Invalid setting sync.interval in ${file}: 2 is not an integer from 5 to 525600\n` +
      "hint: Set it again with roster config set sync.interval <value>, or roster config unset sync.interval\n",
  );
  await Deno.writeTextFile(file, '{"directory":{"type":"ad"}}');
  const badEnum = await dir.run(["config", "validate"]);
  assert.equal(badEnum.code, 2);
  assert.equal(
    badEnum.stderr,
    `error: Invalid setting directory.type in ${file}: "ad" is not one of ldap, entra, google, okta, onelogin, file\n` +
      "hint: Set it again with roster config set directory.type <value>, or roster config unset directory.type\n",
  );
  await Deno.writeTextFile(file, '{"sync":{"colour":"blue"}}');
  const unknown = await dir.run(["config", "list"]);
  assert.equal(
    unknown.stderr,
    `error: Unknown setting sync.colour in ${file}\nhint: Remove it with roster config unset sync.colour\n`,
  );
  const repaired = await dir.run(["config", "unset", "sync.colour"]);
  assert.equal(repaired.code, 0);
  assert.equal(await Deno.readTextFile(file), "{}\n");
  await Deno.writeTextFile(file, "{not json");
  const broken = await dir.run(["status"]);
  assert.equal(broken.code, 2);
  assert.ok(broken.stderr.startsWith(`error: Cannot read the configuration file ${file}: `));
});

Deno.test("config path prints where the files are", async () => {
  await using dir = await tempDataDir();
  const result = await dir.run(["config", "path", "-o", "json"]);
  assert.deepEqual(json(result.stdout), {
    object: "paths",
    dataDir: dir.dataDir,
    config: join(dir.dataDir, "config.json"),
    state: join(dir.dataDir, "state.kv"),
  });
  const env = await roster(["config", "path"], { env: { ROSTER_DATA_DIR: dir.dataDir } });
  assert.equal(env.stdout, join(dir.dataDir, "config.json") + "\n");
  const xdg = await roster(["config", "path"], {
    env: { ROSTER_DATA_DIR: "", XDG_CONFIG_HOME: dir.root },
  });
  assert.equal(xdg.stdout, join(dir.root, "roster", "config.json") + "\n");
});

Deno.test("config set refuses a source setting that every run would refuse", async () => {
  await using dir = await tempDataDir();
  const httpError = (key: string, host: string) =>
    `error: Invalid ${key}: plain http:// is only allowed for a loopback host, not ${host}\n` +
    `hint: Use https:// in ${key}\n`;
  const cases: [string, string, string, string][] = [
    [
      "entra",
      "directory.entra.graphUrl",
      "http://graph.example.com",
      httpError("directory.entra.graphUrl", "graph.example.com"),
    ],
    [
      "entra",
      "directory.entra.authorityUrl",
      "http://login.example.com",
      httpError("directory.entra.authorityUrl", "login.example.com"),
    ],
    [
      "google",
      "directory.google.apiUrl",
      "http://g.example.com",
      httpError("directory.google.apiUrl", "g.example.com"),
    ],
    [
      "google",
      "directory.google.tokenUrl",
      "http://g.example.com/token",
      httpError("directory.google.tokenUrl", "g.example.com"),
    ],
    [
      "onelogin",
      "directory.onelogin.apiUrl",
      "http://acme.onelogin.com",
      httpError("directory.onelogin.apiUrl", "acme.onelogin.com"),
    ],
    [
      "onelogin",
      "directory.onelogin.subdomain",
      "acme corp",
      'error: Invalid directory.onelogin.subdomain: "acme corp" is not a subdomain\n' +
      "hint: Set directory.onelogin.subdomain to the first part of your OneLogin address: acme for https://acme.onelogin.com\n",
    ],
    [
      "okta",
      "directory.okta.orgUrl",
      "http://acme.okta.com",
      httpError("directory.okta.orgUrl", "acme.okta.com"),
    ],
    [
      "okta",
      "directory.okta.orgUrl",
      "acme.okta.com",
      'error: Invalid directory.okta.orgUrl: "acme.okta.com" is not a URL\n' +
      "hint: Set directory.okta.orgUrl to your org's base URL, e.g. https://acme.okta.com\n",
    ],
    [
      "file",
      "directory.file.encoding",
      "klingon",
      'error: Unknown character encoding in directory.file.encoding: "klingon"\n' +
      "hint: Set directory.file.encoding to auto (UTF-8, or UTF-16 with a byte order mark) or to an encoding name such as windows-1252, iso-8859-15 or utf-16le\n",
    ],
  ];
  for (const [type, key, value, stderr] of cases) {
    assert.equal((await dir.run(["-q", "config", "set", "directory.type", type])).code, 0);
    const result = await dir.run(["config", "set", key, value]);
    assert.equal(result.code, 2, `${key} ${value}`);
    assert.equal(result.stderr, stderr, `${key} ${value}`);
    const stored = await dir.run(["config", "get", key]);
    assert.equal(stored.stdout, key === "directory.file.encoding" ? "auto\n" : "(not set)\n");
  }
});

Deno.test("config validate refuses a hand-edited source setting that every run would refuse", async () => {
  await using dir = await tempDataDir();
  await seedConfig(dir, { directory: { type: "okta", okta: { orgUrl: "http://acme.okta.com" } } });
  const result = await dir.run(["config", "validate"], { env: { OKTA_TOKEN: "t" } });
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    "error: Invalid directory.okta.orgUrl: plain http:// is only allowed for a loopback host, not acme.okta.com\n" +
      "hint: Use https:// in directory.okta.orgUrl\n",
  );
});

Deno.test("config set and config validate say a Google privateKey secret that is not a key is neither form", async () => {
  await using dir = await tempDataDir();
  await seedConfig(dir, {
    directory: { type: "google", google: { adminUser: "admin@example.com" } },
  });
  const error =
    "error: Invalid directory.google.privateKey: the secret is neither a PEM private key nor a service-account JSON key file";
  const set = await dir.run(
    ["config", "set", "directory.google.privateKey", "--secret-env", "KEY"],
    { env: { KEY: "not a key" } },
  );
  assert.equal(set.code, 2);
  assert.equal(set.stderr.split("\n")[0], error);
  // A secret stored before this check (or by an older roster) is named by config validate.
  const store = await openStateStore(join(dir.dataDir, "state.kv"));
  try {
    await store.setSecret("directory.google.privateKey", "not a key");
  } finally {
    store.close();
  }
  const result = await dir.run(["config", "validate"]);
  assert.equal(result.code, 2);
  assert.equal(result.stderr.split("\n")[0], error);
});

Deno.test("config validate warns about CA files that do not exist", async () => {
  await using dir = await tempDataDir();
  const missing = join(dir.root, "missing-ca.pem");
  await seedConfig(dir, {
    server: { caFile: missing },
    directory: {
      type: "file",
      file: { path: join(REPO_ROOT, "demo", "example-ad.ldif") },
      ldap: { tlsCaPath: join(dir.root, "other.pem") },
    },
  });
  const result = await dir.run(["config", "validate", "-o", "json"]);
  assert.equal(result.code, 0);
  assert.deepEqual(json(result.stdout), {
    object: "validation",
    valid: true,
    directoryType: "file",
    warnings: [`server.caFile ${missing} does not exist`],
  });
});

Deno.test("config set directory.type says the type was not changed when a stored filter does not fit it", async () => {
  await using dir = await tempDataDir();
  await dir.run(["-q", "config", "set", "directory.type", "okta"]);
  await dir.run(["-q", "config", "set", "sync.userFilter", "include:a@example.com"]);
  const result = await dir.run(["config", "set", "directory.type", "ldap"]);
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    'error: Directory type not changed to ldap: invalid LDAP filter in sync.userFilter: Expected "(" to start the filter at character 1\n' +
      "hint: Remove the filter first with roster config unset sync.userFilter, then roster config set directory.type ldap, and set the filter again in the ldap syntax\n",
  );
  assert.equal((await dir.run(["config", "get", "directory.type"])).stdout, "okta\n");
  await dir.run(["-q", "config", "unset", "sync.userFilter"]);
  const changed = await dir.run(["config", "set", "directory.type", "ldap"]);
  assert.equal(changed.code, 0, changed.stderr);
});

Deno.test("config validate says 'relative to' only for a relative file path", async () => {
  await using dir = await tempDataDir();
  await seedConfig(dir, { directory: { type: "file", file: { path: "missing.ldif" } } });
  const result = await dir.run(["config", "validate", "-o", "json"], { cwd: dir.root });
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(field(json(result.stdout))["warnings"], [
    `directory.file.path missing.ldif does not exist (relative to ${dir.root})`,
  ]);
});
