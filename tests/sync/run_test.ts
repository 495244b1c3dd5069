import assert from "node:assert/strict";
import { BitwardenClient } from "../../src/bitwarden/client.ts";
import { defaultConfig } from "../../src/config/schema.ts";
import { buildSyncData, type DirectoryUser, type ImportRequest } from "../../src/engine/mod.ts";
import { RosterError } from "../../src/errors.ts";
import { Logger } from "../../src/output/log.ts";
import { captureIo } from "../../src/output/render.ts";
import { openStateStore } from "../../src/state/store.ts";
import type { ReadResult } from "../../src/sync/read.ts";
import { dropEmaillessRemovals, preflight, refusalError, syncOnce } from "../../src/sync/run.ts";
import { startFakeBitwarden } from "../fakes/bitwarden.ts";

const request = (
  members: ImportRequest["members"],
  groups: ImportRequest["groups"] = [],
  largeImport = false,
): ImportRequest => ({
  groups,
  members,
  overwriteExisting: false,
  largeImport,
  inviteUsersAfterProvisioning: true,
});

const active = (n: number) =>
  Array.from(
    { length: n },
    (_, i) => ({ email: `u${i}@x.com`, externalId: `u${i}`, deleted: false }),
  );

Deno.test("preflight() applies the 2000 rule on the cloud only, and without largeImport only", () => {
  const big = [request(active(2001))];
  assert.deepEqual(preflight(big, { cloud: false }), []);
  assert.deepEqual(preflight([request(active(2001), [], true)], { cloud: true }), []);
  assert.deepEqual(preflight(big, { cloud: true }), [{
    code: "too_many_members",
    subject: "the request",
    message:
      "the request lists 2001 non-deleted members; Bitwarden's cloud accepts at most 2000 without sync.largeImport",
  }]);
  const deleted = [
    request([...active(2000), { email: "d@x.com", externalId: "d", deleted: true }]),
  ];
  assert.deepEqual(preflight(deleted, { cloud: true }), [], "deleted members do not count");
  const error = refusalError(preflight(big, { cloud: true }));
  assert.equal(error.exitCode, 2);
  assert.match(error.hint ?? "", /sync\.largeImport/);
});

Deno.test("preflight() names groups and members whose name or externalId is too long", () => {
  const refusals = preflight([request(
    [{ email: "a@x.com", externalId: "m".repeat(301), deleted: false }],
    [{ name: "n".repeat(100), externalId: "fine", memberExternalIds: [] }, {
      name: "L".repeat(101),
      externalId: "g1",
      memberExternalIds: [],
    }],
  )], { cloud: false });
  assert.deepEqual(refusals.map((r) => [r.code, r.subject]), [
    ["external_id_too_long", "member a@x.com"],
    ["group_name_too_long", "group g1"],
  ]);
  assert.equal(refusalError(refusals).exitCode, 7);
});

Deno.test("dropEmaillessRemovals() drops deleted members without an email, and emptied requests", () => {
  const { requests, dropped } = dropEmaillessRemovals([
    request([{ email: null, externalId: "x", deleted: true }, ...active(1)]),
    request([{ email: null, externalId: "y", deleted: true }]),
  ]);
  assert.deepEqual(dropped, [{ externalId: "x" }, { externalId: "y" }]);
  assert.deepEqual(requests, [request(active(1))]);
});

function user(i: number): DirectoryUser {
  return {
    referenceId: `u${i}`,
    externalId: `u${i}`,
    email: `user${i}@example.com`,
    disabled: false,
    deleted: false,
  };
}

