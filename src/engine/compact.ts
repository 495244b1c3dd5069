/**
 * The engine pass in compact form: filter, normalise, de-duplicate, resolve and flatten nesting,
 * keeping one column entry per user and group and integer indexes instead of per-object records.
 *
 * A {@link CompactBuilder} is fed a read's pages as they arrive (or {@link compactSyncData} a
 * whole {@link DirectorySnapshot}) and returns {@link CompactData}: parallel arrays of the
 * strings the provider's records already hold (nothing is copied), flags in a byte array, and
 * the groups' flattened members as user indexes in one `Int32Array`. Nothing in it points back
 * at the records, their `refs` or their `memberRefs`, so the records can be let go: the
 * builder drops each user record once its page is added. {@link expandSyncData} turns it into the object form,
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
import { USER_DELETED, USER_DISABLED, type UserFields } from "./columns.ts";
import { parseSetFilter, passesSetFilter, type SetFilter } from "./filter.ts";
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

export { USER_DELETED, USER_DISABLED } from "./columns.ts";

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
 * only read. The same as feeding the snapshot to a {@link CompactBuilder}.
 * @throws {DirectoryDataError} `duplicate_email` or `duplicate_external_id` on duplicates.
 */
export function compactSyncData(snapshot: DirectorySnapshot, options: EngineOptions): CompactData {
  const builder = new CompactBuilder(options);
  builder.addUsers(snapshot.users);
  builder.addGroups(snapshot.groups);
  builder.addSkipped(snapshot.skipped);
  return builder.finish();
}

/** Builder-only bit of a user's flags: the raw email passes the user set filter. */
const PASSES_USER_FILTER = 4;
/** Builder-only bit of a user's flags: the email is usable (normalised in the email column). */
const EMAIL_OK = 8;

/**
 * The engine fed page by page: {@link compactSyncData} without a {@link DirectorySnapshot}.
 *
 * Each user is turned into column entries as it arrives (referenceId, externalId, normalised
 * email, a flags byte) and its references go straight
 * into the index groups are resolved against, so a provider's {@link DirectoryUser} records
 * and their `refs` arrays are garbage as soon as their page has been added: at 100,000 users
 * they die in V8's young generation instead of being promoted and kept for the whole read.
 * Groups are few and are kept as they are (de-duplication compares their member lists).
 *
 * Users, groups and skipped entries may arrive in any interleaving; the result is the same as
 * {@link compactSyncData} on the snapshot of the same pages (users in the order added, groups
 * in the order added, the provider's skipped entries before the engine's). Use one builder
 * for one read: {@link finish} lets go of everything the builder held.
 */
export class CompactBuilder {
  readonly #options: EngineOptions;
  readonly #userFilter: SetFilter | null;
  readonly #groupFilter: SetFilter | null;
  #count = 0;
  #referenceId: string[] = [];
  #externalId: string[] = [];
  /** Normalised email (with {@link EMAIL_OK}), else null. */
  #email: (string | null)[] = [];
  /** {@link USER_DISABLED}, {@link USER_DELETED}, {@link PASSES_USER_FILTER}, {@link EMAIL_OK}. */
  #flags = new Uint8Array(1024);
  /** Why each user without a usable email would be skipped, by user index. */
  #reasons: Map<number, string> | null = new Map<number, string>();
  /** Every user's references (its `refs`, else its referenceId); only when groups are synced. */
  #userRefs: RefIndex | null;
  #groups: DirectoryGroup[] = [];
  #skipped: SkippedEntry[] = [];
  #finished = false;

  /** A builder for one read, following `options` (the `sync.*` settings). */
  constructor(options: EngineOptions) {
    this.#options = options;
    const filters = options.setFilters;
    this.#userFilter = filters === undefined ? null : parseSetFilter(filters.users);
    // The group filter only applies when groups are synced.
    this.#groupFilter = filters === undefined || !options.syncGroups
      ? null
      : parseSetFilter(filters.groups);
    this.#userRefs = options.syncGroups ? new RefIndex() : null;
  }

