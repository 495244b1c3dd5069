import assert from "node:assert/strict";
import { configSchema } from "../../src/config/schema.ts";
import type { DirectoryUser } from "../../src/engine/types.ts";
import type { DirectoryPage, ReadOptions } from "../../src/providers/provider.ts";
import { defineSource } from "../../src/providers/registry.ts";
import { SnapshotStore } from "../../src/state/snapshot.ts";
import { openStateStore } from "../../src/state/store.ts";
import { buildData, readAndReport, readSource } from "../../src/sync/source.ts";
import { CompactBuilder, materializeTestReport, toTestReport } from "../../src/engine/mod.ts";

const user = (id: string): DirectoryUser => ({
  referenceId: id,
  externalId: id,
  email: `${id}@example.com`,
  disabled: false,
  deleted: false,
  refs: [id],
});

/**
 * A delta-reading source that answers a full read with `full` and an incremental one with
 * `delta`, recording the mode of every read.
 */
function fakeSource(
  full: DirectoryPage[],
  delta: DirectoryPage[],
  modes: string[],
  readsDeltas = true,
) {
  return defineSource<null>({
    type: "okta",
    requiredSettings: [],
    secretSettings: [],
    settings: () => null,
    readsDeltas,
    filters: () => "engine",
    validateFilters: () => {},
    describeTarget: () => "fake",
    create: () => ({
      name: "fake",
      async *read(options: ReadOptions) {
        modes.push(options.mode);
        for (const page of options.mode === "full" ? full : delta) {
          yield await Promise.resolve(page);
        }
      },
    }),
  });
}

const config = configSchema.parse({
  directory: { type: "okta", okta: { orgUrl: "https://example.okta.com" } },
  sync: { users: true, groups: true },
});

const FULL: DirectoryPage[] = [
  { kind: "users", users: [user("a"), user("b")] },
  { kind: "groups", groups: [{ referenceId: "g", externalId: "g", name: "G", memberRefs: ["a"] }] },
  { kind: "done", incremental: false, state: { link: "1" } },
];
const DELTA: DirectoryPage[] = [
  { kind: "users", users: [user("c")], removed: ["b"] },
  {
    kind: "groups",
    groups: [{ referenceId: "h", externalId: "h", name: "H", memberRefs: ["g", "c"] }],
  },
  { kind: "done", incremental: true, delta: true, state: { link: "2" } },
];

async function withStore(
  run: (dir: string, store: Awaited<ReturnType<typeof openStateStore>>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "roster-source-" });
  const store = await openStateStore(`${dir}/state.kv`);
  try {
    await run(dir, store);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("readSource() merges a delta read into the stored snapshot so nesting sees the whole directory", async () => {
  await withStore(async (dir, store) => {
    const modes: string[] = [];
    const source = fakeSource(FULL, DELTA, modes);
    const log = () => {};
    const first = await readSource({
      store,
      config,
      incremental: false,
      log,
      dataDir: dir,
      source,
    });
    assert.deepEqual(first.counts.users, 2);
    await store.setProviderState(first.state);
    await store.setSyncTimes({ users: new Date(0), groups: new Date(0) });

    const second = await readSource({
      store,
      config,
      incremental: true,
      log,
      dataDir: dir,
      source,
    });
    assert.deepEqual(modes, ["full", "incremental"]);
    assert.equal(second.delta, true);
    assert.deepEqual(second.snapshot.users.map((u) => u.externalId), ["a", "c"]);
    assert.deepEqual(second.snapshot.groups.map((g) => g.externalId), ["g", "h"]);
    assert.deepEqual(second.counts.users, 2);
    assert.deepEqual(second.counts.groups, 2);
    // Group h nests g, which the delta did not carry: its member a resolves from the snapshot.
    const data = buildData(config, second);
    const h = data.groups.find((g) => g.externalId === "h");
    assert.deepEqual([...(h?.memberExternalIds ?? [])].sort(), ["a", "c"]);
    // The merged snapshot is stored with the new state for the next delta.
    const stored = await new SnapshotStore(dir).load({ link: "2" });
    assert.deepEqual(stored?.users.map((u) => u.externalId), ["a", "c"]);
  });
});

Deno.test("readSource() reads in full when a delta arrives without a stored snapshot", async () => {
  await withStore(async (dir, store) => {
    const modes: string[] = [];
    const source = fakeSource(FULL, DELTA, modes);
    await store.setProviderState({ link: "unknown" });
    await store.setSyncTimes({ users: new Date(0), groups: new Date(0) });
    const logs: string[] = [];
    const read = await readSource({
      store,
      config,
      incremental: true,
      log: (level, message) => logs.push(`${level}: ${message}`),
      dataDir: dir,
      source,
    });
    assert.deepEqual(modes, ["incremental", "full"]);
    assert.equal(read.incremental, false);
    assert.equal(read.delta, undefined);
    assert.deepEqual(read.snapshot.users.map((u) => u.externalId), ["a", "b"]);
    assert.ok(
      logs.includes(
        "info: The fake delta read cannot be applied (no stored snapshot): reading the whole directory",
      ),
    );
  });
});

Deno.test("readSource() refuses a sink for a source that reads deltas, before reading", async () => {
  await withStore(async (dir, store) => {
    const modes: string[] = [];
    await assert.rejects(
      () =>
        readSource({
          store,
          config,
          incremental: false,
          log: () => {},
          dataDir: dir,
          source: fakeSource(FULL, DELTA, modes),
          sink: new CompactBuilder({ syncUsers: true, syncGroups: true, removeDisabled: false }),
        }),
      {
        name: "TypeError",
        message: "Cannot stream the okta source: its delta reads need a snapshot",
      },
    );
    assert.deepEqual(modes, []);
  });
});

Deno.test("readAndReport() streams a full read of a source without delta reads to the same report", async () => {
  await withStore(async (dir, store) => {
    const modes: string[] = [];
    const source = fakeSource(FULL, DELTA, modes, false);
    const counted: { users: number; groups: number }[] = [];
    const document = await readAndReport({
      store,
      config,
      incremental: false,
      log: () => {},
      dataDir: dir,
      source,
      bwdc: false,
      counted: (counts) => counted.push(counts),
    });
    const read = await readSource({ store, config, incremental: false, log: () => {}, source });
    assert.equal(document.kind, "report");
    if (document.kind !== "report") return;
    assert.deepEqual(materializeTestReport(document.value), toTestReport(buildData(config, read)));
    assert.deepEqual(materializeTestReport(document.value).summary.users, 2);
    assert.deepEqual(counted, [{ users: 2, groups: 1 }]);
    assert.deepEqual(modes, ["full", "full"]);
  });
});
