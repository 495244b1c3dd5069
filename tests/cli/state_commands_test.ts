import assert from "node:assert/strict";
import { join } from "node:path";
import { main } from "../../main.ts";
import { captureIo } from "../../src/output/render.ts";
import { openStateStore } from "../../src/state/store.ts";
import { field, json, REPO_ROOT, roster, seedConfig, tempDataDir } from "../_helpers.ts";

const USERS = new Date("2026-01-02T03:04:05.678Z");
const GROUPS = new Date("2026-01-02T03:04:06.000Z");

async function seedState(dataDir: string): Promise<void> {
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const store = await openStateStore(join(dataDir, "state.kv"));
  try {
    await store.setSyncTimes({ users: USERS, groups: GROUPS });
    await store.setLastSyncHash("hash");
    await store.setProviderState({ delta: "link" });
    await store.setSecret("directory.ldap.password", "pw");
  } finally {
    store.close();
  }
}

Deno.test("last-sync prints never, then ISO dates per object", async () => {
  await using dir = await tempDataDir();
  assert.equal((await dir.run(["last-sync"])).stdout, "users   never\ngroups  never\n");
  assert.equal((await dir.run(["last-sync", "users"])).stdout, "never\n");
  assert.deepEqual(json((await dir.run(["last-sync", "groups", "-o", "json"])).stdout), {
    object: "last-sync",
    groups: null,
  });
  await seedState(dir.dataDir);
  assert.equal(
    (await dir.run(["last-sync"])).stdout,
    "users   2026-01-02T03:04:05.678Z\ngroups  2026-01-02T03:04:06.000Z\n",
  );
  assert.equal((await dir.run(["last-sync", "USERS"])).stdout, "2026-01-02T03:04:05.678Z\n");
  assert.deepEqual(json((await dir.run(["last-sync", "-o", "json"])).stdout), {
    object: "last-sync",
    users: "2026-01-02T03:04:05.678Z",
    groups: "2026-01-02T03:04:06.000Z",
  });
  const bad = await dir.run(["last-sync", "devices"]);
  assert.equal(bad.code, 2);
  assert.equal(
    bad.stderr,
    "error: Unknown object: devices\n" +
      "hint: Use roster last-sync users, roster last-sync groups, or roster last-sync\n",
  );
});

Deno.test("clear-cache clears sync times, hash and deltas, and nothing else", async () => {
  await using dir = await tempDataDir();
  await seedState(dir.dataDir);
  const result = await dir.run(["clear-cache"]);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, "The sync cache has been cleared\n");
  const json_ = await dir.run(["clear-cache", "-o", "json"]);
  assert.deepEqual(json(json_.stdout), {
    object: "message",
    message: "The sync cache has been cleared",
  });
  const store = await openStateStore(join(dir.dataDir, "state.kv"));
  try {
    assert.deepEqual(await store.getSyncTimes(), { users: undefined, groups: undefined });
    assert.equal(await store.getLastSyncHash(), undefined);
    assert.equal(await store.getProviderState(), undefined);
    assert.equal(await store.getSecret("directory.ldap.password"), "pw");
  } finally {
    store.close();
  }
});

Deno.test("status summarises configuration, login, last syncs and runs", async () => {
  await using dir = await tempDataDir();
  await seedConfig(dir, {
    server: { url: "https://vault.example.com" },
    directory: { type: "ldap", ldap: { hostname: "ldap.example.com", port: 636, ssl: true } },
  });
  await seedState(dir.dataDir);
  const result = await dir.run(["status", "--output", "json"]);
  assert.equal(result.code, 0);
  assert.deepEqual(json(result.stdout), {
    object: "status",
    version: "0.1.0",
    dataDir: dir.dataDir,
    directory: {
      type: "ldap",
      source: "ldaps://ldap.example.com:636",
      missing: ["directory.ldap.rootPath", "directory.ldap.username"],
    },
    server: {
      url: "https://vault.example.com",
      api: "https://vault.example.com/api",
      identity: "https://vault.example.com/identity",
    },
    auth: { loggedIn: false, organizationId: null },
    lastSync: { users: "2026-01-02T03:04:05.678Z", groups: "2026-01-02T03:04:06.000Z" },
    state: { path: join(dir.dataDir, "state.kv"), damaged: null },
    lock: null,
    recentRuns: [],
  });
  const table = await dir.run(["status"]);
  assert.equal(
    table.stdout,
    [
      "version           0.1.0",
      `data directory    ${dir.dataDir}`,
      "directory type    ldap",
      "directory source  ldaps://ldap.example.com:636",
      "missing settings  directory.ldap.rootPath, directory.ldap.username",
      "server            https://vault.example.com",
      "api               https://vault.example.com/api",
      "identity          https://vault.example.com/identity",
      "logged in         no",
      "last user sync    2026-01-02T03:04:05.678Z",
      "last group sync   2026-01-02T03:04:06.000Z",
      "",
      "Recent runs (0)",
      "  (none)",
      "",
    ].join("\n"),
  );
});

