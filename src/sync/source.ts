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
 * @module
 */

import type { ProgressReporter } from "../output/progress.ts";
import type { Config } from "../config/schema.ts";
import { validateConfig } from "../config/store.ts";
import { applyDelta } from "../engine/delta.ts";
import {
  type BwdcTestResponse,
  type CompactData,
  compactSyncData,
  expandSyncData,
  type SortedTestReport,
  sortTestReport,
  type SyncData,
  toBwdcTestResponse,
} from "../engine/mod.ts";
import { type SourceDescriptor, sourceOf } from "../providers/registry.ts";
import { SnapshotStore } from "../state/snapshot.ts";
import type { StateStore } from "../state/store.ts";
import { readDirectory, type ReadResult } from "./read.ts";

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
}

/**
 * Validates the configuration and reads the directory (incrementally when asked and allowed),
 * merging a delta read into the last complete snapshot. The result is always either the whole
 * directory (`incremental: false`, or a merged delta with `delta: true`) or bwdc's changes-only
 * read (`incremental: true`). Throws what `validateConfig` and the provider throw.
 */
export async function readSource(options: ReadSourceOptions): Promise<ReadResult> {
  const { store, config, log } = options;
  const source = options.source ?? sourceOf(config);
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
  const setFilters = sourceOf(config).filters(config) === "engine"
    ? {
      ...(config.sync.userFilter === undefined ? {} : { users: config.sync.userFilter }),
      ...(config.sync.groupFilter === undefined ? {} : { groups: config.sync.groupFilter }),
    }
    : undefined;
  return compactSyncData(read.snapshot, {
    syncUsers: config.sync.users,
    syncGroups: config.sync.groups,
    removeDisabled: config.sync.removeDisabled,
    ...(setFilters === undefined ? {} : { setFilters }),
  });
}

/** The document `test` prints: roster's report (sorted, not yet built), or bwdc's test JSON. */
export type TestDocument =
  | { kind: "bwdc"; value: BwdcTestResponse }
  | { kind: "report"; value: SortedTestReport };

/**
 * Reads the directory, runs the engine and sorts the report. Only the engine's compact data
 * leaves (inside the report), so the snapshot (raw records, member references) can be freed as
 * soon as the engine has run, before the report is sorted and written. `counted` gets the
 * read's counts as soon as they are known (for the run record).
 */
export async function readAndReport(
  options: ReadSourceOptions & {
    counted: (counts: { users: number; groups: number }) => void;
    bwdc: boolean;
  },
): Promise<TestDocument> {
  let read: ReadResult | undefined = await readSource(options);
  options.counted({ users: read.counts.users, groups: read.counts.groups });
  const data = buildCompactData(options.config, read);
  read = undefined;
  return options.bwdc
    ? { kind: "bwdc", value: toBwdcTestResponse(expandSyncData(data)) }
    : { kind: "report", value: sortTestReport(data) };
}