  /** Adds a page of users, in directory order. */
  addUsers(users: readonly DirectoryUser[]): void {
    this.#open();
    const from = this.#count;
    this.#reserve(from + users.length);
    for (let k = 0; k < users.length; k++) {
      const user = users[k];
      if (user !== undefined) this.#addUser(user, from + k);
    }
    this.#count = from + users.length;
  }

  /** Adds a page of groups, in directory order (ignored when groups are not synced). */
  addGroups(groups: readonly DirectoryGroup[]): void {
    this.#open();
    if (!this.#options.syncGroups) return;
    for (let k = 0; k < groups.length; k++) {
      const group = groups[k];
      if (group !== undefined) this.#groups.push(group);
    }
  }

  /** Adds objects the provider itself could not map. */
  addSkipped(entries: readonly SkippedEntry[]): void {
    this.#open();
    for (let k = 0; k < entries.length; k++) {
      const entry = entries[k];
      if (entry !== undefined) this.#skipped.push(entry);
    }
  }

  /**
   * Runs the rest of the engine on everything added and returns the result; the builder
   * lets go of its own tables first, so only what the result needs stays reachable.
   * @throws {DirectoryDataError} `duplicate_email` or `duplicate_external_id` on duplicates.
   * @throws {TypeError} when called twice.
   */
  finish(): CompactData {
    this.#open();
    this.#finished = true;
    // Two stages, so that the tables only resolution needs (the users' references, the group
    // records and their member lists, the raw columns) are unreachable once #resolve returns,
    // before nesting is flattened and the member lists packed.
    const stage = this.#resolve();
    if (stage.resolved === null) return stage.data;
    const { data, resolved } = stage;
    const packed = pack(flattenMembers(resolved.direct, resolved.children, resolved.userCount));
    return { ...data, memberStart: packed.start, members: packed.items };
  }

  /**
   * Everything {@link finish} does up to resolving the groups' members: the result without
   * its member lists, and the resolved direct members and nesting edges (null when groups are
   * not synced: the result is then complete).
   */
  #resolve(): {
    data: CompactData;
    resolved: (ResolvedMembers & { userCount: number }) | null;
  } {
    const options = this.#options;
    const n = this.#count;
    const referenceId = this.#referenceId;
    const externalId = this.#externalId;
    const email = this.#email;
    const flags = this.#flags.subarray(0, n);
    const reasons = this.#reasons ?? new Map<number, string>();
    const userRefs = this.#userRefs;
    const groups = this.#groups;
    const skipped = this.#skipped;
    this.#referenceId = [];
    this.#externalId = [];
    this.#email = [];
    this.#flags = new Uint8Array(0);
    this.#reasons = null;
    this.#userRefs = null;
    this.#groups = [];
    this.#skipped = [];

    const fields: UserFields = { referenceId, externalId, flags };
    // The first user with the same externalId, by user index. Made here rather than as users
    // arrive: its map then never coexists with the provider's own tables.
    const canonical = new Int32Array(n);
    indexExternalIds(externalId, canonical);
    const filters = options.setFilters === undefined ? null : this.#filterMasks(fields, {
      groups,
      userRefs,
    });
    // Users that passed the filters and normalisation (1); the others without a usable email
    // are skipped, in directory order, after the provider's own skipped entries.
    const kept = new Uint8Array(n);
    keepUsers(fields, { filter: filters?.users ?? null, reasons, kept, skipped });

    const userResult = options.syncUsers
      ? dedupeUserRecords({ users: fields, email, kept, canonical })
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

    const columns = options.syncUsers ? userColumns(fields, { survivor, email }) : emptyUsers();
    if (!options.syncGroups || userRefs === null) {
      return {
        data: {
          users: columns,
          groups: { referenceId: [], externalId: [], name: [] },
          memberIds: [],
          memberStart: new Int32Array(1),
          members: new Int32Array(0),
          skipped,
          unresolved: [],
        },
        resolved: null,
      };
    }

    const member = memberFlags(flags, { survivor, removeDisabled: options.removeDisabled });
    const keptGroups = groupResult.groups;
    const resolved = resolveGroups(groups, {
      keptGroups,
      mask: groupResult.mask,
      userRefs,
      users: { count: n, member, canonical },
    });
    return {
      data: {
        users: columns,
        groups: {
          referenceId: keptGroups.map((g) => g.referenceId),
          externalId: keptGroups.map((g) => g.externalId),
          name: keptGroups.map((g) => g.name),
        },
        memberIds: externalId,
        memberStart: new Int32Array(1),
        members: new Int32Array(0),
        skipped,
        unresolved: resolved.unresolved,
      },
      resolved: { ...resolved, userCount: n },
    };
  }

  #open(): void {
    if (this.#finished) throw new TypeError("The engine's builder is already finished");
  }

  /** Grows the flags column to hold at least `size` users (doubling, so each user moves O(1) times). */
  #reserve(size: number): void {
    if (size <= this.#flags.length) return;
    let capacity = this.#flags.length * 2;
    while (capacity < size) capacity *= 2;
    const flags = new Uint8Array(capacity);
    flags.set(this.#flags);
    this.#flags = flags;
  }

  /** One user: its column entries and its references. */
  #addUser(user: DirectoryUser, i: number): void {
    this.#referenceId.push(user.referenceId);
    this.#externalId.push(user.externalId);
    let flag = (user.disabled ? USER_DISABLED : 0) | (user.deleted ? USER_DELETED : 0);
    if (passesSetFilter(this.#userFilter, user.email)) flag |= PASSES_USER_FILTER;
    const check = normalizeEmail(user.email);
    if (check.ok) {
      this.#email.push(check.email);
      flag |= EMAIL_OK;
    } else {
      this.#email.push(null);
      this.#reasons?.set(i, check.reason);
    }
    this.#flags[i] = flag;
    const refs = this.#userRefs;
    if (refs === null) return;
    if (user.refs === undefined) refs.addOne(user.referenceId, i);
    else refs.add(user.refs, i);
  }

  /**
   * The user and group set filters as masks (see `applySetFilters` in `filter.ts`, which this
   * mirrors on columns): with a group set filter, a user stays only if deleted, disabled
   * while `removeDisabled` is on, or a **direct** member of a kept group — found by looking
   * the kept groups' member references up among the users' references.
   */
  #filterMasks(
    fields: UserFields,
    tables: { groups: readonly DirectoryGroup[]; userRefs: RefIndex | null },
  ): { users: Uint8Array; groups: Uint8Array } {
    const { flags } = fields;
    const { groups, userRefs } = tables;
    const n = flags.length;
    const users = new Uint8Array(n);
    for (let i = 0; i < n; i++) users[i] = ((flags[i] ?? 0) & PASSES_USER_FILTER) !== 0 ? 1 : 0;
    const groupMask = new Uint8Array(groups.length);
    groups.forEach((g, i) => groupMask[i] = passesSetFilter(this.#groupFilter, g.name) ? 1 : 0);
    if (this.#groupFilter !== null && userRefs !== null) {
      const direct = new Uint8Array(n);
      groups.forEach((g, i) => {
        if (groupMask[i] === 1) markDirectMembers(g.memberRefs, { userRefs, direct });
      });
      const keepDisabled = this.#options.removeDisabled;
      for (let i = 0; i < n; i++) {
        if (users[i] !== 1) continue;
        const f = flags[i] ?? 0;
        const stays = (f & USER_DELETED) !== 0 ||
          ((f & USER_DISABLED) !== 0 && keepDisabled) || direct[i] === 1;
        if (!stays) users[i] = 0;
      }
    }
    return { users, groups: groupMask };
  }
}

/** Sets `direct[i]` for every user `i` one of `refs` names. */
function markDirectMembers(
  refs: readonly string[],
  tables: { userRefs: RefIndex; direct: Uint8Array },
): void {
  const { userRefs, direct } = tables;
  for (let r = 0; r < refs.length; r++) {
    const found = userRefs.lookup(refs[r] ?? "");
    if (found === undefined) continue;
    if (found >= 0) direct[found] = 1;
    else for (const i of userRefs.shared(found)) direct[i] = 1;
  }
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
 * Marks in `kept` every user that passed the filters and has a usable email; users without
 * one go to `skipped` with the reason, except deleted users, which are kept with a null email
 * (their removal only needs the externalId).
 */
function keepUsers(
  fields: UserFields,
  out: {
    filter: Uint8Array | null;
    reasons: ReadonlyMap<number, string>;
    kept: Uint8Array;
    skipped: SkippedEntry[];
  },
): void {
  const { referenceId, flags } = fields;
  const { filter, reasons, kept, skipped } = out;
  for (let i = 0; i < flags.length; i++) {
    if (filter !== null && filter[i] !== 1) continue;
    const f = flags[i] ?? 0;
    if ((f & (EMAIL_OK | USER_DELETED)) !== 0) {
      kept[i] = 1;
    } else {
      skipped.push({
        referenceId: referenceId[i] ?? "",
        kind: "user",
        reason: reasons.get(i) ?? "",
      });
    }
  }
}

function emptyUsers(): CompactUsers {
  return { referenceId: [], externalId: [], email: [], flags: new Uint8Array(0) };
}

/** The surviving users as columns, in directory order. */
function userColumns(
  fields: UserFields,
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
    if (survivor[i] !== 1) continue;
    out.referenceId[k] = fields.referenceId[i] ?? "";
    out.externalId[k] = fields.externalId[i] ?? "";
    out.email[k] = email[i] ?? null;
    out.flags[k] = (fields.flags[i] ?? 0) & (USER_DISABLED | USER_DELETED);
    k++;
  }
  return out;
}

/**
 * 1 for each user synced as a group member: a survivor that is neither deleted nor, with
 * `removeDisabled`, disabled.
 */
function memberFlags(
  flags: Uint8Array,
  options: { survivor: Uint8Array; removeDisabled: boolean },
): Uint8Array {
  const { survivor, removeDisabled } = options;
  const member = new Uint8Array(flags.length);
  const excluded = USER_DELETED | (removeDisabled ? USER_DISABLED : 0);
  for (let i = 0; i < flags.length; i++) {
    if (survivor[i] === 1 && ((flags[i] ?? 0) & excluded) === 0) member[i] = 1;
  }
  return member;
}

/**
 * Resolves the synced groups' member references against every user's and group's references:
 * the groups' references are added to the users' index (after every user, so a reference
 * carried by both gives the users first), synced groups (1 in `mask`) under `users.count` +
 * their index among the synced groups, the others past those, where they resolve to nothing
 * and are not reported. One index means one lookup per member reference. The index is
 * dropped with the builder's tables, before nesting is flattened.
 */
function resolveGroups(
  groups: readonly DirectoryGroup[],
  options: {
    keptGroups: readonly DirectoryGroup[];
    mask: Uint8Array;
    userRefs: RefIndex;
    users: IndexedUsers;
  },
): ResolvedMembers {
  const { mask, users } = options;
  const refs = options.userRefs;
  const ignoredIndex = users.count + options.keptGroups.length;
  let k = 0;
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g];
    if (group === undefined) continue;
    const index = mask[g] === 1 ? users.count + k++ : ignoredIndex;
    if (group.refs === undefined) refs.addOne(group.referenceId, index);
    else refs.add(group.refs, index);
  }
  return resolveMembers(options.keptGroups, { refs, users });
}

/**
 * Copies `list` into `items` from `at`. Nothing follows the loop: when V8 compiles a long loop
 * while it runs (on-stack replacement), code after it has no type feedback, and each later
 * call that reaches it fell back to the interpreter (hundreds of times per run).
 */
function copyInto(items: Int32Array, at: number, list: readonly number[]): void {
  for (let i = 0; i < list.length; i++) items[at + i] = list[i] ?? 0;
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
  for (let g = 0; g < lists.length; g++) {
    const list = lists[g] ?? [];
    copyInto(items, k, list);
    k += list.length;
  }
  return { start, items };
}