Deno.test("history prints nothing recorded yet on a fresh data directory", async () => {
  await using dir = await tempDataDir();
  assert.equal((await dir.run(["history"])).stdout, "No runs recorded yet\n");
  assert.deepEqual(json((await dir.run(["history", "-n", "3", "-o", "json"])).stdout), {
    object: "history",
    runs: [],
  });
  const bad = await dir.run(["history", "--limit", "0"]);
  assert.equal(bad.code, 2);
});

Deno.test("--version prints the version from deno.json", async () => {
  const manifest = JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "deno.json")));
  const result = await roster(["--version"]);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, `${manifest.version}\n`);
});

Deno.test("usage errors exit 2, in table and JSON mode", async () => {
  const unknown = await roster(["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.equal(
    unknown.stderr,
    "error: Unknown command 'frobnicate'\nhint: Run roster --help, or roster <command> --help\n",
  );
  const typo = await roster(["tset", "--output", "json"]);
  assert.equal(typo.code, 2);
  assert.deepEqual(json(typo.stdout), {
    object: "error",
    code: "usage",
    message: "Unknown command 'tset'",
    hint: "Did you mean test? Run roster --help for usage",
    details: { commanderCode: "commander.unknownCommand" },
  });
  const badOption = await roster(["test", "--frob"]);
  assert.equal(badOption.code, 2);
  assert.equal(
    badOption.stderr,
    "error: Unknown option '--frob'\nhint: Run roster --help, or roster <command> --help\n",
  );
  const badOutput = await roster(["status", "--output", "xml"]);
  assert.equal(badOutput.code, 2);
  const noCommand = await roster([]);
  assert.equal(noCommand.code, 2);
  assert.ok(noCommand.stderr.startsWith("Usage: roster [options] [command]"));
});

Deno.test("--help lists the commands and every exit status", async () => {
  const result = await roster(["--help"]);
  assert.equal(result.code, 0);
  for (const command of ["test", "config", "last-sync", "clear-cache", "status", "history"]) {
    assert.match(result.stdout, new RegExp(`^  ${command} `, "m"));
  }
  for (const code of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 130]) {
    assert.match(result.stdout, new RegExp(`^ {2,4}${code}  \\S`, "m"));
  }
  const test = await roster(["test", "--help"]);
  assert.match(test.stdout, /Examples:\n {2}roster test\n/);
});

Deno.test("main() runs in-process and renders errors on the captured streams", async () => {
  await using dir = await tempDataDir();
  const io = captureIo({ env: {} });
  const code = await main(["--data-dir", dir.dataDir, "config", "get", "nope"], io);
  assert.equal(code, 2);
  assert.equal(io.stdout, "");
  assert.equal(
    io.stderr,
    "error: Unknown setting: nope\nhint: roster config list --all shows every setting\n",
  );
  const ok = captureIo({ env: {} });
  assert.equal(await main(["--data-dir", dir.dataDir, "last-sync", "users"], ok), 0);
  assert.equal(ok.stdout, "never\n");
});

Deno.test("status still reports when a stored Google secret is not a key, naming it as missing", async () => {
  await using dir = await tempDataDir();
  await seedConfig(dir, {
    directory: { type: "google", google: { adminUser: "admin@example.com" } },
  });
  const store = await openStateStore(join(dir.dataDir, "state.kv"));
  try {
    await store.setSecret("directory.google.privateKey", "not a key");
  } finally {
    store.close();
  }
  const result = await dir.run(["status", "-o", "json"]);
  assert.equal(result.code, 0, result.stderr);
  const directory = field(json(result.stdout), "directory");
  assert.equal(directory["type"], "google");
  assert.deepEqual(directory["missing"], ["directory.google.privateKey"]);
  assert.match(
    result.stderr,
    /Invalid directory\.google\.privateKey: the secret is neither a PEM private key nor a service-account JSON key file/,
  );
});
