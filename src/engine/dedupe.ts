/**
 * De-duplication of users and groups, independent of input order.
 *
 * Rules (bwdc's `removeDuplicateUsers` made order-independent):
 * - identical records (same referenceId, externalId, email, disabled, deleted) collapse to the
 *   first one;
 * - two different non-deleted users with the same email are a duplicate;
 * - a deleted user sharing its email with one non-deleted user is that user's tombstone and is
 *   dropped, whichever comes first;
 * - deleted users sharing an email with each other are all kept;
 * - different records with the same externalId are a duplicate (users and groups alike: the
 *   server answers 500 or corrupts its state on those).
 * @module
 */

import { DirectoryDataError } from "../errors.ts";
import type { NormalizedUser } from "./normalize.ts";
import { compareCodeUnits } from "./sort.ts";
import type { DirectoryGroup } from "./types.ts";
import { USER_DELETED, USER_DISABLED, type UserFields } from "./columns.ts";

/** An email used by more than one non-deleted user. */
export interface DuplicateEmail {
  /** The normalised email. */
  email: string;
  /** The referenceIds (DNs, ids) of the users that share it, sorted. */
  referenceIds: string[];
}

/** An externalId used by more than one different record. */
export interface DuplicateExternalId {
  /** The shared externalId. */
  externalId: string;
  /** The referenceIds of the records that share it, sorted. */
  referenceIds: string[];
}

/** What {@link dedupeUsers} returns. */
export interface UserDedupeResult {
  /** Surviving users, in input order. */
  users: NormalizedUser[];
  /** Duplicate emails, sorted by email. */
  duplicateEmails: DuplicateEmail[];
  /** Duplicate externalIds among the survivors, sorted by externalId. */
  duplicateExternalIds: DuplicateExternalId[];
}

/** What {@link dedupeGroups} returns. */
export interface GroupDedupeResult {
  /** Surviving groups, in input order. */
  groups: DirectoryGroup[];
  /** Duplicate externalIds, sorted by externalId. */
  duplicateExternalIds: DuplicateExternalId[];
}

/**
 * For each user (by index into `externalIds`), in `canonical` (length: users) the index of
 * the first user with the same externalId.
 */
export function indexExternalIds(externalIds: readonly string[], canonical: Int32Array): void {
  const first = new Map<string, number>();
  for (let i = 0; i < externalIds.length; i++) {
    const id = externalIds[i] ?? "";
    const known = first.get(id);
    if (known === undefined) {
      first.set(id, i);
      canonical[i] = i;
    } else {
      canonical[i] = known;
    }
  }
}

/** Users as {@link dedupeUserRecords} reads them: parallel arrays by user index. */
export interface UserRecords {
  /** The records' fields as the provider reported them. */
  users: UserFields;
  /** Each user's normalised email (null when it has none). */
  email: readonly (string | null)[];
  /** 1 for the users to de-duplicate (the others are ignored). */
  kept: Uint8Array;
  /** From {@link indexExternalIds}. */
  canonical: Int32Array;
}

/** What {@link dedupeUserRecords} returns. */
export interface UserRecordsResult {
  /** 1 for each surviving user, by user index. */
  survivor: Uint8Array;
  /** Duplicate emails, sorted by email. */
  duplicateEmails: DuplicateEmail[];
  /** Duplicate externalIds among the survivors, sorted by externalId. */
  duplicateExternalIds: DuplicateExternalId[];
}

/**
 * Applies the user de-duplication rules to the kept users, by index; reports duplicates rather
 * than throwing. A user whose externalId no earlier kept user has costs one array read, and one
 * map entry for its email; only shared externalIds and emails take a slower path.
 */
