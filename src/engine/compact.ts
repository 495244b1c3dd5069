/**
 * The engine pass in compact form: filter, normalise, de-duplicate, resolve and flatten nesting,
 * keeping one column entry per user and group and integer indexes instead of per-object records.
 *
 * {@link compactSyncData} reads a {@link DirectorySnapshot} and returns {@link CompactData}:
 * parallel arrays of the strings the snapshot already holds (nothing is copied), flags in a
 * byte array, and the groups' flattened members as user indexes in one `Int32Array`. Nothing in
 * it points back at the snapshot's records, their `refs` or their `memberRefs`, so once it is
 * built the snapshot can be let go. {@link expandSyncData} turns it into the object form,
 * {@link SyncData}, for the import requests of `plan` and `sync`; the `test` report is sorted
 * and written straight from it (see `report.ts`).
 *
 * Hot loops live in small functions called once per record or per list: V8 optimises those
 * quickly, where one long function with many loops would stay in its interpreter.
 * @module
 */

import {
  dedupeGroupRecords,
  dedupeUserRecords,
  duplicatesError,
  type GroupRecordsResult,
  indexExternalIds,
} from "./dedupe.ts";
import { setFilterMasks } from "./filter.ts";
import {
  flattenMembers,
  type IndexedUsers,
  RefIndex,
  type ResolvedMembers,
  resolveMembers,
} from "./nesting.ts";
import { normalizeEmail } from "./normalize.ts";
import type {
  DirectoryGroup,
  DirectorySnapshot,
  DirectoryUser,
  SkippedEntry,
  SyncData,
  UnresolvedMember,
} from "./types.ts";

/** Bit of {@link CompactUsers.flags}: the user is disabled. */
export const USER_DISABLED = 1;
/** Bit of {@link CompactUsers.flags}: the user is deleted. */
export const USER_DELETED = 2;

/** Users as parallel columns, one entry per user, in directory order. */
export interface CompactUsers {
  /** DN or native id, for reports. */
  referenceId: string[];
  /** The id sent to Bitwarden. */
  externalId: string[];
  /** Trimmed, lowercased email; null only for a deleted user without one. */
  email: (string | null)[];
  /** {@link USER_DISABLED} and {@link USER_DELETED} bits. */
  flags: Uint8Array;
}

/** Groups as parallel columns, one entry per group, in directory order. */
export interface CompactGroups {
  referenceId: string[];
  externalId: string[];
  name: string[];
}

/** What the engine makes of a snapshot, compactly: the same content as {@link SyncData}. */
export interface CompactData {
  /** Synced users. Empty when `sync.users` is off. */
  users: CompactUsers;
  /** Synced groups. Empty when `sync.groups` is off. */
  groups: CompactGroups;
  /** The externalIds group members are given by: `members` holds indexes into it. */
  memberIds: readonly string[];
  /**
   * Group `g`'s flattened members are `members[memberStart[g]]` up to (not including)
   * `members[memberStart[g + 1]]`, in flattened order. Length: groups + 1.
   */
  memberStart: Int32Array;
  /** Indexes into `memberIds`; within a group each externalId appears once. */
  members: Int32Array;
  /** Users and groups left out, with the reason. */
  skipped: SkippedEntry[];
  /** Member references that matched nothing synced. */
  unresolved: UnresolvedMember[];
}

/** What {@link compactSyncData} should produce (the `sync.*` settings it follows). */
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
}

/**
 * Turns what a provider read into what a sync sends, compactly. Users without a usable email
 * are reported in `skipped`, references that match nothing in `unresolved`. The snapshot is
 * only read.
 * @throws {DirectoryDataError} `duplicate_email` or `duplicate_external_id` on duplicates.
 */
