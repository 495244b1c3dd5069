/**
 * The source-health gate: a directory read that looks incomplete must never drive a sync.
 *
 * Providers already throw `SourceIncompleteError` for what they can see (a failed or truncated
 * page, a size or time limit). This gate adds what only history shows: a full read that finds
 * no users, or no groups, where the last successful full read found several.
 * @module
 */

import { SourceIncompleteError } from "../errors.ts";

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