export function dedupeUserRecords(records: UserRecords): UserRecordsResult {
  const { users, email, kept, canonical } = records;
  const n = users.referenceId.length;
  // First kept user of each externalId (by canonical index), and the distinct kept users of
  // externalIds several kept users have.
  const firstKept = new Int32Array(n).fill(-1);
  const sharedIds = new Map<number, number[]>();
  const distinct = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (kept[i] !== 1) continue;
    const c = canonical[i] ?? i;
    const first = firstKept[c] ?? -1;
    if (first === -1) {
      firstKept[c] = i;
      distinct[i] = 1;
      continue;
    }
    let bucket = sharedIds.get(c);
    if (bucket === undefined) {
      bucket = [first];
      sharedIds.set(c, bucket);
    }
    if (bucket.some((other) => sameUser(records, other, i))) continue;
    bucket.push(i);
    distinct[i] = 1;
  }

  const activeByEmail = new Map<string, number>();
  const sharedEmails = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const address = email[i] ?? null;
    if (distinct[i] !== 1 || address === null || deleted(users, i)) continue;
    const first = activeByEmail.get(address);
    if (first === undefined) activeByEmail.set(address, i);
    else {
      const bucket = sharedEmails.get(address);
      if (bucket === undefined) sharedEmails.set(address, [first, i]);
      else bucket.push(i);
    }
  }
  const referenceIds = (list: readonly number[]): string[] =>
    list.map((i) => users.referenceId[i] ?? "").sort(compareCodeUnits);
  const duplicateEmails: DuplicateEmail[] = [];
  for (const [address, bucket] of sharedEmails) {
    duplicateEmails.push({ email: address, referenceIds: referenceIds(bucket) });
  }
  duplicateEmails.sort((a, b) => compareCodeUnits(a.email, b.email));

  // A deleted user sharing its email with an active user is that user's tombstone: dropped.
  const tombstone = (i: number): boolean => {
    const address = email[i] ?? null;
    return deleted(users, i) && address !== null && activeByEmail.has(address);
  };
  const survivor = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (distinct[i] === 1 && !tombstone(i)) survivor[i] = 1;
  }
  const duplicateExternalIds: DuplicateExternalId[] = [];
  for (const [c, bucket] of sharedIds) {
    const left = bucket.filter((i) => !tombstone(i));
    if (left.length > 1) {
      duplicateExternalIds.push({
        externalId: users.externalId[c] ?? "",
        referenceIds: referenceIds(left),
      });
    }
  }
  duplicateExternalIds.sort((a, b) => compareCodeUnits(a.externalId, b.externalId));
  return { survivor, duplicateEmails, duplicateExternalIds };
}

function deleted(users: UserFields, i: number): boolean {
  return ((users.flags[i] ?? 0) & USER_DELETED) !== 0;
}

/** Whether users `a` and `b` are the same record once normalised. */
function sameUser(records: UserRecords, a: number, b: number): boolean {
  const { referenceId, externalId, flags } = records.users;
  const status = USER_DISABLED | USER_DELETED;
  return a < referenceId.length && b < referenceId.length &&
    referenceId[a] === referenceId[b] && externalId[a] === externalId[b] &&
    records.email[a] === records.email[b] &&
    ((flags[a] ?? 0) & status) === ((flags[b] ?? 0) & status);
}

/** Applies the user de-duplication rules; reports duplicates rather than throwing. */
export function dedupeUsers(users: readonly NormalizedUser[]): UserDedupeResult {
  const fields: UserFields = {
    referenceId: users.map((u) => u.source.referenceId),
    externalId: users.map((u) => u.source.externalId),
    flags: Uint8Array.from(
      users,
      (u) => (u.source.disabled ? USER_DISABLED : 0) | (u.source.deleted ? USER_DELETED : 0),
    ),
  };
  const canonical = new Int32Array(users.length);
  indexExternalIds(fields.externalId, canonical);
  const result = dedupeUserRecords({
    users: fields,
    email: users.map((u) => u.user.email),
    kept: new Uint8Array(users.length).fill(1),
    canonical,
  });
  return {
    users: users.filter((_, i) => result.survivor[i] === 1),
    duplicateEmails: result.duplicateEmails,
    duplicateExternalIds: result.duplicateExternalIds,
  };
}

function sameRefs(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((ref, i) => ref === b[i]);
}

function sameGroup(a: DirectoryGroup, b: DirectoryGroup): boolean {
  return a.referenceId === b.referenceId && a.externalId === b.externalId && a.name === b.name &&
    sameRefs(a.memberRefs, b.memberRefs) && sameRefs(a.refs, b.refs);
}

/** What {@link dedupeGroupRecords} returns. */
export interface GroupRecordsResult extends GroupDedupeResult {
  /** 1 for each input group that survives, by input index. */
  mask: Uint8Array;
}

/**
 * Collapses identical group records (among those `filter` passes, all without one) and reports
 * different groups sharing an externalId.
 */
