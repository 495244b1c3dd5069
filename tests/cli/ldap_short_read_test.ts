/**
 * `roster sync` against an LDAP server that dies or ends the read short mid-page: exit 5
 * (SourceIncompleteError) within seconds, nothing sent to the organization, the lock released.
 * @module
 */

import assert from "node:assert/strict";
import { startFakeLdapServer, type Step } from "../fakes/ldap_server.ts";
import { doc, syncEnv } from "./_sync_env.ts";

const BASE = "dc=example,dc=com";
const person = (uid: string): Step => ({
  entry: {
    dn: `uid=${uid},${BASE}`,
    attributes: { objectClass: ["person"], uid: [uid], mail: [`${uid}@example.com`] },
  },
});

const CASES: [string, Step[], string][] = [
  ["stops answering", ["stall"], "the server stopped answering after 2 entries"],
  ["closes the connection", ["close"], "the connection was lost after 2 entries"],
  [
    "sends a continuation reference",
    [{ reference: [`ldap://other.example.com/ou=b,${BASE}??sub`] }, { done: { cookie: "" } }],
    "the server holds only part of the subtree and referred roster to another server for " +
    `ou=b,${BASE} (ldap://other.example.com/ou=b,${BASE}??sub) after 2 entries`,
  ],
];

for (const [what, last, said] of CASES) {
  Deno.test(`roster sync exits 5, sends nothing and releases the lock when the LDAP server ${what} mid-read`, async () => {
    await using server = startFakeLdapServer({
      search: (r) =>
        r.cookie === "" ? [person("ann"), person("ben"), { done: { cookie: "p1" } }] : last,
    });
    await using env = await syncEnv();
    await env.login();
    await env.writeConfig({
      directory: {
        type: "ldap",
        ldap: {
          hostname: "127.0.0.1",
          port: server.port,
          rootPath: BASE,
          username: `cn=admin,${BASE}`,
          pageSize: 2,
          connectTimeout: 1,
          timeout: 120,
        },
      },
    });
    const set = await env.run(
      ["config", "set", "directory.ldap.password", "--secret-env", "PW"],
      { env: { PW: "secret" } },
    );
    assert.equal(set.code, 0, set.stderr);
    const result = await env.run(["sync"]);
    assert.equal(result.code, 5, result.stderr);
    // Users and groups are read at once; whichever search meets the fault first reports it.
    const line = result.stderr.split("\n")[0] ?? "";
    assert.ok(
      [`users`, `groups`].some((side) =>
        line === `error: LDAP ${side} search under ${BASE} was incomplete: ${said}`
      ),
      result.stderr,
    );
    assert.equal(env.imports().length, 0);
    const status = doc((await env.run(["status", "--output", "json"])).stdout);
    assert.equal(status["lock"], null);
  });
}
