/**
 * Every way an LDAP read can end short while looking successful, and every way the server can
 * die, against a small scriptable fake LDAP server (`tests/fakes/ldap_server.ts`): each ends in
 * `SourceIncompleteError` (exit 5) or, before any data, `DirectoryError`, within seconds.
 * @module
 */

import assert from "node:assert/strict";
import { fails } from "../../_helpers.ts";
import { configSchema } from "../../../src/config/schema.ts";
import { DirectoryError, SourceIncompleteError } from "../../../src/errors.ts";
import { createLdapProvider } from "../../../src/providers/ldap/mod.ts";
import { WHO_AM_I_OID } from "../../../src/providers/ldap/liveness.ts";
import { merge } from "../../../src/providers/ldap/search.ts";
import type { DirectoryPage } from "../../../src/providers/provider.ts";
import type { ReadCounters } from "../../../src/output/progress.ts";
import { type FakeScript, startFakeLdapServer, type Step } from "../../fakes/ldap_server.ts";

const BASE = "dc=example,dc=com";
const person = (uid: string): Step => ({
  entry: {
    dn: `uid=${uid},${BASE}`,
    attributes: { objectClass: ["person"], uid: [uid], mail: [`${uid}@example.com`] },
  },
});

interface Outcome {
  users: string[];
  groups: { name: string; members: number }[];
  notices: string[];
  progress: ReadCounters[];
}

async function read(
  script: FakeScript,
  options: { ldap?: Record<string, unknown>; users?: boolean; groups?: boolean } = {},
): Promise<{ outcome: Outcome; server: ReturnType<typeof startFakeLdapServer> }> {
  const server = startFakeLdapServer(script);
  const config = configSchema.parse({
    directory: {
      type: "ldap",
      ldap: {
        hostname: "127.0.0.1",
        port: server.port,
        rootPath: BASE,
        username: `cn=admin,${BASE}`,
        pageSize: 2,
        connectTimeout: 1,
        timeout: 60,
        ...options.ldap,
      },
    },
  });
  const outcome: Outcome = { users: [], groups: [], notices: [], progress: [] };
  const provider = createLdapProvider({
    settings: { ldap: config.directory.ldap, sync: config.sync },
    secret: () => Promise.resolve("secret"),
    log: () => {},
    progress: (counters) => outcome.progress.push(counters),
  });
  try {
    const pages = provider.read({
      users: options.users ?? true,
      groups: options.groups ?? false,
      mode: "full",
    });
    for await (const page of pages as AsyncIterable<DirectoryPage>) {
      if (page.kind === "users") outcome.users.push(...page.users.map((u) => u.referenceId));
      if (page.kind === "groups") {
        outcome.groups.push(...page.groups.map((g) => ({
          name: g.name,
          members: g.memberRefs.length,
        })));
      }
      if (page.kind === "notice") outcome.notices.push(`${page.level}: ${page.message}`);
    }
  } catch (error) {
    await server.close();
    throw error;
  }
  await server.close();
  return { outcome, server };
}

/** Two pages of two users, then `last` answers the third request. */
const threePages = (last: Step[]): FakeScript => ({
  search: (r) =>
    r.cookie === ""
      ? [person("ann"), person("ben"), { done: { cookie: "p1" } }]
      : r.cookie === "p1"
      ? [person("cat"), person("dan"), { done: { cookie: "p2" } }]
      : last,
});

const HEAD = `LDAP users search under ${BASE} was incomplete`;

Deno.test("ldap read() reads every page and reports progress once per page and when done", async () => {
  const { outcome } = await read(threePages([person("eve"), { done: { cookie: "" } }]));
  assert.equal(outcome.users.length, 5);
  assert.deepEqual(outcome.progress, [
    { objects: 2, requests: 1, throttleWaits: 0 },
    { objects: 4, requests: 2, throttleWaits: 0 },
    { objects: 5, requests: 3, throttleWaits: 0 },
    { objects: 5, requests: 3, throttleWaits: 0, done: true },
  ]);
});

const CODES: [number, string][] = [
  [4, "size limit exceeded after 4 entries"],
  [3, "time limit exceeded after 4 entries"],
  [11, "administrative limit exceeded after 4 entries"],
  [10, "the server referred roster to another server (referral: go away) after 4 entries"],
  [9, "the server referred roster to another server (partial results: go away) after 4 entries"],
  [12, "the server does not support a control roster marked critical after 4 entries"],
  [51, "the server is busy (go away) after 4 entries"],
  [52, "the server is unavailable (go away) after 4 entries"],
  [53, "the server is unwilling (go away) after 4 entries"],
  [80, "go away after 4 entries"],
];

for (const [code, said] of CODES) {
  Deno.test(`ldap read() throws SourceIncompleteError for result code ${code} on a later page`, async () => {
    const error = await fails(
      read(threePages([person("eve"), { done: { code, message: "go away" } }])),
      SourceIncompleteError,
    );
    assert.equal(error.exitCode, 5);
    assert.equal(error.message, `${HEAD}: ${said}`);
  });
}

Deno.test("ldap read() throws SourceIncompleteError naming a continuation reference to another server", async () => {
  const uri = `ldap://other.example.com/ou=sales,${BASE}??sub`;
  const error = await fails(
    read(threePages([person("eve"), { reference: [uri] }, { done: { cookie: "" } }])),
    SourceIncompleteError,
  );
  assert.equal(
    error.message,
    `${HEAD}: the server holds only part of the subtree and referred roster to another server ` +
      `for ou=sales,${BASE} (${uri}) after 4 entries`,
  );
  assert.match(error.hint ?? "", /directory\.ldap\.hostname/);
});

