import assert from "node:assert/strict";
import { join } from "node:path";
import {
  HISTORY_LIMIT,
  openStateStore,
  type RunRecord,
  StateStore,
} from "../../src/state/store.ts";
import { LockedError, StateBusyError, StateDamagedError } from "../../src/errors.ts";
import { snapshotCounts, snapshotOfRequests } from "../../src/engine/guard.ts";

async function withStore(
  fn: (store: StateStore, clock: { now: Date }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const clock = { now: new Date("2026-03-01T00:00:00.000Z") };
  const store = await openStateStore(join(dir, "state.kv"), { now: () => clock.now });
  try {
    await fn(store, clock);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function run(index: number): RunRecord {
  const startedAt = new Date(Date.UTC(2026, 0, 1) + index * 1000).toISOString();
  return {
    id: `run-${index}`,
    command: "test",
    startedAt,
    endedAt: startedAt,
    outcome: "ok",
    exitCode: 0,
    read: { users: index, groups: 0 },
    sent: { users: 0, groups: 0 },
  };
}

Deno.test("openStateStore() creates the KV file with mode 0600", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = await openStateStore(join(dir, "state.kv"));
    store.close();
    assert.equal(((await Deno.stat(join(dir, "state.kv"))).mode ?? 0) & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("addRun() keeps only the last HISTORY_LIMIT runs, newest first", async () => {
  await withStore(async (store) => {
    for (let index = 0; index < HISTORY_LIMIT + 3; index++) await store.addRun(run(index));
    const runs = await store.listRuns();
    assert.equal(HISTORY_LIMIT, 200);
    assert.equal(runs.length, 200);
    assert.equal(runs[0]?.id, "run-202");
    assert.equal(runs.at(-1)?.id, "run-3");
    assert.deepEqual((await store.listRuns(2)).map((r) => r.id), ["run-202", "run-201"]);
  });
});

Deno.test("acquireLock() refuses a held lock and names its holder", async () => {
  await withStore(async (store) => {
    const first = await store.acquireLock({ pid: 1, host: "a", command: "sync" }, 60_000);
    assert.ok(first.acquired);
    const second = await store.acquireLock({ pid: 2, host: "b", command: "sync" }, 60_000);
    assert.ok(!second.acquired);
    assert.deepEqual(second.holder, first.lock);
    assert.deepEqual(
      [first.lock.pid, first.lock.host, first.lock.acquiredAt, first.lock.expiresAt],
      [1, "a", "2026-03-01T00:00:00.000Z", "2026-03-01T00:01:00.000Z"],
    );
  });
});

Deno.test("acquireLock() takes over an expired lock; the old holder cannot renew it", async () => {
  await withStore(async (store, clock) => {
    const first = await store.acquireLock({ pid: 1, host: "a", command: "sync" }, 60_000);
    assert.ok(first.acquired);
    clock.now = new Date("2026-03-01T00:01:00.001Z");
    const second = await store.acquireLock({ pid: 2, host: "b", command: "sync" }, 60_000);
    assert.ok(second.acquired);
    assert.deepEqual(second.tookOverFrom, first.lock);
    await assert.rejects(() => store.renewLock(first.lock.token, 60_000), LockedError);
    assert.equal(await store.releaseLock(first.lock.token), false);
    const renewed = await store.renewLock(second.lock.token, 120_000);
    assert.equal(renewed.expiresAt, "2026-03-01T00:03:00.001Z");
    assert.equal(await store.releaseLock(second.lock.token), true);
    assert.equal(await store.getLock(), undefined);
  });
});

Deno.test("clearSyncCache() clears times, hash and deltas only", async () => {
  await withStore(async (store) => {
    await store.setSyncTimes({ users: new Date(0), groups: new Date(1) });
    await store.setLastSyncHash("h");
    await store.setProviderState({ userDelta: "d" });
    await store.setSecret("directory.okta.token", "t");
    await store.setAuth({ clientId: "organization.x", clientSecret: "s", organizationId: "x" });
    await store.addRun(run(1));
    const lock = await store.acquireLock({ pid: 1, host: "a", command: "sync" }, 60_000);
    await store.clearSyncCache();
    assert.deepEqual(await store.getSyncTimes(), { users: undefined, groups: undefined });
    assert.equal(await store.getLastSyncHash(), undefined);
    assert.equal(await store.getProviderState(), undefined);
    assert.equal(await store.getSecret("directory.okta.token"), "t");
    assert.equal((await store.getAuth())?.organizationId, "x");
    assert.equal((await store.listRuns()).length, 1);
    assert.ok(lock.acquired);
    assert.equal((await store.getLock())?.token, lock.lock.token);
  });
});

Deno.test("clearSyncTimes() keeps the hash", async () => {
  await withStore(async (store) => {
    await store.setSyncTimes({ users: new Date(0) });
    await store.setLastSyncHash("h");
    await store.clearSyncTimes();
    assert.equal((await store.getSyncTimes()).users, undefined);
    assert.equal(await store.getLastSyncHash(), "h");
  });
});

Deno.test("setSentSnapshot() keeps a 500,000-membership record in pieces and replaces it whole", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/state.kv`;
    const groups = Array.from({ length: 50 }, (_, g) => ({
      name: `Group ${g}`,
      externalId: `cn=group${g},ou=groups,dc=example,dc=com`,
      memberExternalIds: Array.from({ length: 10_000 }, (_, u) => `uid=user${g * 10_000 + u}`),
    }));
    const big = snapshotOfRequests([{
      groups,
      members: [],
      overwriteExisting: false,
      largeImport: true,
      inviteUsersAfterProvisioning: false,
    }]);
    {
      using store = await openStateStore(path);
      assert.equal(await store.getSentSnapshot(), null);
      await store.setSentSnapshot(big);
    }
    {
      using store = await openStateStore(path);
      const read = await store.getSentSnapshot();
      assert.ok(read !== null);
      assert.deepEqual(snapshotCounts(read), { groups: 50, memberships: 500_000 });
      assert.deepEqual(
        read.groups.get(groups[7]?.externalId ?? ""),
        big.groups.get(groups[7]?.externalId ?? ""),
      );
      const small = snapshotOfRequests([{
        groups: groups.slice(0, 1),
        members: [],
        overwriteExisting: false,
        largeImport: false,
        inviteUsersAfterProvisioning: false,
      }]);
      await store.setSentSnapshot(small);
      assert.deepEqual(snapshotCounts((await store.getSentSnapshot()) ?? { groups: new Map() }), {
        groups: 1,
        memberships: 10_000,
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A real in-memory store whose `get` fails with `error` the first `times` calls. */
async function failingStore(error: Error, times: number) {
  const kv = await Deno.openKv(":memory:");
  const get = kv.get.bind(kv);
  let calls = 0;
  Object.defineProperty(kv, "get", {
    value: (key: Deno.KvKey) => {
      calls++;
      return calls <= times ? Promise.reject(error) : get(key);
    },
  });
  const waits: number[] = [];
  const store = new StateStore(kv, {
    path: "/data/state.kv",
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
  });
  return { store, waits, calls: () => calls };
}

Deno.test("StateStore retries SQLite's busy error, then gives up with exit 12 naming the file", async () => {
  const busy = new TypeError("database is locked");
  const brief = await failingStore(busy, 3);
  try {
    assert.equal(await brief.store.getLock(), undefined);
    assert.equal(brief.calls(), 4);
    assert.equal(brief.waits.length, 3);
  } finally {
    brief.store.close();
  }
  const stuck = await failingStore(busy, Infinity);
  try {
    await assert.rejects(stuck.store.getAuth(), (error: unknown) => {
      assert.ok(error instanceof StateBusyError);
      assert.equal(error.code, "state_busy");
      assert.equal(error.exitCode, 12);
      assert.equal(
        error.message,
        "The state store /data/state.kv stayed busy for 5 seconds: another roster process keeps writing it",
      );
      return true;
    });
    assert.ok(stuck.waits.reduce((a, b) => a + b, 0) >= 5000);
  } finally {
    stuck.store.close();
  }
});

Deno.test("StateStore turns SQLite's damage errors into exit 13 naming the file", async () => {
  const damaged = await failingStore(new Error("database disk image is malformed"), Infinity);
  try {
    await assert.rejects(damaged.store.getLock(), (error: unknown) => {
      assert.ok(error instanceof StateDamagedError);
      assert.equal(error.exitCode, 13);
      assert.equal(
        error.message,
        "The state store /data/state.kv is damaged: database disk image is malformed",
      );
      return true;
    });
    assert.equal(damaged.waits.length, 0, "damage is not retried");
  } finally {
    damaged.store.close();
  }
});
