/**
 * The read pipeline shared by `test`, `plan` and `sync`: validate the configuration, read the
 * source through its registry descriptor, merge a delta read into the last complete snapshot,
 * run the engine, build the report.
 *
 * **Delta reads** (`done.delta`, see `src/providers/provider.ts`) are merged with the snapshot
 * stored with the provider state the read started from (`src/state/snapshot.ts`), so nesting
 * and memberships resolve against the whole directory. A delta that cannot be applied (no
 * snapshot for that state) is thrown away and the source is read again in full. Sources whose
 * descriptor says `readsDeltas` get their merged or full snapshot stored for the next read.
 *
 * **Streaming:** `test` on a full read of a source that does not read deltas needs no
 * snapshot, so {@link readAndReport} feeds the pages straight into the engine's
 * `CompactBuilder` as they arrive: the provider's per-user records die young (in V8's young
 * generation) instead of being gathered, promoted and kept until the read ends.
 * @module
 */

import type { ProgressReporter } from "../output/progress.ts";
import type { Config } from "../config/schema.ts";
import { validateConfig } from "../config/store.ts";
import { applyDelta } from "../engine/delta.ts";
import {
  type BwdcTestResponse,
  CompactBuilder,
  type CompactData,
  compactSyncData,
  type EngineOptions,
  expandSyncData,
  type SortedTestReport,
  sortTestReport,
  type SyncData,
  toBwdcTestResponse,
} from "../engine/mod.ts";
import { type SourceDescriptor, sourceOf } from "../providers/registry.ts";
import { SnapshotStore } from "../state/snapshot.ts";
import type { StateStore } from "../state/store.ts";
import { type PageSink, readDirectory, type ReadResult } from "./read.ts";

/** Where log lines go: `debug` with `--verbose`, the rest always (stderr). */
export type Log = (level: "debug" | "info" | "warn", message: string) => void;

/** Options of {@link readSource}. */
export interface ReadSourceOptions {
  store: StateStore;
  config: Config;
  /** Ask for an incremental read (ignored with `sync.overwriteExisting`). */
  incremental: boolean;
  log: Log;
  /**
   * roster's data directory, where delta-reading sources keep their last complete snapshot.
   * Without it a delta read always falls back to a full read.
   */
  dataDir?: string;
  /** The source to read. @default the descriptor of `config.directory.type` */
  source?: SourceDescriptor;
  /** Progress of the directory read on stderr (see `ProviderContext.progress`). */
  progress?: ProgressReporter;
  /**
   * Where the pages go instead of the result's `snapshot` (which then stays empty). Only for
   * sources that do not read deltas: a delta has to be merged into a snapshot.
   * @default gather them into the result's `snapshot`
   */
  sink?: PageSink;
}

/**
 * Validates the configuration and reads the directory (incrementally when asked and allowed),
 * merging a delta read into the last complete snapshot. The result is always either the whole
 * directory (`incremental: false`, or a merged delta with `delta: true`) or bwdc's changes-only
 * read (`incremental: true`). Throws what `validateConfig` and the provider throw, and a
 * TypeError for a `sink` on a source that reads deltas.
 */