Deno.test("ldap read() completes past references to AD's DNS partitions, with an info notice", async () => {
  const uri = `ldap://ForestDnsZones.example.com/DC=ForestDnsZones,${BASE}`;
  const { outcome } = await read(
    threePages([person("eve"), { reference: [uri] }, { done: { cookie: "" } }]),
  );
  assert.equal(outcome.users.length, 5);
  assert.deepEqual(outcome.notices, [
    "info: LDAP: 1 continuation reference(s) to Active Directory's DNS and configuration " +
    `partitions not followed (they hold no users or groups): ${uri}`,
  ]);
});

Deno.test("ldap read() throws SourceIncompleteError when a later page has no paged-results control", async () => {
  const error = await fails(read(threePages([person("eve"), { done: {} }])), SourceIncompleteError);
  assert.equal(
    error.message,
    `${HEAD}: the server stopped paging, page 3 came back without the paged-results control ` +
      "after 5 entries",
  );
});

Deno.test("ldap read() takes a first answer without a paged-results control as the whole result", async () => {
  const { outcome, server } = await read({
    search: () => [person("ann"), person("ben"), person("cat"), { done: {} }],
  });
  assert.equal(outcome.users.length, 3);
  assert.equal(server.searches.length, 1);
});

Deno.test("ldap read() throws SourceIncompleteError on a Notice of Disconnection mid-search", async () => {
  const error = await fails(
    read(threePages([person("eve"), { notice: "server shutting down" }])),
    SourceIncompleteError,
  );
  assert.equal(error.message, `${HEAD}: the connection was lost after 4 entries`);
});

for (const how of ["close", "halfClose"] as const) {
  Deno.test(`ldap read() throws SourceIncompleteError when the server does ${how} mid-page`, async () => {
    const error = await fails(read(threePages([person("eve"), how])), SourceIncompleteError);
    assert.equal(error.message, `${HEAD}: the connection was lost after 4 entries`);
  });
}

Deno.test("ldap read() gives up a server that keeps the socket open but stops answering mid-page", async () => {
  const error = await fails(read(threePages([person("eve"), "stall"])), SourceIncompleteError);
  assert.equal(error.message, `${HEAD}: the server stopped answering after 4 entries`);
  assert.match(error.hint ?? "", /^No answer from the server for 6 s, not even to a Who am I\?/);
});

Deno.test("ldap read() waits for a slow server that still answers Who am I?", async () => {
  const { outcome, server } = await read(
    threePages([{ wait: 4_000 }, person("eve"), { done: { cookie: "" } }]),
  );
  assert.equal(outcome.users.length, 5);
  assert.deepEqual(server.extended, [WHO_AM_I_OID]);
});

for (const how of ["stall", "close"] as const) {
  Deno.test(`ldap read() throws DirectoryError ldap_connection_lost when the bind does ${how}`, async () => {
    const error = await fails(read({ bind: how, search: () => [] }), DirectoryError);
    assert.equal(error.code, "ldap_connection_lost");
    assert.equal(error.exitCode, 6);
    assert.match(
      error.message,
      how === "stall"
        ? /^LDAP server 127\.0\.0\.1:\d+ stopped answering during bind: No answer from the server for 3 s$/
        : /^LDAP server 127\.0\.0\.1:\d+ closed the connection during bind/,
    );
  });
}

// --- AD ranged retrieval -------------------------------------------------------------------------

const GROUP_DN = `cn=big,${BASE}`;
const rangedGroup = (later: (attributes: string[]) => Step[]): FakeScript => ({
  search: (r) =>
    r.base === GROUP_DN ? later(r.attributes) : [{
      entry: {
        dn: GROUP_DN,
        attributes: {
          objectClass: ["group"],
          cn: ["big"],
          objectGUID: ["g"],
          "member;range=0-1": [`uid=a,${BASE}`, `uid=b,${BASE}`],
        },
      },
    }, { done: { cookie: "" } }],
});

Deno.test("ldap read() in AD mode completes ranged members that end in *", async () => {
  const { outcome } = await read(
    rangedGroup(() => [
      { entry: { dn: GROUP_DN, attributes: { "member;range=2-*": [`uid=c,${BASE}`] } } },
      { done: {} },
    ]),
    { ldap: { ad: true }, users: false, groups: true },
  );
  assert.deepEqual(outcome.groups, [{ name: "big", members: 3 }]);
});

Deno.test("ldap read() in AD mode throws SourceIncompleteError for a gap between member ranges", async () => {
  const error = await fails(
    read(
      rangedGroup(() => [
        { entry: { dn: GROUP_DN, attributes: { "member;range=3-*": [`uid=d,${BASE}`] } } },
        { done: {} },
      ]),
      { ldap: { ad: true }, users: false, groups: true },
    ),
    SourceIncompleteError,
  );
  assert.equal(
    error.message,
    `LDAP ranged read of member of group ${GROUP_DN} was incomplete: the server sent ` +
      "member;range=3-* where values from 2 were expected after 2 values",
  );
});

Deno.test("merge() passes on a source's failure that comes while the consumer is busy", async () => {
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  async function* failing() {
    yield "a";
    throw new Error("lost");
  }
  async function* steady() {
    yield "b";
    await pause(100);
    yield "c";
  }
  const seen: string[] = [];
  await assert.rejects(
    async () => {
      for await (const item of merge([failing(), steady()])) {
        seen.push(item);
        await pause(20); // the failing source rejects now, before anyone awaits it
      }
    },
    { message: "lost" },
  );
  assert.deepEqual(seen, ["a", "b"]);
});
