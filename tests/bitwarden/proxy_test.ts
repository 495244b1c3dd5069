import assert from "node:assert/strict";
import { sh } from "../../scripts/_shell.ts";

const MKCERTS_SH = new URL("../../scripts/mkcerts.sh", import.meta.url).pathname;

// Deno's fetch reads HTTPS_PROXY when a process starts, so the client runs in a child process.
// The "proxy" here records the CONNECT line and refuses the tunnel: nothing leaves 127.0.0.1.
Deno.test("the client's requests go through HTTPS_PROXY, with and without server.caFile", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: string[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      const buffer = new Uint8Array(4096);
      const n = await conn.read(buffer);
      seen.push(new TextDecoder().decode(buffer.subarray(0, n ?? 0)).split("\r\n")[0] ?? "");
      await conn.write(
        new TextEncoder().encode("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n"),
      );
      conn.close();
    }
  })();
  const dir = await Deno.makeTempDir({ prefix: "roster-bw-proxy-" });
  try {
    await sh([MKCERTS_SH, dir], { MKCERTS_CN: "roster proxy test CA" });
    const clientUrl = new URL("../../src/bitwarden/client.ts", import.meta.url).href;
    const script = `
      import { BitwardenClient, resolveServerUrls } from ${JSON.stringify(clientUrl)};
      for (const caFile of [undefined, ${JSON.stringify(`${dir}/ca.crt`)}]) {
        const client = new BitwardenClient({
          urls: resolveServerUrls({ url: "https://vault.roster.invalid" }),
          apiKey: { clientId: "organization.4f0b0c5e-2a9e-4a76-9d2c-0d1c1e6c9e11", clientSecret: "s" },
          deviceIdentifier: "d",
          retry: { maxAttempts: 1 },
          ...(caFile === undefined ? {} : { caFile }),
        });
        await client.login().catch(() => {});
        client.close();
      }`;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      env: { HTTPS_PROXY: `http://127.0.0.1:${listener.addr.port}`, NO_PROXY: "" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.success, true, new TextDecoder().decode(output.stderr));
    assert.deepEqual(seen, [
      "CONNECT vault.roster.invalid:443 HTTP/1.1",
      "CONNECT vault.roster.invalid:443 HTTP/1.1",
    ]);
  } finally {
    listener.close();
    await serving.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