export function dedupeGroupRecords(
  groups: readonly DirectoryGroup[],
  filter: Uint8Array | null,
): GroupRecordsResult {
  const kept: DirectoryGroup[] = [];
  const mask = new Uint8Array(groups.length);
  const first = new Map<string, number>();
  const shared = new Map<string, DirectoryGroup[]>();
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    if (g === undefined || (filter !== null && filter[i] !== 1)) continue;
    const known = first.get(g.externalId);
    if (known === undefined) first.set(g.externalId, i);
    else {
      let bucket = shared.get(g.externalId);
      if (bucket === undefined) {
        const earlier = groups[known];
        bucket = earlier === undefined ? [] : [earlier];
        shared.set(g.externalId, bucket);
      }
      if (bucket.some((other) => sameGroup(other, g))) continue;
      bucket.push(g);
    }
    kept.push(g);
    mask[i] = 1;
  }
  const duplicateExternalIds: DuplicateExternalId[] = [];
  for (const [externalId, bucket] of shared) {
    if (bucket.length > 1) {
      duplicateExternalIds.push({
        externalId,
        referenceIds: bucket.map((g) => g.referenceId).sort(compareCodeUnits),
      });
    }
  }
  duplicateExternalIds.sort((a, b) => compareCodeUnits(a.externalId, b.externalId));
  return { groups: kept, mask, duplicateExternalIds };
}

/** Collapses identical group records and reports different groups sharing an externalId. */
export function dedupeGroups(groups: readonly DirectoryGroup[]): GroupDedupeResult {
  const { groups: kept, duplicateExternalIds } = dedupeGroupRecords(groups, null);
  return { groups: kept, duplicateExternalIds };
}

/** Everything {@link duplicatesError} reports. */
export interface Duplicates {
  /** Emails used by several non-deleted users. */
  emails: readonly DuplicateEmail[];
  /** User externalIds used by several records. */
  userExternalIds: readonly DuplicateExternalId[];
  /** Group externalIds used by several records. */
  groupExternalIds: readonly DuplicateExternalId[];
}

function quoted(values: readonly string[]): string {
  return values.map((v) => JSON.stringify(v)).join(", ");
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Builds the error for duplicates, or null when there are none. The message names every
 * duplicate with the referenceIds that produced it; `details` carries the same as data. The
 * code is `duplicate_email` when any email is duplicated, else `duplicate_external_id`.
 */
export function duplicatesError(duplicates: Duplicates): DirectoryDataError | null {
  const { emails, userExternalIds, groupExternalIds } = duplicates;
  if (emails.length + userExternalIds.length + groupExternalIds.length === 0) return null;
  const summary: string[] = [];
  const lines: string[] = [];
  const userFixes: string[] = [];
  if (emails.length > 0) {
    summary.push(
      `${
        plural(emails.length, "email address is", "email addresses are")
      } used by more than one user`,
    );
    for (const d of emails) lines.push(`  email ${d.email}: ${quoted(d.referenceIds)}`);
    userFixes.push("give each user its own email address");
  }
  if (userExternalIds.length > 0) {
    summary.push(
      `${
        plural(userExternalIds.length, "externalId is", "externalIds are")
      } used by more than one user`,
    );
    for (const d of userExternalIds) {
      lines.push(`  user externalId ${JSON.stringify(d.externalId)}: ${quoted(d.referenceIds)}`);
    }
    userFixes.push("give each user its own externalId");
  }
  const hints: string[] = [];
  if (userFixes.length > 0) {
    hints.push(
      `Fix the directory (${
        userFixes.join(", ")
      }) or narrow sync.userFilter to leave the duplicates out`,
    );
  }
  if (groupExternalIds.length > 0) {
    summary.push(
      `${
        plural(groupExternalIds.length, "externalId is", "externalIds are")
      } used by more than one group`,
    );
    for (const d of groupExternalIds) {
      lines.push(`  group externalId ${JSON.stringify(d.externalId)}: ${quoted(d.referenceIds)}`);
    }
    const groupFix =
      "the directory (give each group its own externalId) or narrow sync.groupFilter to leave the duplicates out";
    hints.push(hints.length > 0 ? `for groups, fix ${groupFix}` : `Fix ${groupFix}`);
  }
  const hint = hints.join("; ");
  return new DirectoryDataError(
    `Cannot sync the directory: ${summary.join("; ")}\n${lines.join("\n")}`,
    {
      code: emails.length > 0 ? "duplicate_email" : "duplicate_external_id",
      hint,
      details: {
        duplicateEmails: emails.map((d) => ({ email: d.email, referenceIds: [...d.referenceIds] })),
        duplicateUserExternalIds: userExternalIds.map((d) => ({
          externalId: d.externalId,
          referenceIds: [...d.referenceIds],
        })),
        duplicateGroupExternalIds: groupExternalIds.map((d) => ({
          externalId: d.externalId,
          referenceIds: [...d.referenceIds],
        })),
      },
    },
  );
}
