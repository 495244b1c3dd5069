/**
 * The one small interface every directory source implements.
 *
 * A provider streams pages; the caller gathers them. Each provider owns its paging, throttling
 * and error mapping: connection and credential failures throw `DirectoryError`, data it cannot
 * interpret throws `DirectoryDataError`, and **any** partial read (a failed or truncated page, a
 * size or time limit, an unreadable page) throws `SourceIncompleteError`, never a short result.
 * @module
 */

import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../engine/types.ts";
import type { Config } from "../config/schema.ts";

/** What the caller asks of one read. */
export interface ReadOptions {
  /** Read users (needed whenever users are synced, or groups need their members resolved). */
  users: boolean;
  /** Read groups. */
  groups: boolean;
  /**
   * `full` reads everything. `incremental` may return only objects changed since the
   * `since` times; a provider that cannot prove an incremental read complete reads in full
   * and says so in its `done` page.
   */
  mode: "full" | "incremental";
  /** Last successful user and group sync times, for incremental reads. */
  since?: { users?: Date; groups?: Date };
  /** Provider-specific resumable state from the last run (e.g. Graph delta links). */
  state?: Readonly<Record<string, string>>;
  /** Aborts the read (SIGINT, timeout). */
  signal?: AbortSignal;
}

/** One page of a read. */
export type DirectoryPage =
  | { kind: "users"; users: DirectoryUser[] }
  | { kind: "groups"; groups: DirectoryGroup[] }
  | { kind: "skipped"; entries: SkippedEntry[] }
  | { kind: "notice"; level: "info" | "warn"; message: string }
  | {
    kind: "done";
    /** Whether the read was incremental in the end (a provider may fall back to full). */
    incremental: boolean;
    /** Provider state to store for the next run (e.g. delta links). */
    state?: Record<string, string>;
  };

/** A directory source. */
export interface DirectoryProvider {
  /** The `directory.type` it serves, e.g. `file` or `ldap`. */
  readonly name: string;
  /** Streams the directory as pages; the last page is `done`. */
  read(options: ReadOptions): AsyncIterable<DirectoryPage>;
}

/** Everything a provider factory gets. */
export interface ProviderContext {
  /** The validated configuration. */
  config: Config;
  /** Resolves a secret setting (e.g. `directory.ldap.password`) from the state store. */
  secret(key: string): Promise<string | undefined>;
  /** Logs a line to stderr at the given level. */
  log(level: "debug" | "info" | "warn", message: string): void;
}

/** Builds a provider for the configured directory. */
export type ProviderFactory = (context: ProviderContext) => DirectoryProvider;
