import assert from "node:assert/strict";
import { isLoopbackHost, proxyFor } from "../../src/http/proxy.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];
const PROXY = "http://proxy.corp.test:3128";

Deno.test("proxyFor() uses HTTPS_PROXY for https and HTTP_PROXY for http", () => {
  const vars = env({ HTTPS_PROXY: PROXY, HTTP_PROXY: "http://plain:8080" });
  assert.deepEqual(proxyFor("https://graph.microsoft.com/v1.0/users", vars), {
    kind: "proxy",
    url: PROXY,
  });
  assert.deepEqual(proxyFor("http://example.test/", vars), {
    kind: "proxy",
    url: "http://plain:8080",
  });
  assert.deepEqual(proxyFor("https://example.test/", env({ HTTP_PROXY: PROXY })), {
    kind: "direct",
  });
  assert.deepEqual(proxyFor("https://example.test/", env({ HTTPS_PROXY: "" })), { kind: "direct" });
  assert.deepEqual(proxyFor("https://example.test/", env({})), { kind: "direct" });
});

Deno.test("proxyFor() prefers the lower-case variable, as curl does", () => {
  const vars = env({ HTTPS_PROXY: "http://upper:1", https_proxy: "http://lower:2" });
  assert.deepEqual(proxyFor("https://example.test/", vars), {
    kind: "proxy",
    url: "http://lower:2",
  });
});

Deno.test("proxyFor() keeps loopback direct when NO_PROXY is unset", () => {
  const vars = env({ HTTPS_PROXY: PROXY, HTTP_PROXY: PROXY });
  for (
    const url of [
      "http://127.0.0.1:8080/",
      "http://localhost/",
      "https://[::1]:8443/",
      "http://127.3.4.5/",
      "http://api.localhost/",
    ]
  ) {
    assert.deepEqual(proxyFor(url, vars), { kind: "direct" }, url);
  }
});

Deno.test("proxyFor() lets a set NO_PROXY alone decide, loopback included", () => {
  const empty = env({ HTTP_PROXY: PROXY, NO_PROXY: "" });
  assert.deepEqual(proxyFor("http://127.0.0.1:8080/", empty), { kind: "proxy", url: PROXY });
  const listed = env({ HTTP_PROXY: PROXY, no_proxy: "localhost,127.0.0.1" });
  assert.deepEqual(proxyFor("http://127.0.0.1:8080/", listed), { kind: "direct" });
  assert.deepEqual(proxyFor("http://127.0.0.2:8080/", listed), { kind: "proxy", url: PROXY });
});

Deno.test("proxyFor() matches NO_PROXY domains, subdomains, ports, CIDR ranges and *", () => {
  const vars = env({
    HTTPS_PROXY: PROXY,
    NO_PROXY: "corp.test, .internal.test vault.example.test:8443,10.0.0.0/8,[2001:db8::1]",
  });
  const decide = (url: string) => proxyFor(url, vars).kind;
  assert.equal(decide("https://corp.test/"), "direct");
  assert.equal(decide("https://api.corp.test/"), "direct");
  assert.equal(decide("https://notcorp.test/"), "proxy");
  assert.equal(decide("https://a.internal.test/"), "direct");
  assert.equal(decide("https://internal.test/"), "direct");
  assert.equal(decide("https://vault.example.test:8443/"), "direct");
  assert.equal(decide("https://vault.example.test/"), "proxy");
  assert.equal(decide("https://10.20.30.40/"), "direct");
  assert.equal(decide("https://11.0.0.1/"), "proxy");
  assert.equal(decide("https://[2001:db8::1]/"), "direct");
  assert.equal(
    proxyFor("https://anything.test/", env({ HTTPS_PROXY: PROXY, NO_PROXY: "*" })).kind,
    "direct",
  );
});

Deno.test("isLoopbackHost() knows localhost, 127/8 and ::1 only", () => {
  assert.equal(isLoopbackHost("localhost"), true);
  assert.equal(isLoopbackHost("LOCALHOST"), true);
  assert.equal(isLoopbackHost("127.0.0.1"), true);
  assert.equal(isLoopbackHost("[::1]"), true);
  assert.equal(isLoopbackHost("128.0.0.1"), false);
  assert.equal(isLoopbackHost("localhost.example.test"), false);
  assert.equal(isLoopbackHost("127.0.0.1.example.test"), false);
});