export function compactSyncData(snapshot: DirectorySnapshot, options: EngineOptions): CompactData {
  const users = snapshot.users;
  const groups = snapshot.groups;
  const n = users.length;
  const filters = options.setFilters === undefined ? null : setFilterMasks(
    users,
    // The group filter only applies when groups are synced.
    options.syncGroups ? groups : [],
    {
      users: options.setFilters.users,
      groups: options.syncGroups ? options.setFilters.groups : undefined,
      removeDisabled: options.removeDisabled,
    },
  );

  // Users that passed the filters and normalisation (1), with their normalised email.
  const kept = new Uint8Array(n);
  const email: (string | null)[] = new Array<string | null>(n);
  const skipped: SkippedEntry[] = [...snapshot.skipped];
  normalizeAll(users, { filter: filters?.users ?? null, kept, email, skipped });

  const canonical = new Int32Array(n);
  const ids = indexExternalIds(users, canonical);
  const userResult = options.syncUsers
    ? dedupeUserRecords({ users, email, kept, canonical })
    : { survivor: kept, duplicateEmails: [], duplicateExternalIds: [] };
  const survivor = userResult.survivor;
  const groupResult: GroupRecordsResult = options.syncGroups
    ? dedupeGroupRecords(groups, filters?.groups ?? null)
    : { groups: [], mask: new Uint8Array(groups.length), duplicateExternalIds: [] };
  const error = duplicatesError({
    emails: userResult.duplicateEmails,
    userExternalIds: userResult.duplicateExternalIds,
    groupExternalIds: groupResult.duplicateExternalIds,
  });
  if (error !== null) throw error;

  const columns = options.syncUsers ? userColumns(users, { survivor, email }) : emptyUsers();
  if (!options.syncGroups) {
    return {
      users: columns,
      groups: { referenceId: [], externalId: [], name: [] },
      memberIds: [],
      memberStart: new Int32Array(1),
      members: new Int32Array(0),
      skipped,
      unresolved: [],
    };
  }

  const member = memberFlags(users, { survivor, removeDisabled: options.removeDisabled });
  const keptGroups = groupResult.groups;
  const resolved = resolveSnapshot(snapshot, {
    keptGroups,
    mask: groupResult.mask,
    users: { count: n, member, canonical },
  });
  const lists = flattenMembers(resolved.direct, resolved.children, n);
  const packed = pack(lists);
  return {
    users: columns,
    groups: {
      referenceId: keptGroups.map((g) => g.referenceId),
      externalId: keptGroups.map((g) => g.externalId),
      name: keptGroups.map((g) => g.name),
    },
    memberIds: ids,
    memberStart: packed.start,
    members: packed.items,
    skipped,
    unresolved: resolved.unresolved,
  };
}

/** Turns {@link CompactData} into its object form, {@link SyncData}. */
export function expandSyncData(data: CompactData): SyncData {
  const { users, groups, memberIds, memberStart, members } = data;
  const syncUsers = new Array<SyncData["users"][number]>(users.externalId.length);
  for (let i = 0; i < syncUsers.length; i++) {
    const flags = users.flags[i] ?? 0;
    syncUsers[i] = {
      referenceId: users.referenceId[i] ?? "",
      externalId: users.externalId[i] ?? "",
      email: users.email[i] ?? null,
      disabled: (flags & USER_DISABLED) !== 0,
      deleted: (flags & USER_DELETED) !== 0,
    };
  }
  const syncGroups = new Array<SyncData["groups"][number]>(groups.externalId.length);
  for (let g = 0; g < syncGroups.length; g++) {
    const from = memberStart[g] ?? 0;
    const to = memberStart[g + 1] ?? 0;
    const ids = new Array<string>(to - from);
    for (let k = from; k < to; k++) ids[k - from] = memberIds[members[k] ?? 0] ?? "";
    syncGroups[g] = {
      referenceId: groups.referenceId[g] ?? "",
      externalId: groups.externalId[g] ?? "",
      name: groups.name[g] ?? "",
      memberExternalIds: ids,
    };
  }
  return {
    users: syncUsers,
    groups: syncGroups,
    skipped: data.skipped,
    unresolved: data.unresolved,
  };
}

/**
 * Turns {@link SyncData} into {@link CompactData}; group members that are not among the users
 * get their own entries in `memberIds`.
 */
export function compactOf(data: SyncData): CompactData {
  const count = data.users.length;
  const users: CompactUsers = {
    referenceId: new Array<string>(count),
    externalId: new Array<string>(count),
    email: new Array<string | null>(count),
    flags: new Uint8Array(count),
  };
  data.users.forEach((u, i) => {
    users.referenceId[i] = u.referenceId;
    users.externalId[i] = u.externalId;
    users.email[i] = u.email;
    users.flags[i] = (u.disabled ? USER_DISABLED : 0) | (u.deleted ? USER_DELETED : 0);
  });
  const memberIds: string[] = [];
  const idIndex = new Map<string, number>();
  const lists = data.groups.map((g) =>
    g.memberExternalIds.map((id) => {
      let index = idIndex.get(id);
      if (index === undefined) {
        index = memberIds.length;
        memberIds.push(id);
        idIndex.set(id, index);
      }
      return index;
    })
  );
  const packed = pack(lists);
  return {
    users,
    groups: {
      referenceId: data.groups.map((g) => g.referenceId),
      externalId: data.groups.map((g) => g.externalId),
      name: data.groups.map((g) => g.name),
    },
    memberIds,
    memberStart: packed.start,
    members: packed.items,
    skipped: data.skipped,
    unresolved: data.unresolved,
  };
}

/**
 * Normalises the email of every user that passed the filters (1 in `kept`, the email in
 * `email`); users without a usable email go to `skipped`, except deleted users, which are kept
 * with a null email (their removal only needs the externalId).
 */