Deno.test("syncOnce() says which batches were applied when a later one fails, and records nothing", async () => {
  const fake = await startFakeBitwarden({ org: { useGroups: false } });
  const io = captureIo();
  using store = await openStateStore(":memory:");
  const config = defaultConfig();
  config.sync.largeImport = true;
  const client = new BitwardenClient({
    urls: { api: fake.apiUrl, identity: fake.identityUrl },
    apiKey: fake.credentials,
    deviceIdentifier: "test-device",
  });
  const snapshot = {
    users: Array.from({ length: 2001 }, (_, i) => user(i)),
    groups: [{ referenceId: "g", externalId: "g", name: "G", memberRefs: ["u1"] }],
    skipped: [],
  };
  const read: ReadResult = {
    snapshot,
    incremental: false,
    notices: [],
    counts: { users: 2001, groups: 1, skipped: 0, pages: 1 },
  };
  const progress = {};
  try {
    await assert.rejects(
      syncOnce(
        {
          config,
          store,
          client,
          log: new Logger(io, { level: "normal", color: false }),
          now: () => new Date("2026-01-01T00:00:00Z"),
          read: () => Promise.resolve(read),
          build: (r) =>
            buildSyncData(r.snapshot, { syncUsers: true, syncGroups: true, removeDisabled: false }),
        },
        { force: false, allowRemovals: undefined, allowEmpty: false },
        progress,
      ),
      (error: unknown) => {
        assert.ok(error instanceof RosterError);
        assert.equal(error.exitCode, 9);
        assert.match(
          error.message,
          /^Import request 3 of 3 failed \(requests 1 to 2 were applied\): Bitwarden rejected the import: Organization cannot use groups/,
        );
        assert.match(error.hint ?? "", /The import is not atomic/);
        return true;
      },
    );
  } finally {
    client.close();
    await fake.close();
  }
  assert.deepEqual(progress, {
    read: { users: 2001, groups: 1, mode: "full" },
    requests: 3,
    batches: [
      { members: 2000, deleted: 0, groups: 0, status: "accepted" },
      { members: 1, deleted: 0, groups: 0, status: "accepted" },
      { members: 0, deleted: 0, groups: 1, status: "failed" },
    ],
  });
  assert.equal(fake.state().members.length, 2002);
  assert.equal(await store.getLastSyncHash(), undefined);
  assert.deepEqual(await store.getSyncTimes(), { users: undefined, groups: undefined });
  assert.equal(await store.getLastFullRead(), undefined);
});

Deno.test("syncOnce() after an unchanged incremental read rereads in full when the organization was changed by hand", async () => {
  const fake = await startFakeBitwarden();
  const io = captureIo();
  using store = await openStateStore(":memory:");
  const config = defaultConfig();
  const client = new BitwardenClient({
    urls: { api: fake.apiUrl, identity: fake.identityUrl },
    apiKey: fake.credentials,
    deviceIdentifier: "test-device",
  });
  const full: ReadResult = {
    snapshot: { users: [user(1), user(2), user(3)], groups: [], skipped: [] },
    incremental: false,
    notices: [],
    counts: { users: 3, groups: 0, skipped: 0, pages: 1 },
  };
  const unchanged: ReadResult = {
    snapshot: { users: [], groups: [], skipped: [] },
    incremental: true,
    notices: [],
    counts: { users: 0, groups: 0, skipped: 0, pages: 1 },
  };
  const reads: boolean[] = [];
  const env = {
    config,
    store,
    client,
    log: new Logger(io, { level: "normal", color: false }),
    now: () => new Date("2026-01-01T00:00:00Z"),
    read: (incremental: boolean) => {
      reads.push(incremental);
      return Promise.resolve(incremental ? unchanged : full);
    },
    build: (r: ReadResult) =>
      buildSyncData(r.snapshot, { syncUsers: true, syncGroups: true, removeDisabled: false }),
  };
  const options = { force: false, allowRemovals: undefined, allowEmpty: false };
  try {
    assert.equal((await syncOnce(env, options)).outcome, "synced");
    const quiet = await syncOnce(env, options);
    assert.equal(quiet.outcome, "no-change");
    assert.deepEqual(reads, [false, true], "the second run read incrementally and stopped there");

    // Someone removes user2 in the Admin Console; the directory still lists them.
    const token = fake.mintToken();
    const response = await fetch(`${fake.apiUrl}/public/organization/import`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        groups: [],
        members: [{ email: null, externalId: "u2", deleted: true }],
        overwriteExisting: false,
      }),
    });
    await response.body?.cancel();
    assert.equal(fake.state().members.some((m) => m.externalId === "u2"), false);

    const repaired = await syncOnce(env, options);
    assert.deepEqual(reads, [false, true, true, false], "an incremental read, then a full one");
    assert.equal(repaired.outcome, "synced");
    assert.match(repaired.reason, /drifted/);
    assert.equal(fake.state().members.some((m) => m.externalId === "u2"), true);
  } finally {
    client.close();
    await fake.close();
  }
});
