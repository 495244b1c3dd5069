import assert from "node:assert/strict";
import { snapshotKey, SnapshotStore } from "../../src/state/snapshot.ts";

const snapshot = (id: string) => ({
  users: [{ referenceId: id, externalId: id, email: null, disabled: false, deleted: false }],
  groups: [],
  skipped: [],
});

Deno.test("SnapshotStore keeps a snapshot per provider state, files mode 0600, the two newest only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "roster-snapshot-" });
  try {
    const store = new SnapshotStore(dir);
    assert.equal(await store.load({ link: "1" }), undefined);
    await store.save({ link: "1" }, snapshot("a"));
    await store.save({ link: "2" }, snapshot("b"));
    assert.deepEqual(await store.load({ link: "1" }), snapshot("a"));
    assert.deepEqual(await store.load({ link: "2" }), snapshot("b"));
    const info = await Deno.stat(`${dir}/snapshots/${snapshotKey({ link: "2" })}.json`);
    assert.equal((info.mode ?? 0) & 0o777, 0o600);
    await store.save({ link: "3" }, snapshot("c"));
    assert.equal(await store.load({ link: "1" }), undefined);
    assert.deepEqual(await store.load({ link: "3" }), snapshot("c"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("snapshotKey() does not depend on the order of the state's keys", () => {
  assert.equal(snapshotKey({ a: "1", b: "2" }), snapshotKey({ b: "2", a: "1" }));
  assert.notEqual(snapshotKey({ a: "1" }), snapshotKey({ a: "2" }));
});

Deno.test("SnapshotStore never drops the committed snapshot, however many test runs save newer ones", async () => {
  const dir = await Deno.makeTempDir({ prefix: "roster-snapshot-" });
  try {
    const store = new SnapshotStore(dir);
    const committed = { link: "synced" };
    await store.save(committed, snapshot("base"));
    for (const run of ["t1", "t2", "t3"]) {
      await store.save({ link: run }, snapshot(run), { committed });
    }
    assert.deepEqual(await store.load(committed), snapshot("base"));
    assert.deepEqual(await store.load({ link: "t3" }), snapshot("t3"));
    assert.equal(await store.load({ link: "t2" }), undefined);
    assert.equal(await store.load({ link: "t1" }), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SnapshotStore.load() treats a damaged snapshot file as absent and says which file and why", async () => {
  const dir = await Deno.makeTempDir({ prefix: "roster-snapshot-" });
  try {
    const store = new SnapshotStore(dir);
    await store.save({ link: "1" }, snapshot("a"));
    await store.save({ link: "2" }, snapshot("b"));
    const cut = `${dir}/snapshots/${snapshotKey({ link: "1" })}.json`;
    const shape = `${dir}/snapshots/${snapshotKey({ link: "2" })}.json`;
    await Deno.writeTextFile(cut, '{"users":[{"ext');
    await Deno.writeTextFile(shape, '{"users":[]}');
    const damaged: string[] = [];
    const onDamaged = (path: string, detail: string) => damaged.push(`${path}: ${detail}`);
    assert.equal(await store.load({ link: "1" }, { onDamaged }), undefined);
    assert.equal(await store.load({ link: "2" }, { onDamaged }), undefined);
    assert.equal(await store.load({ link: "3" }, { onDamaged }), undefined);
    assert.deepEqual(damaged, [
      `${cut}: Unterminated string in JSON at position 15 (line 1 column 16)`,
      `${shape}: not a directory snapshot (users, groups and skipped lists expected)`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
