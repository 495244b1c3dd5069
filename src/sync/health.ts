/**
 * The source-health gate: a directory read that looks incomplete must never drive a sync.
 *
 * Providers already throw `SourceIncompleteError` for what they can see (a failed or truncated
 * page, a size or time limit). This gate adds what only history shows: a full read that finds
 * no users, or no groups, where the last successful full read found several; and it acts on
 * the read's typed notices ({@link checkReadNotices}).
 * @module
 */

import { SourceIncompleteError } from "../errors.ts";
import type { DirectoryNotice } from "../providers/provider.ts";

/** Counts of one directory read. */
export interface ReadCounts {
  users: number;
  groups: number;
}

/** Options for {@link checkSourceHealth}. */
export interface SourceHealthOptions {
  /** Whether this read was incremental (an empty incremental read is normal). */
  incremental: boolean;
  /** Whether users and groups were read at all. */
  read: { users: boolean; groups: boolean };
  /** The operator confirmed an empty directory is real (`--allow-empty`). */
  allowEmpty: boolean;
  /** A previous count at or above this makes an empty read suspicious. @default 5 */
  minimumPrevious?: number;
}

/**
 * Throws {@link SourceIncompleteError} when a full read is empty where the last successful
 * full read (`previous`) was not.
 */
export function checkSourceHealth(
  current: ReadCounts,
  previous: ReadCounts | undefined,
  options: SourceHealthOptions,
): void {
  if (options.incremental || options.allowEmpty || previous === undefined) return;
  const minimum = options.minimumPrevious ?? 5;
  const problems: string[] = [];
  if (options.read.users && current.users === 0 && previous.users >= minimum) {
    problems.push(`0 users (the last successful read had ${previous.users})`);
  }
  if (options.read.groups && current.groups === 0 && previous.groups >= minimum) {
    problems.push(`0 groups (the last successful read had ${previous.groups})`);
  }
  if (problems.length === 0) return;
  throw new SourceIncompleteError(
    `Cannot trust the directory read: it returned ${problems.join(" and ")}`,
    {
      hint:
        "check the directory connection, credentials, paths and filters (roster test shows what is read); if the directory really is empty now, run again with --allow-empty",
      details: { current, previous },
    },
  );
}

/** Options of {@link checkReadNotices}. */
export interface ReadNoticesOptions {
  /**
   * How many members the sync would remove or delete (the plan's `remove`, plus members sent
   * as deleted without an organization view). 0 means the sync is not destructive.
   */
  removals: number;
}

/**
 * Acts on the read's typed notices: a `deletedObjectsUnreadable` notice (deleted users could
 * not be listed, e.g. AD `CN=Deleted Objects` without the right to list it) means the read
 * does not show the whole truth about deletions, so a sync that would remove or delete anyone
 * stops with {@link SourceIncompleteError}. A sync that removes no one goes on (the notice
 * stays a warning).
 */
export function checkReadNotices(
  notices: readonly DirectoryNotice[],
  options: ReadNoticesOptions,
): void {
  const unreadable = notices.find((notice) => notice.code === "deletedObjectsUnreadable");
  if (unreadable === undefined || options.removals === 0) return;
  throw new SourceIncompleteError(
    `Cannot trust the directory read for removals: ${unreadable.message}`,
    {
      hint:
        "Nothing was sent. Give the bind account the right to list deleted objects (AD: CN=Deleted Objects), then run again",
      details: { code: unreadable.code, removals: options.removals },
    },
  );
}
