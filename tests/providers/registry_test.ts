import assert from "node:assert/strict";
import { configSchema, DIRECTORY_TYPES } from "../../src/config/schema.ts";
import { ConfigError } from "../../src/errors.ts";
import { defineSource, SOURCES, SUPPORTED_TYPES } from "../../src/providers/registry.ts";

const deps = { secret: () => Promise.resolve(undefined), log: () => {} };

Deno.test("SOURCES reads every directory type bwdc reads, plus files", () => {
  assert.deepEqual([...SUPPORTED_TYPES], [...DIRECTORY_TYPES]);
  for (const type of DIRECTORY_TYPES) assert.equal(SOURCES[type].type, type);
});

Deno.test("defineSource() without a provider factory refuses to create it, naming the type", () => {
  const source = defineSource({
    type: "okta",
    requiredSettings: [],
    secretSettings: [],
    settings: () => ({}),
    filters: () => "engine",
    validateFilters: () => {},
    describeTarget: () => null,
  });
  assert.equal(source.supported, false);
  const config = configSchema.parse({ directory: { type: "okta" } });
  assert.throws(() => source.create(config, deps), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.message, "Directory type okta is not supported yet");
    return true;
  });
});

Deno.test("the file descriptor leaves bwdc set filters to the engine for CSV and JSON, not LDIF", () => {
  const of = (path: string) =>
    SOURCES.file.filters(configSchema.parse({ directory: { type: "file", file: { path } } }));
  assert.equal(of("users.csv"), "engine");
  assert.equal(of("users.json"), "engine");
  assert.equal(of("users.ldif"), "provider");
  assert.equal(
    SOURCES.ldap.filters(configSchema.parse({ directory: { type: "ldap" } })),
    "provider",
  );
});

Deno.test("validateFilters() checks LDAP filter syntax for ldap and LDIF, and nothing for CSV", () => {
  const sync = { userFilter: "(&(objectClass=person)" };
  const ldap = configSchema.parse({ directory: { type: "ldap" }, sync });
  assert.throws(() => SOURCES.ldap.validateFilters(ldap), ConfigError);
  const ldif = configSchema.parse({ directory: { type: "file", file: { path: "a.ldif" } }, sync });
  assert.throws(() => SOURCES.file.validateFilters(ldif), ConfigError);
  const csv = configSchema.parse({
    directory: { type: "file", file: { path: "a.csv" } },
    sync: { userFilter: "include:a@example.com" },
  });
  SOURCES.file.validateFilters(csv);
});

Deno.test("the file descriptor takes the filter syntax from directory.file.format before any path is set", () => {
  const set = { userFilter: "exclude:a@b.c" };
  const csv = configSchema.parse({
    directory: { type: "file", file: { format: "csv" } },
    sync: set,
  });
  assert.equal(SOURCES.file.filters(csv), "engine");
  SOURCES.file.validateFilters(csv);
  const ldif = configSchema.parse({
    directory: { type: "file", file: { format: "ldif", path: "export.txt" } },
    sync: set,
  });
  assert.equal(SOURCES.file.filters(ldif), "provider");
  assert.throws(() => SOURCES.file.validateFilters(ldif), ConfigError);
  // format auto and no path yet: the file's extension will decide, so nothing is refused now.
  const unknown = configSchema.parse({ directory: { type: "file" }, sync: set });
  SOURCES.file.validateFilters(unknown);
});

Deno.test("describeTarget() shows the LDAP URL with its TLS mode and the file path", () => {
  const ldap = configSchema.parse({
    directory: { type: "ldap", ldap: { hostname: "ldap.example.com", port: 389, startTls: true } },
  });
  assert.equal(SOURCES.ldap.describeTarget(ldap), "ldap://ldap.example.com:389 (StartTLS)");
  const file = configSchema.parse({ directory: { type: "file", file: { path: "dir.ldif" } } });
  assert.equal(SOURCES.file.describeTarget(file), "dir.ldif");
  assert.equal(SOURCES.ldap.describeTarget(configSchema.parse({})), null);
});

// directory.entra.key has an alternative (directory.entra.certificatePath): the provider
// requires one of the two (tests/providers/entra/auth_test.ts).
const ALTERNATIVES = new Set(["directory.entra.key"]);

Deno.test("every descriptor's secret settings are among its required settings", () => {
  for (const source of Object.values(SOURCES)) {
    for (const key of source.secretSettings) {
      assert.ok(source.requiredSettings.includes(key) || ALTERNATIVES.has(key), key);
    }
  }
});

Deno.test("validateSettings() refuses what a read refuses, naming the setting, and passes unset settings", () => {
  const bad: [string, Record<string, unknown>, string][] = [
    ["entra", { graphUrl: "http://graph.example.com" }, "directory.entra.graphUrl"],
    ["google", { tokenUrl: "http://oauth.example.com/token" }, "directory.google.tokenUrl"],
    ["okta", { orgUrl: "acme.okta.com" }, "directory.okta.orgUrl"],
    ["onelogin", { subdomain: "acme corp" }, "directory.onelogin.subdomain"],
    ["file", { encoding: "klingon" }, "directory.file.encoding"],
  ];
  for (const [type, settings, key] of bad) {
    const config = configSchema.parse({ directory: { type, [type]: settings } });
    const source = SOURCES[config.directory.type ?? "ldap"];
    assert.throws(() => source.validateSettings(config), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.ok(error.message.includes(key), error.message);
      assert.equal(error.exitCode, 2);
      return true;
    });
  }
  for (const type of DIRECTORY_TYPES) {
    const config = configSchema.parse({ directory: { type } });
    assert.equal(SOURCES[type].validateSettings(config), undefined, type);
  }
});
