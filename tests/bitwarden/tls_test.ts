import assert from "node:assert/strict";
import { BitwardenClient, resolveServerUrls } from "../../src/bitwarden/client.ts";
import { BitwardenUnavailableError, ConfigError } from "../../src/errors.ts";
import { type FakeBitwarden, startFakeBitwarden } from "../fakes/bitwarden.ts";

/** A throwaway CA and a server certificate for IP 127.0.0.1, made with openssl. */
async function makeCertificates(): Promise<{ dir: string; ca: string; cert: string; key: string }> {
  const dir = await Deno.makeTempDir({ prefix: "roster-bw-tls-" });
  const run = async (args: string[]) => {
    const output = await new Deno.Command("openssl", {
      args,
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    })
      .output();
    if (!output.success) {
      throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(output.stderr)}`);
    }
  };
  await run([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "2",
    "-sha256",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-subj",
    "/CN=roster test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await run([
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-sha256",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  ]);
  await Deno.writeTextFile(
    `${dir}/server.ext`,
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
  );
  await run([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-sha256",
    "-extfile",
    "server.ext",
    "-out",
    "server.pem",
  ]);
  return {
    dir,
    ca: `${dir}/ca.pem`,
    cert: await Deno.readTextFile(`${dir}/server.pem`),
    key: await Deno.readTextFile(`${dir}/server.key`),
  };
}

function clientFor(fake: FakeBitwarden, caFile?: string): BitwardenClient {
  return new BitwardenClient({
    urls: resolveServerUrls(fake.serverConfig),
    apiKey: fake.credentials,
    deviceIdentifier: "d",
    sleep: () => Promise.resolve(),
    ...(caFile === undefined ? {} : { caFile }),
  });
}

Deno.test("server.caFile lets the client trust a server signed by a private CA", async () => {
  const certs = await makeCertificates();
  const fake = await startFakeBitwarden({ tls: { cert: certs.cert, key: certs.key } });
  try {
    assert.match(fake.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const trusting = clientFor(fake, certs.ca);
    try {
      assert.equal((await trusting.listMembers())?.length, 1);
      await trusting.importOrganization({
        groups: [],
        members: [{ email: "a@x.test", externalId: "a", deleted: false }],
        overwriteExisting: false,
        largeImport: false,
        inviteUsersAfterProvisioning: false,
      });
    } finally {
      trusting.close();
    }
    const plain = clientFor(fake);
    try {
      const error = await plain.login().then(() => null, (e) => e);
      assert.ok(error instanceof BitwardenUnavailableError);
      assert.match(
        error.message,
        /^Cannot reach Bitwarden: TLS failed for https:\/\/127\.0\.0\.1:\d+\/identity\/connect\/token: .*UnknownIssuer/,
      );
      assert.match(error.hint ?? "", /server\.caFile/);
    } finally {
      plain.close();
    }
  } finally {
    await fake.close();
    await Deno.remove(certs.dir, { recursive: true });
  }
});

Deno.test("a missing or non-PEM server.caFile is a ConfigError naming the setting", async () => {
  const dir = await Deno.makeTempDir({ prefix: "roster-bw-ca-" });
  try {
    const fake = await startFakeBitwarden();
    try {
      const missing = clientFor(fake, `${dir}/nope.pem`);
      await assert.rejects(
        missing.login(),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.message.startsWith(`Cannot read server.caFile "${dir}/nope.pem": `),
      );
      missing.close();
      await Deno.writeTextFile(`${dir}/junk.pem`, "not a certificate");
      const junk = clientFor(fake, `${dir}/junk.pem`);
      await assert.rejects(junk.login(), {
        name: "ConfigError",
        message: `Invalid server.caFile "${dir}/junk.pem": it holds no PEM certificate`,
      });
      junk.close();
    } finally {
      await fake.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
