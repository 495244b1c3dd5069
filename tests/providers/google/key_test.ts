import assert from "node:assert/strict";
import { ConfigError } from "../../../src/errors.ts";
import { parseServiceAccountKey } from "../../../src/providers/google/key.ts";
import { makeServiceAccountKey, startFakeGoogle } from "../../fakes/google.ts";

const { privateKey: PEM } = await makeServiceAccountKey();

function keyFile(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    type: "service_account",
    project_id: "p",
    private_key_id: "abc123",
    private_key: PEM,
    client_email: "sync@p.iam.gserviceaccount.com",
    client_id: "1",
    ...overrides,
  });
}

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  return "";
}

function rejects(secret: string, message: string, options: { clientEmail?: string } = {}) {
  assert.throws(() => parseServiceAccountKey(secret, options), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.message, message);
    assert.match(error.hint ?? "", /--secret-file|directory\.google\.clientEmail/);
    return true;
  });
}

Deno.test("parseServiceAccountKey() takes client_email, private_key and private_key_id from a JSON key file", () => {
  assert.deepEqual(parseServiceAccountKey(`\n${keyFile()}\n`), {
    clientEmail: "sync@p.iam.gserviceaccount.com",
    privateKey: PEM,
    privateKeyId: "abc123",
    clientId: "1",
  });
  assert.deepEqual(
    parseServiceAccountKey(keyFile(), { clientEmail: "SYNC@p.iam.gserviceaccount.com" }),
    {
      clientEmail: "sync@p.iam.gserviceaccount.com",
      privateKey: PEM,
      privateKeyId: "abc123",
      clientId: "1",
    },
  );
});

Deno.test("parseServiceAccountKey() takes a bare PEM with directory.google.clientEmail", () => {
  assert.deepEqual(parseServiceAccountKey(PEM, { clientEmail: "sync@p.iam.gserviceaccount.com" }), {
    clientEmail: "sync@p.iam.gserviceaccount.com",
    privateKey: PEM,
    privateKeyId: null,
    clientId: null,
  });
  // Pasted from the JSON with literal \n sequences.
  const escaped = PEM.trim().replaceAll("\n", "\\n");
  assert.equal(
    parseServiceAccountKey(escaped, { clientEmail: "a@p.iam.gserviceaccount.com" }).privateKey,
    PEM,
  );
});

Deno.test("parseServiceAccountKey() refuses a bare PEM without directory.google.clientEmail", () => {
  rejects(PEM, "Google service account incomplete: directory.google.clientEmail is not set");
});

Deno.test("parseServiceAccountKey() refuses a key file of another service account than the configured one", () => {
  rejects(
    keyFile(),
    "Google service account mismatch: directory.google.clientEmail is other@p.iam.gserviceaccount.com but the key file belongs to sync@p.iam.gserviceaccount.com",
    { clientEmail: "other@p.iam.gserviceaccount.com" },
  );
});

Deno.test("parseServiceAccountKey() refuses anything but a service-account key, naming the setting", () => {
  const bad = "Invalid directory.google.privateKey: ";
  rejects("", `${bad}it is empty`);
  rejects(
    "hunter2",
    `${bad}the secret is neither a PEM private key nor a service-account JSON key file`,
    { clientEmail: "a@b.c" },
  );
  rejects(
    "{not json",
    `${bad}the secret starts with { but is not valid JSON (${jsonError("{not json")})`,
  );
  rejects("{}", `${bad}the JSON key file has no private_key`);
  rejects('{"private_key": 5}', `${bad}the JSON key file has no private_key`);
  rejects(
    keyFile({ private_key: "secret" }),
    `${bad}private_key of the JSON key file is not a PEM private key`,
  );
  rejects(
    JSON.stringify({ type: "authorized_user", client_id: "x", refresh_token: "y" }),
    `${bad}the JSON file is a credential of type authorized_user, not a service-account key`,
  );
  rejects(keyFile({ client_email: "" }), `${bad}the JSON key file has no client_email`);
  rejects(
    keyFile({ private_key: PEM.replaceAll("PRIVATE KEY", "ENCRYPTED PRIVATE KEY") }),
    `${bad}private_key of the JSON key file is an encrypted private key`,
  );
  rejects(
    PEM.replaceAll("PRIVATE KEY", "RSA PRIVATE KEY"),
    `${bad}the secret is a PKCS#1 RSA key, not the PKCS#8 key Google issues`,
    { clientEmail: "a@b.c" },
  );
  rejects(
    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    `${bad}the secret holds a CERTIFICATE, not a private key`,
    { clientEmail: "a@b.c" },
  );
  rejects(
    "-----BEGIN PRIVATE KEY-----\nnot*base64\n-----END PRIVATE KEY-----\n",
    `${bad}the secret is a damaged PEM block (its base64 body does not decode)`,
    { clientEmail: "a@b.c" },
  );
});

Deno.test("parseServiceAccountKey() reads the fake's downloaded key file into a working credential", async () => {
  const fake = await startFakeGoogle();
  try {
    const key = parseServiceAccountKey(fake.serviceAccount.keyFile);
    assert.equal(key.clientEmail, fake.serviceAccount.clientEmail);
    assert.equal(key.privateKey, fake.serviceAccount.privateKey);
    assert.match(key.privateKeyId ?? "", /^[0-9a-f]{32}$/);
  } finally {
    await fake.stop();
  }
});
