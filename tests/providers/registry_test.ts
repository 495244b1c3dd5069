import assert from "node:assert/strict";
import { configSchema, DIRECTORY_TYPES } from "../../src/config/schema.ts";
import { ConfigError } from "../../src/errors.ts";
import { SOURCES, SUPPORTED_TYPES } from "../../src/providers/registry.ts";

const deps = { secret: () => Promise.resolve(undefined), log: () => {} };

Deno.test("SOURCES lists ldap, file and onelogin as supported, and refuses a source not supported yet", () => {
  for (const type of ["file", "ldap", "onelogin"] as const) {
    assert.ok(SUPPORTED_TYPES.includes(type), type);
  }
  for (const type of DIRECTORY_TYPES.filter((t) => !SOURCES[t].supported)) {
    const config = configSchema.parse({ directory: { type } });
    assert.throws(() => SOURCES[type].create(config, deps), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, `Directory type ${type} is not supported yet`);
      return true;
    });
  }
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

Deno.test("describeTarget() shows the LDAP URL with its TLS mode and the file path", () => {
  const ldap = configSchema.parse({
    directory: { type: "ldap", ldap: { hostname: "ldap.example.com", port: 389, startTls: true } },
  });
  assert.equal(SOURCES.ldap.describeTarget(ldap), "ldap://ldap.example.com:389 (StartTLS)");
  const file = configSchema.parse({ directory: { type: "file", file: { path: "dir.ldif" } } });
  assert.equal(SOURCES.file.describeTarget(file), "dir.ldif");
  assert.equal(SOURCES.ldap.describeTarget(configSchema.parse({})), null);
});

Deno.test("every descriptor's secret settings are among its required settings", () => {
  for (const source of Object.values(SOURCES)) {
    for (const key of source.secretSettings) assert.ok(source.requiredSettings.includes(key), key);
  }
});
