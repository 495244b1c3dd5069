/**
 * Short reads a real slapd produces: a paged search over the server's total paged size limit
 * (`size.prtotal`, result code 4), and a subtree part held by another server (a `referral`
 * object, sent as a continuation reference). Each is `SourceIncompleteError` (exit 5).
 * @module
 */

import assert from "node:assert/strict";
import { Attribute, Change, Client, Control } from "ldapts";
import { configSchema } from "../../../src/config/schema.ts";
import { SourceIncompleteError } from "../../../src/errors.ts";
import { createLdapProvider } from "../../../src/providers/ldap/mod.ts";
import { killSlapdSync, startSlapd } from "./_slapd.ts";

const USERS = 100;
const slapd = await startSlapd({ generate: { users: USERS, groups: 2, seed: 5 } });
globalThis.addEventListener("unload", () => killSlapdSync(slapd.dir));
const PEOPLE = `ou=people,${slapd.baseDn}`;

async function asAdmin<T>(
  bind: { dn: string; password: string },
  fn: (client: Client) => Promise<T>,
): Promise<T> {
  const client = new Client({ url: `ldap://${slapd.host}:${slapd.port}` });
  try {
    await client.bind(bind.dn, bind.password);
    return await fn(client);
  } finally {
    await client.unbind();
  }
}

async function readUsers(ldap: Record<string, unknown> = {}, password = slapd.adminPassword) {
  const config = configSchema.parse({
    directory: {
      type: "ldap",
      ldap: {
        hostname: slapd.host,
        port: slapd.port,
        rootPath: slapd.baseDn,
        username: slapd.adminDn,
        pageSize: 10,
        connectTimeout: 5,
        timeout: 30,
        ...ldap,
      },
    },
    sync: { userPath: "ou=people", groupPath: "ou=groups" },
  });
  const provider = createLdapProvider({
    settings: { ldap: config.directory.ldap, sync: config.sync },
    secret: () => Promise.resolve(password),
    log: () => {},
  });
  let users = 0;
  for await (const page of provider.read({ users: true, groups: false, mode: "full" })) {
    if (page.kind === "users") users += page.users.length;
  }
  return users;
}

async function incomplete(promise: Promise<unknown>): Promise<SourceIncompleteError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SourceIncompleteError) return error;
    throw error;
  }
  throw new assert.AssertionError({ message: "expected a SourceIncompleteError" });
}

Deno.test("ldap read() throws SourceIncompleteError when a paged search passes the server's size.prtotal", async () => {
  const config = { dn: "cn=admin,cn=config", password: slapd.adminPassword };
  const limits = new Attribute({
    type: "olcLimits",
    values: [
      `dn.exact="${slapd.readerDn}" size.soft=50 size.hard=50 size.pr=unlimited size.prtotal=30`,
    ],
  });
  await asAdmin(
    config,
    (c) =>
      c.modify(
        "olcDatabase={1}mdb,cn=config",
        new Change({ operation: "add", modification: limits }),
      ),
  );
  try {
    const error = await incomplete(
      readUsers({ username: slapd.readerDn }, slapd.readerPassword),
    );
    assert.equal(
      error.message,
      `LDAP users search under ${PEOPLE} was incomplete: size limit exceeded after 30 entries`,
    );
    assert.match(error.hint ?? "", /size\.prtotal/);
  } finally {
    await asAdmin(config, (c) =>
      c.modify(
        "olcDatabase={1}mdb,cn=config",
        new Change({ operation: "delete", modification: limits }),
      ));
  }
});

Deno.test("ldap read() throws SourceIncompleteError for a subtree slapd refers to another server", async () => {
  assert.equal(await readUsers(), USERS);
  const remote = `ou=remote,${PEOPLE}`;
  const admin = { dn: slapd.adminDn, password: slapd.adminPassword };
  await asAdmin(admin, (c) =>
    c.add(remote, {
      objectClass: ["referral", "extensibleObject"],
      ou: "remote",
      ref: `ldap://other.example.com/${remote}`,
    }));
  try {
    const error = await incomplete(readUsers());
    assert.match(
      error.message,
      new RegExp(
        `^LDAP users search under ${PEOPLE} was incomplete: the server holds only part of the ` +
          `subtree and referred roster to another server for ${remote} \\(ldap://other\\.` +
          `example\\.com/${remote}\\?\\?sub\\) after \\d+ entries$`,
      ),
    );
  } finally {
    // ManageDsaIT (RFC 3296): act on the referral object itself.
    await asAdmin(admin, (c) => c.del(remote, new Control("2.16.840.1.113730.3.4.2")));
  }
  assert.equal(await readUsers(), USERS);
});

Deno.test("ldap limits slapd stops", async () => {
  await slapd.stop();
});
