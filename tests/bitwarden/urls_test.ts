import assert from "node:assert/strict";
import { isBitwardenCloud, resolveServerUrls } from "../../src/bitwarden/urls.ts";
import { organizationIdOf } from "../../src/bitwarden/auth.ts";
import { ConfigError } from "../../src/errors.ts";

Deno.test("resolveServerUrls() follows bwdc's rules", () => {
  const us = { api: "https://api.bitwarden.com", identity: "https://identity.bitwarden.com" };
  const eu = {
    api: "https://vault.bitwarden.eu/api",
    identity: "https://vault.bitwarden.eu/identity",
  };
  assert.deepEqual(resolveServerUrls({}), us);
  assert.deepEqual(resolveServerUrls({ url: "bitwarden.com" }), us);
  assert.deepEqual(resolveServerUrls({ url: "https://bitwarden.com/" }), us);
  assert.deepEqual(resolveServerUrls({ url: "eu" }), eu);
  assert.deepEqual(resolveServerUrls({ url: "bitwarden.eu" }), eu);
  assert.deepEqual(resolveServerUrls({ url: "https://vault.bitwarden.eu/" }), eu);
  assert.deepEqual(resolveServerUrls({ url: "vault.example.com//" }), {
    api: "https://vault.example.com/api",
    identity: "https://vault.example.com/identity",
  });
  assert.deepEqual(
    resolveServerUrls({ url: "http://127.0.0.1:8080", api: "api.example.com/" }),
    { api: "https://api.example.com", identity: "http://127.0.0.1:8080/identity" },
  );
  assert.deepEqual(resolveServerUrls({ identity: "https://id.example.com" }), {
    api: "https://api.bitwarden.com",
    identity: "https://id.example.com",
  });
});

Deno.test("resolveServerUrls() names the setting of a bad URL", () => {
  assert.throws(
    () => resolveServerUrls({ api: "https://exa mple.com" }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message === 'Invalid server.api: "https://exa mple.com" is not a URL',
  );
  assert.throws(() => resolveServerUrls({ url: "ftp://x.example" }), {
    message: 'Invalid server.url: "ftp://x.example" is not an http(s) URL',
  });
});

Deno.test("resolveServerUrls() refuses plain http:// to a host that is not loopback", () => {
  for (const setting of ["url", "api", "identity"] as const) {
    assert.throws(
      () => resolveServerUrls({ [setting]: "http://vault.example.com" }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message ===
          `Invalid server.${setting}: plain http:// is only allowed for a loopback host, not vault.example.com` &&
        error.hint ===
          `Use https:// in server.${setting} (or a loopback address such as http://127.0.0.1:8080 for a local test server)` &&
        error.exitCode === 2,
    );
  }
  assert.deepEqual(resolveServerUrls({ url: "http://localhost:8080/" }), {
    api: "http://localhost:8080/api",
    identity: "http://localhost:8080/identity",
  });
});

Deno.test("isBitwardenCloud() is true for the US and EU clouds only", () => {
  assert.equal(isBitwardenCloud(resolveServerUrls({})), true);
  assert.equal(isBitwardenCloud(resolveServerUrls({ url: "eu" })), true);
  assert.equal(isBitwardenCloud(resolveServerUrls({ url: "vault.example.com" })), false);
});

Deno.test("organizationIdOf() returns the lowercase GUID of organization.<guid>", () => {
  assert.equal(
    organizationIdOf("organization.4F0B0C5E-2A9E-4A76-9D2C-0D1C1E6C9E11"),
    "4f0b0c5e-2a9e-4a76-9d2c-0d1c1e6c9e11",
  );
  for (const bad of ["user.4f0b0c5e-2a9e-4a76-9d2c-0d1c1e6c9e11", "organization.", "org"]) {
    assert.throws(() => organizationIdOf(bad), {
      name: "ConfigError",
      message: `Invalid Bitwarden client id "${bad}": expected organization.<organization id>`,
    });
  }
});
