import assert from "node:assert/strict";
import { ConfigError } from "../../../src/errors.ts";
import { checkEndpointUrl, entraEndpoints } from "../../../src/providers/entra/hosts.ts";

Deno.test("entraEndpoints() uses the global cloud's hosts by default", () => {
  assert.deepEqual(
    entraEndpoints({ identityAuthority: "login.microsoftonline.com", tenant: "contoso.com" }),
    {
      tokenUrl: "https://login.microsoftonline.com/contoso.com/oauth2/v2.0/token",
      graphBase: "https://graph.microsoft.com/v1.0",
      scope: "https://graph.microsoft.com/.default",
    },
  );
});

Deno.test("entraEndpoints() sends US Government tenants to graph.microsoft.us", () => {
  assert.deepEqual(
    entraEndpoints({ identityAuthority: "login.microsoftonline.us", tenant: "gov.example" }),
    {
      tokenUrl: "https://login.microsoftonline.us/gov.example/oauth2/v2.0/token",
      graphBase: "https://graph.microsoft.us/v1.0",
      scope: "https://graph.microsoft.us/.default",
    },
  );
});

Deno.test("entraEndpoints() sends China tenants to microsoftgraph.chinacloudapi.cn", () => {
  assert.deepEqual(
    entraEndpoints({ identityAuthority: "login.chinacloudapi.cn", tenant: "cn.example" }),
    {
      tokenUrl: "https://login.chinacloudapi.cn/cn.example/oauth2/v2.0/token",
      graphBase: "https://microsoftgraph.chinacloudapi.cn/v1.0",
      scope: "https://microsoftgraph.chinacloudapi.cn/.default",
    },
  );
});

Deno.test("entraEndpoints() keeps the cloud's scope when authorityUrl and graphUrl point at a fake", () => {
  assert.deepEqual(
    entraEndpoints({
      identityAuthority: "login.microsoftonline.us",
      tenant: "0b6c1b0e-7f7e-4c9e-9a43-1f0e7cbd2a11",
      authorityUrl: "http://127.0.0.1:4001/",
      graphUrl: "http://localhost:4002",
    }),
    {
      tokenUrl: "http://127.0.0.1:4001/0b6c1b0e-7f7e-4c9e-9a43-1f0e7cbd2a11/oauth2/v2.0/token",
      graphBase: "http://localhost:4002/v1.0",
      scope: "https://graph.microsoft.us/.default",
    },
  );
});

Deno.test("entraEndpoints() refuses plain http to a non-loopback host, naming the setting", () => {
  assert.throws(
    () =>
      entraEndpoints({
        identityAuthority: "login.microsoftonline.com",
        tenant: "contoso.com",
        graphUrl: "http://graph.example.com",
      }),
    (error: unknown) =>
      error instanceof ConfigError && error.exitCode === 2 &&
      error.message ===
        "Invalid directory.entra.graphUrl: plain http:// is only allowed for a loopback host, not graph.example.com",
  );
  assert.throws(
    () =>
      entraEndpoints({
        identityAuthority: "login.microsoftonline.com",
        tenant: "contoso.com",
        authorityUrl: "http://10.0.0.1",
      }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message.startsWith("Invalid directory.entra.authorityUrl:"),
  );
});

Deno.test("entraEndpoints() refuses a graphUrl that already ends in the API version", () => {
  assert.throws(
    () =>
      entraEndpoints({
        identityAuthority: "login.microsoftonline.com",
        tenant: "contoso.com",
        graphUrl: "https://graph.microsoft.com/v1.0/",
      }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message ===
        "Invalid directory.entra.graphUrl: https://graph.microsoft.com/v1.0 already names an API version",
  );
});

Deno.test("checkEndpointUrl() refuses non-URLs, other schemes and queries", () => {
  assert.throws(
    () => checkEndpointUrl("graph", "x.graphUrl"),
    /Invalid x\.graphUrl: "graph" is not a URL/,
  );
  assert.throws(
    () => checkEndpointUrl("ftp://a.example", "x.graphUrl"),
    /ftp: URLs are not supported/,
  );
  assert.throws(
    () => checkEndpointUrl("https://a.example/?a=1", "x.graphUrl"),
    /the URL has a query or fragment/,
  );
  assert.equal(
    checkEndpointUrl(" https://proxy.example/graph/ ", "x"),
    "https://proxy.example/graph",
  );
});

Deno.test("entraEndpoints() takes the DoD Graph host as the scope when graphUrl names it", () => {
  assert.deepEqual(
    entraEndpoints({
      identityAuthority: "login.microsoftonline.us",
      tenant: "contoso.onmicrosoft.us",
      graphUrl: "https://dod-graph.microsoft.us",
    }),
    {
      tokenUrl: "https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/token",
      graphBase: "https://dod-graph.microsoft.us/v1.0",
      scope: "https://dod-graph.microsoft.us/.default",
    },
  );
});
