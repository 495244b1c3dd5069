/**
 * Paged LDAP searches through pages that come back empty with a cookie to continue (AD does
 * this), against a small fake LDAP server: ldapts' own `searchPaginated` stops there, roster
 * must not.
 * @module
 */

import assert from "node:assert/strict";
import { Client } from "ldapts";
import { configSchema } from "../../../src/config/schema.ts";
import { createLdapProvider } from "../../../src/providers/ldap/mod.ts";
import type { DirectoryUser } from "../../../src/engine/types.ts";
import { type FakePage, pageCookie, startFakeLdap } from "../../fakes/ldap_server.ts";

const BASE = "dc=example,dc=com";
const person = (uid: string) => ({
  dn: `uid=${uid},${BASE}`,
  attributes: { objectClass: ["person"], uid: [uid], mail: [`${uid}@example.com`] },
});

// Two entries, two empty pages that still carry a cookie, then the last entry.
const PAGES: FakePage[] = [
  { entries: [person("ann"), person("ben")], cookie: pageCookie(1) },
  { entries: [], cookie: pageCookie(2) },
  { entries: [], cookie: pageCookie(3) },
  { entries: [person("cat")], cookie: "" },
];

async function readUsers(port: number): Promise<DirectoryUser[]> {
  const config = configSchema.parse({
    directory: {
      type: "ldap",
      ldap: {
        hostname: "127.0.0.1",
        port,
        rootPath: BASE,
        username: `cn=admin,${BASE}`,
        pageSize: 2,
        connectTimeout: 5,
        timeout: 10,
      },
    },
  });
  const provider = createLdapProvider({
    settings: { ldap: config.directory.ldap, sync: config.sync },
    secret: () => Promise.resolve("secret"),
    log: () => {},
  });
  const users: DirectoryUser[] = [];
  for await (const page of provider.read({ users: true, groups: false, mode: "full" })) {
    if (page.kind === "users") users.push(...page.users);
  }
  return users;
}

Deno.test("ldapts searchPaginated() stops at a page that is empty but has a cookie", async () => {
  await using server = startFakeLdap(PAGES);
  const client = new Client({ url: `ldap://127.0.0.1:${server.port}` });
  try {
    await client.bind(`cn=admin,${BASE}`, "secret");
    let count = 0;
    for await (const page of client.searchPaginated(BASE, { paged: { pageSize: 2 } })) {
      count += page.searchEntries.length;
    }
    // This is the short read roster's own paging avoids.
    assert.equal(count, 2);
    assert.deepEqual(server.requests, ["", "p1"]);
  } finally {
    await client.unbind();
  }
});

Deno.test("ldap read() follows the cookie through empty pages and reads every entry", async () => {
  await using server = startFakeLdap(PAGES);
  const users = await readUsers(server.port);
  assert.deepEqual(users.map((u) => u.referenceId), [
    `uid=ann,${BASE}`,
    `uid=ben,${BASE}`,
    `uid=cat,${BASE}`,
  ]);
  assert.deepEqual(server.requests, ["", "p1", "p2", "p3"]);
});
