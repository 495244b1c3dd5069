/**
 * The whole engine pass: filter, normalise, de-duplicate, resolve and flatten nesting.
 * @module
 */

import { dedupeGroups, dedupeUsers, duplicatesError } from "./dedupe.ts";
import { applySetFilters } from "./filter.ts";
import { flattenGroups, type NestingUser } from "./nesting.ts";
import { normalizeUsers } from "./normalize.ts";
import type { DirectoryGroup, DirectorySnapshot, DirectoryUser, SyncData } from "./types.ts";

/** What {@link buildSyncData} should produce. */
export interface EngineOptions {
  /** Sync users (`sync.users`). When off, users still resolve group membership. */
  syncUsers: boolean;
  /** Sync groups (`sync.groups`). */
  syncGroups: boolean;
  /** Disabled users become removals (`sync.removeDisabled`), so they are no group members. */
  removeDisabled: boolean;
  /**
   * The include/exclude set filters of non-LDAP providers (`sync.userFilter`,
   * `sync.groupFilter`). LDAP filters are applied by the provider and not passed here.
   */
  setFilters?: { users?: string | undefined; groups?: string | undefined };
  /**
   * Called between stages, when the previous stage's working data has become garbage. The CLI
   * collects garbage there to keep a large directory's peak memory down. @default nothing
   */
  betweenStages?: () => void;
}

/**
 * Turns what a provider read into what a sync sends. Users without a usable email are reported
 * in `skipped`, references that match nothing in `unresolved`.
 * @throws {DirectoryDataError} `duplicate_email` or `duplicate_external_id` on duplicates.
 */
export function buildSyncData(snapshot: DirectorySnapshot, options: EngineOptions): SyncData {
  let users: readonly DirectoryUser[] = snapshot.users;
  let groups: readonly DirectoryGroup[] = snapshot.groups;
  if (options.setFilters !== undefined) {
    const filtered = applySetFilters(users, options.syncGroups ? groups : [], {
      users: options.setFilters.users,
      groups: options.syncGroups ? options.setFilters.groups : undefined,
      removeDisabled: options.removeDisabled,
    });
    users = filtered.users;
    groups = filtered.groups;
  }

  const normalized = normalizeUsers(users);
  const userResult = options.syncUsers
    ? dedupeUsers(normalized.users)
    : { users: normalized.users, duplicateEmails: [], duplicateExternalIds: [] };
  const groupResult = options.syncGroups
    ? dedupeGroups(groups)
    : { groups: [], duplicateExternalIds: [] };
  const error = duplicatesError({
    emails: userResult.duplicateEmails,
    userExternalIds: userResult.duplicateExternalIds,
    groupExternalIds: groupResult.duplicateExternalIds,
  });
  if (error !== null) throw error;

  options.betweenStages?.();
  const skipped = [...snapshot.skipped, ...normalized.skipped];
  if (!options.syncGroups) {
    return {
      users: options.syncUsers ? userResult.users.map((i) => i.user) : [],
      groups: [],
      skipped,
      unresolved: [],
    };
  }

  const members = new Set<DirectoryUser>();
  for (const { source, user } of userResult.users) {
    if (!user.deleted && !(user.disabled && options.removeDisabled)) members.add(source);
  }
  const nestingUsers: NestingUser[] = snapshot.users.map((u) => ({
    refs: u.refs ?? [u.referenceId],
    externalId: u.externalId,
    member: members.has(u),
  }));
  const ignoredRefs = new Set<string>();
  const kept = new Set<DirectoryGroup>(groupResult.groups);
  for (const g of snapshot.groups) {
    if (!kept.has(g)) { for (const ref of g.refs ?? [g.referenceId]) ignoredRefs.add(ref); }
  }
  options.betweenStages?.();
  const nesting = flattenGroups(groupResult.groups, { users: nestingUsers, ignoredRefs });
  options.betweenStages?.();

  return {
    users: options.syncUsers ? userResult.users.map((i) => i.user) : [],
    groups: groupResult.groups.map((g, i) => ({
      referenceId: g.referenceId,
      externalId: g.externalId,
      name: g.name,
      memberExternalIds: nesting.memberExternalIds[i] ?? [],
    })),
    skipped,
    unresolved: nesting.unresolved,
  };
}
