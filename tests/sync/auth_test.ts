import assert from "node:assert/strict";
import { join } from "node:path";
import { UsageError } from "../../src/errors.ts";
import { captureIo } from "../../src/output/render.ts";
import { resolveApiKey } from "../../src/sync/auth.ts";

const ID = "organization.1c2d3e4f-0000-4000-8000-000000000001";

Deno.test("resolveApiKey() prefers options, then ROSTER_*, then bwdc's BW_*", async () => {
  const io = captureIo({
    env: {
      ROSTER_CLIENT_ID: "organization.roster",
      BW_CLIENTID: "organization.bw",
      ROSTER_CLIENT_SECRET: "roster-secret",
      BW_CLIENTSECRET: "bw-secret",
    },
  });
  assert.deepEqual(await resolveApiKey(io, { clientId: ID }), {
    clientId: ID,
    clientSecret: "roster-secret",
    clientIdFrom: "--client-id",
    clientSecretFrom: "ROSTER_CLIENT_SECRET",
  });
  const bw = captureIo({ env: { BW_CLIENTID: ID, BW_CLIENTSECRET: " bw-secret\n" } });
  assert.deepEqual(await resolveApiKey(bw, {}), {
    clientId: ID,
    clientSecret: "bw-secret",
    clientIdFrom: "BW_CLIENTID",
    clientSecretFrom: "BW_CLIENTSECRET",
  });
});

Deno.test("resolveApiKey() reads the secret from a file or from stdin when it is not a terminal", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "secret");
    await Deno.writeTextFile(file, "file-secret\nignored\n");
    const io = captureIo({ env: { ROSTER_CLIENT_SECRET: "env" } });
    const fromFile = await resolveApiKey(io, { clientId: ID, clientSecretFile: file });
    assert.equal(fromFile.clientSecret, "file-secret");
    assert.equal(fromFile.clientSecretFrom, "--client-secret-file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const piped = await resolveApiKey(captureIo({ stdin: "piped-secret\n" }), { clientId: ID });
  assert.equal(piped.clientSecret, "piped-secret");
  assert.equal(piped.clientSecretFrom, "stdin");
});

Deno.test("resolveApiKey() fails with a usage error when a part is missing", async () => {
  await assert.rejects(resolveApiKey(captureIo(), {}), (error: unknown) => {
    assert.ok(error instanceof UsageError);
    assert.equal(error.message, "Missing the Bitwarden client id");
    return true;
  });
  await assert.rejects(resolveApiKey(captureIo(), { clientId: ID }), (error: unknown) => {
    assert.ok(error instanceof UsageError);
    assert.equal(error.message, "Missing the Bitwarden client secret");
    assert.match(error.hint ?? "", /never taken as a command-line value/);
    return true;
  });
});
