import assert from "node:assert/strict";
import { configSchema } from "../../../src/config/schema.ts";
import { validateConfig } from "../../../src/config/store.ts";
import { ConfigError } from "../../../src/errors.ts";
import { SOURCES } from "../../../src/providers/registry.ts";

const PEM = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n";
const KEY_FILE = JSON.stringify({
  type: "service_account",
  client_email: "sync@p.iam.gserviceaccount.com",
  private_key: PEM,
});

function config(google: Record<string, unknown>, sync: Record<string, unknown> = {}) {
  return configSchema.parse({ directory: { type: "google", google }, sync });
}

const secretOf = (value: string | undefined) => (key: string) =>
  Promise.resolve(key === "directory.google.privateKey" ? value : undefined);

Deno.test("the google descriptor requires clientEmail only when the key is a bare PEM", async () => {
  const google = SOURCES.google;
  assert.equal(google.supported, true);
  assert.equal(google.readsDeltas, false);
  const admin = { adminUser: "admin@example.com" };
  assert.deepEqual(await google.missingSettings(config(admin), secretOf(KEY_FILE)), []);
  assert.deepEqual(await google.missingSettings(config(admin), secretOf(PEM)), [
    "directory.google.clientEmail",
  ]);
  assert.deepEqual(
    await google.missingSettings(
      config({ ...admin, clientEmail: "sync@p.iam.gserviceaccount.com" }),
      secretOf(PEM),
    ),
    [],
  );
  assert.deepEqual(await google.missingSettings(config({}), secretOf(undefined)), [
    "directory.google.adminUser",
    "directory.google.privateKey",
  ]);
});

Deno.test("validateConfig() names clientEmail for a PEM key without it, and needs no domain", async () => {
  await validateConfig(config({ adminUser: "admin@example.com" }), {
    secret: secretOf(KEY_FILE),
  });
  await assert.rejects(
    validateConfig(config({ adminUser: "admin@example.com" }), { secret: secretOf(PEM) }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(
        error.message,
        "Directory configuration incomplete: directory.google.clientEmail is not set",
      );
      return true;
    },
  );
});

Deno.test("the google descriptor leaves sets to the engine and checks both filters", () => {
  const ok = config({}, { userFilter: "include:a@example.com|isSuspended=false" });
  assert.equal(SOURCES.google.filters(ok), "engine");
  SOURCES.google.validateFilters(ok);
  assert.throws(
    () => SOURCES.google.validateFilters(config({}, { groupFilter: "|owner=x" })),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(
        error.message,
        'Invalid sync.groupFilter "owner=x": owner is not a field of Google\'s group search',
      );
      return true;
    },
  );
});

Deno.test("describeTarget() shows the admin user and the scope of the read", () => {
  assert.equal(SOURCES.google.describeTarget(config({})), null);
  assert.equal(
    SOURCES.google.describeTarget(config({ adminUser: "admin@example.com" })),
    "Google Workspace as admin@example.com (every domain)",
  );
  assert.equal(
    SOURCES.google.describeTarget(config({ adminUser: "a@x.com", customer: "C01" })),
    "Google Workspace as a@x.com (customer C01)",
  );
  assert.equal(
    SOURCES.google.describeTarget(config({ adminUser: "a@x.com", domain: "x.org" })),
    "Google Workspace as a@x.com (x.org)",
  );
});