export async function readSource(options: ReadSourceOptions): Promise<ReadResult> {
  const { store, config, log } = options;
  const source = options.source ?? sourceOf(config);
  if (options.sink !== undefined && source.readsDeltas) {
    throw new TypeError(`Cannot stream the ${source.type} source: its delta reads need a snapshot`);
  }
  await validateConfig(config, { secret: (key) => store.getSecret(key), source });
  const provider = source.create(config, {
    secret: (key) => store.getSecret(key),
    log,
    ...(options.progress === undefined ? {} : { progress: options.progress }),
  });
  const incremental = options.incremental && !config.sync.overwriteExisting;
  const since = incremental ? await store.getSyncTimes() : undefined;
  const state = incremental ? await store.getProviderState() : undefined;
  const base = {
    users: config.sync.users || config.sync.groups,
    groups: config.sync.groups,
    log,
  };
  const read = await readDirectory(provider, {
    ...base,
    mode: incremental ? "incremental" : "full",
    ...(options.sink === undefined ? {} : { sink: options.sink }),
    ...(since === undefined ? {} : {
      since: {
        ...(since.users === undefined ? {} : { users: since.users }),
        ...(since.groups === undefined ? {} : { groups: since.groups }),
      },
    }),
    ...(state === undefined ? {} : { state }),
  });
  const snapshots = options.dataDir === undefined ? undefined : new SnapshotStore(options.dataDir);
  let result = read;
  if (read.delta === true) {
    let damaged = false;
    const stored = state === undefined || snapshots === undefined
      ? undefined
      : await snapshots.load(state, {
        onDamaged: (path, detail) => {
          damaged = true;
          log(
            "warn",
            `The stored snapshot ${path} is damaged (${detail}): reading the whole directory instead of applying the ${provider.name} delta read`,
          );
        },
      });
    if (stored === undefined && damaged) {
      result = await readDirectory(provider, { ...base, mode: "full" });
    } else if (stored === undefined) {
      log(
        "info",
        `The ${provider.name} delta read cannot be applied (no stored snapshot): reading the whole directory`,
      );
      result = await readDirectory(provider, { ...base, mode: "full" });
    } else {
      const snapshot = applyDelta(stored, {
        changed: read.snapshot,
        removed: read.removed ?? { users: [], groups: [] },
      });
      result = {
        ...read,
        snapshot,
        counts: { ...read.counts, users: snapshot.users.length, groups: snapshot.groups.length },
      };
    }
  }
  if (source.readsDeltas && snapshots !== undefined && result.state !== undefined) {
    if (!result.incremental || result.delta === true) {
      // An incremental read already loaded the committed state (possibly none).
      const committed = incremental ? state : await store.getProviderState();
      await snapshots.save(
        result.state,
        result.snapshot,
        committed === undefined ? {} : { committed },
      );
    }
  }
  return result;
}

/** Runs the engine on what was read, with the `sync.*` options of `config`. */
export function buildData(config: Config, read: ReadResult): SyncData {
  return expandSyncData(buildCompactData(config, read));
}

/**
 * Runs the engine on what was read, with the `sync.*` options of `config`, and returns its
 * compact form (see `src/engine/compact.ts`).
 */
export function buildCompactData(config: Config, read: ReadResult): CompactData {
  return compactSyncData(read.snapshot, engineOptions(config));
}

/** The engine's options from the `sync.*` settings of `config`. */
export function engineOptions(config: Config): EngineOptions {
  const setFilters = sourceOf(config).filters(config) === "engine"
    ? {
      ...(config.sync.userFilter === undefined ? {} : { users: config.sync.userFilter }),
      ...(config.sync.groupFilter === undefined ? {} : { groups: config.sync.groupFilter }),
    }
    : undefined;
  return {
    syncUsers: config.sync.users,
    syncGroups: config.sync.groups,
    removeDisabled: config.sync.removeDisabled,
    ...(setFilters === undefined ? {} : { setFilters }),
  };
}

/** The document `test` prints: roster's report (sorted, not yet built), or bwdc's test JSON. */
export type TestDocument =
  | { kind: "bwdc"; value: BwdcTestResponse }
  | { kind: "report"; value: SortedTestReport };

/**
 * Reads the directory, runs the engine and sorts the report. A full read of a source that
 * does not read deltas streams its pages into the engine (see the module documentation);
 * other reads gather a snapshot first. Either way only the engine's compact data leaves
 * (inside the report), so the records are freed before the report is sorted and written.
 * `counted` gets the read's counts as soon as they are known (for the run record).
 */
export async function readAndReport(
  options: ReadSourceOptions & {
    counted: (counts: { users: number; groups: number }) => void;
    bwdc: boolean;
  },
): Promise<TestDocument> {
  const source = options.source ?? sourceOf(options.config);
  const incremental = options.incremental && !options.config.sync.overwriteExisting;
  let data: CompactData;
  if (source.readsDeltas || incremental) {
    let read: ReadResult | undefined = await readSource(options);
    options.counted({ users: read.counts.users, groups: read.counts.groups });
    data = buildCompactData(options.config, read);
    read = undefined;
  } else {
    const builder = new CompactBuilder(engineOptions(options.config));
    const read = await readSource({ ...options, source, sink: builder });
    options.counted({ users: read.counts.users, groups: read.counts.groups });
    data = builder.finish();
  }
  return options.bwdc
    ? { kind: "bwdc", value: toBwdcTestResponse(expandSyncData(data)) }
    : { kind: "report", value: sortTestReport(data) };
}