function normalizeAll(
  users: readonly DirectoryUser[],
  out: {
    filter: Uint8Array | null;
    kept: Uint8Array;
    email: (string | null)[];
    skipped: SkippedEntry[];
  },
): void {
  const { filter, kept, email, skipped } = out;
  for (let i = 0; i < users.length; i++) {
    const user = users[i];
    email[i] = null;
    if (user === undefined || (filter !== null && filter[i] !== 1)) continue;
    const check = normalizeEmail(user.email);
    if (check.ok) {
      email[i] = check.email;
      kept[i] = 1;
    } else if (user.deleted) {
      kept[i] = 1;
    } else {
      skipped.push({ referenceId: user.referenceId, kind: "user", reason: check.reason });
    }
  }
}

function emptyUsers(): CompactUsers {
  return { referenceId: [], externalId: [], email: [], flags: new Uint8Array(0) };
}

/** The surviving users as columns, in directory order. */
function userColumns(
  users: readonly DirectoryUser[],
  columns: { survivor: Uint8Array; email: readonly (string | null)[] },
): CompactUsers {
  const { survivor, email } = columns;
  let count = 0;
  for (let i = 0; i < survivor.length; i++) if (survivor[i] === 1) count++;
  const out: CompactUsers = {
    referenceId: new Array<string>(count),
    externalId: new Array<string>(count),
    email: new Array<string | null>(count),
    flags: new Uint8Array(count),
  };
  let k = 0;
  for (let i = 0; i < survivor.length; i++) {
    const user = users[i];
    if (survivor[i] !== 1 || user === undefined) continue;
    out.referenceId[k] = user.referenceId;
    out.externalId[k] = user.externalId;
    out.email[k] = email[i] ?? null;
    out.flags[k] = (user.disabled ? USER_DISABLED : 0) | (user.deleted ? USER_DELETED : 0);
    k++;
  }
  return out;
}

/**
 * 1 for each user synced as a group member: a survivor that is neither deleted nor, with
 * `removeDisabled`, disabled.
 */
function memberFlags(
  users: readonly DirectoryUser[],
  options: { survivor: Uint8Array; removeDisabled: boolean },
): Uint8Array {
  const { survivor, removeDisabled } = options;
  const member = new Uint8Array(users.length);
  for (let i = 0; i < users.length; i++) {
    const u = users[i];
    if (u === undefined || survivor[i] !== 1) continue;
    if (!u.deleted && !(u.disabled && removeDisabled)) member[i] = 1;
  }
  return member;
}

/**
 * Resolves the synced groups' member references against every user's and group's references.
 * The index of references is made and dropped here, before nesting is flattened.
 */
function resolveSnapshot(
  snapshot: DirectorySnapshot,
  options: { keptGroups: readonly DirectoryGroup[]; mask: Uint8Array; users: IndexedUsers },
): ResolvedMembers {
  const byRef = new RefIndex();
  // Users first, so a reference's users come before its groups (the order members and nesting
  // edges are taken in).
  indexUserRefs(snapshot.users, byRef);
  indexGroupRefs(snapshot.groups, { byRef, mask: options.mask, userCount: options.users.count });
  return resolveMembers(options.keptGroups, { byRef, users: options.users });
}

/** Indexes every user's references (its `refs`, else its referenceId) under its index. */
function indexUserRefs(users: readonly DirectoryUser[], byRef: RefIndex): void {
  for (let i = 0; i < users.length; i++) {
    const u = users[i];
    if (u === undefined) continue;
    const refs = u.refs;
    if (refs === undefined) byRef.addOne(u.referenceId, i);
    else byRef.add(refs, i);
  }
}

/**
 * Indexes the references of the groups (their `refs`, else their referenceId): synced groups
 * (1 in `mask`) under `userCount` + their index among the synced groups, the others past
 * those, where they resolve to nothing and are not reported.
 */
function indexGroupRefs(
  groups: readonly DirectoryGroup[],
  options: { byRef: RefIndex; mask: Uint8Array; userCount: number },
): void {
  const { byRef, mask } = options;
  let synced = 0;
  for (let g = 0; g < groups.length; g++) if (mask[g] === 1) synced++;
  const ignoredIndex = options.userCount + synced;
  let k = 0;
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g];
    if (group === undefined) continue;
    const index = mask[g] === 1 ? options.userCount + k++ : ignoredIndex;
    if (group.refs === undefined) byRef.addOne(group.referenceId, index);
    else byRef.add(group.refs, index);
  }
}

function copyInto(items: Int32Array, at: number, list: readonly number[]): number {
  for (let i = 0; i < list.length; i++) items[at + i] = list[i] ?? 0;
  return at + list.length;
}

/** Packs lists into one array with offsets: list `g` is `items[start[g]]` to `items[start[g + 1]]`. */
function pack(lists: readonly (readonly number[])[]): { start: Int32Array; items: Int32Array } {
  const start = new Int32Array(lists.length + 1);
  let total = 0;
  for (let g = 0; g < lists.length; g++) {
    start[g] = total;
    total += lists[g]?.length ?? 0;
  }
  start[lists.length] = total;
  const items = new Int32Array(total);
  let k = 0;
  for (let g = 0; g < lists.length; g++) k = copyInto(items, k, lists[g] ?? []);
  return { start, items };
}
