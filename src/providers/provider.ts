/**
 * The one small interface every directory source implements.
 *
 * A provider streams pages; the caller gathers them. Each provider owns its paging, throttling
 * and error mapping: connection and credential failures throw `DirectoryError`, data it cannot
 * interpret throws `DirectoryDataError`, and **any** partial read (a failed or truncated page, a
 * size or time limit, an unreadable page) throws `SourceIncompleteError`, never a short result.
 *
 * **Three kinds of read**, told apart by the `done` page:
 *
 * - **Full** (`incremental: false`): the pages hold the whole directory.
 * - **Changes only** (`incremental: true`, no `delta`): bwdc's `--last`. The pages hold only
 *   what changed since the `since` times and nothing is merged; the `ldap` provider returns
 *   this only when nothing changed (no pages), and reads in full otherwise.
 * - **Delta** (`incremental: true, delta: true`): the pages hold changes against the last
 *   complete snapshot (the one the pipeline stored after the last full or delta read): users
 *   and groups added or changed (whole objects, with their whole member lists), and the ids of
 *   those removed (`removed` on a `users` or `groups` page). The pipeline
 *   (`src/sync/source.ts`) merges them into the stored snapshot, so nesting and memberships
 *   resolve against the whole directory. When it has no stored snapshot it cannot apply a
 *   delta and reads again in full. A provider asked for `incremental` that cannot produce a
 *   delta (an expired delta link) reads in full and says `incremental: false`.
 * @module
 */

import type { ProgressReporter } from "../output/progress.ts";
import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../engine/types.ts";

/** What the caller asks of one read. */
export interface ReadOptions {
  /** Read users (needed whenever users are synced, or groups need their members resolved). */
  users: boolean;
  /** Read groups. */
  groups: boolean;
  /**
   * `full` reads everything. `incremental` may return a changes-only or a delta read (see the
   * module documentation); a provider that cannot prove either complete reads in full and says
   * so in its `done` page.
   */
  mode: "full" | "incremental";
  /** Last successful user and group sync times, for incremental reads. */
  since?: { users?: Date; groups?: Date };
  /** Provider-specific resumable state from the last run (e.g. Graph delta links). */
  state?: Readonly<Record<string, string>>;
  /** Aborts the read (SIGINT, timeout). */
  signal?: AbortSignal;
}

/**
 * What a notice is about. The health gate (`src/sync/health.ts`) acts on some of them:
 * - `deletedObjectsUnreadable`: deleted users could not be listed (AD `CN=Deleted Objects`,
 *   a cloud directory's deleted-users endpoint), so deletions would be missed; a sync that
 *   would delete or remove anything stops.
 * - `tlsSettingsIgnored`: TLS files are set but the connection is plain.
 * - `noChanges`: an incremental read found nothing changed.
 * - `fullReadInstead`: an incremental read was asked but the provider read in full (why is in
 *   the message).
 * - `referralsNotFollowed`: the server sent continuation references roster does not follow.
 * - `entriesOutsideBase`: file entries outside the configured search base were left out.
 * - `pathDefaultNotApplied`: a default search path could not be applied (no root DN).
 */
export type NoticeCode =
  | "deletedObjectsUnreadable"
  | "tlsSettingsIgnored"
  | "noChanges"
  | "fullReadInstead"
  | "referralsNotFollowed"
  | "entriesOutsideBase"
  | "pathDefaultNotApplied";

/** A typed notice: the code for the pipeline, the message for people. */
export interface DirectoryNotice {
  kind: "notice";
  code: NoticeCode;
  level: "info" | "warn";
  /** One sentence, shown on stderr and in `plan`. */
  message: string;
}

/** One page of a read. */
export type DirectoryPage =
  | {
    kind: "users";
    users: DirectoryUser[];
    /** Delta reads only: externalIds of users removed since the last complete snapshot. */
    removed?: string[];
  }
  | {
    kind: "groups";
    groups: DirectoryGroup[];
    /** Delta reads only: externalIds of groups removed since the last complete snapshot. */
    removed?: string[];
  }
  | { kind: "skipped"; entries: SkippedEntry[] }
  | DirectoryNotice
  | {
    kind: "done";
    /** Whether the read was incremental in the end (a provider may fall back to full). */
    incremental: boolean;
    /**
     * The pages were a delta against the last complete snapshot, to be merged with it (see
     * the module documentation). Only with `incremental: true`.
     */
    delta?: boolean;
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

/**
 * Everything a provider factory gets: its own settings slice (e.g. `directory.ldap` and
 * `sync`, chosen by its registry descriptor), never the whole configuration.
 */
export interface ProviderContext<S> {
  /** The provider's settings slice, validated by the config schema. */
  settings: S;
  /** Resolves a secret setting (e.g. `directory.ldap.password`) from the state store. */
  secret(key: string): Promise<string | undefined>;
  /** Logs a line to stderr at the given level. */
  log(level: "debug" | "info" | "warn", message: string): void;
  /**
   * Reports the read's progress (objects read, requests or searches sent, throttle waits) to
   * the progress line on stderr; call it as often as convenient (it rate-limits itself) and
   * once more with `done: true`. Absent when no progress is shown.
   */
  progress?: ProgressReporter;
}

/** Builds a provider from its settings slice. */
export type ProviderFactory<S> = (context: ProviderContext<S>) => DirectoryProvider;
