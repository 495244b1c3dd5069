import assert from "node:assert/strict";
import { BitwardenClient, resolveServerUrls } from "../../src/bitwarden/client.ts";
import { BitwardenUnavailableError, ConfigError } from "../../src/errors.ts";
import { type FakeBitwarden, startFakeBitwarden } from "../fakes/bitwarden.ts";
import { sh } from "../../scripts/_shell.ts";

const MKCERTS_SH = new URL("../../scripts/mkcerts.sh", import.meta.url).pathname;

/** A throwaway CA and a server certificate for IP 127.0.0.1, made by `scripts/mkcerts.sh`. */
async function makeCertificates(): Promise<{ dir: string; ca: string; cert: string; key: string }> {
  const dir = await Deno.makeTempDir({ prefix: "roster-bw-tls-" });
  await sh([MKCERTS_SH, dir], { MKCERTS_SAN: "IP:127.0.0.1", MKCERTS_SERVER_CN: "127.0.0.1" });
  return {
    dir,
    ca: `${dir}/ca.crt`,
    cert: await Deno.readTextFile(`${dir}/server.crt`),
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
