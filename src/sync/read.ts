/**
 * Reads a whole directory from a provider: gathers its pages into one snapshot, or hands them
 * to a {@link PageSink} as they arrive.
 *
 * A read is complete only when the provider's last page is `done`. A stream that ends without
 * it throws {@link SourceIncompleteError}: a short result is never returned.
 * @module
 */

import type {
  DirectoryGroup,
  DirectorySnapshot,
  DirectoryUser,
  SkippedEntry,
} from "../engine/types.ts";
import { SourceIncompleteError } from "../errors.ts";
import type { DirectoryNotice, DirectoryProvider, ReadOptions } from "../providers/provider.ts";

/** Counts of one read. */
export interface ReadCounts {
  users: number;
  groups: number;
  skipped: number;
  pages: number;
}

/** The result of {@link readDirectory}. */
export interface ReadResult {
  snapshot: DirectorySnapshot;
  /** Whether the read was incremental in the end. */
  incremental: boolean;
  /**
   * The read was a delta against the last complete snapshot (`done.delta`): `snapshot` holds
   * the added and changed objects and `removed` the ids removed, still to be merged. Absent:
   * not a delta.
   */
  delta?: boolean;
  /** Delta reads: externalIds of users and groups removed since the last complete snapshot. */
  removed?: { users: string[]; groups: string[] };
  /** Provider state to keep for the next run. */
  state?: Record<string, string>;
  /** The provider's typed notices, in order. */
  notices: DirectoryNotice[];
  counts: ReadCounts;
}

/**
 * Takes a read's users, groups and skipped entries page by page, in the order the provider
 * sends them (the engine's `CompactBuilder` is one).
 */
export interface PageSink {
  addUsers(users: readonly DirectoryUser[]): void;
  addGroups(groups: readonly DirectoryGroup[]): void;
  addSkipped(entries: readonly SkippedEntry[]): void;
}

/** Options of {@link readDirectory}: the provider's {@link ReadOptions}, plus logging. */
export interface ReadDirectoryOptions extends ReadOptions {
  /** Progress lines (`debug`, shown with `--verbose`) and notices (`info`, `warn`). */
  log?: (level: "debug" | "info" | "warn", message: string) => void;
  /**
   * Where users, groups and skipped entries go as their pages arrive. With a sink, the
   * result's `snapshot` stays empty (and a delta's changes go to the sink too), so no record
   * outlives its page unless the sink keeps it. @default gather them into `snapshot`
   */
  sink?: PageSink;
}

/**
 * Reads the directory through `provider` and gathers its pages. Throws
 * {@link SourceIncompleteError} when the stream ends without a `done` page.
 */
export async function readDirectory(
  provider: DirectoryProvider,
  options: ReadDirectoryOptions,
): Promise<ReadResult> {
  const { log, sink: given, ...readOptions } = options;
  const emit = log ?? (() => {});
  const snapshot: DirectorySnapshot = { users: [], groups: [], skipped: [] };
  const sink = given ?? gather(snapshot);
  const notices: DirectoryNotice[] = [];
  const removed: { users: string[]; groups: string[] } = { users: [], groups: [] };
  const counts: ReadCounts = { users: 0, groups: 0, skipped: 0, pages: 0 };
  emit("debug", `Reading the ${provider.name} directory (${readOptions.mode})`);
  for await (const page of provider.read(readOptions)) {
    counts.pages++;
    switch (page.kind) {
      case "users":
        sink.addUsers(page.users);
        if (page.removed !== undefined) { for (const id of page.removed) removed.users.push(id); }
        counts.users += page.users.length;
        emit("debug", `Read ${page.users.length} users (${counts.users} so far)`);
        break;
      case "groups":
        sink.addGroups(page.groups);
        if (page.removed !== undefined) { for (const id of page.removed) removed.groups.push(id); }
        counts.groups += page.groups.length;
        emit("debug", `Read ${page.groups.length} groups (${counts.groups} so far)`);
        break;
      case "skipped":
        sink.addSkipped(page.entries);
        counts.skipped += page.entries.length;
        break;
      case "notice":
        notices.push(page);
        emit(page.level, page.message);
        break;
      case "done": {
        emit(
          "debug",
          `Read ${counts.users} users and ${counts.groups} groups in ${counts.pages} pages`,
        );
        const result: ReadResult = {
          snapshot,
          incremental: page.incremental,
          notices,
          counts,
        };
        if (page.state !== undefined) result.state = page.state;
        if (page.incremental && page.delta === true) {
          result.delta = true;
          result.removed = removed;
        }
        return result;
      }
    }
  }
  throw new SourceIncompleteError(
    `Directory read incomplete: the ${provider.name} provider stopped after ${counts.users} users and ${counts.groups} groups without finishing`,
    {
      hint: "Nothing was sent. Run again with --verbose to see where the read stopped",
      details: { provider: provider.name, users: counts.users, groups: counts.groups },
    },
  );
}

/** The sink that appends every page to `snapshot`. */
function gather(snapshot: DirectorySnapshot): PageSink {
  return {
    addUsers: (users) => {
      for (const user of users) snapshot.users.push(user);
    },
    addGroups: (groups) => {
      for (const group of groups) snapshot.groups.push(group);
    },
    addSkipped: (entries) => {
      for (const entry of entries) snapshot.skipped.push(entry);
    },
  };
}
