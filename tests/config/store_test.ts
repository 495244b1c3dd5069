import assert from "node:assert/strict";
import { join } from "node:path";
import {
  closeMatches,
  coerceValue,
  findSetting,
  parseConfig,
  readStoredConfig,
  saveConfig,
  setStored,
  SETTINGS,
  unsetStored,
} from "../../src/config/store.ts";
import { SECRET_KEYS } from "../../src/config/schema.ts";
import { ConfigError } from "../../src/errors.ts";

Deno.test("SETTINGS lists every schema leaf and every secret by dot path", () => {
  const keys = SETTINGS.map((setting) => setting.key);
  assert.equal(new Set(keys).size, keys.length);
  for (const secret of SECRET_KEYS) assert.ok(keys.includes(secret), secret);
  assert.deepEqual(keys.slice(0, 6), [
    "server.url",
    "server.api",
    "server.identity",
    "server.caFile",
    "server.maxRequestsPerMinute",
    "directory.type",
  ]);
  assert.equal(keys.at(-1), "sync.maxShrinkPercent");
});

Deno.test("coerceValue() reads booleans case-insensitively and refuses other words", () => {
  const setting = findSetting("sync.removeDisabled");
  assert.equal(coerceValue(setting, "True"), true);
  assert.equal(coerceValue(setting, "FALSE"), false);
  assert.throws(() => coerceValue(setting, "1"), ConfigError);
});

Deno.test("coerceValue() reads integers within range, and numbers", () => {
  assert.equal(coerceValue(findSetting("directory.ldap.port"), " 636 "), 636);
  assert.throws(() => coerceValue(findSetting("directory.ldap.port"), "0"), {
    message: 'Invalid value for directory.ldap.port: "0" is not an integer from 1 to 65535',
  });
  assert.throws(() => coerceValue(findSetting("sync.maxRemovals"), "1.5"), {
    message: 'Invalid value for sync.maxRemovals: "1.5" is not an integer of at least 0',
  });
  assert.equal(coerceValue(findSetting("sync.maxRemovalsPercent"), "12.5"), 12.5);
  assert.throws(() => coerceValue(findSetting("sync.maxRemovalsPercent"), "101"), ConfigError);
});

Deno.test("coerceValue() maps enums case-insensitively and bwdc's numeric types", () => {
  assert.equal(coerceValue(findSetting("directory.file.format"), "CSV"), "csv");
  assert.equal(coerceValue(findSetting("directory.type"), "3"), "okta");
  assert.throws(() => coerceValue(findSetting("directory.onelogin.region"), "asia"), {
    message: 'Invalid value for directory.onelogin.region: "asia" is not one of us, eu',
  });
});

Deno.test("coerceValue() normalises server URLs and refuses empty strings", () => {
  assert.equal(
    coerceValue(findSetting("server.url"), "vault.example.com/"),
    "https://vault.example.com",
  );
  assert.equal(coerceValue(findSetting("server"), "EU"), "eu");
  assert.throws(() => coerceValue(findSetting("sync.userFilter"), "  "), ConfigError);
});

Deno.test("findSetting() is case-insensitive, knows aliases, and suggests close matches", () => {
  assert.equal(
    findSetting("SYNC.INVITEUSERSAFTERPROVISIONING").key,
    "sync.inviteUsersAfterProvisioning",
  );
  assert.equal(findSetting("azure.key").key, "directory.entra.key");
  assert.equal(findSetting("gsuite.key").key, "directory.google.privateKey");
  assert.deepEqual(closeMatches("directory.ldap.hostnam"), ["directory.ldap.hostname"]);
  assert.throws(() => findSetting("hostname"), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.details, { key: "hostname", suggestions: ["directory.ldap.hostname"] });
    return true;
  });
});

Deno.test("setStored() and unsetStored() edit copies and drop empty sections", () => {
  const original = {};
  const set = setStored(original, "directory.ldap.hostname", "h");
  assert.deepEqual(original, {});
  assert.deepEqual(set, { directory: { ldap: { hostname: "h" } } });
  assert.deepEqual(unsetStored(set, "directory.ldap.hostname"), {});
});

Deno.test("parseConfig() names the file and key of invalid content", () => {
  assert.throws(() => parseConfig({ sync: { users: "yes" } }, "/x/config.json"), {
    message: 'Invalid setting sync.users in /x/config.json: "yes" is not true or false',
  });
  assert.throws(() => parseConfig({ directory: { ldap: { password: "pw" } } }, "/x/config.json"), {
    message: "Secret directory.ldap.password must not be stored in /x/config.json",
  });
  assert.equal(parseConfig({}, "/x/config.json").sync.interval, 5);
});

Deno.test("saveConfig() writes atomically with mode 0600 and refuses an invalid config", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "config.json");
    await saveConfig(file, { sync: { interval: 10, users: false } });
    assert.equal(
      await Deno.readTextFile(file),
      '{\n  "sync": {\n    "users": false,\n    "interval": 10\n  }\n}\n',
    );
    assert.equal(((await Deno.stat(file)).mode ?? 0) & 0o777, 0o600);
    await assert.rejects(() => saveConfig(file, { sync: { interval: 1 } }), ConfigError);
    assert.deepEqual(await readStoredConfig(file), { sync: { users: false, interval: 10 } });
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name),
      ["config.json"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
