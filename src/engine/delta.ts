/**
 * Merging a delta read into the last complete snapshot (pure).
 *
 * A delta read (`done.delta` in `src/providers/provider.ts`) returns the users and groups added
 * or changed since the last complete snapshot, as whole objects, and the externalIds of those
 * removed. Merging gives the whole directory again, so nesting and memberships resolve against
 * everything, not only against what changed.
 * @module
 */

import type { DirectorySnapshot } from "./types.ts";

/** The changes of one delta read. */
export interface DirectoryDelta {
  /** Users and groups added or changed (whole objects); `skipped` replaces the old list. */
  changed: DirectorySnapshot;
  /** externalIds of users and groups removed. */
  removed: { users: readonly string[]; groups: readonly string[] };
}

/**
 * Applies `delta` to `base` and returns the merged snapshot (neither input is changed). Objects
 * are matched by `externalId`: a changed object replaces the one in `base` in place, a new one
 * is appended, a removed one is dropped. The delta's skipped entries replace the base's for the
 * same reference and are added otherwise.
 */
export function applyDelta(base: DirectorySnapshot, delta: DirectoryDelta): DirectorySnapshot {
  return {
    users: mergeById(base.users, delta.changed.users, delta.removed.users),
    groups: mergeById(base.groups, delta.changed.groups, delta.removed.groups),
    skipped: [
      ...base.skipped.filter((entry) =>
        !delta.changed.skipped.some((s) => s.referenceId === entry.referenceId) &&
        !delta.changed.users.some((u) => u.referenceId === entry.referenceId) &&
        !delta.changed.groups.some((g) => g.referenceId === entry.referenceId)
      ),
      ...delta.changed.skipped,
    ],
  };
}

function mergeById<T extends { externalId: string }>(
  base: readonly T[],
  changed: readonly T[],
  removed: readonly string[],
): T[] {
  const gone = new Set(removed);
  const update = new Map<string, T>();
  for (const item of changed) update.set(item.externalId, item);
  const out: T[] = [];
  for (const item of base) {
    if (gone.has(item.externalId)) continue;
    const next = update.get(item.externalId);
    if (next === undefined) out.push(item);
    else {
      out.push(next);
      update.delete(item.externalId);
    }
  }
  for (const item of changed) {
    if (update.get(item.externalId) === item && !gone.has(item.externalId)) out.push(item);
  }
  return out;
}
