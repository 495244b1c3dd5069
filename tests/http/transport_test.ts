import assert from "node:assert/strict";
import { createHttpClient } from "../../src/http/client.ts";
import { sh } from "../../scripts/_shell.ts";

const MKCERTS_SH = new URL("../../scripts/mkcerts.sh", import.meta.url).pathname;

/** A "proxy" that answers every request itself and records its request line. */
function fakeProxy(): { url: string; lines: string[]; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const lines: string[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      const buffer = new Uint8Array(4096);
      const n = await conn.read(buffer);
      lines.push(new TextDecoder().decode(buffer.subarray(0, n ?? 0)).split("\r\n")[0] ?? "");
      await conn.write(
        new TextEncoder().encode('HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n"proxy"'),
      );
      conn.close();
    }
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    lines,
    async close() {
      listener.close();
      await serving.catch(() => {});
    },
  };
}

Deno.test("a loopback request is direct unless NO_PROXY is set, then it goes through HTTP_PROXY", async () => {
  const proxy = fakeProxy();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => Response.json("direct"),
  );
  const target = `http://127.0.0.1:${server.addr.port}/users`;
  try {
    const direct = createHttpClient({
      env: (name) => name === "HTTP_PROXY" ? proxy.url : undefined,
    });
    assert.equal((await direct.json({ url: target })).body, "direct");
    direct.close();
    const proxied = createHttpClient({
      env: (name) => name === "HTTP_PROXY" ? proxy.url : name === "NO_PROXY" ? "" : undefined,
    });
    assert.equal((await proxied.json({ url: target })).body, "proxy");
    proxied.close();
    assert.deepEqual(proxy.lines, [`GET ${target} HTTP/1.1`]);
  } finally {
    await server.shutdown();
    await proxy.close();
  }
});

Deno.test("caFile is trusted for HTTPS, also on a direct connection while a proxy is configured", async () => {
  const dir = await Deno.makeTempDir({ prefix: "roster-http-tls-" });
  const proxy = fakeProxy();
  try {
    await sh([MKCERTS_SH, dir], { MKCERTS_SAN: "IP:127.0.0.1", MKCERTS_SERVER_CN: "127.0.0.1" });
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(`${dir}/server.crt`),
      key: await Deno.readTextFile(`${dir}/server.key`),
      onListen() {},
    }, () => Response.json("tls"));
    const url = `https://127.0.0.1:${server.addr.port}/`;
    try {
      const plain = createHttpClient({ env: () => undefined });
      assert.equal(await plain.json({ url }).then(() => "ok", (e) => e.phase), "tls");
      plain.close();
      for (
        const env of [
          () => undefined,
          (name: string) => name === "HTTPS_PROXY" ? proxy.url : undefined,
        ]
      ) {
        const trusting = createHttpClient({ caFile: `${dir}/ca.crt`, env });
        assert.equal((await trusting.json({ url })).body, "tls");
        trusting.close();
      }
      assert.deepEqual(proxy.lines, []);
    } finally {
      await server.shutdown();
    }
  } finally {
    await proxy.close();
    await Deno.remove(dir, { recursive: true });
  }
});
