import assert from "node:assert/strict";
import { configSchema } from "../../../src/config/schema.ts";
import {
  decodeOneLoginState,
  deletedSince,
  encodeOneLoginState,
  oneLoginFingerprint,
  type OneLoginState,
  planOneLoginRead,
  type UserParam,
} from "../../../src/providers/onelogin/incremental.ts";
import { SOURCES } from "../../../src/providers/registry.ts";
import type { OneLoginSettings } from "../../../src/providers/onelogin/mod.ts";

function settings(sync: Record<string, unknown> = {}): OneLoginSettings {
  const config = configSchema.parse({ directory: { type: "onelogin" }, sync });
  return { onelogin: config.directory.onelogin, sync: config.sync };
}

Deno.test("encodeOneLoginState() and decodeOneLoginState() round-trip, with and without roles", () => {
  const state = {
    fingerprint: "0123456789abcdef",
    readAt: Date.UTC(2026, 0, 2, 10),
    users: 10_000,
    roleIds: [200000, 200001],
  };
  assert.deepEqual(encodeOneLoginState(state), {
    "onelogin.version": "1",
    "onelogin.fingerprint": "0123456789abcdef",
    "onelogin.readAt": "2026-01-02T10:00:00.000Z",
    "onelogin.users": "10000",
    "onelogin.roleIds": "200000,200001",
  });
  assert.deepEqual(decodeOneLoginState(encodeOneLoginState(state)), state);
  const noRoles = { ...state, roleIds: null };
  assert.deepEqual(decodeOneLoginState(encodeOneLoginState(noRoles)), noRoles);
  const noneListed = { ...state, roleIds: [] };
  assert.deepEqual(decodeOneLoginState(encodeOneLoginState(noneListed)), noneListed);
});

Deno.test("decodeOneLoginState() gives null for no state, another version or unreadable values", () => {
  const good = encodeOneLoginState({ fingerprint: "f", readAt: 0, users: 1, roleIds: [1] });
  assert.equal(decodeOneLoginState(undefined), null);
  assert.equal(decodeOneLoginState({}), null);
  assert.equal(decodeOneLoginState({ ...good, "onelogin.version": "2" }), null);
  assert.equal(decodeOneLoginState({ ...good, "onelogin.readAt": "yesterday" }), null);
  assert.equal(decodeOneLoginState({ ...good, "onelogin.users": "-1" }), null);
  assert.equal(decodeOneLoginState({ ...good, "onelogin.roleIds": "1,x" }), null);
});

Deno.test("oneLoginFingerprint() changes with the API base, the filters and the email settings only", () => {
  const base = oneLoginFingerprint("https://acme.onelogin.com", settings());
  assert.equal(base, oneLoginFingerprint("https://acme.onelogin.com", settings({ interval: 60 })));
  for (
    const other of [
      oneLoginFingerprint("https://other.onelogin.com", settings()),
      oneLoginFingerprint("https://acme.onelogin.com", settings({ userFilter: "|email=*@a.com" })),
      oneLoginFingerprint("https://acme.onelogin.com", settings({ groupFilter: "include:x" })),
      oneLoginFingerprint(
        "https://acme.onelogin.com",
        settings({ useEmailPrefixSuffix: true, emailSuffix: "@a.com" }),
      ),
    ]
  ) {
    assert.notEqual(other, base);
  }
});

Deno.test("deletedSince() is before + created - now: 0 only when no user was deleted", () => {
  assert.equal(deletedSince({ before: 100, createdSince: 5, now: 105 }), 0);
  assert.equal(deletedSince({ before: 100, createdSince: 5, now: 103 }), 2);
  assert.equal(deletedSince({ before: 100, createdSince: 0, now: 101 }), -1);
});

/** A count of the user listing by its parameters, recording each call's parameters. */
function counter(counts: { all: number; created: number; updated: number }) {
  const calls: UserParam[][] = [];
  const count = (params: readonly UserParam[]) => {
    calls.push([...params]);
    const name = params[0]?.[0];
    return Promise.resolve(
      name === "created_since"
        ? counts.created
        : name === "updated_since"
        ? counts.updated
        : counts.all,
    );
  };
  return { calls, count };
}

const LAST_READ: OneLoginState = {
  fingerprint: "f",
  readAt: Date.UTC(2026, 0, 2, 10),
  users: 100,
  roleIds: [1],
};

Deno.test("planOneLoginRead() plans a delta of the users updated since the last read when no user was deleted", async () => {
  const { calls, count } = counter({ all: 105, created: 5, updated: 7 });
  const plan = await planOneLoginRead(LAST_READ, {
    incremental: true,
    users: true,
    groups: true,
    fingerprint: "f",
    userFilterParams: [],
    count,
  });
  assert.deepEqual(plan, {
    users: 105,
    usersToRead: 7,
    since: "2026-01-02T09:59:00.000Z",
    fullBecause: null,
  });
  assert.deepEqual(calls, [
    [],
    [["created_since", "2026-01-02T09:59:00.000Z"]],
    [["updated_since", "2026-01-02T09:59:00.000Z"]],
  ]);
});

Deno.test("planOneLoginRead() plans a full read when the counts show deletions", async () => {
  const { calls, count } = counter({ all: 103, created: 5, updated: 7 });
  const plan = await planOneLoginRead(LAST_READ, {
    incremental: true,
    users: true,
    groups: true,
    fingerprint: "f",
    userFilterParams: [],
    count,
  });
  assert.deepEqual(plan, {
    users: 103,
    usersToRead: 103,
    since: null,
    fullBecause: "the user counts show deletions since the last read (or users created just " +
      "before it), and OneLogin cannot list deleted users",
  });
  assert.equal(calls.length, 2);
});

Deno.test("planOneLoginRead() plans a full read, counting only the users, without state or with other settings", async () => {
  for (
    const [previous, fingerprint, reason] of [
      [null, "f", "there is no state from a complete OneLogin read"],
      [LAST_READ, "g", "the OneLogin settings, filters or email settings changed"],
    ] as const
  ) {
    const { calls, count } = counter({ all: 100, created: 0, updated: 0 });
    const plan = await planOneLoginRead(previous, {
      incremental: true,
      users: true,
      groups: true,
      fingerprint,
      userFilterParams: [["filter", "x"]],
      count,
    });
    assert.deepEqual(plan, { users: 100, usersToRead: 100, since: null, fullBecause: reason });
    assert.deepEqual(calls, [[["filter", "x"]]]);
  }
});

Deno.test("the onelogin source reads deltas, leaves set filters to the engine and shows its API base", () => {
  const source = SOURCES.onelogin;
  assert.equal(source.supported, true);
  assert.equal(source.readsDeltas, true);
  const config = (onelogin: Record<string, unknown>, sync: Record<string, unknown> = {}) =>
    configSchema.parse({ directory: { type: "onelogin", onelogin }, sync });
  assert.equal(source.filters(config({})), "engine");
  assert.equal(source.describeTarget(config({})), null);
  assert.equal(source.describeTarget(config({ clientId: "x" })), "https://api.us.onelogin.com");
  assert.equal(
    source.describeTarget(config({ clientId: "x", region: "eu", subdomain: "acme" })),
    "https://acme.onelogin.com",
  );
  assert.throws(
    () => source.validateFilters(config({}, { groupFilter: "|email=a@b.c" })),
    /sync\.groupFilter/,
  );
  assert.deepEqual(source.requiredSettings, [
    "directory.onelogin.clientId",
    "directory.onelogin.clientSecret",
  ]);
});
