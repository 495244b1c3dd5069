import assert from "node:assert/strict";
import { LockedError } from "../../src/errors.ts";
import { openStateStore } from "../../src/state/store.ts";
import { lockedError, withLock } from "../../src/sync/lock.ts";

Deno.test("withLock() holds the lock while running and releases it after, also on error", async () => {
  using store = await openStateStore(":memory:");
  const result = await withLock(store, "/data", { command: "sync" }, async (held) => {
    const lock = await store.getLock();
    assert.equal(lock?.token, held.lock.token);
    assert.equal(lock?.command, "sync");
    assert.equal(lock?.pid, Deno.pid);
    return 42;
  });
  assert.equal(result, 42);
  assert.equal(await store.getLock(), undefined);
  await assert.rejects(
    withLock(store, "/data", { command: "sync" }, () => Promise.reject(new Error("boom"))),
    /boom/,
  );
  assert.equal(await store.getLock(), undefined);
});

Deno.test("withLock() refuses while another run holds the lock, naming it", async () => {
  using store = await openStateStore(":memory:");
  const other = await store.acquireLock({ pid: 4242, host: "db1", command: "daemon" }, 60_000);
  assert.ok(other.acquired);
  let ran = false;
  await assert.rejects(
    withLock(store, "/srv/roster", { command: "sync" }, () => {
      ran = true;
      return Promise.resolve();
    }),
    (error: unknown) => {
      assert.ok(error instanceof LockedError);
      assert.equal(error.exitCode, 12);
      assert.equal(
        error.message,
        `Cannot start: another roster run holds the lock on /srv/roster: daemon (pid 4242 on db1) since ${other.lock.acquiredAt}, until ${other.lock.expiresAt} unless renewed`,
      );
      return true;
    },
  );
  assert.equal(ran, false);
});

Deno.test("withLock() renews the lock and reports it lost when another run took it over", async () => {
  using store = await openStateStore(":memory:");
  await withLock(
    store,
    "/data",
    { command: "sync", ttlMs: 60_000, renewEveryMs: 20 },
    async (held) => {
      const before = await store.getLock();
      await new Promise((resolve) => setTimeout(resolve, 60));
      const after = await store.getLock();
      assert.ok(Date.parse(after?.expiresAt ?? "") >= Date.parse(before?.expiresAt ?? ""));
      held.check();
      // Simulate a takeover: another holder's token replaces ours.
      await store.releaseLock(held.lock.token);
      await store.acquireLock({ pid: 1, host: "other", command: "sync" }, 60_000);
      // The next renewal (every 20 ms) finds the other token; on a loaded machine timers and
      // KV operations run late, so wait for it (up to 5 s) instead of a fixed 60 ms.
      for (let waited = 0; held.lost === undefined && waited < 5_000; waited += 10) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.ok(held.lost instanceof LockedError);
      assert.throws(() => held.check(), LockedError);
    },
  );
});

Deno.test("lockedError() carries the holder without its token", () => {
  const error = lockedError({
    token: "secret-token",
    pid: 1,
    host: "h",
    command: "sync",
    acquiredAt: "2026-01-01T00:00:00.000Z",
    expiresAt: "2026-01-01T00:10:00.000Z",
  }, "/d");
  assert.ok(!JSON.stringify(error.details).includes("secret-token"));
});

Deno.test("withLock() takes over at once the lock of a dead process on this host", async () => {
  if (Deno.build.os !== "linux") return;
  using store = await openStateStore(":memory:");
  const child = new Deno.Command(Deno.execPath(), { args: ["eval", ""] }).spawn();
  await child.status;
  const dead = await store.acquireLock(
    { pid: child.pid, host: Deno.hostname(), command: "sync" },
    600_000,
  );
  assert.ok(dead.acquired);
  const tookOver: string[] = [];
  await withLock(store, "/data", {
    command: "sync",
    onTakeOver: (previous) => tookOver.push(previous.token),
  }, () => Promise.resolve());
  assert.deepEqual(tookOver, [dead.lock.token]);
});
